/* fuzz_mime: store/mime.h, the message parser and the text helpers.
 *
 * The input is parsed as a message (default limits, but max_text small so huge texts stay
 * cheap), and also given to mime_to_utf8 under a label picked by its first byte, to
 * mime_header_decode and mime_header_prepare, to mime_html_to_text and to mime_snippet.
 *
 * Invariants checked:
 * - mime_parse fails only with ERR_LIMIT (a message naming "(mime.") or ERR_INVALID for empty
 *   input; never for malformed mail.
 * - every string it returns is valid UTF-8; text_len/html_len/attach_text_len are the lengths;
 *   text, html and attach_text are at most max_text bytes.
 * - parts[0] is the root with section ""; each part has a parent before it, depth parent+1,
 *   header_off <= body_off <= end_off <= len, and lies inside its parent's body; nparts and
 *   depths are within the limits; is_body and is_attachment never both hold.
 * - mime_part_content succeeds for every part that is not a multipart and, for the part a
 *   section names first, returns decoded_size bytes; it refuses a multipart with ERR_NOTFOUND.
 * - the conversions return valid UTF-8 of the length they report; mime_header_prepare output
 *   has no line breaks; the snippet holds at most the requested number of characters.
 * - differential: GMime run directly over the same bytes builds the same tree (same number of
 *   objects in pre-order, multiparts where we have multiparts), and each leaf's content stream
 *   has exactly our [body_off, end_off) (GMime keeps the CR of a CRLF before a boundary that
 *   ends the input; we drop it). This checks the offsets mime.c recomputes from the raw bytes. */
#include <stdbool.h>

#include <gmime/gmime.h>

#include "fuzz.h"
#include "lib/arena.h"
#include "lib/utf8.h"
#include "store/mime.h"

static bool valid(const char *s)
{
	return s == NULL || utf8_valid(s, strlen(s));
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void check_msg(const char *raw, size_t len, const struct mime_limits *lim,
                      const struct mime_msg *m, struct arena *a)
{
	const struct mime_addr_list *ls[] = {&m->from, &m->sender, &m->reply_to,
	                                     &m->to,   &m->cc,     &m->bcc};

	FUZZ_CHECK(m->nparts >= 1 && m->nparts <= lim->max_parts);
	FUZZ_CHECK(strcmp(m->parts[0].section, "") == 0 && m->parts[0].parent == -1);
	FUZZ_CHECK(valid(m->subject) && valid(m->message_id) && valid(m->in_reply_to));
	for (size_t i = 0; i < m->nreferences; i++)
		FUZZ_CHECK(valid(m->references[i]));
	FUZZ_CHECK(utf8_valid(m->text, m->text_len) && strlen(m->text) == m->text_len);
	FUZZ_CHECK(m->text_len <= lim->max_text && m->attach_text_len <= lim->max_text);
	FUZZ_CHECK(utf8_valid(m->attach_text, m->attach_text_len));
	FUZZ_CHECK(m->html == NULL ||
	           (utf8_valid(m->html, m->html_len) && m->html_len <= lim->max_text));
	FUZZ_CHECK(m->header_len == m->parts[0].body_off);
	for (size_t k = 0; k < sizeof(ls) / sizeof(ls[0]); k++)
		for (size_t i = 0; i < ls[k]->n; i++)
			FUZZ_CHECK(valid(ls[k]->v[i].name) && valid(ls[k]->v[i].address) &&
			           valid(ls[k]->v[i].group) && ls[k]->v[i].name &&
			           ls[k]->v[i].address);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		FUZZ_CHECK(p->header_off <= p->body_off && p->body_off <= p->end_off &&
		           p->end_off <= len);
		FUZZ_CHECK((size_t)p->depth <= lim->max_depth);
		FUZZ_CHECK(valid(p->filename) && valid(p->description) && valid(p->content_id) &&
		           valid(p->charset) && valid(p->boundary) && valid(p->section));
		FUZZ_CHECK(p->type && p->subtype && !(p->is_body && p->is_attachment));
		if (i > 0) {
			const struct mime_part *par;
			FUZZ_CHECK(p->parent >= 0 && (size_t)p->parent < i);
			par = &m->parts[p->parent];
			FUZZ_CHECK(p->depth == par->depth + 1);
			FUZZ_CHECK(p->header_off >= par->body_off && p->end_off <= par->end_off);
		}
		const char *d;
		size_t dl;
		struct err e = {0};
		int r = mime_part_content(raw, len, m, p->section, a, &d, &dl, &e);
		int first = mime_part_find(m, p->section);
		FUZZ_CHECK(first >= 0 && (size_t)first <= i);
		if (strcmp(m->parts[first].type, "multipart") == 0) {
			FUZZ_CHECK(r == -1 && e.code == ERR_NOTFOUND);
		} else {
			FUZZ_CHECK(r == 0 && d[dl] == '\0');
			if ((size_t)first == i)
				FUZZ_CHECK(dl == p->decoded_size);
		}
	}
}

static void gmime_flatten(GMimeObject *o, GPtrArray *out)
{
	g_ptr_array_add(out, o);
	if (GMIME_IS_MULTIPART(o)) {
		for (int i = 0; i < g_mime_multipart_get_count((GMimeMultipart *)o); i++)
			gmime_flatten(g_mime_multipart_get_part((GMimeMultipart *)o, i), out);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message((GMimeMessagePart *)o);
		if (m && g_mime_message_get_mime_part(m))
			gmime_flatten(g_mime_message_get_mime_part(m), out);
	}
}

