/* Unit tests for lib/scram.h: SCRAM-SHA-256 (RFC 5802, RFC 7677), server side. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/codec.h"
#include "lib/scram.h"
#include "lib/util.h"

/* RFC 7677 section 3 */
#define V_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define V_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define V_CLIENT_FIRST "n,,n=user,r=" V_CNONCE
#define V_SERVER_FIRST "r=" V_CNONCE V_SNONCE ",s=" V_SALT ",i=4096"
#define V_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_CLIENT_FINAL "c=biws,r=" V_CNONCE V_SNONCE ",p=" V_PROOF
#define V_SERVER_SIG "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* Copy into an exactly sized heap block (no NUL) so ASan catches reads past len. */
static char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static int first_parse(const char *msg, size_t len, struct scram_client_first *cf, struct err *err)
{
	char *c = dup_exact(msg, len);
	int ret = scram_client_first_parse(c, len, cf, err);
	free(c);
	return ret;
}

static int final_parse(const char *msg, size_t len, const char *gs2,
                       struct scram_client_final *cfin, struct err *err)
{
	char *c = dup_exact(msg, len);
	int ret = scram_client_final_parse(c, len, gs2, cfin, err);
	free(c);
	return ret;
}

/* The RFC 7677 secret, derived here with OpenSSL directly (not through scram.c). */
static void vector_secret(const char *password, struct scram_secret *s)
{
	unsigned char sp[32], ck[32];
	unsigned int len = 32;
	size_t n;

	memset(s, 0, sizeof(*s));
	assert_int_equal(b64_decode(V_SALT, strlen(V_SALT), s->salt, &n), 0);
	assert_int_equal(n, 16);
	s->salt_len = n;
	s->iterations = 4096;
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), s->salt, (int)n, 4096,
	                                   EVP_sha256(), 32, sp),
	                 1);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Client Key", 10, ck, &len);
	SHA256(ck, 32, s->stored_key);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Server Key", 10, s->server_key, &len);
}

static void test_rfc7677_vector(void **state)
{
	struct scram_secret s, parsed;
	struct scram_client_first cf;
	struct scram_client_final cfin;
	char sf[SCRAM_MAX_MSG + 1], sig[64], text[256];
	struct err err;
	(void)state;

	vector_secret("pencil", &s);
	/* the secret survives its text form */
	scram_secret_format(&s, text, sizeof(text));
	assert_int_equal(scram_secret_parse(text, &parsed, &err), 0);
	assert_memory_equal(&parsed, &s, sizeof(s));
	assert_true(scram_secret_check(&parsed, "pencil", 6));

	assert_int_equal(first_parse(V_CLIENT_FIRST, strlen(V_CLIENT_FIRST), &cf, &err), 0);
	assert_string_equal(cf.user, "user");
	assert_string_equal(cf.nonce, V_CNONCE);
	assert_string_equal(cf.gs2_header, "n,,");
	assert_string_equal(cf.bare, "n=user,r=" V_CNONCE);

	assert_int_equal(scram_server_first(&cf, V_SNONCE, &parsed, sf, sizeof(sf), &err), 0);
	assert_string_equal(sf, V_SERVER_FIRST);

	assert_int_equal(
	    final_parse(V_CLIENT_FINAL, strlen(V_CLIENT_FINAL), cf.gs2_header, &cfin, &err), 0);
	assert_string_equal(cfin.nonce, V_CNONCE V_SNONCE);
	assert_string_equal(cfin.without_proof, "c=biws,r=" V_CNONCE V_SNONCE);

	memset(sig, 0, sizeof(sig));
	assert_true(scram_verify(&parsed, &cf, sf, &cfin, sig));
	assert_string_equal(sig, V_SERVER_SIG);
}

