/* Unit tests for store/queue.h on a real queue.db in a mkdtemp() directory: in-flow control
 * (the committer answers later while delivery is behind) and the spool's migration to a rowid
 * table. The rest of the queue is covered through the daemon by the proto suites (test_smtp,
 * test_delivery, test_smtp_crash). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "store/blob.h"
#include "store/queue.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static const struct mta_rcpt rcpt = {.address = "bob@example.test"};
static const char msg[] = "From: a@example.test\r\nSubject: in-flow\r\n\r\nhello\r\n";

/* Milliseconds one submission took. */
static int64_t submit_src_ms(struct mta_queue *q, int64_t not_before, enum mta_source src)
{
	struct mta_envelope env = {.sender = "a@example.test", .rcpts = &rcpt, .nrcpts = 1,
				   .source = src, .not_before = not_before};
	char qid[MTA_QID_LEN];
	struct err err;
	int64_t t0 = time_now_ms();
	assert_int_equal(mta_queue_submit(q, &env, msg, sizeof(msg) - 1, qid, &err), 0);
	return time_now_ms() - t0;
}

static int64_t submit_ms(struct mta_queue *q, int64_t not_before)
{
	return submit_src_ms(q, not_before, MTA_SRC_INBOUND);
}

/* Claim what is due, as a delivery worker does; returns how many. */
static size_t claim(struct mta_queue *q)
{
	struct arena *a = arena_new();
	struct mta_job *v;
	size_t n;
	struct err err;
	assert_int_equal(mta_queue_due(q, time_now(), 32, 600, a, &v, &n, &err), 0);
	arena_free(&a);
	return n;
}

static void open_queue(char *dir, int64_t inflow_ms, struct mta_queue **q)
{
	struct mta_queue_opts o;
	struct err err;
	mta_queue_opts_default(&o);
	o.inflow_delay_ms = inflow_ms;
	strcpy(dir, "/tmp/yz-queue-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mta_queue_open(dir, &o, NULL, q, &err), 0);
}

static void close_queue(char *dir, struct mta_queue **q)
{
	mta_queue_close(q);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_inflow_control(void **state)
{
	(void)state;
	char dir[64];
	struct mta_queue *q;
	int64_t ms;

	open_queue(dir, 500, &q);
	assert_true(submit_ms(q, 0) < 250); /* nothing known about delivery: at once */
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1); /* it waited 800 ms for a worker: 600 over the lag kept */
	ms = submit_ms(q, 0);
	print_message("submission while delivery is 800 ms behind: %lld ms\n", (long long)ms);
	assert_true(ms >= 400);  /* held back, by at most inflow_delay_ms (500) */
	assert_true(ms < 2000);
	assert_int_equal(claim(q), 1); /* taken at once: delivery caught up */
	assert_true(submit_ms(q, 0) < 250);
	/* what delivery itself sends (a forward, a DSN) is never held back */
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_src_ms(q, 0, MTA_SRC_LOCAL) < 250);
	assert_true(submit_src_ms(q, 0, MTA_SRC_BOUNCE) < 250);
	assert_true(submit_ms(q, 0) >= 400);
	close_queue(dir, &q);

	/* turned off */
	open_queue(dir, 0, &q);
	assert_true(submit_ms(q, 0) < 250);
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_ms(q, 0) < 250);
	close_queue(dir, &q);
}

/* A message sent with a delay (undo send) was not waiting for delivery before it was due. */
static void test_inflow_ignores_delayed_sends(void **state)
{
	(void)state;
	char dir[64];
	struct mta_queue *q;

	open_queue(dir, 500, &q);
	assert_true(submit_ms(q, time_now() + 2) < 250);
	assert_int_equal(claim(q), 0);
	usleep(3100 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_ms(q, 0) < 250);
	close_queue(dir, &q);
}

static void sql(sqlite3 *db, const char *q)
{
	char *e = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", q, e ? e : "?");
}

