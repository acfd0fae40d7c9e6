/* mime.c: mime_parse(): the limits pre-scan, the GMime 3 parse from memory, the flat part tree
 * (IMAP section numbers, raw byte offsets), header fields and addresses, and
 * mime_part_content(). Charset work and header decoding are in mime_charset.c (which says why
 * headers are decoded there and not by GMime); HTML-to-text, snippets and the choice of body and
 * attachments in mime_html.c.
 *
 * GMime parses the caller's bytes in place (a GMimeStreamMem over a GByteArray that does not own
 * them, persist_stream on), so each leaf's content stream is a substream of the source whose
 * bounds are the leaf's body offsets. GMime keeps no offsets for multiparts and message/rfc822
 * parts; those come from a second look at the raw bytes guided by the parsed tree, with the
 * boundary rules GMime uses (a line is "--b" or "--b--" plus only white space, innermost
 * boundary first, the CRLF before a boundary belongs to the boundary).
 *
 * Limits are checked before GMime sees the bytes (size, line length, the top-level header
 * block, an upper bound on parts and on GMime's boundary-matching work, see prescan() and
 * check_bounds()), then on the tree (parts, depth, each part's header block). GMime itself stops
 * recursing at 1024 levels with small frames (measured: 1024 levels parse on a 128 KiB stack),
 * and our walk stops at max_depth, so parsing cannot exhaust the stack. */
#include "mime.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/utf8.h"
#include "lib/util.h"

/* GMime's MAX_LEVEL; the cost of its boundary check grows with the stack of open boundaries */
#define GMIME_MAX_LEVEL 1024
/* boundary comparisons GMime may make (open multiparts x lines starting with "--") */
#define MAX_BOUNDARY_WORK (1u << 27)

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static GMimeParserOptions *parser_opts;

static void init_once_fn(void)
{
	static const char *fallback[] = {"UTF-8", "GB18030", "WINDOWS-1252", NULL};

	g_mime_init();
	parser_opts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(parser_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(parser_opts,
	                                                    GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(parser_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_allow_addresses_without_domain(parser_opts, FALSE);
	g_mime_parser_options_set_fallback_charsets(parser_opts, fallback);
}

void mime_init(void)
{
	pthread_once(&init_once, init_once_fn);
}

void mime_limits_default(struct mime_limits *l)
{
	l->max_bytes = 64u << 20;
	l->max_header_bytes = 1u << 20;
	l->max_line = 1u << 20;
	l->max_parts = 10000;
	l->max_depth = 64;
	l->max_text = 4u << 20;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static char *lower_dup(struct arena *a, const char *s)
{
	char *r = arena_strdup(a, s);
	for (char *p = r; *p; p++)
		*p = (char)lower((unsigned char)*p);
	return r;
}

/* A copy that is valid UTF-8 (GMime passes some bytes through unchecked). */
static const char *utf8_dup(struct arena *a, const char *s)
{
	size_t n = strlen(s);
	return utf8_valid(s, n) ? arena_strndup(a, s, n) : mime_to_utf8("utf-8", s, n, a, NULL);
}

/* ---- lines ---- */

struct line {
	size_t start, end, next; /* [start, end) without the "\n" and one "\r" before it */
};

static bool line_at(const char *raw, size_t len, size_t pos, struct line *l)
{
	const char *nl;
	size_t e;

	if (pos >= len)
		return false;
	nl = memchr(raw + pos, '\n', len - pos);
	e = nl ? (size_t)(nl - raw) : len;
	l->start = pos;
	l->next = nl ? e + 1 : len;
	if (e > pos && raw[e - 1] == '\r')
		e--;
	l->end = e;
	return true;
}

/* ---- the pre-scan ---- */

struct prescan {
	size_t nmulti;  /* "Content-Type:" lines that may declare a multipart */
	size_t nmsg;    /* ... a message/rfc822 (or any: the type is on the next line, quoted) */
	bool digest;    /* one may declare multipart/digest (its parts default to messages) */
	size_t ndash;   /* lines starting "--" */
	bool eight_bit; /* 8-bit bytes in the top-level header */
};

static bool ascii_prefix_ci(const char *s, size_t n, const char *lit)
{
	size_t k = strlen(lit);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower((unsigned char)s[i]) != lit[i])
			return false;
	return true;
}

static bool contains_ci(const char *s, size_t n, const char *lit)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) == lit[0] && ascii_prefix_ci(s + i, n - i, lit))
			return true;
	return false;
}

static void count_content_type(const char *p, size_t l, struct prescan *ps)
{
	size_t i = 12;
	bool unknown;

	while (i < l && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= l || p[i] != ':')
		return;
	i++;
	while (i < l && (p[i] == ' ' || p[i] == '\t'))
		i++;
	unknown = i == l || p[i] == '"' || p[i] == '(';
	if (unknown || ascii_prefix_ci(p + i, l - i, "multipart"))
		ps->nmulti++;
	if (unknown || ascii_prefix_ci(p + i, l - i, "message"))
		ps->nmsg++;
	if (unknown || contains_ci(p + i, l - i, "digest"))
		ps->digest = true;
}

/* One pass over the lines: line length, the top-level header block, and counts bounding the
 * parts GMime will build. */
