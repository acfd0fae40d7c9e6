/* API tokens for OA systems (DESIGN.md section 5): bearer, scoped, per application. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

#define TOKEN_PREFIX "yz_"
#define TOUCH_INTERVAL 3600

static bool scopes_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > STORE_SCOPES_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '.' || *s == '_' ||
		      (*s == ' ' && s[1] != ' ')))
			return false;
	return true;
}

bool store_scope_has(const char *scopes, const char *scope)
{
	size_t n = strlen(scope);
	for (const char *p = scopes; p && *p;) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		if (len == n && memcmp(p, scope, n) == 0)
			return true;
		p = sp ? sp + 1 : NULL;
	}
	return false;
}

int store_token_add(struct store *st, int64_t account_id, const char *name, const char *scopes,
		    char *token_out, int64_t *id_r, struct err *err)
{
	char hex[65], token[STORE_TOKEN_LEN + 1], hash[65];
	sqlite3_stmt *s;

	if (name == NULL || *name == '\0' || strlen(name) > STORE_NAME_MAX)
		return err_set(err, ERR_INVALID, "a token needs a name of 1 to %d bytes",
			       STORE_NAME_MAX);
	if (!scopes_ok(scopes))
		return err_set(err, ERR_INVALID, "scopes are names like mail.send, space-separated");
	rand_hex(hex, 32);
	snprintf(token, sizeof(token), TOKEN_PREFIX "%s", hex);
	store_session_hash(token, hash);
	if (db_prepare(st->db,
		       "INSERT INTO api_tokens (account_id, name, scopes, hash, created)"
		       " VALUES (?, ?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	db_bind_text(s, 2, name);
	db_bind_text(s, 3, scopes);
	db_bind_text(s, 4, hash);
	sqlite3_bind_int64(s, 5, time_now());
	if (store_step_done(st, s, "add token", err) < 0)
		return -1;
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(db_conn(st->db, NULL));
	memcpy(token_out, token, sizeof(token));
	return 0;
}

static void read_token(sqlite3_stmt *s, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	t->account_id = sqlite3_column_int64(s, 1);
	db_col_text(s, 2, t->name, sizeof(t->name));
	db_col_text(s, 3, t->scopes, sizeof(t->scopes));
	t->created = sqlite3_column_int64(s, 4);
	t->last_used = sqlite3_column_int64(s, 5);
	t->revoked = sqlite3_column_int(s, 6) != 0;
}

#define TOKEN_COLS "id, account_id, name, scopes, created, last_used, revoked"

int store_token_get(struct store *st, const char *token, struct store_token *out,
		    struct err *err)
{
	char hash[65];
	sqlite3_stmt *s;
	int64_t now = time_now();

	if (strlen(token) != STORE_TOKEN_LEN || !str_has_prefix(token, TOKEN_PREFIX))
		return err_set(err, ERR_NOTFOUND, "no such token");
	store_session_hash(token, hash);
	if (db_prepare(st->db, "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, hash);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "get token", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no such token");
	}
	read_token(s, out);
	db_done(st->db, s);
	if (out->revoked)
		return err_set(err, ERR_NOTFOUND, "token revoked");
	if (now - out->last_used >= TOUCH_INTERVAL) {
		if (db_prepare(st->db, "UPDATE api_tokens SET last_used = ? WHERE id = ?", &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, now);
		sqlite3_bind_int64(s, 2, out->id);
		if (store_step_done(st, s, "touch token", err) < 0)
			return -1;
	}
	return 0;
}

int store_token_list(struct store *st, int64_t account_id, store_token_fn *fn, void *ctx,
		     struct err *err)
{
	sqlite3_stmt *s;
	struct store_token t;
	if (db_prepare(st->db,
		       "SELECT " TOKEN_COLS " FROM api_tokens WHERE ?1 = 0 OR account_id = ?1"
		       " ORDER BY id",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		read_token(s, &t);
		fn(ctx, &t);
	}
	return db_end(st->db, s, "list tokens", err);
}

int store_token_revoke(struct store *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND revoked = 0", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (store_step_done(st, s, "revoke token", err) < 0)
		return -1;
	if (sqlite3_changes(db_conn(st->db, NULL)) != 1)
		return err_set(err, ERR_NOTFOUND, "no live token %lld", (long long)id);
	return 0;
}
