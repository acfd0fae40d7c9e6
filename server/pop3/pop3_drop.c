/* The maildrop (RFC 1939 sections 5 and 6): the INBOX snapshot taken at login, STAT, LIST,
 * UIDL, RETR, TOP, DELE, RSET, and the UPDATE state at QUIT.
 *
 * Message numbers are positions in the snapshot (UID order), fixed for the session. The
 * unique-id of UIDL is "UIDVALIDITY.UID" of the INBOX message: unique and never reused while
 * the folder's UIDVALIDITY stands (the store never reuses a UID), and a message that leaves
 * the INBOX and comes back (a move, a restore) gets a new UID, so a client sees it as new.
 *
 * Sizes are octets on the wire (pop3_parse.h), which can differ from the stored size (LF line
 * ends): each blob is read once to count them, and the count is remembered by digest in
 * srv->sizes for later sessions.
 *
 * QUIT in the TRANSACTION state expunges the messages marked with DELE (mail_expunge: kept
 * for the retention period, `yizhan restore` brings them back) and marks the retrieved ones
 * \Seen, each only while it is still the same message in the INBOX (another client may have
 * moved or expunged it meanwhile). A session that ends any other way changes nothing. */
#include "pop3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/mail.h"

/* ---- the maildrop lock ---- */

static bool lock_take(struct pop3_server *srv, int64_t account_id)
{
	char key[24];
	bool ok;

	snprintf(key, sizeof(key), "%lld", (long long)account_id);
	pthread_mutex_lock(&srv->drop_lock);
	ok = netsvc_map_get(&srv->locked, key, 0, 0) == 0;
	if (ok)
		netsvc_map_add(&srv->locked, key, 1, 0, 0);
	pthread_mutex_unlock(&srv->drop_lock);
	return ok;
}

static void lock_drop(struct pop3_server *srv, int64_t account_id)
{
	char key[24];

	snprintf(key, sizeof(key), "%lld", (long long)account_id);
	pthread_mutex_lock(&srv->drop_lock);
	netsvc_map_add(&srv->locked, key, -1, 0, 0);
	pthread_mutex_unlock(&srv->drop_lock);
}

/* ---- wire sizes ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool digest_bytes(const char *hex, unsigned char out[32])
{
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[64] == '\0';
}

/* Count by streaming the blob file: bounded memory however large the message. */
static int count_file(struct mail_store *ms, const char *digest, int64_t *size_r)
{
	char path[4096], chunk[65536];
	struct pop3_sizer z;
	ssize_t n;
	int fd;

	blob_path(mail_store_blobs(ms), digest, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	pop3_sizer_init(&z);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		pop3_sizer_feed(&z, chunk, (size_t)n);
	}
	close(fd);
	*size_r = pop3_sizer_end(&z);
	return 0;
}

static int64_t wire_size(struct pop3_server *srv, const char *digest, int64_t stored)
{
	unsigned char dg[32];
	struct pop3_size_ent *e;
	int64_t size = 0;

	if (!digest_bytes(digest, dg))
		return stored;
	e = &srv->sizes[((size_t)dg[0] | (size_t)dg[1] << 8 | (size_t)dg[2] << 16) %
			POP3_SIZE_CACHE];
	pthread_mutex_lock(&srv->drop_lock);
	if (e->size > 0 && memcmp(e->digest, dg, 32) == 0)
		size = e->size;
	pthread_mutex_unlock(&srv->drop_lock);
	if (size > 0)
		return size;
	if (count_file(srv->mail, digest, &size) < 0)
		return stored; /* RETR will say what is wrong */
	pthread_mutex_lock(&srv->drop_lock);
	memcpy(e->digest, dg, 32);
	e->size = size;
	pthread_mutex_unlock(&srv->drop_lock);
	return size;
}

/* ---- opening and releasing ---- */

struct collect {
	struct pop3_drop *d;
	size_t cap;
};