static int prescan(const char *raw, size_t len, const struct mime_limits *lim, struct prescan *ps,
                   struct err *err)
{
	struct line l;
	size_t pos = 0, lineno = 0;
	bool in_header = true;

	memset(ps, 0, sizeof(*ps));
	while (line_at(raw, len, pos, &l)) {
		const char *p = raw + l.start;
		size_t n = l.end - l.start;
		lineno++;
		if (n > lim->max_line)
			return err_set(err, ERR_LIMIT,
			               "line %zu is %zu bytes, more than %zu (mime.max_line)",
			               lineno, n, lim->max_line);
		if (in_header) {
			if (n == 0)
				in_header = false;
			else if (l.next > lim->max_header_bytes)
				return err_set(err, ERR_LIMIT,
				               "message header is more than %zu bytes "
				               "(mime.max_header_bytes)",
				               lim->max_header_bytes);
			for (size_t i = 0; i < n && in_header && !ps->eight_bit; i++)
				ps->eight_bit = (unsigned char)p[i] >= 0x80;
		}
		if (n >= 2 && p[0] == '-' && p[1] == '-')
			ps->ndash++;
		else if (n >= 13 && (p[0] | 0x20) == 'c' && ascii_prefix_ci(p, n, "content-type"))
			count_content_type(p, n, ps);
		pos = l.next;
	}
	return 0;
}

