/* The mail side of search (index.h): queue drain, queries over index + mail.db, and the
 * daemon's indexer thread. */
#include "index.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "search.h"

/* Jobs per index commit. With one shard 256 was best (64: 235, 256: 284, 1000: 183 docs/s on
 * 3,000 generated mails); with two, 512 gives each shard the same 256. */
#define DRAIN_BATCH 512

static void index_dir(struct mailbox *mb, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/index", mailbox_dir(mb));
}

/* Shards of a new index ([mail] index_shards; 0 from options made by hand means 1). */
static unsigned shards_of(struct mailbox *mb)
{
	unsigned n = mail_store_options(mailbox_store(mb))->index_shards;
	return n ? n : 1;
}

/* "Name <address>" items joined by ", " */
static const char *addr_text(const struct mime_addr_list *l, struct buf *b)
{
	buf_reset(b);
	for (size_t i = 0; i < l->n; i++) {
		if (b->len && buf_puts(b, ", ") < 0)
			break;
		if (l->v[i].name && *l->v[i].name && buf_printf(b, "%s ", l->v[i].name) < 0)
			break;
		if (buf_printf(b, "<%s>", l->v[i].address ? l->v[i].address : "") < 0)
			break;
	}
	return buf_cstr(b) ? buf_cstr(b) : "";
}

static int index_one(struct mailbox *mb, struct search_db *sdb, int64_t id, struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mailbox_store(mb));
	struct arena *a = arena_new();
	struct search_doc d = {0};
	struct arena *pa = NULL; /* a parse kept since the message was stored */
	struct mime_msg *msg;
	struct mail_msg m;
	struct buf from, to, names;
	char *raw = NULL;
	size_t len;
	int ret = -1;

	buf_init(&from, 64 * 1024);
	buf_init(&to, 256 * 1024);
	buf_init(&names, 64 * 1024);
	if (mail_get(mb, id, a, &m, err) < 0) {
		/* gone meanwhile (expunged, purged): its delete job follows; a parse kept for it
		 * goes now rather than when it ages out */
		if (err->code == ERR_NOTFOUND)
			mail_parsed_drop(mb, id);
		ret = err->code == ERR_NOTFOUND ? 0 : -1;
		goto out;
	}
	msg = mail_parsed_claim(mb, id, m.blob, &pa);
	if (msg == NULL && (mail_raw(mb, &m, &raw, &len, err) < 0 ||
			    mime_parse(raw, len, &o->mime, a, &msg, err) < 0)) {
		/* an unreadable message is indexed by what mail.db knows */
		log_warn("index", "account=%lld msg=%lld error=\"%s\"", (long long)mailbox_account(mb),
			 (long long)id, err->msg);
		msg = NULL;
	}
	d.id = id;
	d.folder_id = m.folder_id;
	d.date = m.internal_date;
	d.subject = m.subject;
	d.note = m.note;
	d.has_attachment = m.has_attachments;
	if (msg) {
		struct mime_addr_list both = msg->to;
		d.from = arena_strdup(a, addr_text(&msg->from, &from));
		if (msg->cc.n) {
			both.n = msg->to.n + msg->cc.n;
			both.v = arena_alloc(a, both.n * sizeof(*both.v));
			if (msg->to.n)
				memcpy(both.v, msg->to.v, msg->to.n * sizeof(*both.v));
			memcpy(both.v + msg->to.n, msg->cc.v, msg->cc.n * sizeof(*both.v));
		}
		d.to = arena_strdup(a, addr_text(&both, &to));
		d.body = msg->text;
		d.attach_text = msg->attach_text;
		for (size_t i = 0; i < msg->nparts; i++)
			if (msg->parts[i].is_attachment && msg->parts[i].filename &&
			    (buf_puts(&names, msg->parts[i].filename) < 0 || buf_puts(&names, "\n") < 0))
				break;
		d.attach_names = buf_cstr(&names);
	} else {
		d.from = arena_printf(a, "%s <%s>", m.from.name, m.from.address);
		d.body = m.snippet;
	}
	ret = search_put(sdb, &d, err);
