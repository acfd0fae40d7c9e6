#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct err *err, enum err_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void err_clear(struct err *err)
{
	err->code = ERR_OK;
	err->msg[0] = '\0';
}

const char *err_code_name(enum err_code code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_INVALID: return "invalid";
	case ERR_NOTFOUND: return "notfound";
	case ERR_EXISTS: return "exists";
	case ERR_DENIED: return "denied";
	case ERR_LIMIT: return "limit";
	case ERR_IO: return "io";
	case ERR_AUTH: return "auth";
	case ERR_INTERNAL: return "internal";
	case ERR_QUOTA: return "quota";
	}
	return "unknown";
}
