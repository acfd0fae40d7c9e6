/* Unit tests for lib/httpauth.h: Authorization credentials for HTTP SCRAM (RFC 7804). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/codec.h"
#include "lib/httpauth.h"
#include "lib/scram.h"
#include "lib/util.h"

/* RFC 7804 section 5 */
#define D1 "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="
#define D3                                                                                         \
	"Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1k"     \
	"SHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ=="

/* struct httpauth is ~33 KiB: keep it off the test's stack */
static struct httpauth A;

static int parse(const char *s, size_t len, struct err *err)
{
	char *c = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
	int ret;
	assert_non_null(c);
	memcpy(c, s, len);
	err_clear(err);
	ret = httpauth_parse(c, len, &A, err);
	free(c);
	return ret;
}

static void test_rfc7804_examples(void **state)
{
	struct err err;
	unsigned char dec[200];
	size_t n;
	struct scram_client_first cf;
	struct scram_client_final cfin;
	(void)state;

	assert_int_equal(parse("SCRAM-SHA-256 data=" D1, strlen("SCRAM-SHA-256 data=" D1), &err),
	                 0);
	assert_string_equal(A.scheme, "SCRAM-SHA-256");
	assert_int_equal(A.nparams, 1);
	assert_string_equal(httpauth_param(&A, "data"), D1);
	/* the data is the client-first message of RFC 7677 */
	assert_int_equal(b64_decode(D1, strlen(D1), dec, &n), 0);
	assert_int_equal(scram_client_first_parse((const char *)dec, n, &cf, &err), 0);
	assert_string_equal(cf.user, "user");
	assert_string_equal(cf.nonce, "rOprNGfwEbeRWgbNEkqO");

	{
		const char *s = "SCRAM-SHA-256 sid=AAAABBBBCCCCDDDD, data=" D3;
		assert_int_equal(parse(s, strlen(s), &err), 0);
	}
	assert_int_equal(A.nparams, 2);
	assert_string_equal(httpauth_param(&A, "sid"), "AAAABBBBCCCCDDDD");
	assert_string_equal(httpauth_param(&A, "data"), D3);
	assert_null(httpauth_param(&A, "realm"));
	assert_int_equal(b64_decode(D3, strlen(D3), dec, &n), 0);
	assert_int_equal(scram_client_final_parse((const char *)dec, n, "n,,", &cfin, &err), 0);
	assert_string_equal(cfin.nonce, "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");

	/* the WWW-Authenticate form with a quoted realm */
	{
		const char *s = "SCRAM-SHA-256 realm=\"testrealm@example.com\", data=" D1;
		assert_int_equal(parse(s, strlen(s), &err), 0);
	}
	assert_string_equal(httpauth_param(&A, "realm"), "testrealm@example.com");
	assert_string_equal(httpauth_param(&A, "data"), D1);
}

static void test_httpauth_valid(void **state)
{
	static const struct {
		const char *in;
		const char *scheme;
		size_t n;
		const char *names[3], *values[3];
	} cases[] = {
	    {"Bearer", "Bearer", 0, {NULL}, {NULL}},
	    {"X a=1", "X", 1, {"a"}, {"1"}},
	    {"X a=\"b\\\"c\\\\d\"", "X", 1, {"a"}, {"b\"c\\d"}},
	    {"X a=\"with, comma = and spaces\"", "X", 1, {"a"}, {"with, comma = and spaces"}},
	    {"X a=\"\"", "X", 1, {"a"}, {""}},
	    {"X a=", "X", 1, {"a"}, {""}},
	    {"X a=\"\\x\"", "X", 1, {"a"}, {"x"}},
	    {"X SID=1, Data=2", "X", 2, {"sid", "data"}, {"1", "2"}},
	    {"X  a = 1 ,b=2", "X", 2, {"a", "b"}, {"1", "2"}},
	    {"X a=1,b=2,", "X", 2, {"a", "b"}, {"1", "2"}},
	    {"X a=1,,, b=2", "X", 2, {"a", "b"}, {"1", "2"}},
	    {"X\ta=1", "X", 1, {"a"}, {"1"}},
	    {"X a=b64+/==", "X", 1, {"a"}, {"b64+/=="}},
	    {"X a=\"驿站\"", "X", 1, {"a"}, {"驿站"}},
	    {"X a=1, b=\"2\", c=3", "X", 3, {"a", "b", "c"}, {"1", "2", "3"}},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct err err;
		if (parse(cases[i].in, strlen(cases[i].in), &err) != 0)
			fail_msg("case %zu \"%s\": %s", i, cases[i].in, err.msg);
		assert_string_equal(A.scheme, cases[i].scheme);
		assert_int_equal(A.nparams, cases[i].n);
		for (size_t k = 0; k < cases[i].n; k++) {
			assert_string_equal(A.params[k].name, cases[i].names[k]);
			assert_string_equal(httpauth_param(&A, cases[i].names[k]),
			                    cases[i].values[k]);
		}
	}
	/* names are stored lower-case, so an upper-case lookup finds nothing */
	{
		struct err err;
		assert_int_equal(parse("X SID=1", 7, &err), 0);
		assert_null(httpauth_param(&A, "SID"));
		assert_string_equal(httpauth_param(&A, "sid"), "1");
	}
}

