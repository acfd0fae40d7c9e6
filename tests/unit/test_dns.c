/* Unit tests for mta/dns.h against the fixture's dnsmasq (mailauth_fixture.h): reverse names,
 * and the answer cache with its TTL rules, checked on hand-made replies. */
#include "mailauth_fixture.h"

/* A DNS reply made by hand for dns_answer_ttl(): header, one question (example.com TXT), then
 * the answer records (TXT "x", one TTL each) and, when soa_ttl is not 0, an SOA in the
 * authority section. */
struct pkt {
	unsigned char b[512];
	int n;
};

static void put16(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)(v >> 8);
	p->b[p->n++] = (unsigned char)v;
}

static void put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xffff);
}

static void put_name(struct pkt *p)
{
	static const unsigned char name[] = "\7example\3com";
	memcpy(p->b + p->n, name, sizeof(name)); /* with the root label, the final NUL */
	p->n += (int)sizeof(name);
}

static int make_reply(struct pkt *p, int rcode, const uint32_t *ttls, int nttl, uint32_t soa_ttl,
		      uint32_t soa_min)
{
	memset(p, 0, sizeof(*p));
	put16(p, 0x1234);
	put16(p, 0x8180 | (unsigned)rcode); /* response, RD, RA */
	put16(p, 1);
	put16(p, (unsigned)nttl);
	put16(p, soa_ttl ? 1 : 0);
	put16(p, 0);
	put_name(p);
	put16(p, ns_t_txt);
	put16(p, ns_c_in);
	for (int i = 0; i < nttl; i++) {
		put16(p, 0xc00c); /* the question's name */
		put16(p, ns_t_txt);
		put16(p, ns_c_in);
		put32(p, ttls[i]);
		put16(p, 2);
		p->b[p->n++] = 1;
		p->b[p->n++] = 'x';
	}
	if (soa_ttl) {
		put16(p, 0xc00c);
		put16(p, ns_t_soa);
		put16(p, ns_c_in);
		put32(p, soa_ttl);
		put16(p, 2 + 2 + 20); /* two compressed names, five numbers */
		put16(p, 0xc00c);
		put16(p, 0xc00c);
		put32(p, 2026120401); /* serial */
		put32(p, 3600);
		put32(p, 600);
		put32(p, 86400);
		put32(p, soa_min);
	}
	return p->n;
}

/* How long each kind of reply is cached (mta/dns.h: dns_answer_ttl). */
static void test_dns_answer_ttl(void **state)
{
	struct pkt p;
	int n;

	n = make_reply(&p, ns_r_noerror, (uint32_t[]){300, 60, 900}, 3, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n, false), 60); /* the smallest */
	n = make_reply(&p, ns_r_noerror, (uint32_t[]){86400}, 1, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n, false), 3600); /* at most an hour */
	n = make_reply(&p, ns_r_noerror, (uint32_t[]){300, 0x80000001u}, 2, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n, false), 0); /* top bit: zero */
	n = make_reply(&p, ns_r_noerror, (uint32_t[]){0}, 1, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n, false), 0);
	/* negative: min(SOA TTL, MINIMUM), at most 15 minutes, 5 s without an SOA */
	n = make_reply(&p, ns_r_nxdomain, NULL, 0, 600, 120);
	assert_int_equal(dns_answer_ttl(p.b, n, true), 120);
	n = make_reply(&p, ns_r_nxdomain, NULL, 0, 100, 3000);
	assert_int_equal(dns_answer_ttl(p.b, n, true), 100);
	n = make_reply(&p, ns_r_noerror, NULL, 0, 5000, 5000);
	assert_int_equal(dns_answer_ttl(p.b, n, true), 900);
	n = make_reply(&p, ns_r_nxdomain, NULL, 0, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n, true), 5);
	/* cut short: nothing is cached */
	n = make_reply(&p, ns_r_noerror, (uint32_t[]){300}, 1, 0, 0);
	assert_int_equal(dns_answer_ttl(p.b, n - 3, false), 0);
	n = make_reply(&p, ns_r_nxdomain, NULL, 0, 600, 120);
	assert_int_equal(dns_answer_ttl(p.b, n - 5, true), 0);
	assert_int_equal(dns_answer_ttl(p.b, 5, false), 0);
}

/* The resolver's cache (mta/dns.h): a repeated question is answered from it, whatever the
 * case of the name, for the TTL of the records (dnsmasq here gives them 1 s); a failed
 * lookup is remembered for 5 s, so a dead server is not asked again meanwhile. */
