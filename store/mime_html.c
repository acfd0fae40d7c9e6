/* mime_html.c: text from HTML (for the plain-text body, snippets and the search index) and the
 * list snippet.
 *
 * Not an HTML parser and not a sanitiser (the browser sanitises the HTML body): a single bounded
 * pass that drops tags, comments and the contents of script/style/head/title, turns block
 * boundaries into newlines, decodes character references (HTML section 13.5) and collapses white
 * space. It never allocates per byte and never reads past n.
 *
 * Also here: the body selection of mime_parse() (which parts are the text and HTML bodies, which
 * are attachments), since it is mostly about the text the reader sees. */
#include "mime.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/util.h"

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Named references mail uses (the full HTML list has 2231; these cover real messages). */
static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
    /* clang-format off */
	{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
	{"copy", 0xa9}, {"reg", 0xae}, {"trade", 0x2122}, {"mdash", 0x2014}, {"ndash", 0x2013},
	{"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c},
	{"rdquo", 0x201d}, {"sbquo", 0x201a}, {"bdquo", 0x201e}, {"laquo", 0xab}, {"raquo", 0xbb},
	{"lsaquo", 0x2039}, {"rsaquo", 0x203a}, {"bull", 0x2022}, {"middot", 0xb7},
	{"deg", 0xb0}, {"plusmn", 0xb1}, {"times", 0xd7}, {"divide", 0xf7}, {"euro", 0x20ac},
	{"pound", 0xa3}, {"yen", 0xa5}, {"cent", 0xa2}, {"sect", 0xa7}, {"para", 0xb6},
	{"shy", 0xad}, {"iexcl", 0xa1}, {"iquest", 0xbf}, {"ensp", 0x2002}, {"emsp", 0x2003},
	{"thinsp", 0x2009}, {"zwnj", 0x200c}, {"zwj", 0x200d}, {"lrm", 0x200e}, {"rlm", 0x200f},
	{"dagger", 0x2020}, {"Dagger", 0x2021}, {"permil", 0x2030}, {"prime", 0x2032},
	{"larr", 0x2190}, {"rarr", 0x2192}, {"uarr", 0x2191}, {"darr", 0x2193}, {"harr", 0x2194},
	{"hearts", 0x2665}, {"frac12", 0xbd}, {"frac14", 0xbc}, {"frac34", 0xbe}, {"sup2", 0xb2},
	{"sup3", 0xb3}, {"micro", 0xb5}, {"szlig", 0xdf}, {"agrave", 0xe0}, {"aacute", 0xe1},
	{"acirc", 0xe2}, {"atilde", 0xe3}, {"auml", 0xe4}, {"aring", 0xe5}, {"aelig", 0xe6},
	{"ccedil", 0xe7}, {"egrave", 0xe8}, {"eacute", 0xe9}, {"ecirc", 0xea}, {"euml", 0xeb},
	{"igrave", 0xec}, {"iacute", 0xed}, {"icirc", 0xee}, {"iuml", 0xef}, {"ntilde", 0xf1},
	{"ograve", 0xf2}, {"oacute", 0xf3}, {"ocirc", 0xf4}, {"otilde", 0xf5}, {"ouml", 0xf6},
	{"oslash", 0xf8}, {"ugrave", 0xf9}, {"uacute", 0xfa}, {"ucirc", 0xfb}, {"uuml", 0xfc},
	{"yacute", 0xfd}, {"yuml", 0xff}, {"Agrave", 0xc0}, {"Aacute", 0xc1}, {"Acirc", 0xc2},
	{"Atilde", 0xc3}, {"Auml", 0xc4}, {"Aring", 0xc5}, {"AElig", 0xc6}, {"Ccedil", 0xc7},
	{"Egrave", 0xc8}, {"Eacute", 0xc9}, {"Ecirc", 0xca}, {"Euml", 0xcb}, {"Iacute", 0xcd},
	{"Ntilde", 0xd1}, {"Oacute", 0xd3}, {"Ouml", 0xd6}, {"Oslash", 0xd8}, {"Uacute", 0xda},
	{"Uuml", 0xdc}, {"oelig", 0x153}, {"OElig", 0x152}, {"scaron", 0x161}, {"Scaron", 0x160},
    /* clang-format on */
};

/* HTML section 13.2.5.80: numeric references to C1 code points mean WINDOWS-1252. */
static const unsigned short c1_remap[32] = {
    0x20ac, 0x81,   0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8d,   0x017d, 0x8f,   0x90,   0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d,   0x017e, 0x0178,
};

/* A character reference at s ('&'), n bytes available: the code point and the bytes it uses,
 * or 0 when it is not one (the '&' is then literal). */
static size_t entity(const char *s, size_t n, unsigned *cp_r)
{
	size_t i = 1;

	if (n >= 3 && s[1] == '#') {
		unsigned long cp = 0;
		bool hex = n >= 4 && (s[2] == 'x' || s[2] == 'X');
		size_t start;
		i = hex ? 3 : 2;
		start = i;
		for (; i < n && i - start < 8; i++) {
			int c = (unsigned char)s[i], d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && lower(c) >= 'a' && lower(c) <= 'f')
				d = lower(c) - 'a' + 10;
			else
				break;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (i == start)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (cp >= 0x80 && cp <= 0x9f)
			cp = c1_remap[cp - 0x80];
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = 0xfffd;
		*cp_r = (unsigned)cp;
		return i;
	}
	while (i < n && i < 10 && is_alnum((unsigned char)s[i]))
		i++;
	if (i == 1)
		return 0;
	for (size_t k = 0; k < ARRAY_LEN(entities); k++) {
		size_t len = strlen(entities[k].name);
		if (len != i - 1 || memcmp(entities[k].name, s + 1, len) != 0)
			continue;
		if (i < n && s[i] == ';')
			i++;
		else if (len > 4) /* only the old short ones may lack the ';' */
			return 0;
		*cp_r = entities[k].cp;
		return i;
	}
	return 0;
}

enum tagkind { T_OTHER, T_BLOCK, T_BR, T_CELL, T_SKIP };

static enum tagkind tag_kind(const char *name)
{
	static const char *const block[] = {
	    "p",      "div",    "tr",         "li",      "ul",      "ol",      "dl",
	    "dt",     "dd",     "h1",         "h2",      "h3",      "h4",      "h5",
	    "h6",     "table",  "blockquote", "pre",     "hr",      "section", "article",
	    "header", "footer", "nav",        "address", "center",  "form",    "fieldset",
	    "aside",  "main",   "figure",     "caption", "tbody",   "thead",   "tfoot",
	    "body",   "html",   "option",     "legend",  "details", "summary",
	};
	static const char *const skip[] = {"script",   "style", "head",   "title", "noscript",
	                                   "template", "svg",   "object", "xml"};

	if (strcmp(name, "br") == 0)
		return T_BR;
	if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0)
		return T_CELL;
	for (size_t i = 0; i < ARRAY_LEN(block); i++)
		if (strcmp(block[i], name) == 0)
			return T_BLOCK;
	for (size_t i = 0; i < ARRAY_LEN(skip); i++)
		if (strcmp(skip[i], name) == 0)
			return T_SKIP;
	return T_OTHER;
}

