/* mime_charset.c: charset labels, conversion to UTF-8, HZ, guessing, and the charset side of
 * header decoding (RFC 2047 encoded words, RFC 2231 parameter labels, raw 8-bit bytes).
 *
 * Policy (mime.h): labels are read as the superset real mail needs (gb2312/gbk -> GB18030,
 * big5 -> BIG5-HKSCS, ks_c_5601-1987/euc-kr -> CP949, iso-8859-1 -> WINDOWS-1252, shift_jis ->
 * CP932, iso-2022-jp -> ISO-2022-JP-2); HZ (RFC 1843) is decoded here because glibc has no HZ;
 * unlabelled or unknown text is tried as UTF-8, then GB18030, then Big5, then WINDOWS-1252 (see
 * utf8_mostly() and cjk_guess()). Bytes that do
 * not convert become U+FFFD: conversion never fails and its output is always valid UTF-8.
 *
 * Why headers are decoded here and not by GMime: GMime converts encoded words and RFC 2231
 * values with the label as written (plain iconv "gb2312" loses every GBK-only character), puts
 * '?' for bad bytes, has no HZ, passes unlabelled 8-bit parameter bytes through as invalid
 * UTF-8, and GMime 3.2.13 drops text when one character is split across two encoded words
 * (=?gb2312?B?1g==?= =?gb2312?B?0M7E?= decodes to ""). So mime_header_decode() decodes
 * unstructured fields completely, and mime_header_prepare() rewrites structured fields (address
 * lists, Content-Type, Content-Disposition) into a form where GMime only has to parse syntax:
 * raw 8-bit bytes become UTF-8, each run of adjacent encoded words becomes one
 * =?UTF-8?B?...?= word holding our decoding, and RFC 2231 charset labels are replaced by the
 * mapped name before GMime's iconv sees them. */
#include "mime.h"

#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/codec.h"
#include "lib/utf8.h"
#include "lib/util.h"

enum cs_kind {
	CS_GUESS, /* unlabelled or unknown: UTF-8, then GB18030, then WINDOWS-1252 */
	CS_UTF8,  /* validated, bad bytes repaired */
	CS_ASCII, /* us-ascii: UTF-8 when the 8-bit bytes form valid UTF-8, else WINDOWS-1252 */
	CS_1252,  /* our own table (glibc leaves 5 bytes undefined; we follow WHATWG) */
	CS_HZ,    /* RFC 1843, decoded here */
	CS_UTF16, /* BOM, else a zero-byte heuristic, else big-endian (RFC 2781) */
	CS_ICONV, /* glibc iconv under name */
};

struct cs {
	enum cs_kind kind;
	const char *name; /* iconv name for CS_ICONV (may point into buf) */
	char buf[48];
};

