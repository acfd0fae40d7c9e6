#include "db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define DB_BUSY_TIMEOUT_MS 10000
/* Reads come straight from the page cache through a shared mapping instead of a pread() copy
 * of every page into SQLite's own per-connection cache (2 MB, too small for a large mailbox's
 * mail.db, so an IMAP SELECT of 10,000 messages read most of its pages again each time). */
#define DB_MMAP_BYTES (256 * 1024 * 1024)

/* Prepared statements are cached per connection: compiling one costs far more than running
 * the short queries the store makes (docs/BENCHMARKS.md measured 39 % of a session lookup in
 * sqlite3_prepare_v2). Keyed by the SQL text; a statement already in use (a nested call with
 * the same SQL) gets a fresh uncached one that db_done() finalizes. */
#define STMT_CACHE 96

struct stmt_slot {
	const char *sql; /* the caller's string; compared by content */
	sqlite3_stmt *st;
	bool busy;
};

struct conn_node {
	struct conn_node *next;
	sqlite3 *conn;
	struct stmt_slot slots[STMT_CACHE];
	int nslots;
};

struct db {
	char *path;
	bool sync_full, fast_delete;
	pthread_key_t key;
	pthread_mutex_t lock; /* guards conns */
	struct conn_node *conns;
	pthread_mutex_t wlock; /* db_begin_write() .. db_commit_write() / db_rollback_write() */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	/* Nothing reads sqlite3_memory_used(); the statistics take a global mutex on every
	 * allocation, which serialises all threads (docs/BENCHMARKS.md). Must precede
	 * sqlite3_initialize(); harmless (SQLITE_MISUSE) if something initialised it already. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Waiting for another connection's write lock. SQLite's own handler sleeps 1, 2, 5, 10, 15,
 * 20, 25 ... ms between tries, so a lock held for a millisecond by another thread costs the
 * waiter several: under concurrent deliveries that was most of each delivery's time
 * (docs/BENCHMARKS.md, SMTP). Short sleeps first, longer ones once the wait is long, up to
 * DB_BUSY_TIMEOUT_MS in all. */
static int busy_wait(void *ctx, int count)
{
	int64_t waited_us;
	(void)ctx;
	if (count < 40)
		waited_us = (int64_t)count * 50;
	else if (count < 200)
		waited_us = 2000 + (int64_t)(count - 40) * 250;
	else
		waited_us = 42000 + (int64_t)(count - 200) * 2000;
	if (waited_us >= (int64_t)DB_BUSY_TIMEOUT_MS * 1000)
		return 0;
	usleep(count < 40 ? 50 : count < 200 ? 250 : 2000);
	return 1;
}

static int configure(sqlite3 *c, bool sync_full, bool fast_delete, struct err *err)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=%s;"
		 "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=%d;%s",
		 sync_full ? "FULL" : "NORMAL", DB_MMAP_BYTES,
		 fast_delete ? " PRAGMA secure_delete=FAST;" : "");
	sqlite3_busy_handler(c, busy_wait, NULL);
	if (sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(c, err, "configure");
	return 0;
}

static int open_conn(const char *path, bool create, bool sync_full, bool fast_delete,
		     sqlite3 **c_r, struct err *err)
{
	sqlite3 *c = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	pthread_once(&global_once, global_init);
	if (sqlite3_open_v2(path, &c, flags, NULL) != SQLITE_OK) {
		err_set(err, ERR_IO, "%s: %s", path, c ? sqlite3_errmsg(c) : "cannot open");
		sqlite3_close(c);
		return -1;
	}
	if (configure(c, sync_full, fast_delete, err) < 0) {
		sqlite3_close(c);
		return -1;
	}
	*c_r = c;
	return 0;
}