/* Output with collapsing: a pending space or pending newlines are written only before the
 * next visible character, so runs collapse and nothing trails. */
struct tout {
	char *p;
	size_t n, max;
	int pend_nl; /* newlines wanted before the next text, at most 2 */
	bool pend_sp;
	bool full;
};

static void t_put(struct tout *t, const char *s, size_t len)
{
	if (t->full)
		return;
	if (t->n > 0 && t->pend_nl > 0) {
		for (int i = 0; i < t->pend_nl && t->n < t->max; i++)
			t->p[t->n++] = '\n';
	} else if (t->n > 0 && t->pend_sp && t->n < t->max) {
		t->p[t->n++] = ' ';
	}
	t->pend_nl = 0;
	t->pend_sp = false;
	if (t->n + len > t->max) {
		t->full = true;
		return;
	}
	memcpy(t->p + t->n, s, len);
	t->n += len;
}

static void t_newline(struct tout *t, int count)
{
	if (t->pend_nl < count)
		t->pend_nl = count;
	t->pend_sp = false;
}

/* Skip to the end of a tag (the '>' outside quotes) from s; returns the index after it. */
static size_t tag_end(const char *s, size_t n, size_t i)
{
	char q = 0;
	for (; i < n; i++) {
		if (q) {
			if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			q = s[i];
		} else if (s[i] == '>') {
			return i + 1;
		}
	}
	return n;
}

