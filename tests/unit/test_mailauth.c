/* Unit tests for mta/mailauth.h: SPF and DMARC over real DNS, the verdict and its header, and
 * the recipient and loop checks beside them (DKIM is in test_dkim.c, the resolver in
 * test_dns.c). The fixture (mailauth_fixture.h) serves the test zones from a dnsmasq of its
 * own; a second resolver points at a port where nothing listens (temperror). Oracles: the
 * RFCs' result tables. */
#include "mailauth_fixture.h"

static void test_result_names(void **state)
{
	static const char *want[] = {"none",    "pass",      "fail",      "softfail",
	                             "neutral", "temperror", "permerror", "policy"};
	for (int i = MA_NONE; i <= MA_POLICY; i++)
		assert_string_equal(mailauth_result_name((enum mailauth_result)i), want[i]);
	assert_string_equal(mailauth_result_name((enum mailauth_result)99), "permerror");
}

/* ---- SPF ---- */

struct spf_case {
	const char *ip, *helo, *from;
	enum mailauth_result want;
};

static const struct spf_case spf_cases[] = {
    /* pass / fail (-all) / softfail (~all) / neutral (?all and falling off the end) */
    {"192.0.2.1", "mx.example.org", "a@pass.spf.example.com", MA_PASS},
    {"192.0.2.254", "mx.example.org", "a@PASS.Spf.Example.COM", MA_PASS},
    {"198.51.100.1", "mx.example.org", "a@pass.spf.example.com", MA_FAIL},
    {"198.51.100.1", "mx.example.org", "a@soft.spf.example.com", MA_SOFTFAIL},
    {"198.51.100.1", "mx.example.org", "a@neutral.spf.example.com", MA_NEUTRAL},
    {"198.51.100.1", "mx.example.org", "a@offend.spf.example.com", MA_NEUTRAL},
    {"192.0.2.1", "mx.example.org", "a@offend.spf.example.com", MA_PASS},
    /* none: no SPF record among the TXT, no such domain, no usable domain */
    {"192.0.2.1", "mx.example.org", "a@nospf.spf.example.com", MA_NONE},
    {"192.0.2.1", "mx.example.org", "a@nxdomain.spf.example.com", MA_NONE},
    {"192.0.2.1", "mx.example.org", "a@localhost", MA_NONE},
    {"192.0.2.1", "mx.example.org", "a@bad..example.com", MA_NONE},
    {"192.0.2.1", "", "", MA_NONE},
    /* ip6 */
    {"2001:db8::5", "mx.example.org", "a@v6.spf.example.com", MA_PASS},
    {"2001:db9::5", "mx.example.org", "a@v6.spf.example.com", MA_FAIL},
    {"192.0.2.1", "mx.example.org", "a@v6.spf.example.com", MA_FAIL},
    /* a */
    {"192.0.2.50", "mx.example.org", "a@a.spf.example.com", MA_PASS},
    {"192.0.2.51", "mx.example.org", "a@a.spf.example.com", MA_FAIL},
    /* mx, over IPv4 and IPv6 */
    {"192.0.2.20", "mx.example.org", "a@mx.spf.example.com", MA_PASS},
    {"2001:db8::20", "mx.example.org", "a@mx.spf.example.com", MA_PASS},
    {"192.0.2.21", "mx.example.org", "a@mx.spf.example.com", MA_FAIL},
    /* include, redirect, exists with macros */
    {"192.0.2.7", "mx.example.org", "a@inc.spf.example.com", MA_PASS},
    {"198.51.100.7", "mx.example.org", "a@inc.spf.example.com", MA_FAIL},
    {"192.0.2.7", "mx.example.org", "a@incnx.spf.example.com", MA_PERMERROR},
    {"198.51.100.1", "mx.example.org", "a@redir.spf.example.com", MA_SOFTFAIL},
    {"192.0.2.1", "mx.example.org", "a@redir.spf.example.com", MA_PASS},
    {"192.0.2.1", "mx.example.org", "a@exists.spf.example.com", MA_PASS},
    {"192.0.2.2", "mx.example.org", "a@exists.spf.example.com", MA_FAIL},
    /* IPv4-mapped IPv6 is IPv4 (RFC 7208 5) */
    {"::ffff:192.0.2.1", "mx.example.org", "a@pass.spf.example.com", MA_PASS},
    /* the null sender: HELO is the identity (RFC 7208 2.4) */
    {"192.0.2.1", "pass.spf.example.com", "", MA_PASS},
    {"198.51.100.1", "pass.spf.example.com", "<>", MA_FAIL},
    /* permerror: bad records, two records, too many lookups, too many void lookups */
    {"192.0.2.1", "mx.example.org", "a@badip.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@badmech.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@badmacro.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@multi.spf.example.com", MA_PERMERROR},
    {"203.0.113.10", "mx.example.org", "a@ten.spf.example.com", MA_PASS},
    {"203.0.113.99", "mx.example.org", "a@ten.spf.example.com", MA_FAIL},
    {"203.0.113.99", "mx.example.org", "a@eleven.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@deep.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@voids2.spf.example.com", MA_PASS},
    {"192.0.2.1", "mx.example.org", "a@voids3.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "a@loop.spf.example.com", MA_PERMERROR},
    /* macros: expanded through our lookups; a transformer over 128 is refused */
    {"192.0.2.1", "mx.example.org", "a.b-c+d@macro1.spf.example.com", MA_FAIL},
    {"192.0.2.1", "mx.example.org", "a@macro2.spf.example.com", MA_PERMERROR},
    {"192.0.2.1", "mx.example.org", "short@macro3.spf.example.com", MA_PASS},
    {"192.0.2.1", "mx.example.org", "other@macro3.spf.example.com", MA_FAIL},
    /* a local-part over 64 octets is not expanded: "postmaster" stands in */
    {"192.0.2.1", "mx.example.org",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "@macro3.spf.example.com",
     MA_PASS},
};

static void test_spf_table(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(spf_cases); i++) {
		const struct spf_case *c = &spf_cases[i];
		enum mailauth_result r = MA_POLICY;
		struct err e;
		if (mailauth_spf(T.ma, c->ip, c->helo, c->from, &r, &e) < 0)
			fail_msg("case %zu (%s from %s): %s", i, c->ip, c->from, e.msg);
		if (r != c->want)
			fail_msg("case %zu (%s from %s): got %s, want %s", i, c->ip, c->from,
			         mailauth_result_name(r), mailauth_result_name(c->want));
	}
}

