/* DNS lookups over libresolv (dns.h). */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define ANSWER_MAX 65536

/* The answer cache (dns.h): direct-mapped, so a name that collides replaces the other one. */
#define CACHE_SLOTS 1024         /* a power of two */
#define CACHE_ANSWER_MAX 4096    /* larger answers are not kept */
#define CACHE_TTL_MAX 3600       /* seconds, whatever the records say */
#define CACHE_NEGATIVE_MAX 900   /* NXDOMAIN / no data: min(SOA TTL, SOA minimum), at most */
#define CACHE_FAILURE_TTL 5      /* a timeout or SERVFAIL (RFC 2308 section 7: <= 5 minutes),
				    and a negative answer without an SOA */

struct cache_slot {
	uint64_t expires_ns; /* 0: empty */
	int type;
	enum err_code code;  /* ERR_OK (answer kept), ERR_NOTFOUND or ERR_IO */
	char name[256];      /* lower case */
	unsigned char *ans;  /* malloc'd, for ERR_OK */
	int len;
};

struct dns_resolver {
	struct sockaddr_in servers[DNS_MAX_SERVERS];
	int nservers; /* 0: the system's (resolv.conf) */
	int timeout;
	pthread_mutex_t lock; /* the cache */
	struct cache_slot *slots;
	uint64_t hits, misses;
};

int dns_resolver_new(const char *servers, int timeout_s, struct dns_resolver **r_r,
		     struct err *err)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	char buf[512], *save = NULL;

	r->timeout = timeout_s > 0 ? timeout_s : 5;
	pthread_mutex_init(&r->lock, NULL);
	r->slots = xcalloc(CACHE_SLOTS, sizeof(*r->slots));
	if (servers && *servers) {
		if (strlen(servers) >= sizeof(buf)) {
			dns_resolver_free(&r);
			return err_set(err, ERR_INVALID, "dns servers: too long");
		}
		snprintf(buf, sizeof(buf), "%s", servers);
		for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			char *colon = strchr(t, ':');
			int64_t port = 53;
			struct sockaddr_in *sa;
			if (r->nservers == DNS_MAX_SERVERS) {
				dns_resolver_free(&r);
				return err_set(err, ERR_INVALID, "dns servers: at most %d",
					       DNS_MAX_SERVERS);
			}
			if (colon) {
				*colon = '\0';
				if (str_to_i64(colon + 1, 1, 65535, &port) < 0) {
					dns_resolver_free(&r);
					return err_set(err, ERR_INVALID, "dns servers: bad port in '%s'",
						       t);
				}
			}
			sa = &r->servers[r->nservers];
			sa->sin_family = AF_INET;
			sa->sin_port = htons((uint16_t)port);
			if (inet_pton(AF_INET, t, &sa->sin_addr) != 1) {
				dns_resolver_free(&r);
				return err_set(err, ERR_INVALID,
					       "dns servers: '%s' is not an IPv4 address", t);
			}
			r->nservers++;
		}
	}
	*r_r = r;
	return 0;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		free(r->slots[i].ans);
	free(r->slots);
	pthread_mutex_destroy(&r->lock);
	free(r);
	*rp = NULL;
}

void dns_cache_stats(struct dns_resolver *r, uint64_t *hits_r, uint64_t *misses_r)
{
	pthread_mutex_lock(&r->lock);
	*hits_r = r->hits;
	*misses_r = r->misses;
	pthread_mutex_unlock(&r->lock);
}

/* The cache key: the name in lower case (DNS names compare case-insensitively, RFC 4343). */
static struct cache_slot *slot_of(struct dns_resolver *r, const char *lname, int type)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)type; /* FNV-1a */
	for (const char *p = lname; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return &r->slots[h & (CACHE_SLOTS - 1)];
}

/* 1 and the outcome when (name, type) is cached and fresh, else 0. */
static int cache_get(struct dns_resolver *r, const char *lname, int type, unsigned char *ans,
		     int *len_r, enum err_code *code_r)
{
	struct cache_slot *c;
	int hit = 0;

	pthread_mutex_lock(&r->lock);
	c = slot_of(r, lname, type);
	if (c->expires_ns > time_mono_ns() && c->type == type && strcmp(c->name, lname) == 0) {
		*code_r = c->code;
		if (c->code == ERR_OK) {
			memcpy(ans, c->ans, (size_t)c->len);
			*len_r = c->len;
		}
		hit = 1;
		r->hits++;
	} else {
		r->misses++;
	}
	pthread_mutex_unlock(&r->lock);
	return hit;
}

