/* Accounts: one role each, SCRAM secrets only, TOTP keys. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <stringprep.h>

#include "lib/utf8.h"
#include "lib/util.h"

int store_address_normalise(const char *in, char *out, size_t outsz, struct err *err)
{
	size_t n = strlen(in);
	const char *at = strrchr(in, '@');

	if (n == 0 || n > STORE_ADDR_MAX || n >= outsz)
		return err_set(err, ERR_INVALID, "address must be 1 to %d bytes", STORE_ADDR_MAX);
	if (!utf8_valid(in, n))
		return err_set(err, ERR_INVALID, "address is not valid UTF-8");
	if (at == NULL || at == in || at[1] == '\0' || at - in > 64)
		return err_set(err, ERR_INVALID, "'%.64s' is not an address like name@domain", in);
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"' ||
		    c == '\\' || c == '(' || c == ')' || c == ';' || c == ':' ||
		    (c == '@' && p != at))
			return err_set(err, ERR_INVALID, "address contains a forbidden character");
	}
	memcpy(out, in, n + 1);
	str_lower(out);
	return 0;
}

int store_read_account(sqlite3_stmt *s, int b, struct store_account *a, struct err *err)
{
	char secret[256], role[16];
	const void *key;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(s, b + 0);
	a->domain_id = sqlite3_column_int64(s, b + 1);
	db_col_text(s, b + 2, a->address, sizeof(a->address));
	db_col_text(s, b + 3, a->domain, sizeof(a->domain));
	db_col_text(s, b + 4, a->name, sizeof(a->name));
	db_col_text(s, b + 5, role, sizeof(role));
	a->role = role_parse(role);
	a->disabled = sqlite3_column_int(s, b + 6) != 0;
	db_col_text(s, b + 7, a->lang, sizeof(a->lang));
	db_col_text(s, b + 8, secret, sizeof(secret));
	key = sqlite3_column_blob(s, b + 9);
	if (key != NULL && sqlite3_column_bytes(s, b + 9) == STORE_TOTP_KEY) {
		a->totp_enabled = true;
		memcpy(a->totp_key, key, STORE_TOTP_KEY);
	}
	a->totp_last_step = sqlite3_column_int64(s, b + 10);
	a->class_id = sqlite3_column_int64(s, b + 11);
	a->created = sqlite3_column_int64(s, b + 12);
	if (scram_secret_parse(secret, &a->secret, err) < 0)
		return err_set(err, ERR_INTERNAL, "account %s: stored secret is damaged", a->address);
	return 0;
}

static int get_one(struct store *st, const char *where, const char *text, int64_t num,
		   struct store_account *out, struct err *err)
{
	char sql[512];
	sqlite3_stmt *s;
	int ret;

	snprintf(sql, sizeof(sql),
		 "SELECT " ACCOUNT_COLS " FROM accounts a JOIN domains d ON d.id = a.domain_id "
		 "WHERE %s",
		 where);
	if (db_prepare(st->db, sql, &s, err) < 0)
		return -1;
	if (text)
		db_bind_text(s, 1, text);
	else
		sqlite3_bind_int64(s, 1, num);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "get account", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no account %s", text ? text : "with that id");
	}
	ret = store_read_account(s, 0, out, err);
	db_done(st->db, s);
	return ret;
}

int store_account_get(struct store *st, const char *address, struct store_account *out,
		      struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	if (store_address_normalise(address, a, sizeof(a), err) < 0)
		return err_set(err, ERR_NOTFOUND, "no account %.64s", address);
	return get_one(st, "a.address = ?", a, 0, out, err);
}

int store_account_get_id(struct store *st, int64_t id, struct store_account *out,
			 struct err *err)
{
	return get_one(st, "a.id = ?", NULL, id, out, err);
}

void store_password_prep(const char *password, char *out, size_t outsz)
{
	char *prepped = NULL;
	if (stringprep_profile(password, &prepped, "SASLprep", 0) == STRINGPREP_OK &&
	    strlen(prepped) < outsz)
		snprintf(out, outsz, "%s", prepped);
	else
		snprintf(out, outsz, "%s", password);
	free(prepped);
}

/* The SCRAM secret for a password, after SASLprep. */
static void make_secret(const char *password, unsigned iterations, char *out, size_t outsz)
{
	struct scram_secret sec;
	char prepped[4096];
	store_password_prep(password, prepped, sizeof(prepped));
	scram_secret_make(prepped, strlen(prepped), iterations, &sec);
	scram_secret_format(&sec, out, outsz);
	memset(prepped, 0, sizeof(prepped));
}

static int check_password(const char *pw, struct err *err)
{
	size_t n = strlen(pw);
	if (n < 8 || n > 1024)
		return err_set(err, ERR_INVALID, "password must be 8 to 1024 bytes");
	return 0;
}

int store_account_add(struct store *st, const char *address, const char *name, enum role role,
		      const char *password, unsigned iterations, int64_t *id_r, struct err *err)
{
	char a[STORE_ADDR_MAX + 1], secret[256];
	sqlite3_stmt *s;
	const char *domain;

	if (store_address_normalise(address, a, sizeof(a), err) < 0 || check_password(password, err) < 0)
		return -1;
	if (role == 0)
		return err_set(err, ERR_INVALID, "unknown role");
	if (name && strlen(name) > STORE_NAME_MAX)
		return err_set(err, ERR_INVALID, "name longer than %d bytes", STORE_NAME_MAX);
	domain = strrchr(a, '@') + 1;
	if (!store_domain_exists(st, domain))
		return err_set(err, ERR_NOTFOUND, "domain %s does not exist (add it first)", domain);
	make_secret(password, iterations, secret, sizeof(secret));
	if (db_prepare(st->db,
		       "INSERT INTO accounts (domain_id, address, name, role, secret, created) "
		       "SELECT id, ?, ?, ?, ?, ? FROM domains WHERE name = ?",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, a);
	db_bind_text(s, 2, name ? name : "");
	db_bind_text(s, 3, role_name(role));
	db_bind_text(s, 4, secret);
	sqlite3_bind_int64(s, 5, time_now());
	db_bind_text(s, 6, domain);
	if (store_step_done(st, s, "add account", err) < 0) {
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "account %s already exists", a);
		return -1;
	}
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(db_conn(st->db, NULL));
	return 0;
}

