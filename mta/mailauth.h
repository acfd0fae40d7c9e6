/* mailauth.h: SPF (libspf2), DKIM verification and signing (libopendkim), DMARC
 * (libopendmarc), and the Authentication-Results header (RFC 8601) they produce.
 *
 * Every DNS lookup goes through mta/dns.h, so a test can point them all at a local dnsmasq.
 * Thread-safe: the shared library handles are created once; each check has its own state. */
#ifndef YZ_MAILAUTH_H
#define YZ_MAILAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "mta/dns.h"

struct mailauth;

enum mailauth_policy {
	MAILAUTH_TAG = 0,   /* only the Authentication-Results header */
	MAILAUTH_QUARANTINE, /* deliver into Junk */
	MAILAUTH_REJECT,    /* refuse with 550 5.7.x */
};

struct mailauth_opts {
	const char *authserv_id;    /* our host name, in Authentication-Results */
	const char *psl_path;       /* public suffix list (DMARC organisational domains);
				       NULL: /usr/share/publicsuffix/public_suffix_list.dat */
	enum mailauth_policy dmarc_reject;     /* what to do when DMARC fails with p=reject */
	enum mailauth_policy dmarc_quarantine; /* ... with p=quarantine */
	enum mailauth_policy spf_fail;         /* SPF "fail" without DMARC saying otherwise */
};

int mailauth_new(const struct mailauth_opts *o, struct dns_resolver *dns, struct mailauth **ma_r,
		 struct err *err) YZ_WUR;
void mailauth_free(struct mailauth **map);

enum mailauth_result {
	MA_NONE = 0, MA_PASS, MA_FAIL, MA_SOFTFAIL, MA_NEUTRAL, MA_TEMPERROR, MA_PERMERROR,
	MA_POLICY,
};
const char *mailauth_result_name(enum mailauth_result r); /* "pass", "fail", ... (RFC 8601) */

/* SPF alone (RFC 7208), for MAIL FROM time: the sender's domain (or HELO for the null
 * sender) against the client IP. */
int mailauth_spf(struct mailauth *ma, const char *client_ip, const char *helo,
		 const char *mail_from, enum mailauth_result *r, struct err *err) YZ_WUR;

struct mailauth_verdict {
	enum mailauth_result spf, dkim, dmarc;
	const char *spf_domain, *dkim_domain, *from_domain;
	enum mailauth_policy action; /* what our policy says to do with the message */
	const char *reason;          /* for the 550 reply or the log, when action != TAG */
	/* the whole header line "Authentication-Results: ...\r\n", ready to prepend */
	const char *header;
};

/* The full check of a received message: SPF (reused if spf != MA_NONE was found at MAIL
 * FROM), every DKIM signature, and DMARC alignment over the RFC 5322 From domain. */
int mailauth_check(struct mailauth *ma, const char *client_ip, const char *helo,
		   const char *mail_from, enum mailauth_result spf, const char *msg, size_t len,
		   struct arena *a, struct mailauth_verdict *v, struct err *err) YZ_WUR;

/* DKIM-sign (rsa-sha256, relaxed/relaxed, the usual header set) for domain with selector and
 * a PEM private key. *header_r is the "DKIM-Signature: ...\r\n" line(s) to prepend. */
int mailauth_dkim_sign(struct mailauth *ma, const char *domain, const char *selector,
		       const char *key_pem, const char *msg, size_t len, struct arena *a,
		       const char **header_r, struct err *err) YZ_WUR;

/* A new 2048-bit RSA key: the PEM private key and the DNS TXT record value to publish at
 * SELECTOR._domainkey.DOMAIN ("v=DKIM1; k=rsa; p=..."), both malloc'd. */
int mailauth_dkim_keygen(char **key_pem_r, char **txt_r, struct err *err) YZ_WUR;

#endif
