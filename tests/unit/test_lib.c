/* Unit tests for lib/: arena, buf, codec (base64/base32), util, role. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/codec.h"
#include "lib/role.h"
#include "lib/utf8.h"
#include "lib/util.h"

/* A copy of n bytes in a heap block of exactly n bytes (no NUL), so ASan sees over-reads. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* ---- arena ---- */

/* time_deadline: wall-clock now + ms, the nanoseconds carried into seconds. */
static void test_time_deadline(void **state)
{
	(void)state;
	static const int64_t ms[] = {0, 1, 20, 999, 1000, 1500, 61001};
	for (size_t i = 0; i < ARRAY_LEN(ms); i++) {
		struct timespec before, ts, after;
		clock_gettime(CLOCK_REALTIME, &before);
		time_deadline(&ts, ms[i]);
		clock_gettime(CLOCK_REALTIME, &after);
		int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		int64_t lo = (int64_t)before.tv_sec * 1000000000 + before.tv_nsec + ms[i] * 1000000;
		int64_t hi = (int64_t)after.tv_sec * 1000000000 + after.tv_nsec + ms[i] * 1000000;
		assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
		assert_true(t >= lo && t <= hi);
	}
}

static void test_arena_alignment_and_zero(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 100, 255, 4000};
	struct arena *a = arena_new();
	unsigned char *p[ARRAY_LEN(sizes)];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		p[i] = arena_alloc(a, sizes[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal(p[i][k], 0);
		memset(p[i], (int)(i + 1), sizes[i]);
	}
	/* nothing overlapped: every block still holds its own fill byte */
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal(p[i][k], i + 1);
	arena_free(&a);
	assert_null(a);
	arena_free(&a); /* freeing NULL is a no-op */
}

/* Raw allocations (not zeroed) are aligned and apart like zeroed ones, big ones included, and
 * a zeroed allocation after raw ones that reuse a reset block is still zero. */