out:
	arena_free(&pa);
	free(raw);
	buf_release(&from);
	buf_release(&to);
	buf_release(&names);
	arena_free(&a);
	return ret;
}

static int run_job(struct mailbox *mb, struct search_db *sdb, const struct mail_index_job *j,
		   struct err *err)
{
	switch (j->op) {
	case MAIL_IDX_DELETE:
		return search_delete(sdb, j->message_id, err);
	case MAIL_IDX_FOLDER: {
		struct arena *a = arena_new();
		struct mail_msg m;
		int r = mail_get(mb, j->message_id, a, &m, err);
		if (r == 0 && search_set_folder(sdb, j->message_id, m.folder_id, err) < 0)
			r = err->code == ERR_NOTFOUND ? index_one(mb, sdb, j->message_id, err) : -1;
		else if (r < 0 && err->code == ERR_NOTFOUND)
			r = 0;
		arena_free(&a);
		return r;
	}
	default:
		return index_one(mb, sdb, j->message_id, err);
	}
}

int search_index_drain(struct mailbox *mb, size_t max, size_t *done_r, struct err *err)
{
	struct search_db *sdb = NULL;
	char dir[1200];
	size_t done = 0;
	int ret = -1;

	*done_r = 0;
	if (mail_index_pending(mb) == 0)
		return 0;
	index_dir(mb, dir, sizeof(dir));
	if (search_open(dir, true, shards_of(mb), &sdb, err) < 0)
		return -1;
	while (max == 0 || done < max) {
		struct arena *a = arena_new();
		struct mail_index_job *jobs;
		size_t n, want = DRAIN_BATCH;
		if (max && max - done < want)
			want = max - done;
		if (mail_index_jobs(mb, want, a, &jobs, &n, err) < 0) {
			arena_free(&a);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			if (run_job(mb, sdb, &jobs[i], err) < 0) {
				arena_free(&a);
				goto out;
			}
		}
		/* the queue shrinks only after the index has the changes */
		if (n > 0 && (search_commit(sdb, err) < 0 ||
			      mail_index_done(mb, jobs[n - 1].seq, err) < 0)) {
			arena_free(&a);
			goto out;
		}
		arena_free(&a);
		done += n;
		if (n < want)
			break;
	}
	ret = 0;
out:
	search_close(&sdb);
	*done_r = done;
	return ret;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int search_index_reset(struct mailbox *mb, struct err *err)
{
	char dir[1200];
	struct search_db *sdb;

	index_dir(mb, dir, sizeof(dir));
	/* take the write lock first, so nobody is writing while it goes */
	if (access(dir, F_OK) == 0) {
		if (search_open(dir, true, shards_of(mb), &sdb, err) < 0)
			return -1;
		search_close(&sdb);
		if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
			return err_set(err, ERR_IO, "remove %s: %s", dir, strerror(errno));
	}
	return mail_index_all(mb, err);
}

int search_index_compact(struct mailbox *mb, struct err *err)
{
	char dir[1200];
	struct search_db *sdb;
	int r;

	index_dir(mb, dir, sizeof(dir));
	if (search_open(dir, true, shards_of(mb), &sdb, err) < 0)
		return -1;
	r = search_compact(sdb, err);
	search_close(&sdb);
	return r;
}

static int64_t du_total;
static int du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (flag == FTW_F)
		du_total += sb->st_size;
	return 0;
}

int search_index_stats(struct mailbox *mb, int64_t *bytes_r, int64_t *docs_r, struct err *err)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct search_db *sdb;
	char dir[1200];

	index_dir(mb, dir, sizeof(dir));
	pthread_mutex_lock(&lock);
	du_total = 0;
	nftw(dir, du_entry, 16, FTW_PHYS);
	*bytes_r = du_total;
	pthread_mutex_unlock(&lock);
	*docs_r = 0;
	if (search_open(dir, false, 0, &sdb, err) < 0)
		return err->code == ERR_NOTFOUND ? 0 : -1;
	*docs_r = search_count(sdb);
	search_close(&sdb);
	return 0;
}

