/* mail.h: the mail store. One SQLite database per account
 * (DATA/accounts/<shard>/<id>/mail.db) holds folders and messages with IMAP-ready identity
 * (UIDVALIDITY, UID, MODSEQ), flags, keywords, colour, pin, note, snippet, thread and the cached
 * envelope and structure; the bodies are blobs (blob.h), shared between mailboxes.
 *
 * Deletion is two-stage: deleting outside Trash moves to Trash; deleting in Trash (or an IMAP
 * expunge) marks the message expunged, which hides it and frees its quota, and it is kept for
 * the retention period so mail_restore() can bring it back; mail_purge() drops it after that.
 *
 * Every change bumps the mailbox's MODSEQ, is published on the event bus after it commits, and
 * queues index work in mail.db (index_queue), so a crash never loses index work.
 *
 * Thread-safe: a mailbox is shared and refcounted; each thread uses its own SQLite connection.
 * Strings in results live in the caller's arena. */
#ifndef YZ_MAIL_H
#define YZ_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "store/blob.h"
#include "store/mime.h"

struct mail_store;
struct mailbox;

struct mail_store_opts {
	struct mime_limits mime;
	int64_t retention_seconds; /* expunged mail is kept this long */
	size_t cache_mailboxes;    /* open mailboxes kept (LRU) */
	int tz_minutes;            /* zone for search dates (480: China) */
	unsigned index_shards;     /* Xapian shards (and writer threads) of a new search index */
	bool keep_parsed;          /* keep the parse of each message stored for this process's
				      indexer (mail_parsed_claim); off by default */
};

void mail_store_opts_default(struct mail_store_opts *o);
int mail_store_open(const char *data_dir, const struct mail_store_opts *o,
		    struct mail_store **ms_r, struct err *err) YZ_WUR;
void mail_store_close(struct mail_store **msp);
struct blob_store *mail_store_blobs(struct mail_store *ms);
const struct mail_store_opts *mail_store_options(const struct mail_store *ms);
const char *mail_store_data_dir(const struct mail_store *ms);

/* ---- events: published after each committed change ---- */
enum mail_event_type {
	MAIL_EV_NEW = 1,      /* message arrived in a folder (delivery, import, copy, move in) */
	MAIL_EV_CHANGED,      /* flags, keywords, colour, pin or note */
	MAIL_EV_REMOVED,      /* left a folder (move out, expunge) */
	MAIL_EV_FOLDERS,      /* folder created, renamed, moved or deleted */
};

struct mail_event {
	enum mail_event_type type;
	int64_t account_id;
	int64_t folder_id;  /* 0 for MAIL_EV_FOLDERS */
	int64_t message_id; /* 0 when not about one message */
	uint32_t uid;
	uint64_t modseq;
};

typedef void mail_event_fn(void *ctx, const struct mail_event *ev);
/* Subscribers run on the committing thread and must not block or call back into the store;
 * they hand the event to their own queue. Returns a handle for unsubscribing. */
int mail_events_subscribe(struct mail_store *ms, mail_event_fn *fn, void *ctx);
void mail_events_unsubscribe(struct mail_store *ms, int handle);

/* ---- mailboxes ---- */

/* The account's mailbox, created with the standard folders on first use. quota_bytes 0 means
 * unlimited, < 0 keeps what the last opener set (for the indexer and maintenance); it is
 * updated on every open (service classes can change). */
int mailbox_open(struct mail_store *ms, int64_t account_id, int64_t quota_bytes,
		 struct mailbox **mb_r, struct err *err) YZ_WUR;
void mailbox_unref(struct mailbox **mbp);
int64_t mailbox_account(const struct mailbox *mb);
/* DATA/accounts/<shard>/<id>: mail.db and index/ live here. */
const char *mailbox_dir(const struct mailbox *mb);
struct mail_store *mailbox_store(struct mailbox *mb);
bool mailbox_exists(struct mail_store *ms, int64_t account_id);

struct mail_usage {
	int64_t bytes, messages, quota;
};
int mail_usage_get(struct mailbox *mb, struct mail_usage *u, struct err *err) YZ_WUR;

