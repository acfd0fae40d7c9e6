/* Unit tests for store/mime.h: charsets (the gmime charset pairs, the Chinese and other
 * labels), header decoding (RFC 2047 encoded words, RFC 2231 parameters) and Chinese
 * messages end to end. */
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

/* ---- charsets ---- */

static void convert_eq(const char *file, const char *label, const char *want_file)
{
	struct arena *a = arena_new();
	size_t n, wn, un;
	char *in = slurp(file, &n), *want = slurp(want_file, &wn);
	const char *u = mime_to_utf8(label, in, n, a, &un);
	print_message("%s as %s\n", file, label ? label : "(guess)");
	assert_int_equal(un, wn);
	assert_memory_equal(u, want, wn);
	free(in);
	free(want);
	arena_free(&a);
}

static void test_gmime_charset_pairs(void **state)
{
	(void)state;
	convert_eq("gmime-charsets/filters/cyrillic.cp1251.txt", "windows-1251",
	           "gmime-charsets/filters/cyrillic.utf-8.txt");
	convert_eq("gmime-charsets/filters/cyrillic.cp1251.txt", "cp1251",
	           "gmime-charsets/filters/cyrillic.utf-8.txt");
	convert_eq("gmime-charsets/filters/cyrillic.iso-8859-5.txt", "ISO-8859-5",
	           "gmime-charsets/filters/cyrillic.utf-8.txt");
	convert_eq("gmime-charsets/filters/cyrillic.koi8-r.txt", "koi8-r",
	           "gmime-charsets/filters/cyrillic.utf-8.txt");
	convert_eq("gmime-charsets/filters/cyrillic.utf-8.txt", NULL,
	           "gmime-charsets/filters/cyrillic.utf-8.txt");
	convert_eq("gmime-charsets/filters/japanese.iso-2022-jp.txt", "iso-2022-jp",
	           "gmime-charsets/filters/japanese.utf-8.txt");
	convert_eq("gmime-charsets/filters/japanese.shift-jis.txt", "shift_jis",
	           "gmime-charsets/filters/japanese.utf-8.txt");
	convert_eq("gmime-charsets/filters/japanese.shift-jis.txt", "Shift-JIS",
	           "gmime-charsets/filters/japanese.utf-8.txt");
	convert_eq("gmime-charsets/filters/japanese.utf-8.txt", "utf-8",
	           "gmime-charsets/filters/japanese.utf-8.txt");
}

static void test_gmime_charset_lossy(void **state)
{
	struct arena *a = arena_new();
	size_t n, wn, un, k = 0, matched = 0;
	char *in = slurp("gmime-charsets/filters/chinese.big5.txt", &n);
	char *ref = slurp("gmime-charsets/filters/chinese.utf-8.txt", &wn);
	const char *u = mime_to_utf8("big5", in, n, a, &un);

	(void)state;
	/* Big5 cannot hold the kanji: every character it does give is the next one of the
	 * reference text (a subsequence), and it gives most of them */
	for (size_t i = 0; i < un;) {
		size_t cl = utf8_seq_len((const unsigned char *)u + i, un - i);
		assert_true(cl > 0);
		while (k + cl <= wn && memcmp(ref + k, u + i, cl) != 0)
			k += utf8_seq_len((const unsigned char *)ref + k, wn - k);
		assert_true(k + cl <= wn);
		k += cl;
		i += cl;
		matched++;
	}
	assert_true(matched > 600);
	free(in);
	free(ref);

	/* labelled iso-8859-1, really windows-1252: 0x92 is a curly apostrophe, no C1 controls */
	in = slurp("gmime-charsets/filters/french-fable.cp1252.txt", &n);
	u = mime_to_utf8("iso-8859-1", in, n, a, &un);
	assert_non_null(strstr(u, "\xe2\x80\x99"));          /* U+2019 */
	assert_non_null(strstr(u, "Ma\xc3\xaetre Corbeau")); /* Maître */
	for (size_t i = 0; i + 1 < un; i++)
		assert_false((unsigned char)u[i] == 0xc2 && (unsigned char)u[i + 1] < 0xa0);
	assert_string_equal(u, mime_to_utf8("windows-1252", in, n, a, NULL));
	assert_string_equal(u, mime_to_utf8("latin1", in, n, a, NULL));
	free(in);
	arena_free(&a);
}

