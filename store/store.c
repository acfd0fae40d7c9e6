/* directory.db: open, domains, settings. */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

int store_open(const char *data_dir, bool create, struct store **st_r, struct err *err)
{
	char path[1100];
	struct db_opts o = {
		.migrations = store_migrations,
		.nmigrations = store_nmigrations,
		.sync_full = true,
		.create = create,
	};
	struct store *st;
	struct db *db;

	snprintf(path, sizeof(path), "%s/directory.db", data_dir);
	if (db_open(path, &o, &db, err) < 0)
		return -1;
	st = xcalloc(1, sizeof(*st));
	st->db = db;
	*st_r = st;
	return 0;
}

void store_close(struct store **stp)
{
	if (*stp == NULL)
		return;
	db_close(&(*stp)->db);
	free(*stp);
	*stp = NULL;
}

int store_step_done(struct store *st, sqlite3_stmt *s, const char *what, struct err *err)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_err(db_conn(st->db, NULL), err, what);
		db_done(st->db, s);
		return -1;
	}
	db_done(st->db, s);
	return 0;
}

static bool valid_domain(const char *d)
{
	size_t n = strlen(d), label = 0;
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.' || d[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c == '-' && label == 0)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int store_domain_add(struct store *st, const char *name, int64_t *id_r, struct err *err)
{
	char d[256];
	sqlite3_stmt *s;

	if (strlen(name) >= sizeof(d))
		return err_set(err, ERR_INVALID, "domain name too long");
	snprintf(d, sizeof(d), "%s", name);
	str_lower(d);
	if (!valid_domain(d))
		return err_set(err, ERR_INVALID, "'%s' is not a valid domain name", name);
	if (db_prepare(st->db, "INSERT INTO domains (name, created) VALUES (?, ?)", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, d);
	sqlite3_bind_int64(s, 2, time_now());
	if (store_step_done(st, s, "add domain", err) < 0) {
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "domain %s already exists", d);
		return -1;
	}
	if (id_r)
		*id_r = sqlite3_last_insert_rowid(db_conn(st->db, NULL));
	return 0;
}

int store_domain_list(struct store *st, store_domain_fn *fn, void *ctx, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "SELECT id, name, created FROM domains ORDER BY name", &s, err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		fn(ctx, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
		   sqlite3_column_int64(s, 2));
	return db_end(st->db, s, "list domains", err);
}

int store_domain_lookup(struct store *st, const char *name, bool *found_r, struct err *err)
{
	sqlite3_stmt *s;
	*found_r = false;
	if (db_prepare(st->db, "SELECT 1 FROM domains WHERE name = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, name);
	*found_r = sqlite3_step(s) == SQLITE_ROW;
	return db_end(st->db, s, "domain lookup", err);
}

bool store_domain_exists(struct store *st, const char *name)
{
	struct err e;
	bool found;
	if (store_domain_lookup(st, name, &found, &e) < 0) {
		log_warn("store", "domain=\"%.200s\" error=\"%s\"", name, e.msg);
		return false;
	}
	return found;
}

int store_setting_get(struct store *st, const char *key, char *out, size_t outsz,
		      struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db, "SELECT value FROM settings WHERE key = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(st->db, s, "get setting", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no setting %s", key);
	}
	db_col_text(s, 0, out, outsz);
	db_done(st->db, s);
	return 0;
}

int store_setting_set(struct store *st, const char *key, const char *value, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(st->db,
		       "INSERT INTO settings (key, value) VALUES (?, ?) "
		       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	db_bind_text(s, 2, value);
	return store_step_done(st, s, "set setting", err);
}
