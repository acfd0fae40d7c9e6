/* store.h: the directory (data/directory.db): domains, accounts, roles, sessions, settings,
 * service classes and sign-in failure tracking. Thread-safe: each thread uses its own
 * connection. Functions return 0 or -1 with err (ERR_NOTFOUND, ERR_EXISTS, ERR_INVALID, ...). */
#ifndef YZ_STORE_H
#define YZ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/role.h"
#include "lib/scram.h"

#define STORE_ADDR_MAX 320
#define STORE_NAME_MAX 128
#define STORE_TOTP_KEY 20

struct store;

/* Open DATA_DIR/directory.db, creating and migrating it when create is set. */
int store_open(const char *data_dir, bool create, struct store **st_r, struct err *err) YZ_WUR;
void store_close(struct store **stp);

/* Domains */
int store_domain_add(struct store *st, const char *name, int64_t *id_r, struct err *err) YZ_WUR;
typedef void store_domain_fn(void *ctx, int64_t id, const char *name, int64_t created);
int store_domain_list(struct store *st, store_domain_fn *fn, void *ctx, struct err *err) YZ_WUR;
bool store_domain_exists(struct store *st, const char *name); /* false on an error too */
/* Is name a hosted domain? -1 when the directory could not be read. */
int store_domain_lookup(struct store *st, const char *name, bool *found_r,
			struct err *err) YZ_WUR;

/* Accounts */
struct store_account {
	int64_t id;
	int64_t domain_id;
	char address[STORE_ADDR_MAX + 1];
	char domain[256];
	char name[STORE_NAME_MAX + 1];
	enum role role;
	bool disabled;
	char lang[8];
	struct scram_secret secret;
	bool totp_enabled;
	unsigned char totp_key[STORE_TOTP_KEY];
	int64_t totp_last_step;
	int64_t class_id;
	int64_t created;
};

/* RFC 4013 SASLprep of a password (libidn, "query" semantics), as the browser does before
 * PBKDF2; a password SASLprep refuses is used as it is (as PostgreSQL does). out >= 2 KiB. */
void store_password_prep(const char *password, char *out, size_t outsz);

/* Normalise and validate an address ("Local@Domain" -> "local@domain"); out >= 321 bytes. */
int store_address_normalise(const char *in, char *out, size_t outsz, struct err *err) YZ_WUR;
int store_account_add(struct store *st, const char *address, const char *name, enum role role,
		      const char *password, unsigned iterations, int64_t *id_r,
		      struct err *err) YZ_WUR;
int store_account_get(struct store *st, const char *address, struct store_account *out,
		      struct err *err) YZ_WUR;
/* The account's service-class limits (quota 0 = unlimited). */
struct store_limits {
	int64_t quota_bytes, max_message_bytes, max_recipients;
};
int store_account_limits(struct store *st, int64_t account_id, struct store_limits *out,
			 struct err *err) YZ_WUR;
/* Display name and/or language (NULL keeps it); language is zh-CN or en. */
int store_account_set_profile(struct store *st, int64_t id, const char *name, const char *lang,
			      struct err *err) YZ_WUR;
/* A new SCRAM secret made by the client (the password never reaches us). */
int store_account_set_secret(struct store *st, int64_t id, const struct scram_secret *sec,
			     struct err *err) YZ_WUR;
int store_account_get_id(struct store *st, int64_t id, struct store_account *out,
			 struct err *err) YZ_WUR;
int store_account_set_password(struct store *st, const char *address, const char *password,
			       unsigned iterations, struct err *err) YZ_WUR;
int store_account_set_disabled(struct store *st, const char *address, bool disabled,
			       struct err *err) YZ_WUR;
typedef void store_account_fn(void *ctx, const struct store_account *a);
/* All accounts, or those of one domain (domain != NULL), by address. */
int store_account_list(struct store *st, const char *domain, store_account_fn *fn, void *ctx,
		       struct err *err) YZ_WUR;
/* Enable TOTP with key (STORE_TOTP_KEY bytes), or disable it with key == NULL. */
int store_account_totp_set(struct store *st, int64_t id, const unsigned char *key,
			   struct err *err) YZ_WUR;
/* Record that TOTP step was used; ERR_EXISTS when it (or a later one) was already used. */
int store_account_totp_use(struct store *st, int64_t id, int64_t step, struct err *err) YZ_WUR;

/* Sessions. The id given to the browser is 256 random bits; only its SHA-256 is stored. */
struct store_session {
	char hash[65];
	int64_t account_id;
	bool complete;
	char csrf[65];
	int64_t created, last_seen;
	bool has_pending_totp;
	unsigned char pending_totp[STORE_TOTP_KEY];
};