/* ---- queries ---- */

static const struct {
	const char *name;
	enum mail_special special;
} folder_aliases[] = {
	{"收件箱", MAIL_INBOX}, {"草稿箱", MAIL_DRAFTS}, {"草稿", MAIL_DRAFTS},
	{"已发送", MAIL_SENT},  {"发件箱", MAIL_SENT},   {"已删除", MAIL_TRASH},
	{"废纸篓", MAIL_TRASH}, {"垃圾邮件", MAIL_JUNK}, {"垃圾箱", MAIL_JUNK},
	{"归档", MAIL_ARCHIVE}, {"spam", MAIL_JUNK},     {"sent items", MAIL_SENT},
	{"deleted", MAIL_TRASH},
};

static int resolve_folder(struct mailbox *mb, const char *name, int64_t *id_r, struct err *err)
{
	if (mail_folder_by_path(mb, name, id_r, NULL) == 0)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(folder_aliases); i++)
		if (strcasecmp(name, folder_aliases[i].name) == 0)
			return mail_folder_by_special(mb, folder_aliases[i].special, id_r, err);
	return err_set(err, ERR_INVALID, "in: there is no folder '%.100s'", name);
}

/* How much of a message's text deep_highlights() looks through (and keeps, per hit). */
#define DEEP_TEXT_BYTES (64 * 1024)

/* The index keeps the subject and the first 2 KB of the body for highlights. A hit whose
 * match lies further in (or in an attachment's text) gets its excerpt from the message
 * itself. Best effort: a message that cannot be read keeps what it had. */
static void deep_highlights(struct mailbox *mb, struct search_db *sdb,
			    const struct search_query *sq, struct mail_search_hit *v, size_t n,
			    struct arena *a)
{
	const struct mail_store_opts *o = mail_store_options(mailbox_store(mb));
	const char **texts = arena_alloc(a, (n ? n : 1) * sizeof(*texts));
	const char **out = arena_alloc(a, (n ? n : 1) * sizeof(*out));
	size_t *at = arena_alloc(a, (n ? n : 1) * sizeof(*at));
	size_t k = 0;
	struct err err;
	bool wanted;

	if (search_wants_text(sdb, sq, &wanted, &err) < 0 || !wanted)
		return;
	for (size_t i = 0; i < n; i++) {
		struct arena *tmp;
		struct mime_msg *msg;
		char *raw = NULL;
		size_t len;
		if (v[i].highlight && strchr(v[i].highlight, SEARCH_HL_START[0]))
			continue;
		tmp = arena_new();
		if (mail_raw(mb, &v[i].msg, &raw, &len, &err) == 0 &&
		    mime_parse(raw, len, &o->mime, tmp, &msg, &err) == 0) {
			const char *t = msg->text ? msg->text : "";
			size_t tl;
			if (msg->attach_text && *msg->attach_text)
				t = arena_printf(tmp, "%s\n%s", t, msg->attach_text);
			tl = strlen(t);
			if (tl > DEEP_TEXT_BYTES) { /* cut at a character boundary */
				tl = DEEP_TEXT_BYTES;
				while (tl > 0 && ((unsigned char)t[tl] & 0xC0) == 0x80)
					tl--;
			}
			texts[k] = arena_strndup(a, t, tl);
			at[k++] = i;
		}
		free(raw);
		arena_free(&tmp);
	}
	if (k == 0 || search_snippets(sdb, sq, texts, k, a, out, &err) < 0)
		return;
	for (size_t j = 0; j < k; j++)
		if (out[j])
			v[at[j]].highlight = out[j];
}