static void test_dns_cache(void **state)
{
	struct arena *a = arena_new();
	uint64_t h0, m0, h1, m1, t0;
	const char **v, **w;
	size_t n, k;
	struct err e;

	usleep(1200 * 1000); /* what the tests before asked has expired */
	dns_cache_stats(T.dns, &h0, &m0);
	assert_int_equal(dns_txt(T.dns, "soft.spf.example.com", a, &v, &n, &e), 0);
	assert_int_equal(dns_txt(T.dns, "SOFT.Spf.Example.COM", a, &w, &k, &e), 0);
	dns_cache_stats(T.dns, &h1, &m1);
	assert_int_equal(n, 1);
	assert_int_equal(k, 1);
	assert_string_equal(v[0], "v=spf1 ip4:192.0.2.1 ~all");
	assert_string_equal(w[0], v[0]);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 1);
	/* another type of the same name is another question */
	dns_cache_stats(T.dns, &h0, &m0);
	assert_int_equal(dns_txt(T.dns, "a.spf.example.com", a, &v, &n, &e), 0);
	assert_int_equal(dns_addrs(T.dns, "a.spf.example.com", a, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "192.0.2.50");
	dns_cache_stats(T.dns, &h1, &m1);
	assert_true(m1 - m0 >= 2); /* TXT, A (and AAAA unless its "no data" was kept) */
	assert_int_equal(dns_addrs(T.dns, "a.spf.example.com", a, &v, &n, &e), 0);
	assert_string_equal(v[0], "192.0.2.50");
	dns_cache_stats(T.dns, &h0, &m0);
	assert_true(h0 - h1 >= 1);
	/* past the TTL it is asked again */
	usleep(1200 * 1000);
	dns_cache_stats(T.dns, &h0, &m0);
	assert_int_equal(dns_txt(T.dns, "soft.spf.example.com", a, &v, &n, &e), 0);
	assert_string_equal(v[0], "v=spf1 ip4:192.0.2.1 ~all");
	dns_cache_stats(T.dns, &h1, &m1);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 0);
	/* a name that does not exist stays "not found", the second time from the cache (dnsmasq
	 * sends no SOA with it: kept 5 s) */
	dns_cache_stats(T.dns, &h0, &m0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(dns_txt(T.dns, "nothere2.spf.example.com", a, &v, &n, &e), -1);
		assert_int_equal(e.code, ERR_NOTFOUND);
	}
	dns_cache_stats(T.dns, &h1, &m1);
	assert_int_equal(m1 - m0, 1);
	assert_int_equal(h1 - h0, 1);
	/* a dead server: the second lookup is answered at once, with the same error */
	dns_cache_stats(T.dead, &h0, &m0);
	assert_int_equal(dns_txt(T.dead, "cache.spf.example.com", a, &v, &n, &e), -1);
	assert_int_equal(e.code, ERR_IO);
	t0 = time_mono_ns();
	assert_int_equal(dns_txt(T.dead, "cache.spf.example.com", a, &v, &n, &e), -1);
	assert_int_equal(e.code, ERR_IO);
	assert_true(time_mono_ns() - t0 < 50000000ull);
	dns_cache_stats(T.dead, &h1, &m1);
	assert_int_equal(h1 - h0, 1);
	assert_int_equal(m1 - m0, 1);
	/* a bad name never reaches the cache */
	assert_int_equal(dns_txt(T.dns, "", a, &v, &n, &e), -1);
	assert_int_equal(e.code, ERR_INVALID);
	arena_free(&a);
}

/* dns_ptr() and dns_confirmed_name() (the Received field's client name) */
static void test_reverse_names(void **state)
{
	struct arena *a = arena_new();
	const char **v;
	size_t n;
	char name[256];
	struct err e;

	(void)state;
	assert_int_equal(dns_ptr(T.dns, "192.0.2.20", a, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "mx1.spf.example.com");
	assert_int_equal(dns_ptr(T.dns, "2001:db8::20", a, &v, &n, &e), 0);
	assert_string_equal(v[0], "mx1.spf.example.com");
	assert_int_equal(dns_confirmed_name(T.dns, "192.0.2.20", name, sizeof(name), &e), 0);
	assert_string_equal(name, "mx1.spf.example.com");
	assert_int_equal(dns_confirmed_name(T.dns, "2001:db8::20", name, sizeof(name), &e), 0);
	assert_string_equal(name, "mx1.spf.example.com");
	/* a PTR whose name maps to another address is no name */
	assert_int_equal(dns_ptr(T.dns, "192.0.2.99", a, &v, &n, &e), 0);
	assert_string_equal(v[0], "a.spf.example.com");
	assert_int_equal(dns_confirmed_name(T.dns, "192.0.2.99", name, sizeof(name), &e), -1);
	assert_int_equal(e.code, ERR_NOTFOUND);
	assert_int_equal(dns_confirmed_name(T.dns, "192.0.2.77", name, sizeof(name), &e), -1);
	assert_int_equal(e.code, ERR_NOTFOUND);
	/* too small a buffer for the name: none rather than a cut one */
	assert_int_equal(dns_confirmed_name(T.dns, "192.0.2.20", name, 8, &e), -1);
	/* a dead server is "try again", a bad address is refused before any query */
	assert_int_equal(dns_confirmed_name(T.dead, "192.0.2.20", name, sizeof(name), &e), -1);
	assert_int_equal(e.code, ERR_IO);
	assert_int_equal(dns_ptr(T.dns, "not-an-ip", a, &v, &n, &e), -1);
	assert_int_equal(e.code, ERR_INVALID);
	assert_int_equal(dns_ptr(T.dns, "192.0.2.1; rm", a, &v, &n, &e), -1);
	assert_int_equal(e.code, ERR_INVALID);
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns_cache),
	    cmocka_unit_test(test_dns_answer_ttl),
	    cmocka_unit_test(test_reverse_names),
	};
	return cmocka_run_group_tests(tests, mailauth_fixture_setup, mailauth_fixture_teardown);
}
