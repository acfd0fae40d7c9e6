/* The SMTP tokenizers (smtp_parse.h): byte strings in, structures out, no I/O. */
#include "smtp_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/utf8.h"
#include "lib/util.h"

/* ---- command lines (RFC 5321 2.3.8: lines end in CRLF, and only there) ---- */

int smtp_line_next(const char *buf, size_t len, size_t max, struct smtp_line *out)
{
	size_t scan = len < max + 2 ? len : max + 2;
	const char *lf = memchr(buf, '\n', scan);
	size_t n;

	memset(out, 0, sizeof(*out));
	if (lf == NULL) {
		if (len < max + 2)
			return 0;
		out->error = SMTP_LINE_LONG;
		return -1;
	}
	n = (size_t)(lf - buf);
	out->consumed = n + 1;
	if (n == 0 || buf[n - 1] != '\r') {
		out->error = SMTP_LINE_BARE_EOL;
		return -1;
	}
	n--; /* the content without CR */
	if (memchr(buf, '\r', n) != NULL) {
		out->error = SMTP_LINE_BARE_EOL;
		return -1;
	}
	if (memchr(buf, '\0', n) != NULL) {
		out->error = SMTP_LINE_NUL;
		return -1;
	}
	if (n > max) { /* cannot happen (LF within max + 2), kept as the stated contract */
		out->error = SMTP_LINE_LONG;
		out->consumed = 0;
		return -1;
	}
	out->len = n;
	return 1;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int smtp_cmd_split(const char *line, size_t len, struct smtp_cmdline *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	out->arg = "";
	while (i < len && is_alpha((unsigned char)line[i])) {
		if (i == SMTP_VERB_MAX)
			return -1;
		char c = line[i];
		out->verb[i] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
		i++;
	}
	if (i == 0 || (i < len && line[i] != ' '))
		return -1;
	while (i < len && line[i] == ' ')
		i++;
	out->arg = line + i;
	out->arg_len = len - i;
	while (out->arg_len > 0 && (out->arg[out->arg_len - 1] == ' ' ||
				    out->arg[out->arg_len - 1] == '\t'))
		out->arg_len--;
	return 0;
}

bool smtp_helo_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return false;
	return true;
}

/* ---- paths (RFC 5321 4.1.2; RFC 6531 3.3 adds UTF8-non-ascii to atext, qtext, labels) ---- */

struct cur {
	const char *s;
	size_t i, len;
	bool utf8;
};

static int peek(const struct cur *c)
{
	return c->i < c->len ? (unsigned char)c->s[c->i] : -1;
}

/* A valid UTF-8 sequence at the cursor (a non-ASCII byte starts it): consume it. */
static bool take_utf8(struct cur *c)
{
	size_t n = utf8_seq_len((const unsigned char *)c->s + c->i, c->len - c->i);
	if (n < 2)
		return false;
	c->i += n;
	c->utf8 = true;
	return true;
}

static bool is_atext(int ch)
{
	return ch >= 0 && (is_alpha((unsigned char)ch) || is_digit((unsigned char)ch) ||
			   (ch < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL && ch != 0));
}