static bool passes(const struct mail_msg *m, const struct search_parsed *p)
{
	if ((p->is & SEARCH_IS_UNREAD) && (m->flags & MAIL_SEEN))
		return false;
	if ((p->is & SEARCH_IS_READ) && !(m->flags & MAIL_SEEN))
		return false;
	if ((p->is & SEARCH_IS_FLAGGED) && !(m->flags & MAIL_FLAGGED))
		return false;
	if ((p->is & SEARCH_IS_UNFLAGGED) && (m->flags & MAIL_FLAGGED))
		return false;
	if ((p->is & SEARCH_IS_PINNED) && !m->pinned)
		return false;
	if (p->colour && m->colour != p->colour)
		return false;
	return true;
}

int search_mail(struct mailbox *mb, const struct mail_search_q *q, struct arena *a,
		struct mail_search_hit **v_r, size_t *n_r, const char **next_r, int64_t *total_r,
		struct err *err)
{
	const struct mail_store_opts *o = mail_store_options(mailbox_store(mb));
	struct search_parsed p;
	struct search_query sq = {0};
	struct search_db *sdb = NULL;
	struct mail_search_hit *v;
	int64_t not_folders[2], offset = 0;
	size_t n = 0, limit = q->limit ? q->limit : 50, scanned = 0;
	char dir[1200];
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	*next_r = NULL;
	*total_r = 0;
	if (limit > 200)
		return err_set(err, ERR_INVALID, "limit is at most 200");
	if (q->cursor && *q->cursor && str_to_i64(q->cursor, 0, 1000000, &offset) < 0)
		return err_set(err, ERR_INVALID, "bad cursor");
	if (search_query_parse(q->q ? q->q : "", o->tz_minutes, a, &p, err) < 0)
		return -1;
	sq.text = p.text;
	sq.folder_id = q->folder_id;
	if (p.folder && resolve_folder(mb, p.folder, &sq.folder_id, err) < 0)
		return -1;
	if (sq.folder_id == 0) {
		size_t k = 0;
		if (mail_folder_by_special(mb, MAIL_TRASH, &not_folders[k], NULL) == 0)
			k++;
		if (mail_folder_by_special(mb, MAIL_JUNK, &not_folders[k], NULL) == 0)
			k++;
		sq.not_folders = not_folders;
		sq.nnot_folders = k;
	}
	sq.has_attachment = p.has_attachment;
	sq.after = p.after;
	sq.before = p.before;
	sq.by_date = q->by_date;
	sq.highlight = true;
	index_dir(mb, dir, sizeof(dir));
	if (search_open(dir, false, 0, &sdb, err) < 0) {
		if (err->code == ERR_NOTFOUND)
			return 0; /* nothing indexed yet */
		return -1;
	}
	v = arena_alloc(a, limit * sizeof(*v));
	/* Xapian answers the text, folder, attachment and date parts exactly; flags and colours
	 * live in mail.db and are checked per hit, reading further pages as needed */
	for (;;) {
		struct search_hit *hits;
		size_t nhits, total, want = (p.is || p.colour) ? 200 : limit - n + 1;
		struct mail_msg *msgs;
		size_t nmsgs, mi = 0;
		int64_t *ids;

		sq.offset = (size_t)offset;
		sq.limit = want;
		if (search_run(sdb, &sq, a, &hits, &nhits, &total, err) < 0)
			goto out;
		if (scanned == 0)
			*total_r = (int64_t)total;
		scanned += nhits;
		ids = arena_alloc(a, (nhits ? nhits : 1) * sizeof(*ids));
		for (size_t i = 0; i < nhits; i++)
			ids[i] = hits[i].id;
		if (mail_get_many(mb, ids, nhits, a, &msgs, &nmsgs, err) < 0)
			goto out;
		for (size_t i = 0; i < nhits; i++) {
			const struct mail_msg *m = NULL;
			/* mail_get_many keeps order and drops the missing */
			if (mi < nmsgs && msgs[mi].id == hits[i].id)
				m = &msgs[mi++];
			if (m == NULL || !passes(m, &p)) {
				offset++;
				continue;
			}
			if (n == limit) {
				*next_r = arena_printf(a, "%lld", (long long)offset);
				ret = 0;
				goto done;
			}
			v[n].msg = *m;
			v[n].highlight = hits[i].highlight;
			n++;
			offset++;
		}
		if (nhits < want)
			break;
		if (scanned > 20000) {
			/* bound the work of one page: the rest is on the next */
			*next_r = arena_printf(a, "%lld", (long long)offset);
			break;
		}
	}
	ret = 0;
done:
	if (p.is || p.colour)
		*total_r = -1; /* the index cannot count what mail.db filters */
	if (*sq.text)
		deep_highlights(mb, sdb, &sq, v, n, a);
out:
	search_close(&sdb);
	*v_r = v;
	*n_r = n;
	return ret;
}

