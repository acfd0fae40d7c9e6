/* mailauth_int.h: what mailauth.c, mailauth_spf.c, mailauth_dkim.c and mailauth_dmarc.c share.
 * Not a public header: everything outside mta/mailauth*.c uses mta/mailauth.h. */
#ifndef YZ_MAILAUTH_INT_H
#define YZ_MAILAUTH_INT_H

#include "mta/mailauth.h"

/* Hard limits, enforced in code (STYLE.md section 10). */
#define MA_MAX_DKIM_SIGS 10       /* DKIM-Signature fields verified per message */
#define MA_MAX_HEADERS 1000       /* header fields looked at; more: DKIM permerror */
#define MA_MAX_SPF_TERMS 10       /* RFC 7208 4.6.4: DNS-querying terms */
#define MA_MAX_SPF_VOIDS 2        /* RFC 7208 4.6.4: void lookups */
#define MA_MAX_SPF_QUERIES 120    /* every query of one check, MX/PTR host lookups included */
#define MA_SPF_DEADLINE_MS 20000  /* RFC 7208 4.6.4: at least 20 s before temperror */
#define MA_DKIM_DEADLINE_MS 20000 /* all key lookups of one message */
#define MA_MAX_TXT 4096           /* SPF and DMARC record length */

struct SPF_server_struct;
struct dkim_lib;

struct mailauth {
	char *authserv_id;
	char *psl_path;
	enum mailauth_policy dmarc_reject, dmarc_quarantine, spf_fail;
	struct dns_resolver *dns; /* borrowed: outlives the mailauth */
	struct SPF_server_struct *spf;
	struct dkim_lib *dkim;
	bool dmarc_ref; /* holds a reference on libopendmarc's process-wide state */
};

/* One header field of a message: name, and the whole field as it came (folds included, the
 * final line end excluded). */
struct ma_hdr {
	const char *name, *raw;
	size_t name_len, raw_len;
};

struct ma_msg {
	struct ma_hdr *h;
	size_t nh;
	bool too_many;    /* more than MA_MAX_HEADERS fields */
	const char *body; /* after the blank line; NULL when there is none */
	size_t body_len;
};

/* Split msg (CRLF or bare LF line ends) into header fields and body. Never fails. */
void ma_msg_parse(const char *msg, size_t len, struct arena *a, struct ma_msg *m);
/* The field as DKIM wants it: every line end CRLF, in a, NUL-terminated. */
char *ma_hdr_crlf(const struct ma_hdr *h, struct arena *a, size_t *len_r);

/* A syntactically valid multi-label DNS name (RFC 7208 4.3, RFC 1035 2.3.4), of at most 253
 * octets; labels of letters, digits, '-', '_' or 8-bit (U-labels). */
bool ma_domain_valid(const char *d, size_t len);
/* ASCII lower-case copy in a. */
char *ma_lower(struct arena *a, const char *s, size_t len);

/* SPF (mailauth_spf.c). */
int ma_spf_init(struct mailauth *ma, struct err *err);
void ma_spf_release(struct mailauth *ma);
/* The SPF result for the identity; *domain_r is the domain checked (arena, NULL when there was
 * no identity). Returns -1 only for a client_ip that is not an IP address. */
int ma_spf_check(struct mailauth *ma, const char *client_ip, const char *helo,
                 const char *mail_from, struct arena *a, enum mailauth_result *r,
                 const char **domain_r, struct err *err);
/* The domain SPF checks: the MAIL FROM domain, or HELO for the null sender (RFC 7208 2.4). */
const char *ma_spf_identity(const char *helo, const char *mail_from, struct arena *a);

/* DKIM (mailauth_dkim.c). */
struct ma_dkim_sig {
	enum mailauth_result r;
	const char *domain, *selector; /* lower-case, arena; NULL when the signature has none */
};
int ma_dkim_init(struct mailauth *ma, struct err *err);
void ma_dkim_release(struct mailauth *ma);
/* Every DKIM signature of m (at most MA_MAX_DKIM_SIGS), always a result for each. */
void ma_dkim_verify(struct mailauth *ma, const struct ma_msg *m, struct arena *a,
                    struct ma_dkim_sig **sigs_r, size_t *n_r);

/* DMARC (mailauth_dmarc.c). */
int ma_dmarc_init(struct mailauth *ma, struct err *err);
void ma_dmarc_release(struct mailauth *ma);
/* The organisational domain (RFC 7489 3.2) of a lower-case domain, into out. */
void ma_org_domain(const char *domain, char *out, size_t outlen);

enum ma_dmarc_policy { MA_P_NONE = 0, MA_P_QUARANTINE, MA_P_REJECT };

struct ma_dmarc_in {
	const char *client_ip;
	const char *from_domain; /* lower-case */
	enum mailauth_result spf;
	const char *spf_domain; /* lower-case, or NULL */
	const struct ma_dkim_sig *sigs;
	size_t nsigs;
};

struct ma_dmarc_out {
	enum mailauth_result r;      /* none, pass, fail, temperror, permerror */
	enum ma_dmarc_policy policy; /* what the domain asks for on failure, after sp= and pct= */
	const char *policy_domain;   /* where the record was found */
	const char *dkim_domain;     /* the aligned passing signature's d=, or NULL */
};

void ma_dmarc_eval(struct mailauth *ma, const struct ma_dmarc_in *in, struct arena *a,
                   struct ma_dmarc_out *out);

#endif
