/* IMAP tokenizers (imap_parse.h): RFC 3501 section 9 (formal syntax), RFC 7888 (LITERAL+),
 * RFC 3516 (literal8), RFC 3501 section 5.1.3 (modified UTF-7). No I/O. */
#include "imap_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/utf8.h"

/* ---- the scanner ---- */

void imap_scan_reset(struct imap_scan *st)
{
	size_t ml = st->max_line, mlit = st->max_literal, mt = st->max_total;
	memset(st, 0, sizeof(*st));
	st->max_line = ml;
	st->max_literal = mlit;
	st->max_total = mt;
}

/* Does line[0, n) (CR stripped) end in a literal announcement "{N}", "{N+}" or "~{N}"? */
static int literal_at_end(const char *line, size_t n, uint64_t *size_r, bool *nonsync_r)
{
	size_t i;
	uint64_t v = 0;
	bool plus = false;

	if (n < 3 || line[n - 1] != '}')
		return 0;
	i = n - 1;
	if (line[i - 1] == '+') {
		plus = true;
		i--;
	}
	size_t end = i;
	while (i > 0 && isdigit((unsigned char)line[i - 1]))
		i--;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == end)
		return -1; /* "{}" or "{+}" */
	if (end - i > 19)
		v = UINT64_MAX; /* far beyond any limit */
	else
		for (size_t k = i; k < end; k++)
			v = v * 10 + (uint64_t)(line[k] - '0');
	*size_r = v;
	*nonsync_r = plus;
	return 1;
}

int imap_scan(const char *in, size_t len, struct imap_scan *st)
{
	size_t i = st->pos;

	st->error = IMAP_SCAN_OK;
	while (i < len) {
		if (st->lit_left > 0) {
			size_t take = len - i;
			if (take > st->lit_left)
				take = (size_t)st->lit_left;
			i += take;
			st->lit_left -= take;
			if (st->lit_left == 0)
				st->line_start = i;
			continue;
		}
		char c = in[i];
		if (c == '\n') {
			size_t n = i - st->line_start;
			const char *line = in + st->line_start;
			uint64_t sz;
			bool nonsync;
			int lit;
			if (n > 0 && line[n - 1] == '\r')
				n--;
			lit = st->in_quote ? 0 : literal_at_end(line, n, &sz, &nonsync);
			st->in_quote = st->quote_esc = false;
			if (lit < 0) {
				st->pos = i + 1;
				st->error = IMAP_SCAN_BADLIT;
				return -1;
			}
			if (lit == 0) {
				st->end = i + 1;
				st->pos = i + 1;
				return 1;
			}
			st->lit_size = sz;
			st->lit_nonsync = nonsync;
			if (sz > st->max_literal || sz > st->max_total ||
			    (uint64_t)(i + 1) + sz > st->max_total) {
				st->pos = i + 1;
				st->error = IMAP_SCAN_TOOBIG;
				return -1;
			}
			st->nliterals++;
			st->lit_left = sz;
			i++;
			st->line_start = i;
			if (sz == 0)
				st->line_start = i;
			if (!nonsync) {
				st->pos = i;
				st->need_cont = true;
				return 0;
			}
			continue;
		}
		if (st->in_quote) {
			if (st->quote_esc)
				st->quote_esc = false;
			else if (c == '\\')
				st->quote_esc = true;
			else if (c == '"')
				st->in_quote = false;
		} else if (c == '"') {
			st->in_quote = true;
		}
		i++;
		if (i - st->line_start > st->max_line + 1) { /* +1: the CR */
			st->pos = i;
			st->error = IMAP_SCAN_LONG;
			return -1;
		}
		/* the total is checked at every byte, not only where the input happens to end:
		 * otherwise a command over max_total passes when it arrives in one read and fails
		 * when it comes in pieces (literal bytes never cross it: their announcement is
		 * refused first) */
		if (i > st->max_total) {
			st->pos = i;
			st->error = IMAP_SCAN_TOOBIG;
			return -1;
		}
	}
	st->pos = i;
	if (i > st->max_total) {
		st->error = IMAP_SCAN_TOOBIG;
		return -1;
	}
	return 0;
}