/* ---- folders ---- */
enum mail_special {
	MAIL_NONE = 0,
	MAIL_INBOX,
	MAIL_DRAFTS,
	MAIL_SENT,
	MAIL_TRASH,
	MAIL_JUNK,
	MAIL_ARCHIVE,
};
/* "inbox", "drafts", ... ("" for MAIL_NONE); and back (MAIL_NONE if unknown). */
const char *mail_special_name(enum mail_special s);
enum mail_special mail_special_parse(const char *s);

#define MAIL_FOLDER_NAME_MAX 255 /* bytes of one name; "/" is not allowed in it */
#define MAIL_FOLDER_DEPTH_MAX 16

struct mail_folder {
	int64_t id;
	int64_t parent; /* 0 for top level */
	const char *name;
	enum mail_special special;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	int64_t total, unread, bytes;
};

int mail_folder_list(struct mailbox *mb, struct arena *a, struct mail_folder **v_r, size_t *n_r,
		     struct err *err) YZ_WUR;
int mail_folder_get(struct mailbox *mb, int64_t id, struct arena *a, struct mail_folder *f_r,
		    struct err *err) YZ_WUR;
int mail_folder_by_special(struct mailbox *mb, enum mail_special s, int64_t *id_r,
			   struct err *err) YZ_WUR;
/* "Parent/Child" path ('/' separated, names as stored) or a special name ("INBOX" any case).
 * ERR_NOTFOUND if there is none. */
int mail_folder_by_path(struct mailbox *mb, const char *path, int64_t *id_r,
			struct err *err) YZ_WUR;
/* The '/'-joined path of a folder, in the arena. */
const char *mail_folder_path(struct mailbox *mb, int64_t id, struct arena *a);
/* Create path components as needed ("A/B/C"); the id of the last. */
int mail_folder_ensure_path(struct mailbox *mb, const char *path, int64_t *id_r,
			    struct err *err) YZ_WUR;
/* Any Unicode name (valid UTF-8, no '/', no control characters, 1..255 bytes, not "." or "..")
 * unique among its siblings (case-insensitive for ASCII). parent 0 = top level. */
int mail_folder_create(struct mailbox *mb, int64_t parent, const char *name, int64_t *id_r,
		       struct err *err) YZ_WUR;
/* Rename and/or move (new_parent < 0 keeps the parent, name NULL keeps the name). Special
 * folders may not be renamed or moved; a folder may not move under itself. */
int mail_folder_rename(struct mailbox *mb, int64_t id, int64_t new_parent, const char *name,
		       struct err *err) YZ_WUR;
/* Delete a custom folder and its subfolders; their messages move to Trash. */
int mail_folder_delete(struct mailbox *mb, int64_t id, struct err *err) YZ_WUR;

/* ---- messages ---- */
enum mail_flag {
	MAIL_SEEN = 1 << 0,
	MAIL_ANSWERED = 1 << 1,
	MAIL_FLAGGED = 1 << 2,
	MAIL_DELETED = 1 << 3, /* the IMAP \Deleted flag, not the expunged state */
	MAIL_DRAFT = 1 << 4,
};
#define MAIL_COLOUR_MAX 7

struct mail_addr {
	const char *name, *address;
};

struct mail_msg {
	int64_t id, folder_id;
	uint32_t uid;
	uint64_t modseq;
	char blob[BLOB_HEX];
	int64_t size;
	int64_t internal_date; /* when it arrived (sort key "date") */
	int64_t date;          /* the Date: header, 0 if none */
	unsigned flags;        /* enum mail_flag */
	const char *keywords;  /* IMAP keywords, space-separated, "" if none */
	int colour;            /* 0 none, 1..MAIL_COLOUR_MAX */
	bool pinned;
	const char *note;      /* "" if none */
	const char *snippet;
	int64_t thread_id;
	const char *subject;
	struct mail_addr from;
	struct mail_addr *to, *cc;
	size_t nto, ncc;
	const char *message_id; /* without <> or "" */
	bool has_attachments;
	int64_t expunged_at;    /* 0 unless expunged */
	int64_t trash_from;     /* folder it was in before it went to Trash, 0 if none */
};