/* Label (lower-case) -> what we read it as. Labels not listed go to iconv as written. */
static const struct {
	const char *label;
	enum cs_kind kind;
	const char *name;
} cs_table[] = {
    /* clang-format off */
	{"us-ascii", CS_ASCII, NULL}, {"ascii", CS_ASCII, NULL}, {"us", CS_ASCII, NULL},
	{"ansi_x3.4-1968", CS_ASCII, NULL}, {"ansi_x3.4-1986", CS_ASCII, NULL},
	{"iso646-us", CS_ASCII, NULL}, {"csascii", CS_ASCII, NULL}, {"cp367", CS_ASCII, NULL},
	{"iso-8859-1", CS_1252, NULL}, {"iso8859-1", CS_1252, NULL}, {"iso_8859-1", CS_1252, NULL},
	{"iso88591", CS_1252, NULL}, {"iso_8859-1:1987", CS_1252, NULL}, {"latin1", CS_1252, NULL},
	{"latin-1", CS_1252, NULL}, {"l1", CS_1252, NULL}, {"cp819", CS_1252, NULL},
	{"ibm819", CS_1252, NULL}, {"iso-ir-100", CS_1252, NULL}, {"csisolatin1", CS_1252, NULL},
	{"windows-1252", CS_1252, NULL}, {"cp1252", CS_1252, NULL}, {"x-cp1252", CS_1252, NULL},
	{"win-1252", CS_1252, NULL}, {"ms-ansi", CS_1252, NULL},
	{"gb2312", CS_ICONV, "GB18030"}, {"gbk", CS_ICONV, "GB18030"}, {"cp936", CS_ICONV, "GB18030"},
	{"x-gbk", CS_ICONV, "GB18030"}, {"euc-cn", CS_ICONV, "GB18030"},
	{"euccn", CS_ICONV, "GB18030"}, {"x-euc-cn", CS_ICONV, "GB18030"},
	{"gb_2312-80", CS_ICONV, "GB18030"}, {"gb2312-80", CS_ICONV, "GB18030"},
	{"gb_2312", CS_ICONV, "GB18030"}, {"csgb2312", CS_ICONV, "GB18030"},
	{"chinese", CS_ICONV, "GB18030"}, {"iso-ir-58", CS_ICONV, "GB18030"},
	{"ms936", CS_ICONV, "GB18030"}, {"windows-936", CS_ICONV, "GB18030"},
	{"gb18030", CS_ICONV, "GB18030"}, {"x-gb18030", CS_ICONV, "GB18030"},
	{"big5", CS_ICONV, "BIG5-HKSCS"}, {"big-5", CS_ICONV, "BIG5-HKSCS"},
	{"cn-big5", CS_ICONV, "BIG5-HKSCS"}, {"csbig5", CS_ICONV, "BIG5-HKSCS"},
	{"x-x-big5", CS_ICONV, "BIG5-HKSCS"}, {"x-big5", CS_ICONV, "BIG5-HKSCS"},
	{"big5-hkscs", CS_ICONV, "BIG5-HKSCS"}, {"big5hkscs", CS_ICONV, "BIG5-HKSCS"},
	{"cp950", CS_ICONV, "BIG5-HKSCS"}, {"windows-950", CS_ICONV, "BIG5-HKSCS"},
	{"ks_c_5601-1987", CS_ICONV, "CP949"}, {"ks_c_5601-1989", CS_ICONV, "CP949"},
	{"ks_c_5601", CS_ICONV, "CP949"}, {"ksc5601", CS_ICONV, "CP949"},
	{"ksc_5601", CS_ICONV, "CP949"}, {"euc-kr", CS_ICONV, "CP949"}, {"euckr", CS_ICONV, "CP949"},
	{"korean", CS_ICONV, "CP949"}, {"cp949", CS_ICONV, "CP949"},
	{"windows-949", CS_ICONV, "CP949"}, {"uhc", CS_ICONV, "CP949"},
	{"x-uhc", CS_ICONV, "CP949"}, {"csksc56011987", CS_ICONV, "CP949"},
	{"iso-ir-149", CS_ICONV, "CP949"}, {"cseuckr", CS_ICONV, "CP949"},
	{"shift_jis", CS_ICONV, "CP932"}, {"shift-jis", CS_ICONV, "CP932"},
	{"shiftjis", CS_ICONV, "CP932"}, {"sjis", CS_ICONV, "CP932"}, {"x-sjis", CS_ICONV, "CP932"},
	{"ms_kanji", CS_ICONV, "CP932"}, {"csshiftjis", CS_ICONV, "CP932"},
	{"windows-31j", CS_ICONV, "CP932"}, {"cp932", CS_ICONV, "CP932"},
	{"ms932", CS_ICONV, "CP932"}, {"x-ms-cp932", CS_ICONV, "CP932"},
	{"euc-jp", CS_ICONV, "EUC-JP"}, {"eucjp", CS_ICONV, "EUC-JP"}, {"x-euc-jp", CS_ICONV, "EUC-JP"},
	/* glibc's ISO-2022-JP-2 also reads JIS X 0201 katakana (ESC ( I) that real mail uses */
	{"iso-2022-jp", CS_ICONV, "ISO-2022-JP-2"}, {"csiso2022jp", CS_ICONV, "ISO-2022-JP-2"},
	{"iso-2022-jp-1", CS_ICONV, "ISO-2022-JP-2"}, {"iso-2022-jp-2", CS_ICONV, "ISO-2022-JP-2"},
	{"utf-8", CS_UTF8, NULL}, {"utf8", CS_UTF8, NULL}, {"unicode-1-1-utf-8", CS_UTF8, NULL},
	{"x-unicode20utf8", CS_UTF8, NULL},
	{"utf-7", CS_ICONV, "UTF-7"}, {"utf7", CS_ICONV, "UTF-7"},
	{"unicode-1-1-utf-7", CS_ICONV, "UTF-7"}, {"csunicode11utf7", CS_ICONV, "UTF-7"},
	{"x-unicode-2-0-utf-7", CS_ICONV, "UTF-7"},
	{"utf-16", CS_UTF16, NULL}, {"utf16", CS_UTF16, NULL}, {"unicode", CS_UTF16, NULL},
	{"ucs-2", CS_UTF16, NULL}, {"csunicode", CS_UTF16, NULL},
	{"utf-16le", CS_ICONV, "UTF-16LE"}, {"utf-16be", CS_ICONV, "UTF-16BE"},
	{"unicodefffe", CS_ICONV, "UTF-16BE"},
	{"hz-gb-2312", CS_HZ, NULL}, {"hz", CS_HZ, NULL}, {"x-hz", CS_HZ, NULL},
	{"unknown", CS_GUESS, NULL}, {"x-unknown", CS_GUESS, NULL},
	{"unknown-8bit", CS_GUESS, NULL}, {"x-user-defined", CS_GUESS, NULL},
	{"8bit", CS_GUESS, NULL}, {"default", CS_GUESS, NULL}, {"none", CS_GUESS, NULL},
    /* clang-format on */
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool is_label_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == ':' || c == '+' || c == '(' || c == ')';
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* iso-8859-N and windows-125N spelt the ways mail spells them. */
static bool cs_pattern(const char *l, struct cs *cs)
{
	static const char *const iso[] = {"iso-8859-", "iso8859-", "iso_8859-", "iso8859",
	                                  "iso-8859"};
	static const char *const win[] = {"windows-", "cp", "x-cp", "win-", "win"};
	const char *digits = NULL;

	for (size_t i = 0; i < ARRAY_LEN(iso) && !digits; i++)
		if (has_prefix(l, iso[i]) && l[strlen(iso[i])] >= '1' && l[strlen(iso[i])] <= '9')
			digits = l + strlen(iso[i]);
	if (digits) {
		int n = atoi(digits);
		if (n < 2 || n > 16)
			return false;
		snprintf(cs->buf, sizeof(cs->buf), "ISO-8859-%d", n);
		cs->kind = CS_ICONV;
		cs->name = cs->buf;
		return true;
	}
	for (size_t i = 0; i < ARRAY_LEN(win) && !digits; i++)
		if (has_prefix(l, win[i]) && has_prefix(l + strlen(win[i]), "125") &&
		    l[strlen(win[i]) + 3] >= '0' && l[strlen(win[i]) + 3] <= '8' &&
		    l[strlen(win[i]) + 4] == '\0')
			digits = l + strlen(win[i]);
	if (digits) {
		snprintf(cs->buf, sizeof(cs->buf), "WINDOWS-%.4s", digits);
		cs->kind = strcmp(digits, "1252") == 0 ? CS_1252 : CS_ICONV;
		cs->name = cs->buf;
		return true;
	}
	return false;
}

/* Resolve a label as written (may be NULL, quoted, padded, mixed case). */
static void cs_resolve(const char *label, struct cs *cs)
{
	char l[sizeof(cs->buf)];
	size_t n = 0;

	cs->kind = CS_GUESS;
	cs->name = NULL;
	if (label == NULL)
		return;
	while (*label == ' ' || *label == '\t' || *label == '"' || *label == '\'')
		label++;
	for (; *label && *label != '"' && *label != '\'' && *label != ' ' && *label != '\t' &&
	       *label != ';';
	     label++) {
		int c = lower((unsigned char)*label);
		if (!is_label_char(c) || n + 1 >= sizeof(l))
			return; /* odd or overlong label: guess */
		l[n++] = (char)c;
	}
	l[n] = '\0';
	if (n == 0)
		return;
	for (size_t i = 0; i < ARRAY_LEN(cs_table); i++) {
		if (strcmp(cs_table[i].label, l) == 0) {
			cs->kind = cs_table[i].kind;
			cs->name = cs_table[i].name;
			return;
		}
	}
	if (cs_pattern(l, cs))
		return;
	memcpy(cs->buf, l, n + 1);
	cs->kind = CS_ICONV;
	cs->name = cs->buf;
}

/* ---- output helpers ---- */

/* From i, the index of the next byte at or after it that is not ASCII (n if none): eight
 * bytes at a time, since most of any mail is ASCII. */
static size_t skip_ascii(const unsigned char *p, size_t i, size_t n)
{
	while (i + 8 <= n) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if ((w & 0x8080808080808080ull) != 0)
			break;
		i += 8;
	}
	while (i < n && p[i] < 0x80) /* at most the eight bytes that hold a non-ASCII one */
		i++;
	return i;
}

