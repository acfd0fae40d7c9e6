/* search.h: full-text search over one account's mail, a pure C face on Xapian (STYLE.md
 * section 7). The body is search_xapian.cc, the only C++ in the tree: every function there is
 * noexcept and turns Xapian::Error (and anything else thrown) into struct err. No C++ type
 * appears here.
 *
 * Chinese, Japanese and Korean text is indexed and queried in Xapian's CJK n-gram mode
 * (unigrams and bigrams), after normalisation: full-width ASCII forms (U+FF01..U+FF5E) and the
 * ideographic space become their half-width forms, and Xapian folds case. So any fragment a
 * user types (one character, two, a whole phrase) finds the mails holding it.
 *
 * The user's query syntax is split in two by search_query_parse() (search/query.c, pure C):
 * what only the text index can answer (words, "phrases", from: to: cc: subject: note: file:)
 * goes to Xapian; what mail.db answers better because it changes (in: is: tag:) comes back
 * as structured filters for the caller's SQL. has:attachment, before: and after: are
 * answered by Xapian (a boolean term and a date value) so paging stays exact.
 *
 * One writer at a time per index (Xapian's lock); readers are independent. Results are
 * copied into the caller's arena. */
#ifndef YZ_SEARCH_H
#define YZ_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "lib/arena.h"
#include "lib/err.h"

/* The promise made above, in a form the C++ body is held to: no exception leaves the shim. */
#ifdef __cplusplus
#define SEARCH_NOEXCEPT noexcept
#else
#define SEARCH_NOEXCEPT
#endif

struct search_db;

/* Open the index in dir. writable creates it if missing, split into `shards` (1..8) Xapian
 * databases that are written in parallel, one thread each (an existing index keeps the
 * shards it was made with; readers pass 0), and fails with ERR_LIMIT when another writer
 * holds the lock; a reader on a missing index fails with ERR_NOTFOUND. Shards are invisible
 * to everything else here: documents are still keyed by message id. */
