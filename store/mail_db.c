/* The mail store: open mailboxes (a bounded LRU cache), transactions, events, mail.log. */
#include "mail_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

void mail_store_opts_default(struct mail_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	mime_limits_default(&o->mime);
	o->retention_seconds = 30 * 86400;
	o->cache_mailboxes = 200;
	o->tz_minutes = 480;
	o->index_shards = 2;
}

int mail_store_open(const char *data_dir, const struct mail_store_opts *o,
		    struct mail_store **ms_r, struct err *err)
{
	struct mail_store *ms = xcalloc(1, sizeof(*ms));
	char path[1100];

	if ((size_t)snprintf(ms->data_dir, sizeof(ms->data_dir), "%s", data_dir) >=
	    sizeof(ms->data_dir)) {
		free(ms);
		return err_set(err, ERR_INVALID, "data directory path is too long");
	}
	ms->opts = *o;
	if (ms->opts.cache_mailboxes == 0)
		ms->opts.cache_mailboxes = 1;
	snprintf(path, sizeof(path), "%s/accounts", data_dir);
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
		free(ms);
		return -1;
	}
	if (blob_store_open(data_dir, &ms->blobs, err) < 0) {
		free(ms);
		return -1;
	}
	mime_init();
	pthread_mutex_init(&ms->lock, NULL);
	pthread_cond_init(&ms->quiet, NULL);
	pthread_mutex_init(&ms->parsed_lock, NULL);
	ms->next_handle = 1;
	*ms_r = ms;
	return 0;
}

static void mailbox_destroy(struct mailbox *mb)
{
	db_close(&mb->db);
	if (mb->log_fd >= 0)
		close(mb->log_fd);
	pthread_mutex_destroy(&mb->log_lock);
	free(mb);
}

void mail_store_close(struct mail_store **msp)
{
	struct mail_store *ms = *msp;
	if (ms == NULL)
		return;
	while (ms->lru) {
		struct mailbox *mb = ms->lru;
		ms->lru = mb->next;
		if (mb->refs > 0)
			log_warn("mail", "account=%lld refs=%d msg=\"mailbox still in use at close\"",
				 (long long)mb->account_id, mb->refs);
		mailbox_destroy(mb);
	}
	blob_store_close(&ms->blobs);
	mail_parsed_clear(ms);
	pthread_mutex_destroy(&ms->parsed_lock);
	pthread_mutex_destroy(&ms->lock);
	pthread_cond_destroy(&ms->quiet);
	free(ms);
	*msp = NULL;
}

struct blob_store *mail_store_blobs(struct mail_store *ms)
{
	return ms->blobs;
}

const struct mail_store_opts *mail_store_options(const struct mail_store *ms)
{
	return &ms->opts;
}

const char *mail_store_data_dir(const struct mail_store *ms)
{
	return ms->data_dir;
}

/* ---- events ---- */

int mail_events_subscribe(struct mail_store *ms, mail_event_fn *fn, void *ctx)
{
	int h = -1;
	pthread_mutex_lock(&ms->lock);
	if (ms->nsubs < ARRAY_LEN(ms->subs)) {
		h = ms->next_handle++;
		ms->subs[ms->nsubs++] = (struct sub){.fn = fn, .ctx = ctx, .handle = h};
	}
	pthread_mutex_unlock(&ms->lock);
	return h;
}

void mail_events_unsubscribe(struct mail_store *ms, int handle)
{
	pthread_mutex_lock(&ms->lock);
	for (size_t i = 0; i < ms->nsubs; i++) {
		if (ms->subs[i].handle == handle) {
			ms->subs[i] = ms->subs[--ms->nsubs];
			break;
		}
	}
	/* A publisher may hold a copy of the list taken before the removal: once it is done
	 * the subscriber cannot be called again and its context may be freed. */
	while (ms->publishing > 0)
		pthread_cond_wait(&ms->quiet, &ms->lock);
	pthread_mutex_unlock(&ms->lock);
}

void mail_events_add(struct mail_events *e, enum mail_event_type type, int64_t account,
		     int64_t folder, int64_t msg, uint32_t uid, uint64_t modseq)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n++] = (struct mail_event){.type = type, .account_id = account, .folder_id = folder,
					   .message_id = msg, .uid = uid, .modseq = modseq};
}

void mail_events_publish(struct mail_store *ms, struct mail_events *e)
{
	struct sub subs[ARRAY_LEN(ms->subs)];
	size_t nsubs;

	if (e->n == 0)
		return;
	pthread_mutex_lock(&ms->lock);
	nsubs = ms->nsubs;
	memcpy(subs, ms->subs, nsubs * sizeof(subs[0]));
	ms->publishing++;
	pthread_mutex_unlock(&ms->lock);
	for (size_t i = 0; i < e->n; i++)
		for (size_t j = 0; j < nsubs; j++)
			subs[j].fn(subs[j].ctx, &e->v[i]);
	pthread_mutex_lock(&ms->lock);
	if (--ms->publishing == 0)
		pthread_cond_broadcast(&ms->quiet);
	pthread_mutex_unlock(&ms->lock);
}

