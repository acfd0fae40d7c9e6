/* Unit tests for mta/mailauth.h: SPF, DKIM and DMARC over real DNS.
 *
 * The group setup starts dnsmasq on 127.0.0.1 with ephemeral ports, serving
 * tests/data/mailauth/zone.conf plus the DKIM keys made here by mailauth_dkim_keygen, and every
 * lookup goes to it through mta/dns.h. A second resolver points at a port where nothing listens
 * (temperror). Oracles: the RFCs' result tables; for DKIM also dkimpy (python3-dkim), an
 * independent implementation, which verifies our signatures and signs messages we verify.
 * dnsmasq dies with the test (PR_SET_PDEATHSIG) and is killed in the group teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mailauth.h"
#include "mta/route.h"
#include "store/store.h"

#define DATA YZ_SOURCE_DIR "/tests/data/mailauth/"
#define PYTHON "/usr/bin/python3" /* Debian's, where python3-dkim lives */
#define AUTHSERV "mx.test.yizhan"
/* envelope senders whose SPF passes from 198.51.100.0/24, aligned with example.net / .org */
#define NET_ENV "b@other.example.net"
#define ORG_ENV "b@other.example.org"

static struct {
	char dir[64];
	pid_t dnsmasq;
	int port, dead_port;
	struct dns_resolver *dns, *dead;
	struct mailauth *ma;      /* reject -> REJECT, quarantine -> QUARANTINE, spf fail -> TAG */
	struct mailauth *ma_soft; /* reject -> QUARANTINE, quarantine -> TAG, spf fail -> REJECT */
	struct mailauth *ma_tag;  /* everything TAG */
	struct mailauth *ma_dead; /* DNS that never answers */
	char *key, *txt;          /* published as s1 and py at several domains */
	char *key2, *txt2;        /* a key published nowhere */
} T;

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	long l;
	char *b;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	rewind(f);
	b = malloc((size_t)l + 1);
	assert_non_null(b);
	*n = fread(b, 1, (size_t)l, f);
	b[*n] = '\0';
	fclose(f);
	return b;
}

static void spit(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	fclose(f);
}

static char *tmp_path(const char *name)
{
	static char buf[16][160]; /* a ring: a few may be in use at once */
	static int k;
	char *p = buf[k++ % 16];
	snprintf(p, sizeof(buf[0]), "%s/%s", T.dir, name);
	return p;
}

/* A port free for both UDP and TCP on 127.0.0.1. */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), port;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(u, (struct sockaddr *)&sa, &sl) < 0) {
			close(u);
			close(t);
			continue;
		}
		port = ntohs(sa.sin_port);
		if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(u);
			close(t);
			return port;
		}
		close(u);
		close(t);
	}
	return -1;
}

/* Run argv with stdout to out (or /dev/null); the exit status. */
static int run(char *const argv[], const char *out)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void key_record(FILE *f, const char *name, const char *txt)
{
	fprintf(f, "txt-record=%s,\"%s\"\n", name, txt);
}