int search_open(const char *dir, bool writable, unsigned shards, struct search_db **db_r,
		struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* How many shards the index has (1 for an index made before shards). */
unsigned search_shards(struct search_db *db) SEARCH_NOEXCEPT;
/* Commit (writers) and close; sets *dbp to NULL. */
void search_close(struct search_db **dbp) SEARCH_NOEXCEPT;
/* Readers: see the latest committed state. */
int search_reopen(struct search_db *db, struct err *err) SEARCH_NOEXCEPT YZ_WUR;

/* One message as the index sees it. Strings are UTF-8 and may be NULL. */
struct search_doc {
	int64_t id;        /* the message id in mail.db (> 0); the document is keyed by it */
	int64_t folder_id; /* boolean term, so in:FOLDER is exact */
	int64_t date;      /* unix seconds: date order, before:/after: */
	const char *subject;
	const char *from;   /* "Name <address>" forms, joined */
	const char *to;     /* to and cc, joined */
	const char *body;   /* the text body (plain, or text made from HTML) */
	const char *attach_names;
	const char *attach_text; /* text of text attachments */
	const char *note;        /* the user's note on the mail */
	bool has_attachment;
};

/* Add or replace the document for doc->id. Pending until search_commit(); with more than one
 * shard the text is copied and indexed on the shard's thread, so a failure may be reported
 * only by the next call or by search_commit(). */
int search_put(struct search_db *db, const struct search_doc *doc,
	       struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* Remove a document; no error if it was not there. */
int search_delete(struct search_db *db, int64_t id,
		  struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* Move a document to another folder without reindexing its text. ERR_NOTFOUND if absent. */
int search_set_folder(struct search_db *db, int64_t id, int64_t folder_id,
		      struct err *err) SEARCH_NOEXCEPT YZ_WUR;
int search_commit(struct search_db *db, struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* Writers: commit, then rewrite the index compactly and carry on with the new copy. Indexing
 * mail by mail leaves the B-trees' blocks partly filled; compacting takes about a third off
 * the index, so run it after a bulk (re)index and now and then. Needs free space the size of
 * the index beside it (DIR.compact); readers see the result after search_reopen(). */
int search_compact(struct search_db *db, struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* Number of documents (for checks and stats). */
int64_t search_count(struct search_db *db) SEARCH_NOEXCEPT;

struct search_query {
	const char *text;      /* the Xapian part (search_parsed.text); "" matches everything */
	int64_t folder_id;     /* 0 = all folders */
	const int64_t *not_folders; /* folders to leave out (e.g. Trash, Junk), or NULL */
	size_t nnot_folders;
	bool has_attachment;
	int64_t after, before; /* unix seconds, 0 = unbounded; after <= date < before */
	bool by_date;          /* newest first; otherwise by relevance */
	size_t offset, limit;
	bool highlight;        /* fill search_hit.highlight */
	size_t highlight_chars; /* excerpt length, default 160 */
};

struct search_hit {
	int64_t id;
	double score;
	/* An excerpt around the matches with each match wrapped in SEARCH_HL_START ..
	 * SEARCH_HL_END; NULL unless asked for. Made from the subject and the first part of the
	 * body, which the index keeps as document data. */
	const char *highlight;
};

#define SEARCH_HL_START "\x01"
#define SEARCH_HL_END "\x02"

/* Run q; hits in order, *total_r an estimate of all matches (exact when small). A query
 * Xapian cannot parse fails with ERR_INVALID and a readable message. */
int search_run(struct search_db *db, const struct search_query *q, struct arena *a,
	       struct search_hit **hits_r, size_t *nhits_r, size_t *total_r,
	       struct err *err) SEARCH_NOEXCEPT YZ_WUR;

/* Highlights for texts the index does not keep (a hit whose match lies past the first part
 * of its body): out[i] gets an excerpt of texts[i] (its first 256 KiB) around q's matches,
 * marked as in search_hit.highlight, or NULL where nothing in it matches. */
int search_snippets(struct search_db *db, const struct search_query *q,
		    const char *const *texts, size_t n, struct arena *a, const char **out,
		    struct err *err) SEARCH_NOEXCEPT YZ_WUR;
/* Whether search_snippets() could find anything for q in a body: false when q's text only
 * names fields (from:, subject:, ...), so the texts need not be read at all. */
int search_wants_text(struct search_db *db, const struct search_query *q, bool *yes_r,
		      struct err *err) SEARCH_NOEXCEPT YZ_WUR;

/* ---- the user's query syntax (search/query.c, pure C) ----
 *   words "a phrase" from:x to:x cc:x subject:x note:x file:x   -> text
 *   in:FOLDER is:unread|read|pinned|flagged|unflagged tag:COLOUR (name or 1..7)
 *   has:attachment before:YYYY-MM-DD after:YYYY-MM-DD (dates in UTC+8 by default)
 * A field value may be quoted: subject:"季度 报告". Unknown name:value pairs are searched as
 * text. Each filter may appear once; limits: 1 KiB of query, 64 terms. */
enum search_is {
	SEARCH_IS_UNREAD = 1 << 0,
	SEARCH_IS_READ = 1 << 1,
	SEARCH_IS_PINNED = 1 << 2,
	SEARCH_IS_FLAGGED = 1 << 3,
	SEARCH_IS_UNFLAGGED = 1 << 4,
};

struct search_parsed {
	const char *text;   /* for search_query.text, "" if only filters were given */
	const char *folder; /* in: value, or NULL */
	unsigned is;        /* enum search_is bits */
	int colour;         /* tag: 1..7, 0 = none */
	bool has_attachment;
	int64_t after, before; /* unix seconds, 0 = none; after:D includes day D, before:D excludes it */
};

/* tz_minutes: the zone dates are read in (480 for China). ERR_INVALID names the bad part. */
int search_query_parse(const char *q, int tz_minutes, struct arena *a, struct search_parsed *out,
		       struct err *err) YZ_WUR;

/* Colour names for tag: and the API, index 1..7; "" at 0. */
extern const char *const search_colours[8];

#ifdef __cplusplus
}
#endif

#endif