/* One message to store. */
struct mail_new {
	int64_t folder_id;
	const char *raw;
	size_t len;
	int64_t internal_date; /* 0: the Date header, else now */
	unsigned flags;
	const char *keywords;     /* may be NULL */
	const char *delivery_key; /* idempotency: a second insert with the same key is a no-op
				     that returns the first message (may be NULL) */
	const char *digest;       /* blob_digest() of raw when the caller has it already (the
				     queue's), so raw is not hashed again; NULL: computed here */
};

struct mail_added {
	int64_t id;
	uint32_t uid;
	bool duplicate; /* delivery_key was seen before: nothing was inserted */
};

/* Insert one message: the blob is made durable, then the row commits (synchronous=FULL).
 * ERR_LIMIT over quota or a MIME limit, with nothing written to mail.db. */
int mail_insert(struct mailbox *mb, const struct mail_new *m, struct mail_added *out,
		struct err *err) YZ_WUR;

/* Group commit for bulk arrival (import): n messages, blobs flushed once, rows in one
 * transaction. Messages that fail to parse within limits are skipped and reported in
 * out[i].id == 0 with errs[i] filled (errs may be NULL); the rest are stored. Returns -1 only
 * when nothing could be stored (I/O, quota): then no row was written. */
int mail_insert_batch(struct mailbox *mb, const struct mail_new *m, size_t n,
		      struct mail_added *out, struct err *errs, struct err *err) YZ_WUR;

int mail_get(struct mailbox *mb, int64_t id, struct arena *a, struct mail_msg *m_r,
	     struct err *err) YZ_WUR;
/* The MIME parse this process made when it stored message id (with blob blob) a moment ago,
 * when the store keeps parses (keep_parsed) and still has it: the same mime_parse() result
 * as parsing mail_raw() again. It is handed over once: the caller owns *a_r, the arena it
 * lives in, and frees it (*a_r is left alone when NULL is returned: parse the blob then). */
struct mime_msg *mail_parsed_claim(struct mailbox *mb, int64_t id, const char *blob,
				   struct arena **a_r);
/* Drop what is kept for id (a message gone before it was indexed). */
void mail_parsed_drop(struct mailbox *mb, int64_t id);
/* Bytes of the parses kept (for tests and metrics). */
size_t mail_parsed_bytes(struct mail_store *ms);
/* The message bytes (malloc'd; caller frees). */
int mail_raw(struct mailbox *mb, const struct mail_msg *m, char **raw_r, size_t *len_r,
	     struct err *err) YZ_WUR;

enum mail_sort { MAIL_SORT_DATE, MAIL_SORT_FROM, MAIL_SORT_SUBJECT, MAIL_SORT_SIZE };
enum mail_filter {
	MAIL_F_UNREAD = 1 << 0,
	MAIL_F_PINNED = 1 << 1,
	MAIL_F_FLAGGED = 1 << 2,
	MAIL_F_COLOUR = 1 << 3, /* colour == mail_list_q.colour (or any colour if 0) */
	MAIL_F_ATTACHMENT = 1 << 4,
};

struct mail_list_q {
	int64_t folder_id;
	enum mail_sort sort;
	bool ascending;
	unsigned filter;    /* enum mail_filter */
	int colour;
	const char *cursor; /* from a previous page's next, or NULL */
	size_t offset;      /* without a cursor: skip this many first (a jump into a long folder;
			       costs a walk of the index, not of the rows) */
	size_t limit;       /* 1..500 */
	bool want_total;
};

/* One page of a folder. Sorting by date puts pinned messages first. Keyset paging: a page
 * costs the same at any depth. *next_r is the cursor for the next page or NULL at the end. */
int mail_list(struct mailbox *mb, const struct mail_list_q *q, struct arena *a,
	      struct mail_msg **v_r, size_t *n_r, const char **next_r, int64_t *total_r,
	      struct err *err) YZ_WUR;
