/* DNS lookups over libresolv (dns.h). */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define ANSWER_MAX 65536

struct dns_resolver {
	struct sockaddr_in servers[DNS_MAX_SERVERS];
	int nservers; /* 0: the system's (resolv.conf) */
	int timeout;
};

int dns_resolver_new(const char *servers, int timeout_s, struct dns_resolver **r_r,
		     struct err *err)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	char buf[512], *save = NULL;

	r->timeout = timeout_s > 0 ? timeout_s : 5;
	if (servers && *servers) {
		if (strlen(servers) >= sizeof(buf)) {
			free(r);
			return err_set(err, ERR_INVALID, "dns servers: too long");
		}
		snprintf(buf, sizeof(buf), "%s", servers);
		for (char *t = strtok_r(buf, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			char *colon = strchr(t, ':');
			int64_t port = 53;
			struct sockaddr_in *sa;
			if (r->nservers == DNS_MAX_SERVERS) {
				free(r);
				return err_set(err, ERR_INVALID, "dns servers: at most %d",
					       DNS_MAX_SERVERS);
			}
			if (colon) {
				*colon = '\0';
				if (str_to_i64(colon + 1, 1, 65535, &port) < 0) {
					free(r);
					return err_set(err, ERR_INVALID, "dns servers: bad port in '%s'",
						       t);
				}
			}
			sa = &r->servers[r->nservers];
			sa->sin_family = AF_INET;
			sa->sin_port = htons((uint16_t)port);
			if (inet_pton(AF_INET, t, &sa->sin_addr) != 1) {
				free(r);
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
	free(*rp);
	*rp = NULL;
}

static int query(struct dns_resolver *r, const char *name, int type, unsigned char *ans,
		 int *len_r, int *rcode_r, struct err *err)
{
	struct __res_state st;
	int n;

	if (name == NULL || *name == '\0' || strlen(name) > 253)
		return err_set(err, ERR_INVALID, "bad DNS name");
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
	n = res_nquery(&st, name, ns_c_in, type, ans, ANSWER_MAX);
	res_nclose(&st);
	if (n < 0) {
		/* h_errno of this state says why */
		switch (st.res_h_errno) {
		case HOST_NOT_FOUND:
		case NO_DATA:
			*rcode_r = ns_r_nxdomain;
			return err_set(err, ERR_NOTFOUND, "%s: no such DNS record", name);
		default:
			*rcode_r = ns_r_servfail;
			return err_set(err, ERR_IO, "%s: DNS lookup failed (try again)", name);
		}
	}
	*len_r = n;
	*rcode_r = ns_r_noerror;
	return 0;
}

int dns_raw(struct dns_resolver *r, const char *name, int type, struct arena *a,
	    unsigned char **ans_r, int *len_r, struct err *err)
{
	unsigned char *ans = arena_alloc(a, ANSWER_MAX);
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
	unsigned char *ans = arena_alloc(a, ANSWER_MAX);
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
	unsigned char *ans = arena_alloc(a, ANSWER_MAX);
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
	unsigned char *ans = arena_alloc(a, ANSWER_MAX);
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
