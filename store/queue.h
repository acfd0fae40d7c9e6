/* queue.h: the mail queue (DATA/queue.db + blobs). Everything that arrives (SMTP inbound,
 * submission, the web and API send) and everything that leaves goes through it.
 *
 * "Accepted" means durable: the message and its queue rows are committed (synchronous=FULL)
 * before mta_queue_submit() returns 0, and only then may a server say 250. A message up to
 * 1 MiB is kept in queue.db itself (the spool) until it leaves the queue, so that costs one
 * flush; a larger one is written to the blob store and flushed first. Submissions arriving together are committed together (group commit): concurrent
 * callers are batched by a committer thread so that one file-system flush and one SQLite
 * commit serve all of them.
 *
 * Delivery is at-least-once: a recipient is marked delivered only after its delivery
 * succeeded; local mailbox inserts are idempotent (delivery key "QUEUEID:RCPT"), so a crash
 * between the two delivers nothing twice.
 *
 * Thread-safe. */
#ifndef YZ_STORE_QUEUE_H
#define YZ_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"

struct mta_queue;
struct blob_store; /* the queue writes its blobs into the mail store's (store/blob.h) */

enum mta_source {
	MTA_SRC_INBOUND = 1, /* port 25 */
	MTA_SRC_SUBMISSION,  /* 587 / 465, authenticated */
	MTA_SRC_WEB,         /* the webmail or an API token */
	MTA_SRC_BOUNCE,      /* a DSN we generated */
	MTA_SRC_LOCAL,       /* forwarding, vacation replies and other system mail */
};

/* RFC 3461 NOTIFY */
enum mta_notify {
	MTA_NOTIFY_SUCCESS = 1 << 0,
	MTA_NOTIFY_FAILURE = 1 << 1,
	MTA_NOTIFY_DELAY = 1 << 2,
	MTA_NOTIFY_NEVER = 1 << 3,
};

struct mta_rcpt {
	const char *address; /* the forward-path, as given (UTF-8 with SMTPUTF8) */
	const char *orcpt;   /* RFC 3461 ORCPT ("rfc822;addr"), or NULL */
	unsigned notify;     /* enum mta_notify; 0 = default (failure and delay) */
};

struct mta_envelope {
	const char *sender;  /* the reverse-path without <>; "" is the null sender */
	const struct mta_rcpt *rcpts;
	size_t nrcpts;
	const char *envid;   /* RFC 3461 ENVID, or NULL */
	bool ret_full;       /* RFC 3461 RET=FULL (else HDRS) */
	bool smtputf8, eightbit;
	enum mta_source source;
	const char *client_ip, *helo;
	const char *auth_user; /* the authenticated account's address, or NULL */
	int64_t account_id;    /* the sending account for submission/web (0 otherwise) */
	int64_t not_before;    /* unix seconds: hold until then (undo send), 0 = now */
	bool junk;             /* deliver into the recipients' Junk folders (DMARC quarantine) */
};

/* Accept a message. data is the whole message as it will be delivered (trace headers
 * already added). *qid_r receives the queue id (16 hex characters, NUL-terminated). */
#define MTA_QID_LEN 17
int mta_queue_submit(struct mta_queue *q, const struct mta_envelope *env, const char *data,
		     size_t len, char qid_r[MTA_QID_LEN], struct err *err) YZ_WUR;

/* The same without waiting: done(ctx, status, qid, err) runs on the queue's committer thread
 * once the message is durable (status 0) or refused (-1, err says why). env and data must
 * stay valid until then. For event loops that must not block on the disk. */
typedef void mta_submit_done(void *ctx, int status, const char *qid, const struct err *err);
void mta_queue_submit_async(struct mta_queue *q, const struct mta_envelope *env,
			    const char *data, size_t len, mta_submit_done *done, void *ctx);

/* Open DATA/queue.db. A committer thread is started for group commit. */
struct mta_queue_opts {
	int64_t lifetime_s;   /* a message still undelivered after this fails (5 days) */
	int64_t delay_warn_s; /* a sender is told of a delay after this (4 hours) */
	/* in-flow control: while delivery is more than INFLOW_LAG_MS behind (the oldest first
	 * attempt mta_queue_due() just handed out had waited that long), the committer waits up
	 * to this long before each batch, so the 250s, and with them the clients, slow to the
	 * rate mail is delivered (Postfix's in_flow_delay); 0: never (the default of
	 * mta_queue_opts_default) */
	int64_t inflow_delay_ms;
};
void mta_queue_opts_default(struct mta_queue_opts *o);
int mta_queue_open(const char *data_dir, const struct mta_queue_opts *o,
		   struct blob_store *blobs, struct mta_queue **q_r, struct err *err) YZ_WUR;
void mta_queue_close(struct mta_queue **qp);

/* ---- delivery side ---- */

/* For a delivery thread: its claims and outcomes on queue.db are committed without a flush
 * of their own (db_relax). They become durable with the next accepted message's commit; a
 * power cut before that makes a recipient be tried again, which local delivery's delivery
 * key turns into nothing and remote delivery into a second copy (at-least-once, as
 * before). Accepting never waits behind such a flush. */
int mta_queue_relax_thread(struct mta_queue *q, struct err *err) YZ_WUR;

/* The message a job or DSN job names (its blob digest): from the spool, or from the blob
 * store for a large one. A malloc'd, NUL-terminated copy the caller frees; ERR_NOTFOUND if
 * neither has it, ERR_LIMIT beyond max_len. */
int mta_queue_body(struct mta_queue *q, const char *blob, size_t max_len, char **data_r,
		   size_t *len_r, struct err *err) YZ_WUR;

