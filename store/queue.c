/* The mail queue (queue.h): DATA/queue.db, blobs, and the committer thread that makes
 * concurrent submissions durable together. */
#include "queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "db.h"
#include "lib/log.h"
#include "lib/util.h"

#define BATCH_MAX 256
#define BATCH_BYTES (64u << 20)

static const char *const migrations[] = {
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  qid TEXT NOT NULL UNIQUE,"
	"  blob TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  envid TEXT,"
	"  ret_full INTEGER NOT NULL DEFAULT 0,"
	"  smtputf8 INTEGER NOT NULL DEFAULT 0,"
	"  eightbit INTEGER NOT NULL DEFAULT 0,"
	"  source INTEGER NOT NULL,"
	"  client_ip TEXT NOT NULL DEFAULT '',"
	"  helo TEXT NOT NULL DEFAULT '',"
	"  auth_user TEXT,"
	"  account_id INTEGER NOT NULL DEFAULT 0,"
	"  received INTEGER NOT NULL,"
	"  junk INTEGER NOT NULL DEFAULT 0,"
	"  delay_told INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE rcpts ("
	"  id INTEGER PRIMARY KEY,"
	"  msg_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	"  rcpt TEXT NOT NULL,"
	"  orcpt TEXT,"
	"  notify INTEGER NOT NULL DEFAULT 0,"
	"  state INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL,"
	"  code INTEGER NOT NULL DEFAULT 0,"
	"  text TEXT NOT NULL DEFAULT '',"
	"  last_try INTEGER NOT NULL DEFAULT 0,"
	"  told INTEGER NOT NULL DEFAULT 0);" /* a failure DSN went out (or none is due) */
	"CREATE INDEX rcpts_due ON rcpts(next_try) WHERE state = 0;"
	"CREATE INDEX rcpts_msg ON rcpts(msg_id);"
	"CREATE INDEX rcpts_untold ON rcpts(msg_id) WHERE state = 2 AND told = 0;",
	/* 2: what each account sent when, for the messages-per-hour limit */
	"CREATE TABLE sent_log (account_id INTEGER NOT NULL, ts INTEGER NOT NULL);"
	"CREATE INDEX sent_log_account ON sent_log(account_id, ts);",
	/* 3: a worker's claim on a recipient, apart from its retry time, so a restart can
	 * drop the claims of a process that died without waiting for them to run out */
	"ALTER TABLE rcpts ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;",
	/* 4: the spool. A message up to SPOOL_MAX is kept here, in the transaction that queues
	 * it, instead of as a blob file: then accepting it costs one flush (the WAL commit,
	 * about 0.3 ms here) where a new file costs two (its data and its directory entry). It
	 * goes when the last queue message with its digest goes. */
	"CREATE TABLE spool (blob TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX messages_blob ON messages(blob);"
	"CREATE TRIGGER spool_gone AFTER DELETE ON messages"
	" WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)"
	" BEGIN DELETE FROM spool WHERE blob = OLD.blob; END;",
	/* 5: when, to the millisecond, for the delivery lag that in-flow control watches */
	"ALTER TABLE messages ADD COLUMN queued_ms INTEGER NOT NULL DEFAULT 0;",
	/* 6: the spool as a rowid table with the digest in its own index. As a WITHOUT ROWID
	 * table (4) the 30 KB body was part of the b-tree key, and SQLite reads a key's whole
	 * payload, overflow pages and all, for every comparison on the way down: each insert,
	 * read and delete by digest copied a few hundred KB (12.7 % of the daemon's CPU at 10
	 * sessions, docs/BENCHMARKS.md). Now the index holds 64-byte digests and the body is read
	 * once, by rowid. */
	"CREATE TABLE spool_new (id INTEGER PRIMARY KEY, blob TEXT NOT NULL UNIQUE,"
	"  data BLOB NOT NULL);"
	"INSERT INTO spool_new (blob, data) SELECT blob, data FROM spool;"
	"DROP TRIGGER spool_gone;"
	"DROP TABLE spool;"
	"ALTER TABLE spool_new RENAME TO spool;"
	"CREATE TRIGGER spool_gone AFTER DELETE ON messages"
	" WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)"
	" BEGIN DELETE FROM spool WHERE blob = OLD.blob; END;",
};

/* In-flow control (mta_queue_opts.inflow_delay_ms): the lag it keeps delivery under, and
 * how long a worker's report counts (a worker with nothing to do reports nothing). */
#define INFLOW_LAG_MS 200
#define INFLOW_FRESH_MS 1000

/* Larger messages are written to the blob store before they are queued: a big body would
 * make the WAL, and every checkpoint, that much larger. */