static void test_arena_raw(void **state)
{
	static const size_t sizes[] = {1, 16, 17, 4000, 5000, 70000, 3};
	struct arena *a = arena_new();
	unsigned char *p[ARRAY_LEN(sizes)], *z;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		p[i] = arena_alloc_raw(a, sizes[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)(0xa0 + i), sizes[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal(p[i][k], 0xa0 + i);
	assert_true(arena_used(a) >= 70000 + 5000 + 4000);
	/* what it holds: every block, the partly used ones whole */
	assert_true(arena_held(a) >= arena_used(a));
	assert_true(arena_held(a) >= 8192 + 5000 + 70000);
	arena_reset(a);
	assert_true(arena_held(a) >= 8192 && arena_held(a) < 8192 + 512);
	memset(arena_alloc_raw(a, 2000), 0xff, 2000);
	arena_reset(a);
	z = arena_alloc(a, 2000);
	for (size_t k = 0; k < 2000; k++)
		assert_int_equal(z[k], 0);
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	assert_string_equal(arena_printf(a, "%s-%d", "x", 42), "x-42");
	arena_free(&a);
}

static void test_arena_used_counts_rounded_sizes(void **state)
{
	struct arena *a = arena_new();
	(void)state;
	assert_int_equal(arena_used(a), 0);
	(void)arena_alloc(a, 1);
	assert_int_equal(arena_used(a), 16);
	(void)arena_alloc(a, 17);
	assert_int_equal(arena_used(a), 48);
	(void)arena_alloc(a, 100000);
	assert_int_equal(arena_used(a), 48 + 100000);
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	arena_free(&a);
}

static void test_arena_big_and_many(void **state)
{
	struct arena *a = arena_new();
	unsigned char *small[2000], *big = NULL;
	(void)state;

	/* many small blocks cross several 8 KiB blocks; big ones get their own */
	for (size_t i = 0; i < ARRAY_LEN(small); i++) {
		small[i] = arena_alloc(a, 40);
		memset(small[i], (int)(i & 0xff), 40);
		if (i == 1000) {
			big = arena_alloc(a, 1 << 20);
			assert_int_equal((uintptr_t)big % 16, 0);
			for (size_t k = 0; k < (1u << 20); k += 4096)
				assert_int_equal(big[k], 0);
			memset(big, 0xab, 1 << 20);
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(small); i++)
		for (size_t k = 0; k < 40; k++)
			assert_int_equal(small[i][k], i & 0xff);
	assert_int_equal(big[0], 0xab);
	assert_int_equal(big[(1 << 20) - 1], 0xab);

	/* after a reset, memory is handed out zeroed again, big or small */
	arena_reset(a);
	for (int round = 0; round < 3; round++) {
		unsigned char *q = arena_alloc(a, 6000), *r = arena_alloc(a, 100);
		for (size_t k = 0; k < 6000; k++)
			assert_int_equal(q[k], 0);
		for (size_t k = 0; k < 100; k++)
			assert_int_equal(r[k], 0);
		memset(q, 0xcd, 6000);
		memset(r, 0xcd, 100);
		arena_reset(a);
	}
	arena_free(&a);
}

static void test_arena_strings(void **state)
{
	struct arena *a = arena_new();
	char longs[10001];
	char *s;
	(void)state;

	assert_string_equal(arena_strdup(a, "hello"), "hello");
	assert_string_equal(arena_strdup(a, ""), "");
	assert_string_equal(arena_strndup(a, "hello world", 5), "hello");
	assert_string_equal(arena_strndup(a, "ab\0cd", 5), "ab");
	assert_string_equal(arena_printf(a, "%d-%s-%03u", 42, "x", 7u), "42-x-007");
	memset(longs, 'z', 10000);
	longs[10000] = '\0';
	s = arena_printf(a, "<%s>", longs);
	assert_int_equal(strlen(s), 10002);
	assert_int_equal(s[0], '<');
	assert_int_equal(s[10001], '>');
	arena_free(&a);
}

static char defer_log[32];

static void defer_note(void *p)
{
	size_t n = strlen(defer_log);
	defer_log[n] = *(const char *)p;
	defer_log[n + 1] = '\0';
}

static void test_arena_defer_reverse_order(void **state)
{
	struct arena *a = arena_new();
	(void)state;

	defer_log[0] = '\0';
	arena_defer(a, defer_note, "1");
	arena_defer(a, defer_note, "2");
	arena_defer(a, defer_note, "3");
	assert_string_equal(defer_log, "");
	arena_reset(a);
	assert_string_equal(defer_log, "321");
	arena_reset(a); /* already run: not again */
	assert_string_equal(defer_log, "321");

	defer_log[0] = '\0';
	arena_defer(a, defer_note, "a");
	(void)arena_alloc(a, 50000); /* defers survive big allocations */
	arena_defer(a, defer_note, "b");
	arena_free(&a);
	assert_string_equal(defer_log, "ba");
}

/* ---- buf ---- */

static void test_buf_basic(void **state)
{
	struct buf b;
	char big[5000];
	char *t;
	(void)state;

	buf_init(&b, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "abc"), 0);
	assert_int_equal(buf_printf(&b, "-%d-", 12), 0);
	assert_int_equal(buf_append(&b, "xyz", 2), 0);
	assert_string_equal(buf_cstr(&b), "abc-12-xy");
	assert_int_equal(b.len, 9);
	memset(big, 'q', sizeof(big));
	assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 9 + sizeof(big));
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_puts(&b, "kept"), 0);
	t = buf_take(&b);
	assert_string_equal(t, "kept");
	free(t);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	t = buf_take(&b); /* an empty buffer gives an empty, freeable string */
	assert_string_equal(t, "");
	free(t);
	buf_release(&b);
}

static void expect_unchanged(const struct buf *b, const char *want)
{
	assert_string_equal(buf_cstr(b), want);
	assert_int_equal(b->len, strlen(want));
}

