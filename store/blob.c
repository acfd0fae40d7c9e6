/* Content-addressed blobs (blob.h). */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/util.h"

/* Two layouts. A store made now keeps blob D at blobs/D[0:2]/D: one level of 256
 * directories, all made with the store, and blobs/.layout says "flat 1". Creating a
 * directory is an inode allocation and a flush of its parent, as costly as the blob itself
 * (on this machine's ext4 without a journal, find_inode_bit() was 9 % of the daemon's CPU
 * at one SMTP session), and under two levels of 256 nearly every message of a young store
 * made one. ext4's and XFS's hashed directories keep lookups fast at millions of names, so
 * one level holds any store this server is built for (4M names a directory at 10^9 blobs).
 * A store without the file is an older one and keeps blobs/D[0:2]/D[2:4]/D, directories
 * made as needed. */
#define LAYOUT_FILE ".layout"
#define LAYOUT_FLAT "flat 1\n"

struct blob_store {
	char root[4096]; /* DATA/blobs */
	int root_fd;     /* for syncfs() */
	bool flat;       /* blobs/ab/<digest>, not blobs/ab/cd/<digest> */
	pthread_mutex_t lock;
	pthread_mutex_t dir_lock; /* a new directory is durable before anyone stores in it */
	/* blobs written without BLOB_SYNC since the last blob_sync() */
	char (*pending)[BLOB_HEX];
	size_t npending, cap;
};

static int write_all(int fd, const void *data, size_t len);
static int fsync_path(const char *path, int flags, struct err *err);