#define SPOOL_MAX (1u << 20)
/* A batch of more messages than this is written to the blob store too. The spool makes a
 * message durable with the one WAL flush its queue rows need anyway, where blob files need
 * their own flushes: two each (data and directory entry) for up to 4 of them, one syncfs()
 * for more (blob_sync()). But a spooled body is written three times (into the WAL, by the
 * checkpoint into queue.db, and as the mailbox's blob on delivery) and read back once; a
 * blob file is written once and is the mailbox's blob too. So a light stream (batches of up
 * to 4) takes the spool, where the flushes decide; a heavy one, where batches are larger and
 * the CPU decides, takes blobs and one syncfs() a batch (docs/BENCHMARKS.md, "The spool
 * only for small batches"). */
#define SPOOL_BATCH_MAX 4

struct pending {
	struct pending *next;
	const struct mta_envelope *env;
	const char *data;
	size_t len;
	mta_submit_done *done;
	void *ctx;
	char qid[MTA_QID_LEN];
	char blob[BLOB_HEX];
	bool spooled; /* in the spool table, not (yet) a blob file */
	int status;
	struct err err;
};

struct mta_queue {
	struct db *db;
	struct blob_store *blobs;
	bool own_blobs;
	struct mta_queue_opts opts;
	/* the committer */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, kicked;
	struct pending *head, **tail;
	bool stop;
	unsigned kicks;
	/* the workers' last lag report, and when in-flow control last said so (under lock) */
	int64_t lag_ms, lag_at_ms, hold_logged_ms;
};

void mta_queue_opts_default(struct mta_queue_opts *o)
{
	o->lifetime_s = 5 * 86400;
	o->delay_warn_s = 4 * 3600;
	o->inflow_delay_ms = 0;
}

/* ---- committing ---- */

