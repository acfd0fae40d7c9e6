/* netsvc.h: what the mail protocol servers (server/smtp/, server/imap/, server/pop3/) share
 * below their sessions: the event loop thread, the listeners (accept, pause on errors), the
 * TLS context, the job pool and the completions that bring its results back to the loop, the
 * audit thread, and a small table of counters.
 *
 * Threads: one loop thread (libevent) runs the listeners and every session of one protocol.
 * Work that may block runs on the job pool as a struct netsvc_job; when it has run, its done
 * callback runs on the loop (a locked list and event_active()). Audit records are appended in
 * order by an audit thread of their own (a pool of one) when the protocol asks for one.
 *
 * The protocol embeds a struct netsvc in its server and keeps its sessions, limits and command
 * tables; netsvc calls back into it through struct netsvc_desc. Lifecycle:
 *   netsvc_init() -> netsvc_listen() -> netsvc_run() ... netsvc_stop() -> netsvc_release()
 * netsvc_release() is also what undoes a start that failed half way. */
#ifndef YZ_NETSVC_H
#define YZ_NETSVC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/err.h"

struct config;
struct event;
struct event_base;
struct evconnlistener;
struct store_audit;

#define NETSVC_MAX_LISTENERS 3    /* listener kinds of one protocol (SMTP: 25, 587, 465) */
#define NETSVC_MAP_BUCKETS 1024
#define NETSVC_AUDIT_BACKLOG 4096 /* audit records waiting above this: see netsvc_audit() */
#define NETSVC_EXIT_DELAY_MS 100 /* the loop runs on this long after the last session (netsvc.c) */

/* ---- counters ---- */

/* A string-keyed table of counters (sessions per IP, sign-in attempts per IP, messages per
 * user, POP3's maildrop locks). Not locked: the loop thread only, or under the owner's lock. */
struct netsvc_count {
	struct netsvc_count *next;
	int64_t n, prev, window; /* count in the current window, in the previous one, its start */
	char key[];
};
struct netsvc_map {
	struct netsvc_count *b[NETSVC_MAP_BUCKETS];
	size_t n;
};

/* The value for key now: a sliding window of window_s seconds (the previous window weighs
 * what is left of it), or a plain count when window_s is 0 (now is then unused). */
int64_t netsvc_map_get(struct netsvc_map *m, const char *key, int64_t now, int64_t window_s);
/* Add delta; a plain count that drops to 0 is removed. */
void netsvc_map_add(struct netsvc_map *m, const char *key, int64_t delta, int64_t now,
		    int64_t window_s);
/* A rate limit: count one for key unless the window already holds limit; false (and nothing
 * counted) at the limit. */
bool netsvc_map_take(struct netsvc_map *m, const char *key, int64_t limit, int64_t now,
		     int64_t window_s);
/* Drop the entries whose windows have run out. */
void netsvc_map_sweep(struct netsvc_map *m, int64_t now, int64_t window_s);
void netsvc_map_release(struct netsvc_map *m);

/* ---- jobs and completions ---- */

struct netsvc_job;
typedef void netsvc_job_fn(struct netsvc_job *j);
struct netsvc_job {
	struct netsvc_job *next;
	netsvc_job_fn *run;  /* on a worker thread; NULL for a pure completion */
	netsvc_job_fn *done; /* on the loop thread, owns (frees) the job; NULL: run owns it */
	/* the protocol's session, counted in its pending count until done has run (then
	 * desc->unref); NULL for none, and set to NULL when the server goes away first */
	void *s;
};

struct netsvc;
struct netsvc_pool {
	struct netsvc *svc;
	pthread_t *threads;
	size_t nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct netsvc_job *head, **tail;
	size_t queued; /* posted, not yet run to the end */
	bool stop;
};

/* From any thread: run j on one of p's threads (then j->done on the loop, if set). */
void netsvc_pool_post(struct netsvc_pool *p, struct netsvc_job *j);
/* From any thread: run j->done on the loop thread (a queue commit's callback, say). */
void netsvc_complete(struct netsvc *svc, struct netsvc_job *j);

/* ---- the service ---- */

