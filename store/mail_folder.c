/* Folders: the six special-use ones and nested custom folders with any Unicode name. */
#include "mail_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define FOLDER_COLS                                                                              \
	"id, parent, name, special, uidvalidity, uidnext, highestmodseq, total, unread, bytes"

static void read_folder(sqlite3_stmt *s, struct arena *a, struct mail_folder *f)
{
	f->id = sqlite3_column_int64(s, 0);
	f->parent = sqlite3_column_int64(s, 1);
	f->name = arena_strdup(a, (const char *)sqlite3_column_text(s, 2));
	f->special = (enum mail_special)sqlite3_column_int(s, 3);
	f->uidvalidity = (uint32_t)sqlite3_column_int64(s, 4);
	f->uidnext = (uint32_t)sqlite3_column_int64(s, 5);
	f->highestmodseq = (uint64_t)sqlite3_column_int64(s, 6);
	f->total = sqlite3_column_int64(s, 7);
	f->unread = sqlite3_column_int64(s, 8);
	f->bytes = sqlite3_column_int64(s, 9);
}

int mail_folder_list(struct mailbox *mb, struct arena *a, struct mail_folder **v_r, size_t *n_r,
		     struct err *err)
{
	sqlite3_stmt *s;
	struct mail_folder *v = NULL;
	size_t n = 0, cap = 0;

	/* specials first in their fixed order, then custom folders by name */
	if (db_prepare(mb->db,
		       "SELECT " FOLDER_COLS " FROM folders ORDER BY special = 0, special, name", &s,
		       err) < 0)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			struct mail_folder *nv;
			cap = cap ? cap * 2 : 16;
			nv = arena_alloc(a, cap * sizeof(*nv));
			if (n)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
		}
		read_folder(s, a, &v[n++]);
	}
	if (db_end(mb->db, s, "list folders", err) < 0)
		return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

int mail_folder_get(struct mailbox *mb, int64_t id, struct arena *a, struct mail_folder *f_r,
		    struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT " FOLDER_COLS " FROM folders WHERE id = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "get folder", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no folder %lld", (long long)id);
	}
	read_folder(s, a, f_r);
	db_done(mb->db, s);
	return 0;
}

int mail_folder_by_special(struct mailbox *mb, enum mail_special sp, int64_t *id_r,
			   struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT id FROM folders WHERE special = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int(s, 1, (int)sp);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "special folder", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no %s folder", mail_special_name(sp));
	}
	*id_r = sqlite3_column_int64(s, 0);
	db_done(mb->db, s);
	return 0;
}

int mail_folder_special_of(struct mailbox *mb, int64_t folder, enum mail_special *s_r,
			   struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT special FROM folders WHERE id = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, folder);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "folder special", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no folder %lld", (long long)folder);
	}
	*s_r = (enum mail_special)sqlite3_column_int(s, 0);
	db_done(mb->db, s);
	return 0;
}

static int child_by_name(struct mailbox *mb, int64_t parent, const char *name, int64_t *id_r,
			 struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT id FROM folders WHERE parent = ? AND name = ? COLLATE NOCASE",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, parent);
	db_bind_text(s, 2, name);
	if (sqlite3_step(s) != SQLITE_ROW) {
		if (db_end(mb->db, s, "folder by name", err) < 0)
			return -1;
		return err_set(err, ERR_NOTFOUND, "no folder named '%.200s'", name);
	}
	*id_r = sqlite3_column_int64(s, 0);
	db_done(mb->db, s);
	return 0;
}

