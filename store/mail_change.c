/* Changing messages: flags and user state, move, copy, delete, expunge, restore, purge. Each
 * call is one transaction with one new MODSEQ; events go out after the commit. */
#include "mail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define BATCH_MAX 10000

struct row {
	int64_t folder, id;
	uint32_t uid;
	unsigned flags;
	int64_t size, internal_date;
	const char *keywords;
	int64_t trash_from;
	char blob[BLOB_HEX];
};

static int load_row(struct mailbox *mb, int64_t id, struct arena *a, struct row *r,
		    struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db,
		       "SELECT folder_id, uid, flags, size, keywords, trash_from, blob, internal_date"
		       " FROM messages WHERE id = ? AND expunged_at = 0",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "load message", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no message %lld", (long long)id);
	}
	r->id = id;
	r->folder = sqlite3_column_int64(s, 0);
	r->uid = (uint32_t)sqlite3_column_int64(s, 1);
	r->flags = (unsigned)sqlite3_column_int(s, 2);
	r->size = sqlite3_column_int64(s, 3);
	r->keywords = arena_strdup(a, (const char *)sqlite3_column_text(s, 4));
	r->trash_from = sqlite3_column_int64(s, 5);
	db_col_text(s, 6, r->blob, sizeof(r->blob));
	r->internal_date = sqlite3_column_int64(s, 7);
	db_done(mb->db, s);
	return 0;
}

static int check_batch(size_t n, struct err *err)
{
	if (n == 0)
		return err_set(err, ERR_INVALID, "no messages given");
	if (n > BATCH_MAX)
		return err_set(err, ERR_LIMIT, "at most %d messages at once", BATCH_MAX);
	return 0;
}

/* ---- keywords: IMAP atoms, space-separated sets ---- */

static bool keyword_ok(const char *k, size_t n)
{
	if (n == 0 || n > 64 || k[0] == '\\')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		/* RFC 3501 atom-char without list/quoted specials */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return false;
	}
	return true;
}

