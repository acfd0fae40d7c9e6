/* pop3_int.h: what the files of server/pop3/ share. Not a public header.
 *
 * Threads (the shared service's, server/net/netsvc.h): one event loop thread runs the
 * listeners and every session's I/O. Everything that may block runs on the job pool
 * (POP3_JOB_THREADS) as a struct netsvc_job whose done callback comes back to the loop: the
 * password checks (PBKDF2), the lockout bookkeeping, SCRAM's account lookup, opening the
 * maildrop, reading a message, and the UPDATE state. A session has at most one job at a time
 * and reads no commands meanwhile, so the job owns the session's maildrop while it runs.
 *
 * Audit records are appended by those jobs themselves (they already run off the loop), so
 * unlike server/smtp/ there is no separate audit thread.
 *
 * The maildrop is the INBOX as it was at login (RFC 1939 section 8: messages that arrive
 * later wait for the next session); each account has at most one POP3 session in the
 * TRANSACTION state at a time (the maildrop lock of RFC 1939 section 4; a second one gets
 * [IN-USE], RFC 2449 section 8.1.2). */
#ifndef YZ_POP3_INT_H
#define YZ_POP3_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/scram.h"
#include "pop3.h"
#include "pop3_parse.h"
#include "server/net/netconn.h"
#include "server/net/netsvc.h"
#include "server/net/sasl_srv.h"
#include "store/blob.h"
#include "store/store.h"

struct event;
struct bufferevent;
struct mail_store;
struct mailbox;
struct pop3_session;
struct pop3_server;

#define POP3_JOB_THREADS 8
#define POP3_OUT_HIGH (256 * 1024) /* stop reading while this much output waits */
#define POP3_OUT_LOW (64 * 1024)
#define POP3_IN_HIGH (64 * 1024)   /* libevent stops reading the socket above this */
#define POP3_LINGER_S 5            /* a closing session waits this long for its output */
#define POP3_SIZE_CACHE (1 << 16)  /* wire sizes remembered, by blob digest */
#define POP3_BATCH 5000            /* messages per mail_expunge/mail_update call */

/* Every limit, snapshot at start (a reload rewrites the app's config while we run). */
struct pop3_limits {
	char hostname[256];
	int ports[POP3_NKINDS];
	size_t max_line;
	int64_t max_sessions, max_per_ip, timeout_s, max_errors, login_ip_per_minute;
	struct store_login_policy login;
	unsigned scram_iterations;
};

/* Wire sizes by blob digest (a blob never changes, so an entry never goes stale). */
struct pop3_size_ent {
	unsigned char digest[32];
	int64_t size; /* 0: empty slot (a real size of 0 is simply not cached) */
};

struct pop3_server {
	struct pop3_limits lim;
	struct netsvc net;
	/* borrowed from the app, never re-read from it */
	struct store *store;
	struct mail_store *mail;
	struct auth_cache *auth_cache;
	unsigned char secret[32];
	struct sasl_srv_conf sasl; /* store, lim.login, secret, lim.scram_iterations */

	/* loop thread */
	struct pop3_session *sessions; /* every live session (dead ones too, until freed) */
	size_t nsessions;
	struct netsvc_map per_ip, auth_ip; /* sessions, login attempts (a minute) per IP */
	uint64_t next_id;

	pthread_mutex_t drop_lock; /* guards locked and sizes (used by the workers) */
	struct netsvc_map locked;  /* account ids with a maildrop open */
	struct pop3_size_ent *sizes;
};

/* Start a job for session s (counted in s->pending); the session should be waiting. */
void pop3_job_start(struct pop3_session *s, struct netsvc_job *j);

/* ---- the maildrop (pop3_drop.c) ---- */

struct pop3_msg {
	int64_t id;
	uint32_t uid;
	bool deleted;   /* DELE (undone by RSET) */
	bool retrieved; /* RETR: marked \Seen in the UPDATE state */
	int64_t size;   /* octets on the wire (pop3_parse.h) */
	char blob[BLOB_HEX];
};

struct pop3_drop {
	struct mailbox *mb;
	int64_t account_id, folder_id;
	uint32_t uidvalidity;
	struct pop3_msg *v; /* in UID order; message number i + 1 is v[i] */
	size_t n;
	bool locked;        /* holds the account's entry in srv->locked */
};

/* On a worker: take the account's maildrop lock (ERR_EXISTS: another session has it), open
 * the mailbox and snapshot the INBOX. */