static void test_charset_table(void **state)
{
	static const struct {
		const char *label, *in, *want;
		size_t len; /* 0: strlen(in) */
	} t[] = {
	    /* GBK-only 镕 (E946) and a 4-byte GB18030 character under a gb2312 label */
	    {"gb2312", "\xd6\xec\xe9\x46\xbb\xf9 \x95\x32\x82\x36", "朱镕基 𠀀", 0},
	    {"GBK", "\xd6\xd0\xce\xc4", "中文", 0},
	    {"x-gbk", "\xe9\x46", "镕", 0},
	    {"euc-cn", "\xd6\xd0", "中", 0},
	    /* Big5-HKSCS-only 𥚃 under a big5 label */
	    {"big5", "\xad\xbb\xb4\xe4\x95\xa8", "香港𥚃", 0},
	    /* CP949-only 똠 under euc-kr and ks_c_5601-1987 */
	    {"euc-kr", "\x8c\x63", "똠", 0},
	    {"ks_c_5601-1987", "\x8c\x63", "똠", 0},
	    /* CP932-only ① under shift_jis */
	    {"shift_jis", "\x87\x40", "①", 0},
	    {"iso-8859-1", "\x80 \x93q\x94 caf\xe9", "€ “q” café", 0},
	    {"us-ascii", "caf\xc3\xa9", "café", 0}, /* mislabelled UTF-8 */
	    {"us-ascii", "caf\xe9", "café", 0},     /* mislabelled Latin-1 */
	    {"HZ-GB-2312", "~{<:Ky2;S{#,~}", "己所不欲，", 0},
	    {"hz-gb-2312", "a~~b ~{<:~}~\nc", "a~b 己c", 0},
	    {"utf-7", "Hi Mom -+Jjo--!", "Hi Mom -☺-!", 0},
	    {"UTF-7", "+ZeVnLIqe-", "日本語", 0},
	    {"utf-16", "\xff\xfe\x2d\x4e\x87\x65", "中文", 0},
	    {"utf-16", "\xfe\xff\x4e\x2d\x65\x87", "中文", 0},
	    {"utf-16le", "\xff\xfe\x41\x00", "A", 4},
	    {"utf-16", "A\0B\0", "AB", 4}, /* no BOM: the zero bytes say little-endian */
	    {"utf-8",
	     "a\xff"
	     "b\xe4\xb8",
	     "a\xef\xbf\xbd"
	     "b\xef\xbf\xbd\xef\xbf\xbd",
	     0},
	    {"utf-8", "\xef\xbb\xbfhi", "hi", 0},
	    {"windows-1251", "\xcf\xf0\xe8", "При", 0},
	    {"\"ISO-8859-15\"", "\xa4", "€", 0},
	    {"iso8859-2", "\xb1", "ą", 0},
	    {"iso-2022-jp", "\x1b$B$3$s\x1b(B", "こん", 0},
	    {"iso-2022-jp", "\x1b(I\x31\x1b(B", "ｱ", 0}, /* half-width katakana, real-mail habit */
	    {"euc-jp", "\xa4\xb3", "こ", 0},
	    {"x-unknown", "\xe4\xb8\xad", "中", 0}, /* unknown: guessed, UTF-8 first */
	    {"no-such-charset", "abc", "abc", 0},
	    {NULL, "\xd6\xd0\xce\xc4\xb2\xe2\xca\xd4", "中文测试", 0}, /* guessed GB18030 */
	    {NULL, "Forma\xe7\xe3o Ver\xe3o", "Formação Verão", 0},    /* guessed Latin-1 */
	    {NULL, "\xa4\xa4\xa4\xe5\xb4\xfa\xb8\xd5", "中文測試", 0}, /* guessed Big5 */
	    {NULL, "\xff\xfe\x41\x00", "A", 4},                        /* guessed by the BOM */
	    {"", "\xe2\x82\xac", "€", 0},
	};
	struct arena *a = arena_new();

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		size_t ul;
		const char *u = mime_to_utf8(t[i].label, t[i].in,
		                             t[i].len ? t[i].len : strlen(t[i].in), a, &ul);
		print_message("%s: %s\n", t[i].label ? t[i].label : "(none)", u);
		assert_true(utf8_valid(u, ul) && strlen(u) == ul);
		assert_string_equal(u, t[i].want);
	}
	assert_string_equal(mime_charset_guess("abc", 3), "UTF-8");
	assert_string_equal(mime_charset_guess("\xd6\xd0\xce\xc4", 4), "GB18030");
	assert_string_equal(mime_charset_guess("caf\xe9", 4), "WINDOWS-1252");
	arena_free(&a);
}

