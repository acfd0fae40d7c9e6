/* Storing new messages: parse, blob, journal, row. "Stored" means the blob is durable and the
 * row committed with synchronous=FULL; batches share one file-system flush (group commit). */
#include "mail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

/* One message prepared outside the transaction. */
struct prepared {
	const struct mail_new *in;
	struct arena *pa;     /* its parse (msg), kept for the indexer once stored */
	struct mime_msg *msg;
	struct mail_cached c;
	char blob[BLOB_HEX];
	int64_t internal_date;
	bool ok;
};

static int prepare(struct mailbox *mb, const struct mail_new *in, unsigned blob_flags,
		   struct arena *a, struct prepared *p, struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mailbox_store(mb));
	struct blob_store *bs = mail_store_blobs(mailbox_store(mb));
	struct mime_msg *msg;

	p->in = in;
	p->ok = false;
	p->pa = NULL;
	if (in->len == 0)
		return err_set(err, ERR_INVALID, "empty message");
	if (in->len > o->mime.max_bytes)
		return err_set(err, ERR_LIMIT, "message is larger than %zu bytes (mime.max_bytes)",
			       o->mime.max_bytes);
	/* in an arena of its own when the indexer may take the parse over (mail_parsed.c) */
	if (o->keep_parsed)
		p->pa = arena_new();
	if (mime_parse(in->raw, in->len, &o->mime, p->pa ? p->pa : a, &msg, err) < 0) {
		arena_free(&p->pa);
		return -1;
	}
	p->msg = msg;
	mail_cache_fill(msg, a, &p->c);
	p->internal_date = in->internal_date ? in->internal_date
			   : msg->date > 0   ? msg->date
					     : time_now();
	if ((in->digest ? blob_put_named(bs, in->raw, in->len, in->digest, blob_flags, err)
			: blob_put(bs, in->raw, in->len, blob_flags, p->blob, err)) < 0) {
		arena_free(&p->pa);
		return -1;
	}
	if (in->digest)
		memcpy(p->blob, in->digest, BLOB_HEX);
	p->ok = true;
	return 0;
}

static const char *log_line(struct mailbox *mb, const struct prepared *p, struct arena *a)
{
	/* enough to rebuild mail.db from the blobs (mail_int.h lists the line forms) */
	return arena_printf(a, "+\t%s\t%lld\t%u\t%s\n", p->blob, (long long)p->internal_date,
			    p->in->flags, mail_folder_path(mb, p->in->folder_id, a));
}

/* 1 if this delivery is stored already (out filled), 0 if not, -1 on an error. */
static int existing_delivery(struct mailbox *mb, const char *key, struct mail_added *out,
			     struct err *err)
{
	sqlite3_stmt *s;
	int found = 0;
	if (key == NULL)
		return 0;
	if (db_prepare(mb->db, "SELECT id, uid FROM messages WHERE delivery_key = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	if (sqlite3_step(s) == SQLITE_ROW) {
		out->id = sqlite3_column_int64(s, 0);
		out->uid = (uint32_t)sqlite3_column_int64(s, 1);
		out->duplicate = true;
		found = 1;
	}
	if (db_end(mb->db, s, "find delivery", err) < 0)
		return -1;
	return found;
}

static int insert_row(struct mailbox *mb, const struct prepared *p, uint64_t modseq,
		      struct mail_added *out, struct err *err)
{
	const struct mail_new *in = p->in;
	const struct mail_cached *c = &p->c;
	sqlite3_stmt *s;
	uint32_t uid;
	int64_t id, thread;

