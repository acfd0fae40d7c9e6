/* The IMAP server's view of a folder (mail_imap.h): compact reads by UID, changes since a
 * MODSEQ from the messages and vanished tables, conditional flag stores. */
#include "mail_int.h"
#include "mail_imap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define ROW_COLS "id, uid, modseq, flags, keywords, colour, pinned, size, internal_date, date, blob"
#define CHUNK 512

static void row_read(sqlite3_stmt *s, struct arena *a, struct mail_imap_row *r)
{
	const unsigned char *kw;
	r->id = sqlite3_column_int64(s, 0);
	r->uid = (uint32_t)sqlite3_column_int64(s, 1);
	r->modseq = (uint64_t)sqlite3_column_int64(s, 2);
	r->flags = (unsigned)sqlite3_column_int(s, 3);
	kw = sqlite3_column_text(s, 4);
	r->keywords = arena_strdup(a, kw ? (const char *)kw : "");
	r->colour = sqlite3_column_int(s, 5);
	r->pinned = sqlite3_column_int(s, 6) != 0;
	r->size = sqlite3_column_int64(s, 7);
	r->internal_date = sqlite3_column_int64(s, 8);
	r->date = sqlite3_column_int64(s, 9);
	db_col_text(s, 10, r->blob, sizeof(r->blob));
}

int mail_imap_read_begin(struct mailbox *mb, struct err *err)
{
	return db_exec(mb->db, "BEGIN", err);
}

void mail_imap_read_end(struct mailbox *mb)
{
	mail_rollback(mb);
}

int mail_imap_uids(struct mailbox *mb, int64_t folder, uint32_t **uids_r, size_t *n_r,
		   uint32_t *first_unseen_r, struct err *err)
{
	sqlite3_stmt *s;
	uint32_t *v = NULL, unseen = 0;
	size_t n = 0, cap = 0;

	/* from the covering index messages_live_uid alone */
	if (db_prepare(mb->db,
		       "SELECT uid, flags FROM messages WHERE folder_id = ? AND expunged_at = 0"
		       " ORDER BY uid",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, folder);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n] = (uint32_t)sqlite3_column_int64(s, 0);
		if (unseen == 0 && (sqlite3_column_int64(s, 1) & MAIL_SEEN) == 0)
			unseen = v[n];
		n++;
	}
	if (db_end(mb->db, s, "list uids", err) < 0) {
		free(v);
		return -1;
	}
	*uids_r = v;
	*n_r = n;
	if (first_unseen_r)
		*first_unseen_r = unseen;
	return 0;
}

int mail_imap_rows(struct mailbox *mb, int64_t folder, uint32_t lo, uint32_t hi,
		   struct arena *a, mail_imap_row_fn *fn, void *ctx, struct err *err)
{
	int64_t after = (int64_t)lo - 1;
	int r = 0;

	/* in chunks, so no statement stays open while the caller works */
	while (r == 0 && after < (int64_t)hi) {
		struct mail_imap_row batch[CHUNK];
		sqlite3_stmt *s;
		size_t n = 0;
		if (db_prepare(mb->db,
			       "SELECT " ROW_COLS " FROM messages WHERE folder_id = ? AND uid > ?"
			       " AND uid <= ? AND expunged_at = 0 ORDER BY uid LIMIT " "512",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, after);
		sqlite3_bind_int64(s, 3, hi);
		while (n < CHUNK && sqlite3_step(s) == SQLITE_ROW)
			row_read(s, a, &batch[n++]);
		if (db_end(mb->db, s, "list messages", err) < 0)
			return -1;
		for (size_t i = 0; i < n && r == 0; i++)
			r = fn(ctx, &batch[i]);
		if (n < CHUNK)
			break;
		after = batch[n - 1].uid;
	}
	return r;
}

int mail_imap_row_get(struct mailbox *mb, int64_t folder, uint32_t uid, struct arena *a,
		      struct mail_imap_row *r_r, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db,
		       "SELECT " ROW_COLS " FROM messages WHERE folder_id = ? AND uid = ?"
		       " AND expunged_at = 0",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, uid);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "get message", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no message with UID %u", uid);
	}
	row_read(s, a, r_r);
	db_done(mb->db, s);
	return 0;
}