static void cache_put(struct dns_resolver *r, const char *lname, int type, enum err_code code,
		      const unsigned char *ans, int len, uint32_t ttl)
{
	struct cache_slot *c;
	unsigned char *copy = NULL;

	if (ttl == 0 || (code == ERR_OK && (len <= 0 || len > CACHE_ANSWER_MAX)))
		return;
	if (code == ERR_OK) {
		copy = xmalloc((size_t)len);
		memcpy(copy, ans, (size_t)len);
	}
	pthread_mutex_lock(&r->lock);
	c = slot_of(r, lname, type);
	free(c->ans);
	c->ans = copy;
	c->len = code == ERR_OK ? len : 0;
	c->type = type;
	c->code = code;
	snprintf(c->name, sizeof(c->name), "%s", lname);
	c->expires_ns = time_mono_ns() + (uint64_t)ttl * 1000000000ull;
	pthread_mutex_unlock(&r->lock);
}

/* How long an answer may be kept: the smallest TTL of its answer records (RFC 2181 5.2: an
 * RRset has one TTL, so the smallest is the safe one); a negative answer, min(SOA TTL, SOA
 * MINIMUM) of the SOA in its authority section (RFC 2308 section 5). A negative answer
 * without an SOA (some resolvers send them so; dnsmasq for its local zones, this machine's
 * resolver) is kept for CACHE_FAILURE_TTL. RFC 2308 says not to cache it at all, so that two
 * caching servers cannot hand it to each other for ever; this cache passes its answers to
 * no other server, and a burst of mail from one domain then asks once in 5 s. */
uint32_t dns_answer_ttl(const unsigned char *ans, int len, bool negative)
{
	ns_msg msg;
	uint32_t ttl = UINT32_MAX;

	if (ns_initparse(ans, len, &msg) < 0)
		return 0;
	if (!negative) {
		for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
			ns_rr rr;
			if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
				return 0;
			/* RFC 2181 section 8: a TTL with the top bit set means zero */
			uint32_t t = ns_rr_ttl(rr) > INT32_MAX ? 0 : ns_rr_ttl(rr);
			if (t < ttl)
				ttl = t;
		}
		return ttl == UINT32_MAX ? 0 : ttl < CACHE_TTL_MAX ? ttl : CACHE_TTL_MAX;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_ns); i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_ns, i, &rr) < 0)
			return 0;
		if (ns_rr_type(rr) == ns_t_soa && ns_rr_rdlen(rr) >= 20) {
			/* MINIMUM is the last of the five 32-bit fields ending the RDATA */
			const unsigned char *m = ns_rr_rdata(rr) + ns_rr_rdlen(rr) - 4;
			uint32_t minimum = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
					   (uint32_t)m[2] << 8 | m[3];
			ttl = ns_rr_ttl(rr) > INT32_MAX ? 0 : ns_rr_ttl(rr);
			if (minimum < ttl)
				ttl = minimum;
			return ttl < CACHE_NEGATIVE_MAX ? ttl : CACHE_NEGATIVE_MAX;
		}
	}
	return CACHE_FAILURE_TTL;
}

static int fail(enum err_code code, const char *name, int *rcode_r, struct err *err)
{
	if (code == ERR_NOTFOUND) {
		*rcode_r = ns_r_nxdomain;
		return err_set(err, ERR_NOTFOUND, "%s: no such DNS record", name);
	}
	*rcode_r = ns_r_servfail;
	return err_set(err, ERR_IO, "%s: DNS lookup failed (try again)", name);
}

/* One question, answered from the cache or sent (res_nmkquery + res_nsend rather than
 * res_nquery, which drops the reply of a negative answer, whose SOA says how long it holds;
 * unlike res_nquery it never adds an EDNS0 record, which resolv.conf's "options edns0" asks
 * for: a large answer comes over TCP after a truncated one, as res_nsend does on its own).
 * As res_nquery does: NXDOMAIN, and NOERROR without answers, are "not found"; SERVFAIL, other
 * rcodes and no reply at all are "try again". */