/* A server that never answers: temperror, quickly (nothing listens on that port). */
static void test_spf_temperror(void **state)
{
	enum mailauth_result r = MA_POLICY;
	struct err e;
	uint64_t t0 = time_mono_ns();

	assert_int_equal(mailauth_spf(T.ma_dead, "192.0.2.1", "mx.example.org",
	                              "a@pass.spf.example.com", &r, &e),
	                 0);
	assert_result(r, MA_TEMPERROR);
	assert_true(time_mono_ns() - t0 < 10000000000ull);
}

static void test_spf_bad_args(void **state)
{
	enum mailauth_result r;
	struct err e;

	assert_int_equal(mailauth_spf(T.ma, "not-an-ip", "h.example.org", "a@example.com", &r, &e),
	                 -1);
	assert_int_equal(e.code, ERR_INVALID);
	assert_int_equal(mailauth_spf(T.ma, NULL, "h.example.org", "a@example.com", &r, &e), -1);
	assert_int_equal(mailauth_spf(NULL, "192.0.2.1", "h", "a@example.com", &r, &e), -1);
	/* NULL helo and mail_from: no identity */
	assert_int_equal(mailauth_spf(T.ma, "192.0.2.1", NULL, NULL, &r, &e), 0);
	assert_result(r, MA_NONE);
}

/* ---- DMARC ---- */

