#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void buf_init(struct buf *b, size_t limit)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->limit = limit;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need < b->len || (b->limit && b->len + extra > b->limit))
		return -1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Escaping appends are all-or-nothing: on refusal the buffer is put back as it was. */
static int undo(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
	return -1;
}

int buf_json_str(struct buf *b, const char *s)
{
	size_t start = b->len;
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		const char *out = NULL;
		switch (*p) {
		case '"': out = "\\\""; break;
		case '\\': out = "\\\\"; break;
		case '\n': out = "\\n"; break;
		case '\r': out = "\\r"; break;
		case '\t': out = "\\t"; break;
		default:
			if (*p < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				out = esc;
			}
		}
		if (out ? buf_puts(b, out) : buf_append(b, p, 1))
			return undo(b, start);
	}
	return buf_append(b, "\"", 1) < 0 ? undo(b, start) : 0;
}

int buf_html_str(struct buf *b, const char *s, size_t n)
{
	size_t start = b->len;
	for (size_t i = 0; i < n; i++) {
		const char *out = NULL;
		switch (s[i]) {
		case '&': out = "&amp;"; break;
		case '<': out = "&lt;"; break;
		case '>': out = "&gt;"; break;
		case '"': out = "&quot;"; break;
		case '\'': out = "&#39;"; break;
		}
		if (out ? buf_puts(b, out) : buf_append(b, s + i, 1))
			return undo(b, start);
	}
	return 0;
}

char *buf_take(struct buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *buf_cstr(const struct buf *b)
{
	return b->data ? b->data : "";
}
