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
	/* secure_delete=FAST instead of SQLite's (Debian's) default ON: freed pages are not
	 * zeroed when that would cost writes of their own. For a file whose rows are large and
	 * short-lived (the queue's spool), where zeroing doubles what each message writes. */
	bool fast_delete;
};

int db_open(const char *path, const struct db_opts *opts, struct db **db_r,
	    struct err *err) YZ_WUR;
/* Close every connection. No thread may use the db afterwards; sets *dbp to NULL. */
void db_close(struct db **dbp);
/* This thread's connection, opened on first use. */
sqlite3 *db_conn(struct db *db, struct err *err);
const char *db_path(const struct db *db);
/* This thread's commits on db skip their own flush (synchronous=NORMAL on its connection):
 * they are durable with the next full commit of any thread (one WAL, flushed as a whole) or
 * the next checkpoint, and a power cut may lose them, never half of one. For writes whose loss
 * only repeats work. */
int db_relax(struct db *db, struct err *err) YZ_WUR;

/* A prepared statement on this thread's connection, from a per-connection cache keyed by the
 * SQL text. Hand it back with db_done(), never sqlite3_finalize(). */
int db_prepare(struct db *db, const char *sql, sqlite3_stmt **st_r, struct err *err) YZ_WUR;
/* Reset st and return it to the cache (or finalize it if it was not cached). NULL is a no-op. */
void db_done(struct db *db, sqlite3_stmt *st);
/* db_done() for a statement whose steps ended a loop: 0 if its last step gave SQLITE_ROW or
 * SQLITE_DONE (or it was never stepped), else -1 with err set as db_err(.., what) does. A row
 * loop `while (sqlite3_step(s) == SQLITE_ROW)` also stops on SQLITE_BUSY, IOERR, CORRUPT or a
 * function's error; ending it with db_end() keeps that from passing for the last row. st is
 * returned to the cache either way; NULL gives 0. */
int db_end(struct db *db, sqlite3_stmt *st, const char *what, struct err *err) YZ_WUR;
/* Run SQL without results (may hold several statements). */
int db_exec(struct db *db, const char *sql, struct err *err) YZ_WUR;
/* A write transaction (BEGIN IMMEDIATE) that this process's other threads wait for on a mutex
 * instead of polling SQLite's lock through the busy handler: under concurrent deliveries the
 * queue's three writers (committer, claims, results) spent thousands of 50 µs sleeps a
 * second there. Other processes still meet SQLite's lock and the busy handler. Every
 * db_begin_write() that returns 0 ends with exactly one db_commit_write() (which rolls back
 * and still ends the transaction when COMMIT fails) or db_rollback_write(). Not nested. */
int db_begin_write(struct db *db, struct err *err) YZ_WUR;
int db_commit_write(struct db *db, struct err *err) YZ_WUR;
void db_rollback_write(struct db *db);
/* Map an sqlite error on conn into err (ERR_EXISTS for constraint violations). */
int db_err(sqlite3 *conn, struct err *err, const char *what);
/* Bind a text value, or NULL when s is NULL. */
void db_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* Copy column text into out (empty string for NULL). */
void db_col_text(sqlite3_stmt *st, int col, char *out, size_t outsz);

#endif