static int cmp_desc(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* An upper bound on the lines that open a part when at most k distinct strings are boundaries:
 * "--" lines (trailing white space dropped) are counted into hash buckets, and the k fullest
 * buckets bound the count, since the open lines of one boundary all fall in one bucket and
 * merging buckets only adds. (A close line "--b--" can only open a part for a boundary "b--".) */
static size_t boundary_lines_bound(const char *raw, size_t len, size_t k)
{
	enum { NB = 4096 };
	unsigned *bucket;
	struct line l;
	size_t pos = 0, sum = 0;

	if (k == 0)
		return 0;
	bucket = xcalloc(NB, sizeof(*bucket));
	while (line_at(raw, len, pos, &l)) {
		const char *p = raw + l.start;
		size_t n = l.end - l.start;
		pos = l.next;
		if (n < 2 || p[0] != '-' || p[1] != '-')
			continue;
		while (n > 2 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
			n--;
		uint64_t h = 1469598103934665603ull;
		for (size_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
		bucket[h % NB]++;
	}
	qsort(bucket, NB, sizeof(*bucket), cmp_desc);
	for (size_t i = 0; i < NB && i < k; i++)
		sum += bucket[i];
	free(bucket);
	return sum;
}

/* Every part GMime builds is the root, a part after a boundary line, or the message inside a
 * message/rfc822 part (declared on a Content-Type line, or a multipart/digest part after a
 * boundary line): parts <= 1 + B + M + (digest ? B : 0) for B boundary lines and M message
 * declarations. B is first bounded by all "--" lines, then, when that is not enough, by the
 * hashed count. */
static int check_bounds(const char *raw, size_t len, const struct mime_limits *lim,
                        const struct prescan *ps, struct err *err)
{
	size_t open = ps->nmulti < GMIME_MAX_LEVEL ? ps->nmulti : GMIME_MAX_LEVEL;
	size_t b = ps->nmulti > 0 ? ps->ndash : 0, mul = ps->digest ? 2 : 1;

	if (open > 0 && ps->ndash > MAX_BOUNDARY_WORK / open)
		return err_set(err, ERR_LIMIT,
		               "message has %zu multipart headers and %zu boundary-like lines, too "
		               "deep to parse (mime.max_depth)",
		               ps->nmulti, ps->ndash);
	if (ps->nmsg > lim->max_parts)
		return err_set(err, ERR_LIMIT, "message has more than %zu parts (mime.max_parts)",
		               lim->max_parts);
	if (1 + ps->nmsg + mul * b > lim->max_parts) {
		b = boundary_lines_bound(raw, len, ps->nmulti);
		if (1 + ps->nmsg + mul * b > lim->max_parts)
			return err_set(err, ERR_LIMIT,
			               "message has more than %zu parts (mime.max_parts)",
			               lim->max_parts);
	}
	return 0;
}

/* ---- the tree walk ---- */

struct node {
	const char *dec; /* transfer-decoded bytes (text leaves, multiparts without parts) */
	size_t dec_len;
};

struct walk {
	const char *raw;
	size_t len;
	const struct mime_limits *lim;
	struct arena *a;
	struct err *err;
	struct mime_part *parts;
	struct node *nodes;
	size_t n, cap;
	const char **bnd; /* open boundaries, outermost first */
	size_t *bnd_len;
	size_t nbnd, bnd_cap;
	GMimeMessage *top; /* the message parsed */
	bool top_8bit;     /* the pre-scan saw 8-bit bytes in its header */
	bool failed;
};

static bool rest_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* The boundary (index into w->bnd, only the outer `levels` ones) the line is, innermost first
 * as GMime checks them, or -1. */
static int classify_in(const struct walk *w, const struct line *l, size_t levels, bool *close_r)
{
	const char *p = w->raw + l->start;
	size_t n = l->end - l->start;

	if (n < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	for (size_t k = levels; k-- > 0;) {
		size_t bl = w->bnd_len[k], i = 2 + bl;
		if (n < i || memcmp(p + 2, w->bnd[k], bl) != 0)
			continue;
		if (n >= i + 2 && p[i] == '-' && p[i + 1] == '-' &&
		    rest_blank(p + i + 2, n - i - 2)) {
			*close_r = true;
			return (int)k;
		}
		if (rest_blank(p + i, n - i)) {
			*close_r = false;
			return (int)k;
		}
	}
	return -1;
}

static int classify(const struct walk *w, const struct line *l, bool *close_r)
{
	return classify_in(w, l, w->nbnd, close_r);
}

/* The line break before a boundary line belongs to the boundary (RFC 2046 section 5.1.1). */
static size_t cut_eol(const struct walk *w, size_t e, size_t floor)
{
	if (e > floor && w->raw[e - 1] == '\n') {
		e--;
		if (e > floor && w->raw[e - 1] == '\r')
			e--;
	}
	return e;
}

/* Offset after the blank line ending the header block at pos (or where a boundary cuts it). */
static size_t header_end(const struct walk *w, size_t pos)
{
	struct line l;
	bool cl;

	while (line_at(w->raw, w->len, pos, &l)) {
		if (l.end == l.start)
			return l.next;
		if (classify(w, &l, &cl) >= 0)
			return l.start;
		pos = l.next;
	}
	return w->len;
}

/* End of content that runs from pos until a boundary of the outer `levels` multiparts, or the
 * end of the message; floor is how far back the line break before the boundary may be cut. */
static size_t scan_to_boundary(const struct walk *w, size_t pos, size_t floor, size_t levels)
{
	struct line l;
	bool cl;

	while (line_at(w->raw, w->len, pos, &l)) {
		if (classify_in(w, &l, levels, &cl) >= 0)
			return cut_eol(w, l.start, floor);
		pos = l.next;
	}
	return w->len;
}

/* After a multipart's last child: its close delimiter, then the epilogue until an enclosing
 * boundary. A missing close delimiter ends the multipart at the enclosing boundary or EOF. */
static size_t multipart_end(const struct walk *w, size_t pos)
{
	size_t top = w->nbnd - 1;
	struct line l;
	bool cl;

	while (line_at(w->raw, w->len, pos, &l)) {
		int k = classify(w, &l, &cl);
		if (k >= 0 && (size_t)k == top && cl) /* the epilogue; the line break after "--b--"
		                                          belongs to the next boundary */
			return scan_to_boundary(w, l.next, l.end, top);
		if (k >= 0 && (size_t)k < top)
			return cut_eol(w, l.start, pos);
		pos = l.next;
	}
	return w->len;
}

/* Offset after the next line opening a part of the innermost multipart, or (size_t)-1. */
static size_t find_open(const struct walk *w, size_t pos)
{
	struct line l;
	bool cl;

	while (line_at(w->raw, w->len, pos, &l)) {
		int k = classify(w, &l, &cl);
		if (k >= 0)
			return (size_t)k == w->nbnd - 1 && !cl ? l.next : (size_t)-1;
		pos = l.next;
	}
	return (size_t)-1;
}

static void push_boundary(struct walk *w, const char *b)
{
	if (w->nbnd == w->bnd_cap) {
		w->bnd_cap = w->bnd_cap * 2 + 8;
		w->bnd = xrealloc(w->bnd, w->bnd_cap * sizeof(*w->bnd));
		w->bnd_len = xrealloc(w->bnd_len, w->bnd_cap * sizeof(*w->bnd_len));
	}
	w->bnd[w->nbnd] = b;
	w->bnd_len[w->nbnd] = strlen(b);
	w->nbnd++;
}

static size_t fail(struct walk *w, int ret)
{
	(void)ret; /* err_set's -1: the error is in w->err */
	w->failed = true;
	return 0;
}

static int add_part(struct walk *w, int parent, int depth, const char *section)
{
	int idx;

	if (w->n == w->cap) {
		w->cap = w->cap * 2 + 16;
		w->parts = xrealloc(w->parts, w->cap * sizeof(*w->parts));
		w->nodes = xrealloc(w->nodes, w->cap * sizeof(*w->nodes));
	}
	idx = (int)w->n++;
	memset(&w->parts[idx], 0, sizeof(w->parts[idx]));
	memset(&w->nodes[idx], 0, sizeof(w->nodes[idx]));
	w->parts[idx].section = section;
	w->parts[idx].parent = parent;
	w->parts[idx].depth = depth;
	return idx;
}

/* ---- header fields of one part ---- */

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* How raw 8-bit bytes in this header block are read: NULL when there are none; else the
 * guess that fits every value (UTF-8, GB18030, Big5, then WINDOWS-1252). */
static const char *headers_charset(GMimeHeaderList *h1, GMimeHeaderList *h2)
{
	static const char *const order[] = {"UTF-8", "GB18030", "BIG5-HKSCS", "WINDOWS-1252"};
	GMimeHeaderList *lists[2] = {h1, h2};
	int rank = -1;

	for (int li = 0; li < 2; li++) {
		int count = lists[li] ? g_mime_header_list_get_count(lists[li]) : 0;
		for (int i = 0; i < count; i++) {
			const char *v = g_mime_header_get_raw_value(
			    g_mime_header_list_get_header_at(lists[li], i));
			if (v == NULL || !has_8bit(v))
				continue;
			const char *g = mime_charset_guess(v, strlen(v));
			for (int r = 0; r < (int)ARRAY_LEN(order); r++)
				if (strcmp(order[r], g) == 0 && r > rank)
					rank = r;
		}
	}
	return rank < 0 ? NULL : order[rank];
}

static const char *hdr_raw(GMimeHeaderList *hl, const char *name, bool last)
{
	const char *found = NULL;
	int count = hl ? g_mime_header_list_get_count(hl) : 0;

	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0) {
			found = g_mime_header_get_raw_value(h);
			if (!last)
				break;
		}
	}
	return found;
}

static const char *decoded_or_null(struct walk *w, const char *raw, const char *cs8)
{
	size_t n;
	const char *r;

	if (raw == NULL)
		return NULL;
	r = mime_header_decode(raw, strlen(raw), cs8, w->a, &n);
	return n > 0 ? r : NULL;
}

/* A Content-Type/Disposition parameter, decoded with our charset policy when the raw value has
 * encoded words, RFC 2231 values or 8-bit bytes; GMime's own parse otherwise. */
static const char *param(struct walk *w, GMimeObject *obj, const char *raw, bool disposition,
                         const char *name, const char *cs8)
{
	const char *v = NULL, *r;
	GObject *tmp = NULL;

	if (raw == NULL)
		return NULL;
	if (has_8bit(raw) || strstr(raw, "=?") || strstr(raw, "*=")) {
		const char *prep = mime_header_prepare(raw, strlen(raw), cs8, w->a);
		if (disposition) {
			GMimeContentDisposition *cd =
			    g_mime_content_disposition_parse(parser_opts, prep);
			tmp = (GObject *)cd;
			v = cd ? g_mime_content_disposition_get_parameter(cd, name) : NULL;
		} else {
			GMimeContentType *ct = g_mime_content_type_parse(parser_opts, prep);
			tmp = (GObject *)ct;
			v = ct ? g_mime_content_type_get_parameter(ct, name) : NULL;
		}
	} else if (disposition) {
		v = g_mime_object_get_content_disposition_parameter(obj, name);
	} else {
		v = g_mime_object_get_content_type_parameter(obj, name);
	}
	r = v ? mime_header_decode(v, strlen(v), "UTF-8", w->a, NULL) : NULL;
	if (tmp)
		g_object_unref(tmp);
	return r && *r ? r : NULL;
}

static const char *encoding_label(struct walk *w, const char *raw)
{
	const char *s;
	char *r;
	size_t n;

	if (raw == NULL)
		return NULL;
	s = mime_header_decode(raw, strlen(raw), NULL, w->a, &n);
	r = lower_dup(w->a, s);
	for (char *p = r; *p; p++)
		if (*p == ';' || *p == '(')
			*p = '\0';
	n = strlen(r);
	while (n > 0 && (r[n - 1] == ' ' || r[n - 1] == '\t'))
		r[--n] = '\0';
	return n > 0 ? r : NULL;
}

static void part_headers(struct walk *w, int idx, GMimeObject *obj, GMimeMessage *owner)
{
	struct mime_part *p = &w->parts[idx];
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(obj);
	const char *cs8 =
	    headers_charset(hl, owner && (owner != w->top || w->top_8bit)
	                            ? g_mime_object_get_header_list((GMimeObject *)owner)
	                            : NULL);
	const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *st = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	const char *v;

	p->type = lower_dup(w->a, t && *t ? t : "text");
	p->subtype = lower_dup(w->a, st && *st ? st : "plain");
	/* GMime builds the tree from its own quick parse of Content-Type and the object's type from
	 * a full one; when they disagree on odd input, the tree wins (as for an unreadable
	 * Content-Type, RFC 2045 section 5.2: a leaf is text/plain) */
	if (GMIME_IS_MULTIPART(obj) != (strcmp(p->type, "multipart") == 0)) {
		p->type = GMIME_IS_MULTIPART(obj) ? "multipart" : "text";
		p->subtype = GMIME_IS_MULTIPART(obj) ? "mixed" : "plain";
	}
	if (GMIME_IS_MESSAGE_PART(obj) && strcmp(p->type, "message") != 0) {
		p->type = "message";
		p->subtype = "rfc822";
	}
	if ((v = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL) != NULL) {
		const char *c = mime_header_decode(v, strlen(v), "UTF-8", w->a, NULL);
		p->charset = *c ? lower_dup(w->a, c) : NULL;
	}
	if (GMIME_IS_MULTIPART(obj) && (v = g_mime_multipart_get_boundary((GMimeMultipart *)obj)))
		p->boundary = utf8_dup(w->a, v);
	p->encoding = encoding_label(w, hdr_raw(hl, "Content-Transfer-Encoding", false));
	if (cd && (v = g_mime_content_disposition_get_disposition(cd)) && *v)
		p->disposition = g_ascii_strcasecmp(v, "inline") == 0 ? "inline" : "attachment";
	p->filename =
	    param(w, obj, hdr_raw(hl, "Content-Disposition", false), true, "filename", cs8);
	if (p->filename == NULL)
		p->filename = param(w, obj, hdr_raw(hl, "Content-Type", true), false, "name", cs8);
	if ((v = g_mime_object_get_content_id(obj)) && *v)
		p->content_id = utf8_dup(w->a, v);
	p->description = decoded_or_null(w, hdr_raw(hl, "Content-Description", false), cs8);
	p->language = decoded_or_null(w, hdr_raw(hl, "Content-Language", false), cs8);
	p->md5 = decoded_or_null(w, hdr_raw(hl, "Content-MD5", false), cs8);
}

/* ---- transfer decoding ---- */

static GMimeContentEncoding encoding_of(const char *label)
{
	char b[24];
	size_t n = 0;

	if (label == NULL)
		return GMIME_CONTENT_ENCODING_DEFAULT;
	for (; *label && n + 1 < sizeof(b); label++)
		if (*label != ' ' && *label != '\t')
			b[n++] = (char)lower((unsigned char)*label);
	b[n] = '\0';
	if (strcmp(b, "base64") == 0)
		return GMIME_CONTENT_ENCODING_BASE64;
	if (strcmp(b, "quoted-printable") == 0 || strcmp(b, "quotedprintable") == 0)
		return GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	if (strcmp(b, "x-uuencode") == 0 || strcmp(b, "uuencode") == 0 || strcmp(b, "x-uue") == 0 ||
	    strcmp(b, "uue") == 0)
		return GMIME_CONTENT_ENCODING_UUENCODE;
	return GMIME_CONTENT_ENCODING_DEFAULT;
}

/* uuencode data starts after its "begin mode name" line (when there is one). */
static void decode_init(GMimeEncoding *st, GMimeContentEncoding enc, const char **in, size_t *n)
{
	g_mime_encoding_init_decode(st, enc);
	if (enc != GMIME_CONTENT_ENCODING_UUENCODE)
		return;
	for (size_t pos = 0; pos < *n;) {
		const char *nl = memchr(*in + pos, '\n', *n - pos);
		size_t next = nl ? (size_t)(nl - *in) + 1 : *n;
		if (*n - pos >= 6 && memcmp(*in + pos, "begin ", 6) == 0) {
			*in += next;
			*n -= next;
			break;
		}
		pos = next;
	}
	st->state |= GMIME_UUDECODE_STATE_BEGIN;
}

static const char *tdecode(const char *in, size_t n, const char *label, struct arena *a,
                           size_t *len_r)
{
	GMimeContentEncoding enc = encoding_of(label);
	GMimeEncoding st;
	char *out;

	if (enc == GMIME_CONTENT_ENCODING_DEFAULT) {
		*len_r = n;
		return arena_strndup(a, in, n);
	}
	decode_init(&st, enc, &in, &n);
	out = arena_alloc_raw(a, g_mime_encoding_outlen(&st, n) + 8);
	*len_r = g_mime_encoding_flush(&st, in, n, out);
	out[*len_r] = '\0';
	return out;
}

static size_t tdecoded_size(const char *in, size_t n, const char *label)
{
	enum { CHUNK = 8192 };
	GMimeContentEncoding enc = encoding_of(label);
	GMimeEncoding st;
	char buf[CHUNK * 3 / 2 + 64];
	size_t total = 0;

	if (enc == GMIME_CONTENT_ENCODING_DEFAULT)
		return n;
	decode_init(&st, enc, &in, &n);
	for (size_t i = 0;; i += CHUNK) {
		size_t c = n - i < CHUNK ? n - i : CHUNK;
		if (i + c >= n) {
			total += g_mime_encoding_flush(&st, in + i, c, buf);
			break;
		}
		total += g_mime_encoding_step(&st, in + i, c, buf);
	}
	return total;
}

static size_t count_lines(const char *s, size_t n)
{
	size_t lines = 0;
	for (const char *p = s, *e = s + n; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		if (nl == NULL) {
			lines++;
			break;
		}
		lines++;
		p = nl + 1;
	}
	return lines;
}

static void leaf_content(struct walk *w, int idx, GMimeObject *obj, size_t hoff)
{
	struct mime_part *p = &w->parts[idx];
	struct node *nd = &w->nodes[idx];
	GMimeDataWrapper *dw =
	    GMIME_IS_PART(obj) ? g_mime_part_get_content((GMimePart *)obj) : NULL;
	GMimeStream *s = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;

	if (s != NULL && s->bound_start >= (gint64)hoff && s->bound_start <= (gint64)w->len) {
		p->body_off = (size_t)s->bound_start;
		p->end_off = s->bound_end < 0 || s->bound_end > (gint64)w->len
		                 ? w->len
		                 : (size_t)s->bound_end;
		if (p->end_off < p->body_off)
			p->end_off = p->body_off;
		/* GMime leaves the CR of a CRLF before a boundary line that ends the input */
		if (p->end_off > p->body_off && p->end_off < w->len && w->raw[p->end_off] == '\n' &&
		    w->raw[p->end_off - 1] == '\r')
			p->end_off--;
	} else {
		p->body_off = p->end_off = header_end(w, hoff);
	}
	p->lines = count_lines(w->raw + p->body_off, p->end_off - p->body_off);
	if (strcmp(p->type, "text") == 0) {
		nd->dec = tdecode(w->raw + p->body_off, p->end_off - p->body_off, p->encoding, w->a,
		                  &nd->dec_len);
		p->decoded_size = nd->dec_len;
	} else {
		p->decoded_size =
		    tdecoded_size(w->raw + p->body_off, p->end_off - p->body_off, p->encoding);
	}
}

static char *child_section(struct walk *w, const char *parent, int n)
{
	return *parent ? arena_printf(w->a, "%s.%d", parent, n) : arena_printf(w->a, "%d", n);
}

/* One GMime object and what is below it; returns its end offset. hoff is where its header block
 * starts; owner is the GMimeMessage whose root obj is (its non-Content headers). */
static size_t walk_obj(struct walk *w, GMimeObject *obj, GMimeMessage *owner, int parent, int depth,
                       size_t hoff, const char *section)
{
	struct mime_part *p;
	size_t end;
	int idx;

	if ((size_t)depth > w->lim->max_depth)
		return fail(w, err_set(w->err, ERR_LIMIT,
		                       "message nests deeper than %zu levels (mime.max_depth)",
		                       w->lim->max_depth));
	if (w->n >= w->lim->max_parts)
		return fail(w, err_set(w->err, ERR_LIMIT,
		                       "message has more than %zu parts (mime.max_parts)",
		                       w->lim->max_parts));
	idx = add_part(w, parent, depth, section);
	part_headers(w, idx, obj, owner);
	p = &w->parts[idx];
	p->header_off = hoff;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = (GMimeMultipart *)obj;
		const char *b = g_mime_multipart_get_boundary(mp);
		size_t pos = p->body_off = header_end(w, hoff);
		int count = g_mime_multipart_get_count(mp);
		if (b == NULL) {
			end = scan_to_boundary(w, pos, pos, w->nbnd);
		} else {
			push_boundary(w, b);
			for (int i = 0; i < count && !w->failed; i++) {
				size_t ch = find_open(w, pos);
				pos = walk_obj(w, g_mime_multipart_get_part(mp, i), NULL, idx,
				               depth + 1, ch == (size_t)-1 ? pos : ch,
				               child_section(w, section, i + 1));
			}
			end = w->failed ? pos : multipart_end(w, pos);
			w->nbnd--;
		}
		if (count == 0) { /* no boundary or none found: keep what is there as text */
			w->nodes[idx].dec = w->raw + w->parts[idx].body_off;
			w->nodes[idx].dec_len =
			    end > w->parts[idx].body_off ? end - w->parts[idx].body_off : 0;
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message((GMimeMessagePart *)obj);
		GMimeObject *root = m ? g_mime_message_get_mime_part(m) : NULL;
		p->body_off = header_end(w, hoff);
		if (root != NULL) {
			const char *prefix = *section ? section : "1";
			end = walk_obj(
			    w, root, m, idx, depth + 1, p->body_off,
			    GMIME_IS_MULTIPART(root) ? prefix : arena_printf(w->a, "%s.1", prefix));
		} else {
			end = scan_to_boundary(w, p->body_off, p->body_off, w->nbnd);
		}
	} else {
		leaf_content(w, idx, obj, hoff);
		end = w->parts[idx].end_off;
	}
	if (w->failed)
		return end;
	p = &w->parts[idx]; /* add_part may have moved the array */
	if (!GMIME_IS_PART(obj)) {
		p->end_off = end < p->body_off ? p->body_off : end;
		if (GMIME_IS_MESSAGE_PART(obj)) {
			p->lines = count_lines(w->raw + p->body_off, p->end_off - p->body_off);
			p->decoded_size = p->end_off - p->body_off;
		}
	}
	if (p->body_off - p->header_off > w->lim->max_header_bytes)
		return fail(w,
		            err_set(w->err, ERR_LIMIT,
		                    "part %s header is more than %zu bytes (mime.max_header_bytes)",
		                    *section ? section : "(root)", w->lim->max_header_bytes));
	return p->end_off;
}

/* ---- message header fields ---- */

struct avec {
	struct mime_addr *v;
	size_t n, cap;
};

static void avec_add(struct avec *v, const char *name, const char *addr, const char *group)
{
	if (v->n == v->cap) {
		v->cap = v->cap * 2 + 4;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n].name = name;
	v->v[v->n].address = addr;
	v->v[v->n].group = group;
	v->n++;
}

/* A lone word GMime took for a local part ("From: Whomever") is a name, as in RFC 5322 it
 * cannot be an addr-spec. */
static void add_mailbox(struct walk *w, struct avec *v, InternetAddress *ia, const char *group)
{
	const char *name = internet_address_get_name(ia);
	const char *addr = internet_address_mailbox_get_addr((InternetAddressMailbox *)ia);

	if (addr && !strchr(addr, '@') && (!name || !*name)) {
		name = addr;
		addr = "";
	}
	avec_add(v, name ? utf8_dup(w->a, name) : "", addr ? utf8_dup(w->a, addr) : "", group);
}

/* RFC 5322 section 3.4 address-list; a value GMime finds no address in is kept as a name. */
static void addr_append(struct walk *w, struct avec *v, const char *raw, const char *cs8)
{
	const char *prep = mime_header_prepare(raw, strlen(raw), cs8, w->a);
	InternetAddressList *l = internet_address_list_parse(parser_opts, prep);
	int count = l ? internet_address_list_length(l) : 0;

	for (int i = 0; i < count; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			InternetAddressList *m =
			    internet_address_group_get_members((InternetAddressGroup *)ia);
			const char *gname = internet_address_get_name(ia);
			const char *g = utf8_dup(w->a, gname ? gname : "");
			for (int k = 0; m && k < internet_address_list_length(m); k++) {
				InternetAddress *x = internet_address_list_get_address(m, k);
				if (INTERNET_ADDRESS_IS_MAILBOX(x))
					add_mailbox(w, v, x, g);
			}
		} else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			add_mailbox(w, v, ia, NULL);
		}
	}
	if (l)
		g_object_unref(l);
	if (count == 0) { /* "Name a@b" and other broken forms: the last word with an '@' */
		size_t n, s = 0, e;
		const char *t = mime_header_decode(raw, strlen(raw), cs8, w->a, &n);
		bool found = false;
		for (e = n; e > 0 && !found; e = found ? e : s) {
			while (e > 0 && t[e - 1] == ' ')
				e--;
			for (s = e; s > 0 && t[s - 1] != ' '; s--)
				;
			found = s < e && memchr(t + s, '@', e - s) != NULL;
		}
		if (found) {
			size_t ns = s;
			while (ns > 0 && t[ns - 1] == ' ')
				ns--;
			if (e - s >= 2 && t[s] == '<' && t[e - 1] == '>')
				s++, e--;
			avec_add(v, arena_strndup(w->a, t, ns), arena_strndup(w->a, t + s, e - s),
			         NULL);
		} else if (n > 0) {
			avec_add(v, t, "", NULL);
		}
	}
}