int mail_folder_by_path(struct mailbox *mb, const char *path, int64_t *id_r, struct err *err)
{
	char comp[MAIL_FOLDER_NAME_MAX + 1];
	int64_t parent = 0;
	const char *p = path;
	enum mail_special sp = mail_special_parse(path);

	if (sp != MAIL_NONE && strchr(path, '/') == NULL && child_by_name(mb, 0, path, id_r, NULL) < 0)
		return mail_folder_by_special(mb, sp, id_r, err);
	if (*p == '\0')
		return err_set(err, ERR_NOTFOUND, "empty folder name");
	for (int depth = 0; depth <= MAIL_FOLDER_DEPTH_MAX; depth++) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > MAIL_FOLDER_NAME_MAX)
			return err_set(err, ERR_NOTFOUND, "no folder '%.200s'", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (child_by_name(mb, parent, comp, &parent, err) < 0) {
			if (err && err->code != ERR_NOTFOUND)
				return -1; /* the database failed: not an answer */
			return err_set(err, ERR_NOTFOUND, "no folder '%.200s'", path);
		}
		if (slash == NULL) {
			*id_r = parent;
			return 0;
		}
		p = slash + 1;
	}
	return err_set(err, ERR_NOTFOUND, "no folder '%.200s'", path);
}

const char *mail_folder_path(struct mailbox *mb, int64_t id, struct arena *a)
{
	char *path = arena_strdup(a, "");
	sqlite3_stmt *s;

	for (int depth = 0; id != 0 && depth <= MAIL_FOLDER_DEPTH_MAX; depth++) {
		if (db_prepare(mb->db, "SELECT parent, name FROM folders WHERE id = ?", &s, NULL) < 0)
			break;
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) != SQLITE_ROW) {
			struct err e;
			if (db_end(mb->db, s, "folder path", &e) < 0)
				log_warn("mail", "account=%lld folder=%lld error=\"%s\"",
					 (long long)mailbox_account(mb), (long long)id, e.msg);
			break;
		}
		id = sqlite3_column_int64(s, 0);
		path = *path ? arena_printf(a, "%s/%s", sqlite3_column_text(s, 1), path)
			     : arena_strdup(a, (const char *)sqlite3_column_text(s, 1));
		db_done(mb->db, s);
	}
	return path;
}

static int check_name(const char *name, struct err *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > MAIL_FOLDER_NAME_MAX)
		return err_set(err, ERR_INVALID, "a folder name is 1 to %d bytes",
			       MAIL_FOLDER_NAME_MAX);
	if (!utf8_valid(name, n))
		return err_set(err, ERR_INVALID, "the folder name is not valid UTF-8");
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return err_set(err, ERR_INVALID, "'%s' is not a folder name", name);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return err_set(err, ERR_INVALID,
				       "a folder name may not contain '/' or control characters");
	if (name[0] == ' ' || name[n - 1] == ' ')
		return err_set(err, ERR_INVALID, "a folder name may not start or end with a space");
	return 0;
}

static int depth_of(struct mailbox *mb, int64_t id, int *depth_r, struct err *err)
{
	sqlite3_stmt *s;
	int d = 0;
	while (id != 0) {
		if (++d > MAIL_FOLDER_DEPTH_MAX + 1)
			return err_set(err, ERR_INTERNAL, "folder tree has a cycle");
		if (db_prepare(mb->db, "SELECT parent FROM folders WHERE id = ?", &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) != SQLITE_ROW) {
			if (db_end(mb->db, s, "folder depth", err) < 0)
				return -1;
			return err_set(err, ERR_NOTFOUND, "no folder %lld", (long long)id);
		}
		id = sqlite3_column_int64(s, 0);
		db_done(mb->db, s);
	}
	*depth_r = d;
	return 0;
}

/* Folder changes reach the rebuild journal after they commit (see mail_int.h). */
static void journal(struct mailbox *mb, const char *line)
{
	struct err e;
	if (mail_log_append(mb, line, false, &e) < 0)
		log_warn("mail", "account=%lld journal=\"%s\"", (long long)mailbox_account(mb), e.msg);
}

static int64_t account_of(struct mailbox *mb)
{
	return mailbox_account(mb);
}

static void folders_event(struct mailbox *mb, uint64_t modseq)
{
	struct mail_events ev = {0};
	mail_events_add(&ev, MAIL_EV_FOLDERS, account_of(mb), 0, 0, 0, modseq);
	mail_events_publish(mailbox_store(mb), &ev);
	mail_events_release(&ev);
}

