/* The POP3 tokenizers and the message encoder (pop3_parse.h): bytes in, structures out, no
 * I/O. */
#include "pop3_parse.h"

#include <string.h>

/* ---- command lines (RFC 1939 section 3) ---- */

int pop3_line_next(const char *buf, size_t len, size_t max, struct pop3_line *out)
{
	size_t scan = len < max + 2 ? len : max + 2;
	const char *lf = memchr(buf, '\n', scan);
	size_t n;

	memset(out, 0, sizeof(*out));
	if (lf == NULL) {
		if (len < max + 2)
			return 0;
		out->error = POP3_LINE_LONG;
		return -1;
	}
	n = (size_t)(lf - buf);
	out->consumed = n + 1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n > max) { /* max + 1 bytes and a bare LF */
		out->error = POP3_LINE_LONG;
		out->consumed = 0;
		return -1;
	}
	if (memchr(buf, '\r', n) != NULL || memchr(buf, '\0', n) != NULL) {
		out->error = POP3_LINE_CTRL;
		return -1;
	}
	out->len = n;
	return 1;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int pop3_cmd_split(const char *line, size_t len, struct pop3_cmdline *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->arg = "";
	while (i < len && is_alpha((unsigned char)line[i])) {
		char c = line[i];
		if (i == POP3_VERB_MAX)
			return -1;
		out->verb[i] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
		i++;
	}
	if (i == 0 || (i < len && line[i] != ' '))
		return -1;
	if (i < len) {
		out->arg = line + i + 1;
		out->arg_len = len - i - 1;
	}
	return 0;
}

int pop3_args(const char *arg, size_t len, struct pop3_tok *v, size_t max, size_t *n_r)
{
	size_t i = 0, n = 0;

	*n_r = 0;
	for (;;) {
		size_t start;
		while (i < len && arg[i] == ' ')
			i++;
		if (i == len)
			break;
		if (n == max)
			return -1;
		start = i;
		while (i < len && arg[i] != ' ')
			i++;
		v[n].p = arg + start;
		v[n].len = i - start;
		n++;
	}
	*n_r = n;
	return 0;
}

int pop3_number(const char *s, size_t len, uint32_t max, uint32_t *n_r)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

/* ---- the message on the wire (RFC 1939 sections 3 and 11) ---- */

void pop3_sizer_init(struct pop3_sizer *z)
{
	z->n = 0;
	z->pending_cr = false;
	z->at_bol = true;
}

void pop3_sizer_feed(struct pop3_sizer *z, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (z->pending_cr) { /* CRLF, or a bare CR: either way one line end */
			z->n += 2;
			z->pending_cr = false;
			z->at_bol = true;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			z->pending_cr = true;
		} else if (c == '\n') {
			z->n += 2;
			z->at_bol = true;
		} else {
			z->n++;
			z->at_bol = false;
		}
	}
}

int64_t pop3_sizer_end(const struct pop3_sizer *z)
{
	/* a pending CR ends the last line; an unterminated last line gets its CRLF */
	return z->n + (z->pending_cr || !z->at_bol ? 2 : 0);
}

int pop3_encode(const char *raw, size_t len, int64_t body_lines, struct buf *out)
{
	size_t i = 0;
	bool in_body = false;
	int64_t left = body_lines;

	while (i < len) {
		size_t start = i, end;
		while (i < len && raw[i] != '\r' && raw[i] != '\n')
			i++;
		end = i;
		if (i < len)
			i += raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n' ? 2 : 1;
		if (in_body && body_lines >= 0) {
			if (left == 0)
				break;
			left--;
		}
		if (end > start && raw[start] == '.' && buf_append(out, ".", 1) < 0)
			return -1;
		if (buf_append(out, raw + start, end - start) < 0 || buf_append(out, "\r\n", 2) < 0)
			return -1;
		if (end == start)
			in_body = true; /* the empty line after the header */
	}
	return 0;
}
