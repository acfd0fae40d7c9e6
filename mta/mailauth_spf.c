/* SPF (RFC 7208) through libspf2, every lookup through mta/dns.h.
 *
 * libspf2 takes a "DNS layer" (SPF_dns_server_t): ours answers from dns_raw(), and its get_spf
 * hook fetches and selects the SPF record itself (RFC 7208 4.5), so no deprecated SPF-type query
 * is ever sent. The layer also enforces what libspf2 does not: the 10-term and 2-void-lookup
 * limits counted over the whole evaluation, includes and redirects included (RFC 7208 4.6.4; the
 * library counts per record, which lets nested includes multiply), a cap on all queries and a
 * deadline. Going over a limit aborts the evaluation through a TRY_AGAIN answer (the one way to
 * stop libspf2 early), and the result is then rewritten to permerror.
 *
 * Threads: the SPF_server_t is created once and only read during a check (libspf2 keeps no
 * per-check state in it); the per-check state lives on the caller's stack and is found through
 * a thread-local pointer, since the DNS layer is shared. libspf2's error handler aborts, so
 * everything passed to it is validated first (no NULL domain, no bad address). */
#include "mailauth_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <spf2/spf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

#define HELPERS 10 /* host names from the last MX or PTR answer */

struct spf_ctx {
	struct mailauth *ma;
	int terms, voids, queries, records;
	bool over;         /* a limit was hit: the answer is permerror */
	bool late;         /* the deadline passed: temperror */
	uint64_t deadline; /* time_mono_ns() */
	/* The A/AAAA lookups of the hosts an "mx" or "ptr" returned are part of that term. */
	char helper[HELPERS][NS_MAXDNAME];
	int nhelper;
};

static _Thread_local struct spf_ctx *cur;

static SPF_dns_rr_t *rr_fail(SPF_dns_server_t *ds, const char *domain, ns_type type, int herrno)
{
	return SPF_dns_rr_new_init(ds, domain, type, 0, herrno);
}

/* Count a DNS-querying term; false when that makes too many. */
static bool term(struct spf_ctx *c)
{
	if (++c->terms > MA_MAX_SPF_TERMS)
		c->over = true;
	return !c->over;
}

static bool is_helper(struct spf_ctx *c, const char *name)
{
	for (int i = 0; i < c->nhelper; i++)
		if (strcasecmp(c->helper[i], name) == 0) {
			c->helper[i][0] = '\0'; /* each host is looked up once per term */
			return true;
		}
	return false;
}

enum qkind { Q_STOP, Q_TERM, Q_HELPER, Q_OTHER };

/* One more query within the check's budget? */
static bool budget(struct spf_ctx *c)
{
	if (c->over || c->late)
		return false;
	if (++c->queries > MA_MAX_SPF_QUERIES) {
		c->over = true;
		return false;
	}
	if (time_mono_ns() > c->deadline) {
		c->late = true;
		return false;
	}
	return true;
}

/* What the query is for; Q_STOP means answer TRY_AGAIN to stop libspf2. */
static enum qkind may_query(struct spf_ctx *c, const char *domain, ns_type type)
{
	if (!budget(c))
		return Q_STOP;
	switch (type) {
	case ns_t_a:
	case ns_t_aaaa:
		if (is_helper(c, domain))
			return Q_HELPER;
		return term(c) ? Q_TERM : Q_STOP;
	case ns_t_mx:
	case ns_t_ptr:
		c->nhelper = 0;
		return term(c) ? Q_TERM : Q_STOP;
	default:
		return Q_OTHER;
	}
}

static void add_helper(struct spf_ctx *c, const char *name)
{
	if (c->nhelper < HELPERS)
		snprintf(c->helper[c->nhelper++], NS_MAXDNAME, "%s", name);
}

