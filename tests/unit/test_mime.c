/* Unit tests for store/mime.h: limits, IMAP section numbers and bodies, line ends, transfer
 * encodings, HTML to text and snippets, truncated input, speed and threads. The corpora are
 * in test_mime_corpus.c, charsets and header decoding in test_mime_charset.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/arena.h"
#include "lib/utf8.h"
#include "lib/util.h"
#include "mime_fixture.h"
#include "store/mime.h"

/* ---- limits ---- */


static void expect_limit(const char *raw, size_t n, const struct mime_limits *lim, const char *name)
{
	struct arena *a = arena_new();
	struct mime_msg *m = NULL;
	struct err e = {0};
	char *exact = dup_exact(raw, n);
	uint64_t t0 = time_mono_ns();

	assert_int_equal(mime_parse(exact, n, lim, a, &m, &e), -1);
	print_message("%s: %s (%.1f ms)\n", name, e.msg, (double)(time_mono_ns() - t0) / 1e6);
	assert_int_equal(e.code, ERR_LIMIT);
	assert_non_null(strstr(e.msg, name));
	free(exact);
	arena_free(&a);
}

static void nested(struct gen *g, size_t depth, const char *leaf)
{
	char line[128];
	gen_add(g, "Subject: nest\r\n");
	for (size_t i = 0; i < depth; i++) {
		snprintf(line, sizeof(line),
		         "Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n", i,
		         i);
		gen_add(g, line);
	}
	gen_add(g, leaf);
}

