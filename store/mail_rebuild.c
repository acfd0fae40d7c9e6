/* Rebuilding: the cached columns from the blobs, or a whole mail.db from mail.log + blobs. */
#include "mail_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

static int update_cached(struct mailbox *mb, int64_t id, const struct mail_cached *c,
			 struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db,
		       "UPDATE messages SET date = ?1, snippet = ?2, subject = ?3, subject_sort = ?4,"
		       " from_name = ?5, from_addr = ?6, from_sort = ?7, to_list = ?8, cc_list = ?9,"
		       " message_id = ?10, in_reply_to = ?11, refs = ?12, has_attachments = ?13,"
		       " envelope = ?14, structure = ?15, header_len = ?16 WHERE id = ?17",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, c->date);
	db_bind_text(s, 2, c->snippet);
	db_bind_text(s, 3, c->subject);
	db_bind_text(s, 4, c->subject_sort);
	db_bind_text(s, 5, c->from_name);
	db_bind_text(s, 6, c->from_addr);
	db_bind_text(s, 7, c->from_sort);
	db_bind_text(s, 8, c->to_list);
	db_bind_text(s, 9, c->cc_list);
	db_bind_text(s, 10, c->message_id);
	db_bind_text(s, 11, c->in_reply_to);
	db_bind_text(s, 12, c->refs);
	sqlite3_bind_int(s, 13, c->has_attachments);
	db_bind_text(s, 14, c->envelope);
	db_bind_text(s, 15, c->structure);
	sqlite3_bind_int64(s, 16, (int64_t)c->header_len);
	sqlite3_bind_int64(s, 17, id);
	return mail_step(mb, s, "update cache", err);
}

int mail_rebuild_cache(struct mailbox *mb, int64_t *n_r, struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mb->ms);
	int64_t after = 0, n = 0;
	sqlite3_stmt *s;

	/* threads are derived state too: recompute them in arrival order */
	if (mail_exec(mb, "DELETE FROM msgids; DELETE FROM thread_subjects;", err) < 0)
		return -1;
	for (;;) {
		int64_t ids[128], dates[128];
		char blobs[128][BLOB_HEX];
		size_t k = 0;
		if (db_prepare(mb->db,
			       "SELECT id, blob, internal_date FROM messages WHERE id > ? ORDER BY id"
			       " LIMIT 128",
			       &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, after);
		while (k < ARRAY_LEN(ids) && sqlite3_step(s) == SQLITE_ROW) {
			ids[k] = sqlite3_column_int64(s, 0);
			db_col_text(s, 1, blobs[k], BLOB_HEX);
			dates[k] = sqlite3_column_int64(s, 2);
			k++;
		}
		if (db_end(mb->db, s, "list messages", err) < 0)
			return -1;
		if (k == 0)
			break;
		if (mail_begin(mb, err) < 0)
			return -1;
		for (size_t i = 0; i < k; i++) {
			struct arena *a = arena_new();
			struct mime_msg *msg;
			struct mail_cached c;
			char *raw;
			size_t len;
			int64_t thread;
			int r = blob_get(mail_store_blobs(mb->ms), blobs[i], o->mime.max_bytes, &raw,
					 &len, err);
			if (r == 0) {
				r = mime_parse(raw, len, &o->mime, a, &msg, err);
				free(raw);
			}
			if (r == 0) {
				mail_cache_fill(msg, a, &c);
				r = update_cached(mb, ids[i], &c, err);
				if (r == 0)
					r = mail_thread_assign(mb, ids[i], &c, dates[i], &thread, err);
				if (r == 0 && db_prepare(mb->db,
							 "UPDATE messages SET thread_id = ? WHERE id = ?",
							 &s, err) == 0) {
					sqlite3_bind_int64(s, 1, thread);
					sqlite3_bind_int64(s, 2, ids[i]);
					r = mail_step(mb, s, "set thread", err);
				}
			}
			arena_free(&a);
			if (r < 0) {
				mail_rollback(mb);
				return -1;
			}
			n++;
		}
		if (mail_commit(mb, err) < 0)
			return -1;
		after = ids[k - 1];
	}
	*n_r = n;
	return 0;
}

int mail_check_db(struct mail_store *ms, int64_t account_id, struct err *err)
{
	char path[1300];
	sqlite3 *c = NULL;
	sqlite3_stmt *s = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "%s/accounts/%02x/%lld/mail.db", mail_store_data_dir(ms),
		 (unsigned)(account_id & 0xff), (long long)account_id);
	if (access(path, F_OK) < 0)
		return err_set(err, ERR_NOTFOUND, "%s is missing", path);
	if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK) {
		err_set(err, ERR_INVALID, "%s: %s", path, c ? sqlite3_errmsg(c) : "cannot open");
		goto out;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		err_set(err, ERR_INVALID, "%s: %s", path, sqlite3_errmsg(c));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		err_set(err, ERR_INVALID, "%s: %.200s", path, sqlite3_column_text(s, 0));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	sqlite3_close(c);
	return ret;
}

/* A message the journal says was stored, and where it is now. */
struct entry {
	char digest[BLOB_HEX];
	int64_t date;
	unsigned flags;
	char *path;
	bool live;
};

struct journal {
	struct entry *v;
	size_t n, cap;
};

/* Split a line at tabs into at most max fields (in place). */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The first live entry of digest in path ("" matches any path). */
static struct entry *find(struct journal *j, const char *digest, const char *path)
{
	for (size_t i = 0; i < j->n; i++)
		if (j->v[i].live && strcmp(j->v[i].digest, digest) == 0 &&
		    (*path == '\0' || strcmp(j->v[i].path, path) == 0))
			return &j->v[i];
	return NULL;
}

