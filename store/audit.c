#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "db.h"
#include "lib/buf.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define KEY_LEN 32

/* One caller's record waiting for a group commit. */
struct waiter {
	struct audit_rec *r;
	int ret;
	struct err err;
	bool done;
	struct waiter *next;
};

struct store_audit {
	struct db *db;
	char head_path[1100];
	int head_fd; /* audit.head, written in place; -1 until opened */
	unsigned char key[KEY_LEN];
	/* group commit: whoever finds no leader writes every waiting record in one transaction
	 * (one fsync, one audit.head) and wakes the others; records keep their arrival order */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct waiter *head, **tail;
	bool leader;
};

static const char *const migrations[] = {
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  client TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  hash TEXT NOT NULL);"
	"CREATE INDEX audit_ts ON audit(ts);"
	"CREATE INDEX audit_actor ON audit(actor, id);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;",
};

static const struct db_opts audit_opts = {
	.migrations = migrations,
	.nmigrations = 1,
	.sync_full = true,
	.create = false,
};

static int read_key(const char *data_dir, unsigned char key[KEY_LEN], struct err *err)
{
	char path[1100], hex[2 * KEY_LEN + 2];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/audit.key", data_dir);
	f = fopen(path, "r");
	if (f == NULL)
		return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	if (n < 2 * KEY_LEN)
		return err_set(err, ERR_INVALID, "%s: damaged key", path);
	for (int i = 0; i < KEY_LEN; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return err_set(err, ERR_INVALID, "%s: damaged key", path);
		key[i] = (unsigned char)v;
	}
	return 0;
}