/* One case: From, envelope, whether to DKIM-sign (d=, s=1) and what is expected. */
struct dmarc_case {
	const char *from, *ip, *mail_from, *sign_d;
	enum mailauth_result dmarc;
	enum mailauth_policy action; /* with T.ma: reject->REJECT, quarantine->QUARANTINE */
};

static const struct dmarc_case dmarc_cases[] = {
    /* 0-2: aligned SPF only; aligned DKIM only; neither (p=reject) */
    {"a@example.com", "192.0.2.1", "b@example.com", NULL, MA_PASS, MAILAUTH_TAG},
    {"a@example.com", "198.51.100.1", NET_ENV, "example.com", MA_PASS, MAILAUTH_TAG},
    {"a@example.com", "198.51.100.1", NET_ENV, NULL, MA_FAIL, MAILAUTH_REJECT},
    /* 3: SPF fails and DKIM is someone else's */
    {"a@example.com", "198.51.100.1", "b@example.com", "example.net", MA_FAIL, MAILAUTH_REJECT},
    /* 4: relaxed: a subdomain's signature is aligned (example.com has no adkim) */
    {"a@example.com", "198.51.100.1", NET_ENV, "mail.example.com", MA_PASS, MAILAUTH_TAG},
    /* 5-7: p=quarantine, p=none */
    {"a@quarantine.example.net", "198.51.100.1", ORG_ENV, NULL, MA_FAIL, MAILAUTH_QUARANTINE},
    {"a@quarantine.example.net", "198.51.100.1", ORG_ENV, "example.net", MA_PASS, MAILAUTH_TAG},
    {"a@none.example.net", "198.51.100.1", ORG_ENV, NULL, MA_FAIL, MAILAUTH_TAG},
    /* 8-10: sp=: example.org says p=none; sp=reject */
    {"a@example.org", "198.51.100.1", NET_ENV, NULL, MA_FAIL, MAILAUTH_TAG},
    {"a@sub.example.org", "198.51.100.1", NET_ENV, NULL, MA_FAIL, MAILAUTH_REJECT},
    {"a@deep.sub.example.org", "198.51.100.1", NET_ENV, NULL, MA_FAIL, MAILAUTH_REJECT},
    /* 11-14: strict (adkim=s) against relaxed, with the same parent-domain signature */
    {"a@strict.example.net", "198.51.100.1", ORG_ENV, "example.net", MA_FAIL, MAILAUTH_REJECT},
    {"a@strict.example.net", "198.51.100.1", ORG_ENV, "strict.example.net", MA_PASS, MAILAUTH_TAG},
    {"a@relaxed.example.net", "198.51.100.1", ORG_ENV, "example.net", MA_PASS, MAILAUTH_TAG},
    {"a@relaxed.example.net", "192.0.2.1", "b@mail.relaxed.example.net", NULL, MA_PASS,
     MAILAUTH_TAG},
    /* 15-17: organisational domain from the PSL: mail.example.co.uk and example.co.uk
     * align, example.co.uk and other.co.uk do not (co.uk is a public suffix) */
    {"a@mail.example.co.uk", "198.51.100.1", NET_ENV, "example.co.uk", MA_PASS, MAILAUTH_TAG},
    {"a@example.co.uk", "198.51.100.1", NET_ENV, "other.co.uk", MA_FAIL, MAILAUTH_REJECT},
    {"a@mail.example.co.uk", "198.51.100.1", NET_ENV, NULL, MA_FAIL, MAILAUTH_REJECT},
    /* 18-20: no DMARC record; two records; a broken one */
    {"a@nodmarc.example.net", "198.51.100.1", ORG_ENV, NULL, MA_NONE, MAILAUTH_TAG},
    {"a@twice.example.net", "198.51.100.1", ORG_ENV, NULL, MA_PERMERROR, MAILAUTH_TAG},
    {"a@broken.example.net", "198.51.100.1", ORG_ENV, NULL, MA_PERMERROR, MAILAUTH_TAG},
    /* 21-22: aspf=s: a subdomain's SPF pass is not aligned, the domain's own is */
    {"a@strict.example.net", "192.0.2.1", "b@mail.strict.example.net", NULL, MA_FAIL,
     MAILAUTH_REJECT},
    {"a@strict.example.net", "192.0.2.1", "b@strict.example.net", NULL, MA_PASS, MAILAUTH_TAG},
    /* 23: the From domain's case does not matter */
    {"a@Example.COM", "198.51.100.1", NET_ENV, "example.com", MA_PASS, MAILAUTH_TAG},
    /* 24: pct=0 turns p=reject into quarantine; 25: "v=DMARC1" not first: no record */
    {"a@pct.example.net", "198.51.100.1", ORG_ENV, NULL, MA_FAIL, MAILAUTH_QUARANTINE},
    {"a@notfirst.example.net", "198.51.100.1", ORG_ENV, NULL, MA_NONE, MAILAUTH_TAG},
};