static int collect_one(void *ctx, const struct mail_msg *m)
{
	struct collect *c = ctx;
	struct pop3_drop *d = c->d;
	struct pop3_msg *p;

	if (d->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		d->v = xrealloc(d->v, c->cap * sizeof(*d->v));
	}
	p = &d->v[d->n++];
	memset(p, 0, sizeof(*p));
	p->id = m->id;
	p->uid = m->uid;
	p->size = m->size;
	snprintf(p->blob, sizeof(p->blob), "%s", m->blob);
	return 0;
}

static int snapshot(struct pop3_server *srv, struct pop3_drop *d, struct err *err)
{
	struct arena *a = arena_new();
	struct mail_folder f;
	struct collect c = {.d = d};
	int rc = -1;

	if (mail_folder_by_special(d->mb, MAIL_INBOX, &d->folder_id, err) < 0 ||
	    mail_folder_get(d->mb, d->folder_id, a, &f, err) < 0)
		goto out;
	d->uidvalidity = f.uidvalidity;
	if (mail_each(d->mb, d->folder_id, a, collect_one, &c, err) < 0)
		goto out;
	for (size_t i = 0; i < d->n; i++)
		d->v[i].size = wire_size(srv, d->v[i].blob, d->v[i].size);
	rc = 0;
out:
	arena_free(&a);
	return rc;
}

int pop3_drop_open(struct pop3_server *srv, int64_t account_id, int64_t quota,
		   struct pop3_drop **d_r, struct err *err)
{
	struct pop3_drop *d;

	if (!lock_take(srv, account_id))
		return err_set(err, ERR_EXISTS, "the maildrop is locked by another session");
	d = xcalloc(1, sizeof(*d));
	d->account_id = account_id;
	d->locked = true;
	if (mailbox_open(srv->mail, account_id, quota, &d->mb, err) < 0 ||
	    snapshot(srv, d, err) < 0) {
		pop3_drop_free(srv, &d, true);
		return -1;
	}
	*d_r = d;
	return 0;
}

static void release(struct pop3_drop *d)
{
	mailbox_unref(&d->mb);
	free(d->v);
	free(d);
}

struct release_job {
	struct netsvc_job job;
	struct pop3_drop *d;
};

static void release_run(struct netsvc_job *jb)
{
	struct release_job *j = (struct release_job *)jb;
	release(j->d);
	free(j);
}

void pop3_drop_free(struct pop3_server *srv, struct pop3_drop **dp, bool on_worker)
{
	struct pop3_drop *d = *dp;
	struct release_job *j;

	if (d == NULL)
		return;
	*dp = NULL;
	if (d->locked) /* at once, so a client that reconnects finds it free */
		lock_drop(srv, d->account_id);
	d->locked = false;
	if (on_worker) {
		release(d);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->job.run = release_run;
	j->d = d;
	netsvc_pool_post(&srv->net.jobs, &j->job);
}

/* ---- message numbers ---- */

/* The message a number names, or NULL after saying why. */
static struct pop3_msg *msg_arg(struct pop3_session *s, const struct pop3_tok *t)
{
	struct pop3_drop *d = s->drop;
	uint32_t n;

	if (pop3_number(t->p, t->len, UINT32_MAX, &n) < 0 || n == 0 || n > d->n) {
		pop3_err(s, "No such message");
		return NULL;
	}
	if (d->v[n - 1].deleted) {
		pop3_err(s, "Message %u is deleted", n);
		return NULL;
	}
	return &d->v[n - 1];
}

static void totals(const struct pop3_drop *d, size_t *n_r, int64_t *octets_r)
{
	size_t n = 0;
	int64_t o = 0;
	for (size_t i = 0; i < d->n; i++)
		if (!d->v[i].deleted) {
			n++;
			o += d->v[i].size;
		}
	*n_r = n;
	*octets_r = o;
}

/* ---- STAT, LIST, UIDL, DELE, RSET (RFC 1939 section 5, 7) ---- */

enum pop3_ret pop3_cmd_stat(struct pop3_session *s, const char *arg, size_t len)
{
	size_t n;
	int64_t o;

	(void)arg;
	if (len) {
		pop3_err(s, "Syntax: STAT");
		return POP3_NEXT;
	}
	totals(s->drop, &n, &o);
	pop3_line(s, "+OK %zu %lld", n, (long long)o);
	return POP3_NEXT;
}

/* LIST and UIDL: one message, or all that are not deleted. */
static enum pop3_ret listing(struct pop3_session *s, const char *arg, size_t len, bool uidl)
{
	struct pop3_drop *d = s->drop;
	struct pop3_tok t;
	struct pop3_msg *m;
	size_t nt;

	if (pop3_args(arg, len, &t, 1, &nt) < 0) {
		pop3_err(s, uidl ? "Syntax: UIDL [message]" : "Syntax: LIST [message]");
		return POP3_NEXT;
	}
	if (nt == 1) {
		if ((m = msg_arg(s, &t)) == NULL)
			return POP3_NEXT;
		if (uidl)
			pop3_line(s, "+OK %zu %u.%u", (size_t)(m - d->v) + 1, d->uidvalidity, m->uid);
		else
			pop3_line(s, "+OK %zu %lld", (size_t)(m - d->v) + 1, (long long)m->size);
		return POP3_NEXT;
	}
	if (uidl) {
		pop3_ok(s, "Unique-id listing follows");
	} else {
		size_t n;
		int64_t o;
		totals(d, &n, &o);
		pop3_ok(s, "%zu messages (%lld octets)", n, (long long)o);
	}
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].deleted)
			continue;
		if (uidl)
			pop3_line(s, "%zu %u.%u", i + 1, d->uidvalidity, d->v[i].uid);
		else
			pop3_line(s, "%zu %lld", i + 1, (long long)d->v[i].size);
	}
	pop3_line(s, ".");
	return POP3_NEXT;
}