/* ---- header decoding (RFC 2047, RFC 2231) ---- */

static void test_header_decode_table(void **state)
{
	static const struct {
		const char *in, *want;
	} t[] = {
	    /* RFC 2047 section 8 */
	    {"=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard"},
	    {"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
	     "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	     "If you can read this you understand the example."},
	    {"(=?ISO-8859-1?Q?a?=)", "(a)"},
	    {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
	    {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
	    {"(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"},
	    {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
	    {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
	    /* RFC 2231 section 5 language suffix */
	    {"=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"},
	    /* a character split across words, in Q, in B, and mid base64 quantum */
	    {"=?gb2312?B?1g==?= =?gb2312?B?0M7E?=", "中文"},
	    {"=?utf-8?Q?=E4=B8?= =?utf-8?Q?=AD?=", "中"},
	    {"=?utf-8?B?5L?= =?utf-8?B?it?=", "中"},
	    {"=?utf-8?B?5Lit?=\r\n =?utf-8?B?5paH?=", "中文"},
	    {"=?utf-8?q?a?==?utf-8?q?b?=", "ab"},
	    /* the charset policy applies inside encoded words */
	    {"=?gb2312?B?1uzpRrv5IJUygjY=?=", "朱镕基 𠀀"},
	    {"=?big5?B?rbu05JWo?=", "香港𥚃"},
	    {"=?ks_c_5601-1987?B?jGM=?=", "똠"},
	    {"=?iso-8859-1?q?=80?=", "€"},
	    {"=?HZ-GB-2312?Q?~{<:Ky2;S{#,~}?=", "己所不欲，"},
	    {"=?UTF-7?Q?+ZeVnLIqe-?=", "日本語"},
	    {"=?x-bogus?q?=E4=B8=AD?=", "中"},
	    /* not encoded words: kept as written */
	    {"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
	    {"=?utf-8?q?no end", "=?utf-8?q?no end"},
	    {"=?utf-8?q?sp ace?=", "=?utf-8?q?sp ace?="},
	    {"a =? b", "a =? b"},
	    /* loose: words inside words, white space and controls */
	    {"Re:=?utf-8?q?x?=y", "Re:xy"},
	    {" \tpadded\t ", "padded"},
	    {"fold\r\n ed", "fold ed"},
	    {"=?utf-8?q?line=0Abreak?=", "line break"},
	    {"=?utf-8?q?=FF?=", "\xef\xbf\xbd"},
	    {"", ""},
	    /* raw 8-bit: guessed */
	    {"\xe4\xb8\xad\xe6\x96\x87", "中文"},
	    {"\xb9\xd8\xd3\xda\xcf\xc2\xd6\xdc", "关于下周"},
	};
	struct arena *a = arena_new();
	const char *s;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		size_t n;
		const char *r = mime_header_decode(t[i].in, strlen(t[i].in), NULL, a, &n);
		print_message("[%s] -> [%s]\n", t[i].in, r);
		assert_string_equal(r, t[i].want);
		assert_int_equal(n, strlen(r));
	}
	/* a charset for the raw bytes can be given */
	assert_string_equal(mime_header_decode("caf\xe9", 4, "iso-8859-1", a, NULL), "café");
	/* structured values keep their syntax and get one UTF-8 word per run */
	s = "=?gb2312?B?1tA=?= =?gb2312?B?zsQ=?= <a@b>";
	assert_string_equal(mime_header_prepare(s, strlen(s), NULL, a),
	                    "=?UTF-8?B?5Lit5paH?= <a@b>");
	assert_string_equal(mime_header_prepare("a; name*=gb2312''%D6%D0", 23, NULL, a),
	                    "a; name*=GB18030''%D6%D0");
	assert_string_equal(mime_header_prepare("a; name*0*=big5''%AD%BB", 23, NULL, a),
	                    "a; name*0*=BIG5-HKSCS''%AD%BB");
	assert_string_equal(mime_header_prepare("a; name*=utf-8''x", 17, NULL, a),
	                    "a; name*=UTF-8''x");
	assert_string_equal(mime_header_prepare("x\r\n y", 5, NULL, a), "x y");
	arena_free(&a);
}

/* Chinese mail as Chinese clients send it. */
static void test_chinese_messages(void **state)
{
	struct arena *a = arena_new();
	struct mime_msg *m;
	const char *d;
	size_t dl;
	struct err e = {0};
	const char *msg;

	(void)state;
	/* gb2312 labels carrying GBK and GB18030 characters: subject, name, body, filename */
	msg = "From: =?gb2312?B?1uzpRrv5?= <zhu@example.cn>\r\n"
	      "To: \"=?GB2312?B?1tDOxA==?=\" <a@example.cn>, =?gbk?Q?=D6=D0?= <b@example.cn>\r\n"
	      "Subject: =?gb2312?B?1uzpRrv5IJUygjY=?=\r\n"
	      "MIME-Version: 1.0\r\n"
	      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	      "\r\n"
	      "--b1\r\n"
	      "Content-Type: text/plain; charset=gb2312\r\n"
	      "Content-Transfer-Encoding: base64\r\n"
	      "\r\n"
	      "1uzpRrv5\r\n"
	      "--b1\r\n"
	      "Content-Type: application/msword; name=\"=?gb2312?B?sai45g==?=.doc\"\r\n"
	      "Content-Disposition: attachment; filename*=gb18030''%D6%D0%CE%C4%E9%46.doc\r\n"
	      "Content-Transfer-Encoding: base64\r\n"
	      "\r\n"
	      "AAEC\r\n"
	      "--b1\r\n"
	      "Content-Type: application/pdf\r\n"
	      "Content-Disposition: attachment;\r\n"
	      " filename*0*=gb2312''%D6%D0%CE; filename*1*=%C4%E9%46.pdf\r\n"
	      "\r\n"
	      "%PDF\r\n"
	      "--b1\r\n"
	      "Content-Type: application/zip; name=\"=?gb2312?B?sai45g==?=.zip\"\r\n"
	      "\r\n"
	      "PK\r\n"
	      "--b1\r\n"
	      "Content-Type: text/plain; charset=hz-gb-2312\r\n"
	      "Content-Disposition: attachment; filename=hz.txt\r\n"
	      "\r\n"
	      "~{<:Ky2;S{#,~}\r\n"
	      "--b1--\r\n";
	m = parse_str(msg, a);
	check_invariants(msg, strlen(msg), m, a);
	assert_string_equal(m->subject, "朱镕基 𠀀");
	assert_string_equal(addrs(&m->from, a), "朱镕基 <zhu@example.cn>");
	assert_string_equal(addrs(&m->to, a), "中文 <a@example.cn>, 中 <b@example.cn>");
	assert_string_equal(m->text, "朱镕基");
	assert_string_equal(m->parts[2].filename, "中文镕.doc"); /* disposition filename wins */
	assert_string_equal(m->parts[3].filename, "中文镕.pdf"); /* RFC 2231 continuation */
	assert_string_equal(m->parts[4].filename, "报告.zip");   /* 2047 word in a quoted name */
	assert_string_equal(attachments(m, a), "中文镕.doc|中文镕.pdf|报告.zip|hz.txt");
	assert_string_equal(m->attach_text, "己所不欲，");
	assert_int_equal(mime_part_content(msg, strlen(msg), m, "2", a, &d, &dl, &e), 0);
	assert_int_equal(dl, 3);
	assert_memory_equal(d, "\0\1\2", 3);
	assert_false(m->eight_bit_headers);

	/* unlabelled 8-bit GB18030 header and body, as old Chinese clients send */
	msg = "From: \xd5\xc5\xc8\xfd <zhang@example.cn>\n"
	      "Subject: \xb9\xd8\xd3\xda\xcf\xc2\xd6\xdc\xb5\xc4\xbb\xe1\xd2\xe9\xb0\xb2\xc5\xc5\n"
	      "Content-Type: text/plain\n"
	      "Content-Disposition: inline; filename=\"\xd6\xd0\xce\xc4.txt\"\n"
	      "\n"
	      "\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7\n";
	m = parse_str(msg, a);
	assert_true(m->eight_bit_headers);
	assert_string_equal(m->subject, "关于下周的会议安排");
	assert_string_equal(addrs(&m->from, a), "张三 <zhang@example.cn>");
	assert_string_equal(m->parts[0].filename, "中文.txt");
	assert_string_equal(m->text, "你好，世界\n");

	/* raw UTF-8 headers (RFC 6532) next to them are not mistaken */
	msg = "Subject: \xe4\xbd\xa0\xe5\xa5\xbd\nFrom: \xe6\x9d\x8e\xe5\x9b\x9b "
	      "<li@example.cn>\n\nx";
	m = parse_str(msg, a);
	assert_string_equal(m->subject, "你好");
	assert_string_equal(addrs(&m->from, a), "李四 <li@example.cn>");

	/* HZ, Big5-HKSCS, UTF-7 and UTF-16 bodies */
	msg = "Subject: hz\nContent-Type: text/plain; charset=HZ-GB-2312\n\n~{<:Ky2;S{#,~}";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "己所不欲，");
	msg = "Subject: big5\nContent-Type: text/plain; charset=big5\n\n\xad\xbb\xb4\xe4\x95\xa8";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "香港𥚃");
	msg = "Subject: utf7\nContent-Type: text/plain; charset=utf-7\n\n+ZeVnLIqe-";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "日本語");
	msg = "Subject: utf16\nContent-Type: text/plain; charset=utf-16\n"
	      "Content-Transfer-Encoding: base64\n\n//4tTodlDQAKAA==\n";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "中文\n");
	msg = "Subject: =?utf-16le?b?LU6HZQ==?=\nContent-Type: text/plain; charset=UTF-16LE\n"
	      "Content-Transfer-Encoding: base64\n\n//4tTodl\n";
	m = parse_str(msg, a);
	assert_string_equal(m->subject, "中文");
	assert_string_equal(m->text, "中文");

	/* an HTML body with only a <meta> charset */
	msg = "Subject: meta\nContent-Type: text/html\n\n"
	      "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">"
	      "</head><body><p>\xd6\xd0\xce\xc4</p></body></html>";
	m = parse_str(msg, a);
	assert_string_equal(m->text, "中文");
	assert_non_null(strstr(m->html, "<p>中文</p>"));
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gmime_charset_pairs),
	    cmocka_unit_test(test_gmime_charset_lossy),
	    cmocka_unit_test(test_charset_table),
	    cmocka_unit_test(test_header_decode_table),
	    cmocka_unit_test(test_chinese_messages),
	};
	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
