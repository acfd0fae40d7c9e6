/* auth.h: password checks for protocols that receive a plaintext password over TLS
 * (IMAP/POP3/SMTP PLAIN and LOGIN), with a verification cache so clients that sign in on
 * every connection do not pay PBKDF2 each time.
 *
 * The cache never holds a password: an entry is HMAC-SHA256(k, stored-secret || password)
 * under a key k made at start-up and never written anywhere. A password change alters the
 * stored secret, so stale entries simply stop matching. Entries expire after ttl seconds. */
#ifndef YZ_AUTH_H
#define YZ_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "store.h"

struct auth_cache;

struct auth_cache *auth_cache_new(size_t max_entries, int64_t ttl_seconds);
/* The PBKDF2 cost of the stand-in secret checked for unknown addresses: the configured
 * [auth] scram_iterations, so an unknown address takes as long as a real one. */
void auth_cache_set_iterations(struct auth_cache *c, unsigned iterations);
void auth_cache_free(struct auth_cache **cp);

struct auth_stats {
	uint64_t hits, misses;
};
void auth_cache_stats(struct auth_cache *c, struct auth_stats *out);

/* Check address + password. 0 with *acct filled on success; ERR_AUTH on a wrong password, an
 * unknown address or a disabled account (the same error for all three); another code when the
 * directory could not be read (a temporary failure). cache may be NULL. */
int auth_check_password(struct store *st, struct auth_cache *c, const char *address,
			const char *password, struct store_account *acct,
			struct err *err) YZ_WUR;

/* For SMTP/IMAP/POP3 PLAIN and LOGIN: the account password (unless the account must use app
 * passwords) or one of its app passwords. *app_id_r is the app password's id, or 0 when the
 * account password matched. Same error for everything that fails (ERR_AUTH); another code when
 * the directory could not be read. */
int auth_check_mail_password(struct store *st, struct auth_cache *c, const char *address,
			     const char *password, struct store_account *acct, int64_t *app_id_r,
			     struct err *err) YZ_WUR;

#endif
