/* sasl_srv.h: the server side of mail client sign-in, as SMTP AUTH (RFC 4954), IMAP
 * AUTHENTICATE and LOGIN (RFC 3501) and POP3 AUTH and USER/PASS (RFC 5034, RFC 1939) all do
 * it: decoding a SASL response, PLAIN (RFC 4616), the server's SCRAM-SHA-256 steps (RFC 5802,
 * RFC 7677), the sign-in throttle's key and the audit record's detail.
 *
 * Each protocol keeps its own exchange (continuation lines, replies, response codes), its
 * mechanism list and its password-check job; these functions do no I/O except
 * sasl_srv_scram_server_first(), which reads the store and so runs on a worker (in the job
 * of sasl_srv_first_job_new(), or in a job of the protocol's own). */
#ifndef YZ_SASL_SRV_H
#define YZ_SASL_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/codec.h"
#include "lib/err.h"
#include "lib/scram.h"
#include "server/net/netsvc.h"
#include "store/store.h"

#define SASL_SRV_MAX 2048     /* bytes of one decoded SASL message */
#define SASL_SRV_PASS_MAX 1024 /* bytes of a password (PLAIN, LOGIN, USER/PASS) */
/* server-final "v=" + base64 signature, NUL included */
#define SASL_SRV_FINAL_MAX (2 + B64_ENC_LEN(SCRAM_KEY_LEN))

/* What the SCRAM steps read; borrowed from the protocol's server, which outlives them. */
struct sasl_srv_conf {
	struct store *store;
	const struct store_login_policy *login;
	const unsigned char *key; /* for the fake secrets of unknown users */
	size_t keylen;
	unsigned iterations;      /* the fake secrets' */
};

/* The address as the sign-in throttle (store_login_*) keys it: normalised when it is an
 * address at all, else as typed. */
void sasl_srv_key_address(const char *typed, char *out, size_t outsz);

/* Decode a base64 SASL response into out (SASL_SRV_MAX + 1 bytes), NUL-terminated; "=" is the
 * empty initial response (RFC 4954 section 4, RFC 5034 section 4, RFC 4959). 0, or -1 when
 * it is not base64 or decodes to more than SASL_SRV_MAX bytes. */
int sasl_srv_decode(const char *b, size_t len, char *out, size_t *n_r) YZ_WUR;

/* PLAIN: [authzid] NUL authcid NUL passwd. 0 with user and pass NUL-terminated; -1 with
 * ERR_INVALID (malformed, or a part too long), or ERR_DENIED when an authzid names someone else
 * (acting for another user is not offered); pass holds nothing then. */
int sasl_srv_plain(const char *d, size_t n, char user[SCRAM_MAX_USER + 1],
		   char pass[SASL_SRV_PASS_MAX + 1], struct err *err) YZ_WUR;

/* One SCRAM-SHA-256 exchange, server side. Holds a secret: cleanse it when done. */
struct sasl_srv_scram {
	struct scram_client_first cf;
	char server_first[SCRAM_MAX_MSG + 1];
	struct scram_secret secret;
	int64_t account_id; /* 0: unknown (the fake secret) */
	char address[STORE_ADDR_MAX + 1]; /* the user as the throttle keys it */
};

/* Step 1, no I/O: parse client-first (and key the address). -1 if malformed. */
int sasl_srv_scram_client_first(struct sasl_srv_scram *sc, const char *d, size_t n,
				struct err *err) YZ_WUR;
/* Step 1 on a worker: the lockout, the account's secret and server-first. Unknown, disabled
 * and admin accounts, and those that must use app passwords (which have no SCRAM salt of their
 * own), get a fake secret (stable per address under key) and the same exchange, bound to fail.
 * -1 with ERR_LIMIT (locked: *retry_r seconds), ERR_INVALID (no server-first could be made of
 * client-first), or another code for internal failures. */
int sasl_srv_scram_server_first(struct sasl_srv_scram *sc, const struct sasl_srv_conf *conf,
				int64_t *retry_r, struct err *err) YZ_WUR;

/* Step 1's worker part as a job: run calls sasl_srv_scram_server_first() for sc; the
 * protocol's done (on the loop) reads rc, err.code and retry, replies, and frees the job with
 * free(). Start it with the session waiting, so that the loop leaves sc be meanwhile. */
struct sasl_srv_first_job {
	struct netsvc_job job;
	const struct sasl_srv_conf *conf;
	struct sasl_srv_scram *sc; /* the session's */
	int rc;
	int64_t retry;
	struct err err;
};
struct sasl_srv_first_job *sasl_srv_first_job_new(const struct sasl_srv_conf *conf,
						  struct sasl_srv_scram *sc, netsvc_job_fn *done);
/* Step 2, no I/O: does client-final prove the password of a real account? Then true, with
 * server-final ("v=signature") in fin (SASL_SRV_FINAL_MAX bytes). */
bool sasl_srv_scram_client_final(const struct sasl_srv_scram *sc, const char *d, size_t n,
				 char fin[SASL_SRV_FINAL_MAX]);

/* The detail of an auth.login.ok / auth.login.fail audit record: {"protocol", "method",
 * "port", "reason" (failures only), "app_password" (the app password's id, when one was used)}. */
void sasl_srv_audit_detail(struct buf *b, const char *protocol, const char *method, int port,
			   bool ok, const char *reason, int64_t app_id);

#endif