/* What differs between the protocols; a static table in each. */
struct netsvc_desc {
	const char *name;   /* "smtp": log tag, ALPN protocol id, TLS session id "yizhan-smtp" */
	const char *label;  /* "SMTP": in error messages */
	size_t job_threads;
	bool audit_thread;  /* netsvc_audit() is used (else only netsvc_audit_now()) */
	/* all on the loop thread; srv is netsvc_init()'s */
	void (*accept)(void *srv, int kind, int fd, const char *ip); /* owns fd */
	void (*stop)(void *srv);   /* close every session, then netsvc_sessions_left() */
	void (*sweep)(void *srv, int64_t now); /* every minute */
	void (*unref)(void *session); /* a completion for session has run */
};

struct netsvc_listener {
	struct netsvc *svc;
	int kind, port;
	struct evconnlistener *lis;
	struct event *retry; /* re-enables lis after an accept error */
};

struct netsvc {
	const struct netsvc_desc *d;
	void *srv;
	struct store_audit *audit; /* borrowed */
	struct event_base *base;
	SSL_CTX *ssl;
	pthread_t thread;
	bool thread_started;
	struct netsvc_listener lis[NETSVC_MAX_LISTENERS];
	struct event *done_ev, *stop_ev, *sweep_ev;
	pthread_mutex_t done_lock;
	struct netsvc_job *done_head, **done_tail;
	struct netsvc_pool jobs, audits;
	bool stopping; /* loop */
};

/* The TLS context (c's certificate and key; TLS 1.2 at least, ALPN must name d->name when
 * the client names any: the ALPACA defence), the loop and its events, the pools. Call
 * netsvc_release() whatever it returns. */
int netsvc_init(struct netsvc *svc, const struct netsvc_desc *d, void *srv,
		const struct config *c, struct store_audit *audit, struct err *err) YZ_WUR;
/* Accept on fds[k] for k < n (bound before privileges were dropped; fds[k] < 0 leaves kind k
 * closed), handing each connection to d->accept; ports[k] is for messages. */
int netsvc_listen(struct netsvc *svc, const int *fds, const int *ports, int n,
		  struct err *err) YZ_WUR;
/* Start the loop thread. */
int netsvc_run(struct netsvc *svc, struct err *err) YZ_WUR;
/* From outside the loop: stop accepting, d->stop closes the sessions; returns once the loop
 * has ended (netsvc_sessions_left). */
void netsvc_stop(struct netsvc *svc);
/* SIGHUP: load c's certificate and key into a new context now (an error leaves the running
 * one); the loop takes it for the connections that come next. */
int netsvc_reload_tls(struct netsvc *svc, const struct config *c, struct err *err) YZ_WUR;
/* SIGHUP: a protocol's new limits (next, size bytes, copied here) are applied on the loop
 * thread, soon, by apply(cur, copy), so what only the loop reads changes without a lock.
 * apply copies what may change and leaves the rest (ports, what jobs read); ports_cur and
 * ports_next (nports each) are compared only to warn that they need a restart. Returns -1
 * when the loop is not running or cannot be reached. */
int netsvc_reload_limits(struct netsvc *svc, void *cur, const void *next, size_t size,
			 const int *ports_cur, const int *ports_next, size_t nports,
			 void (*apply)(void *cur, const void *next), struct err *err) YZ_WUR;
/* Finish queued jobs, run completions that came after the loop ended (with j->s = NULL), free
 * everything. The protocol frees its own events on svc->base before this. */
void netsvc_release(struct netsvc *svc);
/* On the loop: this many sessions are left; while stopping, none left ends the loop. */
void netsvc_sessions_left(struct netsvc *svc, size_t n);

/* ---- audit records ---- */

/* True when NETSVC_AUDIT_BACKLOG records or more wait for the audit thread (d->audit_thread). */
bool netsvc_audit_backlogged(struct netsvc *svc);
/* From any thread: append a record on the audit thread, in order (everything is copied;
 * actor NULL or "" is "-"). With waiter, the waiter is completed (netsvc_complete) once the
 * record is durable: back-pressure for a reply that should wait for its record. */
void netsvc_audit(struct netsvc *svc, const char *actor, const char *type, const char *ip,
		  const char *client, const char *detail, struct netsvc_job *waiter);
/* On a worker: append a record now (it writes audit.db). */
void netsvc_audit_now(struct netsvc *svc, const char *actor, const char *type, const char *ip,
		      const char *client, const char *detail);

/* Audit details are JSON objects: the first call writes "{", the caller the closing "}". */
void netsvc_json_kv(struct buf *b, const char *key, const char *value, bool *first);
void netsvc_json_ki(struct buf *b, const char *key, int64_t value, bool *first);
void netsvc_json_kb(struct buf *b, const char *key, bool value, bool *first);

#endif