static int query(struct dns_resolver *r, const char *name, int type, unsigned char *ans,
		 int *len_r, int *rcode_r, struct err *err)
{
	struct __res_state st;
	unsigned char q[NS_PACKETSZ];
	char lname[256];
	enum err_code code;
	int n, qlen;
	size_t nl;

	if (name == NULL || *name == '\0' || (nl = strlen(name)) > 253)
		return err_set(err, ERR_INVALID, "bad DNS name");
	for (size_t i = 0; i <= nl; i++)
		lname[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	if (cache_get(r, lname, type, ans, len_r, &code)) {
		if (code != ERR_OK)
			return fail(code, name, rcode_r, err);
		*rcode_r = ns_r_noerror;
		return 0;
	}
	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return err_set(err, ERR_IO, "resolver initialisation failed");
	if (r->nservers) {
		for (int i = 0; i < r->nservers; i++)
			st.nsaddr_list[i] = r->servers[i];
		st.nscount = r->nservers;
	}
	st.retrans = r->timeout;
	st.retry = 2;
	qlen = res_nmkquery(&st, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, sizeof(q));
	n = qlen < 0 ? -1 : res_nsend(&st, q, qlen, ans, ANSWER_MAX);
	res_nclose(&st);
	if (n > ANSWER_MAX)
		n = ANSWER_MAX; /* the reply was cut to the buffer */
	if (qlen < 0)
		return err_set(err, ERR_INVALID, "%s: not a DNS name", name);
	if (n < NS_HFIXEDSZ) { /* no reply (timeout, refused) or not even a header */
		cache_put(r, lname, type, ERR_IO, NULL, 0, CACHE_FAILURE_TTL);
		return fail(ERR_IO, name, rcode_r, err);
	}
	{
		const HEADER *h = (const HEADER *)ans;
		/* a truncated reply (kept only when resolv.conf says "options ign-tc") is used
		 * but not cached: the whole answer may say more */
		bool keep = !h->tc;
		if (h->rcode == ns_r_nxdomain || (h->rcode == ns_r_noerror && h->ancount == 0)) {
			if (keep)
				cache_put(r, lname, type, ERR_NOTFOUND, NULL, 0,
					  dns_answer_ttl(ans, n, true));
			return fail(ERR_NOTFOUND, name, rcode_r, err);
		}
		if (h->rcode != ns_r_noerror) {
			cache_put(r, lname, type, ERR_IO, NULL, 0, CACHE_FAILURE_TTL);
			return fail(ERR_IO, name, rcode_r, err);
		}
		if (keep)
			cache_put(r, lname, type, ERR_OK, ans, n, dns_answer_ttl(ans, n, false));
	}
	*len_r = n;
	*rcode_r = ns_r_noerror;
	return 0;
}

int dns_raw(struct dns_resolver *r, const char *name, int type, struct arena *a,
	    unsigned char **ans_r, int *len_r, struct err *err)
{
	unsigned char *ans = arena_alloc_raw(a, ANSWER_MAX);
	int rcode;
	if (query(r, name, type, ans, len_r, &rcode, err) < 0)
		return -1;
	*ans_r = ans;
	return 0;
}

/* Walk the answer section for records of type; fn gets each record. */
static int each_answer(const unsigned char *ans, int len, int type,
		       int (*fn)(void *, ns_msg *, ns_rr *), void *ctx, struct err *err)
{
	ns_msg msg;
	int count = 0;

	if (ns_initparse(ans, len, &msg) < 0)
		return err_set(err, ERR_IO, "malformed DNS answer");
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return err_set(err, ERR_IO, "malformed DNS answer");
		if ((int)ns_rr_type(rr) != type)
			continue;
		if (fn(ctx, &msg, &rr) < 0)
			return err_set(err, ERR_IO, "malformed DNS record");
		count++;
	}
	return count;
}

struct collect {
	struct arena *a;
	void *v;
	size_t n, cap, size;
};

static void *grow(struct collect *c)
{
	if (c->n == c->cap) {
		void *nv;
		c->cap = c->cap ? c->cap * 2 : 8;
		nv = arena_alloc(c->a, c->cap * c->size);
		if (c->n)
			memcpy(nv, c->v, c->n * c->size);
		c->v = nv;
	}
	return (char *)c->v + c->n++ * c->size;
}

static int on_mx(void *ctx, ns_msg *msg, ns_rr *rr)
{
	struct collect *c = ctx;
	char host[NS_MAXDNAME];
	const unsigned char *rd = ns_rr_rdata(*rr);
	struct dns_mx *mx;

	if (ns_rr_rdlen(*rr) < 3)
		return -1;
	if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, host, sizeof(host)) < 0)
		return -1;
	mx = grow(c);
	mx->pref = rd[0] << 8 | rd[1];
	/* the root name comes out as ".": the null MX of RFC 7505 is the empty host */
	mx->host = arena_strdup(c->a, strcmp(host, ".") == 0 ? "" : host);
	return 0;
}

