/* dns.h: the DNS lookups mail needs (MX, A/AAAA, TXT), over glibc's resolver (libresolv).
 *
 * The servers come from yizhan.conf ([dns] servers = "127.0.0.1:5353 ..."), or from
 * /etc/resolv.conf when that is empty, so tests can point every lookup (delivery, SPF, DKIM,
 * DMARC) at a local dnsmasq. Thread-safe: each call uses its own resolver state.
 *
 * Errors: ERR_NOTFOUND for NXDOMAIN or no data of that type (a permanent answer), ERR_IO for
 * a timeout or SERVFAIL (try again later), ERR_INVALID for a malformed name.
 *
 * Answers are cached per resolver (1,024 entries, answers of at most 4 KB): for the smallest
 * TTL of the answer's records (at most an hour), a negative answer for its SOA's negative TTL
 * (RFC 2308; at most 15 minutes; 5 seconds without an SOA), and a failed lookup for 5
 * seconds, so a burst of mail from one domain asks once and a dead resolver is not waited on
 * for every message. Records with TTL 0 are never cached. */
#ifndef YZ_DNS_H
#define YZ_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"

#define DNS_MAX_SERVERS 3

struct dns_resolver;

/* servers: space-separated "IP" or "IP:PORT" (IPv4), or NULL / "" for the system's. */
int dns_resolver_new(const char *servers, int timeout_s, struct dns_resolver **r_r,
		     struct err *err) YZ_WUR;
void dns_resolver_free(struct dns_resolver **rp);
/* Lookups answered from the cache, and lookups that were not, since dns_resolver_new(). */
void dns_cache_stats(struct dns_resolver *r, uint64_t *hits_r, uint64_t *misses_r);
/* How long the cache keeps a reply (seconds; 0: not at all): for an answer the smallest TTL of
 * its answer records, at most an hour; for a negative one (negative) min(SOA TTL, SOA
 * MINIMUM) of the SOA in its authority section, at most 15 minutes, 5 without one. A TTL
 * with the top bit set counts as 0 (RFC 2181 section 8); a malformed reply gives 0. */
uint32_t dns_answer_ttl(const unsigned char *ans, int len, bool negative);

struct dns_mx {
	int pref;
	const char *host; /* without the trailing dot */
};

/* MX records sorted by preference (equal preferences in random order, RFC 5321 5.1). A domain
 * with no MX but an address gets one implicit MX: itself. A "null MX" (RFC 7505: "0 .") gives
 * ERR_DENIED: the domain accepts no mail. */
int dns_mx(struct dns_resolver *r, const char *domain, struct arena *a, struct dns_mx **v_r,
	   size_t *n_r, struct err *err) YZ_WUR;
/* IPv4 and IPv6 addresses as text. */
int dns_addrs(struct dns_resolver *r, const char *host, struct arena *a, const char ***v_r,
	      size_t *n_r, struct err *err) YZ_WUR;
/* TXT records, each with its character-strings joined. */
int dns_txt(struct dns_resolver *r, const char *name, struct arena *a, const char ***v_r,
	    size_t *n_r, struct err *err) YZ_WUR;
/* A raw answer for a name and type (for the SPF and DKIM libraries' DNS hooks): the reply
 * message in *ans_r (arena), its length, and the rcode. */
int dns_raw(struct dns_resolver *r, const char *name, int type, struct arena *a,
	    unsigned char **ans_r, int *len_r, struct err *err) YZ_WUR;

/* PTR names of an IPv4 or IPv6 address (without the trailing dot). */
int dns_ptr(struct dns_resolver *r, const char *ip, struct arena *a, const char ***v_r,
	    size_t *n_r, struct err *err) YZ_WUR;
/* The forward-confirmed reverse name of ip (RFC 8601 section 3 calls it "iprev"): a PTR name,
 * of the first DNS_PTR_CHECKED, whose A/AAAA records include ip, into out. ERR_NOTFOUND when
 * none does (or no PTR), ERR_IO when the lookups failed. */
#define DNS_PTR_CHECKED 3
int dns_confirmed_name(struct dns_resolver *r, const char *ip, char *out, size_t size,
		       struct err *err) YZ_WUR;

#endif
