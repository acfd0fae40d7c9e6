/* Reading messages: one, many, a page of a folder (keyset paging), a thread. */
#include "mail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static const char *col_text(sqlite3_stmt *s, int i, struct arena *a)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return arena_strdup(a, t ? (const char *)t : "");
}

void mail_msg_read(sqlite3_stmt *s, struct arena *a, struct mail_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(s, 0);
	m->folder_id = sqlite3_column_int64(s, 1);
	m->uid = (uint32_t)sqlite3_column_int64(s, 2);
	m->modseq = (uint64_t)sqlite3_column_int64(s, 3);
	db_col_text(s, 4, m->blob, sizeof(m->blob));
	m->size = sqlite3_column_int64(s, 5);
	m->internal_date = sqlite3_column_int64(s, 6);
	m->date = sqlite3_column_int64(s, 7);
	m->flags = (unsigned)sqlite3_column_int(s, 8);
	m->keywords = col_text(s, 9, a);
	m->colour = sqlite3_column_int(s, 10);
	m->pinned = sqlite3_column_int(s, 11) != 0;
	m->note = col_text(s, 12, a);
	m->snippet = col_text(s, 13, a);
	m->thread_id = sqlite3_column_int64(s, 14);
	m->subject = col_text(s, 15, a);
	m->from.name = col_text(s, 16, a);
	m->from.address = col_text(s, 17, a);
	m->to = mail_addrs_decode((const char *)sqlite3_column_text(s, 18), a, &m->nto);
	m->cc = mail_addrs_decode((const char *)sqlite3_column_text(s, 19), a, &m->ncc);
	m->message_id = col_text(s, 20, a);
	m->has_attachments = sqlite3_column_int(s, 21) != 0;
	m->expunged_at = sqlite3_column_int64(s, 22);
	m->trash_from = sqlite3_column_int64(s, 23);
}

int mail_get(struct mailbox *mb, int64_t id, struct arena *a, struct mail_msg *m_r,
	     struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db,
		       "SELECT " MAIL_MSG_COLS " FROM messages WHERE id = ? AND expunged_at = 0", &s,
		       err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "get message", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no message %lld", (long long)id);
	}
	mail_msg_read(s, a, m_r);
	db_done(mb->db, s);
	return 0;
}

int mail_raw(struct mailbox *mb, const struct mail_msg *m, char **raw_r, size_t *len_r,
	     struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mb->ms);
	return blob_get(mail_store_blobs(mb->ms), m->blob, o->mime.max_bytes, raw_r, len_r, err);
}

/* Append rows of a statement to a growing arena array. */
struct rows {
	struct mail_msg *v;
	size_t n, cap;
};

static struct mail_msg *rows_next(struct rows *r, struct arena *a)
{
	if (r->n == r->cap) {
		struct mail_msg *nv;
		r->cap = r->cap ? r->cap * 2 : 64;
		nv = arena_alloc(a, r->cap * sizeof(*nv));
		if (r->n)
			memcpy(nv, r->v, r->n * sizeof(*nv));
		r->v = nv;
	}
	return &r->v[r->n++];
}

/* ---- cursors: opaque hex of "kind|key|id" ---- */