int db_relax(struct db *db, struct err *err)
{
	sqlite3 *c = db_conn(db, err);
	if (c == NULL)
		return -1;
	if (sqlite3_exec(c, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(c, err, "relax");
	return 0;
}

static int user_version(sqlite3 *c, int *v_r, struct err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_err(c, err, "user_version");
	/* an unread version is not 0: that would run every migration again */
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_err(c, err, "user_version");
		sqlite3_finalize(st);
		return -1;
	}
	*v_r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int migrate(sqlite3 *c, const struct db_opts *o, const char *path, struct err *err)
{
	int version;

	if (user_version(c, &version, err) < 0)
		return -1;
	if (version > o->nmigrations)
		return err_set(err, ERR_INVALID,
			       "%s: schema version %d is newer than this yizhan (%d)", path,
			       version, o->nmigrations);
	while (version < o->nmigrations) {
		char sql[64];
		if (sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return db_err(c, err, "begin migration");
		/* read again under the write lock: another thread or process may have migrated
		 * since (two openers of a new database race here) */
		if (user_version(c, &version, err) < 0) {
			sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (version >= o->nmigrations) {
			sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
			break;
		}
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", version + 1);
		if (sqlite3_exec(c, o->migrations[version], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK) {
			db_err(c, err, "migration");
			sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (sqlite3_exec(c, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return db_err(c, err, "commit migration");
		version++;
		log_debug("db", "path=%s migrated_to=%d", path, version);
	}
	return 0;
}

static void conn_destroy(void *p)
{
	(void)p; /* connections are closed by db_close(), which knows them all */
}

int db_open(const char *path, const struct db_opts *opts, struct db **db_r, struct err *err)
{
	struct db *db;
	sqlite3 *c;

	if (open_conn(path, opts->create, opts->sync_full, opts->fast_delete, &c, err) < 0)
		return -1;
	if (migrate(c, opts, path, err) < 0) {
		sqlite3_close(c);
		return -1;
	}
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	db->sync_full = opts->sync_full;
	db->fast_delete = opts->fast_delete;
	pthread_mutex_init(&db->lock, NULL);
	pthread_mutex_init(&db->wlock, NULL);
	if (pthread_key_create(&db->key, conn_destroy) != 0)
		ASSERT(!"pthread_key_create");
	db->conns = xcalloc(1, sizeof(*db->conns));
	db->conns->conn = c;
	pthread_setspecific(db->key, db->conns);
	*db_r = db;
	return 0;
}

void db_close(struct db **dbp)
{
	struct db *db = *dbp;
	if (db == NULL)
		return;
	while (db->conns) {
		struct conn_node *n = db->conns;
		db->conns = n->next;
		for (int i = 0; i < n->nslots; i++)
			sqlite3_finalize(n->slots[i].st);
		sqlite3_close_v2(n->conn);
		free(n);
	}
	pthread_key_delete(db->key);
	pthread_mutex_destroy(&db->lock);
	pthread_mutex_destroy(&db->wlock);
	free(db->path);
	free(db);
	*dbp = NULL;
}

static struct conn_node *thread_node(struct db *db, struct err *err)
{
	struct conn_node *n = pthread_getspecific(db->key);
	sqlite3 *c;

	if (n != NULL)
		return n;
	if (open_conn(db->path, false, db->sync_full, db->fast_delete, &c, err) < 0)
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->conn = c;
	pthread_mutex_lock(&db->lock);
	n->next = db->conns;
	db->conns = n;
	pthread_mutex_unlock(&db->lock);
	pthread_setspecific(db->key, n);
	return n;
}

sqlite3 *db_conn(struct db *db, struct err *err)
{
	struct conn_node *n = thread_node(db, err);
	return n ? n->conn : NULL;
}

const char *db_path(const struct db *db)
{
	return db->path;
}

int db_prepare(struct db *db, const char *sql, sqlite3_stmt **st_r, struct err *err)
{
	struct conn_node *n = thread_node(db, err);
	struct stmt_slot *slot;
	sqlite3_stmt *st;

	if (n == NULL)
		return -1;
	for (int i = 0; i < n->nslots; i++) {
		slot = &n->slots[i];
		if (!slot->busy && (slot->sql == sql || strcmp(slot->sql, sql) == 0)) {
			slot->busy = true;
			*st_r = slot->st;
			return 0;
		}
	}
	if (sqlite3_prepare_v3(n->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
	    SQLITE_OK)
		return db_err(n->conn, err, "prepare");
	if (n->nslots < STMT_CACHE) {
		/* sqlite3_sql() is owned by the statement and lives as long as it does */
		slot = &n->slots[n->nslots++];
		slot->sql = sqlite3_sql(st);
		slot->st = st;
		slot->busy = true;
	}
	*st_r = st;
	return 0;
}

void db_done(struct db *db, sqlite3_stmt *st)
{
	struct conn_node *n;

	if (st == NULL)
		return;
	n = pthread_getspecific(db->key);
	for (int i = 0; n != NULL && i < n->nslots; i++) {
		if (n->slots[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			n->slots[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

int db_end(struct db *db, sqlite3_stmt *st, const char *what, struct err *err)
{
	int rc;

	if (st == NULL)
		return 0;
	/* sqlite3_reset() returns what the last step failed with, SQLITE_OK after ROW or DONE,
	 * and leaves that error's code and message on the connection for db_err() */
	rc = sqlite3_reset(st);
	if (rc != SQLITE_OK)
		db_err(sqlite3_db_handle(st), err, what);
	db_done(db, st);
	return rc == SQLITE_OK ? 0 : -1;
}

int db_exec(struct db *db, const char *sql, struct err *err)
{
	sqlite3 *c = db_conn(db, err);
	if (c == NULL)
		return -1;
	if (sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(c, err, "exec");
	return 0;
}

int db_begin_write(struct db *db, struct err *err)
{
	pthread_mutex_lock(&db->wlock);
	if (db_exec(db, "BEGIN IMMEDIATE", err) < 0) {
		pthread_mutex_unlock(&db->wlock);
		return -1;
	}
	return 0;
}

static void rollback_open(struct db *db)
{
	sqlite3 *c = db_conn(db, NULL);
	if (c && !sqlite3_get_autocommit(c))
		sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
}

int db_commit_write(struct db *db, struct err *err)
{
	int rc = db_exec(db, "COMMIT", err);
	if (rc < 0)
		rollback_open(db);
	pthread_mutex_unlock(&db->wlock);
	return rc;
}

void db_rollback_write(struct db *db)
{
	rollback_open(db);
	pthread_mutex_unlock(&db->wlock);
}

int db_err(sqlite3 *conn, struct err *err, const char *what)
{
	int code = sqlite3_extended_errcode(conn);
	enum err_code ec = ERR_IO;
	if ((code & 0xff) == SQLITE_CONSTRAINT)
		ec = ERR_EXISTS;
	else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		ec = ERR_LIMIT;
	return err_set(err, ec, "%s: %s", what, sqlite3_errmsg(conn));
}

void db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

void db_col_text(sqlite3_stmt *st, int col, char *out, size_t outsz)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(out, outsz, "%s", t ? (const char *)t : "");
}