/* ---- the daemon's indexer ---- */

#define PENDING_MAX 4096

struct search_indexer {
	struct mail_store *ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond, idle_cond;
	int64_t pending[PENDING_MAX];
	size_t npending;
	bool scan_all; /* look at every mailbox (start, or the pending set overflowed) */
	bool busy, stop;
	int sub;
	uint64_t last_drain_ns; /* monotonic end of the last drain */
};

/* Under a stream of deliveries the index is written in batches: a Xapian commit (several
 * fdatasyncs) per message costs more than storing the message did. After a quiet second the
 * next change is indexed at once; within one, changes gather for this long first. IMAP
 * SEARCH drains the queue itself; the web search answers how many changes are pending. */
#define INDEX_GATHER_MS 200

static void gather(struct search_indexer *ix)
{
	uint64_t now = time_mono_ns(), until = ix->last_drain_ns + INDEX_GATHER_MS * 1000000ull;
	struct timespec ts;

	if (ix->last_drain_ns == 0 || now >= until || now - ix->last_drain_ns > 1000000000ull)
		return;
	time_deadline(&ts, (int64_t)((until - now + 999999) / 1000000));
	while (!ix->stop && time_mono_ns() < until)
		if (pthread_cond_timedwait(&ix->cond, &ix->lock, &ts) != 0)
			break;
}

static void on_event(void *ctx, const struct mail_event *ev)
{
	struct search_indexer *ix = ctx;
	pthread_mutex_lock(&ix->lock);
	{
		size_t i;
		for (i = 0; i < ix->npending; i++)
			if (ix->pending[i] == ev->account_id)
				break;
		if (i == ix->npending) {
			if (ix->npending < PENDING_MAX)
				ix->pending[ix->npending++] = ev->account_id;
			else
				ix->scan_all = true;
		}
	}
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
}

static void drain_account(struct search_indexer *ix, int64_t account)
{
	struct mailbox *mb;
	struct err err;
	size_t done;

	if (mailbox_open(ix->ms, account, -1, &mb, &err) < 0) {
		log_warn("index", "account=%lld error=\"%s\"", (long long)account, err.msg);
		return;
	}
	if (search_index_drain(mb, 0, &done, &err) < 0) {
		if (err.code == ERR_LIMIT) {
			/* another process is indexing it: look again shortly */
			pthread_mutex_lock(&ix->lock);
			if (ix->npending < PENDING_MAX)
				ix->pending[ix->npending++] = account;
			pthread_mutex_unlock(&ix->lock);
			usleep(100 * 1000);
		} else {
			log_warn("index", "account=%lld error=\"%s\"", (long long)account, err.msg);
		}
	} else if (done) {
		log_debug("index", "account=%lld indexed=%zu", (long long)account, done);
	}
	mailbox_unref(&mb);
}

static int scan_one(void *ctx, int64_t account)
{
	struct search_indexer *ix = ctx;
	struct mailbox *mb;
	struct err err;
	int64_t pending = 0;

	if (ix->stop)
		return 1;
	if (mailbox_open(ix->ms, account, -1, &mb, &err) == 0) {
		pending = mail_index_pending(mb);
		mailbox_unref(&mb);
	}
	if (pending > 0)
		drain_account(ix, account);
	return 0;
}