static void run_dmarc(struct mailauth *ma, const struct dmarc_case *dc, struct check *c)
{
	size_t n, sn;
	char *msg = mkmsg(std_hdrs(dc->from), BODY, false, &n), *m = msg;

	sn = n;
	if (dc->sign_d)
		m = sign(dc->sign_d, "s1", T.key, msg, n, &sn);
	check(ma, dc->ip, "mx.example.net", dc->mail_from, m, sn, c);
	if (m != msg)
		free(m);
	free(msg);
}

static void test_dmarc_table(void **state)
{
	for (size_t i = 0; i < ARRAY_LEN(dmarc_cases); i++) {
		const struct dmarc_case *dc = &dmarc_cases[i];
		struct check c;
		run_dmarc(T.ma, dc, &c);
		if (c.v.dmarc != dc->dmarc || c.v.action != dc->action)
			fail_msg("case %zu (From %s, d=%s): dmarc=%s action=%d, want %s and %d\n%s",
			         i, dc->from, dc->sign_d ? dc->sign_d : "-",
			         mailauth_result_name(c.v.dmarc), c.v.action,
			         mailauth_result_name(dc->dmarc), dc->action, c.v.header);
		if (dc->action != MAILAUTH_TAG)
			assert_non_null(c.v.reason);
		else
			assert_null(c.v.reason);
		check_done(&c);
	}
}

/* The same failures under other policy mappings. */
static void test_dmarc_actions(void **state)
{
	static const struct {
		size_t i;
		enum mailauth_policy soft, tag;
	} want[] = {
	    {2, MAILAUTH_QUARANTINE, MAILAUTH_TAG}, /* p=reject */
	    {5, MAILAUTH_TAG, MAILAUTH_TAG},        /* p=quarantine */
	    {7, MAILAUTH_TAG, MAILAUTH_TAG},        /* p=none */
	};
	for (size_t k = 0; k < ARRAY_LEN(want); k++) {
		struct check c;
		run_dmarc(T.ma_soft, &dmarc_cases[want[k].i], &c);
		assert_int_equal(c.v.action, want[k].soft);
		check_done(&c);
		run_dmarc(T.ma_tag, &dmarc_cases[want[k].i], &c);
		assert_int_equal(c.v.action, want[k].tag);
		assert_null(c.v.reason);
		check_done(&c);
	}
}

static void test_dmarc_header(void **state)
{
	struct check c;

	run_dmarc(T.ma, &dmarc_cases[2], &c);
	assert_string_equal(c.v.header, "Authentication-Results: " AUTHSERV
	                                "; spf=pass smtp.mailfrom=b@other.example.net; dkim=none; "
	                                "dmarc=fail header.from=example.com\r\n");
	assert_string_equal(c.v.reason, "DMARC policy of example.com says reject");
	assert_string_equal(c.v.from_domain, "example.com");
	assert_string_equal(c.v.spf_domain, "other.example.net");
	check_done(&c);
	run_dmarc(T.ma, &dmarc_cases[18], &c);
	assert_string_equal(c.v.header, "Authentication-Results: " AUTHSERV
	                                "; spf=pass smtp.mailfrom=b@other.example.org; dkim=none; "
	                                "dmarc=none header.from=nodmarc.example.net\r\n");
	check_done(&c);
	/* sp= found at the organisational domain: the reason names it */
	run_dmarc(T.ma, &dmarc_cases[9], &c);
	assert_string_equal(c.v.reason, "DMARC policy of example.org says reject");
	check_done(&c);
}