/* Grow an arena array of uint32_t. */
static void u32_push(struct arena *a, uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		uint32_t *nv = arena_alloc(a, nc * sizeof(*nv));
		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
}

static int vanished_since(struct mailbox *mb, int64_t folder, uint64_t since, uint32_t below,
			  struct arena *a, uint32_t **v_r, size_t *n_r, struct err *err)
{
	sqlite3_stmt *s;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	if (db_prepare(mb->db,
		       "SELECT uid FROM vanished WHERE folder_id = ? AND modseq > ? AND uid < ?"
		       " ORDER BY uid",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, (int64_t)since);
	sqlite3_bind_int64(s, 3, below);
	while (sqlite3_step(s) == SQLITE_ROW)
		u32_push(a, &v, &n, &cap, (uint32_t)sqlite3_column_int64(s, 0));
	if (db_end(mb->db, s, "list vanished", err) < 0)
		return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

int mail_imap_vanished(struct mailbox *mb, int64_t folder, uint64_t since, struct arena *a,
		       uint32_t **uids_r, size_t *n_r, struct err *err)
{
	return vanished_since(mb, folder, since, UINT32_MAX, a, uids_r, n_r, err);
}

int mail_imap_changes(struct mailbox *mb, int64_t folder, uint64_t since, uint64_t exp_since,
		      uint32_t known_uidnext, struct arena *a, struct mail_imap_changes *c,
		      struct err *err)
{
	sqlite3_stmt *s;
	size_t cap = 0, ccap = 0;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (mail_imap_read_begin(mb, err) < 0)
		return -1;
	if (mail_folder_get(mb, folder, a, &c->folder, err) < 0)
		goto out;
	if (c->folder.highestmodseq <= since && c->folder.highestmodseq <= exp_since &&
	    c->folder.uidnext <= known_uidnext) {
		ret = 0; /* nothing happened here */
		goto out;
	}
	if (c->folder.highestmodseq > exp_since &&
	    vanished_since(mb, folder, exp_since, known_uidnext, a, &c->vanished, &c->nvanished,
			   err) < 0)
		goto out;
	if (c->folder.uidnext > known_uidnext) {
		if (db_prepare(mb->db,
			       "SELECT uid FROM messages WHERE folder_id = ? AND uid >= ?"
			       " AND expunged_at = 0 ORDER BY uid",
			       &s, err) < 0)
			goto out;
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, known_uidnext);
		while (sqlite3_step(s) == SQLITE_ROW)
			u32_push(a, &c->added, &c->nadded, &cap, (uint32_t)sqlite3_column_int64(s, 0));
		if (db_end(mb->db, s, "list new", err) < 0)
			goto out;
	}
	if (c->folder.highestmodseq > since) {
		if (db_prepare(mb->db,
			       "SELECT " ROW_COLS " FROM messages WHERE folder_id = ? AND uid < ?"
			       " AND modseq > ? AND expunged_at = 0 ORDER BY uid",
			       &s, err) < 0)
			goto out;
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, known_uidnext);
		sqlite3_bind_int64(s, 3, (int64_t)since);
		while (sqlite3_step(s) == SQLITE_ROW) {
			if (c->nchanged == ccap) {
				size_t nc = ccap ? ccap * 2 : 32;
				struct mail_imap_row *nv = arena_alloc(a, nc * sizeof(*nv));
				if (c->nchanged)
					memcpy(nv, c->changed, c->nchanged * sizeof(*nv));
				c->changed = nv;
				ccap = nc;
			}
			row_read(s, a, &c->changed[c->nchanged++]);
		}
		if (db_end(mb->db, s, "list changed", err) < 0)
			goto out;
	}
	ret = 0;
out:
	mail_imap_read_end(mb);
	return ret;
}