static struct mime_addr_list avec_take(struct walk *w, struct avec *v)
{
	struct mime_addr_list l = {NULL, v->n};
	if (v->n > 0) {
		l.v = arena_alloc(w->a, v->n * sizeof(*l.v));
		memcpy(l.v, v->v, v->n * sizeof(*l.v));
	}
	free(v->v);
	return l;
}

static const char *msgid(struct walk *w, const char *raw)
{
	char *id = g_mime_utils_decode_message_id(raw);
	const char *r = id && *id ? utf8_dup(w->a, id) : NULL;
	g_free(id);
	return r;
}

static void message_fields(struct walk *w, GMimeMessage *m, struct mime_msg *msg)
{
	static const char *const names[] = {"from", "sender", "reply-to", "to", "cc", "bcc"};
	struct mime_addr_list *lists[] = {&msg->from, &msg->sender, &msg->reply_to,
	                                  &msg->to,   &msg->cc,     &msg->bcc};
	struct avec av[6] = {{0}};
	GMimeHeaderList *hl = g_mime_object_get_header_list((GMimeObject *)m);
	const char *cs8 = w->top_8bit ? headers_charset(hl, NULL) : NULL;
	int count = g_mime_header_list_get_count(hl);
	bool have_date = false;

	for (int i = 0; i < count; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *name = g_mime_header_get_name(h), *raw = g_mime_header_get_raw_value(h);
		if (name == NULL || raw == NULL)
			continue;
		for (size_t k = 0; k < ARRAY_LEN(names); k++)
			if (g_ascii_strcasecmp(name, names[k]) == 0)
				addr_append(w, &av[k], raw, cs8);
		if (g_ascii_strcasecmp(name, "subject") == 0 && *msg->subject == '\0') {
			msg->subject = mime_header_decode(raw, strlen(raw), cs8, w->a, NULL);
		} else if (g_ascii_strcasecmp(name, "message-id") == 0 && !msg->message_id) {
			msg->message_id = msgid(w, raw);
		} else if (g_ascii_strcasecmp(name, "in-reply-to") == 0 && !msg->in_reply_to) {
			msg->in_reply_to = msgid(w, raw);
		} else if (g_ascii_strcasecmp(name, "references") == 0 && msg->nreferences == 0) {
			GMimeReferences *refs = g_mime_references_parse(parser_opts, raw);
			int nr = refs ? g_mime_references_length(refs) : 0;
			msg->references =
			    nr > 0 ? arena_alloc(w->a, (size_t)nr * sizeof(char *)) : NULL;
			for (int k = 0; k < nr; k++)
				msg->references[msg->nreferences++] =
				    utf8_dup(w->a, g_mime_references_get_message_id(refs, k));
			if (refs)
				g_mime_references_free(refs);
		} else if (g_ascii_strcasecmp(name, "date") == 0 && !have_date) {
			GDateTime *dt = g_mime_utils_header_decode_date(raw);
			have_date = true;
			if (dt != NULL) {
				msg->date = g_date_time_to_unix(dt);
				msg->tz_offset =
				    (int)(g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE);
				g_date_time_unref(dt);
			}
		}
	}
	for (size_t k = 0; k < ARRAY_LEN(names); k++)
		*lists[k] = avec_take(w, &av[k]);
}