static void test_buf_limit_refusal(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_puts(&b, "world!"), -1); /* 11 > 10 */
	expect_unchanged(&b, "hello");
	assert_int_equal(buf_printf(&b, "%s", "123456"), -1);
	expect_unchanged(&b, "hello");
	assert_int_equal(buf_puts(&b, "world"), 0); /* exactly the limit */
	expect_unchanged(&b, "helloworld");
	assert_int_equal(buf_append(&b, "x", 1), -1);
	expect_unchanged(&b, "helloworld");
	assert_int_equal(buf_append(&b, "", 0), 0);
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%010d", 5), 0);
	expect_unchanged(&b, "0000000005");
	buf_release(&b);
}

/* The header promises "-1, buffer unchanged" for a refused append: the escaping appenders
 * must not leave half a string behind either. (The buffer is released by the teardown, so a
 * failed assertion does not leak it.) */
static struct buf lb;

static int lb_teardown(void **state)
{
	(void)state;
	buf_release(&lb);
	return 0;
}

static void test_buf_limit_json_unchanged(void **state)
{
	(void)state;
	buf_init(&lb, 10);
	assert_int_equal(buf_puts(&lb, "ab"), 0);
	assert_int_equal(buf_json_str(&lb, "0123456789"), -1);
	expect_unchanged(&lb, "ab");
	assert_int_equal(buf_json_str(&lb, "abcdef"), 0); /* 8 bytes with quotes: fits */
	expect_unchanged(&lb, "ab\"abcdef\"");
}

static void test_buf_limit_html_unchanged(void **state)
{
	(void)state;
	buf_init(&lb, 10);
	assert_int_equal(buf_puts(&lb, "ab"), 0);
	assert_int_equal(buf_html_str(&lb, "x<<<", 4), -1); /* 13 bytes escaped */
	expect_unchanged(&lb, "ab");
	assert_int_equal(buf_html_str(&lb, "x<", 2), 0);
	expect_unchanged(&lb, "abx&lt;");
}

static void test_buf_json_escaping(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", "\"\""},
	    {"plain", "\"plain\""},
	    {"a\"b", "\"a\\\"b\""},
	    {"back\\slash", "\"back\\\\slash\""},
	    {"\n\r\t", "\"\\n\\r\\t\""},
	    {"\x01\x1f", "\"\\u0001\\u001f\""},
	    {"\b\f", "\"\\u0008\\u000c\""},
	    {"\x7f", "\"\x7f\""},
	    {"驿站 é ✓", "\"驿站 é ✓\""},
	    {"\xf0\x9f\x93\xa8", "\"\xf0\x9f\x93\xa8\""},
	    {"</script>", "\"</script>\""},
	    {"\"\\\"", "\"\\\"\\\\\\\"\""},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(buf_json_str(&b, cases[i].in), 0);
		assert_string_equal(buf_cstr(&b), cases[i].want);
		buf_release(&b);
	}
}

static void test_buf_html_escaping(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
	    {"", 0, ""},
	    {"plain text", 10, "plain text"},
	    {"&<>\"'", 5, "&amp;&lt;&gt;&quot;&#39;"},
	    {"<a href=\"x\">O'Neil & co</a>", 27,
	     "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"},
	    {"&amp;", 5, "&amp;amp;"},
	    {"驿站 <b>", 10, "驿站 &lt;b&gt;"},
	    {"ab<cd", 3, "ab&lt;"}, /* only n bytes */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf b;
		buf_init(&b, 0);
		assert_int_equal(buf_html_str(&b, cases[i].in, cases[i].n), 0);
		assert_string_equal(buf_cstr(&b), cases[i].want);
		buf_release(&b);
	}
}

/* ---- base64 ---- */

static const struct {
	const char *raw, *b64, *b32;
} rfc4648[] = {
    /* RFC 4648 section 10; base32 without padding, as b32_encode writes it */
    {"", "", ""},
    {"f", "Zg==", "MY"},
    {"fo", "Zm8=", "MZXQ"},
    {"foo", "Zm9v", "MZXW6"},
    {"foob", "Zm9vYg==", "MZXW6YQ"},
    {"fooba", "Zm9vYmE=", "MZXW6YTB"},
    {"foobar", "Zm9vYmFy", "MZXW6YTBOI"},
};

