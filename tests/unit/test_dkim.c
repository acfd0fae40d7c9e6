/* Unit tests for DKIM in mta/mailauth.h: signing, verifying, keys, and malformed, tampered,
 * large and many signatures, against dnsmasq-served keys (mailauth_fixture.h). Oracle: dkimpy
 * (Debian's python3-dkim), an independent implementation, which verifies our signatures and
 * signs messages we verify. */
#include "mailauth_fixture.h"

static void test_dkim_sign_verify(void **state)
{
	size_t n, sn;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);
	char *signed_msg = sign("example.com", "s1", T.key, msg, n, &sn);
	struct check c;

	assert_true(strncmp(signed_msg, "DKIM-Signature: ", 16) == 0);
	assert_non_null(strstr(signed_msg, "a=rsa-sha256"));
	assert_non_null(strstr(signed_msg, "c=relaxed/relaxed"));
	/* no bare LF in what we prepend */
	for (const char *p = signed_msg; p < strstr(signed_msg, "From:"); p++)
		if (*p == '\n')
			assert_int_equal(p[-1], '\r');
	check(T.ma, "198.51.100.9", "mx.other.example.net", "bounce@other.example.net", signed_msg,
	      sn, &c);
	assert_result(c.v.dkim, MA_PASS);
	assert_string_equal(c.v.dkim_domain, "example.com");
	assert_result(c.v.dmarc, MA_PASS);
	assert_int_equal(c.v.action, MAILAUTH_TAG);
	assert_null(c.v.reason);
	assert_string_equal(
	    c.v.header, "Authentication-Results: " AUTHSERV
	                "; spf=pass smtp.mailfrom=bounce@other.example.net; dkim=pass "
	                "header.d=example.com header.s=s1; dmarc=pass header.from=example.com\r\n");
	check_done(&c);
	free(signed_msg);
	free(msg);
}

/* Sign the file's message: the headers that were signed. */
static void test_dkim_signed_headers(void **state)
{
	size_t n, sn;
	char *msg = slurp(DATA "message.eml", &n);
	char *signed_msg = sign("example.com", "s1", T.key, msg, n, &sn);
	const char *h = strstr(signed_msg, " h=");
	char hv[512];
	size_t k = 0;

	if (h == NULL)
		h = strstr(signed_msg, "\th=");
	assert_non_null(h);
	h++;
	/* h= up to ';', folding whitespace removed */
	for (h += 2; *h && *h != ';' && k + 1 < sizeof(hv); h++)
		if (*h != ' ' && *h != '\t' && *h != '\r' && *h != '\n')
			hv[k++] = *h;
	hv[k] = '\0';
	assert_string_equal(hv, "From:To:Subject:Date:Message-ID:MIME-Version:Content-Type:From");
	free(signed_msg);
	free(msg);
}

static bool dkimpy_verify(const char *msg, size_t len)
{
	char *argv[] = {PYTHON, DATA "dkim_verify.py", tmp_path("msg.eml"), tmp_path("key.txt"),
	                NULL};
	int st;

	spit(tmp_path("msg.eml"), msg, len);
	spit(tmp_path("key.txt"), T.txt, strlen(T.txt));
	st = run(argv, NULL);
	if (st != 0 && st != 1)
		fail_msg("%s dkim_verify.py exited %d (is python3-dkim installed?)", PYTHON, st);
	return st == 0;
}

/* dkimpy, an independent implementation, accepts our signatures (and rejects tampering). */
static void test_dkim_dkimpy_verifies_ours(void **state)
{
	size_t n, sn, fn;
	char *msg = slurp(DATA "message.eml", &n);
	char *signed_msg = sign("example.com", "s1", T.key, msg, n, &sn);
	char *lf = mkmsg(std_hdrs("alice@example.com"), BODY, true, &fn), *signed_lf;
	size_t sl;

	assert_true(dkimpy_verify(signed_msg, sn));
	signed_msg[sn - 5] = 'X'; /* the body */
	assert_false(dkimpy_verify(signed_msg, sn));
	/* signed from LF input: the signature holds for the message as it goes out (CRLF) */
	signed_lf = sign("example.com", "s1", T.key, lf, fn, &sl);
	{
		size_t cn = 0;
		char *w = malloc(2 * sl + 1);

		for (size_t i = 0; i < sl; i++) {
			if (signed_lf[i] == '\n' && (i == 0 || signed_lf[i - 1] != '\r'))
				w[cn++] = '\r';
			w[cn++] = signed_lf[i];
		}
		assert_true(dkimpy_verify(w, cn));
		free(w);
	}
	free(signed_lf);
	free(lf);
	free(signed_msg);
	free(msg);
}

