/* buf.h: a growable byte buffer, always NUL-terminated, with an optional hard cap. */
#ifndef YZ_BUF_H
#define YZ_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len, cap;
	size_t limit; /* 0 = unlimited; appends past it fail */
};

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* These fail (-1, buffer unchanged) only when the limit would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n) YZ_WUR;
int buf_puts(struct buf *b, const char *s) YZ_WUR;
int buf_printf(struct buf *b, const char *fmt, ...) YZ_PRINTF(2, 3) YZ_WUR;
/* Append s as a JSON string literal (with quotes), escaping per RFC 8259 section 7. */
int buf_json_str(struct buf *b, const char *s) YZ_WUR;
/* Append s HTML-escaped (& < > " '). */
int buf_html_str(struct buf *b, const char *s, size_t n) YZ_WUR;
/* Give the data away: caller frees it. The buffer is reset. */
char *buf_take(struct buf *b);
const char *buf_cstr(const struct buf *b);

#endif
