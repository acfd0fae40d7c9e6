/* mail_imap.h: what the IMAP server (server/imap/) needs from a folder beyond mail.h: compact
 * UID lists, rows by UID range, the changes since a MODSEQ (CONDSTORE/QRESYNC, RFC 7162, and
 * the untagged updates of IDLE), conditional flag stores by UID, and UID -> id maps.
 *
 * Changes still go through mail.h (mail_move, mail_copy, mail_expunge, mail_insert) so the
 * counters, the index queue, the journal and the event bus stay right; mail_imap_store() is the
 * one writer here and follows the same rules (one transaction, one new MODSEQ, events after
 * the commit). Strings in results live in the caller's arena. */
#ifndef YZ_MAIL_IMAP_H
#define YZ_MAIL_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "store/mail.h"

/* One message as IMAP sees it (no cached envelope: IMAP reads the raw headers). */
struct mail_imap_row {
	int64_t id;
	uint32_t uid;
	uint64_t modseq;
	unsigned flags;       /* enum mail_flag */
	const char *keywords; /* space-separated, "" if none */
	int colour;
	bool pinned;
	int64_t size, internal_date, date;
	char blob[BLOB_HEX];
};

/* Every live UID of a folder, ascending (malloc'd; caller frees; NULL when empty), and when
 * first_unseen_r is not NULL the UID of the first unseen one (0 if none), in the same scan. */
int mail_imap_uids(struct mailbox *mb, int64_t folder, uint32_t **uids_r, size_t *n_r,
		   uint32_t *first_unseen_r, struct err *err) YZ_WUR;

/* Rows with lo <= uid <= hi, ascending, in chunks (fn may not call back into the store's
 * write functions). fn returns non-zero to stop (that value is returned); -1 with err when
 * the rows could not be read to the end. */
typedef int mail_imap_row_fn(void *ctx, const struct mail_imap_row *r);
int mail_imap_rows(struct mailbox *mb, int64_t folder, uint32_t lo, uint32_t hi,
		   struct arena *a, mail_imap_row_fn *fn, void *ctx, struct err *err) YZ_WUR;
/* One row by UID; ERR_NOTFOUND if it is not (or no longer) there. */
int mail_imap_row_get(struct mailbox *mb, int64_t folder, uint32_t uid, struct arena *a,
		      struct mail_imap_row *r_r, struct err *err) YZ_WUR;

/* What changed in a folder since a client last looked, read in one snapshot. */
struct mail_imap_changes {
	struct mail_folder folder;  /* as of the snapshot */
	uint32_t *vanished;         /* UIDs below known_uidnext gone since exp_since, ascending */
	size_t nvanished;
	uint32_t *added;            /* live UIDs >= known_uidnext, ascending */
	size_t nadded;
	struct mail_imap_row *changed; /* live, uid < known_uidnext, modseq > since */
	size_t nchanged;
};
/* ERR_NOTFOUND when the folder is gone. Arrays live in the arena. With quick set, nothing is
 * read beyond the folder row when its highestmodseq and uidnext show no change. */
int mail_imap_changes(struct mailbox *mb, int64_t folder, uint64_t since, uint64_t exp_since,
		      uint32_t known_uidnext, struct arena *a, struct mail_imap_changes *c_r,
		      struct err *err) YZ_WUR;

/* UIDs (ascending) that left the folder after modseq since (QRESYNC VANISHED (EARLIER)). */
int mail_imap_vanished(struct mailbox *mb, int64_t folder, uint64_t since, struct arena *a,
		       uint32_t **uids_r, size_t *n_r, struct err *err) YZ_WUR;

/* Message ids of the given UIDs that are live in the folder, in the same order; UIDs that are
 * not are dropped (*n_r counts what was found; found_uids_r may be NULL). */
int mail_imap_ids(struct mailbox *mb, int64_t folder, const uint32_t *uids, size_t n,
		  int64_t *ids_r, uint32_t *found_uids_r, size_t *n_r, struct err *err) YZ_WUR;

/* Live messages flagged \Deleted (for EXPUNGE), optionally only those in [lo, hi] UID ranges
 * (nranges 0: all). Arrays malloc'd in the arena. */
int mail_imap_deleted(struct mailbox *mb, int64_t folder, const uint32_t *lo,
		      const uint32_t *hi, size_t nranges, struct arena *a, int64_t **ids_r,
		      uint32_t **uids_r, size_t *n_r, struct err *err) YZ_WUR;


/* A STORE (RFC 3501 6.4.6). mode: 0 replaces, 1 adds, -1 removes. Colours and the pin are
 * named by the IMAP layer's keyword mapping: colour_mask has bit c set for colour c (1..7);
 * adding or replacing takes the lowest named colour, removing clears the colour if it is
 * named. keywords are the other keywords (space-separated, validated here). */
struct mail_imap_flagop {
	int mode;
	unsigned flags;
	const char *keywords;
	unsigned colour_mask;
	bool pinned;
};

/* The result for one UID that was found. */
struct mail_imap_stored {
	struct mail_imap_row row; /* the state after the store */
	bool changed;             /* false: nothing to change (or refused by unchangedsince) */
	bool modified;            /* refused: its modseq was above unchangedsince */
};

/* Apply op to each live UID in one transaction with one new MODSEQ (only rows that change get
 * it). unchangedsince > 0 refuses rows whose modseq is above it (RFC 7162 3.2), 0 = none.
 * out has room for n; *nout counts rows found. *modseq_r is the MODSEQ used (0 if no row
 * changed). */
int mail_imap_store(struct mailbox *mb, int64_t folder, const uint32_t *uids, size_t n,
		    const struct mail_imap_flagop *op, uint64_t unchangedsince, struct arena *a,
		    struct mail_imap_stored *out, size_t *nout, uint64_t *modseq_r,
		    struct err *err) YZ_WUR;

/* Map message ids (search hits) to their UIDs in the folder; ids elsewhere or gone are
 * dropped. uids_r receives them ascending. */
int mail_imap_uids_of(struct mailbox *mb, int64_t folder, const int64_t *ids, size_t n,
		      uint32_t *uids_r, size_t *n_r, struct err *err) YZ_WUR;

/* Read-snapshot helpers: several reads that must agree (SELECT, refresh). */
int mail_imap_read_begin(struct mailbox *mb, struct err *err) YZ_WUR;
void mail_imap_read_end(struct mailbox *mb);

#endif