/* SPF fail without a DMARC verdict: spf_fail decides (T.ma_soft: REJECT). */
static void test_spf_fail_action(void **state)
{
	size_t n;
	char *msg = mkmsg(std_hdrs("a@nodmarc.example.net"), BODY, false, &n);
	struct check c;

	check(T.ma_soft, "198.51.100.1", "mx.example.net", "b@pass.spf.example.com", msg, n, &c);
	assert_result(c.v.spf, MA_FAIL);
	assert_result(c.v.dmarc, MA_NONE);
	assert_int_equal(c.v.action, MAILAUTH_REJECT);
	assert_non_null(c.v.reason);
	check_done(&c);
	check(T.ma, "198.51.100.1", "mx.example.net", "b@pass.spf.example.com", msg, n, &c);
	assert_int_equal(c.v.action, MAILAUTH_TAG);
	check_done(&c);
	free(msg);
	/* DMARC passes through DKIM: SPF's fail does not decide */
	msg = mkmsg(std_hdrs("a@example.com"), BODY, false, &n);
	{
		size_t sn;
		char *s = sign("example.com", "s1", T.key, msg, n, &sn);
		check(T.ma_soft, "198.51.100.1", "mx.example.net", "b@pass.spf.example.com", s, sn,
		      &c);
		assert_result(c.v.spf, MA_FAIL);
		assert_result(c.v.dmarc, MA_PASS);
		assert_int_equal(c.v.action, MAILAUTH_TAG);
		check_done(&c);
		free(s);
	}
	free(msg);
}

/* The null sender: SPF checks HELO, and the header says smtp.helo (RFC 8601 2.7.2). */
static void test_null_sender(void **state)
{
	size_t n;
	char *msg = mkmsg(std_hdrs("mailer-daemon@example.com"), BODY, false, &n);
	struct check c;

	check(T.ma, "192.0.2.3", "pass.spf.example.com", "", msg, n, &c);
	assert_result(c.v.spf, MA_PASS);
	assert_string_equal(c.v.spf_domain, "pass.spf.example.com");
	assert_result(c.v.dmarc, MA_PASS); /* relaxed: pass.spf.example.com is in example.com */
	assert_string_equal(c.v.header, "Authentication-Results: " AUTHSERV
	                                "; spf=pass smtp.helo=pass.spf.example.com; dkim=none; "
	                                "dmarc=pass header.from=example.com\r\n");
	check_done(&c);
	free(msg);
}

struct worker {
	int id, failures;
};

static void *worker_run(void *p)
{
	struct worker *w = p;

	for (int i = 0; i < 12; i++) {
		const struct dmarc_case *dc =
		    &dmarc_cases[(size_t)(w->id * 7 + i) % ARRAY_LEN(dmarc_cases)];
		struct arena *a = arena_new();
		struct mailauth_verdict v;
		struct err e;
		size_t n;
		char *msg = mkmsg(std_hdrs(dc->from), BODY, false, &n);
		if (mailauth_check(T.ma, dc->ip, "mx.example.net", dc->mail_from, MA_NONE, msg, n,
		                   a, &v, &e) < 0 ||
		    (dc->sign_d == NULL && (v.dmarc != dc->dmarc || v.action != dc->action))) {
			fprintf(stderr, "thread %d: From %s: dmarc=%s action=%d\n%s", w->id,
			        dc->from, mailauth_result_name(v.dmarc), v.action, v.header);
			w->failures++;
		}
		free(msg);
		arena_free(&a);
	}
	return NULL;
}