static int insert_folder(struct mailbox *mb, int64_t parent, const char *name, int64_t *id_r,
			 struct err *err)
{
	sqlite3_stmt *s;
	uint32_t v;

	if (mail_next_uidvalidity(mb, &v, err) < 0 ||
	    db_prepare(mb->db,
		       "INSERT INTO folders (parent, name, uidvalidity, created) VALUES (?, ?, ?, ?)",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, parent);
	db_bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, v);
	sqlite3_bind_int64(s, 4, time_now());
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(mb->db, NULL), err, "create folder");
		db_done(mb->db, s);
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "a folder named '%.200s' is already there", name);
		return -1;
	}
	db_done(mb->db, s);
	*id_r = sqlite3_last_insert_rowid(db_conn(mb->db, NULL));
	return 0;
}

int mail_folder_create(struct mailbox *mb, int64_t parent, const char *name, int64_t *id_r,
		       struct err *err)
{
	int depth;
	int64_t id;

	if (check_name(name, err) < 0)
		return -1;
	if (parent < 0)
		return err_set(err, ERR_INVALID, "bad parent folder");
	if (mail_begin(mb, err) < 0)
		return -1;
	if (depth_of(mb, parent, &depth, err) < 0)
		goto fail;
	if (depth >= MAIL_FOLDER_DEPTH_MAX) {
		err_set(err, ERR_LIMIT, "folders nest at most %d deep", MAIL_FOLDER_DEPTH_MAX);
		goto fail;
	}
	if (parent == 0 && mail_special_parse(name) == MAIL_INBOX) {
		err_set(err, ERR_EXISTS, "INBOX is already there");
		goto fail;
	}
	if (insert_folder(mb, parent, name, &id, err) < 0 || mail_commit(mb, err) < 0)
		goto fail;
	folders_event(mb, 0);
	*id_r = id;
	return 0;
fail:
	mail_rollback(mb);
	return -1;
}

int mail_folder_ensure_path(struct mailbox *mb, const char *path, int64_t *id_r,
			    struct err *err)
{
	char comp[MAIL_FOLDER_NAME_MAX + 1];
	int64_t parent = 0, id;
	const char *p = path;

