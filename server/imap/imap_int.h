/* imap_int.h: what the files of server/imap/ share. Not a public header.
 *
 * Threads (the shared service's, server/net/netsvc.h): one event loop thread runs the
 * listeners and every session's I/O; everything that touches storage runs on the job pool
 * (IMAP_JOB_THREADS) as a struct netsvc_job whose done callback comes back to the loop. A
 * session has at most one job at a time and does not read commands meanwhile, so a job owns
 * the session's mailbox state
 * (s->mb, s->view, s->state, s->condstore/qresync) while it runs; the loop touches only I/O,
 * timers and the flags marked "loop" below.
 *
 * Output of a job is collected in its command's buffer and written by the loop when the job is
 * done. Long FETCHes run as several jobs of about IMAP_CHUNK bytes of output each; the next
 * one starts when the socket's output has drained below IMAP_OUT_LOW. */
#ifndef YZ_IMAP_INT_H
#define YZ_IMAP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap.h"
#include "imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "server/net/netconn.h"
#include "server/net/netsvc.h"
#include "server/net/sasl_srv.h"
#include "store/mail.h"
#include "store/mail_imap.h"
#include "store/store.h"

struct event;
struct bufferevent;
struct imap_session;
struct imap_server;

#define IMAP_JOB_THREADS 8
#define IMAP_OUT_HIGH (256 * 1024) /* stop reading / producing while this much output waits */
#define IMAP_OUT_LOW (64 * 1024)
#define IMAP_CHUNK (192 * 1024)    /* output of one FETCH job slice */
#define IMAP_IN_HIGH (256 * 1024)  /* libevent stops reading the socket above this */
#define IMAP_LINGER_S 5
#define IMAP_COPY_MAX (64 * 1024)  /* literals up to this are copied into the command arena */
#define IMAP_POLL_S 60             /* an idling session looks for changes made by other
				      processes (the CLI) this often */
#define IMAP_ACCT_BUCKETS 1024
#define IMAP_EVQ 4096

/* Every limit, snapshot at start. */
struct imap_limits {
	char hostname[256];
	int ports[IMAP_NKINDS];
	size_t max_line, max_literal, max_literal_preauth;
	int max_nesting;
	int64_t max_sessions, max_per_ip, commands_per_second, idle_timeout_s, timeout_s,
		login_timeout_s, login_ip_per_minute, max_errors;
	struct store_login_policy login;
	unsigned scram_iterations;
	int tz_minutes;
	struct mime_limits mime;
};

struct imap_event {
	int64_t account_id, folder_id;
};

struct imap_server {
	struct imap_limits lim;
	struct netsvc net;
	struct store *store;
	struct mail_store *mail;
	struct auth_cache *auth_cache;
	unsigned char secret[32];
	struct sasl_srv_conf sasl; /* store, lim.login, secret, lim.scram_iterations */

	/* the mail event bus, subscribed once: events are queued here (any thread) and fanned
	 * out to sessions on the loop */
	struct event *mail_ev;
	int sub;
	pthread_mutex_t ev_lock;
	struct imap_event evq[IMAP_EVQ];
	size_t nevq;
	bool evq_all; /* the queue overflowed: every session looks */

	/* loop thread */
	struct imap_session *sessions;
	size_t nsessions;
	struct imap_session *by_account[IMAP_ACCT_BUCKETS]; /* authenticated sessions */
	struct netsvc_map per_ip, auth_ip; /* sessions, login attempts (a minute) per IP */
	uint64_t next_id;
};

/* Start a job for session s on the job pool (counted in s->pending). */
void imap_job_start(struct imap_session *s, struct netsvc_job *j);

/* ---- sessions (imap_session.c) ---- */

enum imap_state {
	ST_NOAUTH = 1 << 0,
	ST_AUTH = 1 << 1,
	ST_SELECTED = 1 << 2,
	ST_LOGOUT = 1 << 3,
};
#define ST_ANY (ST_NOAUTH | ST_AUTH | ST_SELECTED)
#define ST_AUTHED (ST_AUTH | ST_SELECTED)

enum imap_mode {
	MODE_CMD = 0,
	MODE_SASL, /* an AUTHENTICATE continuation line */
	MODE_IDLE, /* waiting for DONE */
};

/* The selected mailbox as this session sees it (RFC 3501 2.3.1.2: message sequence numbers
 * change only when the session is told). UIDs are kept as ascending ranges, so a folder of
 * 10,000 messages imported in one go costs a few bytes. */