enum pop3_ret pop3_cmd_list(struct pop3_session *s, const char *arg, size_t len)
{
	return listing(s, arg, len, false);
}

enum pop3_ret pop3_cmd_uidl(struct pop3_session *s, const char *arg, size_t len)
{
	return listing(s, arg, len, true);
}

enum pop3_ret pop3_cmd_dele(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_tok t;
	struct pop3_msg *m;
	size_t nt;

	if (pop3_args(arg, len, &t, 1, &nt) < 0 || nt != 1) {
		pop3_err(s, "Syntax: DELE message");
		return POP3_NEXT;
	}
	if ((m = msg_arg(s, &t)) == NULL)
		return POP3_NEXT;
	m->deleted = true;
	pop3_ok(s, "Message %zu deleted", (size_t)(m - s->drop->v) + 1);
	return POP3_NEXT;
}

enum pop3_ret pop3_cmd_rset(struct pop3_session *s, const char *arg, size_t len)
{
	size_t n;
	int64_t o;

	(void)arg;
	if (len) {
		pop3_err(s, "Syntax: RSET");
		return POP3_NEXT;
	}
	for (size_t i = 0; i < s->drop->n; i++)
		s->drop->v[i].deleted = false;
	totals(s->drop, &n, &o);
	pop3_ok(s, "Maildrop has %zu messages (%lld octets)", n, (long long)o);
	return POP3_NEXT;
}

/* ---- RETR and TOP: read on a worker, encoded there, written by the loop ---- */

struct retr_job {
	struct netsvc_job job;
	struct mailbox *mb;
	char blob[BLOB_HEX];
	size_t index;
	int64_t size;
	int64_t body_lines; /* < 0: RETR */
	struct buf out;
	int rc;
	struct err err;
};

static void retr_run(struct netsvc_job *jb)
{
	struct retr_job *j = (struct retr_job *)jb;
	struct mail_msg m;
	char *raw = NULL;
	size_t len = 0;

	memset(&m, 0, sizeof(m));
	memcpy(m.blob, j->blob, sizeof(m.blob));
	j->rc = mail_raw(j->mb, &m, &raw, &len, &j->err);
	if (j->rc < 0)
		return;
	buf_init(&j->out, 0);
	if (j->body_lines < 0)
		j->rc = buf_printf(&j->out, "+OK %lld octets\r\n", (long long)j->size);
	else
		j->rc = buf_puts(&j->out, "+OK Top of message follows\r\n");
	if (j->rc == 0)
		j->rc = pop3_encode(raw, len, j->body_lines, &j->out);
	if (j->rc == 0)
		j->rc = buf_append(&j->out, ".\r\n", 3);
	free(raw);
}