/* Find "</name" (case-insensitive) from i; returns its index or n. */
static size_t find_close(const char *s, size_t n, size_t i, const char *name)
{
	size_t len = strlen(name);
	for (; i + 2 + len <= n; i++) {
		if (s[i] != '<' || s[i + 1] != '/')
			continue;
		size_t k = 0;
		while (k < len && lower((unsigned char)s[i + 2 + k]) == name[k])
			k++;
		if (k == len && (i + 2 + len == n || !is_alnum((unsigned char)s[i + 2 + len])))
			return i;
	}
	return n;
}

/* A tag or comment at s[i] == '<'; returns the index after it, writing its effect to t. */
static size_t do_tag(const char *s, size_t n, size_t i, struct tout *t)
{
	char name[16];
	size_t k = i + 1, len = 0;
	bool closing = false, blank;
	enum tagkind kind;

	if (k < n && s[k] == '!') {
		if (k + 2 < n && s[k + 1] == '-' && s[k + 2] == '-') {
			const char *e = NULL;
			for (size_t j = k + 3; j + 2 < n && !e; j++)
				if (s[j] == '-' && s[j + 1] == '-' && s[j + 2] == '>')
					e = s + j;
			return e ? (size_t)(e - s) + 3 : n;
		}
		return tag_end(s, n, k);
	}
	if (k < n && (s[k] == '?' || s[k] == '%'))
		return tag_end(s, n, k);
	if (k < n && s[k] == '/') {
		closing = true;
		k++;
	}
	while (k < n && (is_alnum((unsigned char)s[k]) || s[k] == ':' || s[k] == '-') &&
	       len + 1 < sizeof(name))
		name[len++] = (char)lower((unsigned char)s[k++]);
	name[len] = '\0';
	if (len == 0) {
		/* "<" not starting a tag is text */
		t_put(t, "<", 1);
		return i + 1;
	}
	/* o:p and similar namespaced Office tags are inline */
	kind = strchr(name, ':') ? T_OTHER : tag_kind(name);
	k = tag_end(s, n, k);
	switch (kind) {
	case T_SKIP:
		if (!closing && !(k >= 2 && s[k - 2] == '/')) {
			size_t c = find_close(s, n, k, name);
			k = c < n ? tag_end(s, n, c) : n;
		}
		break;
	case T_BR:
		t_newline(t, t->pend_nl + 1 > 2 ? 2 : t->pend_nl + 1);
		break;
	case T_BLOCK:
		/* paragraphs, headings, tables and quotes get a blank line */
		blank = strchr("ph", name[0]) || strcmp(name, "table") == 0 ||
		        strcmp(name, "blockquote") == 0;
		t_newline(t, blank ? 2 : 1);
		break;
	case T_CELL:
		if (!closing)
			t->pend_sp = t->pend_nl == 0;
		break;
	case T_OTHER:
		break;
	}
	return k;
}

const char *mime_html_to_text(const char *html, size_t n, size_t max_out, struct arena *a,
                              size_t *len_r)
{
	struct tout t = {0};
	size_t cap = n < max_out / 3 ? 3 * n : max_out, dummy;

	if (len_r == NULL)
		len_r = &dummy;
	t.p = arena_alloc(a, cap + 8);
	t.max = cap;
	for (size_t i = 0; i < n && !t.full;) {
		unsigned char c = (unsigned char)html[i];
		if (c == '<') {
			i = do_tag(html, n, i, &t);
		} else if (c == '&') {
			unsigned cp;
			size_t k = entity(html + i, n - i, &cp);
			char u[4];
			if (k == 0) {
				t_put(&t, "&", 1);
				i++;
			} else if (cp == ' ') {
				if (t.pend_nl == 0)
					t.pend_sp = true;
				i += k;
			} else {
				t_put(&t, u, utf8_put(u, cp));
				i += k;
			}
		} else if (is_space(c)) {
			if (t.pend_nl == 0)
				t.pend_sp = true;
			i++;
		} else if (c == 0) {
			i++;
		} else if (c < 0x80) { /* a run of plain ASCII text in one go */
			size_t k = i + 1;
			while (k < n && (unsigned char)html[k] < 0x80 && html[k] != '<' &&
			       html[k] != '&' && html[k] != 0 && !is_space((unsigned char)html[k]))
				k++;
			t_put(&t, html + i, k - i);
			i = k;
		} else {
			size_t k = utf8_seq_len((const unsigned char *)html + i, n - i);
			if (k == 0)
				t_put(&t, "\xef\xbf\xbd", 3);
			else
				t_put(&t, html + i, k);
			i += k ? k : 1;
		}
	}
	t.p[t.n] = '\0';
	*len_r = t.n;
	return t.p;
}