/* ---- mime_parse ---- */

/* White-space-only lines before the header, and the indentation of a first header line, make
 * GMime give up; start it after them (the header block still starts at 0). */
static size_t skip_junk(const char *raw, size_t len)
{
	struct line l;
	size_t pos = 0;

	while (line_at(raw, len, pos, &l) && l.end > l.start &&
	       rest_blank(raw + l.start, l.end - l.start))
		pos = l.next;
	while (pos < len && (raw[pos] == ' ' || raw[pos] == '\t'))
		pos++;
	return pos;
}

/* Input GMime cannot read as a message: a header-less text/plain message. */
static void headerless(struct walk *w)
{
	int idx = add_part(w, -1, 0, "");
	struct mime_part *p = &w->parts[idx];

	p->type = "text";
	p->subtype = "plain";
	p->header_off = p->body_off = 0;
	p->end_off = w->len;
	p->lines = count_lines(w->raw, w->len);
	w->nodes[idx].dec = w->raw;
	w->nodes[idx].dec_len = w->len;
	p->decoded_size = w->len;
}

int mime_parse(const char *raw, size_t len, const struct mime_limits *lim, struct arena *a,
               struct mime_msg **msg_r, struct err *err)
{
	struct walk w = {.raw = raw, .len = len, .lim = lim, .a = a, .err = err};
	struct prescan ps;
	struct mime_msg *msg;
	GByteArray *ba = NULL;
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *m = NULL;
	GMimeObject *root = NULL;
	int ret = -1;

