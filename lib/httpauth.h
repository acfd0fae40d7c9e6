/* httpauth.h: the Authorization / WWW-Authenticate credentials syntax (RFC 9110 section 11),
 * enough for HTTP SCRAM (RFC 7804): a scheme followed by comma-separated auth-params whose
 * values are tokens or quoted strings. No I/O; bounded by HTTPAUTH_MAX_LEN. */
#ifndef YZ_HTTPAUTH_H
#define YZ_HTTPAUTH_H

#include <stddef.h>

#include "err.h"

#define HTTPAUTH_MAX_LEN 4096
#define HTTPAUTH_MAX_PARAMS 8

struct httpauth {
	char scheme[32];
	size_t nparams;
	struct {
		char name[32];
		char value[HTTPAUTH_MAX_LEN];
	} params[HTTPAUTH_MAX_PARAMS];
};

/* Parse "Scheme name=value, name="quoted"". Names are lower-cased; duplicates are refused. */
int httpauth_parse(const char *s, size_t len, struct httpauth *out, struct err *err) YZ_WUR;
/* The value of a parameter, or NULL. */
const char *httpauth_param(const struct httpauth *a, const char *name);

#endif
