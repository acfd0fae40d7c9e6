/* smtp_int.h: what the files of server/smtp/ share. Not a public header.
 *
 * Threads: one event loop thread runs the listeners and every session (libevent, deferred
 * bufferevent callbacks); the loop, listeners, TLS context, job pool and audit thread are the
 * shared service's (server/net/netsvc.h). Work that may block runs elsewhere and comes back to
 * the loop as a completion (struct netsvc_job):
 *   - queue submits: mta_queue_submit_async() calls back on the queue's committer thread;
 *   - password checks, SCRAM's account lookup, lockout bookkeeping, SPF/DKIM/DMARC: the job
 *     pool (SMTP_JOB_THREADS);
 *   - audit records: the audit thread, in order.
 * While a session waits for a completion it does not read (STYLE.md section 6). */
#ifndef YZ_SMTP_INT_H
#define YZ_SMTP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "mta/mailauth.h"
#include "server/net/netconn.h"
#include "server/net/netsvc.h"
#include "server/net/sasl_srv.h"
#include "smtp.h"
#include "smtp_parse.h"
#include "store/queue.h"
#include "store/store.h"

struct event;
struct bufferevent;
struct smtp_session;
struct smtp_server;

#define SMTP_JOB_THREADS 16 /* password checks (CPU) and SPF/DKIM/DMARC (DNS waits) */
#define SMTP_OUT_HIGH (64 * 1024) /* stop reading while this much output waits */
#define SMTP_OUT_LOW (16 * 1024)
#define SMTP_IN_HIGH (256 * 1024) /* libevent stops reading the socket above this */
#define SMTP_HEADROOM 4096        /* room before the message for trace headers */
#define SMTP_LINGER_S 5           /* a closing session waits this long for its output */

/* Every limit, snapshot at start (a reload rewrites the app's config while we run). */
struct smtp_limits {
	char hostname[256];
	char banner[128];
	char default_domain[256];
	int ports[SMTP_NKINDS];
	size_t max_line, max_message;
	int64_t max_sessions, max_per_ip, max_recipients, max_errors, max_bad_rcpts,
		max_commands, timeout_s, data_timeout_s, tarpit_ms, msgs_per_hour,
		login_ip_per_minute, max_hops;
	struct store_login_policy login;
	unsigned scram_iterations;
};

struct smtp_server {
	struct smtp_limits lim;
	struct netsvc net;
	/* borrowed from the app, never re-read from it */
	struct store *store;
	struct mta_queue *queue;
	struct mailauth *mailauth;
	struct auth_cache *auth_cache;
	struct dns_resolver *dns; /* the client's name for Received (port 25) */
	unsigned char secret[32];
	struct sasl_srv_conf sasl; /* store, lim.login, secret, lim.scram_iterations */

	/* loop thread */
	struct smtp_session *sessions; /* every live session (dead ones too, until freed) */
	size_t nsessions;
	/* sessions per IP, AUTH attempts per IP (a minute), messages per user (an hour) */
	struct netsvc_map per_ip, auth_ip, per_user;
	uint64_t next_id;
};

/* Start a job for session s on the job pool (counted in s->pending). */
void smtp_job_start(struct smtp_session *s, struct netsvc_job *j);
/* An audit record through the audit thread (netsvc_audit). With a waiter, and the audit
 * thread behind (NETSVC_AUDIT_BACKLOG), the waiter is completed for s once the record is
 * durable: then true, and the caller waits for it; else false and nothing waits. */
bool smtp_audit_wait(struct smtp_server *srv, const char *actor, const char *type,
		     const char *ip, const char *client, const char *detail,
		     struct smtp_session *s, struct netsvc_job *waiter);

/* ---- sessions (smtp_session.c) ---- */