/* The indexer, and the shard writers it starts (threads inherit it), yield the CPU to mail
 * that is arriving and being delivered: at a busy moment indexing falls behind for a while
 * (its queue is durable in mail.db) instead of slowing every 250 and every delivery. On two
 * cores, nice 0 against 5 is about 3:1 while both want the CPU, and nothing when one sleeps. */
#define INDEXER_NICE 5

static void *indexer_main(void *p)
{
	struct search_indexer *ix = p;

	if (setpriority(PRIO_PROCESS, (id_t)gettid(), INDEXER_NICE) < 0)
		log_warn("index", "msg=\"cannot lower the indexer's priority\" error=\"%s\"",
			 strerror(errno));
	pthread_mutex_lock(&ix->lock);
	while (!ix->stop) {
		if (ix->npending == 0 && !ix->scan_all) {
			ix->busy = false;
			pthread_cond_broadcast(&ix->idle_cond);
			pthread_cond_wait(&ix->cond, &ix->lock);
			continue;
		}
		ix->busy = true;
		if (ix->scan_all) {
			struct err err;
			ix->scan_all = false;
			pthread_mutex_unlock(&ix->lock);
			if (mail_store_each_account(ix->ms, scan_one, ix, &err) < 0)
				log_warn("index", "scan error=\"%s\"", err.msg);
			pthread_mutex_lock(&ix->lock);
			continue;
		}
		gather(ix);
		if (ix->stop)
			break;
		{
			int64_t account = ix->pending[0];
			memmove(ix->pending, ix->pending + 1, --ix->npending * sizeof(ix->pending[0]));
			pthread_mutex_unlock(&ix->lock);
			drain_account(ix, account);
			pthread_mutex_lock(&ix->lock);
			ix->last_drain_ns = time_mono_ns();
		}
	}
	ix->busy = false;
	pthread_cond_broadcast(&ix->idle_cond);
	pthread_mutex_unlock(&ix->lock);
	return NULL;
}

int search_indexer_start(struct mail_store *ms, struct search_indexer **ix_r, struct err *err)
{
	struct search_indexer *ix = xcalloc(1, sizeof(*ix));

	ix->ms = ms;
	ix->scan_all = true;
	ix->busy = true;
	pthread_mutex_init(&ix->lock, NULL);
	pthread_cond_init(&ix->cond, NULL);
	pthread_cond_init(&ix->idle_cond, NULL);
	ix->sub = mail_events_subscribe(ms, on_event, ix);
	if (ix->sub < 0 || pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
		if (ix->sub >= 0)
			mail_events_unsubscribe(ms, ix->sub);
		free(ix);
		return err_set(err, ERR_INTERNAL, "cannot start the indexer");
	}
	*ix_r = ix;
	return 0;
}

void search_indexer_stop(struct search_indexer **ixp)
{
	struct search_indexer *ix = *ixp;
	if (ix == NULL)
		return;
	mail_events_unsubscribe(ix->ms, ix->sub);
	pthread_mutex_lock(&ix->lock);
	ix->stop = true;
	pthread_cond_signal(&ix->cond);
	pthread_mutex_unlock(&ix->lock);
	pthread_join(ix->thread, NULL);
	pthread_mutex_destroy(&ix->lock);
	pthread_cond_destroy(&ix->cond);
	pthread_cond_destroy(&ix->idle_cond);
	free(ix);
	*ixp = NULL;
}

bool search_indexer_idle(struct search_indexer *ix, int timeout_ms)
{
	struct timespec ts;
	bool idle;

	time_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&ix->lock);
	while (ix->busy || ix->npending > 0 || ix->scan_all)
		if (pthread_cond_timedwait(&ix->idle_cond, &ix->lock, &ts) != 0)
			break;
	idle = !ix->busy && ix->npending == 0 && !ix->scan_all;
	pthread_mutex_unlock(&ix->lock);
	return idle;
}