static const char *cursor_make(struct arena *a, char kind, const char *key, int64_t id)
{
	char *plain = arena_printf(a, "%c|%s|%lld", kind, key, (long long)id);
	size_t n = strlen(plain);
	char *hex = arena_alloc(a, 2 * n + 1);
	hex_encode((const unsigned char *)plain, n, hex);
	return hex;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode into kind, key (arena) and id. */
static int cursor_parse(const char *cur, struct arena *a, char *kind_r, const char **key_r,
			int64_t *id_r, struct err *err)
{
	size_t n = strlen(cur);
	char *plain, *bar1, *bar2;

	if (n == 0 || n % 2 || n > 4096)
		return err_set(err, ERR_INVALID, "bad cursor");
	plain = arena_alloc(a, n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexv(cur[2 * i]), lo = hexv(cur[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set(err, ERR_INVALID, "bad cursor");
		plain[i] = (char)(hi << 4 | lo);
	}
	plain[n / 2] = '\0';
	bar1 = strchr(plain, '|');
	bar2 = strrchr(plain, '|');
	if (bar1 == NULL || bar1 != plain + 1 || bar2 == bar1 ||
	    str_to_i64(bar2 + 1, 0, INT64_MAX, id_r) < 0)
		return err_set(err, ERR_INVALID, "bad cursor");
	*bar2 = '\0';
	*kind_r = plain[0];
	*key_r = bar1 + 1;
	return 0;
}

/* The page query for a sort, direction, filter and cursor. SQLite's row values make the
 * keyset condition one comparison the index can seek to: ?1 folder, ?3 limit, ?4 colour,
 * ?5.. the cursor's keys. */
static const char *page_sql(const struct mail_list_q *q, bool with_cursor, struct arena *a)
{
	const char *dir = q->ascending ? "ASC" : "DESC", *cmp = q->ascending ? ">" : "<";
	const char *filter = "", *cond, *order;

	if (q->filter & MAIL_F_UNREAD)
		filter = arena_printf(a, "%s AND (flags & 1) = 0", filter);
	if (q->filter & MAIL_F_FLAGGED)
		filter = arena_printf(a, "%s AND (flags & 4) != 0", filter);
	if (q->filter & MAIL_F_PINNED)
		filter = arena_printf(a, "%s AND pinned = 1", filter);
	if (q->filter & MAIL_F_ATTACHMENT)
		filter = arena_printf(a, "%s AND has_attachments = 1", filter);
	if (q->filter & MAIL_F_COLOUR)
		filter = arena_printf(a, q->colour ? "%s AND colour = ?4" : "%s AND colour != 0",
				      filter);
	switch (q->sort) {
	case MAIL_SORT_FROM:
		cond = arena_printf(a, "(from_sort, id) %s (?5, ?6)", cmp);
		order = arena_printf(a, "from_sort %s, id %s", dir, dir);
		break;
	case MAIL_SORT_SUBJECT:
		cond = arena_printf(a, "(subject_sort, id) %s (?5, ?6)", cmp);
		order = arena_printf(a, "subject_sort %s, id %s", dir, dir);
		break;
	case MAIL_SORT_SIZE:
		cond = arena_printf(a, "(size, id) %s (?5, ?6)", cmp);
		order = arena_printf(a, "size %s, id %s", dir, dir);
		break;
	default:
		/* pinned mail first whichever way the dates run. Newest first walks messages_date
		 * backwards; oldest first walks messages_date_asc, whose order (pinned DESC, date,
		 * id) one row value cannot express, so its condition is spelt out. */
		cond = q->ascending ? "(pinned < ?5 OR (pinned = ?5 AND (internal_date, id) > (?6, ?7)))"
				    : "(pinned, internal_date, id) < (?5, ?6, ?7)";
		order = arena_printf(a, "pinned DESC, internal_date %s, id %s", dir, dir);
		break;
	}
	return arena_printf(a,
			    "SELECT " MAIL_MSG_COLS ", from_sort, subject_sort FROM messages"
			    " WHERE folder_id = ?1 AND expunged_at = 0%s%s%s ORDER BY %s LIMIT ?3 OFFSET ?8",
			    filter, with_cursor ? " AND " : "", with_cursor ? cond : "", order);
}

/* Bind the cursor's keys as ?5.. for the sort. */
static int bind_cursor(sqlite3_stmt *s, const struct mail_list_q *q, char kind, const char *key,
		       int64_t id, struct err *err)
{
	int64_t n1, n2;

	switch (q->sort) {
	case MAIL_SORT_FROM:
	case MAIL_SORT_SUBJECT:
		if (kind != (q->sort == MAIL_SORT_FROM ? 'f' : 's'))
			break;
		db_bind_text(s, 5, key);
		sqlite3_bind_int64(s, 6, id);
		return 0;
	case MAIL_SORT_SIZE:
		if (kind != 'z' || str_to_i64(key, 0, INT64_MAX, &n1) < 0)
			break;
		sqlite3_bind_int64(s, 5, n1);
		sqlite3_bind_int64(s, 6, id);
		return 0;
	default: {
		const char *colon = strchr(key, ':');
		char pin[4];
		if (kind != 'd' || colon == NULL || colon - key != 1)
			break;
		pin[0] = key[0];
		pin[1] = '\0';
		if (str_to_i64(pin, 0, 1, &n1) < 0 ||
		    str_to_i64(colon + 1, INT64_MIN / 2, INT64_MAX / 2, &n2) < 0)
			break;
		sqlite3_bind_int64(s, 5, n1);
		sqlite3_bind_int64(s, 6, n2);
		sqlite3_bind_int64(s, 7, id);
		return 0;
	}
	}
	return err_set(err, ERR_INVALID, "the cursor belongs to another sort order");
}

int mail_list(struct mailbox *mb, const struct mail_list_q *q, struct arena *a,
	      struct mail_msg **v_r, size_t *n_r, const char **next_r, int64_t *total_r,
	      struct err *err)
{
	struct rows r = {0};
	const char *last_from = "", *last_subject = "", *key = NULL;
	sqlite3_stmt *s;
	size_t limit = q->limit ? q->limit : 50;
	char kind = 0;
	int64_t cid = 0;
	int rc;

	if (limit > 500)
		return err_set(err, ERR_INVALID, "limit is at most 500");
	if (q->cursor && *q->cursor && cursor_parse(q->cursor, a, &kind, &key, &cid, err) < 0)
		return -1;
	if (db_prepare(mb->db, page_sql(q, key != NULL, a), &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, q->folder_id);
	sqlite3_bind_int64(s, 3, (int64_t)limit + 1);
	sqlite3_bind_int64(s, 8, key ? 0 : (int64_t)q->offset);
	if (q->filter & MAIL_F_COLOUR && q->colour)
		sqlite3_bind_int(s, 4, q->colour);
	if (key && bind_cursor(s, q, kind, key, cid, err) < 0) {
		db_done(mb->db, s);
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && r.n < limit) {
		mail_msg_read(s, a, rows_next(&r, a));
		last_from = col_text(s, 24, a);
		last_subject = col_text(s, 25, a);
	}
	if (db_end(mb->db, s, "list messages", err) < 0)
		return -1;
	*next_r = NULL;
	if (rc == SQLITE_ROW && r.n == limit) {
		const struct mail_msg *l = &r.v[r.n - 1];
		switch (q->sort) {
		case MAIL_SORT_FROM:
			*next_r = cursor_make(a, 'f', last_from, l->id);
			break;
		case MAIL_SORT_SUBJECT:
			*next_r = cursor_make(a, 's', last_subject, l->id);
			break;
		case MAIL_SORT_SIZE:
			*next_r = cursor_make(a, 'z', arena_printf(a, "%lld", (long long)l->size), l->id);
			break;
		default:
			*next_r = cursor_make(a, 'd',
					      arena_printf(a, "%d:%lld", l->pinned ? 1 : 0,
							   (long long)l->internal_date),
					      l->id);
		}
	}
	if (total_r) {
		*total_r = -1;
		if (q->want_total && (q->filter == 0 || q->filter == MAIL_F_UNREAD)) {
			/* the folder's counters (kept by triggers) answer without a scan */
			struct mail_folder f;
			if (mail_folder_get(mb, q->folder_id, a, &f, err) < 0)
				return -1;
			*total_r = q->filter ? f.unread : f.total;
		} else if (q->want_total) {
			const char *csql = strstr(page_sql(q, false, a), " FROM messages");
			char *end;
			csql = arena_printf(a, "SELECT count(*)%s", csql);
			end = strstr(csql, " ORDER BY");
			*end = '\0';
			if (db_prepare(mb->db, csql, &s, err) < 0)
				return -1;
			sqlite3_bind_int64(s, 1, q->folder_id);
			if (q->filter & MAIL_F_COLOUR && q->colour)
				sqlite3_bind_int(s, 4, q->colour);
			if (sqlite3_step(s) == SQLITE_ROW)
				*total_r = sqlite3_column_int64(s, 0);
			if (db_end(mb->db, s, "count messages", err) < 0)
				return -1;
		}
	}
	*v_r = r.v;
	*n_r = r.n;
	return 0;
}

int mail_thread(struct mailbox *mb, int64_t thread_id, struct arena *a, struct mail_msg **v_r,
		size_t *n_r, struct err *err)
{
	struct rows r = {0};
	sqlite3_stmt *s;

	if (db_prepare(mb->db,
		       "SELECT " MAIL_MSG_COLS " FROM messages WHERE thread_id = ? AND expunged_at = 0"
		       " ORDER BY internal_date, id LIMIT 1000",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, thread_id);
	while (sqlite3_step(s) == SQLITE_ROW)
		mail_msg_read(s, a, rows_next(&r, a));
	if (db_end(mb->db, s, "thread", err) < 0)
		return -1;
	if (r.n == 0)
		return err_set(err, ERR_NOTFOUND, "no thread %lld", (long long)thread_id);
	*v_r = r.v;
	*n_r = r.n;
	return 0;
}

int mail_get_many(struct mailbox *mb, const int64_t *ids, size_t nids, struct arena *a,
		  struct mail_msg **v_r, size_t *n_r, struct err *err)
{
	struct rows r = {0};
	sqlite3_stmt *s;

	if (db_prepare(mb->db,
		       "SELECT " MAIL_MSG_COLS " FROM messages WHERE id = ? AND expunged_at = 0", &s,
		       err) < 0)
		return -1;
	for (size_t i = 0; i < nids; i++) {
		int rc;
		sqlite3_bind_int64(s, 1, ids[i]);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			mail_msg_read(s, a, rows_next(&r, a));
		else if (rc != SQLITE_DONE)
			break; /* db_end() reports it */
		sqlite3_reset(s);
	}
	if (db_end(mb->db, s, "get messages", err) < 0)
		return -1;
	*v_r = r.v;
	*n_r = r.n;
	return 0;
}

int mail_each(struct mailbox *mb, int64_t folder_id, struct arena *a, mail_each_fn *fn,
	      void *ctx, struct err *err)
{
	sqlite3_stmt *s;
	int64_t after = 0;
	int r = 0;

	/* in chunks, so the callback may write to the store between them */
	for (;;) {
		struct mail_msg batch[256];
		size_t n = 0;
		if (db_prepare(mb->db,
			       "SELECT " MAIL_MSG_COLS " FROM messages WHERE folder_id = ? AND"
			       " expunged_at = 0 AND uid > ? ORDER BY uid LIMIT 256",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, folder_id);
		sqlite3_bind_int64(s, 2, after);
		while (n < ARRAY_LEN(batch) && sqlite3_step(s) == SQLITE_ROW)
			mail_msg_read(s, a, &batch[n++]);
		if (db_end(mb->db, s, "list folder", err) < 0)
			return -1;
		for (size_t i = 0; i < n && r == 0; i++)
			r = fn(ctx, &batch[i]);
		if (r != 0 || n < ARRAY_LEN(batch))
			return r;
		after = batch[n - 1].uid;
	}
}