	if (mail_folder_by_path(mb, path, id_r, NULL) == 0)
		return 0;
	for (int depth = 0;; depth++) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (depth >= MAIL_FOLDER_DEPTH_MAX)
			return err_set(err, ERR_LIMIT, "folders nest at most %d deep",
				       MAIL_FOLDER_DEPTH_MAX);
		if (n == 0 || n > MAIL_FOLDER_NAME_MAX)
			return err_set(err, ERR_INVALID, "bad folder path '%.200s'", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (depth == 0 && mail_special_parse(comp) != MAIL_NONE &&
		    child_by_name(mb, 0, comp, &id, NULL) < 0) {
			if (mail_folder_by_special(mb, mail_special_parse(comp), &id, err) < 0)
				return -1;
		} else if (child_by_name(mb, parent, comp, &id, NULL) < 0 &&
			   mail_folder_create(mb, parent, comp, &id, err) < 0) {
			if (err == NULL || err->code != ERR_EXISTS ||
			    child_by_name(mb, parent, comp, &id, err) < 0)
				return -1; /* lost a race: someone else created it */
		}
		parent = id;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	*id_r = parent;
	return 0;
}

/* Is candidate inside (or equal to) folder? */
static int is_within(struct mailbox *mb, int64_t candidate, int64_t folder, bool *r,
		     struct err *err)
{
	sqlite3_stmt *s;
	*r = false;
	for (int d = 0; candidate != 0 && d <= MAIL_FOLDER_DEPTH_MAX + 1; d++) {
		if (candidate == folder) {
			*r = true;
			return 0;
		}
		if (db_prepare(mb->db, "SELECT parent FROM folders WHERE id = ?", &s, err) < 0)
			return -1;
		sqlite3_bind_int64(s, 1, candidate);
		candidate = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
		if (db_end(mb->db, s, "folder parent", err) < 0)
			return -1;
	}
	return 0;
}

/* Height of the subtree under id (1 for a leaf). */
static int height_of(struct mailbox *mb, int64_t id, int level, int *h_r, struct err *err)
{
	sqlite3_stmt *s;
	int64_t kids[64];
	size_t n = 0;
	int best = 0;

	if (level > MAIL_FOLDER_DEPTH_MAX + 1)
		return err_set(err, ERR_INTERNAL, "folder tree too deep");
	if (db_prepare(mb->db, "SELECT id FROM folders WHERE parent = ? LIMIT 64", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW && n < ARRAY_LEN(kids))
		kids[n++] = sqlite3_column_int64(s, 0);
	if (db_end(mb->db, s, "subfolders", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int h;
		if (height_of(mb, kids[i], level + 1, &h, err) < 0)
			return -1;
		if (h > best)
			best = h;
	}
	*h_r = best + 1;
	return 0;
}

int mail_folder_rename(struct mailbox *mb, int64_t id, int64_t new_parent, const char *name,
		       struct err *err)
{
	enum mail_special sp;
	sqlite3_stmt *s;
	int depth, height;
	bool loop;
	struct arena *a;
	const char *old_path, *new_path;
	int ret = -1;

	if (name && check_name(name, err) < 0)
		return -1;
	a = arena_new();
	if (mail_begin(mb, err) < 0)
		goto out;
	old_path = mail_folder_path(mb, id, a);
	if (mail_folder_special_of(mb, id, &sp, err) < 0)
		goto fail;
	if (sp != MAIL_NONE) {
		err_set(err, ERR_DENIED, "the %s folder cannot be renamed or moved",
			mail_special_name(sp));
		goto fail;
	}
	if (new_parent >= 0) {
		if (is_within(mb, new_parent, id, &loop, err) < 0)
			goto fail;
		if (loop) {
			err_set(err, ERR_INVALID, "a folder cannot move into itself");
			goto fail;
		}
		if (depth_of(mb, new_parent, &depth, err) < 0 || height_of(mb, id, 0, &height, err) < 0)
			goto fail;
		if (depth + height > MAIL_FOLDER_DEPTH_MAX) {
			err_set(err, ERR_LIMIT, "folders nest at most %d deep", MAIL_FOLDER_DEPTH_MAX);
			goto fail;
		}
	}
	if (db_prepare(mb->db,
		       "UPDATE folders SET parent = CASE WHEN ?1 >= 0 THEN ?1 ELSE parent END,"
		       " name = coalesce(?2, name) WHERE id = ?3",
		       &s, err) < 0)
		goto fail;
	sqlite3_bind_int64(s, 1, new_parent);
	db_bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, id);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_err(db_conn(mb->db, NULL), err, "rename folder");
		db_done(mb->db, s);
		if (err && err->code == ERR_EXISTS)
			err_set(err, ERR_EXISTS, "a folder of that name is already there");
		goto fail;
	}
	db_done(mb->db, s);
	new_path = mail_folder_path(mb, id, a);
	if (mail_commit(mb, err) < 0)
		goto fail;
	journal(mb, arena_printf(a, "r\t%s\t%s\n", old_path, new_path));
	folders_event(mb, 0);
	ret = 0;
	goto out;
fail:
	mail_rollback(mb);
out:
	arena_free(&a);
	return ret;
}

/* Collect id and its descendants, deepest last. */
static int subtree(struct mailbox *mb, int64_t id, int64_t *v, size_t *n, size_t cap, int level,
		   struct err *err)
{
	sqlite3_stmt *s;
	size_t first;