int mail_imap_ids(struct mailbox *mb, int64_t folder, const uint32_t *uids, size_t n,
		  int64_t *ids_r, uint32_t *found_uids_r, size_t *n_r, struct err *err)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s;
		if (db_prepare(mb->db,
			       "SELECT id FROM messages WHERE folder_id = ? AND uid = ?"
			       " AND expunged_at = 0",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, uids[i]);
		if (sqlite3_step(s) == SQLITE_ROW) {
			ids_r[k] = sqlite3_column_int64(s, 0);
			if (found_uids_r)
				found_uids_r[k] = uids[i];
			k++;
		}
		if (db_end(mb->db, s, "message by uid", err) < 0)
			return -1;
	}
	*n_r = k;
	return 0;
}

int mail_imap_deleted(struct mailbox *mb, int64_t folder, const uint32_t *lo,
		      const uint32_t *hi, size_t nranges, struct arena *a, int64_t **ids_r,
		      uint32_t **uids_r, size_t *n_r, struct err *err)
{
	int64_t *ids = NULL;
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	size_t nr = nranges ? nranges : 1;

	for (size_t r = 0; r < nr; r++) {
		sqlite3_stmt *s;
		if (db_prepare(mb->db,
			       "SELECT id, uid FROM messages WHERE folder_id = ? AND uid >= ?"
			       " AND uid <= ? AND expunged_at = 0 AND (flags & 8) != 0 ORDER BY uid",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, folder);
		sqlite3_bind_int64(s, 2, nranges ? lo[r] : 1);
		sqlite3_bind_int64(s, 3, nranges ? hi[r] : UINT32_MAX);
		while (sqlite3_step(s) == SQLITE_ROW) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				int64_t *ni = arena_alloc(a, nc * sizeof(*ni));
				uint32_t *nu = arena_alloc(a, nc * sizeof(*nu));
				if (n) {
					memcpy(ni, ids, n * sizeof(*ni));
					memcpy(nu, uids, n * sizeof(*nu));
				}
				ids = ni;
				uids = nu;
				cap = nc;
			}
			ids[n] = sqlite3_column_int64(s, 0);
			uids[n] = (uint32_t)sqlite3_column_int64(s, 1);
			n++;
		}
		if (db_end(mb->db, s, "list deleted", err) < 0)
			return -1;
	}
	*ids_r = ids;
	*uids_r = uids;
	*n_r = n;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int mail_imap_uids_of(struct mailbox *mb, int64_t folder, const int64_t *ids, size_t n,
		      uint32_t *uids_r, size_t *n_r, struct err *err)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s;
		if (db_prepare(mb->db,
			       "SELECT uid FROM messages WHERE id = ? AND folder_id = ?"
			       " AND expunged_at = 0",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, folder);
		if (sqlite3_step(s) == SQLITE_ROW)
			uids_r[k++] = (uint32_t)sqlite3_column_int64(s, 0);
		if (db_end(mb->db, s, "uid of message", err) < 0)
			return -1;
	}
	/* ascending (insertion sort is fine for the usual small hit lists; qsort otherwise) */
	for (size_t i = 1; i < k && k <= 64; i++) {
		uint32_t x = uids_r[i];
		size_t j = i;
		while (j > 0 && uids_r[j - 1] > x) {
			uids_r[j] = uids_r[j - 1];
			j--;
		}
		uids_r[j] = x;
	}
	if (k > 64)
		qsort(uids_r, k, sizeof(*uids_r), u32_cmp);
	*n_r = k;
	return 0;
}

/* ---- STORE ---- */

static int lowest_colour(unsigned mask)
{
	for (int c = 1; c <= MAIL_COLOUR_MAX; c++)
		if (mask & (1u << c))
			return c;
	return 0;
}