/* ---- the list snippet ---- */

static bool line_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool starts(const char *s, size_t n, const char *lit)
{
	return n >= strlen(lit) && memcmp(s, lit, strlen(lit)) == 0;
}

static bool ends(const char *s, size_t n, const char *lit)
{
	return n >= strlen(lit) && memcmp(s + n - strlen(lit), lit, strlen(lit)) == 0;
}

/* A line introducing a quote ("On Mon, Bob wrote:", "在 2024年1月1日，张三 写道：", ...). */
static bool is_attribution(const char *s, size_t n)
{
	if (starts(s, n, "On ") && (ends(s, n, "wrote:") || ends(s, n, "writes:")))
		return true;
	if (starts(s, n, "在") && (ends(s, n, "写道：") || ends(s, n, "写道:")))
		return true;
	if (starts(s, n, "Le ") && (ends(s, n, "a écrit :") || ends(s, n, "a écrit:")))
		return true;
	if (starts(s, n, "Am ") && ends(s, n, ":") && memmem(s, n, "schrieb", 7))
		return true;
	return starts(s, n, "El ") && ends(s, n, "escribió:");
}

/* Where the quoted original starts in replies from Outlook and Chinese webmail. */
static bool is_original_marker(const char *s, size_t n)
{
	static const char outlook[] = "-----Original Message-----", cn[] = "原始邮件";
	return memmem(s, n, outlook, sizeof(outlook) - 1) || memmem(s, n, cn, sizeof(cn) - 1);
}

const char *mime_snippet(const char *text, size_t n, size_t max_chars, struct arena *a)
{
	/* a character is at most 4 bytes; a bad byte becomes 3 */
	size_t cap = (max_chars < n ? max_chars : n) * 4 + 4, o = 0, chars = 0;
	char *out = arena_alloc(a, cap + 1);
	bool sp = false;

	for (size_t i = 0; i < n && chars < max_chars;) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - text) : n, next = nl ? e + 1 : n;
		const char *l = text + i;
		size_t len = e - i;

		if (len > 0 && l[len - 1] == '\r')
			len--;
		if (line_is(l, len, "-- ") || is_original_marker(l, len))
			break;
		/* skip leading white space to see '>' and the attribution */
		size_t s = 0;
		while (s < len && (l[s] == ' ' || l[s] == '\t'))
			s++;
		size_t tl = len;
		while (tl > s && (l[tl - 1] == ' ' || l[tl - 1] == '\t'))
			tl--;
		if ((s < len && l[s] == '>') || is_attribution(l + s, tl - s)) {
			i = next;
			continue;
		}
		for (size_t k = s; k < tl && chars < max_chars;) {
			unsigned char c = (unsigned char)l[k];
			size_t sl;
			if (is_space(c) || c == 0) {
				sp = true;
				k++;
				continue;
			}
			sl = utf8_seq_len((const unsigned char *)l + k, tl - k);
			if (sp && o > 0) { /* the space counts as a character */
				if (chars + 1 >= max_chars || o + 1 > cap)
					goto done;
				out[o++] = ' ';
				chars++;
			}
			sp = false;
			if (sl == 0) {
				if (o + 3 > cap)
					break;
				memcpy(out + o, "\xef\xbf\xbd", 3);
				o += 3;
				k++;
			} else {
				if (o + sl > cap)
					break;
				memcpy(out + o, l + k, sl);
				o += sl;
				k += sl;
			}
			chars++;
		}
		sp = true;
		i = next;
	}
done:
	out[o] = '\0';
	return out;
}

/* ---- body selection (RFC 8621 section 4.1.4), for mime_parse() ---- */

enum { L_TEXT, L_HTML, L_ATT };

struct lists {
	int *v[3];
	size_t n[3], cap[3];
};