/* One mailauth shared by threads (the server's way): the same answers as one at a time. */
static void test_threads(void **state)
{
	pthread_t th[6];
	struct worker w[6];

	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){.id = i};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
}

/* SPF found at MAIL FROM time is reused, not looked up again. */
static void test_spf_reuse(void **state)
{
	size_t n;
	char *msg = mkmsg(std_hdrs("a@example.com"), BODY, false, &n);
	struct arena *a = arena_new();
	struct mailauth_verdict v;
	struct err e;

	/* 198.51.100.1 fails example.com's SPF; the caller says pass */
	assert_int_equal(mailauth_check(T.ma, "198.51.100.1", "mx.example.net", "b@example.com",
	                                MA_PASS, msg, n, a, &v, &e),
	                 0);
	assert_result(v.spf, MA_PASS);
	assert_result(v.dmarc, MA_PASS);
	/* through the dead resolver: no SPF query, so no temperror */
	assert_int_equal(mailauth_check(T.ma_dead, "198.51.100.1", "mx.example.net",
	                                "b@example.com", MA_FAIL, msg, n, a, &v, &e),
	                 0);
	assert_result(v.spf, MA_FAIL);
	arena_free(&a);
	free(msg);
}

/* From fields DMARC cannot use: permerror; none at all: none. */
static void test_dmarc_from(void **state)
{
	static const struct {
		const char *hdrs;
		enum mailauth_result want;
		const char *domain;
	} cases[] = {
	    {"From: a@example.com\nFrom: b@example.net\nSubject: x", MA_PERMERROR, NULL},
	    {"From: a@example.com, b@example.net\nSubject: x", MA_PERMERROR, NULL},
	    {"From: a@example.com, \"B, Jr.\" <b@EXAMPLE.com>\nSubject: x", MA_FAIL, "example.com"},
	    {"From: \"x@evil.example.net\" <a@example.com> (c@evil.example.net)\nSubject: x",
	     MA_FAIL, "example.com"},
	    {"From: Group: a@example.com, b@example.com;\nSubject: x", MA_FAIL, "example.com"},
	    {"From: undisclosed\nSubject: x", MA_PERMERROR, NULL},
	    {"From: <a@[192.0.2.1]>\nSubject: x", MA_PERMERROR, NULL},
	    {"From: a@exa;mple.com\nSubject: x", MA_PERMERROR, NULL},
	    {"Subject: no from", MA_NONE, NULL},
	    {"From : a@example.com\nSubject: obsolete space before the colon", MA_FAIL,
	     "example.com"},
	    {"From: a@example.com\nFROM : b@example.net\nSubject: x", MA_PERMERROR, NULL},
	    {"From: =?utf-8?q?Al=C3=AFce?=\n <alice@example.com>\nSubject: folded", MA_FAIL,
	     "example.com"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n;
		char *msg = mkmsg(cases[i].hdrs, BODY, false, &n);
		struct check c;
		check(T.ma, "198.51.100.1", "mx.example.net", "b@other.example.net", msg, n, &c);
		if (c.v.dmarc != cases[i].want)
			fail_msg("case %zu: dmarc=%s\n%s", i, mailauth_result_name(c.v.dmarc),
			         c.v.header);
		if (cases[i].domain)
			assert_string_equal(c.v.from_domain, cases[i].domain);
		else
			assert_null(c.v.from_domain);
		check_done(&c);
		free(msg);
	}
}

/* Whatever the bytes, a verdict and a well-formed header. */
static void test_garbage(void **state)
{
	static const char *inputs[] = {
	    "",
	    "\n",
	    "\r\n\r\n",
	    "no header at all",
	    "From:",
	    ":\n\n",
	    " folded-first: x\n\n",
	    "From: a@example.com",
	    "From: a@example.com\r\nDKIM-Signature: v=1\r\n",
	    "From: a@example.com\nSubject: \xff\xfe\x00\x01\n\nbody",
	};
	for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
		size_t n = strlen(inputs[i]) + (i == 9 ? 8 : 0);
		char *m = malloc(n ? n : 1);
		struct check c;
		memcpy(m, inputs[i], n);
		check(T.ma, "198.51.100.1", "mx.example.net", "b@other.example.net", m, n, &c);
		assert_true(
		    str_has_prefix(c.v.header, "Authentication-Results: " AUTHSERV "; spf="));
		assert_non_null(strstr(c.v.header, "\r\n"));
		assert_true(strstr(c.v.header, "\r\n")[2] == '\0');
		check_done(&c);
		free(m);
	}
	/* 2000 header fields: over the limit, DKIM gives up (permerror), nothing crashes */
	{
		size_t sz = 2000 * 24 + 64, k = 0;
		char *m = malloc(sz);
		struct check c;
		k += (size_t)snprintf(m, sz, "DKIM-Signature: v=1; d=example.com; s=s1\r\n");
		for (int i = 0; i < 2000; i++)
			k += (size_t)snprintf(m + k, sz - k, "X-H%d: v\r\n", i);
		k += (size_t)snprintf(m + k, sz - k, "\r\nbody\r\n");
		check(T.ma, "198.51.100.1", "mx.example.net", "b@other.example.net", m, k, &c);
		assert_result(c.v.dkim, MA_PERMERROR);
		check_done(&c);
		free(m);
	}
}