static void test_b64_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rfc4648); i++) {
		const char *raw = rfc4648[i].raw, *enc = rfc4648[i].b64;
		char out[B64_ENC_LEN(6)];
		unsigned char dec[16];
		size_t n = 99;
		char *exact = dup_exact(enc, strlen(enc));

		b64_encode((const unsigned char *)raw, strlen(raw), out);
		assert_string_equal(out, enc);
		assert_int_equal(B64_ENC_LEN(strlen(raw)), strlen(enc) + 1);
		assert_int_equal(b64_decode(exact, strlen(enc), dec, &n), 0);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(dec, raw, n);
		free(exact);
	}
}

static void test_b64_binary_round_trip(void **state)
{
	unsigned char in[64], dec[64];
	char enc[B64_ENC_LEN(64)];
	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(255 - i * 7);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t got;
		b64_encode(in, n, enc);
		assert_int_equal(strlen(enc), B64_ENC_LEN(n) - 1);
		assert_int_equal(b64_decode(enc, strlen(enc), dec, &got), 0);
		assert_int_equal(got, n);
		assert_memory_equal(dec, in, n);
	}
}

static void test_b64_decoder_rejects(void **state)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
	} bad[] = {
	    /* foreign characters */
	    {"Zm9v!A==", 0},
	    {"Zm9-", 0},
	    {"Zm9_", 0},
	    {"Zm 9", 0},
	    {"Zm9\n", 0},
	    {"Zm\0v", 4},
	    {"Zm9v\xc3\xa9==", 0},
	    {"Zm9v\x80\x80\x80\x80", 0},
	    /* bad padding */
	    {"Zg=", 0},
	    {"Zg===", 0},
	    {"Z===", 0},
	    {"====", 0},
	    {"=Zg=", 0},
	    {"Zm=v", 0},
	    {"Zg==Zg==", 0},
	    {"Zm9v====", 0},
	    {"Zg=A", 0},
	    /* non-canonical trailing bits (RFC 4648 section 3.5) */
	    {"Zh==", 0},
	    {"Zv==", 0},
	    {"Zm9=", 0},
	    {"Zm+=", 0},
	    {"AB==", 0},
	    /* wrong length */
	    {"Z", 0},
	    {"Zm", 0},
	    {"Zm9", 0},
	    {"Zm9vY", 0},
	    {"Zm9vYmF", 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
		unsigned char out[16];
		size_t n = 12345;
		char *exact = dup_exact(bad[i].in, len);
		if (b64_decode(exact, len, out, &n) != -1)
			fail_msg("b64_decode accepted case %zu \"%s\"", i, bad[i].in);
		assert_int_equal(n, 12345); /* out_len_r written only on success */
		free(exact);
	}
}

/* ---- base32 ---- */

static void test_b32_rfc4648_vectors(void **state)
{
	static const char *const padded[] = {
	    "", "MY======", "MZXQ====", "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(rfc4648); i++) {
		const char *raw = rfc4648[i].raw;
		char out[32], lower[32];
		unsigned char dec[16];
		size_t n;

		b32_encode((const unsigned char *)raw, strlen(raw), out);
		assert_string_equal(out, rfc4648[i].b32);
		assert_int_equal(b32_decode(out, strlen(out), dec, &n), 0);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(dec, raw, n);
		assert_int_equal(b32_decode(padded[i], strlen(padded[i]), dec, &n), 0);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(dec, raw, n);
		/* case-insensitive */
		snprintf(lower, sizeof(lower), "%s", padded[i]);
		str_lower(lower);
		assert_int_equal(b32_decode(lower, strlen(lower), dec, &n), 0);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(dec, raw, n);
	}
}

static void test_b32_decode_forms(void **state)
{
	/* the RFC 6238 test key as authenticator apps show it: grouped, lower case */
	static const char *const forms[] = {
	    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
	    "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
	    "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
	    "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
	};
	static const char *const bad[] = {"MZXW1", "MZXW8", "MZ!W", "MZXW6\n", "MZ\xc3\xa9"};
	unsigned char dec[40];
	size_t n;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
		char *exact = dup_exact(forms[i], strlen(forms[i]));
		assert_int_equal(b32_decode(exact, strlen(forms[i]), dec, &n), 0);
		assert_int_equal(n, 20);
		assert_memory_equal(dec, "12345678901234567890", 20);
		free(exact);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (b32_decode(bad[i], strlen(bad[i]), dec, &n) != -1)
			fail_msg("b32_decode accepted \"%s\"", bad[i]);
	assert_int_equal(b32_decode("MZ\0Q", 4, dec, &n), -1);
}