static bool set_has(const char *set, const char *k, size_t n)
{
	for (const char *p = set; *p;) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		if (len == n && strncasecmp(p, k, n) == 0)
			return true;
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

/* Validate a space-separated keyword list. */
int mail_keywords_check(const char *list, struct err *err)
{
	for (const char *p = list ? list : ""; *p;) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		if (len && !keyword_ok(p, len))
			return err_set(err, ERR_INVALID, "'%.*s' is not a keyword", (int)(len > 64 ? 64 : len), p);
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

const char *mail_keywords_apply(const char *cur, const char *add, const char *del,
				struct arena *a)
{
	struct buf b;
	const char *r;

	buf_init(&b, 64 * 1024);
	for (int pass = 0; pass < 2; pass++) {
		const char *p = pass == 0 ? cur : (add ? add : "");
		while (*p) {
			const char *sp = strchr(p, ' ');
			size_t len = sp ? (size_t)(sp - p) : strlen(p);
			if (len && !(del && set_has(del, p, len)) &&
			    !(b.len && set_has(buf_cstr(&b), p, len))) {
				if ((b.len && buf_append(&b, " ", 1) < 0) || buf_append(&b, p, len) < 0)
					break;
			}
			p += len;
			while (*p == ' ')
				p++;
		}
	}
	r = arena_strdup(a, b.len ? buf_cstr(&b) : "");
	buf_release(&b);
	return r;
}

int mail_update(struct mailbox *mb, const int64_t *ids, size_t n, const struct mail_change *c,
		struct err *err)
{
	struct arena *a;
	struct mail_events ev = {0};
	uint64_t modseq;
	sqlite3_stmt *s;
	int ret = -1;

	if (check_batch(n, err) < 0)
		return -1;
	if (c->set_colour && (c->colour < 0 || c->colour > MAIL_COLOUR_MAX))
		return err_set(err, ERR_INVALID, "colour is 0 (none) to %d", MAIL_COLOUR_MAX);
	if (c->set_note && c->note &&
	    (strlen(c->note) > MAIL_NOTE_MAX || !utf8_valid(c->note, strlen(c->note))))
		return err_set(err, ERR_INVALID, "a note is valid UTF-8 of at most %d bytes",
			       MAIL_NOTE_MAX);
	if (c->set_keywords && (mail_keywords_check(c->keywords_add, err) < 0 ||
				mail_keywords_check(c->keywords_remove, err) < 0))
		return -1;
	a = arena_new();
	if (mail_begin(mb, err) < 0)
		goto out;
	if (mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct row r;
		unsigned flags;
		const char *kw;
		if (load_row(mb, ids[i], a, &r, err) < 0)
			goto fail;
		flags = r.flags;
		if (c->set_flags)
			flags = (flags | c->flags_add) & ~c->flags_remove;
		kw = c->set_keywords ? mail_keywords_apply(r.keywords, c->keywords_add, c->keywords_remove, a)
				     : r.keywords;
		if (db_prepare(mb->db,
			       "UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3,"
			       " colour = CASE WHEN ?4 THEN ?5 ELSE colour END,"
			       " pinned = CASE WHEN ?6 THEN ?7 ELSE pinned END,"
			       " note = CASE WHEN ?8 THEN ?9 ELSE note END WHERE id = ?10",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int(s, 1, (int)(flags & 0x1f));
		db_bind_text(s, 2, kw);
		sqlite3_bind_int64(s, 3, (int64_t)modseq);
		sqlite3_bind_int(s, 4, c->set_colour);
		sqlite3_bind_int(s, 5, c->colour);
		sqlite3_bind_int(s, 6, c->set_pinned);
		sqlite3_bind_int(s, 7, c->pinned);
		sqlite3_bind_int(s, 8, c->set_note);
		db_bind_text(s, 9, c->note ? c->note : "");
		sqlite3_bind_int64(s, 10, ids[i]);
		if (mail_step(mb, s, "update message", err) < 0 ||
		    mail_touch_folder(mb, r.folder, modseq, err) < 0)
			goto fail;
		mail_events_add(&ev, MAIL_EV_CHANGED, mb->account_id, r.folder, r.id, r.uid, modseq);
	}
	if (mail_commit(mb, err) < 0)
		goto fail;
	mail_events_publish(mb->ms, &ev);
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	mail_events_release(&ev);
	arena_free(&a);
	return ret;
}

/* Moves are journalled after they commit: a crash in between costs a rebuild nothing worse
 * than the message in its old folder. */
static void journal_after_commit(struct mailbox *mb, struct buf *journal)
{
	struct err e;
	if (journal->len && mail_log_append(mb, buf_cstr(journal), false, &e) < 0)
		log_warn("mail", "account=%lld journal=\"%s\"", (long long)mb->account_id, e.msg);
}

/* Move one loaded row into folder with a fresh UID (inside a transaction). */
static int move_row(struct mailbox *mb, const struct row *r, int64_t folder, int64_t trash,
		    uint64_t modseq, uint32_t *uid_r, struct mail_events *ev, struct buf *journal,
		    struct arena *a, struct err *err)
{
	sqlite3_stmt *s;
	uint32_t uid;
	int64_t trash_from = 0;

	if (folder == trash)
		trash_from = r->folder == trash ? r->trash_from : r->folder;
	if (mail_alloc_uids(mb, folder, 1, &uid, err) < 0 ||
	    db_prepare(mb->db,
		       "UPDATE messages SET folder_id = ?, uid = ?, modseq = ?, trash_from = ?"
		       " WHERE id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (int64_t)modseq);
	sqlite3_bind_int64(s, 4, trash_from);
	sqlite3_bind_int64(s, 5, r->id);
	if (mail_step(mb, s, "move message", err) < 0 ||
	    mail_touch_folder(mb, r->folder, modseq, err) < 0 ||
	    mail_touch_folder(mb, folder, modseq, err) < 0)
		return -1;
	mail_events_add(ev, MAIL_EV_REMOVED, mb->account_id, r->folder, r->id, r->uid, modseq);
	mail_events_add(ev, MAIL_EV_NEW, mb->account_id, folder, r->id, uid, modseq);
	mail_journal_moved(mb, journal, r->blob, r->folder, folder, a);
	if (uid_r)
		*uid_r = uid;
	return 0;
}

/* Shared body of move, untrash: dest(r) gives the target folder of each row. */
typedef int64_t dest_fn(struct mailbox *mb, const struct row *r, int64_t arg);

static int move_many(struct mailbox *mb, const int64_t *ids, size_t n, dest_fn *dest,
		     int64_t arg, uint32_t *uids_r, struct err *err)
{
	struct arena *a;
	struct mail_events ev = {0};
	struct buf journal;
	uint64_t modseq;
	int64_t trash;
	int ret = -1;

	if (check_batch(n, err) < 0)
		return -1;
	a = arena_new();
	buf_init(&journal, 0);
	if (mail_begin(mb, err) < 0)
		goto out;
	if (mail_folder_by_special(mb, MAIL_TRASH, &trash, err) < 0 ||
	    mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct row r;
		int64_t folder;
		enum mail_special sp;
		if (load_row(mb, ids[i], a, &r, err) < 0)
			goto fail;
		folder = dest(mb, &r, arg);
		if (folder <= 0 || mail_folder_special_of(mb, folder, &sp, err) < 0) {
			if (folder <= 0)
				err_set(err, ERR_NOTFOUND, "no folder to move message %lld to",
					(long long)r.id);
			goto fail;
		}
		if (folder == r.folder) {
			if (uids_r)
				uids_r[i] = r.uid;
			continue;
		}
		if (move_row(mb, &r, folder, trash, modseq, uids_r ? &uids_r[i] : NULL, &ev, &journal,
			     a, err) < 0)
			goto fail;
	}
	if (mail_commit(mb, err) < 0)
		goto fail;
	journal_after_commit(mb, &journal);
	mail_events_publish(mb->ms, &ev);
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	buf_release(&journal);
	mail_events_release(&ev);
	arena_free(&a);
	return ret;
}

static int64_t dest_fixed(struct mailbox *mb, const struct row *r, int64_t folder)
{
	return folder;
}

int mail_move(struct mailbox *mb, const int64_t *ids, size_t n, int64_t folder_id,
	      uint32_t *uids_r, struct err *err)
{
	return move_many(mb, ids, n, dest_fixed, folder_id, uids_r, err);
}

static int64_t inbox_of(struct mailbox *mb)
{
	int64_t id = 0;
	if (mail_folder_by_special(mb, MAIL_INBOX, &id, NULL) < 0)
		return 0;
	return id;
}

static bool folder_exists(struct mailbox *mb, int64_t id)
{
	enum mail_special sp;
	return id > 0 && mail_folder_special_of(mb, id, &sp, NULL) == 0;
}

static int64_t dest_untrash(struct mailbox *mb, const struct row *r, int64_t trash)
{
	if (r->folder != trash)
		return r->folder; /* not in Trash: stays */
	return folder_exists(mb, r->trash_from) ? r->trash_from : inbox_of(mb);
}

int mail_untrash(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err)
{
	int64_t trash;
	if (mail_folder_by_special(mb, MAIL_TRASH, &trash, err) < 0)
		return -1;
	return move_many(mb, ids, n, dest_untrash, trash, NULL, err);
}

int mail_copy(struct mailbox *mb, const int64_t *ids, size_t n, int64_t folder_id,
	      int64_t *new_ids_r, uint32_t *uids_r, struct err *err)
{
	struct arena *a;
	struct mail_events ev = {0};
	uint64_t modseq;
	enum mail_special sp;
	int64_t adding = 0;
	struct mail_usage u;
	struct buf journal;
	int ret = -1;

	if (check_batch(n, err) < 0)
		return -1;
	a = arena_new();
	buf_init(&journal, 0);
	if (mail_begin(mb, err) < 0)
		goto out;
	if (mail_folder_special_of(mb, folder_id, &sp, err) < 0 ||
	    mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct row r;
		sqlite3_stmt *s;
		uint32_t uid;
		int64_t id;
		if (load_row(mb, ids[i], a, &r, err) < 0)
			goto fail;
		adding += r.size;
		if (mail_alloc_uids(mb, folder_id, 1, &uid, err) < 0 ||
		    db_prepare(mb->db,
			       "INSERT INTO messages (folder_id, uid, modseq, blob, size, internal_date,"
			       " date, flags, keywords, colour, pinned, note, snippet, thread_id, subject,"
			       " subject_sort, from_name, from_addr, from_sort, to_list, cc_list,"
			       " message_id, in_reply_to, refs, has_attachments, envelope, structure,"
			       " header_len) SELECT ?1, ?2, ?3, blob, size, internal_date, date, flags,"
			       " keywords, colour, pinned, note, snippet, thread_id, subject,"
			       " subject_sort, from_name, from_addr, from_sort, to_list, cc_list,"
			       " message_id, in_reply_to, refs, has_attachments, envelope, structure,"
			       " header_len FROM messages WHERE id = ?4",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, folder_id);
		sqlite3_bind_int64(s, 2, uid);
		sqlite3_bind_int64(s, 3, (int64_t)modseq);
		sqlite3_bind_int64(s, 4, r.id);
		if (mail_step(mb, s, "copy message", err) < 0)
			goto fail;
		id = sqlite3_last_insert_rowid(db_conn(mb->db, NULL));
		if (new_ids_r)
			new_ids_r[i] = id;
		if (uids_r)
			uids_r[i] = uid;
		mail_events_add(&ev, MAIL_EV_NEW, mb->account_id, folder_id, id, uid, modseq);
		mail_journal_stored(mb, &journal, r.blob, r.internal_date, r.flags, folder_id, a);
	}
	if (mail_usage_get(mb, &u, err) < 0)
		goto fail;
	if (mb->quota > 0 && u.bytes > mb->quota) {
		err_set(err, ERR_QUOTA, "over quota: the copy needs %lld bytes more than are free",
			(long long)(u.bytes - mb->quota));
		goto fail;
	}
	/* a copy is a new message: journalled before it commits, like an insert */
	if (mail_touch_folder(mb, folder_id, modseq, err) < 0 ||
	    mail_log_append(mb, buf_cstr(&journal), false, err) < 0 || mail_commit(mb, err) < 0)
		goto fail;
	mail_events_publish(mb->ms, &ev);
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	(void)adding;
	buf_release(&journal);
	mail_events_release(&ev);
	arena_free(&a);
	return ret;
}

static int expunge_rows(struct mailbox *mb, const int64_t *ids, size_t n, bool only_trash,
			struct err *err)
{
	struct arena *a;
	struct mail_events ev = {0};
	struct buf journal;
	uint64_t modseq;
	int64_t trash = 0, now = time_now();
	int ret = -1;

	if (check_batch(n, err) < 0)
		return -1;
	a = arena_new();
	buf_init(&journal, 0);
	if (mail_begin(mb, err) < 0)
		goto out;
	if (mail_folder_by_special(mb, MAIL_TRASH, &trash, err) < 0 ||
	    mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct row r;
		sqlite3_stmt *s;
		if (load_row(mb, ids[i], a, &r, err) < 0)
			goto fail;
		if (only_trash && r.folder != trash) {
			/* deleting outside Trash moves there */
			if (move_row(mb, &r, trash, trash, modseq, NULL, &ev, &journal, a, err) < 0)
				goto fail;
			continue;
		}
		if (db_prepare(mb->db,
			       "UPDATE messages SET expunged_at = ?, modseq = ? WHERE id = ?", &s,
			       err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, now);
		sqlite3_bind_int64(s, 2, (int64_t)modseq);
		sqlite3_bind_int64(s, 3, r.id);
		if (mail_step(mb, s, "expunge", err) < 0 ||
		    mail_touch_folder(mb, r.folder, modseq, err) < 0)
			goto fail;
		mail_events_add(&ev, MAIL_EV_REMOVED, mb->account_id, r.folder, r.id, r.uid, modseq);
	}
	if (mail_commit(mb, err) < 0)
		goto fail;
	journal_after_commit(mb, &journal);
	mail_events_publish(mb->ms, &ev);
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	buf_release(&journal);
	mail_events_release(&ev);
	arena_free(&a);
	return ret;
}

int mail_delete(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err)
{
	return expunge_rows(mb, ids, n, true, err);
}

int mail_expunge(struct mailbox *mb, const int64_t *ids, size_t n, struct err *err)
{
	return expunge_rows(mb, ids, n, false, err);
}

int mail_restore(struct mailbox *mb, int64_t since, int64_t folder_id, int64_t *n_r,
		 struct err *err)
{
	struct mail_events ev = {0};
	sqlite3_stmt *s;
	uint64_t modseq;
	int64_t inbox, count = 0, bytes = 0;
	struct mail_usage u;
	struct arena *a = arena_new();
	struct buf journal;
	int ret = -1;

	buf_init(&journal, 0);
	if (mail_begin(mb, err) < 0) {
		arena_free(&a);
		buf_release(&journal);
		return -1;
	}
	if (mail_folder_by_special(mb, MAIL_INBOX, &inbox, err) < 0 ||
	    mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (;;) {
		int64_t ids[256], folders[256];
		uint32_t olduids[256];
		char blobs[256][BLOB_HEX];
		size_t n = 0;
		if (db_prepare(mb->db,
			       "SELECT id, folder_id, uid, size, blob FROM messages WHERE expunged_at != 0"
			       " AND expunged_at >= ?1 AND (?2 = 0 OR folder_id = ?2) ORDER BY id LIMIT 256",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, since > 0 ? since : 1);
		sqlite3_bind_int64(s, 2, folder_id);
		while (n < ARRAY_LEN(ids) && sqlite3_step(s) == SQLITE_ROW) {
			ids[n] = sqlite3_column_int64(s, 0);
			folders[n] = sqlite3_column_int64(s, 1);
			olduids[n] = (uint32_t)sqlite3_column_int64(s, 2);
			bytes += sqlite3_column_int64(s, 3);
			db_col_text(s, 4, blobs[n], BLOB_HEX);
			n++;
		}
		if (db_end(mb->db, s, "list expunged", err) < 0)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			int64_t to = folder_exists(mb, folders[i]) ? folders[i] : inbox;
			uint32_t uid;
			(void)olduids[i];
			if (to != folders[i] && blobs[i][0])
				mail_journal_moved(mb, &journal, blobs[i], folders[i], to, a);
			/* back with a new UID: the old one may have been seen as expunged */
			if (mail_alloc_uids(mb, to, 1, &uid, err) < 0 ||
			    db_prepare(mb->db,
				       "UPDATE messages SET folder_id = ?, uid = ?, modseq = ?,"
				       " expunged_at = 0 WHERE id = ?",
				       &s, err) < 0)
				goto fail;
			sqlite3_bind_int64(s, 1, to);
			sqlite3_bind_int64(s, 2, uid);
			sqlite3_bind_int64(s, 3, (int64_t)modseq);
			sqlite3_bind_int64(s, 4, ids[i]);
			if (mail_step(mb, s, "restore", err) < 0 ||
			    mail_touch_folder(mb, to, modseq, err) < 0)
				goto fail;
			mail_events_add(&ev, MAIL_EV_NEW, mb->account_id, to, ids[i], uid, modseq);
			count++;
		}
		if (n < ARRAY_LEN(ids))
			break;
	}
	if (mail_usage_get(mb, &u, err) < 0)
		goto fail;
	if (mb->quota > 0 && u.bytes > mb->quota) {
		err_set(err, ERR_QUOTA, "restoring %lld messages (%lld bytes) would exceed the quota",
			(long long)count, (long long)bytes);
		goto fail;
	}
	if (mail_commit(mb, err) < 0)
		goto fail;
	journal_after_commit(mb, &journal);
	mail_events_publish(mb->ms, &ev);
	*n_r = count;
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	buf_release(&journal);
	arena_free(&a);
	mail_events_release(&ev);
	return ret;
}

int mail_purge(struct mailbox *mb, int64_t now, int64_t *n_r, struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mb->ms);
	sqlite3_stmt *s;
	int64_t n;

	struct buf journal;

	/* the journal learns what is gone for good, so a rebuild does not bring it back */
	buf_init(&journal, 0);
	struct arena *a = arena_new();
	if (db_prepare(mb->db,
		       "SELECT blob, folder_id FROM messages WHERE expunged_at != 0 AND expunged_at <= ?",
		       &s, err) < 0) {
		arena_free(&a);
		return -1;
	}
	sqlite3_bind_int64(s, 1, now - o->retention_seconds);
	while (sqlite3_step(s) == SQLITE_ROW)
		if (buf_printf(&journal, "-\t%s\t%s\n", sqlite3_column_text(s, 0),
			       mail_folder_path(mb, sqlite3_column_int64(s, 1), a)) < 0)
			break;
	arena_free(&a);
	/* a journal missing some of them would let a rebuild bring those back: purge nothing */
	if (db_end(mb->db, s, "list purged", err) < 0 ||
	    (journal.len && mail_log_append(mb, buf_cstr(&journal), false, err) < 0)) {
		buf_release(&journal);
		return -1;
	}
	buf_release(&journal);
	if (db_prepare(mb->db, "DELETE FROM messages WHERE expunged_at != 0 AND expunged_at <= ?", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, now - o->retention_seconds);
	if (mail_step(mb, s, "purge", err) < 0)
		return -1;
	n = sqlite3_changes(db_conn(mb->db, NULL));
	if (n_r)
		*n_r = n;
	return 0;
}

int mail_mark_blobs(struct mailbox *mb, struct blob_marks *marks, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT blob FROM messages UNION SELECT blob FROM uploads", &s, err) <
	    0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		blob_marks_add(marks, (const char *)sqlite3_column_text(s, 0));
	return db_end(mb->db, s, "mark blobs", err);
}

int mail_blobs_missing(struct mailbox *mb, int64_t *missing_r, struct err *err)
{
	struct blob_store *bs = mail_store_blobs(mb->ms);
	sqlite3_stmt *s;
	char path[4200];
	int64_t n = 0;

	if (db_prepare(mb->db, "SELECT DISTINCT blob FROM messages", &s, err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		blob_path(bs, (const char *)sqlite3_column_text(s, 0), path, sizeof(path));
		if (access(path, F_OK) != 0)
			n++;
	}
	if (db_end(mb->db, s, "list blobs", err) < 0)
		return -1;
	*missing_r = n;
	return 0;
}

/* ---- uploads ---- */

int mail_upload_add(struct mailbox *mb, const char *data, size_t len, const char *name,
		    const char *type, struct mail_upload *u_r, struct err *err)
{
	sqlite3_stmt *s;

	if (mb->quota > 0 && (int64_t)len > mb->quota)
		return err_set(err, ERR_QUOTA, "the file is larger than the whole mailbox quota");
	memset(u_r, 0, sizeof(*u_r));
	if (blob_put(mail_store_blobs(mb->ms), data, len, BLOB_SYNC, u_r->blob, err) < 0)
		return -1;
	rand_hex(u_r->id, 16);
	u_r->name = name ? name : "";
	u_r->type = type && *type ? type : "application/octet-stream";
	u_r->size = (int64_t)len;
	u_r->created = time_now();
	if (db_prepare(mb->db,
		       "INSERT INTO uploads (id, blob, name, type, size, created) VALUES (?, ?, ?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, u_r->id);
	db_bind_text(s, 2, u_r->blob);
	db_bind_text(s, 3, u_r->name);
	db_bind_text(s, 4, u_r->type);
	sqlite3_bind_int64(s, 5, u_r->size);
	sqlite3_bind_int64(s, 6, u_r->created);
	return mail_step(mb, s, "upload", err);
}

int mail_upload_get(struct mailbox *mb, const char *id, struct arena *a, struct mail_upload *u_r,
		    struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT blob, name, type, size, created FROM uploads WHERE id = ?", &s,
		       err) < 0)
		return -1;
	db_bind_text(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "get upload", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no upload %.40s (uploads are kept a day)", id);
	}
	memset(u_r, 0, sizeof(*u_r));
	snprintf(u_r->id, sizeof(u_r->id), "%s", id);
	db_col_text(s, 0, u_r->blob, sizeof(u_r->blob));
	u_r->name = arena_strdup(a, (const char *)sqlite3_column_text(s, 1));
	u_r->type = arena_strdup(a, (const char *)sqlite3_column_text(s, 2));
	u_r->size = sqlite3_column_int64(s, 3);
	u_r->created = sqlite3_column_int64(s, 4);
	db_done(mb->db, s);
	return 0;
}

int mail_upload_expire(struct mailbox *mb, int64_t max_age, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "DELETE FROM uploads WHERE created < ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, time_now() - max_age);
	return mail_step(mb, s, "expire uploads", err);
}

/* ---- UI state ---- */

int mail_ui_get(struct mailbox *mb, const char *key, struct arena *a, const char **value_r,
		int64_t *version_r, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT value, version FROM ui_state WHERE key = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "get ui state", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "nothing saved");
	}
	*value_r = arena_strdup(a, (const char *)sqlite3_column_text(s, 0));
	*version_r = sqlite3_column_int64(s, 1);
	db_done(mb->db, s);
	return 0;
}

int mail_ui_put(struct mailbox *mb, const char *key, const char *value, int64_t if_version,
		int64_t *version_r, struct err *err)
{
	sqlite3_stmt *s;
	int changed;

	if (strlen(value) > MAIL_UI_STATE_MAX)
		return err_set(err, ERR_LIMIT, "saved state is at most %d bytes", MAIL_UI_STATE_MAX);
	if (db_prepare(mb->db,
		       "INSERT INTO ui_state (key, value, version, updated) VALUES (?1, ?2, 1, ?3)"
		       " ON CONFLICT (key) DO UPDATE SET value = ?2, version = version + 1,"
		       " updated = ?3 WHERE ?4 = 0 OR version = ?4 RETURNING version",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	db_bind_text(s, 2, value);
	sqlite3_bind_int64(s, 3, time_now());
	sqlite3_bind_int64(s, 4, if_version);
	changed = sqlite3_step(s) == SQLITE_ROW;
	if (changed)
		*version_r = sqlite3_column_int64(s, 0);
	if (db_end(mb->db, s, "save ui state", err) < 0)
		return -1;
	if (!changed)
		return err_set(err, ERR_EXISTS, "saved meanwhile by another window or device");
	return 0;
}

int mail_correspondents(struct mailbox *mb, const char *prefix, size_t limit, struct arena *a,
			struct mail_correspondent **v_r, size_t *n_r, struct err *err)
{
	struct mail_correspondent *v;
	sqlite3_stmt *s;
	size_t n = 0;
	int64_t sent = 0;

	(void)!mail_folder_by_special(mb, MAIL_SENT, &sent, NULL);
	if (limit == 0 || limit > 50)
		limit = 50;
	v = arena_alloc(a, limit * sizeof(*v));
	/* senders of received mail, and the To/Cc of sent mail (record-separated lists, split
	 * by a recursive CTE), newest first, one row per address */
	if (db_prepare(mb->db,
		       "WITH RECURSIVE sent(rest, item, d) AS ("
		       "  SELECT to_list || char(30) || cc_list || char(30), '', internal_date"
		       "  FROM (SELECT to_list, cc_list, internal_date FROM messages WHERE"
		       "  folder_id = ?1 AND expunged_at = 0 ORDER BY internal_date DESC LIMIT 2000)"
		       "  UNION ALL SELECT substr(rest, instr(rest, char(30)) + 1),"
		       "  substr(rest, 1, instr(rest, char(30)) - 1), d FROM sent WHERE rest != ''),"
		       " addrs(name, address, d) AS ("
		       "  SELECT substr(item, 1, instr(item, char(31)) - 1),"
		       "  substr(item, instr(item, char(31)) + 1), d FROM sent WHERE item != ''"
		       "  UNION ALL SELECT * FROM (SELECT from_name, from_addr, internal_date FROM"
		       "  messages WHERE folder_id != ?1 AND expunged_at = 0 AND from_addr != ''"
		       "  ORDER BY internal_date DESC LIMIT 5000))"
		       " SELECT max(name), address, max(d) AS last FROM addrs WHERE address != '' AND"
		       " (?2 = '' OR address LIKE ?2 || '%' OR name LIKE ?2 || '%' OR"
		       " instr(name, ?2) > 0) GROUP BY lower(address) ORDER BY last DESC LIMIT ?3",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, sent);
	db_bind_text(s, 2, prefix ? prefix : "");
	sqlite3_bind_int64(s, 3, (int64_t)limit);
	while (n < limit && sqlite3_step(s) == SQLITE_ROW) {
		v[n].name = arena_strdup(a, (const char *)sqlite3_column_text(s, 0));
		v[n].address = arena_strdup(a, (const char *)sqlite3_column_text(s, 1));
		v[n].last = sqlite3_column_int64(s, 2);
		n++;
	}
	if (db_end(mb->db, s, "correspondents", err) < 0)
		return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

/* ---- the index queue ---- */

int mail_index_jobs(struct mailbox *mb, size_t max, struct arena *a, struct mail_index_job **v_r,
		    size_t *n_r, struct err *err)
{
	struct mail_index_job *v = arena_alloc(a, (max ? max : 1) * sizeof(*v));
	sqlite3_stmt *s;
	size_t n = 0;

	if (db_prepare(mb->db, "SELECT seq, message_id, op FROM index_queue ORDER BY seq LIMIT ?", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)max);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		v[n].seq = sqlite3_column_int64(s, 0);
		v[n].message_id = sqlite3_column_int64(s, 1);
		v[n].op = (enum mail_index_op)sqlite3_column_int(s, 2);
		n++;
	}
	if (db_end(mb->db, s, "index jobs", err) < 0)
		return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

int mail_index_done(struct mailbox *mb, int64_t upto, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "DELETE FROM index_queue WHERE seq <= ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, upto);
	return mail_step(mb, s, "index done", err);
}

int mail_index_all(struct mailbox *mb, struct err *err)
{
	if (mail_begin(mb, err) < 0)
		return -1;
	if (mail_exec(mb,
		      "DELETE FROM index_queue;"
		      "INSERT INTO index_queue (message_id, op) SELECT id, 1 FROM messages"
		      " WHERE expunged_at = 0 ORDER BY id",
		      err) < 0) {
		mail_rollback(mb);
		return -1;
	}
	return mail_commit(mb, err);
}

int64_t mail_index_pending(struct mailbox *mb)
{
	sqlite3_stmt *s;
	int64_t n = 0;
	if (db_prepare(mb->db, "SELECT count(*) FROM index_queue", &s, NULL) < 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	if (db_end(mb->db, s, "index queue", NULL) < 0)
		return -1;
	return n;
}
