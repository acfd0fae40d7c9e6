/* DKIM (RFC 6376, RFC 8301) through libopendkim; keys made with OpenSSL.
 *
 * DNS: libopendkim's pluggable resolver (dkim_dns_set_query_*) with our struct mailauth as the
 * service handle. A query runs synchronously in query_start through dns_raw(); waitreply hands
 * the answer over. dns_raw() keeps no packet for NXDOMAIN/NODATA, so one is made up (rcode
 * NXDOMAIN, the question echoed), which libopendkim turns into "no key" (permerror), while a
 * timeout or SERVFAIL becomes a failed query (temperror).
 *
 * Threads: one DKIM_LIB, configured once in mailauth_new and only read afterwards, which is how
 * libopendkim is meant to be shared (the opendkim milter does); a DKIM handle per message.
 *
 * Bounded work: at most MA_MAX_DKIM_SIGS DKIM-Signature fields reach the library (the first
 * ones, the newest); the body is fed in chunks, converted to CRLF on the way. */
#include "mailauth_int.h"

#include <arpa/nameser.h>
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define CHUNK 65536

struct dkim_query {
	int status; /* DKIM_DNS_SUCCESS or DKIM_DNS_ERROR */
	size_t len;
};

/* Per message, on the verifying thread: after one failed query (timeout, SERVFAIL) or past
 * the deadline, the other keys of the message are not asked for (temperror at once), so a
 * message costs at most one DNS timeout plus MA_MAX_DKIM_SIGS quick answers. */
struct dkim_ctx {
	uint64_t deadline;
	bool dns_down;
};

static _Thread_local struct dkim_ctx *cur;

/* A reply saying the name does not exist, for the question (name, type). */
static int nxdomain(const char *name, int type, unsigned char *buf, size_t buflen)
{
	HEADER *h = (HEADER *)buf;
	unsigned char *p;
	int n;

	if (buflen < HFIXEDSZ + QFIXEDSZ + 2)
		return -1;
	memset(buf, 0, HFIXEDSZ);
	h->qr = 1;
	h->rd = 1;
	h->ra = 1;
	h->rcode = NXDOMAIN;
	h->qdcount = htons(1);
	n = dn_comp(name, buf + HFIXEDSZ, (int)(buflen - HFIXEDSZ - QFIXEDSZ), NULL, NULL);
	if (n < 0)
		return -1;
	p = buf + HFIXEDSZ + n;
	NS_PUT16(type, p);
	NS_PUT16(ns_c_in, p);
	return HFIXEDSZ + n + QFIXEDSZ;
}

static int dq_start(void *srv, int type, unsigned char *query, unsigned char *buf, size_t buflen,
                    void **qh)
{
	struct mailauth *ma = srv;
	struct dkim_query *q = xcalloc(1, sizeof(*q));
	struct arena *a = arena_new();
	unsigned char *ans;
	int len;
	struct err e;

	q->status = DKIM_DNS_ERROR;
	*qh = q;
	if (cur != NULL && (cur->dns_down || time_mono_ns() > cur->deadline)) {
		arena_free(&a);
		return 0;
	}
	if (dns_raw(ma->dns, (const char *)query, type, a, &ans, &len, &e) == 0) {
		if ((size_t)len <= buflen) {
			memcpy(buf, ans, (size_t)len);
			q->len = (size_t)len;
			q->status = DKIM_DNS_SUCCESS;
		}
	} else if (e.code != ERR_IO) {
		/* NXDOMAIN, NODATA or a name that cannot exist: a permanent "no key" */
		len = nxdomain((const char *)query, type, buf, buflen);
		if (len > 0) {
			q->len = (size_t)len;
			q->status = DKIM_DNS_SUCCESS;
		}
	} else if (cur != NULL)
		cur->dns_down = true;
	arena_free(&a);
	return 0;
}

static int dq_cancel(void *srv, void *qh)
{
	free(qh);
	return 0;
}

static int dq_waitreply(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error,
                        int *dnssec)
{
	struct dkim_query *q = qh;

	if (bytes)
		*bytes = q->len;
	if (error)
		*error = 0;
	if (dnssec)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return q->status;
}

static int dq_init(void **srv)
{
	return 0; /* the service handle is set by ma_dkim_init and never replaced */
}