/* A message signed by dkimpy with algorithm alg. */
static char *dkimpy_sign(const char *alg, size_t *sn)
{
	size_t n;
	char *msg = mkmsg(std_hdrs("carol@example.net"), BODY, false, &n), *signed_msg;
	char *argv[] = {PYTHON, DATA "dkim_sign.py", tmp_path("msg.eml"), tmp_path("key.pem"),
	                "py",   "example.net",       (char *)alg,         NULL};

	spit(tmp_path("msg.eml"), msg, n);
	spit(tmp_path("key.pem"), T.key, strlen(T.key));
	if (run(argv, tmp_path("signed.eml")) != 0)
		fail_msg("%s dkim_sign.py failed (is python3-dkim installed?)", PYTHON);
	signed_msg = slurp(tmp_path("signed.eml"), sn);
	assert_true(strncmp(signed_msg, "DKIM-Signature:", 15) == 0);
	free(msg);
	return signed_msg;
}

/* dkimpy signs, we verify; an rsa-sha1 signature verifies but does not count (RFC 8301). */
static void test_dkim_verify_dkimpy(void **state)
{
	size_t sn;
	char *signed_msg = dkimpy_sign("rsa-sha256", &sn);
	struct check c;

	check(T.ma, "198.51.100.9", "mx.example.net", "x@other.example.org", signed_msg, sn, &c);
	assert_result(c.v.dkim, MA_PASS);
	assert_string_equal(c.v.dkim_domain, "example.net");
	assert_non_null(strstr(c.v.header, "; dkim=pass header.d=example.net header.s=py;"));
	assert_result(c.v.dmarc, MA_NONE); /* example.net has no DMARC record */
	check_done(&c);
	free(signed_msg);

	signed_msg = dkimpy_sign("rsa-sha1", &sn);
	assert_non_null(strstr(signed_msg, "a=rsa-sha1"));
	check(T.ma, "198.51.100.9", "mx.example.net", "x@other.example.org", signed_msg, sn, &c);
	assert_result(c.v.dkim, MA_POLICY);
	assert_non_null(strstr(c.v.header, "; dkim=policy header.d=example.net header.s=py;"));
	check_done(&c);
	free(signed_msg);
}

/* Past 998 octets the header folds between results (RFC 5322 2.1.1), never inside one. */
static void test_header_fold(void **state)
{
	size_t n, mn, k = 0;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n), *m;
	char sigs[8192];
	const char *label = "a123456789b123456789c123456789d123456789e123456789f1234567890";
	struct check c;

	for (int i = 0; i < 10; i++)
		k += (size_t)snprintf(sigs + k, sizeof(sigs) - k,
		                      "DKIM-Signature: v=1; a=rsa-sha256; d=%s.%s.example.com; "
		                      "s=%s%d; h=from; bh=x; b=y\r\n",
		                      label, label, label, i);
	m = prepend(sigs, msg, n, &mn);
	check(T.ma, "198.51.100.1", "mx.example.net", NET_ENV, m, mn, &c);
	assert_true(strlen(c.v.header) > 1200);
	for (const char *line = c.v.header, *end; *line; line = end + 2) {
		end = strstr(line, "\r\n");
		assert_non_null(end);
		assert_true(end - line <= 998);
		if (line != c.v.header)
			assert_int_equal(line[0], '\t');
		if (end[2] != '\0')
			assert_int_equal(end[-1], ';');
	}
	check_done(&c);
	free(m);
	free(msg);
}

static enum mailauth_result dkim_of(struct mailauth *ma, const char *msg, size_t len)
{
	struct check c;
	enum mailauth_result r;

	check(ma, "198.51.100.9", "mx.example.net", "x@other.example.net", msg, len, &c);
	r = c.v.dkim;
	check_done(&c);
	return r;
}

static void test_dkim_tampered(void **state)
{
	size_t n, sn;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);
	char *s = sign("example.com", "s1", T.key, msg, n, &sn), *p;

	assert_result(dkim_of(T.ma, s, sn), MA_PASS);
	/* relaxed canonicalisation (RFC 6376 3.4.4): trailing whitespace changes still verify */
	p = strstr(s, "attached.  ");
	p[9] = '\t';
	assert_result(dkim_of(T.ma, s, sn), MA_PASS);
	/* body tampered */
	p = strstr(s, "attached");
	*p = 'A';
	assert_result(dkim_of(T.ma, s, sn), MA_FAIL);
	*p = 'a';
	/* header tampered */
	p = strstr(s, "Quarterly");
	*p = 'q';
	assert_result(dkim_of(T.ma, s, sn), MA_FAIL);
	*p = 'Q';
	assert_result(dkim_of(T.ma, s, sn), MA_PASS);
	free(s);
	free(msg);
}