/* Mutants of a signed message (bytes replaced, fields cut, truncation): always a verdict
 * and one well-formed header line. A fixed seed keeps runs alike. */
static void test_mutants(void **state)
{
	static const char alphabet[] = ":;=@<>\"()\\ \t\r\n\0\xff-.,aZ0";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t n, sn;
	char *msg = slurp(DATA "message.eml", &n);
	char *s = sign("example.com", "s1", T.key, msg, n, &sn), *m = malloc(sn);

	for (int iter = 0; iter < 300; iter++) {
		size_t mn = sn;
		struct arena *a = arena_new();
		struct mailauth_verdict v;
		struct err e;
		memcpy(m, s, sn);
		for (int k = 0; k < 1 + iter % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (k == 0 && iter % 10 == 9)
				mn = x % sn; /* truncated */
			else if (mn > 0)
				m[x % mn] = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
		}
		assert_int_equal(mailauth_check(T.ma, "198.51.100.1", "mx.example.net", NET_ENV,
		                                MA_PASS, m, mn, a, &v, &e),
		                 0);
		assert_true(str_has_prefix(v.header, "Authentication-Results: " AUTHSERV "; spf="));
		assert_int_equal(strcspn(v.header, "\r\n"), strlen(v.header) - 2);
		arena_free(&a);
	}
	free(m);
	free(s);
	free(msg);
}

/* The handle: bad options, and more than one on one public suffix list. */
static void test_new_free(void **state)
{
	struct mailauth_opts o = {.authserv_id = "bad id; x"};
	struct mailauth *ma = NULL;
	struct err e;

	assert_int_equal(mailauth_new(&o, T.dns, &ma, &e), -1);
	assert_null(ma);
	o.authserv_id = "mx.example.org";
	o.psl_path = "/nonexistent/psl.dat";
	assert_int_equal(mailauth_new(&o, T.dns, &ma, &e), -1);
	assert_int_equal(e.code, ERR_NOTFOUND);
	o.psl_path = NULL;
	assert_int_equal(mailauth_new(&o, NULL, &ma, &e), -1);
	assert_int_equal(mailauth_new(&o, T.dns, &ma, &e), 0);
	mailauth_free(&ma);
	assert_null(ma);
	mailauth_free(&ma); /* NULL is fine */
}

