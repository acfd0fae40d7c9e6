/* DMARC (RFC 7489): policy discovery through mta/dns.h, records parsed by libopendmarc,
 * organisational domains from its public suffix list table.
 *
 * Alignment and the policy decision are done here, not by opendmarc_get_policy_to_enforce():
 * tried against the installed libopendmarc 1.4.2, its alignment check calls a public suffix
 * ("com" or "co.uk") aligned with every domain under it, calls a subdomain strictly aligned
 * with its parent, and its suffix lookup is case-sensitive. The record parser and the PSL
 * table are sound and are what we use.
 *
 * Threads: libopendmarc's library state (the PSL table) is process-wide: it is loaded by the
 * first mailauth_new and dropped by the last mailauth_free under dmarc_lock, and lookups in it
 * take the same lock (the library documents its init as not thread-safe and says nothing about
 * lookups). A policy context (DMARC_POLICY_T) is per check. */
#include "mailauth_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <opendmarc/dmarc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <unistd.h>

#include "lib/util.h"

#define DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"

/* Exported by libopendmarc 1.4 but missing from dmarc.h: the registered domain under the
 * loaded public suffix list, "" when the domain is under no listed suffix. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

static pthread_mutex_t dmarc_lock = PTHREAD_MUTEX_INITIALIZER;
static int dmarc_refs;
static char *dmarc_psl;
static OPENDMARC_LIB_T dmarc_lib;

int ma_dmarc_init(struct mailauth *ma, struct err *err)
{
	const char *path = ma->psl_path ? ma->psl_path : DEFAULT_PSL;
	int ret = 0;

	if (strlen(path) >= sizeof(dmarc_lib.tld_source_file))
		return err_set(err, ERR_INVALID, "public suffix list path too long");
	if (access(path, R_OK) != 0)
		return err_set(
		    err, ERR_NOTFOUND,
		    "public suffix list %s: cannot read it (Debian package publicsuffix)", path);
	pthread_mutex_lock(&dmarc_lock);
	if (dmarc_refs == 0) {
		memset(&dmarc_lib, 0, sizeof(dmarc_lib));
		dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
		memcpy(dmarc_lib.tld_source_file, path, strlen(path) + 1);
		if (opendmarc_policy_library_init(&dmarc_lib) != DMARC_PARSE_OKAY) {
			opendmarc_policy_library_shutdown(&dmarc_lib);
			ret = err_set(err, ERR_INVALID, "public suffix list %s: cannot load it",
			              path);
		} else
			dmarc_psl = xstrdup(path);
	} else if (strcmp(path, dmarc_psl) != 0)
		ret = err_set(err, ERR_INVALID,
		              "public suffix list %s: %s is loaded already (one per process)", path,
		              dmarc_psl);
	if (ret == 0) {
		dmarc_refs++;
		ma->dmarc_ref = true;
	}
	pthread_mutex_unlock(&dmarc_lock);
	return ret;
}

void ma_dmarc_release(struct mailauth *ma)
{
	if (!ma->dmarc_ref)
		return;
	pthread_mutex_lock(&dmarc_lock);
	if (--dmarc_refs == 0) {
		opendmarc_policy_library_shutdown(&dmarc_lib);
		free(dmarc_psl);
		dmarc_psl = NULL;
	}
	pthread_mutex_unlock(&dmarc_lock);
	ma->dmarc_ref = false;
}

void ma_org_domain(const char *domain, char *out, size_t outlen)
{
	char low[256];
	u_char tld[256] = {0};
	size_t n = strlen(domain);
	int r = -1;
	const char *p;

	while (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(low)) {
		snprintf(out, outlen, "%.*s", (int)n, domain);
		return;
	}
	for (size_t i = 0; i < n; i++)
		low[i] =
		    (domain[i] >= 'A' && domain[i] <= 'Z') ? (char)(domain[i] + 32) : domain[i];
	low[n] = '\0';
	pthread_mutex_lock(&dmarc_lock);
	if (dmarc_refs > 0)
		r = opendmarc_get_tld((u_char *)low, tld, sizeof(tld));
	pthread_mutex_unlock(&dmarc_lock);
	if (r == 0 && tld[0] != '\0') {
		snprintf(out, outlen, "%s", (char *)tld);
		return;
	}
	/* under no listed suffix: the list's default rule "*" makes the last label the suffix */
	p = strrchr(low, '.');
	if (p != NULL) {
		while (p > low && p[-1] != '.')
			p--;
	} else
		p = low;
	snprintf(out, outlen, "%s", p);
}

/* RFC 7489 6.4: the record starts with the tag "v=DMARC1". */
static bool is_dmarc1(const char *t)
{
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t++ != 'v')
		return false;
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t++ != '=')
		return false;
	while (*t == ' ' || *t == '\t')
		t++;
	if (strncmp(t, "DMARC1", 6) != 0)
		return false;
	t += 6;
	while (*t == ' ' || *t == '\t')
		t++;
	return *t == ';' || *t == '\0';
}

enum fetch { F_FOUND, F_NONE, F_MULTI, F_TEMP };

/* RFC 7489 6.6.3 steps 1-4 for one domain. */
static enum fetch fetch_record(struct mailauth *ma, const char *domain, struct arena *a,
                               const char **rec_r)
{
	const char **v;
	size_t n, found = 0;
	struct err e;
	struct arena *tmp = arena_new(); /* the lookup's 64 KB answer buffer goes with it */

	if (dns_txt(ma->dns, arena_printf(tmp, "_dmarc.%s", domain), tmp, &v, &n, &e) < 0) {
		arena_free(&tmp);
		return e.code == ERR_IO ? F_TEMP : F_NONE;
	}
	for (size_t i = 0; i < n; i++)
		if (is_dmarc1(v[i])) {
			*rec_r = arena_strdup(a, v[i]);
			found++;
		}
	arena_free(&tmp);
	return found == 0 ? F_NONE : found == 1 ? F_FOUND : F_MULTI;
}

