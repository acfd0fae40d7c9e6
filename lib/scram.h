/* scram.h: SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, transport-neutral.
 *
 * The same code serves HTTP SCRAM (RFC 7804), IMAP/SMTP/POP3 SASL, and PLAIN checks against the
 * stored secret. Message parsers take (buf, len), do no I/O, enforce SCRAM_MAX_MSG and return
 * 0 or -1 with err. Passwords are used as their UTF-8 bytes: SASLprep (RFC 4013) is not applied,
 * so clients must not normalise either (docs/ARCHITECTURE.md). */
#ifndef YZ_SCRAM_H
#define YZ_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_LEN 16
#define SCRAM_MAX_MSG 1024
#define SCRAM_MAX_USER 320
#define SCRAM_MAX_NONCE 128
#define SCRAM_MIN_ITER 4096
#define SCRAM_MAX_ITER 10000000

struct scram_secret {
	unsigned char salt[SCRAM_SALT_LEN * 2];
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Derive a secret from a password with a fresh random salt. */
void scram_secret_make(const char *password, size_t len, unsigned iterations,
		       struct scram_secret *out);
/* Text form "SCRAM-SHA-256$ITER:B64SALT$B64STOREDKEY:B64SERVERKEY" (as PostgreSQL stores it). */
void scram_secret_format(const struct scram_secret *s, char *out, size_t outsz);
int scram_secret_parse(const char *text, struct scram_secret *out, struct err *err) YZ_WUR;
/* Check a plaintext password (PLAIN/LOGIN over TLS) against a secret: costs one PBKDF2. */
bool scram_secret_check(const struct scram_secret *s, const char *password, size_t len);

struct scram_client_first {
	char user[SCRAM_MAX_USER + 1]; /* unescaped (=2C, =3D) */
	char nonce[SCRAM_MAX_NONCE + 1];
	char gs2_header[64];          /* e.g. "n,," */
	char bare[SCRAM_MAX_MSG + 1]; /* client-first-message-bare, for the AuthMessage */
};

struct scram_client_final {
	unsigned char proof[SCRAM_KEY_LEN];
	char nonce[2 * SCRAM_MAX_NONCE + 1];
	char without_proof[SCRAM_MAX_MSG + 1];
};

/* RFC 5802 section 7: client-first-message. Channel binding ("p=") and mandatory extensions
 * ("m=") are refused; an authzid other than empty is refused. */
int scram_client_first_parse(const char *msg, size_t len, struct scram_client_first *out,
			     struct err *err) YZ_WUR;
/* client-final-message; checks c= decodes to gs2_header. */
int scram_client_final_parse(const char *msg, size_t len, const char *gs2_header,
			     struct scram_client_final *out, struct err *err) YZ_WUR;

/* Server-first-message "r=CNONCE+SNONCE,s=SALT,i=ITER" into out (size >= SCRAM_MAX_MSG+1). */
int scram_server_first(const struct scram_client_first *cf, const char *server_nonce,
		       const struct scram_secret *s, char *out, size_t outsz, struct err *err) YZ_WUR;

/* Verify the client proof; on success write the base64 server signature (45 bytes). */
bool scram_verify(const struct scram_secret *s, const struct scram_client_first *cf,
		  const char *server_first, const struct scram_client_final *cfin,
		  char *server_sig_b64);

/* A deterministic fake secret for an unknown user, so step one looks like a real account's:
 * salt = HMAC(key, user). The keys are random and never match any proof. */
void scram_secret_fake(const unsigned char *key, size_t keylen, const char *user,
		       unsigned iterations, struct scram_secret *out);

#endif