/* Messages of a thread, oldest first (expunged ones left out). */
int mail_thread(struct mailbox *mb, int64_t thread_id, struct arena *a, struct mail_msg **v_r,
		size_t *n_r, struct err *err) YZ_WUR;
/* Look up several ids at once (search results), in the given order; missing or expunged ids
 * are left out. */
int mail_get_many(struct mailbox *mb, const int64_t *ids, size_t nids, struct arena *a,
		  struct mail_msg **v_r, size_t *n_r, struct err *err) YZ_WUR;

/* A batch change. Only the fields whose set_* is true change. */
struct mail_change {
	bool set_flags;
	unsigned flags_add, flags_remove;
	bool set_keywords;
	const char *keywords_add, *keywords_remove; /* space-separated */
	bool set_colour;
	int colour;
	bool set_pinned;
	bool pinned;
	bool set_note;
	const char *note; /* "" removes it; at most MAIL_NOTE_MAX bytes */
};
#define MAIL_NOTE_MAX 8192

/* Apply to every id; all or nothing. ERR_NOTFOUND names the first unknown id. */
int mail_update(struct mailbox *mb, const int64_t *ids, size_t n, const struct mail_change *c,
		struct err *err) YZ_WUR;
/* Move or copy into folder_id; new ids (copy) or the same ids (move) get new UIDs there.
 * uids_r (may be NULL) receives the new UIDs in order. */
int mail_move(struct mailbox *mb, const int64_t *ids, size_t n, int64_t folder_id,
	      uint32_t *uids_r, struct err *err) YZ_WUR;
int mail_copy(struct mailbox *mb, const int64_t *ids, size_t n, int64_t folder_id,
	      int64_t *new_ids_r, uint32_t *uids_r, struct err *err) YZ_WUR;
/* Delete: outside Trash moves to Trash; in Trash expunges (recoverable). */
int mail_delete(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err) YZ_WUR;
/* Expunge wherever they are (IMAP EXPUNGE, POP3 DELE). */
int mail_expunge(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err) YZ_WUR;
/* Move messages in Trash back to the folder they came from (Inbox if it is gone). */
int mail_untrash(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err) YZ_WUR;

/* Bring back expunged messages expunged at or after since (0: all kept), from folder_id only
 * (0: all), into the folder they were expunged from (Inbox if it is gone). *n_r restored. */
int mail_restore(struct mailbox *mb, int64_t since, int64_t folder_id, int64_t *n_r,
		 struct err *err) YZ_WUR;
/* Drop expunged messages older than the retention period. */
int mail_purge(struct mailbox *mb, int64_t now, int64_t *n_r, struct err *err) YZ_WUR;

/* Every blob the mailbox refers to (expunged-but-kept ones too), for the GC mark phase. */
int mail_mark_blobs(struct mailbox *mb, struct blob_marks *marks, struct err *err) YZ_WUR;

/* Count messages (expunged-but-kept ones too) whose blob file is missing. */
int mail_blobs_missing(struct mailbox *mb, int64_t *missing_r, struct err *err) YZ_WUR;

/* Iterate a folder's messages in UID order (export, IMAP). fn returns non-zero to stop; that
 * value is returned, 0 after the last message, -1 with err when the folder could not be read
 * to the end. */
typedef int mail_each_fn(void *ctx, const struct mail_msg *m);
int mail_each(struct mailbox *mb, int64_t folder_id, struct arena *a, mail_each_fn *fn,
	      void *ctx, struct err *err) YZ_WUR;

/* ---- uploads: attachments for a message being written (kept a day) ---- */
struct mail_upload {
	char id[33];
	char blob[BLOB_HEX];
	const char *name, *type;
	int64_t size, created;
};
/* Store the bytes (durably) and remember them under a new random id. ERR_QUOTA when the
 * upload alone does not fit the account's quota. */
int mail_upload_add(struct mailbox *mb, const char *data, size_t len, const char *name,
		    const char *type, struct mail_upload *u_r, struct err *err) YZ_WUR;