/* Missing key: permerror; revoked key: permerror; DNS down: temperror. */
static void test_dkim_keys(void **state)
{
	size_t n, sn;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n), *s;
	struct check c;

	s = sign("example.com", "nokey", T.key, msg, n, &sn);
	assert_result(dkim_of(T.ma, s, sn), MA_PERMERROR);
	free(s);
	s = sign("example.com", "revoked", T.key, msg, n, &sn);
	assert_result(dkim_of(T.ma, s, sn), MA_PERMERROR);
	free(s);
	/* signed with a key that is not the published one */
	s = sign("example.com", "s1", T.key2, msg, n, &sn);
	assert_result(dkim_of(T.ma, s, sn), MA_FAIL);
	free(s);
	s = sign("example.com", "s1", T.key, msg, n, &sn);
	check(T.ma_dead, "192.0.2.1", "mx.example.com", "a@example.com", s, sn, &c);
	assert_result(c.v.dkim, MA_TEMPERROR);
	assert_result(c.v.spf, MA_TEMPERROR);
	assert_result(c.v.dmarc, MA_TEMPERROR);
	assert_int_equal(c.v.action, MAILAUTH_TAG);
	check_done(&c);
	free(s);
	free(msg);
}

/* Bare LF line ends: signed and verified as CRLF would be, and interchangeably. */
static void test_dkim_lf(void **state)
{
	size_t n, cn, sn, k = 0;
	char *lf = mkmsg(std_hdrs("alice@example.com"), BODY, true, &n);
	char *crlf = mkmsg(std_hdrs("alice@example.com"), BODY, false, &cn);
	char *s = sign("example.com", "s1", T.key, lf, n, &sn), *s_lf = malloc(sn + 1);

	assert_result(dkim_of(T.ma, s, sn), MA_PASS);
	/* the same signature over the CRLF form */
	free(s);
	s = sign("example.com", "s1", T.key, crlf, cn, &sn);
	for (size_t i = 0; i < sn; i++)
		if (s[i] != '\r')
			s_lf[k++] = s[i];
	assert_result(dkim_of(T.ma, s_lf, k), MA_PASS);
	free(s_lf);
	free(s);
	free(crlf);
	free(lf);
}

static void test_dkim_unsigned(void **state)
{
	size_t n;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);
	struct check c;

	check(T.ma, "192.0.2.9", "mx.example.com", "alice@example.com", msg, n, &c);
	assert_result(c.v.dkim, MA_NONE);
	assert_null(c.v.dkim_domain);
	assert_result(c.v.spf, MA_PASS);
	assert_result(c.v.dmarc, MA_PASS); /* aligned SPF only */
	assert_string_equal(c.v.header, "Authentication-Results: " AUTHSERV
	                                "; spf=pass smtp.mailfrom=alice@example.com; dkim=none; "
	                                "dmarc=pass header.from=example.com\r\n");
	check_done(&c);
	free(msg);
}

/* Malformed signatures give results, never a crash. */
static void test_dkim_malformed(void **state)
{
	static const char *bad[] = {
	    "DKIM-Signature: garbage",
	    "DKIM-Signature:",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; b=!!!; bh=???; h=from",
	    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1; "
	    "h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
	    "DKIM-Signature: v=2; a=rsa-sha256; d=example.com; s=s1; h=from; bh=x; b=y",
	    "DKIM-Signature: v=1; a=rsa-md5; d=example.com; s=s1; h=from; bh=x; b=y",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=; s=; h=; bh=; b=",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=x; b=y; "
	    "l=99999999999999999999999",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; h=from; bh=x; b=y; "
	    "x=1; t=2",
	    "DKIM-Signature: v=1; v=1; v=1; a=rsa-sha256; d=example.com; s=s1;;;;;===;;",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=ex\x01ample.com; s=s\x7f; h=from; bh=x; b=y",
	    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=../../etc/passwd; h=from; "
	    "bh=x; b=y",
	};
	size_t n;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char hdr[512];
		size_t mn;
		char *m;
		struct check c;
		snprintf(hdr, sizeof(hdr), "%s\r\n", bad[i]);
		m = prepend(hdr, msg, n, &mn);
		check(T.ma, "198.51.100.9", "mx.example.net", "x@other.example.net", m, mn, &c);
		if (c.v.dkim != MA_PERMERROR && c.v.dkim != MA_FAIL)
			fail_msg("case %zu: dkim=%s", i, mailauth_result_name(c.v.dkim));
		/* nothing from the signature reaches the header unless it is a clean token */
		assert_null(strchr(c.v.header, '\x01'));
		assert_null(strstr(c.v.header, "../"));
		assert_result(c.v.dmarc, MA_FAIL);
		check_done(&c);
		free(m);
	}
	free(msg);
}