/* utf8_valid(), with ASCII skipped quickly. */
static bool utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while ((i = skip_ascii(p, i, n)) < n) {
		size_t k = utf8_seq_len(p + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static const char *copy_out(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	*len_r = n;
	return arena_strndup(a, in, n);
}

/* Valid UTF-8 copied; each byte that does not start a valid sequence becomes U+FFFD. A leading
 * byte-order mark is dropped. */
static const char *utf8_repair(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	const unsigned char *p = (const unsigned char *)in;
	char *out;
	size_t o = 0;

	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		p += 3;
		n -= 3;
	}
	if (utf8_ok((const char *)p, n))
		return copy_out((const char *)p, n, a, len_r);
	out = arena_alloc_raw(a, 3 * n + 1);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len(p + i, n - i);
		if (k == 0) {
			o += utf8_put(out + o, 0xfffd);
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* WINDOWS-1252 0x80-0x9f; the five holes map to the C1 controls as in the WHATWG standard. */
static const unsigned short cp1252_hi[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

static const char *cp1252_convert(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	char *out = arena_alloc_raw(a, 3 * n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned c = (unsigned char)in[i];
		if (c < 0x80)
			out[o++] = (char)c;
		else
			o += utf8_put(out + o, c < 0xa0 ? cp1252_hi[c - 0x80] : c);
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* iconv with replacement: EILSEQ emits U+FFFD and skips one byte, a truncated sequence at the end
 * emits one U+FFFD. NULL when iconv does not know the name. */
static char *grow(struct arena *a, char *out, size_t o, size_t *cap)
{
	size_t ncap = *cap * 2 + 16;
	char *nout = arena_alloc_raw(a, ncap + 1);
	memcpy(nout, out, o);
	*cap = ncap;
	return nout;
}

static const char *iconv_convert(const char *name, const char *in, size_t n, struct arena *a,
                                 size_t *len_r)
{
	iconv_t cd = iconv_open("UTF-8", name);
	char *ip = (char *)(uintptr_t)in, *out, *op;
	size_t ileft = n, cap = 2 * n + 16, o = 0, oleft;

	if (cd == (iconv_t)-1)
		return NULL;
	out = arena_alloc_raw(a, cap + 1);
	while (ileft > 0) {
		op = out + o;
		oleft = cap - o;
		size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
		int e = errno;
		o = (size_t)(op - out);
		if (r != (size_t)-1)
			continue;
		if (e == E2BIG || cap - o < 4) {
			out = grow(a, out, o, &cap);
			if (e == E2BIG)
				continue;
		}
		o += utf8_put(out + o, 0xfffd);
		if (e == EILSEQ) {
			ip++;
			ileft--;
		} else {
			ileft = 0; /* EINVAL: incomplete sequence at the end */
		}
	}
	for (;;) { /* return to the initial shift state (ISO-2022-JP, UTF-7) */
		op = out + o;
		oleft = cap - o;
		size_t r = iconv(cd, NULL, NULL, &op, &oleft);
		o = (size_t)(op - out);
		if (r != (size_t)-1 || errno != E2BIG)
			break;
		out = grow(a, out, o, &cap);
	}
	iconv_close(cd);
	out[o] = '\0';
	/* UTF-16LE/BE keep a BOM as U+FEFF: drop it; repair anything iconv let through */
	if (o >= 3 && (unsigned char)out[0] == 0xef && (unsigned char)out[1] == 0xbb &&
	    (unsigned char)out[2] == 0xbf) {
		out += 3;
		o -= 3;
	}
	if (!utf8_ok(out, o))
		return utf8_repair(out, o, a, len_r);
	*len_r = o;
	return out;
}

static const char *must_iconv(const char *name, const char *in, size_t n, struct arena *a,
                              size_t *len_r)
{
	const char *r = iconv_convert(name, in, n, a, len_r);
	return r ? r : cp1252_convert(in, n, a, len_r); /* glibc without gconv modules */
}

/* RFC 1843: ~{ enters GB mode, ~} leaves it, ~~ is ~, ~ at the end of a line joins lines; in GB
 * mode each pair of bytes 0x21-0x7e is a GB2312 character with the high bits cleared. */
static const char *hz_convert(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	char *gb = xmalloc(n + 1);
	const char *r;
	size_t o = 0;
	bool gbmode = false;

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)in[i];
		if (c == '~' && i + 1 < n) {
			char d = in[i + 1];
			if (d == '~' || d == '{' || d == '}' || d == '\n') {
				if (d == '~')
					gb[o++] = '~';
				gbmode = d == '{' ? true : d == '}' ? false : gbmode;
				i += 2;
				continue;
			}
			if (d == '\r' && i + 2 < n && in[i + 2] == '\n') {
				i += 3;
				continue;
			}
		}
		if (gbmode && c >= 0x21 && c <= 0x7e && i + 1 < n &&
		    (unsigned char)in[i + 1] >= 0x21 && (unsigned char)in[i + 1] <= 0x7e) {
			gb[o++] = (char)(c | 0x80);
			gb[o++] = (char)(in[i + 1] | 0x80);
			i += 2;
			continue;
		}
		if (c == '\n')
			gbmode = false; /* GB mode does not survive a line end */
		gb[o++] = (char)c;
		i++;
	}
	r = must_iconv("GB18030", gb, o, a, len_r);
	free(gb);
	return r;
}

/* UTF-16 without an explicit byte order: BOM, else whichever half has more zero bytes (ASCII
 * text), else big-endian as RFC 2781 says. */
static const char *utf16_convert(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t zeven = 0, zodd = 0;

	if (n >= 2 && p[0] == 0xff && p[1] == 0xfe)
		return must_iconv("UTF-16LE", in + 2, n - 2, a, len_r);
	if (n >= 2 && p[0] == 0xfe && p[1] == 0xff)
		return must_iconv("UTF-16BE", in + 2, n - 2, a, len_r);
	for (size_t i = 0; i + 1 < n && i < 512; i += 2) {
		zeven += p[i] == 0;
		zodd += p[i + 1] == 0;
	}
	return must_iconv(zodd > zeven ? "UTF-16LE" : "UTF-16BE", in, n, a, len_r);
}

/* Guessing between GB18030 and Big5 for 8-bit text that is not UTF-8. Each must find the bytes
 * well-formed and at least half of the multi-byte characters common in it: for GB18030 GB2312
 * level 1 hanzi (lead 0xb0-0xd7), CJK punctuation (0xa1-0xa3) and 4-byte sequences (Latin text
 * cannot form them by accident); for Big5 the frequent hanzi block A440-C67E and the symbols
 * A140-A3FE. When both qualify the one with more common characters wins, GB18030 on a tie.
 * Without the commonness test Latin-1 "Formação" reads as GB18030 "Forma玢o". Returns the
 * iconv name or NULL. */
static const char *cjk_guess(const unsigned char *s, size_t n)
{
	size_t gb_chars = 0, gb_common = 0, b5_chars = 0, b5_common = 0;
	bool gb_ok = true, b5_ok = true;

	for (size_t i = 0; i < n && gb_ok;) { /* GB18030: 1, 2 or 4 bytes */
		unsigned c = s[i], c2 = i + 1 < n ? s[i + 1] : 0;
		if (c < 0x80) {
			i++;
		} else if (c == 0x80 || c == 0xff || i + 1 >= n) {
			gb_ok = false;
		} else if ((c2 >= 0x40 && c2 <= 0x7e) || (c2 >= 0x80 && c2 <= 0xfe)) {
			gb_chars++;
			gb_common +=
			    c2 >= 0xa1 && ((c >= 0xb0 && c <= 0xd7) || (c >= 0xa1 && c <= 0xa3));
			i += 2;
		} else if (c2 >= 0x30 && c2 <= 0x39 && i + 3 < n && s[i + 2] >= 0x81 &&
		           s[i + 2] <= 0xfe && s[i + 3] >= 0x30 && s[i + 3] <= 0x39) {
			gb_chars++;
			gb_common++;
			i += 4;
		} else {
			gb_ok = false;
		}
	}
	for (size_t i = 0; i < n && b5_ok;) { /* Big5: 1 or 2 bytes */
		unsigned c = s[i], c2 = i + 1 < n ? s[i + 1] : 0;
		if (c < 0x80) {
			i++;
		} else if (c >= 0x81 && c != 0xff && i + 1 < n &&
		           ((c2 >= 0x40 && c2 <= 0x7e) || (c2 >= 0xa1 && c2 <= 0xfe))) {
			b5_chars++;
			b5_common += c >= 0xa1 && c <= 0xc6;
			i += 2;
		} else {
			b5_ok = false;
		}
	}
	gb_ok = gb_ok && 2 * gb_common >= gb_chars;
	b5_ok = b5_ok && 2 * b5_common >= b5_chars;
	/* compare the shares: gb_common / gb_chars against b5_common / b5_chars */
	if (gb_ok && (!b5_ok || gb_common * b5_chars >= b5_common * gb_chars))
		return "GB18030";
	return b5_ok ? "BIG5-HKSCS" : NULL;
}

/* UTF-8 with a few bad bytes (a name cut in the middle of a character, one stray byte): at
 * least 8 valid multi-byte characters per bad byte. Text in other charsets rarely forms valid
 * multi-byte UTF-8 sequences by chance. */
static bool utf8_mostly(const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t good = 0, bad = 0;

	for (size_t i = 0; (i = skip_ascii(p, i, n)) < n;) {
		size_t k = utf8_seq_len(p + i, n - i);
		if (k == 0) {
			bad++;
			i++;
		} else {
			good += k > 1;
			i += k;
		}
	}
	return bad == 0 || (good > 0 && bad * 8 <= good);
}

const char *mime_charset_guess(const char *in, size_t n)
{
	const char *cjk;

	if (utf8_mostly(in, n))
		return "UTF-8";
	cjk = cjk_guess((const unsigned char *)in, n);
	return cjk ? cjk : "WINDOWS-1252";
}

static const char *guess_convert(const char *in, size_t n, struct arena *a, size_t *len_r)
{
	const unsigned char *p = (const unsigned char *)in;
	const char *cjk;

	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff)))
		return utf16_convert(in, n, a, len_r);
	if (utf8_mostly(in, n))
		return utf8_repair(in, n, a, len_r); /* drops a BOM */
	if ((cjk = cjk_guess(p, n)) != NULL)
		return must_iconv(cjk, in, n, a, len_r);
	return cp1252_convert(in, n, a, len_r);
}

static const char *convert(const struct cs *cs, const char *in, size_t n, struct arena *a,
                           size_t *len_r)
{
	const char *r;

	switch (cs->kind) {
	case CS_UTF8:
		return utf8_repair(in, n, a, len_r);
	case CS_ASCII:
		if (utf8_ok(in, n))
			return copy_out(in, n, a, len_r);
		return cp1252_convert(in, n, a, len_r);
	case CS_1252:
		return cp1252_convert(in, n, a, len_r);
	case CS_HZ:
		return hz_convert(in, n, a, len_r);
	case CS_UTF16:
		return utf16_convert(in, n, a, len_r);
	case CS_ICONV:
		r = iconv_convert(cs->name, in, n, a, len_r);
		if (r != NULL)
			return r;
		break;
	case CS_GUESS:
		break;
	}
	return guess_convert(in, n, a, len_r);
}

const char *mime_to_utf8(const char *charset, const char *in, size_t n, struct arena *a,
                         size_t *len_r)
{
	struct cs cs;
	size_t dummy;

	if (len_r == NULL)
		len_r = &dummy;
	if (n == 0) {
		*len_r = 0;
		return arena_strdup(a, "");
	}
	cs_resolve(charset, &cs);
	return convert(&cs, in, n, a, len_r);
}

/* ---- RFC 2047 encoded words ---- */

/* A growable heap string for building header values (freed by the caller). */
struct sb {
	char *p;
	size_t n, cap;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2 + 32;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/* Decoded header text with control characters (an encoded "=0A", a raw NUL) as spaces, so a
 * display name or subject never carries a line break. */
static void sb_add_clean(struct sb *b, const char *s, size_t n)
{
	size_t start = b->n;
	sb_add(b, s, n);
	for (size_t i = start; i < b->n; i++)
		if ((unsigned char)b->p[i] < 0x20 || b->p[i] == 0x7f)
			b->p[i] = ' ';
}

struct word {
	const char *charset; /* not terminated: charset_len bytes, RFC 2231 "*lang" cut off */
	size_t charset_len;
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t text_len;
	size_t len; /* bytes of the whole word */
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* =?charset?B|Q?text?= at s (RFC 2047 section 2); no white space inside. */
static bool word_parse(const char *s, size_t n, struct word *w)
{
	size_t i = 2, cs_end, t;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return false;
	while (i < n && s[i] != '?' && s[i] > ' ' && (unsigned char)s[i] < 0x7f && i < 66)
		i++;
	if (i >= n || s[i] != '?' || i == 2)
		return false;
	cs_end = i;
	if (i + 2 >= n || s[i + 2] != '?')
		return false;
	w->enc = (char)lower((unsigned char)s[i + 1]);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	t = i + 3;
	for (i = t; i + 1 < n; i++) {
		if (s[i] == '?' && s[i + 1] == '=')
			break;
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f || s[i] == '?')
			return false;
	}
	if (i + 1 >= n)
		return false;
	w->charset = s + 2;
	w->charset_len = cs_end - 2;
	for (size_t k = 0; k < w->charset_len; k++)
		if (w->charset[k] == '*')
			w->charset_len = k;
	w->text = s + t;
	w->text_len = i - t;
	w->len = i + 2;
	return w->charset_len > 0;
}

struct b64state {
	unsigned bits, nbits;
};

/* Tolerant base64: stray characters ignored, '=' ends a quantum, state carried from word to
 * word so text split mid-quantum across words still decodes. */
static void b64_feed(struct b64state *st, const char *s, size_t n, struct sb *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (s[i] == '=') {
			st->bits = st->nbits = 0;
			continue;
		}
		if (v < 0)
			continue;
		st->bits = (st->bits << 6) | (unsigned)v;
		st->nbits += 6;
		if (st->nbits >= 8) {
			char c = (char)((st->bits >> (st->nbits - 8)) & 0xff);
			st->nbits -= 8;
			sb_add(out, &c, 1);
		}
	}
}

static void q_feed(const char *s, size_t n, struct sb *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		           hexval((unsigned char)s[i + 2]) >= 0) {
			c = (char)(hexval((unsigned char)s[i + 1]) * 16 +
			           hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		sb_add(out, &c, 1);
	}
}

static bool is_lwsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The decoding of a run of encoded words that starts at s (one is there): words separated only
 * by white space are one run (RFC 2047 section 6.2); consecutive words in one charset are joined
 * as bytes before conversion, so a character split across two words survives. Appends UTF-8 to
 * out and returns the bytes of input consumed. */
static size_t run_decode(const char *s, size_t n, struct arena *tmp, struct sb *out)
{
	struct word w, next;
	struct sb bytes = {0};
	struct b64state st = {0, 0};
	size_t pos = 0, end, ulen;
	const char *u;
	char cset[72];

	if (!word_parse(s, n, &w))
		return 0;
	memcpy(cset, w.charset, w.charset_len);
	cset[w.charset_len] = '\0';
	for (;;) {
		if (w.enc == 'b') {
			b64_feed(&st, w.text, w.text_len, &bytes);
		} else {
			st.bits = st.nbits = 0;
			q_feed(w.text, w.text_len, &bytes);
		}
		pos += w.len;
		end = pos;
		/* look past white space (or none: broken encoders) for another word */
		size_t k = pos;
		while (k < n && is_lwsp((unsigned char)s[k]))
			k++;
		if (!word_parse(s + k, n - k, &next))
			break;
		if (next.charset_len != strlen(cset) ||
		    strncasecmp(next.charset, cset, next.charset_len) != 0) {
			u = mime_to_utf8(cset, bytes.p ? bytes.p : "", bytes.n, tmp, &ulen);
			sb_add_clean(out, u, ulen);
			bytes.n = 0;
			st.bits = st.nbits = 0;
			memcpy(cset, next.charset, next.charset_len);
			cset[next.charset_len] = '\0';
		}
		pos = k;
		w = next;
	}
	if (bytes.n > 0) {
		u = mime_to_utf8(cset, bytes.p, bytes.n, tmp, &ulen);
		sb_add_clean(out, u, ulen);
	}
	free(bytes.p);
	return end;
}

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Raw header bytes as UTF-8 (charset NULL: guessed). */
static const char *raw_to_utf8(const char *v, size_t n, const char *charset, struct arena *a,
                               size_t *len_r)
{
	if (!has_8bit(v, n)) {
		*len_r = n;
		return v;
	}
	return mime_to_utf8(charset ? charset : mime_charset_guess(v, n), v, n, a, len_r);
}

const char *mime_header_decode(const char *value, size_t n, const char *charset, struct arena *a,
                               size_t *len_r)
{
	struct sb out = {0};
	const char *u, *r;
	size_t un, o, s, e;
	size_t dummy;

	if (len_r == NULL)
		len_r = &dummy;
	u = raw_to_utf8(value, n, charset, a, &un);
	sb_add(&out, "", 0);
	for (size_t i = 0; i < un;) {
		char c = u[i];
		if (c == '=' && i + 1 < un && u[i + 1] == '?') {
			size_t k = run_decode(u + i, un - i, a, &out);
			if (k > 0) {
				i += k;
				continue;
			}
		}
		if (c == '\r' || c == '\n') { /* RFC 5322 section 2.2.3 unfolding */
			i++;
			continue;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f) /* tab, NUL, other controls */
			c = ' ';
		sb_add(&out, &c, 1);
		i++;
	}
	/* trim the white space around the value (the space after the colon, folding) */
	o = out.n;
	s = 0;
	while (s < o && (out.p[s] == ' ' || out.p[s] == '\t'))
		s++;
	e = o;
	while (e > s && (out.p[e - 1] == ' ' || out.p[e - 1] == '\t'))
		e--;
	r = arena_strndup(a, out.p + s, e - s);
	*len_r = e - s;
	free(out.p);
	if (!utf8_ok(r, *len_r)) /* decoded words are valid; this guards odd input */
		r = utf8_repair(r, *len_r, a, len_r);
	return r;
}

/* In value (UTF-8), give every RFC 2231 charset label (name*=cs'lang'... or name*0*=cs'...) the
 * name we read it as, so GMime's iconv converts with the superset. */
static void rfc2231_relabel(const char *v, size_t n, struct sb *out)
{
	size_t i = 0, last = 0;

	while (i + 1 < n) {
		if (v[i] == '*' && v[i + 1] == '=') {
			size_t k = i + 2, cs_start, cs_end;
			while (k < n && (v[k] == ' ' || v[k] == '\t' || v[k] == '"'))
				k++;
			cs_start = k;
			while (k < n && k - cs_start < 40 &&
			       is_label_char(lower((unsigned char)v[k])))
				k++;
			cs_end = k;
			if (k < n && v[k] == '\'' && cs_end > cs_start) {
				char label[48];
				struct cs cs;
				const char *name = NULL;
				memcpy(label, v + cs_start, cs_end - cs_start);
				label[cs_end - cs_start] = '\0';
				cs_resolve(label, &cs);
				if (cs.kind == CS_ICONV && cs.name != cs.buf)
					name = cs.name;
				else if (cs.kind == CS_1252 || cs.kind == CS_ASCII)
					name = "WINDOWS-1252";
				else if (cs.kind == CS_UTF8)
					name = "UTF-8";
				if (name != NULL) {
					sb_add(out, v + last, cs_start - last);
					sb_add(out, name, strlen(name));
					last = cs_end;
				}
			}
			i = k;
			continue;
		}
		i++;
	}
	sb_add(out, v + last, n - last);
}

const char *mime_header_prepare(const char *value, size_t n, const char *charset, struct arena *a)
{
	struct sb out = {0}, fixed = {0};
	const char *u, *r;
	size_t un;

	u = raw_to_utf8(value, n, charset, a, &un);
	sb_add(&out, "", 0);
	for (size_t i = 0; i < un;) {
		if (u[i] == '=' && i + 1 < un && u[i + 1] == '?') {
			struct sb dec = {0};
			size_t k = run_decode(u + i, un - i, a, &dec);
			if (k > 0) {
				if (dec.n > 0) {
					char *b64 = xmalloc(B64_ENC_LEN(dec.n));
					b64_encode((const unsigned char *)dec.p, dec.n, b64);
					sb_add(&out, "=?UTF-8?B?", 10);
					sb_add(&out, b64, strlen(b64));
					sb_add(&out, "?=", 2);
					free(b64);
				}
				free(dec.p);
				i += k;
				continue;
			}
			free(dec.p);
		}
		if (u[i] != '\r' && u[i] != '\n') /* unfold (RFC 5322 section 2.2.3) */
			sb_add_clean(&out, u + i, 1);
		i++;
	}
	if (memchr(out.p, '*', out.n) != NULL) {
		rfc2231_relabel(out.p, out.n, &fixed);
		r = arena_strndup(a, fixed.p, fixed.n);
		free(fixed.p);
	} else {
		r = arena_strndup(a, out.p, out.n);
	}
	free(out.p);
	return r;
}
