/* Mail routing and settings in directory.db: aliases, groups and lists, forwarding and
 * vacation, app passwords, DKIM keys. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

/* ---- aliases ---- */

int store_alias_add(struct store *st, const char *alias, int64_t account_id, bool can_send,
		    struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	if (store_address_normalise(alias, a, sizeof(a), err) < 0)
		return -1;
	if (!store_domain_exists(st, strrchr(a, '@') + 1))
		return err_set(err, ERR_INVALID, "%s is not a hosted domain", strrchr(a, '@') + 1);
	{
		struct store_account acct;
		if (store_account_get(st, a, &acct, NULL) == 0)
			return err_set(err, ERR_EXISTS, "%s is an account", a);
	}
	if (db_prepare(st->db,
		       "INSERT INTO aliases (address, account_id, can_send, created) VALUES (?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	sqlite3_bind_int64(s, 2, account_id);
	sqlite3_bind_int(s, 3, can_send);
	sqlite3_bind_int64(s, 4, time_now());
	if (store_step_done(st, s, "add alias", err) < 0) {
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "alias %s already exists", a);
		return -1;
	}
	return 0;
}

int store_alias_delete(struct store *st, const char *alias, struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	if (store_address_normalise(alias, a, sizeof(a), err) < 0)
		return -1;
	if (db_prepare(st->db, "DELETE FROM aliases WHERE address = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	if (store_step_done(st, s, "delete alias", err) < 0)
		return -1;
	if (sqlite3_changes(db_conn(st->db, NULL)) == 0)
		return err_set(err, ERR_NOTFOUND, "no alias %s", a);
	return 0;
}

int store_alias_list(struct store *st, store_alias_fn *fn, void *ctx, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "SELECT l.address, a.address, l.can_send FROM aliases l JOIN accounts a ON"
		       " a.id = l.account_id ORDER BY l.address",
		       &s, err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		   sqlite3_column_int(s, 2) != 0);
	return db_end(st->db, s, "list aliases", err);
}

/* ---- lists ---- */

int store_list_add(struct store *st, const char *address, const char *name, bool group,
		   struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;
	struct store_account acct;

	if (store_address_normalise(address, a, sizeof(a), err) < 0)
		return -1;
	if (!store_domain_exists(st, strrchr(a, '@') + 1))
		return err_set(err, ERR_INVALID, "%s is not a hosted domain", strrchr(a, '@') + 1);
	if (store_account_get(st, a, &acct, NULL) == 0)
		return err_set(err, ERR_EXISTS, "%s is an account", a);
	if (db_prepare(st->db, "INSERT INTO lists (address, name, kind, created) VALUES (?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	db_bind_text(s, 2, name ? name : "");
	db_bind_text(s, 3, group ? "group" : "list");
	sqlite3_bind_int64(s, 4, time_now());
	if (store_step_done(st, s, "add list", err) < 0) {
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "list %s already exists", a);
		return -1;
	}
	return 0;
}

static int list_id(struct store *st, const char *address, int64_t *id_r, struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	if (store_address_normalise(address, a, sizeof(a), err) < 0)
		return -1;
	if (db_prepare(st->db, "SELECT id FROM lists WHERE address = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "find list", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no list %s", a);
	}
	*id_r = sqlite3_column_int64(s, 0);
	db_done(st->db, s);
	return 0;
}

int store_list_member(struct store *st, const char *list, const char *member, bool add,
		      struct err *err)
{
	char m[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;
	int64_t id;

	if (list_id(st, list, &id, err) < 0 || store_address_normalise(member, m, sizeof(m), err) < 0)
		return -1;
	if (db_prepare(st->db,
		       add ? "INSERT OR IGNORE INTO list_members (list_id, member) VALUES (?, ?)"
			   : "DELETE FROM list_members WHERE list_id = ? AND member = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	db_bind_text(s, 2, m);
	if (store_step_done(st, s, "list member", err) < 0)
		return -1;
	if (!add && sqlite3_changes(db_conn(st->db, NULL)) == 0)
		return err_set(err, ERR_NOTFOUND, "%s is not on %s", m, list);
	return 0;
}

int store_list_members(struct store *st, const char *list, store_member_fn *fn, void *ctx,
		       struct err *err)
{
	sqlite3_stmt *s;
	int64_t id;
	int r = 0;

	if (list_id(st, list, &id, err) < 0)
		return -1;
	if (db_prepare(st->db, "SELECT member FROM list_members WHERE list_id = ? ORDER BY member",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	while (r == 0 && sqlite3_step(s) == SQLITE_ROW)
		r = fn(ctx, (const char *)sqlite3_column_text(s, 0));
	if (r < 0) {
		db_done(st->db, s);
		return -1;
	}
	return db_end(st->db, s, "list members", err);
}

int store_lists_each(struct store *st, store_list_fn *fn, void *ctx, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "SELECT address, name, kind, (SELECT count(*) FROM list_members m WHERE"
		       " m.list_id = lists.id) FROM lists ORDER BY address",
		       &s, err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(ctx, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
		   strcmp((const char *)sqlite3_column_text(s, 2), "group") == 0,
		   sqlite3_column_int64(s, 3));
	return db_end(st->db, s, "list lists", err);
}

/* ---- lookups for routing ---- */

int store_rcpt_lookup(struct store *st, const char *address, struct store_rcpt *out,
		      struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	memset(out, 0, sizeof(*out));
	if (store_address_normalise(address, a, sizeof(a), err) < 0)
		return -1;
	if (db_prepare(st->db,
		       "SELECT 1, id, disabled, role FROM accounts WHERE address = ?1"
		       " UNION ALL SELECT 2, l.account_id, a.disabled, a.role FROM aliases l JOIN"
		       " accounts a ON a.id = l.account_id WHERE l.address = ?1"
		       " UNION ALL SELECT 3, id, 0, '' FROM lists WHERE address = ?1 LIMIT 1",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	if (sqlite3_step(s) == SQLITE_ROW) {
		out->kind = (enum store_rcpt_kind)sqlite3_column_int(s, 0);
		out->id = sqlite3_column_int64(s, 1);
		out->disabled = sqlite3_column_int(s, 2) != 0;
		out->is_admin = sqlite3_column_text(s, 3) &&
				strcmp((const char *)sqlite3_column_text(s, 3), "user") != 0 &&
				out->kind != STORE_RCPT_LIST;
	}
	/* an error is not "nobody here": that would refuse mail for good */
	return db_end(st->db, s, "recipient lookup", err);
}

bool store_alias_can_send(struct store *st, const char *address, int64_t account_id)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;
	struct err e;
	bool ok = false;

	if (store_address_normalise(address, a, sizeof(a), NULL) < 0 ||
	    db_prepare(st->db,
		       "SELECT 1 FROM aliases WHERE address = ? AND account_id = ? AND can_send = 1",
		       &s, NULL) < 0)
		return false;
	db_bind_text(s, 1, a);
	sqlite3_bind_int64(s, 2, account_id);
	ok = sqlite3_step(s) == SQLITE_ROW;
	if (db_end(st->db, s, "alias can send", &e) < 0)
		log_warn("store", "account=%lld error=\"%s\"", (long long)account_id, e.msg);
	return ok;
}

/* ---- mail settings ---- */

int store_mail_settings_get(struct store *st, int64_t account_id, struct store_mail_settings *o,
			    struct err *err)
{
	sqlite3_stmt *s;

	memset(o, 0, sizeof(*o));
	o->forward_keep = true;
	o->vacation_period = 7 * 86400;
	if (db_prepare(st->db,
		       "SELECT forward_to, forward_keep, vacation_on, vacation_subject, vacation_body,"
		       " vacation_start, vacation_end, vacation_period, require_app_password FROM"
		       " mail_settings WHERE account_id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		db_col_text(s, 0, o->forward_to, sizeof(o->forward_to));
		o->forward_keep = sqlite3_column_int(s, 1) != 0;
		o->vacation_on = sqlite3_column_int(s, 2) != 0;
		db_col_text(s, 3, o->vacation_subject, sizeof(o->vacation_subject));
		db_col_text(s, 4, o->vacation_body, sizeof(o->vacation_body));
		o->vacation_start = sqlite3_column_int64(s, 5);
		o->vacation_end = sqlite3_column_int64(s, 6);
		o->vacation_period = sqlite3_column_int64(s, 7);
		o->require_app_password = sqlite3_column_int(s, 8) != 0;
	}
	/* the defaults in *o are no answer: they would drop require_app_password */
	return db_end(st->db, s, "mail settings", err);
}

int store_mail_settings_set(struct store *st, int64_t account_id,
			    const struct store_mail_settings *o, struct err *err)
{
	sqlite3_stmt *s;

	if (*o->forward_to) {
		char a[STORE_ADDR_MAX + 1];
		if (store_address_normalise(o->forward_to, a, sizeof(a), err) < 0)
			return -1;
	}
	if (db_prepare(st->db,
		       "INSERT INTO mail_settings (account_id, forward_to, forward_keep, vacation_on,"
		       " vacation_subject, vacation_body, vacation_start, vacation_end,"
		       " vacation_period, require_app_password) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
		       " ?8, ?9, ?10) ON CONFLICT (account_id) DO UPDATE SET forward_to = ?2,"
		       " forward_keep = ?3, vacation_on = ?4, vacation_subject = ?5,"
		       " vacation_body = ?6, vacation_start = ?7, vacation_end = ?8,"
		       " vacation_period = ?9, require_app_password = ?10",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	db_bind_text(s, 2, o->forward_to);
	sqlite3_bind_int(s, 3, o->forward_keep);
	sqlite3_bind_int(s, 4, o->vacation_on);
	db_bind_text(s, 5, o->vacation_subject);
	db_bind_text(s, 6, o->vacation_body);
	sqlite3_bind_int64(s, 7, o->vacation_start);
	sqlite3_bind_int64(s, 8, o->vacation_end);
	sqlite3_bind_int64(s, 9, o->vacation_period > 0 ? o->vacation_period : 7 * 86400);
	sqlite3_bind_int(s, 10, o->require_app_password);
	return store_step_done(st, s, "mail settings", err);
}

int store_vacation_claim(struct store *st, int64_t account_id, const char *sender, int64_t now,
			 int64_t period, bool *reply_r, struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	*reply_r = false;
	if (store_address_normalise(sender, a, sizeof(a), err) < 0)
		return -1;
	/* one reply per sender per period: an upsert that only moves sent_at when it is old */
	if (db_prepare(st->db,
		       "INSERT INTO vacation_sent (account_id, sender, sent_at) VALUES (?1, ?2, ?3)"
		       " ON CONFLICT (account_id, sender) DO UPDATE SET sent_at = ?3 WHERE"
		       " sent_at <= ?3 - ?4",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	db_bind_text(s, 2, a);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int64(s, 4, period);
	if (store_step_done(st, s, "vacation", err) < 0)
		return -1;
	*reply_r = sqlite3_changes(db_conn(st->db, NULL)) > 0;
	return 0;
}

/* ---- app passwords ---- */

int store_apppw_add(struct store *st, int64_t account_id, const char *name, char password_r[33],
		    unsigned iterations, int64_t *id_r, struct err *err)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
	unsigned char r[16];
	struct scram_secret sec;
	char text[512];
	sqlite3_stmt *s;

	if (name == NULL || *name == '\0' || strlen(name) > 64)
		return err_set(err, ERR_INVALID, "an app password needs a name of 1 to 64 bytes");
	/* 16 characters of 32: 80 bits, easy to type on a phone */
	rand_bytes(r, sizeof(r));
	for (size_t i = 0; i < 16; i++)
		password_r[i] = alphabet[r[i] & 31];
	password_r[16] = '\0';
	scram_secret_make(password_r, 16, iterations, &sec);
	scram_secret_format(&sec, text, sizeof(text));
	if (db_prepare(st->db,
		       "INSERT INTO app_passwords (account_id, name, secret, created) VALUES (?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	db_bind_text(s, 2, name);
	db_bind_text(s, 3, text);
	sqlite3_bind_int64(s, 4, time_now());
	if (store_step_done(st, s, "add app password", err) < 0)
		return -1;
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(db_conn(st->db, NULL));
	return 0;
}

int store_apppw_list(struct store *st, int64_t account_id, store_apppw_fn *fn, void *ctx,
		     struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "SELECT id, name, created, last_used FROM app_passwords WHERE account_id = ?"
		       " ORDER BY id",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
		   sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3));
	return db_end(st->db, s, "list app passwords", err);
}

int store_apppw_revoke(struct store *st, int64_t account_id, int64_t id, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "DELETE FROM app_passwords WHERE id = ? AND account_id = ?", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, account_id);
	if (store_step_done(st, s, "revoke app password", err) < 0)
		return -1;
	if (sqlite3_changes(db_conn(st->db, NULL)) == 0)
		return err_set(err, ERR_NOTFOUND, "no app password %lld", (long long)id);
	return 0;
}

int store_apppw_secrets(struct store *st, int64_t account_id, struct store_apppw_secret *v,
			size_t max, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s;
	size_t n = 0;

	if (db_prepare(st->db, "SELECT id, secret FROM app_passwords WHERE account_id = ? LIMIT ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		v[n].id = sqlite3_column_int64(s, 0);
		if (scram_secret_parse((const char *)sqlite3_column_text(s, 1), &v[n].secret, NULL) ==
		    0)
			n++;
	}
	if (db_end(st->db, s, "app password secrets", err) < 0)
		return -1;
	*n_r = n;
	return 0;
}

int store_apppw_used(struct store *st, int64_t id, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "UPDATE app_passwords SET last_used = ? WHERE id = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, time_now());
	sqlite3_bind_int64(s, 2, id);
	return store_step_done(st, s, "app password used", err);
}

/* ---- DKIM keys ---- */

int store_dkim_set(struct store *st, const char *domain, const char *selector,
		   const char *key_pem, struct err *err)
{
	sqlite3_stmt *s;
	if (!store_domain_exists(st, domain))
		return err_set(err, ERR_NOTFOUND, "%s is not a hosted domain", domain);
	if (db_prepare(st->db,
		       "INSERT INTO dkim_keys (domain, selector, key_pem, created) VALUES (?1, ?2, ?3,"
		       " ?4) ON CONFLICT (domain) DO UPDATE SET selector = ?2, key_pem = ?3,"
		       " created = ?4",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, domain);
	db_bind_text(s, 2, selector);
	db_bind_text(s, 3, key_pem);
	sqlite3_bind_int64(s, 4, time_now());
	return store_step_done(st, s, "dkim key", err);
}

int store_dkim_get(struct store *st, const char *domain, char *selector, size_t selsz,
		   char **key_pem_r, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "SELECT selector, key_pem FROM dkim_keys WHERE domain = ?", &s, err) <
	    0)
		return -1;
	db_bind_text(s, 1, domain);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "dkim key", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no DKIM key for %s", domain);
	}
	db_col_text(s, 0, selector, selsz);
	*key_pem_r = xstrdup((const char *)sqlite3_column_text(s, 1));
	db_done(st->db, s);
	return 0;
}