/* At most 10 signatures are looked at; a good one among bad ones still passes. */
static void test_dkim_many(void **state)
{
	size_t n, sn, mn;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);
	char *s = sign("example.com", "s1", T.key, msg, n, &sn), *m;
	char bad[4096] = "";
	struct check c;
	size_t k = 0;

	for (int i = 0; i < 14; i++)
		k += (size_t)snprintf(bad + k, sizeof(bad) - k,
		                      "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; "
		                      "s=nokey%d; h=from; bh=x; b=y\r\n",
		                      i);
	/* the good signature first (it is among the 10), then the bad ones, then the message */
	m = malloc(sn + k + 1);
	memcpy(m, s, sn - n);
	memcpy(m + sn - n, bad, k);
	memcpy(m + sn - n + k, msg, n);
	mn = sn + k;
	check(T.ma, "198.51.100.9", "mx.example.net", "x@other.example.net", m, mn, &c);
	assert_result(c.v.dkim, MA_PASS);
	assert_result(c.v.dmarc, MA_PASS);
	{
		size_t count = 0;
		for (const char *p = c.v.header; (p = strstr(p, "dkim=")) != NULL; p++)
			count++;
		assert_int_equal(count, 10);
	}
	check_done(&c);
	free(m);
	free(s);
	free(msg);
}

/* A large message (50 MB, the stated maximum) signs and verifies. */
static void test_dkim_large(void **state)
{
	size_t body_len = 50u * 1024 * 1024, n, sn;
	char *body = malloc(body_len + 1), *msg, *s;
	struct check c;

	for (size_t i = 0; i < body_len; i++)
		body[i] = (i % 77 == 76) ? '\n' : (char)('a' + i % 26);
	body[body_len] = '\0';
	msg = mkmsg(std_hdrs("alice@example.com"), body, true, &n);
	free(body);
	s = sign("example.com", "s1", T.key, msg, n, &sn);
	check(T.ma, "198.51.100.9", "mx.example.net", "x@other.example.net", s, sn, &c);
	assert_result(c.v.dkim, MA_PASS);
	check_done(&c);
	free(s);
	free(msg);
}

static void test_dkim_sign_errors(void **state)
{
	struct arena *a = arena_new();
	const char *hdr = NULL;
	struct err e;
	size_t n;
	char *msg = mkmsg(std_hdrs("alice@example.com"), BODY, false, &n);
	char *nofrom = mkmsg("To: bob@example.net\nSubject: x", "hi\n", false, &n);

	assert_int_equal(mailauth_dkim_sign(T.ma, "example.com", "s1", "not a key", msg,
	                                    strlen(msg), a, &hdr, &e),
	                 -1);
	assert_int_equal(mailauth_dkim_sign(T.ma, "example.com", "s1", T.key, nofrom,
	                                    strlen(nofrom), a, &hdr, &e),
	                 -1);
	assert_int_equal(
	    mailauth_dkim_sign(T.ma, "bad domain", "s1", T.key, msg, strlen(msg), a, &hdr, &e), -1);
	assert_int_equal(
	    mailauth_dkim_sign(T.ma, "example.com", "s1;x=y", T.key, msg, strlen(msg), a, &hdr, &e),
	    -1);
	assert_null(hdr);
	arena_free(&a);
	free(nofrom);
	free(msg);
}

static void test_dkim_keygen(void **state)
{
	assert_true(strncmp(T.key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	assert_true(strncmp(T.txt, "v=DKIM1; k=rsa; p=MII", 21) == 0);
	/* 2048-bit SubjectPublicKeyInfo: 294 bytes, 392 base64 characters */
	assert_int_equal(strlen(T.txt), strlen("v=DKIM1; k=rsa; p=") + 392);
	assert_string_not_equal(T.txt, T.txt2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dkim_keygen),
	    cmocka_unit_test(test_dkim_sign_verify),
	    cmocka_unit_test(test_dkim_signed_headers),
	    cmocka_unit_test(test_dkim_dkimpy_verifies_ours),
	    cmocka_unit_test(test_dkim_verify_dkimpy),
	    cmocka_unit_test(test_dkim_tampered),
	    cmocka_unit_test(test_dkim_keys),
	    cmocka_unit_test(test_dkim_lf),
	    cmocka_unit_test(test_dkim_unsigned),
	    cmocka_unit_test(test_dkim_malformed),
	    cmocka_unit_test(test_header_fold),
	    cmocka_unit_test(test_dkim_many),
	    cmocka_unit_test(test_dkim_large),
	    cmocka_unit_test(test_dkim_sign_errors),
	};
	return cmocka_run_group_tests(tests, mailauth_fixture_setup, mailauth_fixture_teardown);
}