struct imap_view {
	int64_t folder_id;
	char *name; /* the mailbox name as the client gave it (modified UTF-7) */
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;     /* flag changes up to here were reported */
	uint64_t exp_modseq; /* expunges up to here were reported */
	bool readonly;
	struct imap_range *r; /* live UIDs as ranges */
	uint32_t *pre;        /* pre[i]: messages in r[0..i) */
	size_t nr, rcap;
	uint32_t count;
	uint64_t own[8]; /* MODSEQs of this session's own STOREs (not echoed by a refresh) */
	unsigned nown;
};

struct imap_cmdctx;
struct imap_sasl;

struct imap_session {
	struct imap_server *srv;
	struct imap_session *prev, *next;
	struct imap_session *acct_next; /* loop: by_account chain */
	uint64_t id;
	enum imap_kind kind;
	struct bufferevent *bev;
	struct event *timer; /* autologout, IDLE timeout, linger */
	struct event *delay; /* the commands-per-second pause, and the IDLE poll */
	struct netconn_linger linger; /* a closing session */
	char ip[64];

	/* loop */
	enum imap_mode mode;
	bool tls, closing, dead, busy, out_blocked, counted_ip, in_account, dirty, paused;
	int pending;
	int64_t ncommands, nerrors;
	double tokens;
	int64_t tokens_ms;
	struct buf in;        /* bytes read, not yet consumed as commands */
	struct imap_scan scan;
	char *idle_tag;
	struct imap_cmdctx *more; /* a command with more slices to run when output drains */
	int64_t folder_loop;      /* the selected folder, as the loop knows it (events) */

	/* jobs (see the top of this file) */
	unsigned state;
	int64_t account_id;
	char user[STORE_ADDR_MAX + 1];
	struct mailbox *mb;
	struct imap_view *view;
	bool condstore, qresync;
	struct imap_sasl *sasl;
};

/* One command: its arena, parsed form and output. */
struct imap_cmdctx;
typedef void imap_exec_fn(struct imap_cmdctx *c);
struct imap_cmdctx {
	struct netsvc_job job;
	struct imap_session *s;
	struct arena *a;
	struct imap_command cmd;
	bool uid;            /* UID FETCH/STORE/SEARCH/COPY/MOVE/EXPUNGE */
	struct buf out;
	imap_exec_fn *exec;  /* the worker part */
	bool more;           /* exec wants another slice */
	void *st;            /* command state between slices */
	bool close_after;    /* LOGOUT, fatal errors */
};

void imap_session_accept(struct imap_server *srv, enum imap_kind kind, int fd, const char *ip);
void imap_session_free_all(struct imap_server *srv);
void imap_session_unref(struct imap_session *s);
/* An event for this account (loop): refresh selected/idling sessions. */
void imap_session_notify(struct imap_session *s);

