#include "httpauth.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* token68 and token values may also contain '/' and '=' (base64) */
static bool is_value_char(char c)
{
	return c != '\0' && (is_tchar(c) || c == '/' || c == '=');
}

int httpauth_parse(const char *s, size_t len, struct httpauth *out, struct err *err)
{
	const char *p = s, *end = s + len;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len > HTTPAUTH_MAX_LEN)
		return err_set(err, ERR_LIMIT, "credentials longer than %d bytes", HTTPAUTH_MAX_LEN);
	for (n = 0; p < end && is_tchar(*p); p++, n++)
		;
	if (n == 0 || n >= sizeof(out->scheme))
		return err_set(err, ERR_INVALID, "missing or bad auth scheme");
	memcpy(out->scheme, s, n);
	while (p < end) {
		char name[32];
		size_t nlen = 0, vlen = 0;
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (out->nparams == HTTPAUTH_MAX_PARAMS)
			return err_set(err, ERR_LIMIT, "too many auth parameters");
		while (p < end && is_tchar(*p) && *p != '=') {
			if (nlen + 1 >= sizeof(name))
				return err_set(err, ERR_INVALID, "auth parameter name too long");
			name[nlen++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
			p++;
		}
		name[nlen] = '\0';
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (nlen == 0 || p == end || *p != '=')
			return err_set(err, ERR_INVALID, "expected name=value in credentials");
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (httpauth_param(out, name) != NULL)
			return err_set(err, ERR_INVALID, "duplicate auth parameter %s", name);
		char *v = out->params[out->nparams].value;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (*p == '\0' || vlen + 1 >= HTTPAUTH_MAX_LEN)
					return err_set(err, ERR_INVALID, "bad quoted value");
				v[vlen++] = *p;
			}
			if (p == end)
				return err_set(err, ERR_INVALID, "unterminated quoted value");
			p++;
		} else {
			while (p < end && is_value_char(*p)) {
				if (vlen + 1 >= HTTPAUTH_MAX_LEN)
					return err_set(err, ERR_INVALID, "value too long");
				v[vlen++] = *p++;
			}
		}
		v[vlen] = '\0';
		memcpy(out->params[out->nparams].name, name, nlen + 1);
		out->nparams++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p != ',')
			return err_set(err, ERR_INVALID, "expected ',' between auth parameters");
	}
	return 0;
}

const char *httpauth_param(const struct httpauth *a, const char *name)
{
	for (size_t i = 0; i < a->nparams; i++)
		if (strcmp(a->params[i].name, name) == 0)
			return a->params[i].value;
	return NULL;
}