int store_session_create(struct store *st, int64_t account_id, bool complete, const char *ip,
			 const char *client, char id_out[65], char csrf_out[65],
			 struct err *err) YZ_WUR;
/* Look a session up by the id the browser sent. ERR_NOTFOUND if unknown; ERR_DENIED if it
 * expired (it is then removed). Touches last_seen at most once a minute. */
int store_session_get(struct store *st, const char *id, int64_t now, int64_t idle,
		      int64_t absolute, struct store_session *out, struct err *err) YZ_WUR;
/* The same, and the session's account in one read (*acct written whenever out->account_id
 * is, also for an expired session, so the caller can audit the expiry). */
int store_session_resolve(struct store *st, const char *id, int64_t now, int64_t idle,
			  int64_t absolute, struct store_session *out, struct store_account *acct,
			  struct err *err) YZ_WUR;
/* The stored form of a session id: SHA-256, hex. */
void store_session_hash(const char *id, char out[65]);
int store_session_complete(struct store *st, const char *hash, struct err *err) YZ_WUR;
int store_session_set_pending_totp(struct store *st, const char *hash, const unsigned char *key,
				   struct err *err) YZ_WUR;
int store_session_delete(struct store *st, const char *hash, struct err *err) YZ_WUR;
typedef void store_session_fn(void *ctx, const char *hash, const char *ip, const char *client,
			      int64_t created, int64_t last_seen);
/* The account's signed-in sessions, most recently used first. */
int store_session_list(struct store *st, int64_t account_id, store_session_fn *fn, void *ctx,
		       struct err *err) YZ_WUR;
/* Sign out one session (by the first 16 hex digits of its hash) or, with hash_prefix NULL,
 * every session but keep_hash. Returns how many went, or -1. */
int store_session_revoke(struct store *st, int64_t account_id, const char *hash_prefix,
			 const char *keep_hash, struct err *err) YZ_WUR;
/* Remove every session of an account (password change, disable). */
int store_session_delete_account(struct store *st, int64_t account_id, struct err *err) YZ_WUR;

/* Sign-in failures, keyed by the address as typed (known or not), so unknown addresses and
 * real ones behave the same. */
struct store_login_policy {
	int64_t delay_after; /* failures before waits start */
	int64_t lock_after;  /* failures before the lock */
	int64_t lock_seconds;
};
/* now_ms is unix milliseconds (time_now_ms()): a wait or lock counts from the failure to the
 * millisecond, never from the start of its second. 0 when an attempt may proceed now; else
 * ERR_LIMIT with *retry_after_r the seconds to wait, rounded up (at least 1). */
int store_login_allowed(struct store *st, const char *address, int64_t now_ms,
			const struct store_login_policy *p, int64_t *retry_after_r,
			struct err *err) YZ_WUR;
/* Record a failure at now_ms (taken when the attempt failed, not when it began). */
int store_login_failed(struct store *st, const char *address, int64_t now_ms,
		       const struct store_login_policy *p, struct err *err) YZ_WUR;
int store_login_succeeded(struct store *st, const char *address, struct err *err) YZ_WUR;

/* API tokens ("yz_" + 64 hex): bearer credentials for OA systems, scoped, revocable. Only the
 * SHA-256 of a token is stored; the token itself is shown once, at creation. */
#define STORE_TOKEN_LEN 67
#define STORE_SCOPES_MAX 255
struct store_token {
	int64_t id;
	int64_t account_id;
	char name[STORE_NAME_MAX + 1];
	char scopes[STORE_SCOPES_MAX + 1]; /* space-separated */
	int64_t created, last_used;
	bool revoked;
};
/* scopes: space-separated names of [a-z.]; token_out gets the token (STORE_TOKEN_LEN + 1). */
int store_token_add(struct store *st, int64_t account_id, const char *name, const char *scopes,
		    char *token_out, int64_t *id_r, struct err *err) YZ_WUR;
/* Look a live token up; ERR_NOTFOUND when unknown or revoked. Touches last_used hourly. */
int store_token_get(struct store *st, const char *token, struct store_token *out,
		    struct err *err) YZ_WUR;
typedef void store_token_fn(void *ctx, const struct store_token *t);
int store_token_list(struct store *st, int64_t account_id, store_token_fn *fn, void *ctx,
		     struct err *err) YZ_WUR;
int store_token_revoke(struct store *st, int64_t id, struct err *err) YZ_WUR;
/* Does the space-separated list hold scope? */
bool store_scope_has(const char *scopes, const char *scope);

/* Settings: small key/value pairs. */
int store_setting_get(struct store *st, const char *key, char *out, size_t outsz,
		      struct err *err) YZ_WUR;
