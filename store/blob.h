/* blob.h: content-addressed, immutable files under DATA/blobs/ab/cd/<sha256 hex>.
 *
 * A mail or file is stored once however many mailboxes refer to it. A blob is written to a
 * temporary file and renamed into place; durability comes either per blob (fsync of the file
 * and of its directory: blob_put with BLOB_SYNC) or per batch (blob_put without it, then one
 * blob_sync() for the whole batch, which flushes the file system once: group commit). Callers
 * commit the database rows that refer to blobs only after the blobs are durable.
 *
 * Garbage collection is mark-and-sweep: the caller marks every digest still referenced, and
 * blob_sweep() removes the unmarked blobs older than a grace period, so a blob written just
 * before its row commits is never removed. Thread-safe. */
#ifndef YZ_BLOB_H
#define YZ_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define BLOB_HEX 65 /* 64 hex digits and a NUL */

struct blob_store;

int blob_store_open(const char *data_dir, struct blob_store **bs_r, struct err *err) YZ_WUR;
void blob_store_close(struct blob_store **bsp);

enum blob_flags {
	BLOB_SYNC = 1 << 0, /* durable when blob_put returns */
};

/* The digest blob_put() files len bytes under (lower-case hex SHA-256). */
void blob_digest(const void *data, size_t len, char digest_r[BLOB_HEX]);
/* Store len bytes; digest_r receives the lower-case hex SHA-256. An existing blob of the same
 * digest and size is not written again. */
int blob_put(struct blob_store *bs, const void *data, size_t len, unsigned flags,
	     char digest_r[BLOB_HEX], struct err *err) YZ_WUR;
/* blob_put() for a caller that holds the digest of exactly these bytes already (the queue's,
 * made when the message was accepted from the same bytes), so they are not hashed a second
 * time. The caller vouches for it: a wrong one files the bytes under a name that blob_verify()
 * (the scrub) reports as damaged. ERR_INVALID when digest is not 64 lower-case hex digits. */
int blob_put_named(struct blob_store *bs, const void *data, size_t len, const char *digest,
		   unsigned flags, struct err *err) YZ_WUR;
/* Make every blob written since the last call durable (one file-system flush). */
int blob_sync(struct blob_store *bs, struct err *err) YZ_WUR;

/* Read a whole blob into a malloc'd buffer (NUL-terminated, not counted in *len_r); the caller
 * frees it. ERR_NOTFOUND if absent, ERR_LIMIT if larger than max_len. */
int blob_get(struct blob_store *bs, const char *digest, size_t max_len, char **data_r,
	     size_t *len_r, struct err *err) YZ_WUR;
/* The path of a blob (whether or not it exists). out >= 4096. */
void blob_path(const struct blob_store *bs, const char *digest, char *out, size_t outsz);
bool blob_digest_valid(const char *digest);

/* Recompute a blob's digest: 0 if it matches, -1 with ERR_INVALID (damaged) or ERR_NOTFOUND. */
int blob_verify(struct blob_store *bs, const char *digest, struct err *err) YZ_WUR;

/* Walk every blob: fn(ctx, digest, size, mtime). A non-zero return stops the walk. */
typedef int blob_walk_fn(void *ctx, const char *digest, int64_t size, int64_t mtime);
int blob_walk(struct blob_store *bs, blob_walk_fn *fn, void *ctx, struct err *err) YZ_WUR;

/* Mark-and-sweep: a set of referenced digests. */
struct blob_marks;
struct blob_marks *blob_marks_new(void);
void blob_marks_free(struct blob_marks **mp);
void blob_marks_add(struct blob_marks *m, const char *digest);
bool blob_marks_has(const struct blob_marks *m, const char *digest);
size_t blob_marks_count(const struct blob_marks *m);

struct blob_sweep_stats {
	int64_t kept, removed, young; /* young: unmarked but inside the grace period */
	int64_t removed_bytes;
};
/* Remove every blob not in marks whose mtime is older than now - grace_seconds. */
int blob_sweep(struct blob_store *bs, const struct blob_marks *marks, int64_t grace_seconds,
	       struct blob_sweep_stats *stats_r, struct err *err) YZ_WUR;

#endif