/* Run an UPDATE with (text/int64 value, address) and require exactly one changed row. */
static int update_one(struct store *st, const char *sql, const char *text, int64_t num,
		      const char *address, struct err *err)
{
	char a[STORE_ADDR_MAX + 1];
	sqlite3_stmt *s;

	if (store_address_normalise(address, a, sizeof(a), err) < 0)
		return -1;
	if (db_prepare(st->db, sql, &s, err) < 0)
		return -1;
	if (text)
		db_bind_text(s, 1, text);
	else
		sqlite3_bind_int64(s, 1, num);
	db_bind_text(s, 2, a);
	if (store_step_done(st, s, "update account", err) < 0)
		return -1;
	if (sqlite3_changes(db_conn(st->db, NULL)) != 1)
		return err_set(err, ERR_NOTFOUND, "no account %s", a);
	return 0;
}

int store_account_set_password(struct store *st, const char *address, const char *password,
			       unsigned iterations, struct err *err)
{
	char secret[256];
	if (check_password(password, err) < 0)
		return -1;
	make_secret(password, iterations, secret, sizeof(secret));
	return update_one(st, "UPDATE accounts SET secret = ? WHERE address = ?", secret, 0,
			  address, err);
}

int store_account_set_disabled(struct store *st, const char *address, bool disabled,
			       struct err *err)
{
	return update_one(st, "UPDATE accounts SET disabled = ? WHERE address = ?", NULL,
			  disabled ? 1 : 0, address, err);
}

int store_account_list(struct store *st, const char *domain, store_account_fn *fn, void *ctx,
		       struct err *err)
{
	sqlite3_stmt *s;
	struct store_account a;

	if (db_prepare(st->db,
		       "SELECT " ACCOUNT_COLS " FROM accounts a JOIN domains d ON d.id = a.domain_id"
		       " WHERE ?1 IS NULL OR d.name = ?1 ORDER BY a.address",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, domain);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (store_read_account(s, 0, &a, err) < 0) {
			db_done(st->db, s);
			return -1;
		}
		fn(ctx, &a);
	}
	return db_end(st->db, s, "list accounts", err);
}

int store_account_totp_set(struct store *st, int64_t id, const unsigned char *key,
			   struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "UPDATE accounts SET totp_key = ?, totp_last_step = 0 WHERE id = ?",
		       &s, err) < 0)
		return -1;
	if (key)
		sqlite3_bind_blob(s, 1, key, STORE_TOTP_KEY, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_int64(s, 2, id);
	return store_step_done(st, s, "set totp", err);
}

int store_account_totp_use(struct store *st, int64_t id, int64_t step, struct err *err)
{
	sqlite3_stmt *s;
	/* compare-and-set: concurrent uses of one code cannot both win */
	if (db_prepare(st->db,
		       "UPDATE accounts SET totp_last_step = ?1 WHERE id = ?2 AND totp_last_step < ?1",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, step);
	sqlite3_bind_int64(s, 2, id);
	if (store_step_done(st, s, "use totp", err) < 0)
		return -1;
	if (sqlite3_changes(db_conn(st->db, NULL)) != 1)
		return err_set(err, ERR_EXISTS, "code already used");
	return 0;
}

int store_account_limits(struct store *st, int64_t account_id, struct store_limits *out,
			 struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "SELECT c.quota_bytes, c.max_message_bytes, c.max_recipients FROM accounts a"
		       " JOIN service_classes c ON c.id = a.class_id WHERE a.id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "account limits", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no account with that id");
	}
	out->quota_bytes = sqlite3_column_int64(s, 0);
	out->max_message_bytes = sqlite3_column_int64(s, 1);
	out->max_recipients = sqlite3_column_int64(s, 2);
	db_done(st->db, s);
	return 0;
}

int store_account_set_profile(struct store *st, int64_t id, const char *name, const char *lang,
			      struct err *err)
{
	sqlite3_stmt *s;

	if (name && (strlen(name) > STORE_NAME_MAX || !utf8_valid(name, strlen(name))))
		return err_set(err, ERR_INVALID, "a name is valid UTF-8 of at most %d bytes",
			       STORE_NAME_MAX);
	if (lang && strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en") != 0)
		return err_set(err, ERR_INVALID, "language is zh-CN or en");
	if (db_prepare(st->db,
		       "UPDATE accounts SET name = coalesce(?, name), lang = coalesce(?, lang)"
		       " WHERE id = ?",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, name);
	db_bind_text(s, 2, lang);
	sqlite3_bind_int64(s, 3, id);
	return store_step_done(st, s, "set profile", err);
}

int store_account_set_secret(struct store *st, int64_t id, const struct scram_secret *sec,
			     struct err *err)
{
	char text[512];
	sqlite3_stmt *s;

	scram_secret_format(sec, text, sizeof(text));
	if (db_prepare(st->db, "UPDATE accounts SET secret = ? WHERE id = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, text);
	sqlite3_bind_int64(s, 2, id);
	return store_step_done(st, s, "set secret", err);
}