static void test_verify_refusals(void **state)
{
	struct scram_secret s, wrong;
	struct scram_client_first cf;
	struct scram_client_final cfin;
	char sig[64];
	struct err err;
	(void)state;

	vector_secret("pencil", &s);
	assert_int_equal(first_parse(V_CLIENT_FIRST, strlen(V_CLIENT_FIRST), &cf, &err), 0);
	assert_int_equal(final_parse(V_CLIENT_FINAL, strlen(V_CLIENT_FINAL), "n,,", &cfin, &err),
	                 0);

	/* every single flipped proof bit fails */
	for (int bit = 0; bit < 256; bit += 7) {
		struct scram_client_final bad = cfin;
		bad.proof[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		strcpy(sig, "untouched");
		assert_false(scram_verify(&s, &cf, V_SERVER_FIRST, &bad, sig));
		assert_string_equal(sig, "untouched");
	}
	/* the right proof against another password's secret */
	vector_secret("pencil2", &wrong);
	assert_false(scram_verify(&wrong, &cf, V_SERVER_FIRST, &cfin, sig));

	/* nonce mismatch: the final message names another server nonce, or only the client's */
	static const char *const finals[] = {
	    "c=biws,r=" V_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=" V_PROOF,
	    "c=biws,r=" V_CNONCE ",p=" V_PROOF,
	    "c=biws,r=" V_CNONCE V_SNONCE "x,p=" V_PROOF,
	    "c=biws,r=" V_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k,p=" V_PROOF,
	};
	for (size_t i = 0; i < ARRAY_LEN(finals); i++) {
		struct scram_client_final f;
		assert_int_equal(final_parse(finals[i], strlen(finals[i]), "n,,", &f, &err), 0);
		if (scram_verify(&s, &cf, V_SERVER_FIRST, &f, sig))
			fail_msg("verify accepted nonce case %zu", i);
	}
	/* the server-first actually sent decides: a different one (other salt text) fails */
	assert_false(scram_verify(&s, &cf, "r=" V_CNONCE V_SNONCE ",s=AAAA,i=4096", &cfin, sig));
}

static void test_secret_round_trip_and_check(void **state)
{
	struct scram_secret s, p;
	char text[256], again[256];
	struct err err;
	(void)state;

	scram_secret_make("correct horse", 13, 4096, &s);
	assert_int_equal(s.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(s.iterations, 4096);
	scram_secret_format(&s, text, sizeof(text));
	assert_true(str_has_prefix(text, "SCRAM-SHA-256$4096:"));
	assert_int_equal(scram_secret_parse(text, &p, &err), 0);
	assert_int_equal(p.iterations, 4096);
	assert_int_equal(p.salt_len, 16);
	assert_memory_equal(p.salt, s.salt, 16);
	assert_memory_equal(p.stored_key, s.stored_key, 32);
	assert_memory_equal(p.server_key, s.server_key, 32);
	scram_secret_format(&p, again, sizeof(again));
	assert_string_equal(again, text);

	assert_true(scram_secret_check(&p, "correct horse", 13));
	assert_false(scram_secret_check(&p, "correct horsf", 13));
	assert_false(scram_secret_check(&p, "correct hors", 12));
	assert_false(scram_secret_check(&p, "", 0));
	/* only len bytes count */
	assert_true(scram_secret_check(&p, "correct horse battery", 13));

	/* two secrets for one password differ (fresh salt) but both check */
	{
		struct scram_secret s2;
		scram_secret_make("correct horse", 13, 4096, &s2);
		assert_memory_not_equal(s2.salt, s.salt, 16);
		assert_memory_not_equal(s2.stored_key, s.stored_key, 32);
		assert_true(scram_secret_check(&s2, "correct horse", 13));
	}
}

static void test_secret_parse_errors(void **state)
{
	/* 43-char keys are 32 bytes; a 44-byte b64 of 33 bytes is too long */
	static const char *const bad[] = {
	    "",
	    "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	    ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$",
	    "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$abc:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$10000001:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x",
	    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    /* a 45-byte salt, longer than the salt field holds */
	    "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct scram_secret s;
		struct err err = {0};
		if (scram_secret_parse(bad[i], &s, &err) != -1)
			fail_msg("scram_secret_parse accepted case %zu", i);
		assert_int_equal(err.code, ERR_INVALID);
	}
}

/* decode_exact() in scram.c decodes up to 88 base64 characters (66 bytes) into a 64-byte
 * stack buffer before it checks the size. The longest base64 it accepts must not write past
 * that buffer: an 88-character salt or key is refused cleanly (AddressSanitizer would report
 * a stack-buffer-overflow here). */
static void test_secret_parse_88_char_fields(void **state)
{
	char text[400], f88[89];
	struct scram_secret s;
	struct err err;
	(void)state;

	memset(f88, 'A', 88);
	f88[88] = '\0';
	snprintf(text, sizeof(text),
	         "SCRAM-SHA-256$4096:%s$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	         f88);
	assert_int_equal(scram_secret_parse(text, &s, &err), -1);
	snprintf(text, sizeof(text),
	         "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$%s:"
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	         f88);
	assert_int_equal(scram_secret_parse(text, &s, &err), -1);
}

static void test_client_first_table(void **state)
{
	char user320[400], user321[400], nonce128[200], nonce129[200], over[SCRAM_MAX_MSG + 40];
	static const struct {
		const char *in;
		size_t len; /* 0 = strlen */
		int ret;
		const char *user, *nonce, *gs2, *bare;
	} fixed[] = {
	    {"n,,n=user,r=abc", 0, 0, "user", "abc", "n,,", "n=user,r=abc"},
	    {"y,,n=user,r=abc", 0, 0, "user", "abc", "y,,", "n=user,r=abc"},
	    {"n,,n=a=2Cb=3Dc,r=xyz", 0, 0, "a,b=c", "xyz", "n,,", "n=a=2Cb=3Dc,r=xyz"},
	    {"n,,n==3D=2C,r=x", 0, 0, "=,", "x", "n,,", "n==3D=2C,r=x"},
	    {"n,,n=用户,r=abc", 0, 0, "用户", "abc", "n,,", "n=用户,r=abc"},
	    {"n,,n=user,r=abc,x=ext", 0, 0, "user", "abc", "n,,", "n=user,r=abc,x=ext"},
	    {"n,,n=u,r=!\"#$%&'()*+-./0:;<=>?@[\\]^_`{|}~", 0, 0, "u",
	     "!\"#$%&'()*+-./0:;<=>?@[\\]^_`{|}~", "n,,", NULL},
	    {"n,,n=user,r=abc,x=1,Y=two", 0, 0, "user", "abc", "n,,", "n=user,r=abc,x=1,Y=two"},
	    /* a nonce ends at the first ',' (RFC 5802 printable excludes it), and what follows
	     * must be extensions (attr-val: ALPHA "=" value) */
	    {"n,,n=user,r=ab,cd", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,x", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,1=x", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,,x=1", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,x=1,", 0, -1, NULL, NULL, NULL, NULL},
	    /* the user name is UTF-8 */
	    {"n,,n=\xff,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a\xc3,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=\xc0\xaf,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=\xed\xa0\x80,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    /* refusals */
	    {"p=tls-unique,,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"p,,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,a=x,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,a=user,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,m=ext,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a=41,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a=2c,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a=2,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a=,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=a=3,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=,x=1", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=a b", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=a\x7f", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=\xc3\xa9", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,x=1,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"x,,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"nx,,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,n=user,r=abc", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,", 0, -1, NULL, NULL, NULL, NULL},
	    {"n", 0, -1, NULL, NULL, NULL, NULL},
	    {"", 0, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=us\0er,r=abc", 16, -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc\0", 16, -1, NULL, NULL, NULL, NULL},
	};
	struct {
		const char *in;
		int ret;
		const char *user, *nonce;
	} dyn[5];
	struct err err;
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
		size_t len = fixed[i].len ? fixed[i].len : strlen(fixed[i].in);
		struct scram_client_first cf;
		int ret = first_parse(fixed[i].in, len, &cf, &err);
		if (ret != fixed[i].ret)
			fail_msg("case %zu \"%s\": got %d, want %d (%s)", i, fixed[i].in, ret,
			         fixed[i].ret, ret ? err.msg : "");
		if (ret != 0) {
			assert_int_equal(err.code, ERR_INVALID);
			continue;
		}
		assert_string_equal(cf.user, fixed[i].user);
		assert_string_equal(cf.nonce, fixed[i].nonce);
		assert_string_equal(cf.gs2_header, fixed[i].gs2);
		if (fixed[i].bare)
			assert_string_equal(cf.bare, fixed[i].bare);
	}

	/* length limits: user up to SCRAM_MAX_USER, nonce up to SCRAM_MAX_NONCE, message up to
	 * SCRAM_MAX_MSG */
	memset(nonce128, 'N', 128);
	nonce128[128] = '\0';
	memset(nonce129, 'N', 129);
	nonce129[129] = '\0';
	snprintf(user320, sizeof(user320), "n,,n=%0320d,r=abc", 0);
	snprintf(user321, sizeof(user321), "n,,n=%0321d,r=abc", 0);
	dyn[0].in = user320, dyn[0].ret = 0, dyn[0].user = user320 + 5, dyn[0].nonce = "abc";
	dyn[1].in = user321, dyn[1].ret = -1;
	{
		static char a[300], b[300];
		snprintf(a, sizeof(a), "n,,n=u,r=%s", nonce128);
		snprintf(b, sizeof(b), "n,,n=u,r=%s", nonce129);
		dyn[2].in = a, dyn[2].ret = 0, dyn[2].user = "u", dyn[2].nonce = nonce128;
		dyn[3].in = b, dyn[3].ret = -1;
	}
	memset(over, 0, sizeof(over));
	strcpy(over, "n,,n=u,r=abc,x=");
	memset(over + strlen(over), 'e', SCRAM_MAX_MSG + 1 - strlen(over));
	dyn[4].in = over, dyn[4].ret = -1;
	for (size_t i = 0; i < ARRAY_LEN(dyn); i++) {
		struct scram_client_first cf;
		int ret = first_parse(dyn[i].in, strlen(dyn[i].in), &cf, &err);
		if (ret != dyn[i].ret)
			fail_msg("length case %zu: got %d, want %d", i, ret, dyn[i].ret);
		if (ret == 0) {
			char u[400];
			snprintf(u, sizeof(u), "%.*s", (int)strcspn(dyn[i].user, ","), dyn[i].user);
			assert_string_equal(cf.user, u);
			assert_string_equal(cf.nonce, dyn[i].nonce);
		}
	}
	/* exactly SCRAM_MAX_MSG bytes is fine */
	over[SCRAM_MAX_MSG] = '\0';
	{
		struct scram_client_first cf;
		assert_int_equal(first_parse(over, SCRAM_MAX_MSG, &cf, &err), 0);
		assert_int_equal(strlen(cf.bare), SCRAM_MAX_MSG - 3);
	}
}

/* Every prefix of a valid client-first, fed in an exactly sized buffer (ASan sees any read
 * past its end): the ones that end inside the nonce or after a whole "x=" parse, with the
 * nonce cut where the prefix ends; all others are refused. */
static void test_client_first_prefixes(void **state)
{
	const char *msg = "n,,n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL,x=ext";
	size_t len = strlen(msg), nonce_at = strlen("n,,n=us=2Cer,r="),
	       nonce_end = strlen("n,,n=us=2Cer,r=fyko+d2lbbFgONRv9qkxdawL");
	struct err err;
	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct scram_client_first cf;
		int ret = first_parse(msg, n, &cf, &err);
		bool ok = (n > nonce_at && n <= nonce_end) || n >= nonce_end + 3;
		if (n == nonce_end + 1)
			continue; /* "r=NONCE," alone: see test_extension_empty */
		if (ret != (ok ? 0 : -1))
			fail_msg("prefix of %zu bytes: got %d", n, ret);
		if (!ok)
			continue;
		assert_string_equal(cf.user, "us,er");
		assert_int_equal(strlen(cf.nonce), (n < nonce_end ? n : nonce_end) - nonce_at);
		assert_memory_equal(cf.nonce, msg + nonce_at, strlen(cf.nonce));
		assert_memory_equal(cf.bare, msg + 3, n - 3);
		assert_int_equal(strlen(cf.bare), n - 3);
	}
}

static void test_client_final_table(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *gs2;
		int ret;
		const char *nonce, *without;
	} cases[] = {
	    {"c=biws,r=abc,p=" V_PROOF, 0, "n,,", 0, "abc", "c=biws,r=abc"},
	    {"c=eSws,r=abc,p=" V_PROOF, 0, "y,,", 0, "abc", "c=eSws,r=abc"},
	    /* extensions between r= and p= are allowed and part of the AuthMessage */
	    {"c=biws,r=abc,x=1,y=2,p=" V_PROOF, 0, "n,,", 0, "abc", "c=biws,r=abc,x=1,y=2"},
	    /* ... but they must be attr-val */
	    {"c=biws,r=abc,1=x,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,xyz,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    /* bad c= */
	    {"c=eSws,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,p=" V_PROOF, 0, "y,,", -1, NULL, NULL},
	    {"c=,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=biw,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=bi!s,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=cD10bHMtdW5pcXVlLCw=,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"x=1,c=biws,r=abc,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    /* nonce */
	    {"c=biws,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=a b,p=" V_PROOF, 0, "n,,", -1, NULL, NULL},
	    /* proof: missing, not last, wrong length, bad base64 */
	    {"c=biws,r=abc", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,x=1", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,p=" V_PROOF ",x=1", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,p=", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==", 0, "n,,", -1, NULL,
	     NULL},
	    {"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA", 0, "n,,", -1, NULL,
	     NULL},
	    {"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQAAAA=", 0, "n,,", -1, NULL,
	     NULL},
	    {"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", 0, "n,,", -1, NULL,
	     NULL},
	    {"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndV*=", 0, "n,,", -1, NULL,
	     NULL},
	    /* framing */
	    {"", 0, "n,,", -1, NULL, NULL},
	    {"c=biws,r=a\0c,p=" V_PROOF, 59, "n,,", -1, NULL, NULL},
	};
	struct err err;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		struct scram_client_final f;
		int ret = final_parse(cases[i].in, len, cases[i].gs2, &f, &err);
		if (ret != cases[i].ret)
			fail_msg("case %zu \"%s\": got %d, want %d", i, cases[i].in, ret,
			         cases[i].ret);
		if (ret != 0)
			continue;
		assert_string_equal(f.nonce, cases[i].nonce);
		assert_string_equal(f.without_proof, cases[i].without);
		{
			unsigned char want[32];
			size_t n;
			assert_int_equal(b64_decode(V_PROOF, 44, want, &n), 0);
			assert_memory_equal(f.proof, want, 32);
		}
	}
	/* overlong */
	{
		char over[SCRAM_MAX_MSG + 64];
		struct scram_client_final f;
		snprintf(over, sizeof(over), "c=biws,r=%0*d,p=%s",
		         (int)(SCRAM_MAX_MSG + 1 - strlen("c=biws,r=,p=") - 44), 0, V_PROOF);
		assert_int_equal(strlen(over), SCRAM_MAX_MSG + 1);
		assert_int_equal(final_parse(over, strlen(over), "n,,", &f, &err), -1);
	}
}

/* RFC 5802 section 7: a ',' after the nonce (client-first) or between r= and p= (client-final)
 * must introduce an extension, attr-val = ALPHA "=" value. A trailing ',' in client-first and
 * an empty extension in client-final are malformed and must be refused like the other
 * malformed extensions ("r=abc,x", "r=abc,1=x", "r=abc,x=1,"). */
static void test_extension_empty(void **state)
{
	struct scram_client_first cf;
	struct scram_client_final f;
	struct err err;
	(void)state;
	int first = first_parse("n,,n=user,r=abc,", 16, &cf, &err);
	int final = final_parse("c=biws,r=abc,,p=" V_PROOF, 16 + 44, "n,,", &f, &err);
	if (first != -1 || final != -1)
		fail_msg("client-first \"n,,n=user,r=abc,\" -> %d, client-final "
		         "\"c=biws,r=abc,,p=...\" -> %d; want -1 for both",
		         first, final);
}

/* Same stack buffer as test_secret_parse_88_char_fields, reached from the network: the
 * client-final proof of the HTTP/SASL sign-in. An 88-character proof must be refused without
 * writing 66 bytes into decode_exact()'s 64-byte buffer. */
static void test_client_final_88_char_proof(void **state)
{
	char msg[200];
	struct scram_client_final f;
	struct err err;
	(void)state;
	snprintf(msg, sizeof(msg), "c=biws,r=abc,p=%.88s",
	         "////////////////////////////////////////////////////////////////////////"
	         "////////////////////////////////");
	assert_int_equal(strlen(msg), 15 + 88);
	assert_int_equal(final_parse(msg, strlen(msg), "n,,", &f, &err), -1);
}

static void test_server_first_limit(void **state)
{
	struct scram_client_first cf;
	struct scram_secret s;
	char snonce[SCRAM_MAX_MSG], out[SCRAM_MAX_MSG + 1];
	struct err err;
	(void)state;
	vector_secret("pencil", &s);
	assert_int_equal(first_parse(V_CLIENT_FIRST, strlen(V_CLIENT_FIRST), &cf, &err), 0);
	memset(snonce, 'S', sizeof(snonce) - 1);
	snonce[sizeof(snonce) - 1] = '\0';
	assert_int_equal(scram_server_first(&cf, snonce, &s, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_int_equal(scram_server_first(&cf, "xyz", &s, out, 20, &err), -1);
}

static void test_secret_fake(void **state)
{
	const unsigned char key1[32] = {1}, key2[32] = {2};
	struct scram_secret a, b, c, d;
	(void)state;

	scram_secret_fake(key1, sizeof(key1), "nobody@example.com", 4096, &a);
	scram_secret_fake(key1, sizeof(key1), "nobody@example.com", 4096, &b);
	scram_secret_fake(key1, sizeof(key1), "somebody@example.com", 4096, &c);
	scram_secret_fake(key2, sizeof(key2), "nobody@example.com", 4096, &d);
	/* stable salt for one user and key, so step one looks the same every time */
	assert_int_equal(a.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(a.iterations, 4096);
	assert_memory_equal(a.salt, b.salt, SCRAM_SALT_LEN);
	/* another user, or another process key, gets another salt */
	assert_memory_not_equal(a.salt, c.salt, SCRAM_SALT_LEN);
	assert_memory_not_equal(a.salt, d.salt, SCRAM_SALT_LEN);
	/* the keys are random and match no password */
	assert_memory_not_equal(a.stored_key, b.stored_key, SCRAM_KEY_LEN);
	assert_false(scram_secret_check(&a, "", 0));
	assert_false(scram_secret_check(&a, "pencil", 6));
	/* the salt is HMAC-SHA256(key, user), truncated */
	{
		unsigned char mac[32];
		unsigned int len = 32;
		HMAC(EVP_sha256(), key1, 32, (const unsigned char *)"nobody@example.com", 18, mac,
		     &len);
		assert_memory_equal(a.salt, mac, SCRAM_SALT_LEN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7677_vector),
	    cmocka_unit_test(test_verify_refusals),
	    cmocka_unit_test(test_secret_round_trip_and_check),
	    cmocka_unit_test(test_secret_parse_errors),
	    cmocka_unit_test(test_client_first_table),
	    cmocka_unit_test(test_client_first_prefixes),
	    cmocka_unit_test(test_client_final_table),
	    cmocka_unit_test(test_server_first_limit),
	    cmocka_unit_test(test_secret_fake),
	    cmocka_unit_test(test_extension_empty),
	    /* last: without the fix, AddressSanitizer stops the run here */
	    cmocka_unit_test(test_secret_parse_88_char_fields),
	    cmocka_unit_test(test_client_final_88_char_proof),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
