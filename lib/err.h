/* err.h: the one error convention (STYLE.md section 3).
 * Fallible functions return 0 on success and -1 on failure, with details in a caller-owned
 * struct err. err_set() returns -1 so "return err_set(err, ERR_NOTFOUND, "x %s", y);" reads well. */
#ifndef YZ_ERR_H
#define YZ_ERR_H

enum err_code {
	ERR_OK = 0,
	ERR_INVALID,  /* bad input from outside */
	ERR_NOTFOUND, /* no such object */
	ERR_EXISTS,   /* object already there */
	ERR_DENIED,   /* caller may not do this */
	ERR_LIMIT,    /* a size, rate or count limit was hit */
	ERR_IO,       /* file system, database or network failure */
	ERR_AUTH,     /* authentication failed */
	ERR_INTERNAL, /* a bug or an unexpected library failure */
	ERR_QUOTA,    /* the account's storage quota would be exceeded */
};

struct err {
	enum err_code code;
	char msg[256];
};

#if defined(__GNUC__)
#define YZ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define YZ_WUR __attribute__((warn_unused_result))
#else
#define YZ_PRINTF(a, b)
#define YZ_WUR
#endif

/* Record an error and return -1. err may be NULL (the details are then dropped). */
int err_set(struct err *err, enum err_code code, const char *fmt, ...) YZ_PRINTF(3, 4);
void err_clear(struct err *err);
/* A short stable name for the code, e.g. "notfound". */
const char *err_code_name(enum err_code code);

#endif