static int insert_one(struct mta_queue *q, struct pending *p, int64_t now, struct err *err)
{
	const struct mta_envelope *e = p->env;
	sqlite3_stmt *s;
	int64_t id;

	if (db_prepare(q->db,
		       "INSERT INTO messages (qid, blob, size, sender, envid, ret_full, smtputf8,"
		       " eightbit, source, client_ip, helo, auth_user, account_id, received, junk,"
		       " queued_ms)"
		       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, p->qid);
	db_bind_text(s, 2, p->blob);
	sqlite3_bind_int64(s, 3, (int64_t)p->len);
	db_bind_text(s, 4, e->sender ? e->sender : "");
	db_bind_text(s, 5, e->envid);
	sqlite3_bind_int(s, 6, e->ret_full);
	sqlite3_bind_int(s, 7, e->smtputf8);
	sqlite3_bind_int(s, 8, e->eightbit);
	sqlite3_bind_int(s, 9, (int)e->source);
	db_bind_text(s, 10, e->client_ip ? e->client_ip : "");
	db_bind_text(s, 11, e->helo ? e->helo : "");
	db_bind_text(s, 12, e->auth_user);
	sqlite3_bind_int64(s, 13, e->account_id);
	sqlite3_bind_int64(s, 14, now);
	sqlite3_bind_int(s, 15, e->junk);
	sqlite3_bind_int64(s, 16, time_now_ms());
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "queue insert");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	id = sqlite3_last_insert_rowid(db_conn(q->db, NULL));
	if (e->account_id > 0 && e->source != MTA_SRC_LOCAL) {
		if (db_prepare(q->db, "INSERT INTO sent_log (account_id, ts) VALUES (?, ?)", &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, e->account_id);
		sqlite3_bind_int64(s, 2, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_err(db_conn(q->db, NULL), err, "queue sent log");
			db_done(q->db, s);
			return -1;
		}
		db_done(q->db, s);
	}
	if (p->spooled) { /* the same message queued twice shares one copy */
		if (db_prepare(q->db, "INSERT OR IGNORE INTO spool (blob, data) VALUES (?, ?)", &s,
			       err) < 0)
			return -1;
		db_bind_text(s, 1, p->blob);
		sqlite3_bind_blob64(s, 2, p->data, (sqlite3_uint64)p->len, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_err(db_conn(q->db, NULL), err, "queue spool");
			db_done(q->db, s);
			return -1;
		}
		db_done(q->db, s);
	}
	for (size_t i = 0; i < e->nrcpts; i++) {
		if (db_prepare(q->db,
			       "INSERT INTO rcpts (msg_id, rcpt, orcpt, notify, next_try) VALUES"
			       " (?, ?, ?, ?, ?)",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, id);
		db_bind_text(s, 2, e->rcpts[i].address);
		db_bind_text(s, 3, e->rcpts[i].orcpt);
		sqlite3_bind_int(s, 4, (int)e->rcpts[i].notify);
		sqlite3_bind_int64(s, 5, e->not_before > now ? e->not_before : now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_err(db_conn(q->db, NULL), err, "queue insert recipient");
			db_done(q->db, s);
			return -1;
		}
		db_done(q->db, s);
	}
	return 0;
}

/* Make a batch durable in one transaction: the messages of a small batch go into the spool
 * with their queue rows (SPOOL_BATCH_MAX, SPOOL_MAX); those of a larger batch, and larger
 * messages, are written as blobs first and share one flush. */
static void commit_batch(struct mta_queue *q, struct pending *batch)
{
	struct pending *p;
	struct err err;
	int64_t now = time_now();
	bool any = false, files = false, spool;
	size_t nbatch = 0;
	int rc = -1;

	for (p = batch; p; p = p->next)
		nbatch++;
	spool = nbatch <= SPOOL_BATCH_MAX;
	for (p = batch; p; p = p->next) {
		unsigned char r[8];
		p->status = -1;
		rand_bytes(r, sizeof(r));
		hex_encode(r, sizeof(r), p->qid);
		if (p->env->nrcpts == 0) {
			err_set(&p->err, ERR_INVALID, "no recipients");
			continue;
		}
		if (spool && p->len <= SPOOL_MAX) {
			blob_digest(p->data, p->len, p->blob);
			p->spooled = true;
		} else if (blob_put(q->blobs, p->data, p->len, 0, p->blob, &p->err) < 0) {
			continue;
		} else {
			files = true;
		}
		p->status = 0;
		any = true;
	}
	if (!any)
		goto done;
	if ((files && blob_sync(q->blobs, &err) < 0) || db_begin_write(q->db, &err) < 0)
		goto fail;
	for (p = batch; p; p = p->next)
		if (p->status == 0 && insert_one(q, p, now, &err) < 0)
			goto rollback;
	if (db_commit_write(q->db, &err) < 0)
		goto fail;
	rc = 0;
	goto done;
rollback:
	db_rollback_write(q->db);
fail:
	log_error("queue", "msg=\"batch not committed\" err=\"%s\"", err.msg);
	for (p = batch; p; p = p->next)
		if (p->status == 0) {
			p->status = -1;
			p->err = err;
		}
done:
	(void)rc;
	while (batch) {
		p = batch;
		batch = batch->next;
		p->done(p->ctx, p->status, p->status == 0 ? p->qid : NULL, &p->err);
		free(p);
	}
	if (any)
		mta_queue_kick(q);
}

/* What in-flow control watches: how long the oldest first attempt among jobs v just handed
 * to a worker waited since it was queued. A message sent with a delay (undo send) was not
 * waiting before it was due, so it does not count. */
static int64_t mono_ms(void)
{
	return (int64_t)(time_mono_ns() / 1000000u);
}

static void note_lag(struct mta_queue *q, const struct mta_job *v, size_t n)
{
	int64_t oldest = 0, now = time_now_ms();
	for (size_t i = 0; i < n; i++)
		if (v[i].attempts == 0 && v[i].queued_ms > 0 && v[i].next_try <= v[i].received + 1 &&
		    (oldest == 0 || v[i].queued_ms < oldest))
			oldest = v[i].queued_ms;
	if (oldest == 0)
		return;
	pthread_mutex_lock(&q->lock);
	q->lag_ms = now - oldest;
	q->lag_at_ms = mono_ms();
	pthread_mutex_unlock(&q->lock);
}

/* How long the committer holds back the next batch (under lock): the lag beyond
 * INFLOW_LAG_MS, at most inflow_delay_ms. The lag falls as the clients wait, and with it the
 * delay, so acceptance settles near the delivery rate instead of piling up a queue. Mail the
 * delivery workers themselves submit (forwards, list members elsewhere, vacation replies,
 * DSNs) is never held back: that would slow delivery, the very thing that is behind. */
static int64_t inflow_wait_ms(const struct mta_queue *q)
{
	int64_t over = q->lag_ms - INFLOW_LAG_MS;
	if (q->opts.inflow_delay_ms <= 0 || over <= 0 || q->stop || q->lag_at_ms == 0 ||
	    mono_ms() - q->lag_at_ms > INFLOW_FRESH_MS)
		return 0;
	for (const struct pending *p = q->head; p; p = p->next)
		if (p->env->source == MTA_SRC_LOCAL || p->env->source == MTA_SRC_BOUNCE)
			return 0;
	return over < q->opts.inflow_delay_ms ? over : q->opts.inflow_delay_ms;
}

static void *committer(void *arg)
{
	struct mta_queue *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct pending *batch, **last;
		size_t n = 0, bytes = 0;
		int64_t wait;
		while (q->head == NULL && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->head == NULL && q->stop)
			break;
		if ((wait = inflow_wait_ms(q)) > 0 &&
		    (q->hold_logged_ms == 0 || mono_ms() - q->hold_logged_ms >= 60000)) {
			q->hold_logged_ms = mono_ms(); /* a line a minute at most */
			log_info("queue", "msg=\"delivery is behind: answering accepted mail later "
					  "(in-flow control)\" lag_ms=%lld delay_ms=%lld",
				 (long long)q->lag_ms, (long long)wait);
		}
		if (wait > 0) {
			pthread_mutex_unlock(&q->lock);
			usleep((useconds_t)wait * 1000);
			pthread_mutex_lock(&q->lock);
		}
		/* take what is waiting, up to a batch: they share one flush */
		batch = q->head;
		last = &q->head;
		while (*last && n < BATCH_MAX && bytes < BATCH_BYTES) {
			bytes += (*last)->len;
			last = &(*last)->next;
			n++;
		}
		q->head = *last;
		*last = NULL;
		if (q->head == NULL)
			q->tail = &q->head;
		pthread_mutex_unlock(&q->lock);
		commit_batch(q, batch);
		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void mta_queue_submit_async(struct mta_queue *q, const struct mta_envelope *env,
			    const char *data, size_t len, mta_submit_done *done, void *ctx)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	p->env = env;
	p->data = data;
	p->len = len;
	p->done = done;
	p->ctx = ctx;
	pthread_mutex_lock(&q->lock);
	*q->tail = p;
	q->tail = &p->next;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int status;
	char qid[MTA_QID_LEN];
	struct err err;
};

static void wake(void *ctx, int status, const char *qid, const struct err *err)
{
	struct waiter *w = ctx;
	pthread_mutex_lock(&w->lock);
	w->status = status;
	if (qid)
		memcpy(w->qid, qid, MTA_QID_LEN);
	if (err)
		w->err = *err;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int mta_queue_submit(struct mta_queue *q, const struct mta_envelope *env, const char *data,
		     size_t len, char qid_r[MTA_QID_LEN], struct err *err)
{
	struct waiter w = {.status = -1};

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	mta_queue_submit_async(q, env, data, len, wake, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	if (w.status < 0) {
		if (err)
			*err = w.err;
		return -1;
	}
	memcpy(qid_r, w.qid, MTA_QID_LEN);
	return 0;
}

int mta_queue_open(const char *data_dir, const struct mta_queue_opts *o,
		   struct blob_store *blobs, struct mta_queue **q_r, struct err *err)
{
	struct db_opts dbo = {.migrations = migrations,
			      .nmigrations = (int)ARRAY_LEN(migrations),
			      .sync_full = true,
			      .create = true,
			      .fast_delete = true};
	struct mta_queue *q = xcalloc(1, sizeof(*q));
	char path[1100];

	if (o)
		q->opts = *o;
	else
		mta_queue_opts_default(&q->opts);
	snprintf(path, sizeof(path), "%s/queue.db", data_dir);
	if (db_open(path, &dbo, &q->db, err) < 0) {
		free(q);
		return -1;
	}
	if (blobs) {
		q->blobs = blobs;
	} else {
		if (blob_store_open(data_dir, &q->blobs, err) < 0) {
			db_close(&q->db);
			free(q);
			return -1;
		}
		q->own_blobs = true;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->kicked, NULL);
	q->tail = &q->head;
	if (pthread_create(&q->thread, NULL, committer, q) != 0) {
		db_close(&q->db);
		if (q->own_blobs)
			blob_store_close(&q->blobs);
		free(q);
		return err_set(err, ERR_INTERNAL, "cannot start the queue committer");
	}
	*q_r = q;
	return 0;
}

void mta_queue_close(struct mta_queue **qp)
{
	struct mta_queue *q = *qp;
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->kicked);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	db_close(&q->db);
	if (q->own_blobs)
		blob_store_close(&q->blobs);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->kicked);
	free(q);
	*qp = NULL;
}

void mta_queue_kick(struct mta_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->kicks++;
	pthread_cond_broadcast(&q->kicked);
	pthread_mutex_unlock(&q->lock);
}

unsigned mta_queue_kicks(struct mta_queue *q)
{
	unsigned k;
	pthread_mutex_lock(&q->lock);
	k = q->kicks;
	pthread_mutex_unlock(&q->lock);
	return k;
}

bool mta_queue_wait(struct mta_queue *q, unsigned seen, int timeout_ms)
{
	struct timespec ts;
	bool kicked;

	time_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&q->lock);
	while (q->kicks == seen && !q->stop)
		if (pthread_cond_timedwait(&q->kicked, &q->lock, &ts) != 0)
			break;
	kicked = q->kicks != seen;
	pthread_mutex_unlock(&q->lock);
	return kicked;
}

/* ---- delivery side ---- */

int mta_queue_relax_thread(struct mta_queue *q, struct err *err)
{
	return db_relax(q->db, err);
}

int mta_queue_body(struct mta_queue *q, const char *blob, size_t max_len, char **data_r,
		   size_t *len_r, struct err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(q->db, "SELECT data FROM spool WHERE blob = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, blob);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		const void *d = sqlite3_column_blob(s, 0);
		if (n > max_len) {
			db_done(q->db, s);
			return err_set(err, ERR_LIMIT, "queued message %.16s is larger than %zu bytes",
				       blob, max_len);
		}
		*data_r = xmalloc(n + 1);
		if (n)
			memcpy(*data_r, d, n);
		(*data_r)[n] = '\0';
		*len_r = n;
		db_done(q->db, s);
		return 0;
	}
	if (db_end(q->db, s, "read spool", err) < 0)
		return -1;
	return blob_get(q->blobs, blob, max_len, data_r, len_r, err);
}

static const char *col(sqlite3_stmt *s, int i, struct arena *a)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? arena_strdup(a, (const char *)t) : NULL;
}