void mail_events_release(struct mail_events *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

/* ---- mailboxes ---- */

static void account_dir(const struct mail_store *ms, int64_t id, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/accounts/%02x/%lld", ms->data_dir, (unsigned)(id & 0xff),
		 (long long)id);
}

bool mailbox_exists(struct mail_store *ms, int64_t account_id)
{
	char path[1200];
	account_dir(ms, account_id, path, sizeof(path));
	strcat(path, "/mail.db");
	return access(path, F_OK) == 0;
}

static int mkdirs(const char *path, struct err *err)
{
	char tmp[1200];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return err_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
	return 0;
}

static const struct {
	enum mail_special special;
	const char *name;
} standard_folders[] = {
	{MAIL_INBOX, "INBOX"}, {MAIL_DRAFTS, "Drafts"}, {MAIL_SENT, "Sent"},
	{MAIL_TRASH, "Trash"}, {MAIL_JUNK, "Junk"},     {MAIL_ARCHIVE, "Archive"},
};

static int ensure_standard(struct mailbox *mb, struct err *err)
{
	sqlite3_stmt *s;
	int64_t n = 0;

	if (db_prepare(mb->db, "SELECT count(*) FROM folders WHERE special != 0", &s, err) < 0)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	if (db_end(mb->db, s, "count standard folders", err) < 0)
		return -1;
	if (n == (int64_t)ARRAY_LEN(standard_folders))
		return 0;
	if (mail_begin(mb, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(standard_folders); i++) {
		uint32_t v;
		if (mail_next_uidvalidity(mb, &v, err) < 0 ||
		    db_prepare(mb->db,
			       "INSERT OR IGNORE INTO folders (parent, name, special, uidvalidity,"
			       " created) VALUES (0, ?, ?, ?, ?)",
			       &s, err) < 0)
			goto fail;
		db_bind_text(s, 1, standard_folders[i].name);
		sqlite3_bind_int(s, 2, (int)standard_folders[i].special);
		sqlite3_bind_int64(s, 3, v);
		sqlite3_bind_int64(s, 4, time_now());
		if (mail_step(mb, s, "create standard folder", err) < 0)
			goto fail;
	}
	return mail_commit(mb, err);
fail:
	mail_rollback(mb);
	return -1;
}

static void lru_unlink(struct mail_store *ms, struct mailbox *mb)
{
	if (mb->prev)
		mb->prev->next = mb->next;
	else
		ms->lru = mb->next;
	if (mb->next)
		mb->next->prev = mb->prev;
	mb->prev = mb->next = NULL;
}

static void lru_push(struct mail_store *ms, struct mailbox *mb)
{
	mb->prev = NULL;
	mb->next = ms->lru;
	if (ms->lru)
		ms->lru->prev = mb;
	ms->lru = mb;
}

/* Drop unused mailboxes beyond the cache size (called with ms->lock held). Returns them in a
 * list for closing outside the lock. */
static struct mailbox *evict(struct mail_store *ms)
{
	struct mailbox *mb, *tail = NULL, *out = NULL;

	for (mb = ms->lru; mb; mb = mb->next)
		tail = mb;
	for (mb = tail; mb && ms->nopen > ms->opts.cache_mailboxes;) {
		struct mailbox *prev = mb->prev;
		if (mb->refs == 0) {
			lru_unlink(ms, mb);
			ms->nopen--;
			mb->next = out;
			out = mb;
		}
		mb = prev;
	}
	return out;
}

static int mailbox_create(struct mail_store *ms, int64_t account_id, struct mailbox **mb_r,
			  struct err *err)
{
	struct db_opts o = {
		.migrations = mail_migrations,
		.nmigrations = mail_nmigrations,
		.sync_full = true,
		.create = true,
	};
	struct mailbox *mb = xcalloc(1, sizeof(*mb));
	char path[1200];

	mb->ms = ms;
	mb->account_id = account_id;
	mb->log_fd = -1;
	pthread_mutex_init(&mb->log_lock, NULL);
	account_dir(ms, account_id, mb->dir, sizeof(mb->dir));
	if (mkdirs(mb->dir, err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/mail.db", mb->dir);
	if (db_open(path, &o, &mb->db, err) < 0)
		goto fail;
	if (ensure_standard(mb, err) < 0)
		goto fail;
	*mb_r = mb;
	return 0;
fail:
	mailbox_destroy(mb);
	return -1;
}

int mailbox_open(struct mail_store *ms, int64_t account_id, int64_t quota_bytes,
		 struct mailbox **mb_r, struct err *err)
{
	struct mailbox *mb, *victims, *other;

	if (account_id <= 0)
		return err_set(err, ERR_INVALID, "no such account");
	pthread_mutex_lock(&ms->lock);
	for (mb = ms->lru; mb; mb = mb->next)
		if (mb->account_id == account_id)
			break;
	if (mb) {
		lru_unlink(ms, mb);
		lru_push(ms, mb);
		mb->refs++;
		if (quota_bytes >= 0)
			mb->quota = quota_bytes;
		pthread_mutex_unlock(&ms->lock);
		*mb_r = mb;
		return 0;
	}
	pthread_mutex_unlock(&ms->lock);

	/* open outside the lock (migrations, folder creation), then publish unless another
	 * thread was faster */
	if (mailbox_create(ms, account_id, &mb, err) < 0)
		return -1;
	pthread_mutex_lock(&ms->lock);
	for (other = ms->lru; other; other = other->next)
		if (other->account_id == account_id)
			break;
	if (other) {
		other->refs++;
		if (quota_bytes >= 0)
			other->quota = quota_bytes;
		pthread_mutex_unlock(&ms->lock);
		mailbox_destroy(mb);
		*mb_r = other;
		return 0;
	}
	mb->refs = 1;
	mb->quota = quota_bytes > 0 ? quota_bytes : 0;
	lru_push(ms, mb);
	ms->nopen++;
	victims = evict(ms);
	pthread_mutex_unlock(&ms->lock);
	while (victims) {
		struct mailbox *next = victims->next;
		mailbox_destroy(victims);
		victims = next;
	}
	*mb_r = mb;
	return 0;
}

void mailbox_unref(struct mailbox **mbp)
{
	struct mailbox *mb = *mbp, *victims;
	struct mail_store *ms;

	if (mb == NULL)
		return;
	ms = mb->ms;
	pthread_mutex_lock(&ms->lock);
	ASSERT(mb->refs > 0);
	mb->refs--;
	victims = evict(ms);
	pthread_mutex_unlock(&ms->lock);
	while (victims) {
		struct mailbox *next = victims->next;
		mailbox_destroy(victims);
		victims = next;
	}
	*mbp = NULL;
}

int64_t mailbox_account(const struct mailbox *mb)
{
	return mb->account_id;
}

const char *mailbox_dir(const struct mailbox *mb)
{
	return mb->dir;
}

struct mail_store *mailbox_store(struct mailbox *mb)
{
	return mb->ms;
}

int mail_store_each_account(struct mail_store *ms, mail_account_fn *fn, void *ctx,
			    struct err *err)
{
	char path[1200];
	DIR *top, *shard;
	struct dirent *e, *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/accounts", ms->data_dir);
	top = opendir(path);
	if (top == NULL)
		return errno == ENOENT ? 0 : err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	while (r == 0 && (e = readdir(top)) != NULL) {
		if (e->d_name[0] == '.' || strlen(e->d_name) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/accounts/%.2s", ms->data_dir, e->d_name);
		shard = opendir(path);
		if (shard == NULL)
			continue;
		while (r == 0 && (f = readdir(shard)) != NULL) {
			int64_t id;
			if (f->d_name[0] == '.' || str_to_i64(f->d_name, 1, INT64_MAX, &id) < 0)
				continue;
			if (mailbox_exists(ms, id))
				r = fn(ctx, id);
		}
		closedir(shard);
	}
	closedir(top);
	return r;
}

/* ---- transactions and small helpers ---- */

int mail_exec(struct mailbox *mb, const char *sql, struct err *err)
{
	return db_exec(mb->db, sql, err);
}

int mail_begin(struct mailbox *mb, struct err *err)
{
	return db_exec(mb->db, "BEGIN IMMEDIATE", err);
}

int mail_commit(struct mailbox *mb, struct err *err)
{
	if (db_exec(mb->db, "COMMIT", err) < 0) {
		mail_rollback(mb);
		return -1;
	}
	return 0;
}

void mail_rollback(struct mailbox *mb)
{
	sqlite3 *c = db_conn(mb->db, NULL);
	if (c && !sqlite3_get_autocommit(c))
		sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
}

int mail_step(struct mailbox *mb, sqlite3_stmt *s, const char *what, struct err *err)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_err(db_conn(mb->db, NULL), err, what);
		db_done(mb->db, s);
		return -1;
	}
	db_done(mb->db, s);
	return 0;
}

static int bump_state(struct mailbox *mb, const char *key, int64_t *v_r, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "UPDATE state SET value = value + 1 WHERE key = ? RETURNING value",
		       &s, err) < 0)
		return -1;
	db_bind_text(s, 1, key);
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_err(db_conn(mb->db, NULL), err, key);
		db_done(mb->db, s);
		return -1;
	}
	*v_r = sqlite3_column_int64(s, 0);
	db_done(mb->db, s);
	return 0;
}