/* The tree as mime_parse() left it, with sibling links and each text part's UTF-8. */
struct bsel {
	struct mime_msg *msg;
	const char *const *dec;
	const size_t *dec_len;
	size_t max_text;
	struct arena *a;
	int *first_child, *next;
	const char **text; /* UTF-8, CRLF -> LF, no NUL; on demand */
	size_t *text_len;
};

static void lpush(struct lists *L, int which, int idx)
{
	if (L->n[which] == L->cap[which]) {
		L->cap[which] = L->cap[which] * 2 + 8;
		L->v[which] = xrealloc(L->v[which], L->cap[which] * sizeof(int));
	}
	L->v[which][L->n[which]++] = idx;
}

static void lfree(struct lists *L)
{
	for (int i = 0; i < 3; i++)
		free(L->v[i]);
}

static bool is_type(const struct mime_part *p, const char *t, const char *st)
{
	return strcmp(p->type, t) == 0 && (st == NULL || strcmp(p->subtype, st) == 0);
}

/* text/plain, or a multipart GMime found no parts in (no boundary, or none used): its bytes are
 * all the reader gets, so they are read as plain text. */
static bool as_plain(const struct bsel *b, int c)
{
	const struct mime_part *p = &b->msg->parts[c];
	return is_type(p, "text", "plain") ||
	       (is_type(p, "multipart", NULL) && b->first_child[c] < 0 && b->dec[c] != NULL);
}

static bool as_body(const struct bsel *b, int c)
{
	return as_plain(b, c) || is_type(&b->msg->parts[c], "text", "html");
}

/* A message/rfc822 part with the enclosed message parsed (its first child is the root). */
static bool is_msg(const struct bsel *b, int c)
{
	return strcmp(b->msg->parts[c].type, "message") == 0 && b->first_child[c] >= 0;
}

/* parseStructure() of RFC 8621 section 4.1.4 over the siblings starting at first: text and html
 * turn off for the rest of this level (JavaScript's local null), the lists are shared. */
static void structure(const struct bsel *b, int first, const char *mptype, bool in_alt,
                      bool text_on, bool html_on, struct lists *L)
{
	size_t text0 = L->n[L_TEXT], html0 = L->n[L_HTML];
	bool alt = strcmp(mptype, "alternative") == 0;
	int i = 0;

	for (int c = first; c >= 0; c = b->next[c], i++) {
		const struct mime_part *p = &b->msg->parts[c];
		bool plain = as_plain(b, c), html = is_type(p, "text", "html");
		bool media = is_type(p, "image", NULL) || is_type(p, "audio", NULL) ||
		             is_type(p, "video", NULL);
		bool inl = !(p->disposition && strcmp(p->disposition, "attachment") == 0) &&
		           (plain || html || media) &&
		           (i == 0 || (strcmp(mptype, "related") != 0 && (media || !p->filename)));

		if (is_type(p, "multipart", NULL) && b->first_child[c] >= 0) {
			structure(b, b->first_child[c], p->subtype,
			          in_alt || strcmp(p->subtype, "alternative") == 0, text_on,
			          html_on, L);
		} else if (inl) {
			if (alt) {
				lpush(L, plain ? L_TEXT : html ? L_HTML : L_ATT, c);
				continue;
			}
			if (in_alt && plain)
				html_on = false;
			if (in_alt && html)
				text_on = false;
			if (text_on)
				lpush(L, L_TEXT, c);
			if (html_on)
				lpush(L, L_HTML, c);
			if ((!text_on || !html_on) && media)
				lpush(L, L_ATT, c);
		} else {
			lpush(L, L_ATT, c);
		}
	}
	if (alt && text_on && html_on) {
		size_t tn = L->n[L_TEXT], hn = L->n[L_HTML];
		if (text0 == tn && html0 != hn)
			for (size_t k = html0; k < hn; k++)
				lpush(L, L_TEXT, L->v[L_HTML][k]);
		if (html0 == hn && text0 != tn)
			for (size_t k = text0; k < tn; k++)
				lpush(L, L_HTML, L->v[L_TEXT][k]);
	}
}

/* Text output capped at max bytes on a character boundary. */
struct tbuf {
	char *p;
	size_t n, cap, max;
};