enum smtp_state {
	ST_GREET = 1 << 0, /* connected, or just after STARTTLS: EHLO/HELO first */
	ST_READY = 1 << 1, /* greeted, no transaction */
	ST_MAIL = 1 << 2,  /* MAIL accepted, no recipient accepted yet */
	ST_RCPT = 1 << 3,  /* at least one recipient accepted */
	ST_BDAT = 1 << 4,  /* between the chunks of a BDAT transfer */
};
#define ST_ANY (ST_GREET | ST_READY | ST_MAIL | ST_RCPT | ST_BDAT)

/* What the input bytes are, besides command lines. */
enum smtp_mode {
	MODE_CMD = 0,
	MODE_SKIP,  /* discarding a too-long line up to its LF */
	MODE_DATA,  /* DATA content up to CRLF.CRLF */
	MODE_BDAT,  /* the bytes of a BDAT chunk */
	MODE_SASL,  /* a SASL response line */
};

enum smtp_ret { SMTP_NEXT = 0, SMTP_STOP };

struct smtp_sasl;
struct smtp_txn;

struct smtp_session {
	struct smtp_server *srv;
	struct smtp_session *prev, *next;
	uint64_t id;
	enum smtp_kind kind;
	int port;
	struct bufferevent *bev;
	struct event *timer; /* idle/data timeouts, linger after close */
	struct event *delay; /* the tarpit */
	void (*delay_fn)(struct smtp_session *);
	struct netconn_linger linger; /* a closing session */
	struct arena *arena; /* the connection's */
	struct arena *cmd;   /* reset after each command */
	char ip[64];

	unsigned state;      /* enum smtp_state */
	enum smtp_mode mode;
	bool tls, esmtp;
	bool closing, dead, waiting, out_blocked, counted_ip;
	char helo[256];
	const char *tls_info; /* "TLSv1.3 with cipher X", arena */
	/* port 25: the client's forward-confirmed reverse name ("unknown" when it has none),
	 * looked up on a job from the connect on; a message's end waits for it if needed */
	char rdns[256];
	bool rdns_pending, rdns_wanted;
	atomic_bool *rdns_cancel; /* the lookup job's flag while it is out */

	/* authentication */
	bool authed;
	int64_t account_id;
	char user[STORE_ADDR_MAX + 1];
	int64_t user_max_message, user_max_rcpts; /* service class, 0 = none */
	struct smtp_sasl *sasl;

	/* limits */
	int64_t ncommands, nerrors, nbad_rcpts;

	/* the transaction */
	struct smtp_txn *txn;
	uint64_t bdat_left;  /* bytes of the current chunk still to come */
	bool bdat_last, bdat_discard;
	int pending;         /* jobs and submits whose completion has not come back */
	uint64_t ntxns;      /* transactions begun (smtp_txn.serial) */
	int spf_running;     /* SPF jobs of this session not back yet (at most 2: smtp_mail.c) */
	bool spf_hold;       /* a MAIL waits for its 250 until one of them is back */
	char tarpit_reply[400];
	char bdat_reply[200]; /* the refusal to send once a refused chunk is read */
	bool bdat_reset;      /* ... and the transaction ends with it */
};

/* The mail transaction: its own arena and buffer, freed when the queue is done with it (so
 * it can outlive its session). */
struct smtp_txn {
	struct netsvc_job job;
	struct arena *arena;
	struct mta_envelope env;
	struct mta_rcpt *rcpts;
	size_t nrcpts, cap;
	int64_t size_hint;
	bool smtputf8, eightbit;
	/* SPF runs on a job from MAIL on, while the rest of the transaction comes in; the end
	 * of the message waits for it (spf_wanted) only if it is still running */
	uint64_t serial; /* the session's count of transactions, for the SPF job to find it */
	bool spf_pending, spf_wanted;
	bool stamped; /* our Received field is on the message */
	atomic_bool *spf_cancel; /* the SPF job's flag while it is out (smtp_mail.c) */
	enum mailauth_result spf;
	struct smtp_msg msg;
	struct smtp_dotread rd;
	uint64_t bdat_total;
	size_t start;   /* msg.data[start, len) is what gets queued (trace headers included) */
	int status;
	char qid[MTA_QID_LEN];
	struct err err;
	struct mailauth_verdict verdict;
	bool have_verdict;
	int64_t t0_ms;
};