int store_audit_init(const char *data_dir, struct err *err)
{
	char path[1100], hex[2 * KEY_LEN + 1];
	unsigned char key[KEY_LEN];
	struct db *db;
	struct db_opts o = audit_opts;
	int fd;

	snprintf(path, sizeof(path), "%s/audit.key", data_dir);
	rand_bytes(key, KEY_LEN);
	hex_encode(key, KEY_LEN, hex);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	if (write(fd, hex, 2 * KEY_LEN) != 2 * KEY_LEN || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		close(fd);
		return err_set(err, ERR_IO, "%s: write failed", path);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/audit.db", data_dir);
	o.create = true;
	if (db_open(path, &o, &db, err) < 0)
		return -1;
	db_close(&db);
	return 0;
}

int store_audit_open(const char *data_dir, struct store_audit **a_r, struct err *err)
{
	char path[1100];
	struct store_audit *a = xcalloc(1, sizeof(*a));

	if (read_key(data_dir, a->key, err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/audit.db", data_dir);
	if (db_open(path, &audit_opts, &a->db, err) < 0)
		goto fail;
	snprintf(a->head_path, sizeof(a->head_path), "%s/audit.head", data_dir);
	a->head_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	a->tail = &a->head;
	*a_r = a;
	return 0;
fail:
	free(a);
	return -1;
}

void store_audit_close(struct store_audit **ap)
{
	if (*ap == NULL)
		return;
	db_close(&(*ap)->db);
	if ((*ap)->head_fd >= 0)
		close((*ap)->head_fd);
	pthread_mutex_destroy(&(*ap)->lock);
	pthread_cond_destroy(&(*ap)->cond);
	free(*ap);
	*ap = NULL;
}

static void mac_field(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (buf_printf(b, "%zu:", n) < 0 || buf_append(b, s ? s : "", n) < 0)
		ASSERT(!"unbounded buffer refused an append");
}

/* hash_n = HMAC(key, len:prev | len:id | len:ts | len:actor | len:type | len:ip | len:client |
 * len:detail), hex. Length prefixes make the encoding unambiguous. */
static void record_hash(const unsigned char *key, const char *prev, int64_t id, int64_t ts,
			const char *actor, const char *type, const char *ip, const char *client,
			const char *detail, char out[65])
{
	unsigned char mac[32];
	unsigned int maclen = sizeof(mac);
	char num[24];
	struct buf b;

	buf_init(&b, 0);
	mac_field(&b, prev);
	snprintf(num, sizeof(num), "%lld", (long long)id);
	mac_field(&b, num);
	snprintf(num, sizeof(num), "%lld", (long long)ts);
	mac_field(&b, num);
	mac_field(&b, actor);
	mac_field(&b, type);
	mac_field(&b, ip);
	mac_field(&b, client);
	mac_field(&b, detail);
	HMAC(EVP_sha256(), key, KEY_LEN, (const unsigned char *)b.data, b.len, mac, &maclen);
	buf_release(&b);
	hex_encode(mac, sizeof(mac), out);
}

static void head_mac(const unsigned char *key, int64_t id, const char *hash, char out[65])
{
	char msg[128];
	unsigned char mac[32];
	unsigned int maclen = sizeof(mac);
	int n = snprintf(msg, sizeof(msg), "head:%lld:%s", (long long)id, hash);
	HMAC(EVP_sha256(), key, KEY_LEN, (const unsigned char *)msg, (size_t)n, mac, &maclen);
	hex_encode(mac, sizeof(mac), out);
}

/* audit.head as a new file renamed into place. */
static void write_head_renamed(struct store_audit *a, const char *line, int n)
{
	char tmp[1200];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", a->head_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) == n && fsync(fd) == 0) {
		close(fd);
		rename(tmp, a->head_path);
		return;
	}
	close(fd);
	unlink(tmp);
}

/* Write audit.head. A crash between the commit and this leaves the head behind, which
 * verification accepts (it only refuses a head beyond the log's end). The line has a fixed
 * width (the id zero-padded), so it is overwritten in place: one 151-byte write at offset 0,
 * inside one disk sector, where a new file and a rename cost an inode and a directory update
 * each time (a quarter of the CPU of a delivery, measured). The in-place write is not
 * flushed: the records it names were flushed by their commit before it (synchronous=FULL),
 * so a power cut can only leave the head behind, as a crash does. Of the six flushes an
 * accepted and delivered message cost, the two heads were the ones that bought nothing.
 * A missing file is made as a new file renamed into place (never seen empty), and so is one
 * that cannot be opened for writing (another user made it); a file replaced meanwhile by
 * another process is opened again. */
static void write_head(struct store_audit *a, int64_t id, const char *hash)
{
	char line[256], mac[65];
	struct stat fs, ps;
	int n;

	head_mac(a->key, id, hash, mac);
	n = snprintf(line, sizeof(line), "%020lld %s %s\n", (long long)id, hash, mac);
	if (a->head_fd >= 0 && (fstat(a->head_fd, &fs) < 0 || stat(a->head_path, &ps) < 0 ||
				fs.st_ino != ps.st_ino || fs.st_dev != ps.st_dev)) {
		close(a->head_fd);
		a->head_fd = -1;
	}
	if (a->head_fd < 0)
		a->head_fd = open(a->head_path, O_RDWR | O_CLOEXEC);
	if (a->head_fd >= 0 && pwrite(a->head_fd, line, (size_t)n, 0) == n)
		return;
	write_head_renamed(a, line, n);
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Fields come from the network (a typed address, a User-Agent): keep them valid UTF-8 so the
 * auditor's JSON and CSV views can show every record. Invalid bytes become U+FFFD, written
 * into b when needed. */
static const char *clean(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)nz(s);
	size_t len = strlen((const char *)p), i = 0;

	if (utf8_valid((const char *)p, len))
		return (const char *)p;
	while (i < len) {
		size_t n = utf8_seq_len(p + i, len - i);
		if ((n ? buf_append(b, p + i, n) : buf_puts(b, "\xEF\xBF\xBD")) < 0)
			ASSERT(!"unbounded buffer refused an append");
		i += n ? n : 1;
	}
	return buf_cstr(b);
}

static int append(struct store_audit *a, struct waiter *batch, struct err *err);

/* Queue w and wait until a group commit has written it, leading one if nobody is. */
/* Queue the waiters first..last (linked by next) and wait until they are written: they go
 * into one leader's batch together, since they are queued at once. */
static void commit_grouped(struct store_audit *a, struct waiter *first, struct waiter *last)
{
	pthread_mutex_lock(&a->lock);
	*a->tail = first;
	a->tail = &last->next;
	while (!last->done) {
		if (a->leader) {
			pthread_cond_wait(&a->cond, &a->lock);
			continue;
		}
		struct waiter *batch = a->head;
		struct err err;
		int ret;
		a->head = NULL;
		a->tail = &a->head;
		a->leader = true;
		pthread_mutex_unlock(&a->lock);
		ret = append(a, batch, &err);
		pthread_mutex_lock(&a->lock);
		for (struct waiter *x = batch, *next; x; x = next) {
			next = x->next;
			x->ret = ret;
			if (ret < 0)
				x->err = err;
			x->done = true; /* x may be gone once the lock is released */
		}
		a->leader = false;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
}

int store_audit_append_many(struct store_audit *a, struct audit_rec *v, size_t n,
			    struct err *err)
{
	struct audit_rec *copy;
	struct waiter *w;
	struct buf *bufs;
	int ret;

	if (n == 0)
		return 0;
	copy = xcalloc(n, sizeof(*copy));
	w = xcalloc(n, sizeof(*w));
	bufs = xcalloc(n * 5, sizeof(*bufs));
	for (size_t k = 0; k < n; k++) {
		const char **fields[] = {&copy[k].actor, &copy[k].type, &copy[k].ip,
					 &copy[k].client, &copy[k].detail};
		copy[k] = v[k];
		if (copy[k].detail == NULL)
			copy[k].detail = "{}";
		for (int i = 0; i < 5; i++) {
			buf_init(&bufs[k * 5 + i], 0);
			*fields[i] = clean(&bufs[k * 5 + i], *fields[i]);
		}
		w[k].r = &copy[k];
		w[k].next = k + 1 < n ? &w[k + 1] : NULL;
	}
	commit_grouped(a, &w[0], &w[n - 1]);
	ret = w[n - 1].ret;
	if (ret < 0)
		*err = w[n - 1].err;
	for (size_t k = 0; k < n; k++) {
		v[k].id = copy[k].id;
		v[k].ts_ms = copy[k].ts_ms;
		memcpy(v[k].hash, copy[k].hash, sizeof(v[k].hash));
		for (int i = 0; i < 5; i++)
			buf_release(&bufs[k * 5 + i]);
	}
	free(bufs);
	free(w);
	free(copy);
	return ret;
}

int store_audit_append(struct store_audit *a, struct audit_rec *r, struct err *err)
{
	return store_audit_append_many(a, r, 1, err);
}

/* Writes the batch's records in order, chained, in one transaction; all or none. */
static int append(struct store_audit *a, struct waiter *batch, struct err *err)
{
	sqlite3 *c = db_conn(a->db, err);
	sqlite3_stmt *s = NULL;
	char prev[65] = "";
	int64_t id = 1;
	int rc;

	if (c == NULL)
		return -1;
	if (sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(c, err, "audit begin");
	if (db_prepare(a->db, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &s, err) < 0)
		goto fail_err;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0) + 1;
		db_col_text(s, 1, prev, sizeof(prev));
	} else if (rc != SQLITE_DONE) {
		goto fail; /* not an empty log: record 1 would break the chain */
	}
	db_done(a->db, s);
	s = NULL;
	if (db_prepare(a->db,
		       "INSERT INTO audit (id, ts, actor, type, ip, client, detail, hash)"
		       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		       &s, err) < 0)
		goto fail_err;
	for (struct waiter *w = batch; w; w = w->next, id++) {
		struct audit_rec *r = w->r;
		if (r->ts_ms == 0)
			r->ts_ms = time_now_ms();
		record_hash(a->key, prev, id, r->ts_ms, nz(r->actor), nz(r->type), nz(r->ip),
			    nz(r->client), r->detail ? r->detail : "{}", r->hash);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, r->ts_ms);
		db_bind_text(s, 3, nz(r->actor));
		db_bind_text(s, 4, nz(r->type));
		db_bind_text(s, 5, nz(r->ip));
		db_bind_text(s, 6, nz(r->client));
		db_bind_text(s, 7, r->detail ? r->detail : "{}");
		db_bind_text(s, 8, r->hash);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(s);
		r->id = id;
		memcpy(prev, r->hash, sizeof(prev));
	}
	db_done(a->db, s);
	s = NULL;
	if (sqlite3_exec(c, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	write_head(a, id - 1, prev);
	return 0;
fail:
	db_err(c, err, "audit append");
fail_err:
	db_done(a->db, s);
	sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
	for (struct waiter *w = batch; w; w = w->next)
		w->r->id = 0;
	return -1;
}

static void row_to_rec(sqlite3_stmt *s, struct audit_rec *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->ts_ms = sqlite3_column_int64(s, 1);
	r->actor = (const char *)sqlite3_column_text(s, 2);
	r->type = (const char *)sqlite3_column_text(s, 3);
	r->ip = (const char *)sqlite3_column_text(s, 4);
	r->client = (const char *)sqlite3_column_text(s, 5);
	r->detail = (const char *)sqlite3_column_text(s, 6);
	db_col_text(s, 7, r->hash, sizeof(r->hash));
}

int store_audit_query(struct store_audit *a, const struct audit_filter *f, audit_fn *fn,
		      void *ctx, struct err *err)
{
	sqlite3_stmt *s;
	struct audit_rec r;

	if (db_prepare(a->db,
		       "SELECT id, ts, actor, type, ip, client, detail, hash FROM audit WHERE"
		       " (?1 = 0 OR ts >= ?1) AND (?2 = 0 OR ts <= ?2)"
		       " AND (?3 IS NULL OR actor = ?3)"
		       " AND (?4 IS NULL OR type = ?4 OR substr(type, 1, length(?4) + 1) = ?4 || '.')"
		       " AND (?5 = 0 OR id < ?5)"
		       " ORDER BY id DESC LIMIT ?6",
		       &s, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, f->from_ms);
	sqlite3_bind_int64(s, 2, f->to_ms);
	db_bind_text(s, 3, f->actor);
	db_bind_text(s, 4, f->type);
	sqlite3_bind_int64(s, 5, f->before_id);
	sqlite3_bind_int64(s, 6, f->limit > 0 ? f->limit : -1);
	while (sqlite3_step(s) == SQLITE_ROW) {
		row_to_rec(s, &r);
		if (fn(ctx, &r) != 0)
			break;
	}
	return db_end(a->db, s, "audit query", err);
}

/* Read audit.head into line. The writer overwrites the line in place, and a read is not
 * atomic against that: a line that does not parse or verify is read again (5 tries, 20 ms
 * apart) before it counts as damaged. Returns -1 when the file is missing, else whether the
 * line parsed and its signature is right (id and hash are then set). */
static int read_head(const struct store_audit *a, char line[256], long long *id,
		     char hash[65])
{
	char mac[65], want[65];
	bool ok = false;
	FILE *f = fopen(a->head_path, "r");

	if (f == NULL)
		return -1;
	for (int tries = 0;; tries++) {
		if (fgets(line, 256, f) == NULL)
			line[0] = '\0';
		ok = sscanf(line, "%lld %64s %64s", id, hash, mac) == 3;
		if (ok) {
			head_mac(a->key, *id, hash, want);
			ok = mem_eq_ct(want, mac, 64);
		}
		if (ok || tries == 4)
			break;
		usleep(20 * 1000);
		rewind(f);
	}
	fclose(f);
	return ok;
}

static int check_head(const struct store_audit *a, int64_t last_id, const char *last_hash,
		      struct audit_report *rep)
{
	char line[256], hash[65], mac[65];
	long long id;
	int r = read_head(a, line, &id, hash);

	(void)last_hash;
	if (r < 0) {
		if (last_id == 0)
			return 0;
		rep->bad_id = last_id;
		snprintf(rep->reason, sizeof(rep->reason), "audit.head is missing");
	} else if (sscanf(line, "%lld %64s %64s", &id, hash, mac) != 3) {
		rep->bad_id = last_id ? last_id : 1;
		snprintf(rep->reason, sizeof(rep->reason), "audit.head is damaged");
	} else if (r == 0) {
		rep->bad_id = id;
		snprintf(rep->reason, sizeof(rep->reason), "audit.head signature is wrong");
	} else if (id > last_id) {
		rep->bad_id = last_id + 1;
		snprintf(rep->reason, sizeof(rep->reason),
			 "missing: the log ends at record %lld but its head names record %lld",
			 (long long)last_id, id);
	}
	return 0;
}

int store_audit_verify(const char *data_dir, struct audit_report *rep, struct err *err)
{
	struct store_audit *a;
	sqlite3_stmt *s;
	char prev[65] = "", want[65];
	char head_hash_at_id[65] = "";
	int64_t expect = 1, head_id = 0;
	int ret = 0;

	memset(rep, 0, sizeof(*rep));
	if (store_audit_open(data_dir, &a, err) < 0)
		return -1;
	/* the head's record must carry the head's hash (a head that does not verify is left to
	 * check_head() to report) */
	{
		char line[256];
		long long hid;
		if (read_head(a, line, &hid, head_hash_at_id) == 1)
			head_id = hid;
	}
	if (db_prepare(a->db, "SELECT id, ts, actor, type, ip, client, detail, hash FROM audit"
			      " ORDER BY id", &s, err) < 0) {
		store_audit_close(&a);
		return -1;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct audit_rec r;
		row_to_rec(s, &r);
		rep->records++;
		if (r.id != expect) {
			rep->bad_id = expect;
			snprintf(rep->reason, sizeof(rep->reason),
				 "missing (next record present is %lld)", (long long)r.id);
			break;
		}
		record_hash(a->key, prev, r.id, r.ts_ms, nz(r.actor), nz(r.type), nz(r.ip),
			    nz(r.client), nz(r.detail), want);
		if (!mem_eq_ct(want, r.hash, 64)) {
			rep->bad_id = r.id;
			snprintf(rep->reason, sizeof(rep->reason),
				 "hash mismatch: the record was changed, moved or inserted");
			break;
		}
		if (r.id == head_id && strcmp(r.hash, head_hash_at_id) != 0) {
			rep->bad_id = r.id;
			snprintf(rep->reason, sizeof(rep->reason), "does not match audit.head");
			break;
		}
		memcpy(prev, r.hash, sizeof(prev));
		expect++;
	}
	if (db_end(a->db, s, "audit.db read", err) < 0)
		ret = -1;
	if (ret == 0 && rep->bad_id == 0)
		check_head(a, expect - 1, prev, rep);
	store_audit_close(&a);
	return ret;
}