static void test_limits(void **state)
{
	struct mime_limits lim = deflim();
	struct gen g = {0};
	struct arena *a = arena_new();
	struct mime_msg *m;
	char line[64];
	uint64_t t0;

	(void)state;
	/* size */
	lim.max_bytes = 100;
	nested(&g, 3,
	       "Content-Type: text/plain\r\n\r\n0123456789012345678901234567890123456789\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_bytes");
	lim = deflim();

	/* line length: at the limit parses, one more byte does not */
	lim.max_line = 64;
	g.n = 0;
	gen_add(&g, "Subject: x\r\n\r\n");
	for (int i = 0; i < 64; i++)
		gen_add(&g, "y");
	gen_add(&g, "\r\n");
	assert_int_equal(mime_parse(g.p, g.n, &lim, a, &m, NULL), 0);
	gen_add(&g, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_line");
	lim = deflim();

	/* header block: the message's (pre-scan) and a part's (on the tree) */
	lim.max_header_bytes = 512;
	g.n = 0;
	for (int i = 0; i < 40; i++)
		gen_add(&g, "X-Filler: 0123456789abcdef\r\n");
	gen_add(&g, "\r\nbody\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_header_bytes");
	g.n = 0;
	gen_add(&g, "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n");
	for (int i = 0; i < 40; i++)
		gen_add(&g, "X-Filler: 0123456789abcdef\r\n");
	gen_add(&g, "\r\npart\r\n--b--\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_header_bytes");
	lim = deflim();

	/* parts: exactly max_parts parse, one more does not */
	lim.max_parts = 10;
	g.n = 0;
	gen_add(&g, "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 9; i++)
		gen_add(&g, "--b\r\nContent-Type: text/plain\r\n\r\npart\r\n");
	gen_add(&g, "--b--\r\n");
	assert_int_equal(mime_parse(g.p, g.n, &lim, a, &m, NULL), 0);
	assert_int_equal(m->nparts, 10);
	g.n -= strlen("--b--\r\n");
	gen_add(&g, "--b\r\n\r\none more\r\n--b--\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_parts");
	lim = deflim();

	/* 12,000 parts: refused by the pre-scan (boundary lines counted), before GMime */
	g.n = 0;
	gen_add(&g, "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 12000; i++)
		gen_add(&g, "--b\r\n\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_parts");
	/* 2,000,000 empty parts (10 MB) fail fast, not after 2 GB of GMime objects */
	g.n = 0;
	gen_add(&g, "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 2000000; i++)
		gen_add(&g, "--b\n\n");
	t0 = time_mono_ns();
	expect_limit(g.p, g.n, &lim, "mime.max_parts");
	assert_true(time_mono_ns() - t0 < 2000000000ull);
	/* "--" lines that are not boundaries do not count against the limit */
	g.n = 0;
	gen_add(&g, "Subject: sql\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n");
	for (int i = 0; i < 12000; i++) {
		snprintf(line, sizeof(line), "-- comment %d\r\n", i);
		gen_add(&g, line);
	}
	gen_add(&g, "--b--\r\n");
	assert_int_equal(mime_parse(g.p, g.n, &lim, a, &m, NULL), 0);
	assert_int_equal(m->nparts, 2);

	/* depth: 64 levels parse, 65 do not; 100,000 nested multiparts fail fast, no crash */
	g.n = 0;
	nested(&g, 64, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	assert_int_equal(mime_parse(g.p, g.n, &lim, a, &m, NULL), 0);
	assert_int_equal(m->nparts, 65);
	assert_int_equal(m->parts[64].depth, 64);
	assert_string_equal(m->text, "deep\n");
	g.n = 0;
	nested(&g, 65, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_depth");
	g.n = 0;
	nested(&g, 100000, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	t0 = time_mono_ns();
	expect_limit(g.p, g.n, &lim, "mime.max_parts");
	assert_true(time_mono_ns() - t0 < 1000000000ull);
	/* 5,000 nested multiparts (under max_parts) stop at GMime's 1024 levels, then at ours */
	g.n = 0;
	nested(&g, 5000, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_depth");
	/* message/rfc822 nesting counts too */
	g.n = 0;
	gen_add(&g, "Subject: m\r\n");
	for (int i = 0; i < 70; i++)
		gen_add(&g, "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n");
	gen_add(&g, "\r\nbody\r\n");
	expect_limit(g.p, g.n, &lim, "mime.max_depth");
	/* deep nesting plus many boundary-like lines: GMime's per-line boundary search would be
	 * quadratic, so the pre-scan refuses it */
	g.n = 0;
	nested(&g, 1000, "Content-Type: text/plain\r\n\r\n");
	for (int i = 0; i < 200000; i++) {
		snprintf(line, sizeof(line), "--x%d\n", i);
		gen_add(&g, line);
	}
	t0 = time_mono_ns();
	expect_limit(g.p, g.n, &lim, "mime.max_depth");
	assert_true(time_mono_ns() - t0 < 1000000000ull);
	/* input that is not a message */
	assert_int_equal(mime_parse("", 0, &lim, a, &m, NULL), -1);
	free(g.p);
	arena_free(&a);
}

/* ---- IMAP section numbers (RFC 3501 section 6.4.5), content, bodies ---- */

static const char *content(const char *raw, const struct mime_msg *m, const char *sec,
                           struct arena *a)
{
	const char *d;
	size_t dl;
	struct err e = {0};
	if (mime_part_content(raw, strlen(raw), m, sec, a, &d, &dl, &e) != 0)
		return NULL;
	return d;
}

static const char *sections(const struct mime_msg *m, struct arena *a)
{
	char *b = arena_alloc(a, 1024);
	for (size_t i = 0; i < m->nparts; i++)
		snprintf(b + strlen(b), 1024 - strlen(b), "%s[%s]%s/%s", i ? " " : "",
		         m->parts[i].section, m->parts[i].type, m->parts[i].subtype);
	return b;
}

static void test_sections(void **state)
{
	struct arena *a = arena_new();
	struct mime_msg *m;
	const char *msg;
	struct err e = {0};
	const char *d;
	size_t dl;

	(void)state;
	/* a single-part message: parts[0] is the root (""), and IMAP part 1 is its body */
	msg =
	    "Subject: one\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9\r\nline 2";
	m = parse_str(msg, a);
	assert_int_equal(m->nparts, 1);
	assert_string_equal(sections(m, a), "[]text/plain");
	assert_int_equal(mime_part_find(m, ""), 0);
	assert_int_equal(mime_part_find(m, "1"), 0);
	assert_int_equal(mime_part_find(m, "2"), -1);
	assert_string_equal(content(msg, m, "1", a), "hé\r\nline 2");
	assert_int_equal(m->parts[0].decoded_size, 11);
	assert_int_equal(m->parts[0].lines, 2);
	assert_int_equal(m->header_len, 61);
	assert_int_equal(mime_part_content(msg, strlen(msg), m, "1.1", a, &d, &dl, &e), -1);
	assert_int_equal(e.code, ERR_NOTFOUND);

	/* RFC 3501's nesting: a message/rfc822 part's enclosed multipart shares its number, the
	 * children continue as 2.1, 2.2; a single-part enclosed message's body is 3.1 */
	msg = "Subject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
	      "--o\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
	      "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	      "Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
	      "--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
	      "--i\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: "
	      "base64\r\n\r\nR0lGODlh\r\n"
	      "--i--\r\n"
	      "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	      "Subject: single\r\n\r\nsingle body\r\n"
	      "--o--\r\n";
	m = parse_str(msg, a);
	check_invariants(msg, strlen(msg), m, a);
	assert_string_equal(sections(m, a),
	                    "[]multipart/mixed [1]text/plain [2]message/rfc822 [2]multipart/mixed "
	                    "[2.1]text/plain [2.2]image/gif [3]message/rfc822 [3.1]text/plain");
	assert_int_equal(mime_part_find(m, "2"), 2);
	assert_int_equal(mime_part_find(m, "2.2"), 5);
	assert_int_equal(mime_part_find(m, "3.1"), 7);
	assert_int_equal(mime_part_find(m, "4"), -1);
	assert_int_equal(mime_part_find(m, "1"), 1);
	assert_string_equal(content(msg, m, "2.1", a), "inner text");
	assert_string_equal(content(msg, m, "2.2", a), "GIF89a");
	assert_string_equal(content(msg, m, "3.1", a), "single body");
	assert_true(strncmp(content(msg, m, "2", a), "Subject: inner\r\n", 16) == 0);
	assert_null(content(msg, m, "", a)); /* a multipart has no content of its own */
	/* the message part's body is the enclosed message; its root's header is that message's */
	assert_int_equal(m->parts[3].header_off, m->parts[2].body_off);
	assert_int_equal(m->parts[3].end_off, m->parts[2].end_off);
	assert_int_equal(m->parts[2].decoded_size, m->parts[2].end_off - m->parts[2].body_off);
	assert_string_equal(m->text, "first");
	assert_string_equal(attachments(m, a), "-|-");
	assert_true(m->parts[2].is_attachment && !m->parts[4].is_attachment);
	assert_string_equal(m->attach_text, "inner text\nsingle body");

	/* a message that is itself message/rfc822: IMAP part 1 is the enclosed message */
	msg = "Subject: wrap\nContent-Type: message/rfc822\n\nSubject: in\n\nbody\n";
	m = parse_str(msg, a);
	assert_string_equal(sections(m, a), "[]message/rfc822 [1.1]text/plain");
	assert_int_equal(mime_part_find(m, "1"), 0);
	assert_string_equal(content(msg, m, "1", a), "Subject: in\n\nbody\n");
	assert_string_equal(content(msg, m, "1.1", a), "body\n");

	/* multipart/digest children default to message/rfc822 (RFC 2046 section 5.1.5) */
	msg = "Subject: d\nContent-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n"
	      "--d\n\nSubject: b\n\nB\n--d--\n";
	m = parse_str(msg, a);
	assert_string_equal(sections(m, a), "[]multipart/digest [1]message/rfc822 [1.1]text/plain "
	                                    "[2]message/rfc822 [2.1]text/plain");
	assert_string_equal(content(msg, m, "2.1", a), "B");
	arena_free(&a);
}

static void test_bodies(void **state)
{
	struct arena *a = arena_new();
	struct mime_msg *m;
	const char *msg;

	(void)state;
	/* alternative: text from text/plain, html from text/html, both parts are the body */
	msg = "Subject: alt\nContent-Type: multipart/alternative; boundary=a\n\n"
	      "--a\nContent-Type: text/plain; charset=utf-8\n\nplain \xe2\x9c\x93\n"
	      "--a\nContent-Type: text/html; charset=utf-8\n\n<p>html "
	      "<b>\xe2\x9c\x93</b></p>\n--a--\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "plain ✓");
	assert_string_equal(m->html, "<p>html <b>✓</b></p>");
	assert_true(m->parts[1].is_body && m->parts[2].is_body);
	assert_false(m->has_attachments);

	/* HTML only, in related with an image it shows by cid: and one it does not */
	msg = "Subject: rel\nContent-Type: multipart/related; boundary=r\n\n"
	      "--r\nContent-Type: text/html\n\n<html><body><p>Look&nbsp;here:</p>"
	      "<img src=\"cid:pic1@x\"></body></html>\n"
	      "--r\nContent-Type: image/png\nContent-ID: <pic1@x>\nContent-Transfer-Encoding: "
	      "base64\n"
	      "\niVBORw==\n"
	      "--r\nContent-Type: image/png\nContent-ID: <pic2@x>\n\nPNG\n--r--\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "Look here:");
	assert_non_null(m->html);
	assert_string_equal(m->parts[2].content_id, "pic1@x");
	assert_false(m->parts[2].is_attachment);
	assert_true(m->parts[3].is_attachment);
	assert_true(m->has_attachments);

	/* mixed: body, a text attachment (its text is indexed), a PDF */
	msg = "Subject: mix\nContent-Type: multipart/mixed; boundary=m\n\n"
	      "--m\nContent-Type: text/plain\n\nsee attached\n"
	      "--m\nContent-Type: text/csv; name=data.csv\n\na,b\n1,2\n"
	      "--m\nContent-Type: application/pdf\nContent-Disposition: attachment; "
	      "filename=\"r.pdf\""
	      "\n\n%PDF\n--m--\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "see attached");
	assert_null(m->html);
	assert_string_equal(attachments(m, a), "data.csv|r.pdf");
	assert_string_equal(m->attach_text, "a,b\n1,2");
	assert_string_equal(m->parts[3].disposition, "attachment");

	/* a plain part next to HTML inline parts in mixed: the HTML body keeps it, escaped */
	msg = "Subject: seq\nContent-Type: multipart/mixed; boundary=s\n\n"
	      "--s\nContent-Type: text/html\n\n<b>one</b>\n"
	      "--s\nContent-Type: text/plain\n\ntwo <&>\n--s--\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "one\ntwo <&>");
	assert_string_equal(m->html, "<b>one</b><pre>two &lt;&amp;&gt;</pre>\n");

	/* max_text caps text, html and attach_text on a character boundary */
	{
		struct mime_limits lim = deflim();
		struct err e = {0};
		lim.max_text = 7;
		msg = "Subject: cap\nContent-Type: text/plain; charset=utf-8\n\n中文中文中文";
		assert_int_equal(mime_parse(msg, strlen(msg), &lim, a, &m, &e), 0);
		assert_string_equal(m->text, "中文");
	}
	/* a body in no part at all: header only */
	msg = "Subject: empty\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "");
	assert_int_equal(m->header_len, strlen(msg));
	/* not a message (GMime refuses it): read as a header-less text */
	msg = "// Not an RFC-822 Document";
	m = parse_str(msg, a);
	assert_string_equal(m->subject, "");
	assert_string_equal(m->text, msg);
	assert_int_equal(m->header_len, 0);
	arena_free(&a);
}

/* The same messages with LF and CRLF line ends decode the same. */
static void test_crlf_lf(void **state)
{
	static const char *files[] = {
	    "mikel-mail/attachment_emails/attachment_pdf.eml",
	    "mikel-mail/attachment_emails/attachment_message_rfc822.eml",
	    "mikel-mail/multi_charset/japanese_attachment.eml",
	    "mikel-mail/plain_emails/raw_email_quoted_with_0d0a.eml",
	    "stalwart/rfc/007.eml",
	    "stalwart/thirdparty/011.eml",
	    "flanker/torture-part.eml",
	    "flanker/mailgun-pic.eml",
	    "enmime/testdata/mail/qp-utf8-header.raw",
	    "enmime/testdata/parts/nestedmulti.raw",
	};
	(void)state;
	for (size_t f = 0; f < ARRAY_LEN(files); f++) {
		struct arena *a = arena_new();
		size_t n, ln, cn;
		char *raw = slurp(files[f], &n);
		char *lf = line_ends(raw, n, false, &ln), *crlf = line_ends(raw, n, true, &cn);
		struct mime_msg *m1 = parse_ok(lf, ln, a), *m2 = parse_ok(crlf, cn, a);

		print_message("%s\n", files[f]);
		assert_string_equal(m1->subject, m2->subject);
		assert_string_equal(addrs(&m1->from, a), addrs(&m2->from, a));
		assert_string_equal(addrs(&m1->to, a), addrs(&m2->to, a));
		assert_string_equal(tree(m1, a), tree(m2, a));
		assert_string_equal(attachments(m1, a), attachments(m2, a));
		assert_string_equal(m1->text, m2->text);
		assert_true((m1->html == NULL) == (m2->html == NULL));
		if (m1->html)
			assert_string_equal(m1->html, m2->html);
		assert_string_equal(m1->attach_text, m2->attach_text);
		for (size_t i = 0; i < m1->nparts; i++) {
			const char *d1, *d2;
			size_t l1, l2;
			struct err e = {0};
			if (strcmp(m1->parts[i].type, "multipart") == 0 ||
			    mime_part_find(m1, m1->parts[i].section) != (int)i)
				continue;
			assert_int_equal(
			    mime_part_content(lf, ln, m1, m1->parts[i].section, a, &d1, &l1, &e),
			    0);
			assert_int_equal(
			    mime_part_content(crlf, cn, m2, m2->parts[i].section, a, &d2, &l2, &e),
			    0);
			if (strcmp(m1->parts[i].encoding ? m1->parts[i].encoding : "", "base64") ==
			    0) {
				assert_int_equal(l1, l2); /* binary content does not change */
				assert_memory_equal(d1, d2, l1);
			}
		}
		free(raw);
		free(lf);
		free(crlf);
		arena_free(&a);
	}
}

/* ---- transfer encodings: gmime's vectors ---- */

static void decode_vector(const char *encoding, const char *enc_file, const char *want_file,
                          const char *type)
{
	struct arena *a = arena_new();
	struct gen g = {0};
	size_t n, wn;
	char *enc = slurp(enc_file, &n), *want = slurp(want_file, &wn), hdr[160];
	struct mime_msg *m;
	const char *d;
	size_t dl;
	struct err e = {0};

	snprintf(hdr, sizeof(hdr),
	         "Subject: v\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n", type, encoding);
	gen_add(&g, hdr);
	gen_add(&g, enc);
	m = parse_ok(g.p, g.n, a);
	assert_int_equal(mime_part_content(g.p, g.n, m, "1", a, &d, &dl, &e), 0);
	assert_int_equal(dl, wn);
	assert_memory_equal(d, want, wn);
	assert_int_equal(m->parts[0].decoded_size, wn);
	free(g.p);
	free(enc);
	free(want);
	arena_free(&a);
}

static void test_transfer_vectors(void **state)
{
	(void)state;
	decode_vector("base64", "gmime-charsets/encodings/photo.b64",
	              "gmime-charsets/encodings/photo.jpg", "image/jpeg");
	decode_vector("x-uuencode", "gmime-charsets/encodings/photo.uu",
	              "gmime-charsets/encodings/photo.jpg", "image/jpeg");
	decode_vector("quoted-printable", "gmime-charsets/encodings/wikipedia.qp",
	              "gmime-charsets/encodings/wikipedia.txt", "text/plain");
	decode_vector(" Base64 ", "gmime-charsets/encodings/photo.b64",
	              "gmime-charsets/encodings/photo.jpg", "image/jpeg");
}

/* ---- HTML to text, snippets ---- */

static void test_html_to_text(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
	    {"<p>Hello</p><p>World</p>", "Hello\n\nWorld"},
	    {"a<br>b<br/>c<BR >d", "a\nb\nc\nd"},
	    {"a<br><br><br><br>b", "a\n\nb"},
	    {"<div>a</div><div>b</div>", "a\nb"},
	    {"<ul><li>x</li><li>y</li></ul>", "x\ny"},
	    {"<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "1 2\n3"},
	    {"<script>var x = '<p>'; if (a < b) {}</script>Hi", "Hi"},
	    {"<STYLE type=\"text/css\">p { color: red }</STYLE>Body", "Body"},
	    {"<html><head><title>T</title><meta charset=utf-8></head><body>B</body></html>", "B"},
	    {"<!-- <p>not this</p> -->text<!-- unterminated", "text"},
	    {"<!DOCTYPE html><?xml version=\"1.0\"?>x", "x"},
	    {"&amp;&lt;&gt;&quot;&apos;", "&<>\"'"},
	    {"a&nbsp;&nbsp;b", "a b"},
	    {"&#65;&#x42;&#X43;&#x1F600;&#128512;", "ABC😀😀"},
	    {"&copy; &mdash; &hellip; &euro; &rsquo;", "© — … € ’"},
	    {"&#150;&#0;&#xD800;&#x110000;", "–\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"&bogus; &amp x & y &", "&bogus; & x & y &"},
	    {"  lots   of\n\n\t space  ", "lots of space"},
	    {"a < b and c > d", "a < b and c > d"},
	    {"<a href=\"x>y\" title='>'>link</a> text", "link text"},
	    {"<o:p></o:p>Word<o:p>&nbsp;</o:p>", "Word"},
	    {"unterminated <b", "unterminated"},
	    {"<p>中文</p><p>测试</p>", "中文\n\n测试"},
	    {"bad \xff byte", "bad \xef\xbf\xbd byte"},
	    {"<h1>Title</h1>para", "Title\n\npara"},
	    {"<svg><text>no</text></svg>yes", "yes"},
	    {"", ""},
	};
	struct arena *a = arena_new();
	size_t n;
	const char *r;
	char big[4096];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		r = mime_html_to_text(t[i].in, strlen(t[i].in), 1024, a, &n);
		print_message("[%s] -> [%s]\n", t[i].in, r);
		assert_string_equal(r, t[i].want);
		assert_int_equal(n, strlen(r));
	}
	/* bounded by max_out, never past the input */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = "<p>abc &amp; d\xe4\xb8\xad</p>"[i % 22];
	big[sizeof(big) - 1] = '\0';
	r = mime_html_to_text(big, strlen(big), 100, a, &n);
	assert_true(n <= 100 && utf8_valid(r, n));
	r = mime_html_to_text("<p>abcdef", 4, 100, a, &n); /* n bytes, no more */
	assert_string_equal(r, "a");
	r = mime_html_to_text("<p class=x>", 5, 100, a, &n); /* a tag cut short */
	assert_string_equal(r, "");
	arena_free(&a);
}

static void test_snippet(void **state)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} t[] = {
	    {"Hello\nworld", 100, "Hello world"},
	    {"  a \t b  \r\n\r\n c ", 100, "a b c"},
	    {"Hi\n> quoted\n  > indented quote\nthere", 100, "Hi there"},
	    {"Body text\n-- \nJohn\nSignature", 100, "Body text"},
	    {"Thanks!\n\nOn Mon, 1 Jan 2024 at 10:00, Bob <b@x> wrote:\n> earlier", 100, "Thanks!"},
	    {"好的，收到。\n\n在 2024年1月1日 10:00，张三 写道：\n> 你好", 100, "好的，收到。"},
	    {"好\n在 2024-01-01，李四<l@x> 写道:\n> 嗨", 100, "好"},
	    {"Merci\nLe 1 janv. 2024, Bob a écrit :\n> x", 100, "Merci"},
	    {"Danke\nAm 01.01.2024 um 10:00 schrieb Bob:\n> x", 100, "Danke"},
	    {"top\n-----Original Message-----\nFrom: x\n\nold", 100, "top"},
	    {"顶\n------------------ 原始邮件 ------------------\n旧", 100, "顶"},
	    {"中文字符测试", 3, "中文字"},
	    {"abcdef", 3, "abc"},
	    {"a\xff"
	     "b",
	     100,
	     "a\xef\xbf\xbd"
	     "b"},
	    {"> only a quote", 100, ""},
	    {"", 10, ""},
	    {"x", 0, ""},
	};
	struct arena *a = arena_new();

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		const char *r = mime_snippet(t[i].in, strlen(t[i].in), t[i].max, a);
		print_message("[%s] -> [%s]\n", t[i].in, r);
		assert_string_equal(r, t[i].want);
	}
	arena_free(&a);
}

/* ---- robustness: every prefix of real messages parses to a sound tree ---- */

static void test_truncations(void **state)
{
	static const char *files[] = {"stalwart/rfc/007.eml", "stalwart/thirdparty/008.eml",
	                              "mikel-mail/multi_charset/japanese_attachment.eml"};
	(void)state;
	for (size_t f = 0; f < ARRAY_LEN(files); f++) {
		size_t n;
		char *raw = slurp(files[f], &n);
		for (size_t k = 1; k <= n; k++) {
			struct arena *a = arena_new();
			char *exact = dup_exact(raw, k);
			struct mime_msg *m = parse_ok(exact, k, a);
			check_invariants(exact, k, m, a);
			free(exact);
			arena_free(&a);
		}
		free(raw);
	}
}

/* ---- speed: a 20 KB message ---- */

static void test_speed(void **state)
{
	struct gen g = {0};
	struct arena *a = arena_new();
	struct mime_limits lim = deflim();
	char line[128];
	uint64_t t0;
	double us;
	enum { N = 1000 };

	(void)state;
	gen_add(&g, "From: =?utf-8?B?5byg5LiJ?= <zhang@example.cn>\r\nTo: li@example.cn\r\n"
	            "Subject: =?gb2312?B?udjT2s/C1ty1xLvh0ukgsLLFxQ==?=\r\n"
	            "Date: Mon, 1 Jan 2024 10:00:00 +0800\r\nMessage-ID: <speed@example.cn>\r\n"
	            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
	            "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
	            "--a\r\nContent-Type: text/plain; charset=utf-8\r\n"
	            "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line),
		         "Line %03d of the plain text, caf=C3=A9 =E4=B8=AD=E6=96=87"
		         " and some more words.\r\n",
		         i);
		gen_add(&g, line);
	}
	gen_add(&g, "--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n");
	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line),
		         "<p>Line %03d of the <b>HTML</b> text &amp; more "
		         "words.</p>\r\n",
		         i);
		gen_add(&g, line);
	}
	gen_add(&g, "</body></html>\r\n--a--\r\n--m\r\nContent-Type: image/png; name=\"x.png\"\r\n"
	            "Content-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < 60; i++)
		gen_add(&g,
		        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC\r\n");
	gen_add(&g, "--m--\r\n");
	print_message("message of %zu bytes\n", g.n);
	assert_true(g.n > 18000 && g.n < 24000);
	t0 = time_mono_ns();
	for (int i = 0; i < N; i++) {
		struct mime_msg *m;
		struct err e = {0};
		assert_int_equal(mime_parse(g.p, g.n, &lim, a, &m, &e), 0);
		assert_int_equal(m->nparts, 5);
		arena_reset(a);
	}
	us = (double)(time_mono_ns() - t0) / 1e3 / N;
	print_message("%zu-byte message: %.1f us per parse (this build)\n", g.n, us);
	assert_true(us < 20000); /* a sanitizer build is slow; this catches pathologies only */
	free(g.p);
	arena_free(&a);
}

/* ---- threads: one parser setup, many parses at once ---- */

static void *parse_loop(void *arg)
{
	const char *msg = arg;
	for (int i = 0; i < 200; i++) {
		struct arena *a = arena_new();
		struct mime_limits lim = deflim();
		struct mime_msg *m;
		struct err e = {0};
		if (mime_parse(msg, strlen(msg), &lim, a, &m, &e) != 0 ||
		    strcmp(m->subject, "中文 threads") != 0 || strcmp(m->text, "朱镕基") != 0) {
			arena_free(&a);
			return (void *)1;
		}
		arena_free(&a);
	}
	return NULL;
}

static void test_threads(void **state)
{
	static const char msg[] =
	    "Subject: =?gb2312?B?1tDOxA==?= threads\r\n"
	    "Content-Type: text/plain; charset=gbk\r\n\r\n\xd6\xec\xe9\x46\xbb\xf9";
	pthread_t t[4];
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_loop, (void *)msg), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_crlf_lf),
	    cmocka_unit_test(test_transfer_vectors),
	    cmocka_unit_test(test_html_to_text),
	    cmocka_unit_test(test_snippet),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_speed),
	    cmocka_unit_test(test_threads),
	};
	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