static void retr_done(struct netsvc_job *jb)
{
	struct retr_job *j = (struct retr_job *)jb;
	struct pop3_session *s = jb->s;

	if (s && pop3_alive(s)) {
		if (j->rc == 0) {
			size_t len = j->out.len;
			if (j->body_lines < 0)
				s->drop->v[j->index].retrieved = true;
			pop3_write_take(s, buf_take(&j->out), len);
		} else {
			log_error("pop3", "sess=%llu user=%s msg=\"cannot read a message\" err=\"%s\"",
				  (unsigned long long)s->id, s->address, j->err.msg);
			pop3_err(s, "[SYS/TEMP] Message %zu cannot be read now", j->index + 1);
		}
		pop3_resume(s);
	}
	buf_release(&j->out);
	free(j);
}

static enum pop3_ret retrieve(struct pop3_session *s, const struct pop3_msg *m,
			      int64_t body_lines)
{
	struct retr_job *j = xcalloc(1, sizeof(*j));

	j->job.run = retr_run;
	j->job.done = retr_done;
	j->mb = s->drop->mb;
	memcpy(j->blob, m->blob, sizeof(j->blob));
	j->index = (size_t)(m - s->drop->v);
	j->size = m->size;
	j->body_lines = body_lines;
	pop3_wait(s);
	pop3_job_start(s, &j->job);
	return POP3_STOP;
}

enum pop3_ret pop3_cmd_retr(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_tok t;
	struct pop3_msg *m;
	size_t nt;

	if (pop3_args(arg, len, &t, 1, &nt) < 0 || nt != 1) {
		pop3_err(s, "Syntax: RETR message");
		return POP3_NEXT;
	}
	if ((m = msg_arg(s, &t)) == NULL)
		return POP3_NEXT;
	return retrieve(s, m, -1);
}

enum pop3_ret pop3_cmd_top(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_tok t[2];
	struct pop3_msg *m;
	uint32_t lines;
	size_t nt;

	if (pop3_args(arg, len, t, 2, &nt) < 0 || nt != 2 ||
	    pop3_number(t[1].p, t[1].len, UINT32_MAX, &lines) < 0) {
		pop3_err(s, "Syntax: TOP message lines");
		return POP3_NEXT;
	}
	if ((m = msg_arg(s, &t[0])) == NULL)
		return POP3_NEXT;
	return retrieve(s, m, lines);
}

/* ---- the UPDATE state (RFC 1939 section 6) ---- */

struct update_job {
	struct netsvc_job job;
	struct pop3_server *srv;
	struct pop3_drop *d;  /* the job's now; released before it completes */
	char address[STORE_ADDR_MAX + 1];
	char ip[64];
	int64_t *del, *seen;  /* ids */
	uint32_t *del_uid, *seen_uid;
	size_t ndel, nseen;
	int64_t removed;
	bool failed;
};

/* Keep only the ids that are still the same message in the INBOX (and, for seen, not \Seen
 * yet). Returns how many are left, compacted at the front. */
static size_t still_here(struct pop3_drop *d, int64_t *ids, uint32_t *uids, size_t n,
			 bool unseen_only)
{
	struct arena *a = arena_new();
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct mail_msg m;
		struct err err;
		if (mail_get(d->mb, ids[i], a, &m, &err) == 0 && m.folder_id == d->folder_id &&
		    m.uid == uids[i] && (!unseen_only || !(m.flags & MAIL_SEEN))) {
			ids[k] = ids[i];
			uids[k] = uids[i];
			k++;
		}
		arena_reset(a);
	}
	arena_free(&a);
	return k;
}