/* One answer record into rr->rr[*cnt]; false on a malformed record (skipped). */
static bool put_rr(SPF_dns_rr_t *rr, int *cnt, ns_msg *msg, ns_rr *r, struct spf_ctx *c)
{
	const unsigned char *rd = ns_rr_rdata(*r);
	size_t rdlen = ns_rr_rdlen(*r);
	char name[NS_MAXDNAME];
	const unsigned char *name_at = rd;

	switch (ns_rr_type(*r)) {
	case ns_t_a:
		if (rdlen != 4 || SPF_dns_rr_buf_realloc(rr, *cnt, sizeof(struct in_addr)) != 0)
			return false;
		memcpy(&rr->rr[*cnt]->a, rd, 4);
		break;
	case ns_t_aaaa:
		if (rdlen != 16 || SPF_dns_rr_buf_realloc(rr, *cnt, sizeof(struct in6_addr)) != 0)
			return false;
		memcpy(&rr->rr[*cnt]->aaaa, rd, 16);
		break;
	case ns_t_mx:
		if (rdlen < 3)
			return false;
		name_at = rd + 2;
		/* fall through */
	case ns_t_ptr:
		if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), name_at, name,
		                       sizeof(name)) < 0 ||
		    SPF_dns_rr_buf_realloc(rr, *cnt, strlen(name) + 1) != 0)
			return false;
		strcpy(rr->rr[*cnt]->mx, name); /* mx and ptr share the storage */
		add_helper(c, name);
		break;
	case ns_t_txt: {
		/* character-strings joined (RFC 7208 3.3) */
		char *o;
		const unsigned char *p = rd, *end = rd + rdlen;
		if (SPF_dns_rr_buf_realloc(rr, *cnt, rdlen + 1) != 0)
			return false;
		o = rr->rr[*cnt]->txt;
		while (p < end) {
			size_t n = *p++;
			if ((size_t)(end - p) < n)
				return false;
			memcpy(o, p, n);
			o += n;
			p += n;
		}
		*o = '\0';
		break;
	}
	default:
		return false;
	}
	(*cnt)++;
	return true;
}

static SPF_dns_rr_t *dns_lookup(SPF_dns_server_t *ds, const char *domain, ns_type type,
                                int should_cache)
{
	struct spf_ctx *c = cur;
	struct arena *a;
	struct err e;
	unsigned char *ans;
	int len, cnt = 0;
	enum qkind kind;
	SPF_dns_rr_t *rr;
	ns_msg msg;

	/* RFC 7208 3.1: the SPF RR type is gone; never ask for it */
	if (type == ns_t_spf)
		return rr_fail(ds, domain, type, NO_DATA);
	if (c == NULL || (kind = may_query(c, domain, type)) == Q_STOP)
		return rr_fail(ds, domain, type, TRY_AGAIN);
	a = arena_new();
	if (dns_raw(c->ma->dns, domain, type, a, &ans, &len, &e) < 0) {
		arena_free(&a);
		if (e.code == ERR_IO)
			return rr_fail(ds, domain, type, TRY_AGAIN);
		rr = rr_fail(ds, domain, type, HOST_NOT_FOUND);
	} else {
		rr = SPF_dns_rr_new_init(ds, domain, type, 0, NETDB_SUCCESS);
		if (rr != NULL && ns_initparse(ans, len, &msg) == 0) {
			for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
				ns_rr r;
				if (ns_parserr(&msg, ns_s_an, i, &r) < 0)
					break;
				if (ns_rr_type(r) == type)
					(void)put_rr(rr, &cnt, &msg, &r, c);
			}
		}
		arena_free(&a);
		if (rr == NULL)
			return rr_fail(ds, domain, type, TRY_AGAIN);
		rr->num_rr = cnt;
		if (cnt > 0)
			return rr;
		rr->herrno = NO_DATA;
	}
	/* RFC 7208 4.6.4: more than two terms whose lookup finds nothing is a permerror */
	if (rr != NULL && kind == Q_TERM && ++c->voids > MA_MAX_SPF_VOIDS) {
		c->over = true;
		rr->herrno = TRY_AGAIN;
	}
	return rr;
}

/* RFC 7208 7.1 macro syntax, checked before libspf2 sees a record (its macro code has had
 * memory-safety bugs): letters, at most 3 digits up to 128, "r", delimiters. */
static bool macros_ok(const char *s)
{
	for (const char *p = strchr(s, '%'); p; p = strchr(p, '%')) {
		p++;
		if (*p == '%' || *p == '_' || *p == '-') {
			p++;
			continue;
		}
		int digits = 0, n = 0;
		if (*p++ != '{' || *p == '\0' || !strchr("slodiphcrtvSLODIPHCRTV", *p))
			return false;
		p++;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p++ - '0');
			if (++digits > 3)
				return false;
		}
		if (digits && (n == 0 || n > 128))
			return false;
		if (*p == 'r' || *p == 'R')
			p++;
		while (*p && strchr(".-+,/_=", *p))
			p++;
		if (*p != '}')
			return false;
	}
	return true;
}

static bool is_spf1(const char *t)
{
	return strncasecmp(t, "v=spf1", 6) == 0 && (t[6] == ' ' || t[6] == '\0');
}

static SPF_errcode_t record_none(SPF_response_t *resp, SPF_errcode_t code, const char *domain)
{
	resp->result = SPF_RESULT_NONE;
	resp->reason = SPF_REASON_FAILURE;
	return SPF_response_add_error(resp, code, "no SPF record for '%s'", domain);
}