	if (mail_alloc_uids(mb, in->folder_id, 1, &uid, err) < 0)
		return -1;
	if (db_prepare(mb->db,
		       "INSERT INTO messages (folder_id, uid, modseq, blob, size, internal_date, date,"
		       " flags, keywords, snippet, subject, subject_sort, from_name, from_addr,"
		       " from_sort, to_list, cc_list, message_id, in_reply_to, refs, has_attachments,"
		       " envelope, structure, header_len, delivery_key) VALUES (?1, ?2, ?3, ?4, ?5,"
		       " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,"
		       " ?22, ?23, ?24, ?25)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, in->folder_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (int64_t)modseq);
	db_bind_text(s, 4, p->blob);
	sqlite3_bind_int64(s, 5, (int64_t)in->len);
	sqlite3_bind_int64(s, 6, p->internal_date);
	sqlite3_bind_int64(s, 7, c->date);
	sqlite3_bind_int(s, 8, (int)in->flags);
	db_bind_text(s, 9, in->keywords ? in->keywords : "");
	db_bind_text(s, 10, c->snippet);
	db_bind_text(s, 11, c->subject);
	db_bind_text(s, 12, c->subject_sort);
	db_bind_text(s, 13, c->from_name);
	db_bind_text(s, 14, c->from_addr);
	db_bind_text(s, 15, c->from_sort);
	db_bind_text(s, 16, c->to_list);
	db_bind_text(s, 17, c->cc_list);
	db_bind_text(s, 18, c->message_id);
	db_bind_text(s, 19, c->in_reply_to);
	db_bind_text(s, 20, c->refs);
	sqlite3_bind_int(s, 21, c->has_attachments);
	db_bind_text(s, 22, c->envelope);
	db_bind_text(s, 23, c->structure);
	sqlite3_bind_int64(s, 24, (int64_t)c->header_len);
	db_bind_text(s, 25, in->delivery_key);
	if (mail_step(mb, s, "insert message", err) < 0)
		return -1;
	id = sqlite3_last_insert_rowid(db_conn(mb->db, NULL));
	if (mail_thread_assign(mb, id, c, p->internal_date, &thread, err) < 0)
		return -1;
	if (db_prepare(mb->db, "UPDATE messages SET thread_id = ? WHERE id = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, thread);
	sqlite3_bind_int64(s, 2, id);
	if (mail_step(mb, s, "set thread", err) < 0)
		return -1;
	out->id = id;
	out->uid = uid;
	out->duplicate = false;
	return 0;
}

static int check_quota(struct mailbox *mb, int64_t adding, struct err *err)
{
	struct mail_usage u;
	if (mb->quota <= 0)
		return 0;
	if (mail_usage_get(mb, &u, err) < 0)
		return -1;
	if (u.bytes + adding > mb->quota)
		return err_set(err, ERR_QUOTA,
			       "over quota: %lld of %lld bytes used, this needs %lld more",
			       (long long)u.bytes, (long long)mb->quota, (long long)adding);
	return 0;
}

static int check_folder(struct mailbox *mb, int64_t folder, struct err *err)
{
	enum mail_special sp;
	return mail_folder_special_of(mb, folder, &sp, err);
}

/* Insert the prepared messages in one transaction and publish their events. */
static int commit_rows(struct mailbox *mb, struct prepared *p, size_t n, struct mail_added *out,
		       struct err *err)
{
	struct mail_events ev = {0};
	uint64_t modseq;
	int64_t adding = 0;

	if (mail_begin(mb, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (p[i].ok)
			adding += (int64_t)p[i].in->len;
	if (check_quota(mb, adding, err) < 0 || mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].ok)
			continue;
		int dup = existing_delivery(mb, p[i].in->delivery_key, &out[i], err);
		if (dup < 0)
			goto fail;
		if (dup > 0)
			continue;
		if (insert_row(mb, &p[i], modseq, &out[i], err) < 0 ||
		    mail_touch_folder(mb, p[i].in->folder_id, modseq, err) < 0)
			goto fail;
		mail_events_add(&ev, MAIL_EV_NEW, mb->account_id, p[i].in->folder_id, out[i].id,
				out[i].uid, modseq);
	}
	if (mail_commit(mb, err) < 0)
		goto fail;
	/* before the events: they wake the indexer */
	for (size_t i = 0; i < n; i++)
		if (p[i].ok && p[i].pa && !out[i].duplicate) {
			mail_parsed_keep_take(mb->ms, mb->account_id, out[i].id, p[i].blob, p[i].pa,
					p[i].msg);
			p[i].pa = NULL;
		}
	mail_events_publish(mb->ms, &ev);
	mail_events_release(&ev);
	return 0;
fail:
	mail_rollback(mb);
	mail_events_release(&ev);
	for (size_t i = 0; i < n; i++)
		out[i] = (struct mail_added){0};
	return -1;
}

int mail_insert(struct mailbox *mb, const struct mail_new *m, struct mail_added *out,
		struct err *err)
{
	struct arena *a = arena_new();
	struct prepared p = {0};
	int ret = -1, dup;

	memset(out, 0, sizeof(*out));
	if (check_folder(mb, m->folder_id, err) < 0)
		goto out;
	/* a repeated delivery (same queue id and recipient) stores nothing */
	dup = existing_delivery(mb, m->delivery_key, out, err);
	if (dup != 0) {
		ret = dup > 0 ? 0 : -1;
		goto out;
	}
	if (check_quota(mb, (int64_t)m->len, err) < 0 || prepare(mb, m, BLOB_SYNC, a, &p, err) < 0)
		goto out;
	if (mail_log_append(mb, log_line(mb, &p, a), false, err) < 0)
		goto out;
	ret = commit_rows(mb, &p, 1, out, err);
out:
	arena_free(&p.pa); /* not kept */
	arena_free(&a);
	return ret;
}

int mail_insert_batch(struct mailbox *mb, const struct mail_new *m, size_t n,
		      struct mail_added *out, struct err *errs, struct err *err)
{
	struct arena *a = arena_new();
	struct prepared *p = xcalloc(n ? n : 1, sizeof(*p));
	struct buf journal;
	size_t good = 0;
	int ret = -1;

	buf_init(&journal, 0);
	memset(out, 0, n * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		struct err e;
		if (check_folder(mb, m[i].folder_id, &e) < 0 ||
		    prepare(mb, &m[i], 0, a, &p[i], &e) < 0) {
			p[i].in = &m[i];
			if (errs)
				errs[i] = e;
			continue;
		}
		if (errs)
			err_clear(&errs[i]);
		if (buf_puts(&journal, log_line(mb, &p[i], a)) < 0)
			abort(); /* unlimited buffer */
		good++;
	}
	if (good == 0) {
		ret = n == 0 ? 0 : err_set(err, ERR_INVALID, "no message in the batch could be stored");
		goto out;
	}
	/* journal, then one flush for every blob and the journal, then the rows */
	if (mail_log_append(mb, buf_cstr(&journal), false, err) < 0 ||
	    blob_sync(mail_store_blobs(mb->ms), err) < 0)
		goto out;
	ret = commit_rows(mb, p, n, out, err);
out:
	for (size_t i = 0; i < n; i++)
		arena_free(&p[i].pa); /* those not kept */
	buf_release(&journal);
	free(p);
	arena_free(&a);
	return ret;
}