static bool dir_is_empty(int fd)
{
	int fd2 = dup(fd);
	DIR *d = fd2 < 0 ? NULL : fdopendir(fd2);
	struct dirent *e;
	bool empty = true;
	if (d == NULL) {
		if (fd2 >= 0)
			close(fd2);
		return false;
	}
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* 1: flat, 0: no layout file (an older store, or a new one being made), -1: an error or a
 * layout this version does not know, which must not be read as the older one. */
static int layout_of(int root_fd, const char *root, struct err *err)
{
	char got[64] = {0};
	int fd = openat(root_fd, LAYOUT_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return errno == ENOENT ? 0
				       : err_set(err, ERR_IO, "%s/%s: %s", root, LAYOUT_FILE,
						 strerror(errno));
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n == (ssize_t)strlen(LAYOUT_FLAT) && memcmp(got, LAYOUT_FLAT, (size_t)n) == 0)
		return 1;
	return err_set(err, ERR_INVALID, "%s/%s: not a blob layout this version knows", root,
		       LAYOUT_FILE);
}

/* The 256 directories and then the layout file in dir (an open directory), each flushed
 * before the next step, so a layout file always comes with its directories. */
static int fill_flat(int dir_fd, const char *dir, struct err *err)
{
	char name[32];
	int fd;

	for (unsigned i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "%02x", i);
		if (mkdirat(dir_fd, name, 0750) < 0 && errno != EEXIST)
			return err_set(err, ERR_IO, "%s/%s: %s", dir, name, strerror(errno));
	}
	if (fsync(dir_fd) < 0)
		return err_set(err, ERR_IO, "fsync %s: %s", dir, strerror(errno));
	snprintf(name, sizeof(name), "%s.%d", LAYOUT_FILE, (int)getpid());
	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, LAYOUT_FLAT, strlen(LAYOUT_FLAT)) < 0 || fdatasync(fd) < 0) {
		err_set(err, ERR_IO, "%s/%s: %s", dir, name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (renameat(dir_fd, name, dir_fd, LAYOUT_FILE) < 0 || fsync(dir_fd) < 0)
		return err_set(err, ERR_IO, "%s/%s: %s", dir, LAYOUT_FILE, strerror(errno));
	return 0;
}

/* Removes what fill_flat() put in tmp, and tmp (a copy nobody used). */
static void unmake_flat(const char *tmp)
{
	char sub[4300];
	snprintf(sub, sizeof(sub), "%s/%s", tmp, LAYOUT_FILE);
	unlink(sub);
	for (unsigned i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%s/%02x", tmp, i);
		rmdir(sub);
	}
	rmdir(tmp);
}

/* A store that does not exist yet is made whole in DATA/blobs.new.XXXXXX and renamed into
 * place, so nobody sees half of one; of two processes making it at once, one rename wins and
 * the other removes its copy. An empty DATA/blobs that exists (an older version made it, or
 * the admin did: a mount point, a symbolic link) is filled where it is, under an flock() that
 * every open of a store without a layout file takes, so nobody reads it as an older store
 * meanwhile. */
static int make_new(const char *root, struct err *err)
{
	char tmp[4200], parent[4200];
	int fd, r;

	snprintf(tmp, sizeof(tmp), "%s.new.XXXXXX", root);
	if (mkdtemp(tmp) == NULL)
		return err_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? err_set(err, ERR_IO, "%s: %s", tmp, strerror(errno)) : fill_flat(fd, tmp, err);
	if (fd >= 0)
		close(fd);
	if (r == 0 && rename(tmp, root) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		r = err_set(err, ERR_IO, "%s: %s", root, strerror(errno));
	unmake_flat(tmp); /* nothing left there when the rename took it */
	if (r < 0)
		return -1;
	snprintf(parent, sizeof(parent), "%s", root);
	*strrchr(parent, '/') = '\0';
	return fsync_path(parent, O_RDONLY | O_DIRECTORY, err);
}

/* Opens root and learns its layout; a new store is made flat. */
static int open_root(struct blob_store *bs, struct err *err)
{
	int layout;

	bs->root_fd = open(bs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bs->root_fd < 0 && errno == ENOENT) {
		if (make_new(bs->root, err) < 0)
			return -1;
		bs->root_fd = open(bs->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (bs->root_fd < 0)
		return err_set(err, ERR_IO, "%s: %s", bs->root, strerror(errno));
	if ((layout = layout_of(bs->root_fd, bs->root, err)) != 0) {
		bs->flat = layout > 0;
		return layout < 0 ? -1 : 0;
	}
	if (flock(bs->root_fd, LOCK_EX) < 0)
		return err_set(err, ERR_IO, "flock %s: %s", bs->root, strerror(errno));
	layout = layout_of(bs->root_fd, bs->root, err); /* it may have been filled meanwhile */
	if (layout == 0 && dir_is_empty(bs->root_fd))
		layout = fill_flat(bs->root_fd, bs->root, err) < 0 ? -1 : 1;
	flock(bs->root_fd, LOCK_UN);
	bs->flat = layout > 0;
	return layout < 0 ? -1 : 0;
}

int blob_store_open(const char *data_dir, struct blob_store **bs_r, struct err *err)
{
	struct blob_store *bs = xcalloc(1, sizeof(*bs));

	bs->root_fd = -1;
	if ((size_t)snprintf(bs->root, sizeof(bs->root), "%s/blobs", data_dir) >=
	    sizeof(bs->root)) {
		free(bs);
		return err_set(err, ERR_INVALID, "data directory path is too long");
	}
	if (open_root(bs, err) < 0) {
		if (bs->root_fd >= 0)
			close(bs->root_fd);
		free(bs);
		return -1;
	}
	pthread_mutex_init(&bs->lock, NULL);
	pthread_mutex_init(&bs->dir_lock, NULL);
	*bs_r = bs;
	return 0;
}

void blob_store_close(struct blob_store **bsp)
{
	struct blob_store *bs = *bsp;
	if (bs == NULL)
		return;
	close(bs->root_fd);
	pthread_mutex_destroy(&bs->lock);
	pthread_mutex_destroy(&bs->dir_lock);
	free(bs->pending);
	free(bs);
	*bsp = NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool blob_digest_valid(const char *d)
{
	size_t i;
	for (i = 0; i < 64; i++)
		if (!is_hex(d[i]))
			return false;
	return d[64] == '\0';
}

void blob_path(const struct blob_store *bs, const char *d, char *out, size_t outsz)
{
	if (bs->flat)
		snprintf(out, outsz, "%s/%.2s/%s", bs->root, d, d);
	else
		snprintf(out, outsz, "%s/%.2s/%.2s/%s", bs->root, d, d + 2, d);
}

/* Make a fan-out directory if it is missing and fsync its parent before anyone may store in
 * it; that happens at most 65,792 times in a store's life, so the blobs themselves only ever
 * need their own directory synced. Under dir_lock: a writer that finds the directory made
 * by another finds it durable too. */
static int ensure_dir(struct blob_store *bs, const char *path, struct err *err)
{
	char parent[4200];
	int ret = 0;

	if (access(path, F_OK) == 0)
		return 0;
	pthread_mutex_lock(&bs->dir_lock);
	if (mkdir(path, 0750) == 0) {
		snprintf(parent, sizeof(parent), "%s", path);
		*strrchr(parent, '/') = '\0';
		ret = fsync_path(parent, O_RDONLY | O_DIRECTORY, err);
	} else if (errno != EEXIST) {
		ret = err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	}
	pthread_mutex_unlock(&bs->dir_lock);
	return ret;
}

static int fsync_path(const char *path, int flags, struct err *err)
{
	int fd = open(path, flags | O_CLOEXEC);
	int r;
	if (fd < 0)
		return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	r = fsync(fd);
	close(fd);
	if (r < 0)
		return err_set(err, ERR_IO, "fsync %s: %s", path, strerror(errno));
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void blob_digest(const void *data, size_t len, char digest_r[BLOB_HEX])
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256(data, len, h);
	hex_encode(h, sizeof(h), digest_r);
}

/* The pending list holds every blob renamed into place and not yet flushed. A name goes on it
 * in the same hold of the lock as its rename, so whoever finds the file by stat() (an
 * identical message stored again) and then calls blob_sync() flushes it too, or waits for the
 * blob_sync() that is flushing it (which holds the lock throughout): a blob stored once is
 * never taken as durable before it is. Under bs->lock; 0 or rename()'s errno. */
static int rename_pending(struct blob_store *bs, const char *tmp, const char *path,
			  const char *d)
{
	if (bs->npending == bs->cap) {
		bs->cap = bs->cap ? bs->cap * 2 : 256;
		bs->pending = xrealloc(bs->pending, bs->cap * sizeof(*bs->pending));
	}
	if (rename(tmp, path) < 0)
		return errno;
	memcpy(bs->pending[bs->npending++], d, BLOB_HEX);
	return 0;
}

/* Take d off the pending list again (it was flushed on its own). */
static void pending_remove(struct blob_store *bs, const char *d)
{
	pthread_mutex_lock(&bs->lock);
	for (size_t i = bs->npending; i-- > 0;)
		if (memcmp(bs->pending[i], d, BLOB_HEX) == 0) {
			memmove(bs->pending[i], bs->pending[i + 1],
				(bs->npending - i - 1) * sizeof(*bs->pending));
			bs->npending--;
			break;
		}
	pthread_mutex_unlock(&bs->lock);
}

/* Store len bytes under d, their digest. */
static int put(struct blob_store *bs, const void *data, size_t len, const char *d,
	       unsigned flags, struct err *err)
{
	char path[4200], dir[4200], tmp[4300];
	struct stat sb;
	int fd, rc;

	blob_path(bs, d, path, sizeof(path));
	if (stat(path, &sb) == 0 && (size_t)sb.st_size == len) {
		/* stored once: identical mails and files share the blob. It may still be pending
		 * (written by another, not yet flushed): a caller that wants it durable now gets
		 * the pending blobs flushed; the others flush with their batch, as for a new one */
		return (flags & BLOB_SYNC) ? blob_sync(bs, err) : 0;
	}
	snprintf(dir, sizeof(dir), "%s/%.2s", bs->root, d);
	if (!bs->flat) {
		if (ensure_dir(bs, dir, err) < 0)
			return -1;
		snprintf(dir, sizeof(dir), "%s/%.2s/%.2s", bs->root, d, d + 2);
		if (ensure_dir(bs, dir, err) < 0)
			return -1;
	}
	{
		static _Atomic unsigned long seq;
		snprintf(tmp, sizeof(tmp), "%s/.tmp.%d.%lu", dir, (int)getpid(), ++seq);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && bs->flat) { /* its directory was removed: make it again */
		if (ensure_dir(bs, dir, err) < 0)
			return -1;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	}
	if (fd < 0)
		return err_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
	if (write_all(fd, data, len) < 0 || ((flags & BLOB_SYNC) && fdatasync(fd) < 0)) {
		err_set(err, ERR_IO, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0) {
		err_set(err, ERR_IO, "store %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	pthread_mutex_lock(&bs->lock);
	rc = rename_pending(bs, tmp, path, d);
	pthread_mutex_unlock(&bs->lock);
	if (rc != 0) {
		err_set(err, ERR_IO, "store %s: %s", path, strerror(rc));
		unlink(tmp);
		return -1;
	}
	if (flags & BLOB_SYNC) {
		/* durable now: its data was flushed before the rename, its name is now */
		if (fsync_path(dir, O_RDONLY | O_DIRECTORY, err) < 0)
			return -1; /* left pending: the next blob_sync() tries again */
		pending_remove(bs, d);
	}
	return 0;
}

int blob_put(struct blob_store *bs, const void *data, size_t len, unsigned flags,
	     char digest_r[BLOB_HEX], struct err *err)
{
	blob_digest(data, len, digest_r);
	return put(bs, data, len, digest_r, flags, err);
}

int blob_put_named(struct blob_store *bs, const void *data, size_t len, const char *digest,
		   unsigned flags, struct err *err)
{
	if (digest == NULL || !blob_digest_valid(digest))
		return err_set(err, ERR_INVALID, "blob: '%s' is not a digest",
			       digest ? digest : "");
	return put(bs, data, len, digest, flags, err);
}

/* What makes one pending blob durable without touching anything else: the file and the
 * directory that holds its name (the directories above were made durable by ensure_dir). */
static int sync_one(struct blob_store *bs, const char *digest, struct err *err)
{
	char path[4200];
	blob_path(bs, digest, path, sizeof(path));
	if (fsync_path(path, O_RDONLY, err) < 0)
		return -1;
	*strrchr(path, '/') = '\0';
	return fsync_path(path, O_RDONLY | O_DIRECTORY, err);
}

/* A batch of a few blobs is made durable file by file: syncfs() writes back every dirty page
 * of the file system, including what delivery and the indexer just wrote, and under a light
 * stream that costs several times a few fsyncs. A larger batch takes one syncfs(). */
#define BLOB_SYNC_EACH_MAX 4

int blob_sync(struct blob_store *bs, struct err *err)
{
	int ret = 0;

	pthread_mutex_lock(&bs->lock);
	if (bs->npending == 0)
		goto out;
	if (bs->npending > BLOB_SYNC_EACH_MAX && syncfs(bs->root_fd) == 0)
		goto done;
	for (size_t i = 0; i < bs->npending && ret == 0; i++)
		ret = sync_one(bs, bs->pending[i], err);
done:
	bs->npending = 0;
out:
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int blob_get(struct blob_store *bs, const char *digest, size_t max_len, char **data_r,
	     size_t *len_r, struct err *err)
{
	char path[4200];
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd;

	if (!blob_digest_valid(digest))
		return err_set(err, ERR_INVALID, "not a blob digest");
	blob_path(bs, digest, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "blob %.16s: %s",
			       digest, strerror(errno));
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return err_set(err, ERR_IO, "blob %.16s: %s", digest, strerror(errno));
	}
	if ((size_t)sb.st_size > max_len) {
		close(fd);
		return err_set(err, ERR_LIMIT, "blob %.16s is larger than %zu bytes", digest,
			       max_len);
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, ERR_IO, "read blob %.16s: %s", digest,
				n < 0 ? strerror(errno) : "short file");
			close(fd);
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data_r = buf;
	*len_r = got;
	return 0;
}

int blob_verify(struct blob_store *bs, const char *digest, struct err *err)
{
	char path[4200], buf[65536], got[BLOB_HEX];
	unsigned char h[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx;
	ssize_t n;
	int fd;

	if (!blob_digest_valid(digest))
		return err_set(err, ERR_INVALID, "not a blob digest");
	blob_path(bs, digest, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "blob %s: %s",
			       digest, strerror(errno));
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	close(fd);
	EVP_DigestFinal_ex(ctx, h, NULL);
	EVP_MD_CTX_free(ctx);
	if (n < 0)
		return err_set(err, ERR_IO, "read blob %s: %s", digest, strerror(errno));
	hex_encode(h, sizeof(h), got);
	if (strcmp(got, digest) != 0)
		return err_set(err, ERR_INVALID, "blob %s is damaged (its content hashes to %s)",
			       digest, got);
	return 0;
}

static bool hex2(const char *s)
{
	return is_hex(s[0]) && is_hex(s[1]) && s[2] == '\0';
}

/* Calls fn for the entries of dir that pass keep(). */
static int each_entry(const char *dir, bool (*keep)(const char *), int (*fn)(void *, const char *),
		      void *ctx, struct err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, ERR_IO, "%s: %s", dir, strerror(errno));
	}
	while (r == 0 && (e = readdir(d)) != NULL)
		if (keep(e->d_name))
			r = fn(ctx, e->d_name);
	closedir(d);
	return r;
}

struct walk {
	struct blob_store *bs;
	blob_walk_fn *fn;
	void *ctx;
	struct err *err;
	char l1[3];
	char l2[3];
};

static bool is_digest_name(const char *s)
{
	return blob_digest_valid(s);
}

static int walk_file(void *p, const char *name)
{
	struct walk *w = p;
	char path[4200];
	struct stat sb;

	if (strncmp(name, w->l1, 2) != 0 || (!w->bs->flat && strncmp(name + 2, w->l2, 2) != 0))
		return 0; /* not where its name says: not ours */
	blob_path(w->bs, name, path, sizeof(path));
	if (stat(path, &sb) < 0)
		return 0; /* removed meanwhile */
	return w->fn(w->ctx, name, (int64_t)sb.st_size, (int64_t)sb.st_mtime);
}

static int walk_l2(void *p, const char *name)
{
	struct walk *w = p;
	char dir[4200];
	memcpy(w->l2, name, 3);
	snprintf(dir, sizeof(dir), "%s/%s/%s", w->bs->root, w->l1, w->l2);
	return each_entry(dir, is_digest_name, walk_file, w, w->err);
}

static int walk_l1(void *p, const char *name)
{
	struct walk *w = p;
	char dir[4200];
	memcpy(w->l1, name, 3);
	snprintf(dir, sizeof(dir), "%s/%s", w->bs->root, w->l1);
	if (w->bs->flat)
		return each_entry(dir, is_digest_name, walk_file, w, w->err);
	return each_entry(dir, hex2, walk_l2, w, w->err);
}

int blob_walk(struct blob_store *bs, blob_walk_fn *fn, void *ctx, struct err *err)
{
	struct walk w = {.bs = bs, .fn = fn, .ctx = ctx, .err = err};
	err_clear(err);
	return each_entry(bs->root, hex2, walk_l1, &w, err);
}

/* ---- marks: an open-addressing hash set of 32-byte digests ---- */

struct blob_marks {
	unsigned char (*slots)[32];
	bool *used;
	size_t cap, n;
};

struct blob_marks *blob_marks_new(void)
{
	struct blob_marks *m = xcalloc(1, sizeof(*m));
	m->cap = 1024;
	m->slots = xcalloc(m->cap, 32);
	m->used = xcalloc(m->cap, sizeof(bool));
	return m;
}

void blob_marks_free(struct blob_marks **mp)
{
	if (*mp == NULL)
		return;
	free((*mp)->slots);
	free((*mp)->used);
	free(*mp);
	*mp = NULL;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static bool to_raw(const char *d, unsigned char out[32])
{
	if (!blob_digest_valid(d))
		return false;
	for (int i = 0; i < 32; i++)
		out[i] = (unsigned char)(hexval(d[2 * i]) << 4 | hexval(d[2 * i + 1]));
	return true;
}

static size_t slot_of(const struct blob_marks *m, const unsigned char raw[32])
{
	size_t h;
	memcpy(&h, raw, sizeof(h)); /* a SHA-256 is already uniformly distributed */
	for (h &= m->cap - 1; m->used[h] && memcmp(m->slots[h], raw, 32) != 0;
	     h = (h + 1) & (m->cap - 1))
		;
	return h;
}

void blob_marks_add(struct blob_marks *m, const char *digest)
{
	unsigned char raw[32];
	size_t i;

	if (!to_raw(digest, raw))
		return;
	if ((m->n + 1) * 2 > m->cap) {
		struct blob_marks big = {.cap = m->cap * 2};
		big.slots = xcalloc(big.cap, 32);
		big.used = xcalloc(big.cap, sizeof(bool));
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->used[j])
				continue;
			i = slot_of(&big, m->slots[j]);
			big.used[i] = true;
			memcpy(big.slots[i], m->slots[j], 32);
		}
		free(m->slots);
		free(m->used);
		m->slots = big.slots;
		m->used = big.used;
		m->cap = big.cap;
	}
	i = slot_of(m, raw);
	if (!m->used[i]) {
		m->used[i] = true;
		memcpy(m->slots[i], raw, 32);
		m->n++;
	}
}

bool blob_marks_has(const struct blob_marks *m, const char *digest)
{
	unsigned char raw[32];
	if (!to_raw(digest, raw))
		return false;
	return m->used[slot_of(m, raw)];
}

size_t blob_marks_count(const struct blob_marks *m)
{
	return m->n;
}

struct sweep {
	struct blob_store *bs;
	const struct blob_marks *marks;
	int64_t cutoff;
	struct blob_sweep_stats st;
};

static int sweep_one(void *p, const char *digest, int64_t size, int64_t mtime)
{
	struct sweep *s = p;
	char path[4200];

	if (blob_marks_has(s->marks, digest)) {
		s->st.kept++;
	} else if (mtime >= s->cutoff) {
		s->st.young++;
	} else {
		blob_path(s->bs, digest, path, sizeof(path));
		if (unlink(path) == 0) {
			s->st.removed++;
			s->st.removed_bytes += size;
		}
	}
	return 0;
}

int blob_sweep(struct blob_store *bs, const struct blob_marks *marks, int64_t grace_seconds,
	       struct blob_sweep_stats *stats_r, struct err *err)
{
	struct sweep s = {.bs = bs, .marks = marks, .cutoff = time_now() - grace_seconds};
	if (blob_walk(bs, sweep_one, &s, err) < 0)
		return -1;
	if (stats_r)
		*stats_r = s.st;
	return 0;
}