/* ---- util ---- */

static void test_str_to_i64(void **state)
{
	static const struct {
		const char *in;
		int64_t min, max;
		int ret;
		int64_t want;
	} cases[] = {
	    {"0", 0, 10, 0, 0},
	    {"10", 0, 10, 0, 10},
	    {"11", 0, 10, -1, 0},
	    {"-1", 0, 10, -1, 0},
	    {"-5", -10, 10, 0, -5},
	    {"-0", -10, 10, 0, 0},
	    {"007", 0, 10, 0, 7},
	    {"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
	    {"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
	    {"9223372036854775808", INT64_MIN, INT64_MAX, -1, 0},
	    {"-9223372036854775809", INT64_MIN, INT64_MAX, -1, 0},
	    {"99999999999999999999999", INT64_MIN, INT64_MAX, -1, 0},
	    {"", 0, 10, -1, 0},
	    {"-", -10, 10, -1, 0},
	    {" 5", 0, 10, -1, 0},
	    {"5 ", 0, 10, -1, 0},
	    {"\t5", 0, 10, -1, 0},
	    {"+5", 0, 10, -1, 0},
	    {"5x", 0, 10, -1, 0},
	    {"0x10", 0, 100, -1, 0},
	    {"1e3", 0, 10000, -1, 0},
	    {"1.0", 0, 10, -1, 0},
	    {"--1", -10, 10, -1, 0},
	    {"\xd9\xa1", 0, 10, -1, 0}, /* ARABIC-INDIC DIGIT ONE */
	    {"lots", 1, 256, -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int64_t v = 777;
		int ret = str_to_i64(cases[i].in, cases[i].min, cases[i].max, &v);
		if (ret != cases[i].ret)
			fail_msg("str_to_i64(\"%s\") returned %d, want %d", cases[i].in, ret,
			         cases[i].ret);
		if (ret == 0)
			assert_true(v == cases[i].want);
		else
			assert_true(v == 777); /* written only on success */
	}
}

static void test_mem_eq_ct(void **state)
{
	unsigned char a[64], b[64];
	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)i;
	assert_true(mem_eq_ct(a, b, sizeof(a)));
	assert_true(mem_eq_ct(a, b, 0));
	b[0] ^= 1;
	assert_false(mem_eq_ct(a, b, sizeof(a)));
	assert_true(mem_eq_ct(a + 1, b + 1, sizeof(a) - 1));
	b[0] ^= 1;
	b[63] ^= 0x80;
	assert_false(mem_eq_ct(a, b, sizeof(a)));
	assert_true(mem_eq_ct(a, b, 63));
}

static void test_util_strings(void **state)
{
	char s[] = "MiXeD 驿站 ABC-xyz";
	char hex[9];
	(void)state;
	str_lower(s);
	assert_string_equal(s, "mixed 驿站 abc-xyz");
	assert_true(str_has_prefix("auth.login.ok", "auth.login"));
	assert_true(str_has_prefix("abc", ""));
	assert_false(str_has_prefix("auth", "auth.login"));
	hex_encode((const unsigned char *)"\x00\x9f\xa0\xff", 4, hex);
	assert_string_equal(hex, "009fa0ff");
}

/* ---- utf8 ---- */

static void test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		size_t len; /* 0 = strlen */
		bool valid;
	} cases[] = {
	    {"", 0, true},
	    {"plain ascii", 0, true},
	    {"驿站 é ✓ \xf0\x9f\x93\xa8", 0, true},
	    {"\x7f", 0, true},
	    {"a\0b", 3, true},             /* NUL is a valid code point */
	    {"\xc2\x80", 0, true},         /* U+0080 */
	    {"\xef\xbf\xbf", 0, true},     /* U+FFFF */
	    {"\xf4\x8f\xbf\xbf", 0, true}, /* U+10FFFF */
	    {"\x80", 0, false},            /* lone continuation byte */
	    {"\xff", 0, false},
	    {"\xc3", 0, false},             /* truncated */
	    {"\xe9\xa9", 0, false},         /* truncated */
	    {"\xc3\x28", 0, false},         /* bad continuation */
	    {"\xc0\xaf", 0, false},         /* overlong '/' */
	    {"\xc1\xbf", 0, false},         /* overlong */
	    {"\xe0\x80\xaf", 0, false},     /* overlong */
	    {"\xf0\x80\x80\xaf", 0, false}, /* overlong */
	    {"\xed\xa0\x80", 0, false},     /* surrogate U+D800 */
	    {"\xed\xbf\xbf", 0, false},     /* surrogate U+DFFF */
	    {"\xf4\x90\x80\x80", 0, false}, /* U+110000 */
	    {"\xf5\x80\x80\x80", 0, false},
	    {"ok\xe9\xa9\x9b\xe7", 0, false}, /* valid, then truncated */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
		char *exact = dup_exact(cases[i].s, len);
		if (utf8_valid(exact, len) != cases[i].valid)
			fail_msg("utf8_valid case %zu: got %d", i, !cases[i].valid);
		free(exact);
	}
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe9\xa9\x9b", 3), 3);
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe9\xa9\x9b", 2), 0);
	assert_int_equal(utf8_seq_len((const unsigned char *)"a", 1), 1);
}