int mail_next_modseq(struct mailbox *mb, uint64_t *modseq_r, struct err *err)
{
	int64_t v;
	if (bump_state(mb, "modseq", &v, err) < 0)
		return -1;
	*modseq_r = (uint64_t)v;
	return 0;
}

int mail_next_uidvalidity(struct mailbox *mb, uint32_t *v_r, struct err *err)
{
	int64_t v;
	if (bump_state(mb, "uidvalidity", &v, err) < 0)
		return -1;
	*v_r = (uint32_t)v; /* seconds since 1970 fit until 2106; then it wraps, still unique */
	return 0;
}

int mail_alloc_uids(struct mailbox *mb, int64_t folder, uint32_t n, uint32_t *first_r,
		    struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db,
		       "UPDATE folders SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	sqlite3_bind_int64(s, 2, folder);
	if (sqlite3_step(s) != SQLITE_ROW) {
		db_done(mb->db, s);
		return err_set(err, ERR_NOTFOUND, "no folder %lld", (long long)folder);
	}
	*first_r = (uint32_t)(sqlite3_column_int64(s, 0) - n);
	db_done(mb->db, s);
	return 0;
}

int mail_touch_folder(struct mailbox *mb, int64_t folder, uint64_t modseq, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "UPDATE folders SET highestmodseq = max(highestmodseq, ?) WHERE id = ?",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, (int64_t)modseq);
	sqlite3_bind_int64(s, 2, folder);
	return mail_step(mb, s, "touch folder", err);
}