static bool aligned(const char *a, const char *b, int mode)
{
	char oa[256], ob[256];

	if (a == NULL || b == NULL)
		return false;
	if (strcmp(a, b) == 0)
		return true;
	if (mode == DMARC_RECORD_A_STRICT)
		return false;
	ma_org_domain(a, oa, sizeof(oa));
	ma_org_domain(b, ob, sizeof(ob));
	return strcmp(oa, ob) == 0;
}

static enum ma_dmarc_policy policy_of(int p)
{
	return p == DMARC_RECORD_P_REJECT       ? MA_P_REJECT
	       : p == DMARC_RECORD_P_QUARANTINE ? MA_P_QUARANTINE
	                                        : MA_P_NONE;
}

/* The record's tags, parsed by libopendmarc; false for an invalid record. */
struct tags {
	int p, sp, adkim, aspf, pct;
};

static bool parse_tags(const char *ip, const char *from, const char *rec, const char *org,
                       struct arena *a, struct tags *t)
{
	struct in6_addr a6;
	bool v6 = ip && inet_pton(AF_INET6, ip, &a6) == 1;
	DMARC_POLICY_T *pctx;
	bool ok;

	if (strlen(rec) > MA_MAX_TXT)
		return false;
	pctx = opendmarc_policy_connect_init((u_char *)(ip ? ip : "0.0.0.0"), v6);
	if (pctx == NULL)
		return false;
	/* the From domain, not where the record was found: libopendmarc stores it as the From
	 * domain; org (non-NULL) says the record is the organisational domain's */
	ok = opendmarc_policy_store_from_domain(pctx, (u_char *)arena_strdup(a, from)) ==
	         DMARC_PARSE_OKAY &&
	     opendmarc_policy_store_dmarc(
	         pctx, (u_char *)arena_strdup(a, rec), (u_char *)arena_strdup(a, from),
	         org ? (u_char *)arena_strdup(a, org) : NULL) == DMARC_PARSE_OKAY &&
	     opendmarc_policy_fetch_p(pctx, &t->p) == DMARC_PARSE_OKAY &&
	     opendmarc_policy_fetch_sp(pctx, &t->sp) == DMARC_PARSE_OKAY &&
	     opendmarc_policy_fetch_adkim(pctx, &t->adkim) == DMARC_PARSE_OKAY &&
	     opendmarc_policy_fetch_aspf(pctx, &t->aspf) == DMARC_PARSE_OKAY &&
	     opendmarc_policy_fetch_pct(pctx, &t->pct) == DMARC_PARSE_OKAY &&
	     t->p != DMARC_RECORD_P_UNSPECIFIED;
	opendmarc_policy_connect_shutdown(pctx);
	return ok;
}

/* RFC 7489 6.6.4: pct=N applies the policy to N% of failing mail, the next milder one to the
 * rest. */
static enum ma_dmarc_policy sample(enum ma_dmarc_policy p, int pct)
{
	uint32_t x;

	if (p == MA_P_NONE || pct >= 100 || pct < 0)
		return p;
	rand_bytes(&x, sizeof(x));
	if ((int)(x % 100) < pct)
		return p;
	return p == MA_P_REJECT ? MA_P_QUARANTINE : MA_P_NONE;
}

void ma_dmarc_eval(struct mailauth *ma, const struct ma_dmarc_in *in, struct arena *a,
                   struct ma_dmarc_out *out)
{
	char org[256];
	const char *rec = NULL, *from = in->from_domain;
	bool at_org = false, pass = false;
	enum fetch f;
	struct tags t = {0};

	memset(out, 0, sizeof(*out));
	out->r = MA_NONE;
	ma_org_domain(from, org, sizeof(org));
	f = fetch_record(ma, from, a, &rec);
	if (f == F_NONE && strcmp(org, from) != 0) {
		/* RFC 7489 6.6.3 step 5: the organisational domain's record */
		f = fetch_record(ma, org, a, &rec);
		at_org = true;
	}
	out->policy_domain = at_org ? arena_strdup(a, org) : from;
	switch (f) {
	case F_NONE:
		return;
	case F_TEMP:
		out->r = MA_TEMPERROR;
		return;
	case F_MULTI:
		out->r = MA_PERMERROR;
		return;
	case F_FOUND:
		break;
	}
	if (!parse_tags(in->client_ip, from, rec, at_org ? org : NULL, a, &t)) {
		out->r = MA_PERMERROR;
		return;
	}
	/* RFC 7489 3.1: an authenticated identifier aligned with the From domain */
	if (in->spf == MA_PASS && aligned(from, in->spf_domain, t.aspf))
		pass = true;
	for (size_t i = 0; i < in->nsigs; i++)
		if (in->sigs[i].r == MA_PASS && aligned(from, in->sigs[i].domain, t.adkim)) {
			out->dkim_domain = in->sigs[i].domain;
			pass = true;
			break;
		}
	if (pass) {
		out->r = MA_PASS;
		return;
	}
	out->r = MA_FAIL;
	/* RFC 7489 6.3: sp= is for subdomains, i.e. when the record came from the org domain */
	out->policy =
	    sample(policy_of(at_org && t.sp != DMARC_RECORD_P_UNSPECIFIED ? t.sp : t.p), t.pct);
}