static void set_path(struct entry *e, const char *path)
{
	free(e->path);
	e->path = xstrdup(path);
}

/* Replay one line (mail_int.h lists the forms); unknown or damaged lines are skipped. */
static void replay(struct journal *j, char *line)
{
	char *f[6];
	size_t n = fields(line, f, 6);
	struct entry *e;

	if (strcmp(f[0], "+") == 0 && n == 5 && blob_digest_valid(f[1])) {
		int64_t date, flags;
		if (str_to_i64(f[2], INT64_MIN / 2, INT64_MAX / 2, &date) < 0 ||
		    str_to_i64(f[3], 0, 0xffff, &flags) < 0)
			return;
		if (j->n == j->cap) {
			j->cap = j->cap ? j->cap * 2 : 1024;
			j->v = xrealloc(j->v, j->cap * sizeof(*j->v));
		}
		e = &j->v[j->n++];
		memcpy(e->digest, f[1], BLOB_HEX);
		e->date = date;
		e->flags = (unsigned)flags;
		e->path = xstrdup(*f[4] ? f[4] : "INBOX");
		e->live = true;
	} else if (strcmp(f[0], "-") == 0 && n == 3 && (e = find(j, f[1], f[2])) != NULL) {
		e->live = false;
	} else if (strcmp(f[0], ">") == 0 && n == 4 && (e = find(j, f[1], f[2])) != NULL) {
		set_path(e, f[3]);
	} else if (strcmp(f[0], "r") == 0 && n == 3 && *f[1]) {
		for (size_t i = 0; i < j->n; i++) {
			if (!j->v[i].live || !under(j->v[i].path, f[1]))
				continue;
			char *p = xmalloc(strlen(f[2]) + strlen(j->v[i].path) + 2);
			sprintf(p, "%s%s", f[2], j->v[i].path + strlen(f[1]));
			free(j->v[i].path);
			j->v[i].path = p;
		}
	} else if (strcmp(f[0], "d") == 0 && n == 2 && *f[1]) {
		for (size_t i = 0; i < j->n; i++)
			if (j->v[i].live && under(j->v[i].path, f[1]))
				set_path(&j->v[i], "Trash");
	}
}

int mail_rebuild_from_log(struct mail_store *ms, int64_t account_id, int64_t *n_r,
			  struct err *err)
{
	char dir[1200], path[1300], aside[1400];
	const struct mail_store_opts *o = mail_store_options(ms);
	struct journal jr = {0};
	struct entry *v;
	size_t nv;
	char *line = NULL;
	size_t linecap = 0;
	struct mailbox *mb = NULL;
	FILE *f;
	int64_t n = 0;
	int ret = -1;

	snprintf(dir, sizeof(dir), "%s/accounts/%02x/%lld", mail_store_data_dir(ms),
		 (unsigned)(account_id & 0xff), (long long)account_id);
	snprintf(path, sizeof(path), "%s/mail.log", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return err_set(err, ERR_NOTFOUND, "%s: %s (nothing to rebuild from)", path,
			       strerror(errno));
	while (getline(&line, &linecap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		replay(&jr, line);
	}
	fclose(f);
	free(line);
	v = jr.v;
	nv = jr.n;

	/* the old database goes aside, never deleted */
	for (const char *suffix = ""; suffix; suffix = *suffix ? NULL : "-wal") {
		snprintf(path, sizeof(path), "%s/mail.db%s", dir, suffix);
		snprintf(aside, sizeof(aside), "%s/mail.db.broken-%lld%s", dir, (long long)time_now(),
			 suffix);
		if (rename(path, aside) < 0 && errno != ENOENT) {
			err_set(err, ERR_IO, "cannot move %s aside: %s", path, strerror(errno));
			goto out;
		}
	}
	snprintf(path, sizeof(path), "%s/mail.db-shm", dir);
	unlink(path);
	/* the journal is written anew by the inserts below */
	snprintf(path, sizeof(path), "%s/mail.log", dir);
	snprintf(aside, sizeof(aside), "%s/mail.log.rebuilt-%lld", dir, (long long)time_now());
	if (rename(path, aside) < 0) {
		err_set(err, ERR_IO, "cannot move %s aside: %s", path, strerror(errno));
		goto out;
	}
	if (mailbox_open(ms, account_id, 0, &mb, err) < 0)
		goto out;
	for (size_t i = 0; i < nv;) {
		struct mail_new batch[128];
		struct mail_added added[128];
		char *raws[128];
		size_t k = 0;
		struct err e;
		for (; i < nv && k < ARRAY_LEN(batch); i++) {
			int64_t folder;
			size_t len;
			if (!v[i].live)
				continue;
			if (blob_get(mail_store_blobs(ms), v[i].digest, o->mime.max_bytes, &raws[k],
				     &len, &e) < 0)
				continue; /* the blob is gone: nothing to bring back */
			if (mail_folder_ensure_path(mb, v[i].path, &folder, &e) < 0 &&
			    mail_folder_by_special(mb, MAIL_INBOX, &folder, &e) < 0) {
				free(raws[k]);
				continue;
			}
			batch[k] = (struct mail_new){.folder_id = folder, .raw = raws[k], .len = len,
						     .internal_date = v[i].date, .flags = v[i].flags};
			k++;
		}
		if (k && mail_insert_batch(mb, batch, k, added, NULL, &e) == 0)
			for (size_t j = 0; j < k; j++)
				n += added[j].id != 0;
		for (size_t j = 0; j < k; j++)
			free(raws[j]);
	}
	*n_r = n;
	ret = 0;
out:
	mailbox_unref(&mb);
	for (size_t i = 0; i < nv; i++)
		free(v[i].path);
	free(v);
	return ret;
}