static void start_dnsmasq(void)
{
	size_t n;
	char *zone = slurp(DATA "zone.conf", &n), port[32], conf[200];
	FILE *f = fopen(tmp_path("zone.conf"), "w");
	const char *names[] = {
	    "s1._domainkey.example.com",        "s1._domainkey.mail.example.com",
	    "s1._domainkey.example.net",        "py._domainkey.example.net",
	    "s1._domainkey.example.co.uk",      "s1._domainkey.other.co.uk",
	    "s1._domainkey.strict.example.net",
	};

	assert_non_null(f);
	fwrite(zone, 1, n, f);
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		key_record(f, names[i], T.txt);
	/* a revoked key (RFC 6376 3.6.1: empty p=) */
	key_record(f, "revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=");
	fclose(f);
	free(zone);

	T.port = free_port();
	T.dead_port = free_port();
	assert_true(T.port > 0 && T.dead_port > 0 && T.port != T.dead_port);
	snprintf(port, sizeof(port), "--port=%d", T.port);
	snprintf(conf, sizeof(conf), "--conf-file=%s", tmp_path("zone.conf"));
	T.dnsmasq = fork();
	assert_true(T.dnsmasq >= 0);
	if (T.dnsmasq == 0) {
		char *argv[] = {"/usr/sbin/dnsmasq",
		                "--no-daemon",
		                port,
		                "--listen-address=127.0.0.1",
		                "--bind-interfaces",
		                "--no-resolv",
		                "--no-hosts",
		                "--pid-file=",
		                /* answers may be cached for a second (mta/dns.c) */
		                "--local-ttl=1",
		                conf,
		                NULL};
		int fd = open(tmp_path("dnsmasq.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
}

/* Until dnsmasq answers (a few tens of milliseconds). */
static void wait_dnsmasq(void)
{
	struct arena *a = arena_new();
	struct err e;
	const char **v;
	size_t n;
	uint64_t until = time_mono_ns() + 5000000000ull;

	for (;;) {
		/* a resolver of its own each time: T.dns would cache the failure for seconds */
		struct dns_resolver *probe;
		char servers[64];
		int st, r;
		snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.port);
		assert_int_equal(dns_resolver_new(servers, 1, &probe, &e), 0);
		r = dns_txt(probe, "pass.spf.example.com", a, &v, &n, &e);
		dns_resolver_free(&probe);
		if (r == 0)
			break;
		if (waitpid(T.dnsmasq, &st, WNOHANG) == T.dnsmasq) {
			size_t ln;
			char *log = slurp(tmp_path("dnsmasq.log"), &ln);
			fail_msg("dnsmasq exited: %s", log);
		}
		if (time_mono_ns() > until)
			fail_msg("dnsmasq does not answer: %s", e.msg);
		usleep(20000);
	}
	arena_free(&a);
}

static struct mailauth *new_ma(struct dns_resolver *dns, enum mailauth_policy rej,
                               enum mailauth_policy quar, enum mailauth_policy spf)
{
	struct mailauth_opts o = {
	    .authserv_id = AUTHSERV,
	    .dmarc_reject = rej,
	    .dmarc_quarantine = quar,
	    .spf_fail = spf,
	};
	struct mailauth *ma;
	struct err e;

	if (mailauth_new(&o, dns, &ma, &e) < 0)
		fail_msg("mailauth_new: %s", e.msg);
	return ma;
}

static int group_setup(void **state)
{
	struct err e;
	char servers[64];

	signal(SIGPIPE, SIG_IGN);
	snprintf(T.dir, sizeof(T.dir), "/tmp/yz-mailauth-XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	assert_int_equal(mailauth_dkim_keygen(&T.key, &T.txt, &e), 0);
	assert_int_equal(mailauth_dkim_keygen(&T.key2, &T.txt2, &e), 0);
	start_dnsmasq();
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.port);
	assert_int_equal(dns_resolver_new(servers, 2, &T.dns, &e), 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.dead_port);
	assert_int_equal(dns_resolver_new(servers, 1, &T.dead, &e), 0);
	wait_dnsmasq();
	T.ma = new_ma(T.dns, MAILAUTH_REJECT, MAILAUTH_QUARANTINE, MAILAUTH_TAG);
	T.ma_soft = new_ma(T.dns, MAILAUTH_QUARANTINE, MAILAUTH_TAG, MAILAUTH_REJECT);
	T.ma_tag = new_ma(T.dns, MAILAUTH_TAG, MAILAUTH_TAG, MAILAUTH_TAG);
	T.ma_dead = new_ma(T.dead, MAILAUTH_REJECT, MAILAUTH_QUARANTINE, MAILAUTH_TAG);
	return 0;
}

static int group_teardown(void **state)
{
	mailauth_free(&T.ma);
	mailauth_free(&T.ma_soft);
	mailauth_free(&T.ma_tag);
	mailauth_free(&T.ma_dead);
	dns_resolver_free(&T.dns);
	dns_resolver_free(&T.dead);
	if (T.dnsmasq > 0) {
		kill(T.dnsmasq, SIGTERM);
		waitpid(T.dnsmasq, NULL, 0);
	}
	free(T.key);
	free(T.txt);
	free(T.key2);
	free(T.txt2);
	const char *files[] = {"zone.conf", "dnsmasq.log", "msg.eml",
	                       "key.txt",   "key.pem",     "signed.eml"};
	for (size_t i = 0; i < ARRAY_LEN(files); i++)
		unlink(tmp_path(files[i]));
	rmdir(T.dir);
	return 0;
}

/* A message: header fields (one per line, "\n"-separated in hdrs) and body, CRLF or LF. */
static char *mkmsg(const char *hdrs, const char *body, bool lf, size_t *len)
{
	size_t n = strlen(hdrs) + strlen(body) + 8; /* doubled below for CRs */
	char *out = malloc(2 * n), *o = out;

	assert_non_null(out);
	for (const char *p = hdrs; *p; p++) {
		if (*p == '\n' && !lf)
			*o++ = '\r';
		*o++ = *p;
	}
	for (int k = 0; k < 2; k++) { /* end the last field, then the empty line */
		if (!lf)
			*o++ = '\r';
		*o++ = '\n';
	}
	for (const char *p = body; *p; p++) {
		if (*p == '\n' && !lf)
			*o++ = '\r';
		*o++ = *p;
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

/* header + msg, malloc'd */
static char *prepend(const char *hdr, const char *msg, size_t len, size_t *out_len)
{
	size_t h = strlen(hdr);
	char *out = malloc(h + len + 1);

	assert_non_null(out);
	memcpy(out, hdr, h);
	memcpy(out + h, msg, len);
	out[h + len] = '\0';
	*out_len = h + len;
	return out;
}

static char *sign(const char *domain, const char *selector, const char *key, const char *msg,
                  size_t len, size_t *out_len)
{
	struct arena *a = arena_new();
	const char *hdr;
	struct err e;
	char *out;

	if (mailauth_dkim_sign(T.ma, domain, selector, key, msg, len, a, &hdr, &e) < 0)
		fail_msg("mailauth_dkim_sign: %s", e.msg);
	out = prepend(hdr, msg, len, out_len);
	arena_free(&a);
	return out;
}

struct check {
	struct arena *a;
	struct mailauth_verdict v;
};

static void check(struct mailauth *ma, const char *ip, const char *helo, const char *from,
                  const char *msg, size_t len, struct check *c)
{
	struct err e;

	c->a = arena_new();
	if (mailauth_check(ma, ip, helo, from, MA_NONE, msg, len, c->a, &c->v, &e) < 0)
		fail_msg("mailauth_check: %s", e.msg);
	assert_non_null(c->v.header);
}

static void check_done(struct check *c)
{
	arena_free(&c->a);
}

#define assert_result(got, want)                                                                   \
	assert_string_equal(mailauth_result_name(got), mailauth_result_name(want))

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

static void test_result_names(void **state)
{
	static const char *want[] = {"none",    "pass",      "fail",      "softfail",
	                             "neutral", "temperror", "permerror", "policy"};
	for (int i = MA_NONE; i <= MA_POLICY; i++)
		assert_string_equal(mailauth_result_name((enum mailauth_result)i), want[i]);
	assert_string_equal(mailauth_result_name((enum mailauth_result)99), "permerror");
}

/* ---- DKIM ---- */

static const char *std_hdrs(const char *from)
{
	static _Thread_local char buf[512]; /* test_threads builds messages on several threads */
	snprintf(buf, sizeof(buf),
	         "From: Alice <%s>\nTo: bob@example.net\nSubject: Quarterly numbers\n"
	         "Date: Mon, 01 Dec 2025 10:00:00 +0000\nMessage-ID: <m1@example.com>\n"
	         "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii",
	         from);
	return buf;
}

static const char *BODY = "Hello Bob,\n\nthe numbers are attached.  \n\n\n";

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
	    cmocka_unit_test(test_dns_cache),
	    cmocka_unit_test(test_dns_answer_ttl),
	    cmocka_unit_test(test_reverse_names),
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
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