int mail_log_append(struct mailbox *mb, const char *line, bool sync, struct err *err)
{
	size_t n = strlen(line);
	int ret = 0;

	pthread_mutex_lock(&mb->log_lock);
	if (mb->log_fd < 0) {
		char path[1200];
		snprintf(path, sizeof(path), "%s/mail.log", mb->dir);
		mb->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (mb->log_fd < 0) {
			ret = err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	/* O_APPEND: one write() per line keeps lines whole across processes */
	if (write(mb->log_fd, line, n) != (ssize_t)n || (sync && fdatasync(mb->log_fd) < 0))
		ret = err_set(err, ERR_IO, "mail.log: %s", strerror(errno));
out:
	pthread_mutex_unlock(&mb->log_lock);
	return ret;
}

void mail_journal_stored(struct mailbox *mb, struct buf *b, const char *digest, int64_t date,
			 unsigned flags, int64_t folder, struct arena *a)
{
	if (buf_printf(b, "+\t%s\t%lld\t%u\t%s\n", digest, (long long)date, flags,
		       mail_folder_path(mb, folder, a)) < 0)
		abort(); /* journal buffers are unlimited */
}

void mail_journal_moved(struct mailbox *mb, struct buf *b, const char *digest, int64_t from,
			int64_t to, struct arena *a)
{
	if (buf_printf(b, ">\t%s\t%s\t%s\n", digest, mail_folder_path(mb, from, a),
		       mail_folder_path(mb, to, a)) < 0)
		abort();
}

int mail_usage_get(struct mailbox *mb, struct mail_usage *u, struct err *err)
{
	sqlite3_stmt *s;
	if (db_prepare(mb->db, "SELECT total(bytes), total(total) FROM folders", &s, err) < 0)
		return -1;
	memset(u, 0, sizeof(*u));
	if (sqlite3_step(s) == SQLITE_ROW) {
		u->bytes = sqlite3_column_int64(s, 0);
		u->messages = sqlite3_column_int64(s, 1);
	}
	/* zeros would pass every quota check */
	if (db_end(mb->db, s, "usage", err) < 0)
		return -1;
	u->quota = mb->quota;
	return 0;
}

const char *mail_special_name(enum mail_special s)
{
	static const char *const names[] = {"", "inbox", "drafts", "sent", "trash", "junk",
					    "archive"};
	return (unsigned)s < ARRAY_LEN(names) ? names[s] : "";
}

enum mail_special mail_special_parse(const char *s)
{
	for (int i = 1; i <= MAIL_ARCHIVE; i++)
		if (strcasecmp(s, mail_special_name((enum mail_special)i)) == 0)
			return (enum mail_special)i;
	return MAIL_NONE;
}

int mail_optimize(struct mailbox *mb, struct err *err)
{
	return db_exec(mb->db, "PRAGMA analysis_limit=400; PRAGMA optimize;", err);
}