static int mx_cmp(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;
	return x->pref - y->pref;
}

int dns_mx(struct dns_resolver *r, const char *domain, struct arena *a, struct dns_mx **v_r,
	   size_t *n_r, struct err *err)
{
	unsigned char *ans = arena_alloc_raw(a, ANSWER_MAX);
	struct collect c = {.a = a, .size = sizeof(struct dns_mx)};
	int len, rcode, n;
	struct err qe;

	if (query(r, domain, ns_t_mx, ans, &len, &rcode, &qe) < 0) {
		const char **addrs;
		size_t na;
		/* only "no MX" falls back to the implicit MX; a failed query is an error even when
		 * the caller passed no err to read it from */
		if (qe.code != ERR_NOTFOUND)
			return err_set(err, qe.code, "%s", qe.msg);
		/* RFC 5321 5.1: no MX records, so the domain itself is the host */
		if (dns_addrs(r, domain, a, &addrs, &na, err) < 0)
			return -1;
		c.v = arena_alloc(a, sizeof(struct dns_mx));
		((struct dns_mx *)c.v)->pref = 0;
		((struct dns_mx *)c.v)->host = arena_strdup(a, domain);
		*v_r = c.v;
		*n_r = 1;
		return 0;
	}
	n = each_answer(ans, len, ns_t_mx, on_mx, &c, err);
	if (n < 0)
		return -1;
	if (n == 0)
		return err_set(err, ERR_NOTFOUND, "%s: no MX records", domain);
	if (c.n == 1 && ((struct dns_mx *)c.v)->host[0] == '\0')
		return err_set(err, ERR_DENIED, "%s accepts no mail (null MX, RFC 7505)", domain);
	/* shuffle, then a stable sort keeps equal preferences in random order */
	for (size_t i = c.n; i > 1; i--) {
		uint32_t j;
		struct dns_mx t, *v = c.v;
		rand_bytes(&j, sizeof(j));
		j %= (uint32_t)i;
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	/* insertion sort: stable */
	for (size_t i = 1; i < c.n; i++) {
		struct dns_mx *v = c.v, t = v[i];
		size_t j = i;
		while (j > 0 && mx_cmp(&v[j - 1], &t) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
	*v_r = c.v;
	*n_r = c.n;
	return 0;
}

static int on_a(void *ctx, ns_msg *msg, ns_rr *rr)
{
	struct collect *c = ctx;
	char buf[INET6_ADDRSTRLEN];
	int family = ns_rr_type(*rr) == ns_t_a ? AF_INET : AF_INET6;
	size_t want = family == AF_INET ? 4 : 16;

	if (ns_rr_rdlen(*rr) != want || inet_ntop(family, ns_rr_rdata(*rr), buf, sizeof(buf)) == NULL)
		return -1;
	*(const char **)grow(c) = arena_strdup(c->a, buf);
	return 0;
}

int dns_addrs(struct dns_resolver *r, const char *host, struct arena *a, const char ***v_r,
	      size_t *n_r, struct err *err)
{
	unsigned char *ans = arena_alloc_raw(a, ANSWER_MAX);
	struct collect c = {.a = a, .size = sizeof(const char *)};
	struct err e4 = {0}, e6 = {0}; /* stay ERR_OK when a query succeeds with no records */
	int len, rcode;

	if (query(r, host, ns_t_a, ans, &len, &rcode, &e4) == 0 &&
	    each_answer(ans, len, ns_t_a, on_a, &c, &e4) < 0)
		return err_set(err, e4.code, "%s", e4.msg);
	if (query(r, host, ns_t_aaaa, ans, &len, &rcode, &e6) == 0 &&
	    each_answer(ans, len, ns_t_aaaa, on_a, &c, &e6) < 0)
		return err_set(err, e6.code, "%s", e6.msg);
	if (c.n == 0) {
		if (e4.code == ERR_IO || e6.code == ERR_IO)
			return err_set(err, ERR_IO, "%s: address lookup failed (try again)", host);
		return err_set(err, ERR_NOTFOUND, "%s has no address", host);
	}
	*v_r = c.v;
	*n_r = c.n;
	return 0;
}

static int on_txt(void *ctx, ns_msg *msg, ns_rr *rr)
{
	struct collect *c = ctx;
	const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
	char *out = arena_alloc(c->a, ns_rr_rdlen(*rr) + 1), *o = out;

	/* one or more <length><bytes> character-strings, joined (RFC 7208 3.3) */
	while (p < end) {
		size_t n = *p++;
		if ((size_t)(end - p) < n)
			return -1;
		memcpy(o, p, n);
		o += n;
		p += n;
	}
	*o = '\0';
	*(const char **)grow(c) = out;
	return 0;
}

/* The records of one type as strings (fn makes each one); what names them in the error. */
static int lookup_strings(struct dns_resolver *r, const char *name, int type,
			  int (*fn)(void *, ns_msg *, ns_rr *), const char *what,
			  struct arena *a, const char ***v_r, size_t *n_r, struct err *err)
{
	unsigned char *ans = arena_alloc_raw(a, ANSWER_MAX);
	struct collect c = {.a = a, .size = sizeof(const char *)};
	int len, rcode, n;

	if (query(r, name, type, ans, &len, &rcode, err) < 0)
		return -1;
	n = each_answer(ans, len, type, fn, &c, err);
	if (n < 0)
		return -1;
	if (n == 0)
		return err_set(err, ERR_NOTFOUND, "%s: no %s records", name, what);
	*v_r = c.v;
	*n_r = c.n;
	return 0;
}

int dns_txt(struct dns_resolver *r, const char *name, struct arena *a, const char ***v_r,
	    size_t *n_r, struct err *err)
{
	return lookup_strings(r, name, ns_t_txt, on_txt, "TXT", a, v_r, n_r, err);
}

/* ---- reverse lookups ---- */

/* "4.3.2.1.in-addr.arpa" or the 32 nibbles of an IPv6 address under ip6.arpa. */
static int reverse_name(const char *ip, char *out, size_t size)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, ip, b) == 1) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, b) == 1 && size >= 16 * 4 + sizeof("ip6.arpa")) {
		static const char hex[] = "0123456789abcdef";
		char *p = out;
		for (int i = 15; i >= 0; i--) {
			*p++ = hex[b[i] & 15];
			*p++ = '.';
			*p++ = hex[b[i] >> 4];
			*p++ = '.';
		}
		memcpy(p, "ip6.arpa", sizeof("ip6.arpa"));
		return 0;
	}
	return -1;
}