	if (level > MAIL_FOLDER_DEPTH_MAX + 1 || *n >= cap)
		return err_set(err, ERR_LIMIT, "too many subfolders to delete at once");
	v[(*n)++] = id;
	first = *n;
	if (db_prepare(mb->db, "SELECT id FROM folders WHERE parent = ?", &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW && *n < cap)
		v[(*n)++] = sqlite3_column_int64(s, 0);
	if (db_end(mb->db, s, "subfolders", err) < 0)
		return -1;
	{
		size_t last = *n;
		int64_t kids[1024];
		size_t nk = last - first < ARRAY_LEN(kids) ? last - first : ARRAY_LEN(kids);
		memcpy(kids, v + first, nk * sizeof(int64_t));
		*n = first;
		for (size_t i = 0; i < nk; i++)
			if (subtree(mb, kids[i], v, n, cap, level + 1, err) < 0)
				return -1;
	}
	return 0;
}

int mail_folder_delete(struct mailbox *mb, int64_t id, struct err *err)
{
	enum mail_special sp;
	int64_t ids[1024], trash;
	size_t n = 0;
	sqlite3_stmt *s;
	uint64_t modseq;
	struct mail_events ev = {0};
	struct arena *a = arena_new();
	const char *path;

	if (mail_begin(mb, err) < 0) {
		arena_free(&a);
		return -1;
	}
	if (mail_folder_special_of(mb, id, &sp, err) < 0)
		goto fail;
	if (sp != MAIL_NONE) {
		err_set(err, ERR_DENIED, "the %s folder cannot be deleted", mail_special_name(sp));
		goto fail;
	}
	path = mail_folder_path(mb, id, a);
	if (mail_folder_by_special(mb, MAIL_TRASH, &trash, err) < 0 ||
	    subtree(mb, id, ids, &n, ARRAY_LEN(ids), 0, err) < 0 ||
	    mail_next_modseq(mb, &modseq, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint32_t first;
		int64_t count = 0;
		if (db_prepare(mb->db,
			       "SELECT count(*) FROM messages WHERE folder_id = ? AND expunged_at = 0",
			       &s, err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, ids[i]);
		if (sqlite3_step(s) == SQLITE_ROW)
			count = sqlite3_column_int64(s, 0);
		if (db_end(mb->db, s, "count folder", err) < 0)
			goto fail;
		if (count > 0) {
			/* live mail goes to Trash with fresh UIDs there, in UID order */
			if (mail_alloc_uids(mb, trash, (uint32_t)count, &first, err) < 0 ||
			    db_prepare(mb->db,
				       "UPDATE messages SET folder_id = ?1, trash_from = 0, modseq = ?2,"
				       " uid = ?3 + r.rn - 1 FROM (SELECT id, row_number() OVER"
				       "  (ORDER BY uid) AS rn FROM messages WHERE folder_id = ?4"
				       "  AND expunged_at = 0) AS r WHERE messages.id = r.id",
				       &s, err) < 0)
				goto fail;
			sqlite3_bind_int64(s, 1, trash);
			sqlite3_bind_int64(s, 2, (int64_t)modseq);
			sqlite3_bind_int64(s, 3, first);
			sqlite3_bind_int64(s, 4, ids[i]);
			if (mail_step(mb, s, "move to trash", err) < 0)
				goto fail;
			mail_events_add(&ev, MAIL_EV_NEW, account_of(mb), trash, 0, 0, modseq);
		}
		/* expunged mail kept for restore: it will come back into Inbox */
		if (db_prepare(mb->db, "UPDATE messages SET folder_id = 0 WHERE folder_id = ?", &s,
			       err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, ids[i]);
		if (mail_step(mb, s, "detach expunged", err) < 0)
			goto fail;
		if (db_prepare(mb->db, "DELETE FROM folders WHERE id = ?", &s, err) < 0)
			goto fail;
		sqlite3_bind_int64(s, 1, ids[i]);
		if (mail_step(mb, s, "delete folder", err) < 0)
			goto fail;
	}
	if (mail_touch_folder(mb, trash, modseq, err) < 0 || mail_commit(mb, err) < 0)
		goto fail;
	journal(mb, arena_printf(a, "d\t%s\n", path));
	mail_events_add(&ev, MAIL_EV_FOLDERS, account_of(mb), 0, 0, 0, modseq);
	mail_events_publish(mailbox_store(mb), &ev);
	mail_events_release(&ev);
	arena_free(&a);
	return 0;
fail:
	mail_rollback(mb);
	mail_events_release(&ev);
	arena_free(&a);
	return -1;
}
