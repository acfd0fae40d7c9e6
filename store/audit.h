/* audit.h: data/audit.db, the append-only, hash-chained audit trail (DESIGN.md section 3).
 *
 * Record n carries hash_n = HMAC-SHA256(audit.key, hash_{n-1} || fields of n), so changing,
 * removing or reordering a record breaks the chain from that record on. Removing records at
 * the end is caught by DATA/audit.head, which names the newest record and its hash under the
 * same key. Triggers refuse UPDATE and DELETE. Only the auditor role reads it (api_audit.c). */
#ifndef YZ_AUDIT_H
#define YZ_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct store_audit;

struct audit_rec {
	int64_t id;     /* set by append */
	int64_t ts_ms;  /* set by append when 0 */
	const char *actor;  /* address, "cli:USER", or "-" */
	const char *type;   /* e.g. "auth.login.ok" */
	const char *ip;     /* may be NULL */
	const char *client; /* user agent or client name; may be NULL */
	const char *detail; /* JSON object text; may be NULL */
	char hash[65];
};

/* Create DATA/audit.key (0600) and audit.db. */
int store_audit_init(const char *data_dir, struct err *err) YZ_WUR;
int store_audit_open(const char *data_dir, struct store_audit **a_r, struct err *err) YZ_WUR;
void store_audit_close(struct store_audit **ap);

/* Append one record durably (synchronous=FULL). Safe across threads and processes. */
int store_audit_append(struct store_audit *a, struct audit_rec *r, struct err *err) YZ_WUR;
/* Append n records, in order, in one transaction with whatever other threads are writing:
 * all or none. */
int store_audit_append_many(struct store_audit *a, struct audit_rec *v, size_t n,
			    struct err *err) YZ_WUR;

struct audit_filter {
	int64_t from_ms, to_ms; /* 0 = open */
	const char *actor;      /* exact, or NULL */
	const char *type;       /* exact or a dotted prefix ("auth.login"), or NULL */
	int64_t before_id;      /* cursor: only ids below this; 0 = from the newest */
	int limit;              /* 0 = no limit */
};
/* Newest first. fn returns 0 to go on, non-zero to stop. */
typedef int audit_fn(void *ctx, const struct audit_rec *r);
int store_audit_query(struct store_audit *a, const struct audit_filter *f, audit_fn *fn,
		      void *ctx, struct err *err) YZ_WUR;

struct audit_report {
	int64_t records;
	int64_t bad_id; /* first bad record, 0 when intact */
	char reason[200];
};
/* Walk the chain. Returns 0 when it could be read (check report->bad_id), -1 on I/O error. */
int store_audit_verify(const char *data_dir, struct audit_report *rep, struct err *err) YZ_WUR;

#endif