/* GMime's own tree for the bytes, from where mime.c starts it (after white-space-only lines and
 * the indentation of the first header line). */
static void differential(const char *raw, size_t len, const struct mime_msg *m)
{
	GByteArray *ba = g_byte_array_new();
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *gm;
	GMimeParserOptions *o = g_mime_parser_options_new();
	size_t pos = 0;

	while (pos < len) { /* white-space-only lines, as line_at() in mime.c cuts them */
		size_t e = pos, end, k;
		while (e < len && raw[e] != '\n')
			e++;
		end = e > pos && raw[e - 1] == '\r' ? e - 1 : e;
		for (k = pos; k < end && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\r'); k++)
			;
		if (end == pos || k < end)
			break;
		pos = e < len ? e + 1 : len;
	}
	while (pos < len && (raw[pos] == ' ' || raw[pos] == '\t'))
		pos++;
	g_byte_array_append(ba, (const guint8 *)raw, (guint)len);
	s = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_seek(s, (gint64)pos, GMIME_STREAM_SEEK_SET);
	p = g_mime_parser_new_with_stream(s);
	g_mime_parser_options_set_rfc2047_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(o, GMIME_RFC_COMPLIANCE_LOOSE);
	gm = g_mime_parser_construct_message(p, o);
	if (gm != NULL && g_mime_message_get_mime_part(gm) != NULL) {
		GPtrArray *objs = g_ptr_array_new();
		gmime_flatten(g_mime_message_get_mime_part(gm), objs);
		FUZZ_CHECK(objs->len == m->nparts);
		for (size_t i = 0; i < m->nparts; i++) {
			GMimeObject *x = objs->pdata[i];
			const struct mime_part *mp = &m->parts[i];
			FUZZ_CHECK(GMIME_IS_MULTIPART(x) == (strcmp(mp->type, "multipart") == 0));
			FUZZ_CHECK(!GMIME_IS_MESSAGE_PART(x) || strcmp(mp->type, "message") == 0);
			if (!GMIME_IS_PART(x) || !g_mime_part_get_content((GMimePart *)x))
				continue;
			GMimeStream *cs =
			    g_mime_data_wrapper_get_stream(g_mime_part_get_content((GMimePart *)x));
			FUZZ_CHECK(cs->bound_start == (gint64)mp->body_off);
			FUZZ_CHECK(
			    cs->bound_end == (gint64)mp->end_off ||
			    (cs->bound_end == (gint64)mp->end_off + 1 && raw[mp->end_off] == '\r'));
		}
		g_ptr_array_free(objs, TRUE);
	}
	if (gm)
		g_object_unref(gm);
	g_object_unref(p);
	g_object_unref(s);
	g_mime_parser_options_free(o);
}

static void conversions(const char *in, size_t n, struct arena *a)
{
	static const char *const labels[] = {
	    NULL,         "utf-8",      "gb2312",   "gbk",          "gb18030",     "big5",
	    "hz-gb-2312", "utf-7",      "utf-16",   "utf-16le",     "iso-2022-jp", "shift_jis",
	    "euc-kr",     "iso-8859-1", "us-ascii", "windows-1251", "koi8-r",      "x-unknown",
	};
	const char *label =
	    n ? labels[(unsigned char)in[0] % (sizeof(labels) / sizeof(labels[0]))] : NULL;
	const char *nl = n ? memchr(in, '\n', n) : NULL;
	size_t hn = nl ? (size_t)(nl - in) : n, ul;
	const char *u;

	u = mime_to_utf8(label, in, n, a, &ul);
	FUZZ_CHECK(u != NULL && utf8_valid(u, ul) && u[ul] == '\0');
	u = mime_header_decode(in, hn, n ? label : NULL, a, &ul);
	FUZZ_CHECK(utf8_valid(u, ul) && strlen(u) == ul && !strchr(u, '\n') && !strchr(u, '\r'));
	u = mime_header_prepare(in, hn, NULL, a);
	FUZZ_CHECK(valid(u) && !strchr(u, '\n') && !strchr(u, '\r'));
	u = mime_html_to_text(in, n, 256, a, &ul);
	FUZZ_CHECK(utf8_valid(u, ul) && ul <= 256);
	u = mime_snippet(in, n, 40, a);
	FUZZ_CHECK(valid(u) && utf8_chars(u) <= 40);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_dup(data, size);
	struct arena *a = arena_new();
	struct mime_limits lim;
	struct mime_msg *m = NULL;
	struct err err = {0};

	mime_init();
	mime_limits_default(&lim);
	lim.max_text = 64 * 1024;
	if (mime_parse(in, size, &lim, a, &m, &err) == 0) {
		check_msg(in, size, &lim, m, a);
		differential(in, size, m);
		if (m->html)
			FUZZ_CHECK(valid(mime_snippet(m->html, m->html_len, 80, a)));
	} else {
		FUZZ_CHECK(err.code == ERR_LIMIT || (err.code == ERR_INVALID && size == 0));
		FUZZ_CHECK(err.code != ERR_LIMIT || strstr(err.msg, "(mime.") != NULL);
	}
	conversions(in, size, a);
	arena_free(&a);
	free(in);
	return 0;
}