int store_setting_set(struct store *st, const char *key, const char *value,
		      struct err *err) YZ_WUR;

/* ---- mail routing and settings (store_mail.c) ---- */

/* Aliases: another address for an account, also in another hosted domain. */
int store_alias_add(struct store *st, const char *alias, int64_t account_id, bool can_send,
		    struct err *err) YZ_WUR;
int store_alias_delete(struct store *st, const char *alias, struct err *err) YZ_WUR;
typedef void store_alias_fn(void *ctx, const char *alias, const char *account, bool can_send);
int store_alias_list(struct store *st, store_alias_fn *fn, void *ctx, struct err *err) YZ_WUR;
/* Is address an alias of account_id that may be sent as? */
bool store_alias_can_send(struct store *st, const char *address, int64_t account_id);

/* Groups (the organisation's, e.g. all@) and distribution lists: members are addresses,
 * local (accounts, aliases, other lists) or outside. */
int store_list_add(struct store *st, const char *address, const char *name, bool group,
		   struct err *err) YZ_WUR;
int store_list_member(struct store *st, const char *list, const char *member, bool add,
		      struct err *err) YZ_WUR;
typedef int store_member_fn(void *ctx, const char *member); /* non-zero stops */
int store_list_members(struct store *st, const char *list, store_member_fn *fn, void *ctx,
		       struct err *err) YZ_WUR;
typedef void store_list_fn(void *ctx, const char *address, const char *name, bool group,
			   int64_t members);
int store_lists_each(struct store *st, store_list_fn *fn, void *ctx, struct err *err) YZ_WUR;

enum store_rcpt_kind {
	STORE_RCPT_NONE = 0,
	STORE_RCPT_ACCOUNT = 1,
	STORE_RCPT_ALIAS = 2, /* id is the account's */
	STORE_RCPT_LIST = 3,  /* id is the list's */
};
struct store_rcpt {
	enum store_rcpt_kind kind;
	int64_t id;
	bool disabled, is_admin;
};
/* What a normalised address is here (kind NONE if nothing). */
int store_rcpt_lookup(struct store *st, const char *address, struct store_rcpt *out,
		      struct err *err) YZ_WUR;

struct store_mail_settings {
	char forward_to[STORE_ADDR_MAX + 1]; /* "" = off */
	bool forward_keep;                   /* keep a copy when forwarding */
	bool vacation_on;
	char vacation_subject[256];
	char vacation_body[8192];
	int64_t vacation_start, vacation_end; /* unix seconds, 0 = open */
	int64_t vacation_period;              /* one reply per sender per period */
	bool require_app_password;            /* mail clients must use app passwords */
};
int store_mail_settings_get(struct store *st, int64_t account_id,
			    struct store_mail_settings *out, struct err *err) YZ_WUR;
int store_mail_settings_set(struct store *st, int64_t account_id,
			    const struct store_mail_settings *s, struct err *err) YZ_WUR;
/* Should a vacation reply go to sender now? Records it when yes (once per period). */
int store_vacation_claim(struct store *st, int64_t account_id, const char *sender, int64_t now,
			 int64_t period, bool *reply_r, struct err *err) YZ_WUR;

/* App passwords (授权码): per client or device, shown once, revocable. The password is made
 * here (16 characters) and stored only as a SCRAM-SHA-256 secret. */
int store_apppw_add(struct store *st, int64_t account_id, const char *name, char password_r[33],
		    unsigned iterations, int64_t *id_r, struct err *err) YZ_WUR;
typedef void store_apppw_fn(void *ctx, int64_t id, const char *name, int64_t created,
			    int64_t last_used);
int store_apppw_list(struct store *st, int64_t account_id, store_apppw_fn *fn, void *ctx,
		     struct err *err) YZ_WUR;
int store_apppw_revoke(struct store *st, int64_t account_id, int64_t id, struct err *err) YZ_WUR;
struct store_apppw_secret {
	int64_t id;
	struct scram_secret secret;
};
int store_apppw_secrets(struct store *st, int64_t account_id, struct store_apppw_secret *v,
			size_t max, size_t *n_r, struct err *err) YZ_WUR;
int store_apppw_used(struct store *st, int64_t id, struct err *err) YZ_WUR;

/* DKIM signing keys, one per domain. */
int store_dkim_set(struct store *st, const char *domain, const char *selector,
		   const char *key_pem, struct err *err) YZ_WUR;
int store_dkim_get(struct store *st, const char *domain, char *selector, size_t selsz,
		   char **key_pem_r, struct err *err) YZ_WUR;

#endif
