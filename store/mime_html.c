/* mime_html.c: text from HTML (for the plain-text body, snippets and the search index) and the
 * list snippet.
 *
 * Not an HTML parser and not a sanitiser (the browser sanitises the HTML body): a single bounded
 * pass that drops tags, comments and the contents of script/style/head/title, turns block
 * boundaries into newlines, decodes character references (HTML section 13.5) and collapses white
 * space. It never allocates per byte and never reads past n. */
#include "mime.h"

#include <stdbool.h>
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

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Named references mail uses (the full HTML list has 2231; these cover real messages). */
static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
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
};

/* HTML section 13.2.5.80: numeric references to C1 code points mean WINDOWS-1252. */
static const unsigned short c1_remap[32] = {
	0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
	0x2039, 0x0152, 0x8d, 0x017d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
	0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
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
		"p", "div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
		"table", "blockquote", "pre", "hr", "section", "article", "header", "footer", "nav",
		"address", "center", "form", "fieldset", "aside", "main", "figure", "caption",
		"tbody", "thead", "tfoot", "body", "html", "option", "legend", "details", "summary",
	};
	static const char *const skip[] = {"script", "style", "head", "title", "noscript",
					   "template", "svg", "object", "xml"};

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
	int pend_nl;    /* newlines wanted before the next text, at most 2 */
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
	bool closing = false;
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
		t_newline(t, (strcmp(name, "p") == 0 || name[0] == 'h' || strcmp(name, "table") == 0 ||
			      strcmp(name, "blockquote") == 0) ? 2 : 1);
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
				t_put(&t, u, put_utf8(u, cp));
				i += k;
			}
		} else if (is_space(c)) {
			if (t.pend_nl == 0)
				t.pend_sp = true;
			i++;
		} else if (c == 0) {
			i++;
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
	if (starts(s, n, "\xe5\x9c\xa8") && (ends(s, n, "\xe5\x86\x99\xe9\x81\x93\xef\xbc\x9a") ||
					     ends(s, n, "\xe5\x86\x99\xe9\x81\x93:")))
		return true; /* 在 ... 写道：/ 写道: */
	if (starts(s, n, "Le ") && (ends(s, n, "a \xc3\xa9" "crit :") || ends(s, n, "a \xc3\xa9" "crit:")))
		return true;
	if (starts(s, n, "Am ") && ends(s, n, ":") && memmem(s, n, "schrieb", 7))
		return true;
	if (starts(s, n, "El ") && (ends(s, n, "escribi\xc3\xb3:")))
		return true;
	return false;
}

/* Where the quoted original starts in replies from Outlook and Chinese webmail. */
static bool is_original_marker(const char *s, size_t n)
{
	return memmem(s, n, "-----Original Message-----", 26) != NULL ||
	       memmem(s, n, "\xe5\x8e\x9f\xe5\xa7\x8b\xe9\x82\xae\xe4\xbb\xb6", 12) != NULL; /* 原始邮件 */
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
			if (sp && o > 0 && o < cap)
				out[o++] = ' ';
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
	out[o] = '\0';
	return out;
}