int mta_queue_due(struct mta_queue *q, int64_t now, size_t max, int lease_s, struct arena *a,
		  struct mta_job **v_r, size_t *n_r, struct err *err)
{
	struct mta_job *v = arena_alloc(a, (max ? max : 1) * sizeof(*v));
	sqlite3_stmt *s;
	size_t n = 0;

	/* nothing due (the usual answer of the workers a kick wakes but another served): say so
	 * without taking the write lock the accepting side needs */
	if (db_prepare(q->db,
		       "SELECT 1 FROM rcpts WHERE state = 0 AND next_try <= ?1 AND lease_until <= ?1"
		       " LIMIT 1",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	int any = sqlite3_step(s);
	if (db_end(q->db, s, "look for due recipients", err) < 0)
		return -1;
	if (any != SQLITE_ROW) {
		*v_r = v;
		*n_r = 0;
		return 0;
	}
	/* claim by pushing next_try out by the lease, in the same transaction */
	if (db_begin_write(q->db, err) < 0)
		return -1;
	if (db_prepare(q->db,
		       "UPDATE rcpts SET lease_until = ?1 + ?2 WHERE id IN (SELECT id FROM rcpts"
		       " WHERE state = 0 AND next_try <= ?1 AND lease_until <= ?1"
		       " ORDER BY next_try, id LIMIT ?3) RETURNING id",
		       &s, err) < 0)
		goto fail;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, lease_s);
	sqlite3_bind_int64(s, 3, (int64_t)max);
	while (n < max && sqlite3_step(s) == SQLITE_ROW)
		v[n++].rcpt_id = sqlite3_column_int64(s, 0);
	if (db_end(q->db, s, "claim recipients", err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (db_prepare(q->db,
			       "SELECT m.qid, m.sender, r.rcpt, r.orcpt, m.envid, r.notify, m.ret_full,"
			       " m.blob, m.size, m.received, r.attempts, m.source, m.account_id, m.junk,"
			       " m.queued_ms, r.next_try FROM rcpts r JOIN messages m ON m.id = r.msg_id"
			       " WHERE r.id = ?",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, v[i].rcpt_id);
		if (sqlite3_step(s) == SQLITE_ROW) {
			db_col_text(s, 0, v[i].qid, sizeof(v[i].qid));
			v[i].sender = col(s, 1, a);
			v[i].rcpt = col(s, 2, a);
			v[i].orcpt = col(s, 3, a);
			v[i].envid = col(s, 4, a);
			v[i].notify = (unsigned)sqlite3_column_int(s, 5);
			v[i].ret_full = sqlite3_column_int(s, 6) != 0;
			db_col_text(s, 7, v[i].blob, sizeof(v[i].blob));
			v[i].size = sqlite3_column_int64(s, 8);
			v[i].received = sqlite3_column_int64(s, 9);
			v[i].attempts = sqlite3_column_int64(s, 10);
			v[i].source = (enum mta_source)sqlite3_column_int(s, 11);
			v[i].account_id = sqlite3_column_int64(s, 12);
			v[i].junk = sqlite3_column_int(s, 13) != 0;
			v[i].queued_ms = sqlite3_column_int64(s, 14);
			v[i].next_try = sqlite3_column_int64(s, 15);
		}
		if (db_end(q->db, s, "load job", err) < 0)
			goto fail;
	}
	if (db_commit_write(q->db, err) < 0)
		return -1;
	note_lag(q, v, n);
	*v_r = v;
	*n_r = n;
	return 0;
fail:
	db_rollback_write(q->db);
	return -1;
}

/* Minutes until the next try after this many attempts: 1, 5, 15, 30, 60, 120, 240, then
 * every 8 hours (as Postfix's backoff, but earlier first retries). */
static int64_t backoff_s(int64_t attempts)
{
	static const int64_t steps[] = {60, 300, 900, 1800, 3600, 7200, 14400};
	if (attempts <= 0)
		return steps[0];
	if ((size_t)attempts <= ARRAY_LEN(steps))
		return steps[attempts - 1];
	return 8 * 3600;
}

int mta_queue_result(struct mta_queue *q, int64_t rcpt_id, enum mta_outcome o, int code,
		     const char *text, struct err *err)
{
	sqlite3_stmt *s;
	int64_t now = time_now(), attempts = 0, received = now;
	enum mta_rcpt_state state = MTA_QUEUED;
	int64_t next;

	if (db_prepare(q->db,
		       "SELECT r.attempts, m.received FROM rcpts r JOIN messages m ON m.id = r.msg_id"
		       " WHERE r.id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, rcpt_id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		attempts = sqlite3_column_int64(s, 0) + 1;
		received = sqlite3_column_int64(s, 1);
	}
	/* guessing would reset the attempts and the age the backoff and lifetime go by */
	if (db_end(q->db, s, "queue result", err) < 0)
		return -1;
	next = now + backoff_s(attempts);
	if (o == MTA_OK)
		state = MTA_DELIVERED;
	else if (o == MTA_PERMFAIL)
		state = MTA_FAILED;
	else if (next - received > q->opts.lifetime_s) {
		/* out of time: this temporary failure is the last */
		state = MTA_FAILED;
		text = text && *text ? text : "no delivery within the queue lifetime";
	}
	if (db_prepare(q->db,
		       "UPDATE rcpts SET state = ?, attempts = ?, next_try = ?, code = ?, text = ?,"
		       " last_try = ?, lease_until = 0 WHERE id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int(s, 1, (int)state);
	sqlite3_bind_int64(s, 2, attempts);
	sqlite3_bind_int64(s, 3, state == MTA_QUEUED ? next : 0);
	sqlite3_bind_int(s, 4, code);
	db_bind_text(s, 5, text ? text : "");
	sqlite3_bind_int64(s, 6, now);
	sqlite3_bind_int64(s, 7, rcpt_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "queue result");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	return 0;
}

/* ---- DSN bookkeeping ---- */

static int load_dsn_rcpts(struct mta_queue *q, struct mta_dsn_job *j, bool delay, struct arena *a,
			  struct err *err)
{
	sqlite3_stmt *s;
	size_t cap = 8;

	j->rcpts = arena_alloc(a, cap * sizeof(*j->rcpts));
	j->nrcpts = 0;
	/* failures not yet told whose NOTIFY wants them; for a delay warning the still-queued
	 * ones whose NOTIFY wants delays */
	if (db_prepare(q->db,
		       delay ? "SELECT rcpt, orcpt, state, code, text, last_try, notify FROM rcpts"
			       " WHERE msg_id = ? AND state = 0 AND attempts > 0"
			     : "SELECT rcpt, orcpt, state, code, text, last_try, notify FROM rcpts"
			       " WHERE msg_id = ? AND (state = 2 OR (state = 1 AND (notify & 1) != 0))"
			       " AND told = 0",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, j->msg_id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		unsigned notify = (unsigned)sqlite3_column_int(s, 6);
		if (notify & MTA_NOTIFY_NEVER)
			continue;
		if (!delay && sqlite3_column_int(s, 2) == MTA_DELIVERED) {
			/* a success report only where NOTIFY=SUCCESS asked for it (RFC 3461 4.1) */
			if (!(notify & MTA_NOTIFY_SUCCESS))
				continue;
		} else if (notify && !(notify & (delay ? MTA_NOTIFY_DELAY : MTA_NOTIFY_FAILURE))) {
			continue;
		}
		if (j->nrcpts == cap) {
			struct mta_dsn_rcpt *nv = arena_alloc(a, 2 * cap * sizeof(*nv));
			memcpy(nv, j->rcpts, cap * sizeof(*nv));
			j->rcpts = nv;
			cap *= 2;
		}
		j->rcpts[j->nrcpts++] = (struct mta_dsn_rcpt){
			.rcpt = col(s, 0, a),
			.orcpt = col(s, 1, a),
			.state = (enum mta_rcpt_state)sqlite3_column_int(s, 2),
			.code = sqlite3_column_int(s, 3),
			.text = col(s, 4, a),
			.last_try = sqlite3_column_int64(s, 5),
		};
	}
	return db_end(q->db, s, "dsn recipients", err);
}

int mta_queue_dsn_due(struct mta_queue *q, int64_t now, int64_t delay_warn_s, size_t max,
		      struct arena *a, struct mta_dsn_job **v_r, size_t *n_r, struct err *err)
{
	struct mta_dsn_job *v = arena_alloc(a, (max ? max : 1) * sizeof(*v));
	sqlite3_stmt *s;
	size_t n = 0;

	/* failures to tell, then delays to warn of (once per message) */
	for (int pass = 0; pass < 2 && n < max; pass++) {
		if (db_prepare(q->db,
			       pass == 0 ? "SELECT DISTINCT m.id, m.qid, m.sender, m.envid, m.ret_full,"
					   " m.blob, m.received FROM messages m JOIN rcpts r ON"
					   " r.msg_id = m.id WHERE (r.state = 2 OR (r.state = 1 AND"
					   " (r.notify & 1) != 0)) AND r.told = 0 LIMIT ?"
					 : "SELECT DISTINCT m.id, m.qid, m.sender, m.envid, m.ret_full,"
					   " m.blob, m.received FROM messages m JOIN rcpts r ON"
					   " r.msg_id = m.id WHERE r.state = 0 AND m.delay_told = 0"
					   " AND r.attempts > 0 AND m.received <= ? LIMIT ?",
			       &s, err) < 0)
			return -1;
		if (pass == 0) {
			sqlite3_bind_int64(s, 1, (int64_t)(max - n));
		} else {
			sqlite3_bind_int64(s, 1, now - delay_warn_s);
			sqlite3_bind_int64(s, 2, (int64_t)(max - n));
		}
		while (n < max && sqlite3_step(s) == SQLITE_ROW) {
			struct mta_dsn_job *j = &v[n++];
			j->msg_id = sqlite3_column_int64(s, 0);
			db_col_text(s, 1, j->qid, sizeof(j->qid));
			j->sender = col(s, 2, a);
			j->envid = col(s, 3, a);
			j->ret_full = sqlite3_column_int(s, 4) != 0;
			db_col_text(s, 5, j->blob, sizeof(j->blob));
			j->received = sqlite3_column_int64(s, 6);
			j->delay = pass == 1;
		}
		if (db_end(q->db, s, "dsn due", err) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (load_dsn_rcpts(q, &v[i], v[i].delay, a, err) < 0)
			return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

int mta_queue_dsn_sent(struct mta_queue *q, int64_t msg_id, bool delay, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(q->db,
		       delay ? "UPDATE messages SET delay_told = 1 WHERE id = ?"
			     : "UPDATE rcpts SET told = 1 WHERE msg_id = ? AND state IN (1, 2)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, msg_id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "dsn sent");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	return 0;
}

int mta_queue_cleanup(struct mta_queue *q, struct err *err)
{
	sqlite3_stmt *s;
	if (db_exec(q->db,
		    "DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM rcpts r WHERE"
		    " r.msg_id = messages.id AND (r.state IN (0, 3) OR ((r.state = 2 OR"
		    " (r.state = 1 AND (r.notify & 1) != 0)) AND r.told = 0)))",
		    err) < 0 ||
	    db_prepare(q->db, "DELETE FROM sent_log WHERE ts < ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, time_now() - 86400);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "queue cleanup");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	return 0;
}

int mta_queue_sent_since(struct mta_queue *q, int64_t account_id, int64_t since, int64_t *n_r,
			 struct err *err)
{
	sqlite3_stmt *s;
	int64_t n;

	if (db_prepare(q->db, "SELECT count(*) FROM sent_log WHERE account_id = ? AND ts >= ?", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, since);
	n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	if (db_end(q->db, s, "sent count", err) < 0)
		return -1;
	*n_r = n;
	return 0;
}

int mta_queue_cancel(struct mta_queue *q, const char *qid, int64_t account_id, struct err *err)
{
	sqlite3_stmt *s;
	int64_t now = time_now();
	int n;

	/* only while nothing was tried yet (the undo window): the message never left */
	if (db_prepare(q->db,
		       "DELETE FROM messages WHERE qid = ?1 AND account_id = ?2 AND NOT EXISTS"
		       " (SELECT 1 FROM rcpts r WHERE r.msg_id = messages.id AND (r.attempts > 0 OR"
		       " r.state != 0 OR r.next_try <= ?3))",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, qid);
	sqlite3_bind_int64(s, 2, account_id);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "queue cancel");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	n = sqlite3_changes(db_conn(q->db, NULL));
	if (n == 0)
		return err_set(err, ERR_EXISTS, "too late: the message is already on its way");
	return 0;
}

/* ---- administration ---- */

static int load_entry(struct mta_queue *q, sqlite3_stmt *m, struct arena *a,
		      struct mta_queue_entry *e, int64_t *id_r, struct err *err)
{
	sqlite3_stmt *s;
	size_t cap = 4;

	memset(e, 0, sizeof(*e));
	*id_r = sqlite3_column_int64(m, 0);
	db_col_text(m, 1, e->qid, sizeof(e->qid));
	e->sender = col(m, 2, a);
	e->size = sqlite3_column_int64(m, 3);
	e->received = sqlite3_column_int64(m, 4);
	e->source = (enum mta_source)sqlite3_column_int(m, 5);
	e->rcpts = arena_alloc(a, cap * sizeof(*e->rcpts));
	if (db_prepare(q->db,
		       "SELECT rcpt, state, attempts, next_try, code, text FROM rcpts WHERE msg_id = ?"
		       " ORDER BY id",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, *id_r);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (e->nrcpts == cap) {
			struct mta_queue_rcpt *nv = arena_alloc(a, 2 * cap * sizeof(*nv));
			memcpy(nv, e->rcpts, cap * sizeof(*nv));
			e->rcpts = nv;
			cap *= 2;
		}
		e->rcpts[e->nrcpts++] = (struct mta_queue_rcpt){
			.rcpt = col(s, 0, a),
			.state = (enum mta_rcpt_state)sqlite3_column_int(s, 1),
			.attempts = sqlite3_column_int64(s, 2),
			.next_try = sqlite3_column_int64(s, 3),
			.code = sqlite3_column_int(s, 4),
			.text = col(s, 5, a),
		};
	}
	return db_end(q->db, s, "queue recipients", err);
}

int mta_queue_list(struct mta_queue *q, bool all, struct arena *a, mta_queue_each_fn *fn,
		   void *ctx, struct err *err)
{
	int64_t after = 0;
	for (;;) {
		sqlite3_stmt *s;
		struct mta_queue_entry e;
		int64_t id;
		int r = 0, found = 0;
		if (db_prepare(q->db,
			       all ? "SELECT id, qid, sender, size, received, source FROM messages"
				     " WHERE id > ? ORDER BY id LIMIT 1"
				   : "SELECT id, qid, sender, size, received, source FROM messages m"
				     " WHERE id > ? AND EXISTS (SELECT 1 FROM rcpts r WHERE r.msg_id ="
				     " m.id AND r.state IN (0, 3)) ORDER BY id LIMIT 1",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, after);
		if (sqlite3_step(s) == SQLITE_ROW) {
			found = 1;
			r = load_entry(q, s, a, &e, &id, err);
		}
		if (r < 0) {
			db_done(q->db, s);
			return -1;
		}
		if (db_end(q->db, s, "queue list", err) < 0)
			return -1;
		if (!found)
			return 0;
		after = id;
		if ((r = fn(ctx, &e)) != 0)
			return r;
	}
}

int mta_queue_show(struct mta_queue *q, const char *qid, struct arena *a,
		   struct mta_queue_entry *e_r, struct err *err)
{
	sqlite3_stmt *s;
	int64_t id;
	int r;

	if (db_prepare(q->db,
		       "SELECT id, qid, sender, size, received, source FROM messages WHERE qid = ?",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, qid);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(q->db, s, "queue show", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no queued message %.32s", qid);
	}
	r = load_entry(q, s, a, e_r, &id, err);
	db_done(q->db, s);
	return r;
}

static int by_qid(struct mta_queue *q, const char *sql, const char *qid, int64_t arg,
		  struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(q->db, sql, &s, err) < 0)
		return -1;
	db_bind_text(s, 1, qid);
	sqlite3_bind_int64(s, 2, arg);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(q->db, NULL), err, "queue");
		db_done(q->db, s);
		return -1;
	}
	db_done(q->db, s);
	if (sqlite3_changes(db_conn(q->db, NULL)) == 0)
		return err_set(err, ERR_NOTFOUND, "no queued message %.32s with such recipients",
			       qid);
	return 0;
}

int mta_queue_retry(struct mta_queue *q, const char *qid, struct err *err)
{
	if (by_qid(q,
		   "UPDATE rcpts SET next_try = ?2 WHERE state = 0 AND msg_id = (SELECT id FROM"
		   " messages WHERE qid = ?1)",
		   qid, time_now(), err) < 0)
		return -1;
	mta_queue_kick(q);
	return 0;
}

int mta_queue_hold(struct mta_queue *q, const char *qid, bool hold, struct err *err)
{
	if (hold)
		return by_qid(q,
			      "UPDATE rcpts SET state = 3 WHERE state = 0 AND msg_id = (SELECT id"
			      " FROM messages WHERE qid = ?1) AND ?2 = ?2",
			      qid, 0, err);
	if (by_qid(q,
		   "UPDATE rcpts SET state = 0, next_try = ?2 WHERE state = 3 AND msg_id = (SELECT"
		   " id FROM messages WHERE qid = ?1)",
		   qid, time_now(), err) < 0)
		return -1;
	mta_queue_kick(q);
	return 0;
}

int mta_queue_delete(struct mta_queue *q, const char *qid, struct err *err)
{
	return by_qid(q, "DELETE FROM messages WHERE qid = ?1 AND ?2 = ?2", qid, 0, err);
}

int mta_queue_results(struct mta_queue *q, const struct mta_result *v, size_t n,
		      struct err *err)
{
	if (db_begin_write(q->db, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (mta_queue_result(q, v[i].rcpt_id, v[i].outcome, v[i].code, v[i].text, err) < 0) {
			db_rollback_write(q->db);
			return -1;
		}
	}
	return db_commit_write(q->db, err);
}

int mta_queue_release_leases(struct mta_queue *q, struct err *err)
{
	return db_exec(q->db, "UPDATE rcpts SET lease_until = 0 WHERE lease_until != 0", err);
}

int mta_queue_mark_blobs(struct mta_queue *q, struct blob_marks *marks, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(q->db, "SELECT DISTINCT blob FROM messages", &s, err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		blob_marks_add(marks, (const char *)sqlite3_column_text(s, 0));
	/* a short mark set would let the sweep delete blobs still queued */
	return db_end(q->db, s, "mark blobs", err);
}