static SPF_errcode_t record_permerror(SPF_response_t *resp, SPF_errcode_t code, const char *domain)
{
	resp->result = SPF_RESULT_PERMERROR;
	resp->reason = SPF_REASON_FAILURE;
	resp->err = code;
	return SPF_response_add_error(resp, code, "bad SPF record for '%s'", domain);
}

/* RFC 7208 4.5: the one "v=spf1" TXT record of the domain, compiled. */
static SPF_errcode_t get_spf(SPF_server_t *srv, SPF_request_t *req, SPF_response_t *resp,
                             SPF_record_t **rec_r)
{
	struct spf_ctx *c = cur;
	const char *domain = req->cur_dom, *rec = NULL;
	const char **v;
	size_t n, found = 0;
	struct arena *a;
	struct err e;
	SPF_errcode_t code;

	*rec_r = NULL;
	if (c == NULL || domain == NULL)
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "no SPF context");
	/* the first record is the check itself; every further one is an include or redirect */
	if (c->records++ > 0 && !term(c))
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "too many DNS lookups");
	if (!ma_domain_valid(domain, strlen(domain)))
		return record_none(resp, SPF_E_NOT_SPF, domain);
	if (!budget(c))
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "SPF budget spent");
	a = arena_new();
	if (dns_txt(c->ma->dns, domain, a, &v, &n, &e) < 0) {
		arena_free(&a);
		if (e.code == ERR_IO)
			return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "DNS failure for '%s'",
			                              domain);
		if (c->records > 1 && ++c->voids > MA_MAX_SPF_VOIDS)
			c->over = true;
		return record_none(resp, SPF_E_NOT_SPF, domain);
	}
	for (size_t i = 0; i < n; i++)
		if (is_spf1(v[i])) {
			rec = v[i];
			found++;
		}
	if (found == 0)
		code = record_none(resp, SPF_E_NOT_SPF, domain);
	else if (found > 1)
		code = record_permerror(resp, SPF_E_MULTIPLE_RECORDS, domain);
	else if (strlen(rec) > MA_MAX_TXT || !macros_ok(rec))
		code = record_permerror(resp, SPF_E_SYNTAX, domain);
	else {
		code = SPF_record_compile(srv, resp, rec_r, rec);
		if (code != SPF_E_SUCCESS) {
			if (*rec_r) {
				SPF_record_free(*rec_r);
				*rec_r = NULL;
			}
			code = record_permerror(resp, code, domain);
		}
	}
	arena_free(&a);
	return code;
}

/* exp= is optional for receivers (RFC 7208 6.2) and its text is the sender's: never fetched. */
static SPF_errcode_t get_exp(SPF_server_t *srv, const char *domain, char **buf, size_t *len)
{
	static const char text[] = "SPF check failed";

	if (*buf == NULL || *len < sizeof(text)) {
		char *nb = realloc(*buf, sizeof(text));
		if (nb == NULL)
			return SPF_E_NO_MEMORY;
		*buf = nb;
		*len = sizeof(text);
	}
	memcpy(*buf, text, sizeof(text));
	return SPF_E_SUCCESS;
}

/* libspf2 calls this for its internal errors (assertions) and aborts after it anyway */
static _Noreturn void spf_log_error(const char *file, int line, const char *msg)
{
	log_error("mailauth", "lib=libspf2 file=%s line=%d msg=\"%s\"", file ? file : "-", line,
	          msg);
	abort();
}

static void quiet_handlers(void)
{
	/* libspf2 prints warnings to stderr by default; its errors abort after the handler */
	SPF_error_handler = spf_log_error;
	SPF_warning_handler = NULL;
	SPF_info_handler = NULL;
	SPF_debug_handler = NULL;
}

int ma_spf_init(struct mailauth *ma, struct err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	SPF_dns_server_t *ds;
	SPF_response_t *resp = NULL;

	pthread_once(&once, quiet_handlers);
	ds = xcalloc(1, sizeof(*ds));
	ds->destroy = NULL; /* ours: freed in ma_spf_release, not by SPF_server_free */
	ds->lookup = dns_lookup;
	ds->get_spf = get_spf;
	ds->get_exp = get_exp;
	ds->name = "yizhan";
	ma->spf = SPF_server_new_dns(ds, 0);
	if (ma->spf == NULL) {
		free(ds);
		return err_set(err, ERR_INTERNAL, "libspf2: cannot create a server");
	}
	if (SPF_server_set_rec_dom(ma->spf, ma->authserv_id) != SPF_E_SUCCESS ||
	    SPF_server_set_explanation(ma->spf, "SPF check failed", &resp) != SPF_E_SUCCESS) {
		if (resp)
			SPF_response_free(resp);
		ma_spf_release(ma);
		return err_set(err, ERR_INTERNAL, "libspf2: cannot configure the server");
	}
	if (resp)
		SPF_response_free(resp);
	return 0;
}