void smtp_session_accept(struct smtp_server *srv, enum smtp_kind kind, int fd,
			 const char *ip);
/* Close every session (server stop); those waiting for a completion go when it comes. */
void smtp_session_free_all(struct smtp_server *srv);
/* A completion for s has run: drop its count, free s if it is gone and nothing else waits. */
void smtp_session_unref(struct smtp_session *s);

/* Reply "text\r\n" (text already carries the code). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* The same, counted as an error; at max_errors the session is closed with 421. */
void smtp_fail(struct smtp_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* Reply, then close once the output is written. */
void smtp_close(struct smtp_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* (Re)start the idle timer of the current mode (command or data timeout). */
void smtp_arm_timer(struct smtp_session *s);
/* Stop reading until smtp_resume(). */
void smtp_wait(struct smtp_session *s);
void smtp_resume(struct smtp_session *s);
bool smtp_alive(const struct smtp_session *s);
/* Run fn after ms on the loop (the tarpit); the session waits meanwhile. */
void smtp_delay(struct smtp_session *s, int64_t ms, void (*fn)(struct smtp_session *));
/* Drop the transaction (if a submit holds it, the submit frees it later). */
void smtp_txn_reset(struct smtp_session *s);
struct smtp_txn *smtp_txn_new(void);
void smtp_txn_free(struct smtp_txn *t);
/* Forget greeting, authentication and transaction (after STARTTLS). */
void smtp_session_reset(struct smtp_session *s);
/* Switch the connection to TLS (STARTTLS): buffered plaintext is discarded first. */
int smtp_starttls(struct smtp_session *s);
const char *smtp_proto_name(const struct smtp_session *s); /* ESMTPSA and friends */

/* ---- commands (smtp_cmd.c, smtp_auth.c, smtp_mail.c, smtp_data.c) ---- */

typedef enum smtp_ret smtp_cmd_fn(struct smtp_session *s, const char *arg, size_t len);
struct smtp_cmd {
	const char *verb;
	smtp_cmd_fn *fn;
	unsigned states; /* enum smtp_state bits in which the verb may be used */
	bool closes;     /* not SMTP at all (HTTP, proxy probes): drop the client */
};
const struct smtp_cmd *smtp_cmd_find(const char *verb);
/* The reply for a verb used in a state its mask does not allow. */
void smtp_cmd_bad_sequence(struct smtp_session *s, const struct smtp_cmd *c);

smtp_cmd_fn smtp_cmd_ehlo, smtp_cmd_helo, smtp_cmd_rset, smtp_cmd_noop, smtp_cmd_quit,
	smtp_cmd_vrfy, smtp_cmd_expn, smtp_cmd_help, smtp_cmd_starttls, smtp_cmd_auth,
	smtp_cmd_mail, smtp_cmd_rcpt, smtp_cmd_data, smtp_cmd_bdat, smtp_cmd_nonsmtp;

/* AUTH continuation: one response line. */
enum smtp_ret smtp_auth_line(struct smtp_session *s, const char *line, size_t len);
void smtp_auth_abort(struct smtp_session *s);

/* DATA and BDAT bytes from the input buffer; returns SMTP_STOP when it consumed all. */
enum smtp_ret smtp_data_input(struct smtp_session *s);
/* The whole message is in and the session waits: once the client's name and the SPF
 * result are back (their jobs call this again), add our Received field, check
 * SPF/DKIM/DMARC, then queue the message. */
void smtp_data_authenticate(struct smtp_session *s);

/* Which mechanisms AUTH offers now ("" when none). */
const char *smtp_auth_mechs(const struct smtp_session *s);
bool smtp_is_submission(const struct smtp_session *s);

/* An audit record "mail.refused" for this session (rcpt may be NULL). */
void smtp_audit_refused(struct smtp_session *s, const char *reason, const char *rcpt);
/* The message size limit for this session (the service class may lower it). */
size_t smtp_max_message(const struct smtp_session *s);

#endif