static int expunge_all(struct update_job *j, struct err *err)
{
	size_t n = still_here(j->d, j->del, j->del_uid, j->ndel, false);

	for (size_t i = 0; i < n; i += POP3_BATCH) {
		size_t k = n - i < POP3_BATCH ? n - i : POP3_BATCH;
		int rc = mail_expunge(j->d->mb, j->del + i, k, err);
		if (rc < 0 && err->code == ERR_NOTFOUND) {
			/* another client took one of them between the check and here: again */
			k = still_here(j->d, j->del + i, j->del_uid + i, k, false);
			rc = k ? mail_expunge(j->d->mb, j->del + i, k, err) : 0;
		}
		if (rc < 0)
			return -1;
		j->removed += (int64_t)k;
	}
	return 0;
}

static void mark_seen(struct update_job *j)
{
	struct mail_change c = {.set_flags = true, .flags_add = MAIL_SEEN};
	size_t n = still_here(j->d, j->seen, j->seen_uid, j->nseen, true);
	struct err err;

	for (size_t i = 0; i < n; i += POP3_BATCH) {
		size_t k = n - i < POP3_BATCH ? n - i : POP3_BATCH;
		if (mail_update(j->d->mb, j->seen + i, k, &c, &err) < 0)
			log_warn("pop3", "user=%s msg=\"cannot mark retrieved messages seen\" "
					 "err=\"%s\"", j->address, err.msg);
	}
}

static void update_run(struct netsvc_job *jb)
{
	struct update_job *j = (struct update_job *)jb;
	struct err err;

	if (j->ndel && expunge_all(j, &err) < 0) {
		j->failed = true;
		log_error("pop3", "user=%s msg=\"expunge at QUIT failed\" err=\"%s\"", j->address,
			  err.msg);
	}
	if (j->nseen)
		mark_seen(j);
	if (j->removed) {
		struct buf b;
		bool first = true;
		buf_init(&b, 0);
		netsvc_json_kv(&b, "protocol", "pop3", &first);
		netsvc_json_ki(&b, "messages", j->removed, &first);
		(void)!buf_puts(&b, "}");
		netsvc_audit_now(&j->srv->net, j->address, "mail.expunge", j->ip, "pop3", b.data);
		buf_release(&b);
	}
	pop3_drop_free(j->srv, &j->d, true);
}

static void update_done(struct netsvc_job *jb)
{
	struct update_job *j = (struct update_job *)jb;
	struct pop3_session *s = jb->s;

	if (s && pop3_alive(s)) {
		log_info("pop3", "sess=%llu user=%s expunged=%lld msg=\"update\"",
			 (unsigned long long)s->id, s->address, (long long)j->removed);
		s->waiting = false;
		if (j->failed)
			pop3_close(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
		else
			pop3_close(s, "+OK %s POP3 server signing off (%lld messages deleted)",
				   s->srv->lim.hostname, (long long)j->removed);
	}
	free(j->del);
	free(j->seen);
	free(j->del_uid);
	free(j->seen_uid);
	free(j);
}

enum pop3_ret pop3_update(struct pop3_session *s)
{
	struct pop3_drop *d = s->drop;
	struct update_job *j = xcalloc(1, sizeof(*j));

	j->job.run = update_run;
	j->job.done = update_done;
	j->srv = s->srv;
	snprintf(j->address, sizeof(j->address), "%s", s->address);
	snprintf(j->ip, sizeof(j->ip), "%s", s->ip);
	j->del = xcalloc(d->n + 1, sizeof(*j->del));
	j->seen = xcalloc(d->n + 1, sizeof(*j->seen));
	j->del_uid = xcalloc(d->n + 1, sizeof(*j->del_uid));
	j->seen_uid = xcalloc(d->n + 1, sizeof(*j->seen_uid));
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].deleted) {
			j->del_uid[j->ndel] = d->v[i].uid;
			j->del[j->ndel++] = d->v[i].id;
		} else if (d->v[i].retrieved) {
			j->seen_uid[j->nseen] = d->v[i].uid;
			j->seen[j->nseen++] = d->v[i].id;
		}
	}
	j->d = d;
	s->drop = NULL; /* the job's now */
	pop3_wait(s);
	pop3_job_start(s, &j->job);
	return POP3_STOP;
}