int pop3_drop_open(struct pop3_server *srv, int64_t account_id, int64_t quota,
		   struct pop3_drop **d_r, struct err *err) YZ_WUR;
/* Release the maildrop: from a worker (on_worker) directly, else through a job. */
void pop3_drop_free(struct pop3_server *srv, struct pop3_drop **dp, bool on_worker);

/* ---- sessions (pop3_session.c) ---- */

enum pop3_state {
	ST_AUTH = 1 << 0,  /* AUTHORIZATION */
	ST_TRANS = 1 << 1, /* TRANSACTION */
};
#define ST_ANY (ST_AUTH | ST_TRANS)

enum pop3_mode {
	MODE_CMD = 0,
	MODE_SKIP, /* discarding a too-long line up to its LF */
	MODE_SASL, /* the next line is a SASL response */
};

struct pop3_sasl;

struct pop3_session {
	struct pop3_server *srv;
	struct pop3_session *prev, *next;
	uint64_t id;
	enum pop3_kind kind;
	int port;
	struct bufferevent *bev;
	struct event *timer;  /* the idle timeout; linger after close */
	struct netconn_linger linger; /* a closing session */
	struct arena *cmd;    /* reset after each command */
	char ip[64];

	unsigned state;       /* enum pop3_state */
	enum pop3_mode mode;
	bool tls;
	bool closing, dead, waiting, out_blocked, counted_ip;

	/* AUTHORIZATION */
	bool have_user;
	char user[SCRAM_MAX_USER + 1]; /* USER's argument, for PASS */
	struct pop3_sasl *sasl;

	/* TRANSACTION */
	int64_t account_id;
	char address[STORE_ADDR_MAX + 1];
	struct pop3_drop *drop;

	int64_t ncommands, nerrors;
	int pending; /* jobs whose completion has not come back */
};

void pop3_session_accept(struct pop3_server *srv, enum pop3_kind kind, int fd, const char *ip);
/* Close every session (server stop); those waiting for a completion go when it comes. */
void pop3_session_free_all(struct pop3_server *srv);
/* A completion for s has run: drop its count, free s if it is gone and nothing else waits. */
void pop3_session_unref(struct pop3_session *s);

/* "+OK text\r\n" / "-ERR text\r\n" (text already carries any response code). */
void pop3_ok(struct pop3_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* A refusal: counted as an error; at max_errors the session is closed. */
void pop3_err(struct pop3_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* A raw line ("text\r\n" added). */
void pop3_line(struct pop3_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* Bytes as they are (a multi-line body), taking ownership of the malloc'd buffer. */
void pop3_write_take(struct pop3_session *s, char *data, size_t len);
/* Reply (a complete line such as "+OK bye"), then close once the output is written. */
void pop3_close(struct pop3_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
void pop3_wait(struct pop3_session *s);
void pop3_resume(struct pop3_session *s);
bool pop3_alive(const struct pop3_session *s);
/* Switch the connection to TLS (STLS): buffered plaintext is discarded first. */
int pop3_starttls(struct pop3_session *s);

/* ---- commands (pop3_cmd.c, pop3_auth.c, pop3_drop.c) ---- */

enum pop3_ret { POP3_NEXT = 0, POP3_STOP };

typedef enum pop3_ret pop3_cmd_fn(struct pop3_session *s, const char *arg, size_t len);
struct pop3_cmd {
	const char *verb;
	pop3_cmd_fn *fn;
	unsigned states; /* enum pop3_state bits in which the keyword may be used */
};
const struct pop3_cmd *pop3_cmd_find(const char *verb);

pop3_cmd_fn pop3_cmd_capa, pop3_cmd_quit, pop3_cmd_stls, pop3_cmd_noop, pop3_cmd_user,
	pop3_cmd_pass, pop3_cmd_auth, pop3_cmd_stat, pop3_cmd_list, pop3_cmd_uidl,
	pop3_cmd_retr, pop3_cmd_top, pop3_cmd_dele, pop3_cmd_rset, pop3_cmd_nonpop;

/* QUIT in the TRANSACTION state: the UPDATE state (pop3_drop.c). */
enum pop3_ret pop3_update(struct pop3_session *s);
/* A SASL response line (MODE_SASL). */
enum pop3_ret pop3_auth_line(struct pop3_session *s, const char *line, size_t len);
void pop3_auth_abort(struct pop3_session *s);
/* The SASL mechanisms offered now. */
const char *pop3_auth_mechs(const struct pop3_session *s);

#endif