int mail_upload_get(struct mailbox *mb, const char *id, struct arena *a, struct mail_upload *u_r,
		    struct err *err) YZ_WUR;
/* Forget uploads older than max_age seconds (their blobs go to the GC). */
int mail_upload_expire(struct mailbox *mb, int64_t max_age, struct err *err) YZ_WUR;

/* ---- the web app's saved state (tabs survive sign-out, crashes, other devices) ---- */
#define MAIL_UI_STATE_MAX (512 * 1024)
/* value is opaque text (the app's JSON); *version_r counts writes (an ETag). ERR_NOTFOUND
 * when nothing was saved under key. */
int mail_ui_get(struct mailbox *mb, const char *key, struct arena *a, const char **value_r,
		int64_t *version_r, struct err *err) YZ_WUR;
/* Save; with if_version > 0 only when the stored version is that one (ERR_EXISTS otherwise:
 * another device wrote meanwhile). *version_r gets the new version. */
int mail_ui_put(struct mailbox *mb, const char *key, const char *value, int64_t if_version,
		int64_t *version_r, struct err *err) YZ_WUR;

/* Addresses this account wrote to or heard from, most recent first, whose address or name
 * starts with (or, for Chinese names, contains) prefix: compose autocomplete. */
struct mail_correspondent {
	const char *name, *address;
	int64_t last;
};
int mail_correspondents(struct mailbox *mb, const char *prefix, size_t limit, struct arena *a,
			struct mail_correspondent **v_r, size_t *n_r, struct err *err) YZ_WUR;

/* ---- index queue (consumed by search/index.c) ---- */
enum mail_index_op { MAIL_IDX_PUT = 1, MAIL_IDX_DELETE = 2, MAIL_IDX_FOLDER = 3 };
struct mail_index_job {
	int64_t seq, message_id;
	enum mail_index_op op;
};
/* Up to max jobs, oldest first. */
int mail_index_jobs(struct mailbox *mb, size_t max, struct arena *a, struct mail_index_job **v_r,
		    size_t *n_r, struct err *err) YZ_WUR;
/* Remove jobs with seq <= upto (after the index committed them). */
int mail_index_done(struct mailbox *mb, int64_t upto, struct err *err) YZ_WUR;
/* Empty the queue and queue every live message again (reindex). */
int mail_index_all(struct mailbox *mb, struct err *err) YZ_WUR;
/* Jobs waiting in the index queue, or -1 if the database cannot say. */
int64_t mail_index_pending(struct mailbox *mb);

/* ---- maintenance ---- */
/* Let SQLite's planner learn the tables' shape (PRAGMA optimize, bounded): after bulk
 * imports and hourly. Without statistics it picked a full scan for some counts. */
int mail_optimize(struct mailbox *mb, struct err *err) YZ_WUR;
/* Rebuild mail.db from the blobs it refers to: the cached fields (envelope, structure, snippet,
 * thread) are recomputed from the blob; user-set state (flags, notes, ...) stays. */
int mail_rebuild_cache(struct mailbox *mb, int64_t *n_r, struct err *err) YZ_WUR;

/* Recreate an account's mail.db from its journal (mail.log, one line per stored message,
 * written before the row commits) and the blobs: every message that was stored and not purged
 * comes back into the folder it arrived in. A damaged or missing mail.db is moved aside
 * (mail.db.broken-TIME) first. User-set state is lost. The mailbox must not be open. */
int mail_rebuild_from_log(struct mail_store *ms, int64_t account_id, int64_t *n_r,
			  struct err *err) YZ_WUR;
/* PRAGMA integrity_check of a mailbox that is not open: 0 if sound. */
int mail_check_db(struct mail_store *ms, int64_t account_id, struct err *err) YZ_WUR;

/* The account ids that have a mailbox on disk. */
typedef int mail_account_fn(void *ctx, int64_t account_id);
int mail_store_each_account(struct mail_store *ms, mail_account_fn *fn, void *ctx,
			    struct err *err) YZ_WUR;

#endif