enum mta_rcpt_state {
	MTA_QUEUED = 0, /* waiting for its next attempt */
	MTA_DELIVERED,
	MTA_FAILED,     /* permanently: a bounce was (or will be) sent */
	MTA_HELD,       /* by an admin (queue hold) */
};

struct mta_job {
	int64_t rcpt_id;
	char qid[MTA_QID_LEN];
	const char *sender, *rcpt, *orcpt, *envid;
	unsigned notify;
	bool ret_full;
	char blob[65];
	int64_t size, received, attempts;
	int64_t queued_ms, next_try; /* queued (unix ms; 0 before this was kept), due (unix s) */
	enum mta_source source;
	int64_t account_id;
	bool junk;
};

/* Recipients due now (next_try <= now, not held), at most max, oldest first, claimed for
 * lease_s seconds so another worker does not take them meanwhile. */
int mta_queue_due(struct mta_queue *q, int64_t now, size_t max, int lease_s, struct arena *a,
		  struct mta_job **v_r, size_t *n_r, struct err *err) YZ_WUR;
/* The outcome of one attempt. code: the SMTP reply code (250, 4xx, 5xx), or 0 for a local
 * failure; text the reply or reason (for DSNs and the queue listing). Temporary failures are
 * retried with backoff until the queue lifetime ends, then fail. */
enum mta_outcome { MTA_OK, MTA_TEMPFAIL, MTA_PERMFAIL };
int mta_queue_result(struct mta_queue *q, int64_t rcpt_id, enum mta_outcome o, int code,
		     const char *text, struct err *err) YZ_WUR;
/* Outcomes of many recipients in one transaction (one sync instead of one per recipient):
 * each is recorded as by mta_queue_result; all or none. */
struct mta_result {
	int64_t rcpt_id;
	enum mta_outcome outcome;
	int code;
	const char *text;
};
int mta_queue_results(struct mta_queue *q, const struct mta_result *v, size_t n,
		      struct err *err) YZ_WUR;
/* Drop every worker's claim: at the start of the one daemon that delivers, so recipients a
 * killed process had claimed are due again at once (not when the claim runs out). */
int mta_queue_release_leases(struct mta_queue *q, struct err *err) YZ_WUR;
/* Wake the delivery workers (after a submit). */
void mta_queue_kick(struct mta_queue *q);
/* Kicks so far: take it before looking for work, and hand it to mta_queue_wait(), so a kick
 * that came while the work was being done is not waited for. */
unsigned mta_queue_kicks(struct mta_queue *q);
/* Wait until timeout_ms or a kick after the one counted in seen; returns true if kicked. */
bool mta_queue_wait(struct mta_queue *q, unsigned seen, int timeout_ms);

/* Bounce and delay-warning bookkeeping (mta/dsn.c uses these). */
struct mta_dsn_rcpt {
	const char *rcpt, *orcpt;
	enum mta_rcpt_state state;
	int code;
	const char *text;
	int64_t last_try;
};
struct mta_dsn_job {
	int64_t msg_id;
	char qid[MTA_QID_LEN];
	const char *sender, *envid;
	bool ret_full, delay; /* delay: a warning, not a failure */
	char blob[65];
	int64_t received;
	struct mta_dsn_rcpt *rcpts;
	size_t nrcpts;
};
/* Messages with failed (or long-delayed) recipients whose sender has not been told yet. */
int mta_queue_dsn_due(struct mta_queue *q, int64_t now, int64_t delay_warn_s, size_t max,
		      struct arena *a, struct mta_dsn_job **v_r, size_t *n_r,
		      struct err *err) YZ_WUR;
int mta_queue_dsn_sent(struct mta_queue *q, int64_t msg_id, bool delay, struct err *err) YZ_WUR;
/* Drop messages whose recipients are all final and told (their blobs go to the GC). */
int mta_queue_cleanup(struct mta_queue *q, struct err *err) YZ_WUR;

/* How many messages an account handed in since then (the messages-per-hour limit). */
int mta_queue_sent_since(struct mta_queue *q, int64_t account_id, int64_t since, int64_t *n_r,
			 struct err *err) YZ_WUR;
/* Undo send: drop a message of this account that no delivery has touched yet and whose
 * not_before is still ahead. ERR_EXISTS when it is too late. */
int mta_queue_cancel(struct mta_queue *q, const char *qid, int64_t account_id,
		     struct err *err) YZ_WUR;

/* ---- administration (yizhan queue ...) ---- */
struct mta_queue_entry {
	char qid[MTA_QID_LEN];
	const char *sender;
	int64_t size, received;
	enum mta_source source;
	struct mta_queue_rcpt {
		const char *rcpt;
		enum mta_rcpt_state state;
		int64_t attempts, next_try;
		int code;
		const char *text;
	} *rcpts;
	size_t nrcpts;
};
typedef int mta_queue_each_fn(void *ctx, const struct mta_queue_entry *e);
/* Messages with recipients not yet final (all when all is set). */
int mta_queue_list(struct mta_queue *q, bool all, struct arena *a, mta_queue_each_fn *fn,
		   void *ctx, struct err *err) YZ_WUR;
int mta_queue_show(struct mta_queue *q, const char *qid, struct arena *a,
		   struct mta_queue_entry *e_r, struct err *err) YZ_WUR;
/* retry: due now; hold/release: stop and resume; delete: drop (no bounce). */
int mta_queue_retry(struct mta_queue *q, const char *qid, struct err *err) YZ_WUR;
int mta_queue_hold(struct mta_queue *q, const char *qid, bool hold, struct err *err) YZ_WUR;
int mta_queue_delete(struct mta_queue *q, const char *qid, struct err *err) YZ_WUR;
/* Mark the blobs queued messages refer to (GC). */
struct blob_marks;
int mta_queue_mark_blobs(struct mta_queue *q, struct blob_marks *marks, struct err *err) YZ_WUR;

#endif