/* The row after op. */
static void apply_op(const struct mail_imap_flagop *op, const struct mail_imap_row *cur,
		     struct arena *a, struct mail_imap_row *nw)
{
	*nw = *cur;
	switch (op->mode) {
	case 0:
		nw->flags = op->flags;
		nw->keywords = mail_keywords_apply("", op->keywords, NULL, a);
		nw->colour = lowest_colour(op->colour_mask);
		nw->pinned = op->pinned;
		break;
	case 1:
		nw->flags = cur->flags | op->flags;
		nw->keywords = mail_keywords_apply(cur->keywords, op->keywords, NULL, a);
		if (op->colour_mask)
			nw->colour = lowest_colour(op->colour_mask);
		if (op->pinned)
			nw->pinned = true;
		break;
	default:
		nw->flags = cur->flags & ~op->flags;
		nw->keywords = mail_keywords_apply(cur->keywords, NULL, op->keywords, a);
		if (cur->colour > 0 && (op->colour_mask & (1u << cur->colour)))
			nw->colour = 0;
		if (op->pinned)
			nw->pinned = false;
	}
	nw->flags &= 0x1f;
}

static bool row_same(const struct mail_imap_row *x, const struct mail_imap_row *y)
{
	return x->flags == y->flags && x->colour == y->colour && x->pinned == y->pinned &&
	       strcmp(x->keywords, y->keywords) == 0;
}

int mail_imap_store(struct mailbox *mb, int64_t folder, const uint32_t *uids, size_t n,
		    const struct mail_imap_flagop *op, uint64_t unchangedsince, struct arena *a,
		    struct mail_imap_stored *out, size_t *nout, uint64_t *modseq_r,
		    struct err *err)
{
	struct mail_events ev = {0};
	uint64_t modseq = 0;
	size_t k = 0;
	int ret = -1;

	*nout = 0;
	*modseq_r = 0;
	if (mail_keywords_check(op->keywords, err) < 0)
		return -1;
	if (mail_begin(mb, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct mail_imap_stored *o = &out[k];
		struct mail_imap_row cur;
		sqlite3_stmt *s;
		struct err e2;

		if (mail_imap_row_get(mb, folder, uids[i], a, &cur, &e2) < 0) {
			if (e2.code == ERR_NOTFOUND)
				continue;
			*err = e2;
			goto fail;
		}
		memset(o, 0, sizeof(*o));
		k++;
		if (unchangedsince && cur.modseq > unchangedsince) {
			o->row = cur;
			o->modified = true;
			continue;
		}
		apply_op(op, &cur, a, &o->row);
		if (row_same(&cur, &o->row))
			continue;
		if (modseq == 0 && mail_next_modseq(mb, &modseq, err) < 0)
			goto fail;
		o->changed = true;
		o->row.modseq = modseq;
		if (db_prepare(mb->db,
			       "UPDATE messages SET flags = ?, keywords = ?, colour = ?, pinned = ?,"
			       " modseq = ? WHERE id = ?",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int(s, 1, (int)o->row.flags);
		db_bind_text(s, 2, o->row.keywords);
		sqlite3_bind_int(s, 3, o->row.colour);
		sqlite3_bind_int(s, 4, o->row.pinned);
		sqlite3_bind_int64(s, 5, (int64_t)modseq);
		sqlite3_bind_int64(s, 6, cur.id);
		if (mail_step(mb, s, "store flags", err) < 0)
			goto fail;
		mail_events_add(&ev, MAIL_EV_CHANGED, mb->account_id, folder, cur.id, cur.uid, modseq);
	}
	if (modseq && mail_touch_folder(mb, folder, modseq, err) < 0)
		goto fail;
	if (mail_commit(mb, err) < 0)
		goto fail;
	mail_events_publish(mb->ms, &ev);
	*nout = k;
	*modseq_r = modseq;
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	mail_events_release(&ev);
	return ret;
}
