/* Web sessions and sign-in failure tracking. */
#include "store_int.h"

#include <string.h>

#include <openssl/sha.h>

#include "lib/util.h"

#define TOUCH_INTERVAL 60

void store_session_hash(const char *id, char out[65])
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)id, strlen(id), h);
	hex_encode(h, sizeof(h), out);
}

int store_session_create(struct store *st, int64_t account_id, bool complete, const char *ip,
			 const char *client, char id_out[65], char csrf_out[65], struct err *err)
{
	char id[65], hash[65], csrf[65];
	sqlite3_stmt *s;
	int64_t now = time_now();

	rand_hex(id, 32);
	rand_hex(csrf, 32);
	store_session_hash(id, hash);
	if (db_prepare(st->db,
		       "INSERT INTO sessions (hash, account_id, complete, csrf, ip, client, created,"
		       " last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, hash);
	sqlite3_bind_int64(s, 2, account_id);
	sqlite3_bind_int(s, 3, complete);
	db_bind_text(s, 4, csrf);
	db_bind_text(s, 5, ip ? ip : "");
	sqlite3_bind_text(s, 6, client ? client : "", client ? (int)strnlen(client, 256) : 0,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 7, now);
	sqlite3_bind_int64(s, 8, now);
	if (store_step_done(st, s, "create session", err) < 0)
		return -1;
	memcpy(id_out, id, 65);
	memcpy(csrf_out, csrf, 65);
	return 0;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

#define SESSION_COLS "s.account_id, s.complete, s.csrf, s.created, s.last_seen, s.pending_totp"

static void read_session(sqlite3_stmt *s, struct store_session *out)
{
	const void *pt;

	out->account_id = sqlite3_column_int64(s, 0);
	out->complete = sqlite3_column_int(s, 1) != 0;
	db_col_text(s, 2, out->csrf, sizeof(out->csrf));
	out->created = sqlite3_column_int64(s, 3);
	out->last_seen = sqlite3_column_int64(s, 4);
	pt = sqlite3_column_blob(s, 5);
	if (pt && sqlite3_column_bytes(s, 5) == STORE_TOTP_KEY) {
		out->has_pending_totp = true;
		memcpy(out->pending_totp, pt, STORE_TOTP_KEY);
	}
}

/* Expiry and the once-a-minute touch, after the row was read. */
static int check_session(struct store *st, int64_t now, int64_t idle, int64_t absolute,
			 struct store_session *out, struct err *err)
{
	sqlite3_stmt *s;

	if (now - out->last_seen > idle || now - out->created > absolute) {
		if (store_session_delete(st, out->hash, err) < 0)
			return -1;
		return err_set(err, ERR_DENIED, "session expired");
	}
	if (now - out->last_seen >= TOUCH_INTERVAL) {
		if (db_prepare(st->db, "UPDATE sessions SET last_seen = ? WHERE hash = ?", &s,
			       err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, now);
		db_bind_text(s, 2, out->hash);
		if (store_step_done(st, s, "touch session", err) < 0)
			return -1;
		out->last_seen = now;
	}
	return 0;
}

int store_session_get(struct store *st, const char *id, int64_t now, int64_t idle,
		      int64_t absolute, struct store_session *out, struct err *err)
{
	sqlite3_stmt *s;

	if (!valid_id(id))
		return err_set(err, ERR_NOTFOUND, "no such session");
	memset(out, 0, sizeof(*out));
	store_session_hash(id, out->hash);
	if (db_prepare(st->db, "SELECT " SESSION_COLS " FROM sessions s WHERE s.hash = ?", &s,
		       err) < 0)
		return -1;
	db_bind_text(s, 1, out->hash);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "get session", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no such session");
	}
	read_session(s, out);
	db_done(st->db, s);
	return check_session(st, now, idle, absolute, out, err);
}

int store_session_resolve(struct store *st, const char *id, int64_t now, int64_t idle,
			  int64_t absolute, struct store_session *out, struct store_account *acct,
			  struct err *err)
{
	sqlite3_stmt *s;
	int ret;

	if (!valid_id(id))
		return err_set(err, ERR_NOTFOUND, "no such session");
	memset(out, 0, sizeof(*out));
	store_session_hash(id, out->hash);
	/* one statement, so one read transaction, for the request hot path */
	if (db_prepare(st->db,
		       "SELECT " SESSION_COLS ", " ACCOUNT_COLS " FROM sessions s"
		       " JOIN accounts a ON a.id = s.account_id JOIN domains d ON d.id = a.domain_id"
		       " WHERE s.hash = ?",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, out->hash);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "get session", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no such session");
	}
	read_session(s, out);
	ret = store_read_account(s, 6, acct, err);
	db_done(st->db, s);
	if (ret < 0)
		return -1;
	return check_session(st, now, idle, absolute, out, err);
}

static int by_hash(struct store *st, const char *sql, const char *hash, const void *blob,
		   struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, sql, &s, err) < 0)
		return -1;
	if (blob) {
		sqlite3_bind_blob(s, 1, blob, STORE_TOTP_KEY, SQLITE_TRANSIENT);
		db_bind_text(s, 2, hash);
	} else {
		db_bind_text(s, 1, hash);
	}
	return store_step_done(st, s, "session update", err);
}

int store_session_complete(struct store *st, const char *hash, struct err *err)
{
	return by_hash(st, "UPDATE sessions SET complete = 1, pending_totp = NULL WHERE hash = ?",
		       hash, NULL, err);
}

int store_session_set_pending_totp(struct store *st, const char *hash, const unsigned char *key,
				   struct err *err)
{
	return by_hash(st, "UPDATE sessions SET pending_totp = ? WHERE hash = ?", hash, key, err);
}

int store_session_delete(struct store *st, const char *hash, struct err *err)
{
	return by_hash(st, "DELETE FROM sessions WHERE hash = ?", hash, NULL, err);
}

int store_session_delete_account(struct store *st, int64_t account_id, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "DELETE FROM sessions WHERE account_id = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	return store_step_done(st, s, "delete sessions", err);
}

/* Wait after the n-th consecutive failure: 0 below delay_after, then 1, 2, 4 ... seconds
 * (capped at 5 minutes); at lock_after the address is locked for lock_seconds. */
static int64_t wait_after(int64_t failures, const struct store_login_policy *p)
{
	int64_t n = failures - p->delay_after;
	if (failures >= p->lock_after)
		return p->lock_seconds;
	if (n < 0)
		return 0;
	return n >= 8 ? 300 : ((int64_t)1 << n);
}

int store_login_allowed(struct store *st, const char *address, int64_t now_ms,
			const struct store_login_policy *p, int64_t *retry_after_r,
			struct err *err)
{
	sqlite3_stmt *s;
	int64_t failures, last_ms, until_ms;

	if (db_prepare(st->db, "SELECT failures, last_failure FROM login_failures WHERE address = ?",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, address);
	if (sqlite3_step(s) != SQLITE_ROW) /* no failures on record; an error is no "allowed" */
		return db_end(st->db, s, "login failures", err);
	failures = sqlite3_column_int64(s, 0);
	last_ms = sqlite3_column_int64(s, 1);
	db_done(st->db, s);
	/* milliseconds: with whole seconds a failure at 10.999 s waited 1 s only until 11.000 s */
	until_ms = last_ms + wait_after(failures, p) * 1000;
	if (now_ms < until_ms) {
		*retry_after_r = (until_ms - now_ms + 999) / 1000;
		return err_set(err, ERR_LIMIT, "too many failed sign-ins; retry in %lld s",
			       (long long)*retry_after_r);
	}
	return 0;
}

int store_login_failed(struct store *st, const char *address, int64_t now_ms,
		       const struct store_login_policy *p, struct err *err)
{
	sqlite3_stmt *s;
	/* a lock that has run out starts the count afresh */
	if (db_prepare(st->db,
		       "INSERT INTO login_failures (address, failures, last_failure) VALUES (?1, 1, ?2)"
		       " ON CONFLICT(address) DO UPDATE SET"
		       "  failures = CASE WHEN failures >= ?3 AND ?2 >= last_failure + ?4 THEN 1"
		       "                  ELSE failures + 1 END,"
		       "  last_failure = ?2",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, address);
	sqlite3_bind_int64(s, 2, now_ms);
	sqlite3_bind_int64(s, 3, p->lock_after);
	sqlite3_bind_int64(s, 4, p->lock_seconds * 1000);
	return store_step_done(st, s, "record failure", err);
}

int store_login_succeeded(struct store *st, const char *address, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "DELETE FROM login_failures WHERE address = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, address);
	return store_step_done(st, s, "clear failures", err);
}

int store_session_list(struct store *st, int64_t account_id, store_session_fn *fn, void *ctx,
		       struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "SELECT hash, ip, client, created, last_seen FROM sessions WHERE account_id = ?"
		       " AND complete = 1 ORDER BY last_seen DESC",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		   (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3),
		   sqlite3_column_int64(s, 4));
	return db_end(st->db, s, "list sessions", err);
}

int store_session_revoke(struct store *st, int64_t account_id, const char *hash_prefix,
			 const char *keep_hash, struct err *err)
{
	sqlite3_stmt *s;
	int n;

	/* by the first 16 hex digits of the hash (what the list shows), or every session but
	 * keep_hash when hash_prefix is NULL */
	if (hash_prefix && (strlen(hash_prefix) != 16 || strspn(hash_prefix, "0123456789abcdef") != 16))
		return err_set(err, ERR_NOTFOUND, "no such session");
	if (db_prepare(st->db,
		       hash_prefix ? "DELETE FROM sessions WHERE account_id = ?1 AND substr(hash, 1, 16) = ?2"
				   : "DELETE FROM sessions WHERE account_id = ?1 AND hash != ?2",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	db_bind_text(s, 2, hash_prefix ? hash_prefix : keep_hash);
	if (store_step_done(st, s, "revoke sessions", err) < 0)
		return -1;
	n = sqlite3_changes(db_conn(st->db, NULL));
	if (hash_prefix && n == 0)
		return err_set(err, ERR_NOTFOUND, "no such session");
	return n;
}