/* ---- role ---- */

static void test_role_parse_name(void **state)
{
	static const struct {
		const char *name;
		enum role role;
	} cases[] = {
	    {"user", ROLE_USER},
	    {"sysadmin", ROLE_SYSADMIN},
	    {"secadmin", ROLE_SECADMIN},
	    {"auditor", ROLE_AUDITOR},
	    {"User", 0},
	    {"USER", 0},
	    {"admin", 0},
	    {"root", 0},
	    {"", 0},
	    {"user ", 0},
	    {"auditors", 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		enum role r = role_parse(cases[i].name);
		if (r != cases[i].role)
			fail_msg("role_parse(\"%s\") = %d, want %d", cases[i].name, r,
			         cases[i].role);
		if (r)
			assert_string_equal(role_name(r), cases[i].name);
	}
	assert_string_equal(role_name(0), "unknown");
	assert_string_equal(role_name(ROLE_USER | ROLE_AUDITOR), "unknown");
	assert_false(role_is_admin(ROLE_USER));
	assert_true(role_is_admin(ROLE_SYSADMIN));
	assert_true(role_is_admin(ROLE_SECADMIN));
	assert_true(role_is_admin(ROLE_AUDITOR));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_time_deadline),
	    cmocka_unit_test(test_arena_alignment_and_zero),
	    cmocka_unit_test(test_arena_raw),
	    cmocka_unit_test(test_arena_used_counts_rounded_sizes),
	    cmocka_unit_test(test_arena_big_and_many),
	    cmocka_unit_test(test_arena_strings),
	    cmocka_unit_test(test_arena_defer_reverse_order),
	    cmocka_unit_test(test_buf_basic),
	    cmocka_unit_test(test_buf_limit_refusal),
	    cmocka_unit_test_teardown(test_buf_limit_json_unchanged, lb_teardown),
	    cmocka_unit_test_teardown(test_buf_limit_html_unchanged, lb_teardown),
	    cmocka_unit_test(test_buf_json_escaping),
	    cmocka_unit_test(test_buf_html_escaping),
	    cmocka_unit_test(test_b64_rfc4648_vectors),
	    cmocka_unit_test(test_b64_binary_round_trip),
	    cmocka_unit_test(test_b64_decoder_rejects),
	    cmocka_unit_test(test_b32_rfc4648_vectors),
	    cmocka_unit_test(test_b32_decode_forms),
	    cmocka_unit_test(test_str_to_i64),
	    cmocka_unit_test(test_mem_eq_ct),
	    cmocka_unit_test(test_util_strings),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_role_parse_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