/* ---- the argument parser ---- */

struct parser {
	const char *p, *end;
	struct arena *a;
	int max_nesting;
	size_t copy_max;
	const char *why;
};

static bool is_atom_char(unsigned char c)
{
	/* ATOM-CHAR: any CHAR except atom-specials "(" ")" "{" SP CTL list-wildcards
	 * quoted-specials resp-specials; we also take list wildcards, "\" (flags) and "]"
	 * (ASTRING-CHAR), and 8-bit bytes (UTF-8 mailbox names some clients send) */
	if (c <= 0x20 || c == 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static bool at_eol(const struct parser *ps)
{
	return ps->p >= ps->end || *ps->p == '\r' || *ps->p == '\n';
}

static int parse_list(struct parser *ps, int depth, struct imap_arg **v_r, size_t *n_r,
		      bool top);

static int parse_quoted(struct parser *ps, struct imap_arg *arg)
{
	const char *q = ++ps->p;
	size_t n = 0;
	char *out;

	/* first pass: length and validity */
	for (const char *r = q;; r++) {
		if (r >= ps->end || *r == '\r' || *r == '\n' || *r == '\0') {
			ps->why = r < ps->end && *r == '\0' ? "NUL in a quoted string"
							    : "unterminated quoted string";
			return -1;
		}
		if (*r == '"')
			break;
		if (*r == '\\') {
			r++;
			if (r >= ps->end || (*r != '"' && *r != '\\')) {
				ps->why = "bad escape in a quoted string";
				return -1;
			}
		}
		n++;
	}
	out = arena_alloc(ps->a, n + 1);
	n = 0;
	while (*q != '"') {
		if (*q == '\\')
			q++;
		out[n++] = *q++;
	}
	out[n] = '\0';
	ps->p = q + 1;
	arg->type = IMAP_ARG_STRING;
	arg->str = out;
	arg->len = n;
	arg->nul = true;
	return 0;
}

static int parse_literal(struct parser *ps, struct imap_arg *arg)
{
	uint64_t v = 0;
	const char *q = ps->p;

	if (*q == '~') {
		arg->literal8 = true;
		q++;
	}
	q++; /* '{' */
	if (q >= ps->end || !isdigit((unsigned char)*q)) {
		ps->why = "bad literal";
		return -1;
	}
	while (q < ps->end && isdigit((unsigned char)*q)) {
		v = v * 10 + (uint64_t)(*q - '0');
		if (v > (uint64_t)(ps->end - ps->p)) {
			ps->why = "literal longer than the command";
			return -1;
		}
		q++;
	}
	if (q < ps->end && *q == '+')
		q++;
	if (q >= ps->end || *q != '}') {
		ps->why = "bad literal";
		return -1;
	}
	q++;
	if (q < ps->end && *q == '\r')
		q++;
	if (q >= ps->end || *q != '\n') {
		ps->why = "a literal announcement must end the line";
		return -1;
	}
	q++;
	if ((uint64_t)(ps->end - q) < v) {
		ps->why = "literal longer than the command";
		return -1;
	}
	arg->type = IMAP_ARG_LITERAL;
	arg->len = (size_t)v;
	if (v <= ps->copy_max) {
		arg->str = arena_strndup(ps->a, q, (size_t)v);
		arg->nul = true;
	} else {
		arg->str = q;
		arg->nul = false;
	}
	ps->p = q + v;
	return 0;
}

static int parse_atom(struct parser *ps, struct imap_arg *arg)
{
	const char *q = ps->p;

	while (q < ps->end) {
		unsigned char c = (unsigned char)*q;
		if (c == '[') {
			/* a section: anything up to the closing bracket (spaces, lists inside) */
			const char *close = memchr(q, ']', (size_t)(ps->end - q));
			const char *eol = q;
			while (eol < ps->end && *eol != '\r' && *eol != '\n')
				eol++;
			if (close == NULL || close > eol) {
				ps->why = "unterminated [";
				return -1;
			}
			/* the section is part of the atom: no NUL there either (RFC 3501 section 9:
			 * CHAR is %x01-7F), or the atom would end early as a C string */
			if (memchr(q, '\0', (size_t)(close - q)) != NULL) {
				ps->why = "NUL in a command";
				return -1;
			}
			q = close + 1;
			continue;
		}
		if (!is_atom_char(c))
			break;
		q++;
	}
	if (q == ps->p) {
		ps->why = ps->p < ps->end && *ps->p == '\0' ? "NUL in a command" : "syntax error";
		return -1;
	}
	arg->type = IMAP_ARG_ATOM;
	arg->str = arena_strndup(ps->a, ps->p, (size_t)(q - ps->p));
	arg->len = (size_t)(q - ps->p);
	arg->nul = true;
	ps->p = q;
	return 0;
}

static int parse_one(struct parser *ps, int depth, struct imap_arg *arg)
{
	char c = *ps->p;
	memset(arg, 0, sizeof(*arg));
	if (c == '(') {
		if (depth >= ps->max_nesting) {
			ps->why = "lists nested too deep";
			return -1;
		}
		ps->p++;
		arg->type = IMAP_ARG_LIST;
		if (parse_list(ps, depth + 1, &arg->list, &arg->n, false) < 0)
			return -1;
		return 0;
	}
	if (c == '"')
		return parse_quoted(ps, arg);
	if (c == '{' || (c == '~' && ps->p + 1 < ps->end && ps->p[1] == '{'))
		return parse_literal(ps, arg);
	return parse_atom(ps, arg);
}

/* Items separated by spaces up to ')' (lists) or the line end (top). */
static int parse_list(struct parser *ps, int depth, struct imap_arg **v_r, size_t *n_r,
		      bool top)
{
	struct imap_arg *v = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		while (ps->p < ps->end && *ps->p == ' ')
			ps->p++;
		if (at_eol(ps)) {
			if (!top) {
				ps->why = "missing )";
				return -1;
			}
			break;
		}
		if (*ps->p == ')') {
			if (top) {
				ps->why = "unexpected )";
				return -1;
			}
			ps->p++;
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct imap_arg *nv = arena_alloc(ps->a, nc * sizeof(*nv));
			if (n)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
			cap = nc;
		}
		if (parse_one(ps, depth, &v[n]) < 0)
			return -1;
		n++;
		/* after an item: a space, the end of the list or the line */
		if (ps->p < ps->end && *ps->p != ' ' && *ps->p != ')' && !at_eol(ps) &&
		    v[n - 1].type != IMAP_ARG_LIST) {
			ps->why = "syntax error";
			return -1;
		}
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '+' && c < 0x80;
}

int imap_parse(const char *buf, size_t len, int max_nesting, size_t copy_max, struct arena *a,
	       struct imap_command *cmd, const char **tag_r, const char **why_r)
{
	struct parser ps = {.p = buf, .end = buf + len, .a = a, .max_nesting = max_nesting,
			    .copy_max = copy_max};
	const char *q = buf;
	size_t nl;

	memset(cmd, 0, sizeof(*cmd));
	*tag_r = NULL;
	*why_r = "syntax error";
	/* the line end belongs to the scanner's command: drop the last CRLF */
	if (len > 0 && buf[len - 1] == '\n') {
		ps.end--;
		if (ps.end > buf && ps.end[-1] == '\r')
			ps.end--;
	}
	while (q < ps.end && is_tag_char((unsigned char)*q))
		q++;
	if (q == buf || q >= ps.end || *q != ' ') {
		*why_r = q == buf ? "missing tag" : "missing command";
		return -1;
	}
	cmd->tag = arena_strndup(a, buf, (size_t)(q - buf));
	*tag_r = cmd->tag;
	ps.p = q + 1;
	for (int word = 0; word < 2; word++) {
		const char *w = ps.p;
		while (ps.p < ps.end && isalnum((unsigned char)*ps.p))
			ps.p++;
		nl = (size_t)(ps.p - w);
		if (nl == 0 || nl > 12 || (ps.p < ps.end && *ps.p != ' ')) {
			*why_r = "bad command name";
			return -1;
		}
		size_t at = strlen(cmd->name);
		if (word)
			cmd->name[at++] = ' ';
		for (size_t i = 0; i < nl; i++)
			cmd->name[at + i] = (char)toupper((unsigned char)w[i]);
		cmd->name[at + nl] = '\0';
		if (word == 0 && strcmp(cmd->name, "UID") == 0 && ps.p < ps.end) {
			ps.p++;
			continue;
		}
		break;
	}
	if (parse_list(&ps, 0, &cmd->args, &cmd->nargs, true) < 0) {
		*why_r = ps.why ? ps.why : "syntax error";
		return -1;
	}
	return 0;
}

bool imap_arg_is_atom(const struct imap_arg *a, const char *upper)
{
	return a && a->type == IMAP_ARG_ATOM && strcasecmp(a->str, upper) == 0;
}

bool imap_arg_is_nil(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "NIL");
}

bool imap_arg_string(const struct imap_arg *a, const char **s_r, size_t *len_r)
{
	if (a == NULL || a->type == IMAP_ARG_LIST || !a->nul)
		return false;
	*s_r = a->str;
	*len_r = a->len;
	return true;
}

/* ---- sequence sets ---- */

static int num_parse(const char *s, size_t n, uint32_t star, uint32_t *v_r)
{
	uint64_t v = 0;
	if (n == 1 && s[0] == '*') {
		*v_r = star;
		return 0;
	}
	if (n == 0 || n > 10 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static int range_cmp(const void *x, const void *y)
{
	const struct imap_range *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

int imap_seqset_parse(const char *s, size_t len, uint32_t star, struct arena *a,
		      struct imap_seqset *out)
{
	size_t n = 1, k = 0;
	struct imap_range *v;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',')
			n++;
	if (n > 100000)
		return -1;
	v = arena_alloc(a, n * sizeof(*v));
	for (const char *p = s, *end = s + len; p <= end && k < n;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *colon = memchr(p, ':', (size_t)(e - p));
		uint32_t x, y;
		if (colon) {
			if (num_parse(p, (size_t)(colon - p), star, &x) < 0 ||
			    num_parse(colon + 1, (size_t)(e - colon - 1), star, &y) < 0)
				return -1;
		} else {
			if (num_parse(p, (size_t)(e - p), star, &x) < 0)
				return -1;
			y = x;
		}
		v[k].lo = x < y ? x : y;
		v[k].hi = x < y ? y : x;
		k++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (k != n)
		return -1;
	qsort(v, k, sizeof(*v), range_cmp);
	n = 0;
	for (size_t i = 0; i < k; i++) {
		if (n && v[i].lo <= (uint64_t)v[n - 1].hi + 1) {
			if (v[i].hi > v[n - 1].hi)
				v[n - 1].hi = v[i].hi;
		} else {
			v[n++] = v[i];
		}
	}
	out->v = v;
	out->n = n;
	return 0;
}

void imap_seqset_put(struct buf *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i)
			(void)!buf_append(b, ",", 1);
		if (j > i)
			(void)!buf_printf(b, "%u:%u", v[i], v[j]);
		else
			(void)!buf_printf(b, "%u", v[i]);
		i = j + 1;
	}
}

/* ---- modified UTF-7 ---- */

static const char mb64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int mb64_val(unsigned char c)
{
	const char *p = c ? strchr(mb64, c) : NULL;
	return p ? (int)(p - mb64) : -1;
}

/* A shifted run (RFC 3501 section 5.1.3): "&", modified base64 of UTF-16BE, "-". One run holds
 * every consecutive non-printable character however many there are: two adjacent runs are not
 * the canonical form, and imap_mutf7_decode refuses them. */
struct shift {
	uint32_t bits;
	int nbits;
	bool open;
};

static void shift_put(struct buf *b, struct shift *sh, uint16_t u)
{
	if (!sh->open) {
		(void)!buf_append(b, "&", 1);
		sh->open = true;
	}
	sh->bits = (sh->bits << 16) | u;
	sh->nbits += 16;
	while (sh->nbits >= 6) {
		sh->nbits -= 6;
		(void)!buf_append(b, &mb64[(sh->bits >> sh->nbits) & 0x3f], 1);
	}
}

static void shift_close(struct buf *b, struct shift *sh)
{
	if (!sh->open)
		return;
	if (sh->nbits > 0)
		(void)!buf_append(b, &mb64[(sh->bits << (6 - sh->nbits)) & 0x3f], 1);
	(void)!buf_append(b, "-", 1);
	*sh = (struct shift){0};
}

int imap_mutf7_encode(const char *in, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	struct shift sh = {0};

	if (!utf8_valid(in, n))
		return -1;
	for (size_t i = 0; i < n;) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			shift_close(out, &sh);
			if (s[i] == '&')
				(void)!buf_append(out, "&-", 2);
			else
				(void)!buf_append(out, &s[i], 1);
			i++;
			continue;
		}
		size_t l = utf8_seq_len(s + i, n - i);
		uint32_t cp;
		if (l == 1)
			cp = s[i];
		else if (l == 2)
			cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
		else if (l == 3)
			cp = (uint32_t)(s[i] & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 |
			     (s[i + 2] & 0x3f);
		else
			cp = (uint32_t)(s[i] & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
			     (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
		i += l ? l : 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			shift_put(out, &sh, (uint16_t)(0xd800 | (cp >> 10)));
			shift_put(out, &sh, (uint16_t)(0xdc00 | (cp & 0x3ff)));
		} else {
			shift_put(out, &sh, (uint16_t)cp);
		}
	}
	shift_close(out, &sh);
	return 0;
}

static void put_cp(struct buf *b, uint32_t cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	(void)!buf_append(b, o, n);
}

int imap_mutf7_decode(const char *in, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	while (i < n) {
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return -1;
		if (s[i] != '&') {
			(void)!buf_append(out, &s[i], 1);
			i++;
			continue;
		}
		i++;
		if (i < n && s[i] == '-') {
			(void)!buf_append(out, "&", 1);
			i++;
			continue;
		}
		/* a shifted run: modified base64 of UTF-16BE, up to '-' */
		uint32_t bits = 0, hi = 0;
		int nbits = 0;
		size_t start = i, nchars = 0;
		while (i < n && s[i] != '-') {
			int v = mb64_val(s[i]);
			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			i++;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t u = (bits >> nbits) & 0xffff;
				nchars++;
				if (hi) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					put_cp(out, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00));
					hi = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				} else if (u >= 0x20 && u < 0x7f) {
					return -1; /* printable ASCII must not be shifted */
				} else {
					put_cp(out, u);
				}
			}
		}
		if (i >= n || i == start || hi || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
			return -1; /* unterminated, empty, dangling surrogate, bad padding */
		(void)nchars;
		i++; /* '-' */
		/* two adjacent shifted runs are not minimal */
		if (i + 1 < n && s[i] == '&' && s[i + 1] != '-')
			return -1;
	}
	return 0;
}