/* mta_hops and mta_delivered_to read the header section only, any case, folded or not. */
static void test_loop_fields(void **state)
{
	static const char m[] = "Delivered-To: <Ann@Example.com>\r\n"
				"received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				"Received : from c\r\n\tby d; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
				"X-Received: not one\r\n"
				"Subject: Received: neither\r\n"
				"Delivered-To: bob@example.com\r\n"
				"\r\n"
				"Received: in the body\r\n"
				"Delivered-To: carol@example.com\r\n";
	static const char lf[] = "Received: x\nReceived: y\n\nReceived: z\n";
	(void)state;
	assert_int_equal(mta_hops(m, sizeof(m) - 1), 2);
	assert_int_equal(mta_hops(lf, sizeof(lf) - 1), 2);
	assert_int_equal(mta_hops("", 0), 0);
	assert_int_equal(mta_hops("Received", 8), 0);
	assert_true(mta_delivered_to(m, sizeof(m) - 1, "ann@example.com"));
	assert_true(mta_delivered_to(m, sizeof(m) - 1, "BOB@example.com"));
	assert_false(mta_delivered_to(m, sizeof(m) - 1, "carol@example.com")); /* body */
	assert_false(mta_delivered_to(m, sizeof(m) - 1, "an@example.com"));
	assert_false(mta_delivered_to(m, 10, "ann@example.com")); /* cut short */
}

/* mta_rcpt_classify: what an address is here, and a directory that cannot be read is a
 * temporary failure, never "not hosted" (relayed, or refused as a relay) or "nobody" (bounced). */
static void test_rcpt_classify(void **state)
{
	char dir[] = "/tmp/yz-route-XXXXXX", cmd[200];
	struct store *st;
	struct err err;
	int64_t dom, id;
	sqlite3 *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, true, &st, &err), 0);
	assert_int_equal(store_domain_add(st, "example.com", &dom, &err), 0);
	assert_int_equal(store_account_add(st, "ann@example.com", "Ann", ROLE_USER, "pw-1234567",
					   4096, &id, &err),
			 0);
	assert_int_equal(mta_rcpt_classify(st, "ann@example.com"), MTA_RCPT_LOCAL);
	assert_int_equal(mta_rcpt_classify(st, "ANN@Example.COM"), MTA_RCPT_LOCAL);
	assert_int_equal(mta_rcpt_classify(st, "bob@example.com"), MTA_RCPT_NOUSER);
	assert_int_equal(mta_rcpt_classify(st, "bob@elsewhere.org"), MTA_RCPT_REMOTE);
	assert_int_equal(mta_rcpt_classify(st, "bob%elsewhere.org@example.com"), MTA_RCPT_BAD);
	assert_int_equal(mta_rcpt_classify(st, "host!bob@example.com"), MTA_RCPT_BAD);

	/* the directory loses its tables under the running store */
	snprintf(cmd, sizeof(cmd), "%s/directory.db", dir);
	assert_int_equal(sqlite3_open(cmd, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys=OFF; DROP TABLE domains;", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(mta_rcpt_classify(st, "ann@example.com"), MTA_RCPT_TEMPFAIL);
	assert_int_equal(mta_rcpt_classify(st, "bob@elsewhere.org"), MTA_RCPT_TEMPFAIL);
	assert_int_equal(mta_rcpt_classify(st, "bob%elsewhere.org@example.com"), MTA_RCPT_BAD);
	store_close(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_result_names),
	    cmocka_unit_test(test_spf_table),
	    cmocka_unit_test(test_spf_temperror),
	    cmocka_unit_test(test_spf_bad_args),
	    cmocka_unit_test(test_dmarc_table),
	    cmocka_unit_test(test_dmarc_actions),
	    cmocka_unit_test(test_dmarc_header),
	    cmocka_unit_test(test_dmarc_from),
	    cmocka_unit_test(test_spf_fail_action),
	    cmocka_unit_test(test_spf_reuse),
	    cmocka_unit_test(test_null_sender),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_mutants),
	    cmocka_unit_test(test_new_free),
	    cmocka_unit_test(test_rcpt_classify),
	    cmocka_unit_test(test_loop_fields),
	};
	return cmocka_run_group_tests(tests, mailauth_fixture_setup, mailauth_fixture_teardown);
}