	mime_init();
	if (raw == NULL || len == 0)
		return err_set(err, ERR_INVALID, "empty message");
	if (len > lim->max_bytes)
		return err_set(err, ERR_LIMIT,
		               "message is %zu bytes, more than %zu (mime.max_bytes)", len,
		               lim->max_bytes);
	if (len > G_MAXUINT)
		return err_set(err, ERR_LIMIT, "message is %zu bytes, too big for GMime", len);
	if (prescan(raw, len, lim, &ps, err) < 0 || check_bounds(raw, len, lim, &ps, err) < 0)
		return -1;

	/* the stream reads the caller's bytes; it must not own or free them */
	ba = g_byte_array_new_take((guint8 *)(uintptr_t)raw, len);
	stream = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner((GMimeStreamMem *)stream, FALSE);
	g_mime_stream_seek(stream, (gint64)skip_junk(raw, len), GMIME_STREAM_SEEK_SET);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_persist_stream(parser, TRUE);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, parser_opts);
	root = m ? g_mime_message_get_mime_part(m) : NULL;

	msg = arena_alloc(a, sizeof(*msg));
	msg->subject = "";
	msg->eight_bit_headers = ps.eight_bit;
	w.top = m;
	w.top_8bit = ps.eight_bit;
	if (root != NULL) {
		walk_obj(&w, root, m, -1, 0, 0, "");
		if (w.failed)
			goto out;
		message_fields(&w, m, msg);
	} else {
		headerless(&w);
	}
	msg->header_len = w.parts[0].body_off;
	msg->nparts = w.n;
	msg->parts = arena_alloc(a, w.n * sizeof(*msg->parts));
	memcpy(msg->parts, w.parts, w.n * sizeof(*msg->parts));
	{
		const char **dec = xcalloc(w.n, sizeof(*dec));
		size_t *dec_len = xcalloc(w.n, sizeof(*dec_len));
		for (size_t i = 0; i < w.n; i++) {
			dec[i] = w.nodes[i].dec;
			dec_len[i] = w.nodes[i].dec_len;
		}
		mime_bodies(msg, dec, dec_len, lim->max_text, a);
		free(dec);
		free(dec_len);
	}
	*msg_r = msg;
	ret = 0;