/* ---- dates ---- */

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int month_of(const char *s)
{
	for (int m = 0; m < 12; m++)
		if (strncasecmp(s, months[m], 3) == 0)
			return m;
	return -1;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int date_part(const char *s, size_t len, size_t *used, int64_t *day_r)
{
	size_t i = 0;
	int d = 0, m, y = 0, nd = 0;
	if (i < len && s[i] == ' ')
		i++;
	while (i < len && isdigit((unsigned char)s[i]) && nd < 2) {
		d = d * 10 + (s[i++] - '0');
		nd++;
	}
	if (nd == 0 || i + 9 > len || s[i] != '-' || s[i + 4] != '-')
		return -1;
	m = month_of(s + i + 1);
	if (m < 0)
		return -1;
	i += 5;
	for (int k = 0; k < 4; k++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		y = y * 10 + (s[i++] - '0');
	}
	if (d < 1 || d > 31)
		return -1;
	*used = i;
	*day_r = days_from_civil(y, (unsigned)m + 1, (unsigned)d) * 86400;
	return 0;
}

int imap_date_parse(const char *s, size_t len, int64_t *t_r)
{
	size_t used;
	if (date_part(s, len, &used, t_r) < 0 || used != len)
		return -1;
	return 0;
}

int imap_date_time_parse(const char *s, size_t len, int64_t *t_r)
{
	size_t i;
	int64_t day;
	int hh, mm, ss, zh, zm, sign;

	if (date_part(s, len, &i, &day) < 0 || len - i != 15)
		return -1;
	s += i;
	if (s[0] != ' ' || s[3] != ':' || s[6] != ':' || s[9] != ' ' ||
	    (s[10] != '+' && s[10] != '-'))
		return -1;
	for (int k = 1; k < 15; k++)
		if (k != 3 && k != 6 && k != 9 && k != 10 && !isdigit((unsigned char)s[k]))
			return -1;
	hh = (s[1] - '0') * 10 + (s[2] - '0');
	mm = (s[4] - '0') * 10 + (s[5] - '0');
	ss = (s[7] - '0') * 10 + (s[8] - '0');
	sign = s[10] == '-' ? -1 : 1;
	zh = (s[11] - '0') * 10 + (s[12] - '0');
	zm = (s[13] - '0') * 10 + (s[14] - '0');
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return -1;
	*t_r = day + hh * 3600 + mm * 60 + ss - sign * (zh * 3600 + zm * 60);
	return 0;
}

void imap_date_time_format(int64_t t, int tz_minutes, char out[40])
{
	time_t lt = (time_t)(t + tz_minutes * 60);
	struct tm tm;
	int z = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	gmtime_r(&lt, &tm);
	snprintf(out, 40, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, tz_minutes < 0 ? '-' : '+',
		 z / 60, z % 60);
}

/* ---- response strings ---- */

void imap_put_string(struct buf *b, const char *s, size_t len)
{
	bool quotable = len < 1024;
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			quotable = c == '\t';
	}
	if (quotable) {
		(void)!buf_append(b, "\"", 1);
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				(void)!buf_append(b, "\\", 1);
			(void)!buf_append(b, &s[i], 1);
		}
		(void)!buf_append(b, "\"", 1);
		return;
	}
	(void)!buf_printf(b, "{%zu}\r\n", len);
	(void)!buf_append(b, s, len);
}

void imap_put_nstring(struct buf *b, const char *s)
{
	if (s == NULL)
		(void)!buf_puts(b, "NIL");
	else
		imap_put_string(b, s, strlen(s));
}

void imap_put_astring(struct buf *b, const char *s, size_t len)
{
	bool atom = len > 0 && !(len == 3 && strncasecmp(s, "NIL", 3) == 0);
	for (size_t i = 0; i < len && atom; i++) {
		unsigned char c = (unsigned char)s[i];
		atom = c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
	}
	if (atom)
		(void)!buf_append(b, s, len);
	else
		imap_put_string(b, s, len);
}
