/* query.c: the user's search syntax (search.h), split into the part only the text index can
 * answer and the filters mail.db answers. Pure C, no I/O, so the unit tests and
 * tests/fuzz/fuzz_query.c call it directly.
 *
 * Three passes over a copy in the caller's arena:
 *   1. normalise: full-width ASCII (U+FF01..U+FF5E, so "：" is ":") and the ideographic space
 *      become ASCII; the curly quotes a Chinese input method types (U+201C, U+201D) become '"';
 *      other control characters become spaces.
 *   2. tokenise: whitespace separates terms; a term is "a phrase", a word, or name:value where
 *      the value may be "quoted"; a term may start with + or -.
 *   3. classify: in: is: tag: has: before: after: fill the filters; from: to: cc: subject:
 *      note: file: (and their Chinese names) stay in the text for Xapian; an unknown name:value
 *      is searched as a phrase, so the rebuilt text never holds a ':' Xapian could misread.
 * The rebuilt text parses back to itself with no filters (the fuzz target checks this). */
#include <stdio.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/util.h"
#include "search.h"

#define QUERY_MAX_BYTES 1024
#define QUERY_MAX_TERMS 64
#define TZ_MAX_MINUTES (14 * 60)

const char *const search_colours[8] = {"",     "red",  "orange", "yellow",
				       "green", "blue", "purple", "grey"};

enum field {
	F_TEXT, /* not a field we know: searched as text */
	F_IN,
	F_IS,
	F_TAG,
	F_HAS,
	F_BEFORE,
	F_AFTER,
	F_FROM,
	F_TO,
	F_CC,
	F_SUBJECT,
	F_NOTE,
	F_FILE,
};

/* Field names as typed (ASCII names after lower-casing), and what Xapian gets for text ones. */
static const struct {
	const char *name;
	enum field f;
} field_names[] = {
	{"in", F_IN},         {"is", F_IS},           {"tag", F_TAG},       {"has", F_HAS},
	{"before", F_BEFORE}, {"after", F_AFTER},     {"from", F_FROM},     {"to", F_TO},
	{"cc", F_CC},         {"subject", F_SUBJECT}, {"note", F_NOTE},     {"file", F_FILE},
	{"文件夹", F_IN},     {"标签", F_TAG},        {"发件人", F_FROM},   {"收件人", F_TO},
	{"抄送", F_CC},       {"主题", F_SUBJECT},    {"备注", F_NOTE},     {"附件", F_FILE},
};

static const char *const xapian_field[] = {
	[F_FROM] = "from", [F_TO] = "to",     [F_CC] = "cc",
	[F_SUBJECT] = "subject", [F_NOTE] = "note", [F_FILE] = "file",
};

static const struct {
	const char *name;
	unsigned bit;
} is_names[] = {
	{"unread", SEARCH_IS_UNREAD},   {"read", SEARCH_IS_READ},
	{"pinned", SEARCH_IS_PINNED},   {"flagged", SEARCH_IS_FLAGGED},
	{"starred", SEARCH_IS_FLAGGED}, {"unflagged", SEARCH_IS_UNFLAGGED},
	{"未读", SEARCH_IS_UNREAD},     {"已读", SEARCH_IS_READ},
	{"置顶", SEARCH_IS_PINNED},     {"星标", SEARCH_IS_FLAGGED},
	{"已标记", SEARCH_IS_FLAGGED},  {"未标记", SEARCH_IS_UNFLAGGED},
};

static const struct {
	const char *name;
	int colour;
} colour_names[] = {
	{"red", 1},  {"orange", 2}, {"yellow", 3}, {"green", 4}, {"blue", 5}, {"purple", 6},
	{"grey", 7}, {"gray", 7},   {"红", 1},     {"橙", 2},    {"黄", 3},   {"绿", 4},
	{"蓝", 5},   {"紫", 6},     {"灰", 7},     {"红色", 1},  {"橙色", 2}, {"黄色", 3},
	{"绿色", 4}, {"蓝色", 5},   {"紫色", 6},   {"灰色", 7},
};