/* Replies written directly on the loop ("text\r\n"). */
void imap_reply(struct imap_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
/* Reply "* BYE text" and close once written. */
void imap_bye(struct imap_session *s, const char *fmt, ...) YZ_PRINTF(2, 3);
bool imap_alive(const struct imap_session *s);
int imap_starttls(struct imap_session *s);
/* Run c->exec on the job pool; the session waits. */
void imap_run(struct imap_cmdctx *c, imap_exec_fn *exec);
/* Finish a command handled on the loop (frees c). */
void imap_cmd_done(struct imap_cmdctx *c);
void imap_resume(struct imap_session *s);
void imap_arm_timer(struct imap_session *s);
/* After authentication: literal limits of an authenticated session (loop). */
void imap_session_limits(struct imap_session *s);
void imap_session_unaccount(struct imap_session *s);
/* Register an authenticated session for events (loop). */
void imap_session_authed(struct imap_session *s);

/* Output helpers into a buffer (jobs). */
void imap_out(struct imap_cmdctx *c, const char *fmt, ...) YZ_PRINTF(2, 3);
/* "tag OK/NO/BAD text" */
void imap_tagged(struct imap_cmdctx *c, const char *status, const char *fmt, ...)
	YZ_PRINTF(3, 4);

/* ---- commands ---- */

typedef void imap_cmd_fn(struct imap_cmdctx *c); /* on the loop */
struct imap_cmd {
	const char *name;
	imap_cmd_fn *fn;     /* on the loop, or NULL */
	imap_exec_fn *exec;  /* on a worker (when fn is NULL) */
	unsigned states;
};
const struct imap_cmd *imap_cmd_find(const char *name);
/* CAPABILITY list for the session's current state (no leading "CAPABILITY"). */
const char *imap_capabilities(const struct imap_session *s);

imap_cmd_fn imap_cmd_capability, imap_cmd_noop_loop, imap_cmd_logout, imap_cmd_id,
	imap_cmd_namespace, imap_cmd_starttls, imap_cmd_authenticate, imap_cmd_idle,
	imap_cmd_login;
imap_exec_fn imap_exec_noop, imap_exec_enable, imap_exec_select,
	imap_exec_create, imap_exec_delete, imap_exec_rename, imap_exec_subscribe,
	imap_exec_list, imap_exec_status, imap_exec_append, imap_exec_close, imap_exec_unselect,
	imap_exec_expunge, imap_exec_fetch, imap_exec_store, imap_exec_copy, imap_exec_search,
	imap_exec_sort, imap_exec_thread;

/* ---- search criteria (imap_search.c, jobs), shared by SEARCH, SORT and THREAD ---- */

struct imap_hit {
	uint32_t seq, uid;
};
struct imap_hits {
	struct imap_hit *v; /* ascending, in c->a */
	size_t n;
	bool modseq;         /* the criteria had a MODSEQ key */
	uint64_t max_modseq; /* the highest MODSEQ among the hits */
};
/* Parse the search criteria c->cmd.args[first..nargs) (RFC 3501 search-key, one or more) and
 * evaluate them over the selected mailbox. 0 with *h_r set; -1 when the tagged reply has been
 * written (BAD for bad criteria, NO when the store or the index failed). */
int imap_search_hits(struct imap_cmdctx *c, size_t first, struct imap_hits *h_r);

/* AUTHENTICATE continuation line (loop). */
void imap_auth_line(struct imap_session *s, const char *line, size_t len);
void imap_auth_abort(struct imap_session *s);
/* IDLE input line (loop). */
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
/* Run a refresh job for an idling session (loop). */
void imap_idle_refresh(struct imap_session *s);

/* ---- the selected mailbox (imap_view.c, jobs) ---- */

/* The mailbox name (modified UTF-7, or UTF-8 from lenient clients) -> folder id. */
int imap_mailbox_find(struct imap_session *s, const char *name, size_t len, int64_t *id_r,
		      struct arena *a, struct err *err);
/* Decode a client's mailbox name into the store's '/'-path (arena). NULL if invalid. */
const char *imap_mailbox_path(const char *name, size_t len, struct arena *a);

struct imap_view *imap_view_new(int64_t folder, const uint32_t *uids, size_t n);
void imap_view_free(struct imap_view **vp);
uint32_t imap_view_uid(const struct imap_view *v, uint32_t seq);   /* 0 if out of range */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);   /* 0 if not there */
uint32_t imap_view_max_uid(const struct imap_view *v);
/* Resolve a sequence set (uid: a UID set) into ascending UID ranges within the view (arena).
 * Returns the number of UIDs covered. */
size_t imap_view_resolve(const struct imap_view *v, const struct imap_seqset *set, bool uid,
			 struct arena *a, struct imap_range **r_r, size_t *n_r);
/* The UIDs of those ranges as an array (arena). */
uint32_t *imap_view_uids(const struct imap_view *v, const struct imap_range *r, size_t nr,
			 struct arena *a, size_t *n_r);
/* Report changes since the session last looked: EXPUNGE/VANISHED (only when allow_expunge),
 * EXISTS, FETCH FLAGS. Returns -1 when the mailbox is gone (a BYE was written). */
int imap_view_refresh(struct imap_session *s, struct buf *out, bool allow_expunge,
		      struct arena *a);
void imap_view_remember_own(struct imap_view *v, uint64_t modseq);

/* FLAGS (...) for a message, with colours and the pin as keywords. */
void imap_put_flags(struct buf *b, unsigned flags, const char *keywords, int colour,
		    bool pinned);
/* Split a flag list into system flags, colour mask, pin and other keywords. -1 on a flag
 * that is not allowed (\Recent, unknown system flags). */
int imap_flags_parse(const struct imap_arg *list, size_t n, struct arena *a,
		     struct mail_imap_flagop *op);
extern const char *const imap_colour_keywords[8];
#define IMAP_PINNED_KEYWORD "$Pinned"

/* ---- message contents (imap_body.c) ---- */

struct mime_msg;
/* ENVELOPE (RFC 3501 7.4.2) from the header block hdr[0, n). */
void imap_put_envelope(struct buf *b, const char *hdr, size_t n, struct arena *a);
/* BODY / BODYSTRUCTURE of a parsed message. */
void imap_put_bodystructure(struct buf *b, const char *raw, size_t len,
			    const struct mime_msg *m, bool extended, struct arena *a);
/* The first field name: value in a header block, unfolded (arena), or NULL. */
const char *imap_header_get(const char *hdr, size_t n, const char *name, struct arena *a);
/* Header lines whose names are (not) in names[0..nn), followed by the blank line. */
void imap_header_filter(struct buf *b, const char *hdr, size_t n, const char *const *names,
			size_t nn, bool not);
/* The header block length of a message: up to and including the empty line. */
size_t imap_header_len(const char *raw, size_t len);

#endif