static void test_httpauth_refused(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		enum err_code code;
	} cases[] = {
	    {"", 0, ERR_INVALID},
	    {" X a=1", 0, ERR_INVALID},
	    {"=a", 0, ERR_INVALID},
	    {"X a=1, a=2", 0, ERR_INVALID},
	    {"X a=1, A=2", 0, ERR_INVALID},
	    {"X data=1, sid=2, DATA=3", 0, ERR_INVALID},
	    {"X a", 0, ERR_INVALID},
	    {"X a, b=1", 0, ERR_INVALID},
	    {"X =1", 0, ERR_INVALID},
	    {"X a=1 b=2", 0, ERR_INVALID},
	    {"X a=b c", 0, ERR_INVALID},
	    {"X a=\"b\"c", 0, ERR_INVALID},
	    {"X a=\"abc", 0, ERR_INVALID},
	    {"X a=\"abc\\\"", 0, ERR_INVALID},
	    {"X a=b;c", 0, ERR_INVALID},
	    {"X dXNlcjpwYXNz", 0, ERR_INVALID}, /* token68 is not an auth-param list */
	    {"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 a=1", 0, ERR_INVALID}, /* 32-byte scheme */
	    {"X abcdefghijklmnopqrstuvwxyz012345=1", 0, ERR_INVALID}, /* 32-byte name */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		struct err err;
		if (parse(cases[i].in, len, &err) != -1)
			fail_msg("case %zu \"%s\" accepted", i, cases[i].in);
		assert_int_equal(err.code, cases[i].code);
	}
	/* a 31-byte scheme and name are fine */
	{
		const char *s = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234 abcdefghijklmnopqrstuvwxyz01234=1";
		struct err err;
		assert_int_equal(parse(s, strlen(s), &err), 0);
		assert_string_equal(httpauth_param(&A, "abcdefghijklmnopqrstuvwxyz01234"), "1");
	}
}

/* A NUL byte is no token character (RFC 9110 section 5.6.2) and no quoted-string character:
 * credentials holding one are refused wherever it appears, not cut short at it. */
static void test_httpauth_nul_bytes(void **state)
{
	static const struct {
		const char *in;
		size_t len;
	} cases[] = {
	    {"X a=b\0c", 7},     /* in a token value */
	    {"X a=\"b\0c\"", 9}, /* in a quoted value */
	    {"X\0 a=1", 6},      /* in the scheme */
	    {"\0X a=1", 6},      /* leading the scheme */
	    {"X a\0=1", 6},      /* in a parameter name */
	    {"X \0=1", 5},       /* as a parameter name */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct err err;
		if (parse(cases[i].in, cases[i].len, &err) != -1)
			fail_msg("case %zu accepted: scheme \"%s\", %zu params, first name \"%s\"",
			         i, A.scheme, A.nparams, A.nparams ? A.params[0].name : "");
		assert_int_equal(err.code, ERR_INVALID);
	}
}

static void test_httpauth_limits(void **state)
{
	char buf[HTTPAUTH_MAX_LEN + 16];
	struct err err;
	size_t off;
	(void)state;

	/* HTTPAUTH_MAX_PARAMS parameters are fine, one more is refused */
	off = (size_t)snprintf(buf, sizeof(buf), "X");
	for (int i = 0; i < HTTPAUTH_MAX_PARAMS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%sp%d=%d", i ? ", " : " ", i,
		                        i);
	assert_int_equal(parse(buf, off, &err), 0);
	assert_int_equal(A.nparams, HTTPAUTH_MAX_PARAMS);
	assert_string_equal(httpauth_param(&A, "p7"), "7");
	off += (size_t)snprintf(buf + off, sizeof(buf) - off, ", p8=8");
	assert_int_equal(parse(buf, off, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);

	/* exactly HTTPAUTH_MAX_LEN bytes parse; one more is refused before any work */
	memcpy(buf, "X data=", 7);
	memset(buf + 7, 'A', HTTPAUTH_MAX_LEN - 7);
	assert_int_equal(parse(buf, HTTPAUTH_MAX_LEN, &err), 0);
	assert_int_equal(strlen(httpauth_param(&A, "data")), HTTPAUTH_MAX_LEN - 7);
	buf[HTTPAUTH_MAX_LEN] = 'A';
	assert_int_equal(parse(buf, HTTPAUTH_MAX_LEN + 1, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	/* and a quoted value of the same size */
	memcpy(buf, "X data=\"", 8);
	memset(buf + 8, 'q', HTTPAUTH_MAX_LEN - 9);
	buf[HTTPAUTH_MAX_LEN - 1] = '"';
	assert_int_equal(parse(buf, HTTPAUTH_MAX_LEN, &err), 0);
	assert_int_equal(strlen(httpauth_param(&A, "data")), HTTPAUTH_MAX_LEN - 9);
}

/* Every prefix of a valid header parses or fails cleanly; the full one gives the values. */
static void test_httpauth_prefixes(void **state)
{
	const char *s = "SCRAM-SHA-256 realm=\"a\\\"b, c\", sid=AAAA, data=" D1;
	size_t len = strlen(s);
	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct err err;
		int ret = parse(s, n, &err);
		assert_true(ret == 0 || ret == -1);
		if (ret == 0) /* "S", "SC", ... are schemes of their own */
			assert_memory_equal(A.scheme, "SCRAM-SHA-256", strlen(A.scheme));
	}
	assert_string_equal(httpauth_param(&A, "realm"), "a\"b, c");
	assert_string_equal(httpauth_param(&A, "sid"), "AAAA");
	assert_string_equal(httpauth_param(&A, "data"), D1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7804_examples), cmocka_unit_test(test_httpauth_valid),
	    cmocka_unit_test(test_httpauth_refused), cmocka_unit_test(test_httpauth_nul_bytes),
	    cmocka_unit_test(test_httpauth_limits),  cmocka_unit_test(test_httpauth_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
