/* mail_int.h: shared between the store/mail_*.c files only. */
#ifndef YZ_MAIL_INT_H
#define YZ_MAIL_INT_H

#include <pthread.h>

#include "db.h"
#include "lib/buf.h"
#include "mail.h"

struct mail_store {
	char data_dir[1024];
	struct mail_store_opts opts;
	struct blob_store *blobs;
	pthread_mutex_t lock; /* guards the cache and the subscribers */
	struct mailbox *lru;  /* most recently used first */
	size_t nopen;
	struct sub {
		mail_event_fn *fn;
		void *ctx;
		int handle;
	} subs[16];
	size_t nsubs;
	int next_handle;
	unsigned publishing;   /* publishers calling subscribers outside the lock */
	pthread_cond_t quiet;  /* signalled when publishing drops to 0 */
	pthread_mutex_t parsed_lock; /* the parses kept for the indexer (mail_parsed.c) */
	struct mail_parsed *parsed_head, *parsed_tail;
	size_t parsed_bytes;
};

struct mailbox {
	struct mail_store *ms;
	int64_t account_id;
	int64_t quota;
	char dir[1100];
	struct db *db;
	int refs;                 /* guarded by ms->lock */
	struct mailbox *prev, *next; /* LRU, guarded by ms->lock */
	pthread_mutex_t log_lock; /* mail.log appends */
	int log_fd;
};

extern const char *const mail_migrations[];
extern const int mail_nmigrations;

/* Events gathered during a transaction, published after it commits. */
struct mail_events {
	struct mail_event *v;
	size_t n, cap;
};
void mail_events_add(struct mail_events *e, enum mail_event_type type, int64_t account,
		     int64_t folder, int64_t msg, uint32_t uid, uint64_t modseq);
void mail_events_publish(struct mail_store *ms, struct mail_events *e);
void mail_events_release(struct mail_events *e);

/* Transactions on this thread's connection. begin is BEGIN IMMEDIATE (a writer). */
int mail_begin(struct mailbox *mb, struct err *err) YZ_WUR;
int mail_commit(struct mailbox *mb, struct err *err) YZ_WUR;
void mail_rollback(struct mailbox *mb);
/* The next MODSEQ, inside a transaction. */
int mail_next_modseq(struct mailbox *mb, uint64_t *modseq_r, struct err *err) YZ_WUR;
/* A fresh UIDVALIDITY for a new folder, inside a transaction. */
int mail_next_uidvalidity(struct mailbox *mb, uint32_t *v_r, struct err *err) YZ_WUR;
/* Allocate n UIDs in a folder (inside a transaction): the first one. */
int mail_alloc_uids(struct mailbox *mb, int64_t folder, uint32_t n, uint32_t *first_r,
		    struct err *err) YZ_WUR;
int mail_step(struct mailbox *mb, sqlite3_stmt *s, const char *what, struct err *err) YZ_WUR;
int mail_exec(struct mailbox *mb, const char *sql, struct err *err) YZ_WUR;
/* Stamp folders' highestmodseq after changing their messages. */
int mail_touch_folder(struct mailbox *mb, int64_t folder, uint64_t modseq, struct err *err) YZ_WUR;
int mail_folder_special_of(struct mailbox *mb, int64_t folder, enum mail_special *s_r,
			   struct err *err) YZ_WUR;

/* The cached form of a parsed message (mail_cache.c). */
struct mail_cached {
	const char *subject, *subject_sort, *from_name, *from_addr, *from_sort;
	const char *to_list, *cc_list; /* name \x1f address, joined by \x1e */
	const char *message_id, *in_reply_to, *refs; /* refs: space-separated */
	const char *snippet, *envelope, *structure;
	int64_t date;
	bool has_attachments;
	bool reply; /* the subject carried a reply or forward prefix */
	size_t header_len;
};
void mail_cache_fill(const struct mime_msg *msg, struct arena *a, struct mail_cached *c);
/* Keep the parse of a message just stored (id, its blob) for mail_parsed_claim(); takes a,
 * the arena msg lives in, and frees it when the parse is not kept. */
void mail_parsed_keep_take(struct mail_store *ms, int64_t account, int64_t id, const char *blob,
		     struct arena *a, struct mime_msg *msg);
void mail_parsed_clear(struct mail_store *ms);
/* "name\x1faddr\x1e..." -> array */
struct mail_addr *mail_addrs_decode(const char *s, struct arena *a, size_t *n_r);
/* Subject without reply/forward prefixes, lower-cased (ASCII), for sort and threading. */
const char *mail_subject_base(const char *subject, struct arena *a, bool *had_prefix_r);

/* Thread id for a new message (inside the transaction that inserts it). */
int mail_thread_assign(struct mailbox *mb, int64_t msg_id, const struct mail_cached *c,
		       int64_t date, int64_t *thread_r, struct err *err) YZ_WUR;

/* Append lines to mail.log, the rebuild journal. Fields are separated by tabs (folder names
 * hold no control characters), one change per line, replayed in order by
 * mail_rebuild_from_log():
 *   +  DIGEST  DATE  FLAGS  PATH     stored (insert, copy); written before the row commits
 *   -  DIGEST  PATH                  purged for good
 *   >  DIGEST  FROM  TO              moved (written after the commit)
 *   r  OLD  NEW                      folder renamed or moved: paths under OLD become NEW
 *   d  PATH                          folder deleted: what was under it is in Trash */
int mail_log_append(struct mailbox *mb, const char *line, bool sync, struct err *err) YZ_WUR;
/* Journal helpers: append one line to b. */
void mail_journal_stored(struct mailbox *mb, struct buf *b, const char *digest, int64_t date,
			 unsigned flags, int64_t folder, struct arena *a);
void mail_journal_moved(struct mailbox *mb, struct buf *b, const char *digest, int64_t from,
			int64_t to, struct arena *a);

/* Keyword sets (IMAP atoms, space-separated; mail_change.c), shared by the API's and IMAP's
 * changes: is every one of list a keyword; cur plus add minus del, no repeats (any case). */
int mail_keywords_check(const char *list, struct err *err) YZ_WUR;
const char *mail_keywords_apply(const char *cur, const char *add, const char *del,
				struct arena *a);

/* SELECT columns for struct mail_msg, and the reader (mail_list.c). */
#define MAIL_MSG_COLS                                                                            \
	"id, folder_id, uid, modseq, blob, size, internal_date, date, flags, keywords, colour,"  \
	" pinned, note, snippet, thread_id, subject, from_name, from_addr, to_list, cc_list,"    \
	" message_id, has_attachments, expunged_at, trash_from"
void mail_msg_read(sqlite3_stmt *s, struct arena *a, struct mail_msg *m);

#endif