void ma_spf_release(struct mailauth *ma)
{
	SPF_dns_server_t *ds;

	if (ma->spf == NULL)
		return;
	ds = ma->spf->resolver;
	SPF_server_free(ma->spf);
	free(ds);
	ma->spf = NULL;
}

/* Strip the angle brackets a caller may have left on a path. */
static const char *bare_path(const char *s, struct arena *a)
{
	size_t n;

	if (s == NULL)
		return "";
	while (*s == ' ' || *s == '<')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '>' || s[n - 1] == ' '))
		n--;
	return arena_strndup(a, s, n);
}

const char *ma_spf_identity(const char *helo, const char *mail_from, struct arena *a)
{
	const char *from = bare_path(mail_from, a), *at = strrchr(from, '@');
	const char *d = *from ? (at ? at + 1 : from) : helo;

	if (d == NULL || *d == '\0')
		return NULL;
	return ma_lower(a, d, strlen(d));
}

static enum mailauth_result map_result(SPF_result_t r, SPF_errcode_t code)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return MA_PASS;
	case SPF_RESULT_FAIL:
		return MA_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return MA_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return MA_NEUTRAL;
	case SPF_RESULT_NONE:
		return MA_NONE;
	case SPF_RESULT_TEMPERROR:
		return MA_TEMPERROR;
	case SPF_RESULT_PERMERROR:
		return MA_PERMERROR;
	default:
		/* no result set: the record fetch itself failed */
		return code == SPF_E_DNS_ERROR ? MA_TEMPERROR
		       : code == SPF_E_NOT_SPF ? MA_NONE
		                               : MA_PERMERROR;
	}
}

/* The client address; IPv4-mapped IPv6 counts as IPv4 (RFC 7208 5). */
static int set_ip(SPF_request_t *req, const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, ip, &a4) == 1)
		return SPF_request_set_ipv4(req, a4);
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], 4);
		return SPF_request_set_ipv4(req, a4);
	}
	return SPF_request_set_ipv6(req, a6);
}

int ma_spf_check(struct mailauth *ma, const char *client_ip, const char *helo,
                 const char *mail_from, struct arena *a, enum mailauth_result *r,
                 const char **domain_r, struct err *err)
{
	struct spf_ctx c = {.ma = ma};
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	SPF_errcode_t code;
	const char *from = bare_path(mail_from, a);
	const char *domain = ma_spf_identity(helo, from, a);
	enum mailauth_result res;

	if (client_ip == NULL)
		return err_set(err, ERR_INVALID, "spf: no client address");
	req = SPF_request_new(ma->spf);
	if (req == NULL)
		return err_set(err, ERR_INTERNAL, "spf: out of memory");
	if (set_ip(req, client_ip) != 0) {
		SPF_request_free(req);
		return err_set(err, ERR_INVALID, "spf: '%s' is not an IP address", client_ip);
	}
	/* RFC 7208 4.3: no identity, or a malformed or single-label domain, is "none" */
	if (domain == NULL || !ma_domain_valid(domain, strlen(domain))) {
		SPF_request_free(req);
		*r = MA_NONE;
		*domain_r = domain;
		return 0;
	}
	if (helo && *helo && strlen(helo) <= 255)
		(void)SPF_request_set_helo_dom(req, helo);
	/* RFC 5321 4.5.3.1.1: a local-part is at most 64 octets; a longer one (which SMTP should
	 * have refused) is not handed to libspf2's macro expansion: "postmaster" stands in, as
	 * for a sender without one (RFC 7208 4.3) */
	{
		const char *at = strrchr(from, '@');
		if (at && at - from > 64)
			from = arena_printf(a, "postmaster%s", at);
	}
	(void)SPF_request_set_env_from(req, *from ? from : domain);
	c.deadline = time_mono_ns() + (uint64_t)MA_SPF_DEADLINE_MS * 1000000u;
	cur = &c;
	code = SPF_request_query_mailfrom(req, &resp);
	cur = NULL;
	res = map_result(resp ? SPF_response_result(resp) : SPF_RESULT_INVALID, code);
	if (c.over)
		res = MA_PERMERROR;
	else if (c.late)
		res = MA_TEMPERROR;
	if (resp)
		SPF_response_free(resp);
	SPF_request_free(req);
	*r = res;
	*domain_r = domain;
	return 0;
}
