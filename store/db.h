/* db.h: SQLite databases with versioned migrations and one connection per thread.
 * Only store/ includes this (and sqlite3.h). */
#ifndef YZ_DB_H
#define YZ_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "lib/err.h"

struct db;

/* Migration i (0-based) brings the schema from user_version i to i+1; each runs in one
 * transaction. */
struct db_opts {
	const char *const *migrations;
	int nmigrations;
	bool sync_full; /* synchronous=FULL: commits acknowledge outside input */
	bool create;    /* create the file if missing */
};

int db_open(const char *path, const struct db_opts *opts, struct db **db_r,
	    struct err *err) YZ_WUR;
/* Close every connection. No thread may use the db afterwards; sets *dbp to NULL. */
void db_close(struct db **dbp);
/* This thread's connection, opened on first use. */
sqlite3 *db_conn(struct db *db, struct err *err);
const char *db_path(const struct db *db);

/* A prepared statement on this thread's connection, from a per-connection cache keyed by the
 * SQL text. Hand it back with db_done(), never sqlite3_finalize(). */
int db_prepare(struct db *db, const char *sql, sqlite3_stmt **st_r, struct err *err) YZ_WUR;
/* Reset st and return it to the cache (or finalize it if it was not cached). NULL is a no-op. */
void db_done(struct db *db, sqlite3_stmt *st);
/* Run SQL without results (may hold several statements). */
int db_exec(struct db *db, const char *sql, struct err *err) YZ_WUR;
/* Map an sqlite error on conn into err (ERR_EXISTS for constraint violations). */
int db_err(sqlite3 *conn, struct err *err, const char *what);
/* Bind a text value, or NULL when s is NULL. */
void db_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* Copy column text into out (empty string for NULL). */
void db_col_text(sqlite3_stmt *st, int col, char *out, size_t outsz);

#endif