out:
	if (m)
		g_object_unref(m);
	if (parser)
		g_object_unref(parser);
	if (stream)
		g_object_unref(stream);
	if (ba)
		g_byte_array_free(ba, FALSE); /* the struct only: the bytes are the caller's */
	free(w.parts);
	free(w.nodes);
	free(w.bnd);
	free(w.bnd_len);
	return ret;
}

int mime_part_find(const struct mime_msg *msg, const char *section)
{
	if (msg == NULL || section == NULL || msg->nparts == 0)
		return -1;
	if (strcmp(section, "1") == 0 && strcmp(msg->parts[0].type, "multipart") != 0)
		return 0;
	for (size_t i = 0; i < msg->nparts; i++)
		if (strcmp(msg->parts[i].section, section) == 0)
			return (int)i;
	return -1;
}

int mime_part_content(const char *raw, size_t len, const struct mime_msg *msg, const char *section,
                      struct arena *a, const char **data_r, size_t *len_r, struct err *err)
{
	int i = mime_part_find(msg, section);
	const struct mime_part *p;

	if (i < 0)
		return err_set(err, ERR_NOTFOUND, "no section %s", section ? section : "(null)");
	p = &msg->parts[i];
	if (strcmp(p->type, "multipart") == 0)
		return err_set(err, ERR_NOTFOUND, "section %s is a multipart", section);
	if (p->end_off > len || p->body_off > p->end_off)
		return err_set(err, ERR_INVALID, "section %s is outside the message", section);
	mime_init();
	*data_r = tdecode(raw + p->body_off, p->end_off - p->body_off, p->encoding, a, len_r);
	return 0;
}