static int on_ptr(void *ctx, ns_msg *msg, ns_rr *rr)
{
	struct collect *c = ctx;
	char host[NS_MAXDNAME];

	if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(*rr), host,
			       sizeof(host)) < 0)
		return -1;
	*(const char **)grow(c) = arena_strdup(c->a, host);
	return 0;
}

int dns_ptr(struct dns_resolver *r, const char *ip, struct arena *a, const char ***v_r,
	    size_t *n_r, struct err *err)
{
	char name[NS_MAXDNAME];

	if (reverse_name(ip, name, sizeof(name)) < 0)
		return err_set(err, ERR_INVALID, "%s: not an IP address", ip);
	return lookup_strings(r, name, ns_t_ptr, on_ptr, "PTR", a, v_r, n_r, err);
}

static bool same_ip(const char *x, const char *y)
{
	unsigned char a[16], b[16];
	if (inet_pton(AF_INET, x, a) == 1)
		return inet_pton(AF_INET, y, b) == 1 && memcmp(a, b, 4) == 0;
	return inet_pton(AF_INET6, x, a) == 1 && inet_pton(AF_INET6, y, b) == 1 &&
	       memcmp(a, b, 16) == 0;
}

int dns_confirmed_name(struct dns_resolver *r, const char *ip, char *out, size_t size,
		       struct err *err)
{
	struct arena *a = arena_new();
	const char **names, **addrs;
	size_t nn, na;
	int ret = -1;

	if (dns_ptr(r, ip, a, &names, &nn, err) < 0)
		goto out;
	for (size_t i = 0; i < nn && i < DNS_PTR_CHECKED; i++) {
		if (dns_addrs(r, names[i], a, &addrs, &na, NULL) < 0)
			continue;
		for (size_t k = 0; k < na; k++)
			if (same_ip(addrs[k], ip) && strlen(names[i]) < size) {
				snprintf(out, size, "%s", names[i]);
				ret = 0;
				goto out;
			}
	}
	err_set(err, ERR_NOTFOUND, "%s: no name that maps back to it", ip);
out:
	arena_free(&a);
	return ret;
}