/* Dot-string = Atom *("." Atom) */
static bool dot_string(struct cur *c)
{
	for (;;) {
		size_t start = c->i;
		for (;;) {
			int ch = peek(c);
			if (is_atext(ch))
				c->i++;
			else if (ch >= 0x80) {
				if (!take_utf8(c))
					return false;
			} else
				break;
		}
		if (c->i == start)
			return false;
		if (peek(c) != '.')
			return true;
		c->i++;
	}
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
static bool quoted_string(struct cur *c)
{
	c->i++; /* the opening quote */
	for (;;) {
		int ch = peek(c);
		if (ch < 0)
			return false;
		if (ch == '"') {
			c->i++;
			return true;
		}
		if (ch == '\\') {
			c->i++;
			ch = peek(c);
			if (ch < 32 || ch > 126)
				return false;
			c->i++;
		} else if (ch >= 32 && ch <= 126) {
			c->i++;
		} else if (ch >= 0x80) {
			if (!take_utf8(c))
				return false;
		} else {
			return false;
		}
	}
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str], or a U-label */
static bool domain(struct cur *c)
{
	size_t start = c->i;
	for (;;) {
		size_t lstart = c->i;
		int last = -1;
		for (;;) {
			int ch = peek(c);
			if (ch >= 0 && ch < 0x80 && (is_alpha((unsigned char)ch) ||
						     is_digit((unsigned char)ch) || ch == '-')) {
				c->i++;
				last = ch;
			} else if (ch >= 0x80) {
				if (!take_utf8(c))
					return false;
				last = 'a';
			} else
				break;
		}
		if (c->i == lstart || c->s[lstart] == '-' || last == '-' || c->i - lstart > 63)
			return false;
		if (peek(c) != '.')
			break;
		c->i++;
	}
	return c->i - start <= SMTP_DOMAIN_MAX;
}

/* address-literal = "[" ... "]", dcontent %d33-90 / %d94-126 (the forms inside are checked
 * by whoever routes on them: a literal is never a hosted domain here) */
static bool address_literal(struct cur *c)
{
	size_t start = c->i++;
	for (;;) {
		int ch = peek(c);
		if (ch == ']') {
			c->i++;
			return c->i - start > 2 && c->i - start <= 64;
		}
		if (ch < 33 || ch > 126 || ch == '[' || ch == '\\')
			return false;
		c->i++;
	}
}

/* A-d-l = At-domain *( "," At-domain ) ":" */
static bool source_route(struct cur *c)
{
	for (;;) {
		if (peek(c) != '@')
			return false;
		c->i++;
		if (peek(c) == '[' ? !address_literal(c) : !domain(c))
			return false;
		if (peek(c) == ':') {
			c->i++;
			return true;
		}
		if (peek(c) != ',')
			return false;
		c->i++;
	}
}

static int fail(struct smtp_mailarg *out, enum smtp_path_err e)
{
	out->error = e;
	return -1;
}

static int parse_path(struct cur *c, bool reverse, struct smtp_mailarg *out)
{
	struct smtp_path *p = &out->path;
	size_t start, local_end;

	if (peek(c) != '<')
		return fail(out, SMTP_PATH_SYNTAX);
	c->i++;
	if (peek(c) == '>') {
		if (!reverse)
			return fail(out, SMTP_PATH_ADDRESS);
		c->i++;
		p->null = true;
		return 0;
	}
	if (peek(c) == '@') {
		if (!source_route(c))
			return fail(out, SMTP_PATH_ADDRESS);
		p->route = true;
	}
	start = c->i;
	if (peek(c) == '"') {
		if (!quoted_string(c))
			return fail(out, SMTP_PATH_ADDRESS);
		p->quoted = true;
	} else if (!dot_string(c)) {
		return fail(out, SMTP_PATH_ADDRESS);
	}
	local_end = c->i;
	if (local_end - start > SMTP_LOCAL_MAX)
		return fail(out, SMTP_PATH_TOOLONG);
	if (peek(c) == '>' && !reverse && !p->route && !p->quoted &&
	    local_end - start == 10 && strncasecmp(c->s + start, "postmaster", 10) == 0) {
		p->postmaster = true; /* RFC 5321 4.1.1.3: "<Postmaster>" */
	} else {
		if (peek(c) != '@')
			return fail(out, SMTP_PATH_ADDRESS);
		c->i++;
		if (peek(c) == '[') {
			if (!address_literal(c))
				return fail(out, SMTP_PATH_ADDRESS);
			p->literal = true;
		} else if (!domain(c)) {
			return fail(out, SMTP_PATH_ADDRESS);
		}
	}
	if (peek(c) != '>')
		return fail(out, SMTP_PATH_ADDRESS);
	if (c->i - start > SMTP_MAILBOX_MAX)
		return fail(out, SMTP_PATH_TOOLONG);
	memcpy(p->mailbox, c->s + start, c->i - start);
	p->mailbox[c->i - start] = '\0';
	c->i++;
	p->utf8 = c->utf8;
	return 0;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value]; esmtp-keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 too (RFC 6531 3.3) */
static int parse_params(struct cur *c, struct smtp_mailarg *out)
{
	while (c->i < c->len) {
		struct smtp_param *pa;
		size_t k = 0;
		if (peek(c) != ' ')
			return fail(out, SMTP_PATH_SYNTAX);
		while (peek(c) == ' ')
			c->i++;
		if (c->i == c->len)
			break;
		if (out->nparams == SMTP_MAX_PARAMS)
			return fail(out, SMTP_PATH_PARAMS);
		pa = &out->params[out->nparams];
		memset(pa, 0, sizeof(*pa));
		for (;;) {
			int ch = peek(c);
			if (ch < 0 || ch >= 0x80 ||
			    !(is_alpha((unsigned char)ch) || is_digit((unsigned char)ch) ||
			      (ch == '-' && k > 0)))
				break;
			if (k == sizeof(pa->key) - 1)
				return fail(out, SMTP_PATH_PARAMS);
			pa->key[k++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
			c->i++;
		}
		if (k == 0)
			return fail(out, SMTP_PATH_PARAMS);
		if (peek(c) == '=') {
			size_t vs;
			c->i++;
			vs = c->i;
			for (;;) {
				int ch = peek(c);
				if (ch >= 33 && ch <= 126 && ch != '=')
					c->i++;
				else if (ch >= 0x80) {
					if (!take_utf8(c))
						return fail(out, SMTP_PATH_PARAMS);
				} else
					break;
			}
			if (c->i == vs || c->i - vs > SMTP_PARAM_MAX)
				return fail(out, SMTP_PATH_PARAMS);
			pa->value = c->s + vs;
			pa->value_len = c->i - vs;
		}
		for (size_t j = 0; j < out->nparams; j++)
			if (strcmp(out->params[j].key, pa->key) == 0)
				return fail(out, SMTP_PATH_PARAMS);
		out->nparams++;
	}
	return 0;
}

int smtp_parse_path_arg(const char *arg, size_t len, const char *prefix, bool reverse,
			struct smtp_mailarg *out)
{
	size_t pl = strlen(prefix);
	struct cur c = {.s = arg, .len = len};
	bool utf8;

	memset(out, 0, sizeof(*out));
	if (len < pl || strncasecmp(arg, prefix, pl) != 0)
		return fail(out, SMTP_PATH_SYNTAX);
	c.i = pl;
	/* RFC 5321 has no space here; many clients send one */
	while (peek(&c) == ' ')
		c.i++;
	if (parse_path(&c, reverse, out) < 0)
		return -1;
	utf8 = c.utf8;
	if (parse_params(&c, out) < 0)
		return -1;
	out->path.utf8 = utf8;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int smtp_xtext_decode(const char *s, size_t len, bool utf8, struct arena *a, char **out_r)
{
	char *o = arena_alloc(a, len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '+') {
			int h, l;
			if (i + 2 >= len)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			ch = (unsigned char)(h * 16 + l);
			i += 2;
		} else if (ch == '=' || ch < 33 || (ch > 126 && !(utf8 && ch >= 0x80))) {
			return -1;
		}
		if (ch < 32 || ch == 127 || (ch >= 0x80 && !utf8))
			return -1;
		o[n++] = (char)ch;
	}
	o[n] = '\0';
	if (!utf8_valid(o, n))
		return -1;
	*out_r = o;
	return 0;
}

/* ---- message bytes ---- */

void smtp_msg_init(struct smtp_msg *m, size_t base, size_t max)
{
	memset(m, 0, sizeof(*m));
	m->base = base;
	m->max = max;
	m->cap = base + (max < 16384 ? max : 16384) + 1;
	m->data = xmalloc(m->cap);
	m->len = base;
}

void smtp_msg_release(struct smtp_msg *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

void smtp_msg_append(struct smtp_msg *m, const char *p, size_t n)
{
	m->seen += n;
	if (m->over || n == 0)
		return;
	if (m->len - m->base + n > m->max) {
		/* keep what fits (so chunking never changes the bytes kept), drop the rest */
		m->over = true;
		n = m->max - (m->len - m->base);
		if (n == 0)
			return;
	}
	if (m->len + n + 1 > m->cap) {
		size_t cap = m->cap * 2, top = m->base + m->max + 1;
		if (cap < m->len + n + 1)
			cap = m->len + n + 1;
		if (cap > top)
			cap = top;
		m->data = xrealloc(m->data, cap);
		m->cap = cap;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

/* The DATA reader. Only CR LF "." CR LF ends the data, and the line start it needs is made
 * only by CR LF (or the start): a bare LF or bare CR is content (flagged, so the message is
 * refused), never a line end. So none of "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\r" ends the data
 * or starts a second message (SMTP smuggling). */
enum { RD_BOL = 0, RD_TEXT, RD_CR, RD_DOT, RD_DOTCR, RD_END };

void smtp_dotread_init(struct smtp_dotread *r, bool dot)
{
	r->dot = dot;
	r->st = RD_BOL;
	r->flags = 0;
}

int smtp_dotread_feed(struct smtp_dotread *r, const char *in, size_t len, struct smtp_msg *out,
		      size_t *used_r)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		switch (r->st) {
		case RD_TEXT: {
			size_t j = i;
			while (j < len && in[j] != '\r' && in[j] != '\n' && in[j] != '\0')
				j++;
			if (j > i) {
				smtp_msg_append(out, in + i, j - i);
				i = j;
				continue;
			}
			i++;
			if (c == '\r') {
				r->st = RD_CR; /* held until we know what follows */
			} else {
				r->flags |= c == '\n' ? SMTP_RD_BARE_LF : SMTP_RD_NUL;
				smtp_msg_append(out, (const char *)&in[i - 1], 1);
			}
			continue;
		}
		case RD_BOL:
			if (r->dot && c == '.') {
				r->st = RD_DOT;
				i++;
			} else {
				r->st = RD_TEXT;
			}
			continue;
		case RD_CR:
			if (c == '\n') {
				smtp_msg_append(out, "\r\n", 2);
				r->st = RD_BOL;
				i++;
			} else {
				/* bare CR: content, and c is looked at again as text */
				r->flags |= SMTP_RD_BARE_CR;
				smtp_msg_append(out, "\r", 1);
				r->st = RD_TEXT;
			}
			continue;
		case RD_DOT:
			if (c == '\r') {
				r->st = RD_DOTCR;
				i++;
			} else {
				r->st = RD_TEXT; /* RFC 5321 4.5.2: the leading dot is removed */
			}
			continue;
		case RD_DOTCR:
			if (c == '\n') {
				r->st = RD_END;
				*used_r = i + 1;
				return 1;
			}
			/* ".", CR, then not LF: a bare CR on a stuffed line */
			r->flags |= SMTP_RD_BARE_CR;
			smtp_msg_append(out, "\r", 1);
			r->st = RD_TEXT;
			continue;
		default: /* RD_END: nothing more belongs to this message */
			*used_r = i;
			return 1;
		}
	}
	*used_r = len;
	return r->st == RD_END ? 1 : 0;
}

void smtp_dotread_finish(struct smtp_dotread *r, struct smtp_msg *out)
{
	if (r->st == RD_CR) {
		r->flags |= SMTP_RD_BARE_CR;
		smtp_msg_append(out, "\r", 1);
	}
	r->st = RD_BOL;
}
