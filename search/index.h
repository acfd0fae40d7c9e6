/* index.h: the mail side of search. Feeds each account's Xapian index (search.h) from the
 * durable queue in its mail.db, and answers the user's queries by combining the index with
 * mail.db (folders by name, flags, colours).
 *
 * The index lives in DATA/accounts/<shard>/<id>/index/. A drain takes the index's write lock
 * only for as long as it runs, so the daemon and a CLI import can both index; whoever finds
 * the lock taken leaves the work queued for the other (ERR_LIMIT). */
#ifndef YZ_SEARCH_INDEX_H
#define YZ_SEARCH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "store/mail.h"

/* Index up to max queued changes (0: all) and commit. *done_r counts jobs taken off the queue.
 * ERR_LIMIT when another process holds the index lock. */
int search_index_drain(struct mailbox *mb, size_t max, size_t *done_r, struct err *err) YZ_WUR;
/* Throw the index away and queue every message again (yizhan reindex). */
int search_index_reset(struct mailbox *mb, struct err *err) YZ_WUR;
/* Rewrite the index compactly (after a reindex: about a third smaller). */
int search_index_compact(struct mailbox *mb, struct err *err) YZ_WUR;
/* Index size in bytes and document count (for checks and benchmarks). */
int search_index_stats(struct mailbox *mb, int64_t *bytes_r, int64_t *docs_r,
		       struct err *err) YZ_WUR;

struct mail_search_q {
	const char *q;      /* the user's query syntax (search.h) */
	int64_t folder_id;  /* 0: every folder but Trash and Junk, unless the query says in: */
	bool by_date;       /* newest first; otherwise by relevance */
	const char *cursor; /* from a previous page, or NULL */
	size_t limit;       /* 1..200 */
};

struct mail_search_hit {
	struct mail_msg msg;
	const char *highlight; /* excerpt with SEARCH_HL_START/END around matches, or NULL */
};

/* One page of results. *total_r estimates all matches; *next_r is NULL at the end. An index
 * that does not exist yet gives no results, not an error. */
int search_mail(struct mailbox *mb, const struct mail_search_q *q, struct arena *a,
		struct mail_search_hit **v_r, size_t *n_r, const char **next_r, int64_t *total_r,
		struct err *err) YZ_WUR;

/* The daemon's background indexer: a thread that drains every mailbox the event bus reports
 * changed (and, once at start, every mailbox with queued work). */
struct search_indexer;
int search_indexer_start(struct mail_store *ms, struct search_indexer **ix_r,
			 struct err *err) YZ_WUR;
void search_indexer_stop(struct search_indexer **ixp);
/* Wait until nothing is queued for the indexer (tests, shutdown); false on timeout. */
bool search_indexer_idle(struct search_indexer *ix, int timeout_ms);

#endif