static void dq_close(void *srv)
{
}

/* Only the first MA_MAX_DKIM_SIGS signatures are passed in; this also drops any the library
 * would otherwise find in odd places. */
static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	for (int i = MA_MAX_DKIM_SIGS; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

/* The header fields we sign when present (the usual set); From is also over-signed, so no
 * second From can be added without breaking the signature (RFC 6376 8.15). */
static const char *sign_hdrs[] = {
    "from",         "to",           "cc",          "subject",    "date",     "message-id",
    "mime-version", "content-type", "in-reply-to", "references", "reply-to", NULL,
};
static const char *oversign_hdrs[] = {"From", NULL};

int ma_dkim_init(struct mailauth *ma, struct err *err)
{
	unsigned int flags = DKIM_LIBFLAGS_BADSIGHANDLES;
	void *prev;

	ma->dkim = dkim_init(NULL, NULL);
	if (ma->dkim == NULL)
		return err_set(err, ERR_INTERNAL, "libopendkim: cannot initialise");
	dkim_dns_set_query_start(ma->dkim, dq_start);
	dkim_dns_set_query_waitreply(ma->dkim, dq_waitreply);
	dkim_dns_set_query_cancel(ma->dkim, dq_cancel);
	dkim_dns_set_init(ma->dkim, dq_init);
	dkim_dns_set_close(ma->dkim, dq_close);
	dkim_dns_set_nslist(ma->dkim, NULL);
	dkim_dns_set_config(ma->dkim, NULL);
	dkim_dns_set_trustanchor(ma->dkim, NULL);
	prev = dkim_dns_set_query_service(ma->dkim, ma);
	if (prev != NULL) {
		/* libopendkim opened its own resolver already; it would never be used */
		ma_dkim_release(ma);
		return err_set(err, ERR_INTERNAL, "libopendkim: resolver already initialised");
	}
	if (dkim_options(ma->dkim, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
	        DKIM_STAT_OK ||
	    /* header lists go in as the array itself, with the size of a pointer */
	    dkim_options(ma->dkim, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)sign_hdrs,
	                 sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(ma->dkim, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *)oversign_hdrs,
	                 sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_set_prescreen(ma->dkim, prescreen) != DKIM_STAT_OK) {
		ma_dkim_release(ma);
		return err_set(err, ERR_INTERNAL, "libopendkim: cannot set options");
	}
	return 0;
}

void ma_dkim_release(struct mailauth *ma)
{
	if (ma->dkim) {
		dkim_close(ma->dkim);
		ma->dkim = NULL;
	}
}

static bool is_dkim_sig(const struct ma_hdr *h)
{
	return h->name_len == 14 && strncasecmp(h->name, "DKIM-Signature", 14) == 0;
}

/* Feed the header fields (at most MA_MAX_DKIM_SIGS signatures) and end the header. */
static DKIM_STAT feed_headers(DKIM *d, const struct ma_msg *m, struct arena *a)
{
	size_t nsig = 0;

	for (size_t i = 0; i < m->nh; i++) {
		size_t len;
		char *f;
		DKIM_STAT st;
		if (is_dkim_sig(&m->h[i]) && ++nsig > MA_MAX_DKIM_SIGS)
			continue;
		f = ma_hdr_crlf(&m->h[i], a, &len);
		st = dkim_header(d, (u_char *)f, len);
		if (st != DKIM_STAT_OK)
			return st;
	}
	return dkim_eoh(d);
}

/* The body in CRLF form (RFC 6376 3.4: canonicalisation is over CRLF lines). */
static DKIM_STAT feed_body(DKIM *d, const struct ma_msg *m)
{
	unsigned char *buf;
	size_t o = 0;
	DKIM_STAT st = DKIM_STAT_OK;

	if (m->body == NULL || m->body_len == 0)
		return DKIM_STAT_OK;
	buf = xmalloc(CHUNK + 2);
	for (size_t i = 0; i < m->body_len && st == DKIM_STAT_OK; i++) {
		char ch = m->body[i];
		if (ch == '\n' && (i == 0 || m->body[i - 1] != '\r'))
			buf[o++] = '\r';
		buf[o++] = (unsigned char)ch;
		if (o >= CHUNK) {
			st = dkim_body(d, buf, o);
			o = 0;
		}
	}
	/* a last line without its line end still counts as a line (RFC 6376 3.4.3, 3.4.4) */
	if (m->body[m->body_len - 1] != '\n') {
		buf[o++] = '\r';
		buf[o++] = '\n';
	}
	if (st == DKIM_STAT_OK && o > 0)
		st = dkim_body(d, buf, o);
	free(buf);
	return st;
}

/* RFC 8601 2.7.1 results for one verified signature. */
static enum mailauth_result sig_result(DKIM_SIGINFO *s)
{
	unsigned flags = dkim_sig_getflags(s);
	int bh = dkim_sig_getbh(s);
	dkim_alg_t alg;

	if ((flags & DKIM_SIGFLAG_PASSED) && bh == DKIM_SIGBH_MATCH) {
		/* RFC 8301 3.1: rsa-sha1 verifies but MUST NOT count; "policy" says so */
		if (dkim_sig_getsignalg(s, &alg) == DKIM_STAT_OK && alg == DKIM_SIGN_RSASHA1)
			return MA_POLICY;
		return MA_PASS;
	}
	switch (dkim_sig_geterror(s)) {
	case DKIM_SIGERROR_KEYFAIL: /* the key query failed: try later */
		return MA_TEMPERROR;
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
		return MA_FAIL;
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_UNKNOWN:
		/* verified, but the signature or the body hash did not match */
		if ((flags & DKIM_SIGFLAG_PROCESSED) || bh == DKIM_SIGBH_MISMATCH)
			return MA_FAIL;
		return MA_PERMERROR;
	default: /* syntax, no key, revoked or unusable key, ... */
		return MA_PERMERROR;
	}
}

static const char *lower_or_null(struct arena *a, const unsigned char *s)
{
	return s && *s ? ma_lower(a, (const char *)s, strlen((const char *)s)) : NULL;
}

/* When the library could not get to the signatures, each field still gets a result. */
static void all_sigs(const struct ma_msg *m, enum mailauth_result r, struct arena *a,
                     struct ma_dkim_sig **sigs_r, size_t *n_r)
{
	size_t n = 0;
	struct ma_dkim_sig *v = arena_alloc(a, MA_MAX_DKIM_SIGS * sizeof(*v));

	for (size_t i = 0; i < m->nh && n < MA_MAX_DKIM_SIGS; i++)
		if (is_dkim_sig(&m->h[i]))
			v[n++].r = r;
	*sigs_r = v;
	*n_r = n;
}

void ma_dkim_verify(struct mailauth *ma, const struct ma_msg *m, struct arena *a,
                    struct ma_dkim_sig **sigs_r, size_t *n_r)
{
	DKIM_STAT st;
	DKIM *d;
	DKIM_SIGINFO **sigs;
	int nsigs = 0;
	struct ma_dkim_sig *v;
	size_t n = 0;

	*sigs_r = NULL;
	*n_r = 0;
	if (m->too_many) {
		all_sigs(m, MA_PERMERROR, a, sigs_r, n_r);
		return;
	}
	d = dkim_verify(ma->dkim, (const u_char *)"yizhan", NULL, &st);
	if (d == NULL) {
		all_sigs(m, MA_TEMPERROR, a, sigs_r, n_r);
		return;
	}
	st = feed_headers(d, m, a);
	if (st == DKIM_STAT_NOSIG) {
		dkim_free(d);
		return;
	}
	if (st == DKIM_STAT_OK)
		st = feed_body(d, m);
	if (st == DKIM_STAT_OK) {
		/* the keys are fetched here */
		struct dkim_ctx c = {.deadline = time_mono_ns() + MA_DKIM_DEADLINE_MS * 1000000ull};
		cur = &c;
		(void)dkim_eom(d, NULL);
		cur = NULL;
	}
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK || nsigs <= 0) {
		dkim_free(d);
		/* signature fields the library would not take (no From, broken header): */
		all_sigs(m, MA_PERMERROR, a, sigs_r, n_r);
		return;
	}
	v = arena_alloc(a, (size_t)nsigs * sizeof(*v));
	for (int i = 0; i < nsigs; i++) {
		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		v[n].r = st == DKIM_STAT_OK ? sig_result(sigs[i]) : MA_PERMERROR;
		v[n].domain = lower_or_null(a, dkim_sig_getdomain(sigs[i]));
		v[n].selector = lower_or_null(a, dkim_sig_getselector(sigs[i]));
		n++;
	}
	dkim_free(d);
	*sigs_r = v;
	*n_r = n;
}

/* Every line end CRLF (the library's header folds come as bare LF). */
static char *crlf(struct arena *a, const unsigned char *s, size_t len)
{
	char *out = arena_alloc(a, 2 * len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r')
			continue;
		if (s[i] == '\n')
			*o++ = '\r';
		*o++ = (char)s[i];
	}
	*o = '\0';
	return out;
}

/* An encrypted key is refused, never prompted for (OpenSSL's default asks the terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static bool rsa_key_ok(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	bool ok = pkey && EVP_PKEY_base_id(pkey) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) >= 1024;

	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return ok;
}

int mailauth_dkim_sign(struct mailauth *ma, const char *domain, const char *selector,
                       const char *key_pem, const char *msg, size_t len, struct arena *a,
                       const char **header_r, struct err *err)
{
	struct ma_msg m;
	DKIM_STAT st;
	DKIM *d;
	u_char *sig = NULL;
	size_t siglen = 0;
	int ret = 0;

	if (ma == NULL || domain == NULL || selector == NULL || key_pem == NULL || msg == NULL)
		return err_set(err, ERR_INVALID, "dkim sign: missing argument");
	if (!ma_domain_valid(domain, strlen(domain)) || *selector == '\0' ||
	    strpbrk(selector, "; \t\r\n=") != NULL)
		return err_set(err, ERR_INVALID, "dkim sign: bad domain or selector");
	/* checked here: libopendkim leaks when it fails to load a key, and says less why */
	if (!rsa_key_ok(key_pem))
		return err_set(err, ERR_INVALID,
		               "dkim sign: not a PEM RSA private key of 1024+ bits");
	d = dkim_sign(ma->dkim, (const u_char *)"yizhan", NULL, (dkim_sigkey_t)key_pem,
	              (const u_char *)selector, (const u_char *)domain, DKIM_CANON_RELAXED,
	              DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
	if (d == NULL)
		return err_set(err, ERR_INVALID, "dkim sign: %s", dkim_getresultstr(st));
	ma_msg_parse(msg, len, a, &m);
	if (m.too_many) {
		ret = err_set(err, ERR_LIMIT, "dkim sign: more than %d header fields",
		              MA_MAX_HEADERS);
		goto out;
	}
	st = feed_headers(d, &m, a);
	if (st == DKIM_STAT_OK)
		st = feed_body(d, &m);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &sig, &siglen);
	if (st != DKIM_STAT_OK) {
		const char *why = dkim_geterror(d);
		ret = err_set(err, ERR_INVALID, "dkim sign: %s",
		              why && *why ? why : dkim_getresultstr(st));
		goto out;
	}
	*header_r = arena_printf(a, "%s: %s\r\n", DKIM_SIGNHEADER, crlf(a, sig, siglen));
out:
	dkim_free(d);
	return ret;
}

int mailauth_dkim_keygen(char **key_pem_r, char **txt_r, struct err *err)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	BIO *bio = NULL;
	unsigned char *der = NULL;
	char *b64 = NULL, *pem;
	long pemlen;
	int derlen, ret = -1;

	if (pkey == NULL)
		return err_set(err, ERR_INTERNAL, "dkim keygen: RSA key generation failed");
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		err_set(err, ERR_INTERNAL, "dkim keygen: cannot write the PEM key");
		goto out;
	}
	derlen = i2d_PUBKEY(pkey, &der);
	if (derlen <= 0) {
		err_set(err, ERR_INTERNAL, "dkim keygen: cannot encode the public key");
		goto out;
	}
	b64 = xmalloc(4 * (((size_t)derlen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, der, derlen);
	pemlen = BIO_get_mem_data(bio, &pem);
	*key_pem_r = xstrndup(pem, (size_t)pemlen);
	*txt_r = xmalloc(strlen(b64) + 32);
	sprintf(*txt_r, "v=DKIM1; k=rsa; p=%s", b64);
	ret = 0;
out:
	free(b64);
	OPENSSL_free(der);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}