static void tb_add(struct tbuf *t, const char *s, size_t n)
{
	if (t->n + n > t->max) {
		n = t->max - t->n;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (t->n + n + 1 > t->cap) {
		t->cap = (t->n + n + 1) * 2;
		t->p = xrealloc(t->p, t->cap);
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
}

static const char *tb_take(struct arena *a, struct tbuf *t, size_t *len_r)
{
	const char *r = arena_strndup(a, t->p ? t->p : "", t->n);
	*len_r = t->n;
	free(t->p);
	return r;
}

static bool prefix_ci(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower((unsigned char)s[i]) != lit[i])
			return false;
	return true;
}

/* A <meta charset=...> or http-equiv charset in the first bytes of an unlabelled HTML part. */
static const char *meta_charset(struct arena *a, const char *s, size_t n)
{
	size_t lim = n < 4096 ? n : 4096;
	for (size_t i = 0; i + 8 < lim; i++) {
		if (lower((unsigned char)s[i]) != 'c' || !prefix_ci(s + i, lim - i, "charset="))
			continue;
		size_t k = i + 8, start;
		while (k < lim && (s[k] == '"' || s[k] == '\'' || s[k] == ' '))
			k++;
		start = k;
		while (k < lim && k - start < 40 &&
		       (is_alnum((unsigned char)s[k]) || s[k] == '-' || s[k] == '_'))
			k++;
		if (k > start)
			return arena_strndup(a, s + start, k - start);
	}
	return NULL;
}

/* The UTF-8 text of part c: CRLF and lone CR become LF, NUL bytes go. */
static const char *part_text(const struct bsel *b, int c, size_t *len_r)
{
	const struct mime_part *p = &b->msg->parts[c];
	const char *cs = p->charset, *u;
	size_t un, o = 0;
	char *out;

	if (b->text[c] == NULL) {
		if (cs == NULL && strcmp(p->subtype, "html") == 0)
			cs = meta_charset(b->a, b->dec[c], b->dec_len[c]);
		u = mime_to_utf8(cs, b->dec[c], b->dec_len[c], b->a, &un);
		if (!memchr(u, '\r', un) && strlen(u) == un) { /* nothing to change */
			b->text[c] = u;
			b->text_len[c] = un;
			*len_r = un;
			return u;
		}
		out = arena_alloc_raw(b->a, un + 1);
		for (const char *s = u, *e = u + un; s < e;) {
			const char *r = memchr(s, '\r', (size_t)(e - s));
			size_t k = (size_t)((r ? r : e) - s);
			memcpy(out + o, s, k);
			o += k;
			s += k;
			if (r != NULL) {
				out[o++] = '\n';
				s += s + 1 < e && s[1] == '\n' ? 2 : 1;
			}
		}
		out[o] = '\0';
		if (strlen(out) != o) { /* drop NUL bytes */
			size_t k = 0;
			for (size_t i = 0; i < o; i++)
				if (out[i] != '\0')
					out[k++] = out[i];
			out[o = k] = '\0';
		}
		b->text[c] = out;
		b->text_len[c] = o;
	}
	*len_r = b->text_len[c];
	return b->text[c];
}

static void add_as_text(const struct bsel *b, struct tbuf *t, int c)
{
	size_t n, tn;
	const char *s;

	if ((!is_type(&b->msg->parts[c], "text", NULL) && !as_plain(b, c)) || b->dec[c] == NULL)
		return;
	s = part_text(b, c, &n);
	if (strcmp(b->msg->parts[c].subtype, "html") == 0) {
		s = mime_html_to_text(s, n, b->max_text, b->a, &tn);
		n = tn;
	}
	if (n == 0)
		return;
	if (t->n > 0 && t->p[t->n - 1] != '\n')
		tb_add(t, "\n", 1);
	tb_add(t, s, n);
}

static void add_plain_as_html(struct tbuf *t, const char *s, size_t n)
{
	tb_add(t, "<pre>", 5);
	for (size_t i = 0; i < n; i++) {
		const char *e = s[i] == '<'   ? "&lt;"
		                : s[i] == '>' ? "&gt;"
		                : s[i] == '&' ? "&amp;"
		                              : NULL;
		tb_add(t, e ? e : s + i, e ? strlen(e) : 1);
	}
	tb_add(t, "</pre>\n", 7);
}

/* "cid:ID" in the HTML, followed by something that cannot continue the id. */
static bool html_refers(const char *html, size_t n, const char *cid)
{
	size_t cl = strlen(cid);
	for (size_t i = 0; i + 4 + cl <= n; i++) {
		if (lower((unsigned char)html[i]) != 'c' || !prefix_ci(html + i, n - i, "cid:") ||
		    memcmp(html + i + 4, cid, cl) != 0)
			continue;
		if (i + 4 + cl == n || strchr("\"'> )\t\r\n", html[i + 4 + cl]))
			return true;
	}
	return false;
}

/* Attachments: leaves and attached messages that are not the body, not inline images the HTML
 * shows by cid:, and not inside an attached message (whose body text goes to attach_text). */
static void attachments(const struct bsel *b, struct tbuf *att)
{
	struct mime_msg *msg = b->msg;
	bool *inside = xcalloc(msg->nparts, sizeof(*inside));

	for (size_t i = 0; i < msg->nparts; i++) {
		struct mime_part *p = &msg->parts[i];
		if (p->parent >= 0)
			inside[i] = inside[p->parent] || is_msg(b, p->parent);
		if (inside[i] || is_type(p, "multipart", NULL) || p->is_body)
			continue;
		if (!is_msg(b, (int)i) && p->content_id && msg->html &&
		    !(p->disposition && strcmp(p->disposition, "attachment") == 0) &&
		    html_refers(msg->html, msg->html_len, p->content_id))
			continue;
		p->is_attachment = true;
		msg->has_attachments = true;
		if (is_msg(b, (int)i)) {
			struct lists sub = {0};
			structure(b, b->first_child[i], "mixed", false, true, true, &sub);
			for (size_t k = 0; k < sub.n[L_TEXT]; k++)
				add_as_text(b, att, sub.v[L_TEXT][k]);
			lfree(&sub);
		} else {
			add_as_text(b, att, (int)i);
		}
	}
	free(inside);
}

void mime_bodies(struct mime_msg *msg, const char *const *dec, const size_t *dec_len,
                 size_t max_text, struct arena *a)
{
	struct bsel b = {msg, dec, dec_len, max_text, a, NULL, NULL, NULL, NULL};
	struct lists L = {0};
	struct tbuf text = {.max = max_text}, html = {.max = max_text}, att = {.max = max_text};
	int *last = xmalloc(msg->nparts * sizeof(int));
	bool any_html = false;

	b.first_child = xmalloc(msg->nparts * sizeof(int));
	b.next = xmalloc(msg->nparts * sizeof(int));
	b.text = xcalloc(msg->nparts, sizeof(*b.text));
	b.text_len = xcalloc(msg->nparts, sizeof(*b.text_len));
	for (size_t i = 0; i < msg->nparts; i++) {
		int p = msg->parts[i].parent;
		b.first_child[i] = b.next[i] = last[i] = -1;
		if (p < 0)
			continue;
		if (last[p] >= 0)
			b.next[last[p]] = (int)i;
		else
			b.first_child[p] = (int)i;
		last[p] = (int)i;
	}
	structure(&b, 0, "mixed", false, true, true, &L);
	for (size_t k = 0; k < L.n[L_TEXT]; k++) {
		add_as_text(&b, &text, L.v[L_TEXT][k]);
		if (as_body(&b, L.v[L_TEXT][k]))
			msg->parts[L.v[L_TEXT][k]].is_body = true;
	}
	for (size_t k = 0; k < L.n[L_HTML]; k++)
		any_html |= is_type(&msg->parts[L.v[L_HTML][k]], "text", "html");
	for (size_t k = 0; any_html && k < L.n[L_HTML]; k++) {
		int c = L.v[L_HTML][k];
		size_t n;
		const char *s;
		if (!as_body(&b, c))
			continue;
		msg->parts[c].is_body = true;
		if (dec[c] == NULL)
			continue;
		s = part_text(&b, c, &n);
		if (is_type(&msg->parts[c], "text", "html"))
			tb_add(&html, s, n);
		else
			add_plain_as_html(&html, s, n);
	}
	msg->text = tb_take(a, &text, &msg->text_len);
	msg->html = any_html ? tb_take(a, &html, &msg->html_len) : NULL;
	if (!any_html)
		free(html.p);
	attachments(&b, &att);
	msg->attach_text = tb_take(a, &att, &msg->attach_text_len);
	lfree(&L);
	free(last);
	free(b.first_child);
	free(b.next);
	free(b.text);
	free(b.text_len);
}