static int64_t sql_int(sqlite3 *db, const char *q)
{
	sqlite3_stmt *s;
	int64_t v;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A queue.db of schema 5 kept its spool as a WITHOUT ROWID table. Opening it moves the queued
 * bodies into the rowid table whole; they still read back, and still go with their message. */
static void test_spool_migration(void **state)
{
	(void)state;
	char dir[64], path[128], digest[BLOB_HEX], *body = NULL;
	struct mta_queue *q;
	sqlite3 *db;
	size_t len = 0;
	struct err err;

	open_queue(dir, 0, &q);
	submit_ms(q, 0);
	submit_ms(q, 0); /* the same bytes twice: two queue messages, one spooled copy */
	mta_queue_close(&q);
	blob_digest(msg, sizeof(msg) - 1, digest);

	/* back to schema 5: the spool as migration 4 made it */
	snprintf(path, sizeof(path), "%s/queue.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sql(db, "BEGIN;"
		"CREATE TABLE spool_old (blob TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
		"INSERT INTO spool_old SELECT blob, data FROM spool;"
		"DROP TRIGGER spool_gone; DROP TABLE spool;"
		"ALTER TABLE spool_old RENAME TO spool;"
		"CREATE TRIGGER spool_gone AFTER DELETE ON messages"
		" WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)"
		" BEGIN DELETE FROM spool WHERE blob = OLD.blob; END;"
		"PRAGMA user_version = 5; COMMIT;");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'spool'"
				     " AND sql LIKE '%WITHOUT ROWID%'"), 1);
	sqlite3_close(db);

	assert_int_equal(mta_queue_open(dir, NULL, NULL, &q, &err), 0);
	assert_int_equal(mta_queue_body(q, digest, 1 << 20, &body, &len, &err), 0);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_memory_equal(body, msg, len);
	free(body);
	mta_queue_close(&q);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 6);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'spool'"
				     " AND sql LIKE '%WITHOUT ROWID%'"), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM spool"), 1);
	/* the copy stays while one message needs it and goes with the last (the trigger) */
	sql(db, "DELETE FROM messages WHERE id = (SELECT min(id) FROM messages)");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM spool"), 1);
	sql(db, "DELETE FROM messages");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM spool"), 0);
	sqlite3_close(db);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The committer's batches: a single message goes to the spool; when more than 4 wait together
 * they are written as blob files (one syncfs()) and not spooled. Every body reads back either
 * way, and each blob file holds what its name says. */
struct async_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, failed;
};

static void on_done(void *ctx, int status, const char *qid, const struct err *err)
{
	struct async_done *d = ctx;
	(void)qid, (void)err;
	pthread_mutex_lock(&d->lock);
	d->done++;
	d->failed += status != 0;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void test_batch_to_blobs(void **state)
{
	(void)state;
	enum { N = 40 };
	struct mta_envelope env = {.sender = "a@example.test", .rcpts = &rcpt, .nrcpts = 1,
				   .source = MTA_SRC_INBOUND};
	struct async_done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	char dir[64], path[128], *bodies[N], digest[BLOB_HEX], *body;
	struct blob_store *bs;
	struct mta_queue *q;
	struct mta_queue_opts o;
	struct err err;
	size_t len;
	sqlite3 *db;
	int files = 0, spooled;

	strcpy(dir, "/tmp/yz-queue-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	mta_queue_opts_default(&o);
	assert_int_equal(mta_queue_open(dir, &o, bs, &q, &err), 0);
	/* one alone: spooled */
	submit_ms(q, 0);
	/* many at once: the committer takes the first that came and then the rest together */
	for (int i = 0; i < N; i++) {
		bodies[i] = xstrdup(msg);
		bodies[i] = xrealloc(bodies[i], sizeof(msg) + 16);
		snprintf(bodies[i] + sizeof(msg) - 1, 17, "%d\r\n", i);
		mta_queue_submit_async(q, &env, bodies[i], strlen(bodies[i]), on_done, &d);
	}
	pthread_mutex_lock(&d.lock);
	while (d.done < N)
		pthread_cond_wait(&d.cond, &d.lock);
	pthread_mutex_unlock(&d.lock);
	assert_int_equal(d.failed, 0);
	for (int i = 0; i < N; i++) {
		struct stat sb;
		blob_digest(bodies[i], strlen(bodies[i]), digest);
		assert_int_equal(mta_queue_body(q, digest, 1 << 20, &body, &len, &err), 0);
		assert_int_equal(len, strlen(bodies[i]));
		assert_memory_equal(body, bodies[i], len);
		free(body);
		blob_path(bs, digest, path, sizeof(path));
		if (stat(path, &sb) == 0) {
			files++;
			assert_int_equal(blob_verify(bs, digest, &err), 0);
		}
		free(bodies[i]);
	}
	mta_queue_close(&q);
	blob_store_close(&bs);
	snprintf(path, sizeof(path), "%s/queue.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	spooled = sql_int(db, "SELECT count(*) FROM spool");
	sqlite3_close(db);
	/* each body is in exactly one place; 40 that waited together are mostly blobs */
	assert_int_equal(spooled + files, N + 1);
	assert_true(files > 4);
	assert_true(spooled >= 1);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflow_control),
		cmocka_unit_test(test_inflow_ignores_delayed_sends),
		cmocka_unit_test(test_spool_migration),
		cmocka_unit_test(test_batch_to_blobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
