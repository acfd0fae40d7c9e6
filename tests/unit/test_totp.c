/* Unit tests for lib/totp.h: HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/totp.h"
#include "lib/util.h"

static const unsigned char key[] = "12345678901234567890";
#define KEYLEN 20

static void test_hotp_rfc4226_appendix_d(void **state)
{
	static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
	                                254676, 287922, 162583, 399871, 520489};
	(void)state;
	for (uint64_t c = 0; c < ARRAY_LEN(want); c++)
		if (totp_hotp(key, KEYLEN, c, 6) != want[c])
			fail_msg("HOTP counter %llu: got %06u, want %06u", (unsigned long long)c,
			         totp_hotp(key, KEYLEN, c, 6), want[c]);
}

static void test_totp_rfc6238_appendix_b_sha1(void **state)
{
	static const struct {
		int64_t t;
		uint32_t want;
	} cases[] = {
	    {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
	    {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		uint32_t got = totp_hotp(key, KEYLEN, (uint64_t)(cases[i].t / 30), 8);
		if (got != cases[i].want)
			fail_msg("TOTP at %lld: got %08u, want %08u", (long long)cases[i].t, got,
			         cases[i].want);
	}
}

static void code_at(int64_t step, char out[8])
{
	snprintf(out, 8, "%06u", totp_hotp(key, KEYLEN, (uint64_t)step, 6));
}

#define NOW 1111111111 /* step 37037037 */

static void test_totp_window(void **state)
{
	int64_t step = NOW / TOTP_STEP;
	char codes[5][8];
	(void)state;

	for (int d = -2; d <= 2; d++)
		code_at(step + d, codes[d + 2]);
	/* the test is only meaningful if the five codes differ */
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			assert_string_not_equal(codes[i], codes[j]);

	for (int d = -2; d <= 2; d++) {
		int64_t got = -42;
		bool ok = totp_check(key, KEYLEN, codes[d + 2], NOW, 0, &got);
		if (d >= -1 && d <= 1) {
			assert_true(ok);
			assert_int_equal(got, step + d);
		} else {
			assert_false(ok);
			assert_int_equal(got, -42); /* step_r untouched on failure */
		}
	}
	/* the window follows now: at the start and end of a step */
	{
		int64_t got;
		assert_true(totp_check(key, KEYLEN, codes[3], step * 30, 0, &got));
		assert_true(totp_check(key, KEYLEN, codes[1], step * 30 + 29, 0, &got));
		assert_false(totp_check(key, KEYLEN, codes[4], step * 30 - 1, 0, &got));
	}
}

static void test_totp_replay(void **state)
{
	int64_t step = NOW / TOTP_STEP, got;
	char prev[8], cur[8], next[8];
	(void)state;

	code_at(step - 1, prev);
	code_at(step, cur);
	code_at(step + 1, next);
	/* a step that was used, or an older one, is refused */
	assert_false(totp_check(key, KEYLEN, cur, NOW, step, &got));
	assert_false(totp_check(key, KEYLEN, prev, NOW, step, &got));
	assert_false(totp_check(key, KEYLEN, prev, NOW, step - 1, &got));
	/* a later one is fine */
	got = 0;
	assert_true(totp_check(key, KEYLEN, next, NOW, step, &got));
	assert_int_equal(got, step + 1);
	assert_true(totp_check(key, KEYLEN, cur, NOW, step - 1, &got));
	assert_int_equal(got, step);
	assert_false(totp_check(key, KEYLEN, next, NOW, step + 1, &got));
}

static void test_totp_code_forms(void **state)
{
	int64_t step = NOW / TOTP_STEP, got;
	char cur[8], form[32];
	static const char *const bad[] = {"",       "12345",     "1234567", "abcdef",  "12345a",
	                                  "-12345", "+12345",    "12345\n", "123-456", "12345６",
	                                  "      ", "1 2 3 4 5", "0x1234"};
	(void)state;

	code_at(step, cur);
	snprintf(form, sizeof(form), "%.3s %.3s", cur, cur + 3);
	assert_true(totp_check(key, KEYLEN, form, NOW, 0, &got));
	assert_int_equal(got, step);
	snprintf(form, sizeof(form), " %s ", cur);
	assert_true(totp_check(key, KEYLEN, form, NOW, 0, &got));
	snprintf(form, sizeof(form), "%s0", cur); /* seven digits */
	assert_false(totp_check(key, KEYLEN, form, NOW, 0, &got));
	snprintf(form, sizeof(form), "%.5s", cur); /* five digits */
	assert_false(totp_check(key, KEYLEN, form, NOW, 0, &got));
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (totp_check(key, KEYLEN, bad[i], NOW, 0, &got))
			fail_msg("totp_check accepted \"%s\"", bad[i]);
	/* the right digits under another key fail */
	{
		static const unsigned char other[] = "12345678901234567891";
		assert_false(totp_check(other, KEYLEN, cur, NOW, 0, &got));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hotp_rfc4226_appendix_d),
	    cmocka_unit_test(test_totp_rfc6238_appendix_b_sha1),
	    cmocka_unit_test(test_totp_window),
	    cmocka_unit_test(test_totp_replay),
	    cmocka_unit_test(test_totp_code_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