struct term {
	char sign;          /* '+', '-' or 0 */
	const char *name;   /* before the ':' as typed (after normalising), or NULL */
	const char *value;  /* the word, the phrase, or the field's value */
	bool quoted;
};

struct out_buf {
	char *p;
	size_t len, cap;
};

static void out_add(struct out_buf *o, const char *s, size_t n)
{
	ASSERT(o->len + n < o->cap); /* sized in search_query_parse from the input */
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_str(struct out_buf *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Pass 1. The result is never longer than the input. */
static char *normalise(struct arena *a, const char *q, size_t len)
{
	char *out = arena_alloc(a, len + 1);
	const unsigned char *s = (const unsigned char *)q;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == 0xEF && i + 2 < len && s[i + 1] == 0xBC && s[i + 2] >= 0x81 &&
		    s[i + 2] <= 0xBF) { /* U+FF01..U+FF3F */
			out[o++] = (char)(s[i + 2] - 0x60);
			i += 3;
		} else if (c == 0xEF && i + 2 < len && s[i + 1] == 0xBD && s[i + 2] >= 0x80 &&
			   s[i + 2] <= 0x9E) { /* U+FF40..U+FF5E */
			out[o++] = (char)(s[i + 2] - 0x20);
			i += 3;
		} else if (c == 0xE3 && i + 2 < len && s[i + 1] == 0x80 && s[i + 2] == 0x80) {
			out[o++] = ' '; /* U+3000 */
			i += 3;
		} else if (c == 0xE2 && i + 2 < len && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0x9C || s[i + 2] == 0x9D)) {
			out[o++] = '"'; /* U+201C, U+201D */
			i += 3;
		} else {
			out[o++] = (c < 0x20 || c == 0x7F) && !is_space((char)c) ? ' ' : (char)c;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* Pass 2: the next term from *pp, or 0 at the end. Quotes end words; an unclosed quote runs
 * to the end of the query. */
static int next_term(struct arena *a, const char **pp, struct term *t)
{
	const char *p = *pp, *w, *colon;

	while (is_space(*p))
		p++;
	if (*p == '\0')
		return 0;
	*t = (struct term){0};
	if ((*p == '+' || *p == '-') && p[1] != '\0' && !is_space(p[1])) {
		t->sign = *p;
		p++;
	}
	if (*p == '"') {
		const char *e = strchr(p + 1, '"');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
		t->value = arena_strndup(a, p + 1, n);
		t->quoted = true;
		*pp = p + 1 + n + (e != NULL);
		return 1;
	}
	for (w = p; *p != '\0' && !is_space(*p) && *p != '"'; p++)
		;
	colon = memchr(w, ':', (size_t)(p - w));
	if (colon != NULL && colon > w) {
		t->name = arena_strndup(a, w, (size_t)(colon - w));
		if (colon + 1 == p && *p == '"') { /* name:"quoted value" */
			const char *e = strchr(p + 1, '"');
			size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
			t->value = arena_strndup(a, p + 1, n);
			t->quoted = true;
			p += 1 + n + (e != NULL);
		} else {
			t->value = arena_strndup(a, colon + 1, (size_t)(p - colon - 1));
		}
	} else {
		t->value = arena_strndup(a, w, (size_t)(p - w));
	}
	*pp = p;
	return 1;
}

static enum field field_of(const char *name)
{
	char low[16];
	size_t n = strlen(name);

	if (n >= sizeof(low))
		return F_TEXT;
	memcpy(low, name, n + 1);
	str_lower(low);
	for (size_t i = 0; i < ARRAY_LEN(field_names); i++)
		if (strcmp(low, field_names[i].name) == 0)
			return field_names[i].f;
	return F_TEXT;
}

static bool lower_eq(const char *s, const char *want)
{
	for (; *s && *want; s++, want++) {
		char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (c != *want)
			return false;
	}
	return *s == *want;
}

static int digits(const char **pp, int min, int max, int *v)
{
	const char *p = *pp;
	int n = 0, x = 0;
	while (*p >= '0' && *p <= '9' && n < max) {
		x = x * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n < min || (*p >= '0' && *p <= '9'))
		return -1;
	*v = x;
	*pp = p;
	return 0;
}

static bool eat(const char **pp, const char *s)
{
	size_t n = strlen(s);
	if (strncmp(*pp, s, n) != 0)
		return false;
	*pp += n;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日 (month and day may have one digit): the unix time of
 * that day's midnight in the zone tz_minutes east of UTC. */
static int parse_date(const char *s, int tz_minutes, int64_t *t_r)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, m, d;
	int64_t days;
	bool cn = false;
	char sep = 0;

	if (digits(&p, 4, 4, &y) < 0)
		return -1;
	if (*p == '-' || *p == '/')
		sep = *p++;
	else if (eat(&p, "年"))
		cn = true;
	else
		return -1;
	if (digits(&p, 1, 2, &m) < 0)
		return -1;
	if (cn ? !eat(&p, "月") : *p++ != sep)
		return -1;
	if (digits(&p, 1, 2, &d) < 0)
		return -1;
	if (cn)
		(void)eat(&p, "日");
	if (*p != '\0' || y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && is_leap(y)))
		return -1;
	days = 365 * (int64_t)(y - 1970);
	days += ((y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
	for (int i = 0; i < m - 1; i++)
		days += mdays[i] + (i == 1 && is_leap(y));
	days += d - 1;
	*t_r = days * 86400 - (int64_t)tz_minutes * 60;
	return 0;
}

struct parse_state {
	struct search_parsed *out;
	int tz_minutes;
	unsigned seen; /* 1 << enum field, for the filters that may appear once */
	struct err *err;
};

static int filter(struct parse_state *ps, enum field f, const struct term *t)
{
	struct search_parsed *out = ps->out;
	const char *v = t->value;

	if (t->sign)
		return err_set(ps->err, ERR_INVALID, "%c%s: cannot be negated", t->sign, t->name);
	if (f != F_IS && (ps->seen & (1u << f)))
		return err_set(ps->err, ERR_INVALID, "%s: appears twice", t->name);
	ps->seen |= 1u << f;
	switch (f) {
	case F_IN:
		if (*v == '\0')
			return err_set(ps->err, ERR_INVALID, "%s: needs a folder name", t->name);
		out->folder = v;
		return 0;
	case F_IS:
		for (size_t i = 0; i < ARRAY_LEN(is_names); i++) {
			unsigned bit = is_names[i].bit, both;
			if (!lower_eq(v, is_names[i].name))
				continue;
			if (out->is & bit)
				return err_set(ps->err, ERR_INVALID, "%s:%s appears twice", t->name,
					       v);
			out->is |= bit;
			both = SEARCH_IS_READ | SEARCH_IS_UNREAD;
			if ((out->is & both) == both)
				return err_set(ps->err, ERR_INVALID,
					       "is:read and is:unread exclude each other");
			both = SEARCH_IS_FLAGGED | SEARCH_IS_UNFLAGGED;
			if ((out->is & both) == both)
				return err_set(ps->err, ERR_INVALID,
					       "is:flagged and is:unflagged exclude each other");
			return 0;
		}
		return err_set(ps->err, ERR_INVALID,
			       "%s: needs unread, read, pinned, flagged or unflagged", t->name);
	case F_TAG:
		if (v[0] >= '1' && v[0] <= '7' && v[1] == '\0') {
			out->colour = v[0] - '0';
			return 0;
		}
		for (size_t i = 0; i < ARRAY_LEN(colour_names); i++)
			if (lower_eq(v, colour_names[i].name)) {
				out->colour = colour_names[i].colour;
				return 0;
			}
		return err_set(ps->err, ERR_INVALID,
			       "%s: needs a colour (red, orange, yellow, green, blue, purple, grey) "
			       "or 1..7",
			       t->name);
	case F_HAS:
		if (lower_eq(v, "attachment") || lower_eq(v, "attachments") ||
		    strcmp(v, "附件") == 0) {
			out->has_attachment = true;
			return 0;
		}
		return err_set(ps->err, ERR_INVALID, "%s: only knows has:attachment", t->name);
	case F_BEFORE:
	case F_AFTER: {
		int64_t when;
		if (parse_date(v, ps->tz_minutes, &when) < 0)
			return err_set(ps->err, ERR_INVALID, "%s: needs a date like 2024-05-01",
				       t->name);
		if (f == F_AFTER)
			out->after = when; /* 0 would mean "none", which matches the same mail */
		else
			out->before = when != 0 ? when : -1; /* 0 means "none" */
		return 0;
	}
	default:
		ASSERT(!"not a filter");
		return -1;
	}
}

static void emit_quoted(struct out_buf *o, const char *pre, const char *v)
{
	out_str(o, pre);
	out_add(o, "\"", 1);
	out_str(o, v);
	out_add(o, "\"", 1);
}

/* Pass 3 for one term. */
static int term(struct parse_state *ps, const struct term *t, struct out_buf *o)
{
	enum field f = t->name ? field_of(t->name) : F_TEXT;
	char sign[2] = {t->sign, '\0'};

	if (f >= F_IN && f <= F_AFTER)
		return filter(ps, f, t);
	if (o->len > 0)
		out_add(o, " ", 1);
	if (f != F_TEXT) {
		char pre[16];
		if (*t->value == '\0')
			return err_set(ps->err, ERR_INVALID, "%s: needs a value", t->name);
		snprintf(pre, sizeof(pre), "%s%s:", sign, xapian_field[f]);
		if (t->quoted || strchr(t->value, ':') != NULL)
			emit_quoted(o, pre, t->value);
		else {
			out_str(o, pre);
			out_str(o, t->value);
		}
	} else if (t->name != NULL) { /* unknown name:value, e.g. a URL or 12:30 */
		out_str(o, sign);
		out_add(o, "\"", 1);
		out_str(o, t->name);
		out_add(o, ":", 1);
		out_str(o, t->value);
		out_add(o, "\"", 1);
	} else if (t->quoted || strchr(t->value, ':') != NULL) {
		emit_quoted(o, sign, t->value);
	} else {
		out_str(o, sign);
		out_str(o, t->value);
	}
	return 0;
}

int search_query_parse(const char *q, int tz_minutes, struct arena *a, struct search_parsed *out,
		       struct err *err)
{
	struct parse_state ps = {.tz_minutes = tz_minutes, .err = err};
	struct search_parsed res = {0};
	struct out_buf o;
	const char *p;
	size_t len = q ? strlen(q) : 0;
	struct term t;
	int nterms = 0;

	if (len > QUERY_MAX_BYTES)
		return err_set(err, ERR_LIMIT, "search query is longer than %d bytes",
			       QUERY_MAX_BYTES);
	if (!utf8_valid(q ? q : "", len))
		return err_set(err, ERR_INVALID, "search query is not valid UTF-8");
	if (tz_minutes < -TZ_MAX_MINUTES || tz_minutes > TZ_MAX_MINUTES)
		return err_set(err, ERR_INVALID, "time zone offset %d minutes is out of range",
			       tz_minutes);
	p = normalise(a, q ? q : "", len);
	/* A term grows by at most 5 bytes: two quotes, a space, and 主题 (6) -> subject (7). */
	o.cap = len + 6 * (QUERY_MAX_TERMS + 1) + 1;
	o.p = arena_alloc(a, o.cap);
	o.len = 0;
	ps.out = &res;
	while (next_term(a, &p, &t) == 1) {
		if (++nterms > QUERY_MAX_TERMS)
			return err_set(err, ERR_LIMIT, "search query has more than %d terms",
				       QUERY_MAX_TERMS);
		if (t.quoted && t.name == NULL && t.value[0] == '\0')
			continue; /* "" asks for nothing */
		if (term(&ps, &t, &o) < 0)
			return -1;
	}
	if (res.after != 0 && res.before != 0 && res.after >= res.before)
		return err_set(err, ERR_INVALID, "after: must be earlier than before:");
	res.text = o.p;
	*out = res;
	return 0;
}
