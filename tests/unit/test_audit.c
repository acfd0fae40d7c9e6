/* Unit tests for store/audit.h: the append-only, hash-chained audit trail (append, query
 * filters and paging, verification, and tampering done behind its back with sqlite3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "store/audit.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* SELECT one int64 from DIR/NAME through a connection of our own. */
static int sql(const char *dir, const char *name, const char *q, int64_t *val_r)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *s;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", q, sqlite3_errmsg(db));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && val_r)
		*val_r = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

static const char *const types[10] = {
    "auth.login.ok", "auth.login.fail", "auth.loginx",   "auth.logout",   "auth.login",
    "mail.move",     "auth.login.ok",   "admin.account", "auth.login.ok", "auth.login.fail",
};

static void audit_fill(const char *dir, int n)
{
	struct store_audit *a;
	struct err err;
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	for (int i = 0; i < n; i++) {
		char actor[32];
		struct audit_rec r = {.ts_ms = 1000 * (i + 1),
		                      .type = types[i % 10],
		                      .ip = "192.0.2.7",
		                      .client = i % 2 ? NULL : "curl",
		                      .detail = i == 3 ? "{\"k\":\"v\"}" : NULL};
		snprintf(actor, sizeof(actor), "user%d@example.com", i % 3);
		r.actor = actor;
		assert_int_equal(store_audit_append(a, &r, &err), 0);
		assert_int_equal(r.id, i + 1);
		assert_true(is_hex64(r.hash));
	}
	store_audit_close(&a);
}

struct ids {
	int64_t id[32];
	int n;
	int stop_after;
};

static int on_rec(void *ctx, const struct audit_rec *r)
{
	struct ids *ids = ctx;
	ids->id[ids->n++] = r->id;
	return ids->stop_after && ids->n >= ids->stop_after;
}

static void query(const char *dir, const struct audit_filter *flt, struct ids *ids)
{
	struct store_audit *a;
	struct err err;
	int stop = ids->stop_after;
	memset(ids, 0, sizeof(*ids));
	ids->stop_after = stop;
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	assert_int_equal(store_audit_query(a, flt, on_rec, ids, &err), 0);
	store_audit_close(&a);
}

static void expect_ids(const struct ids *ids, const char *want)
{
	char got[256] = "";
	for (int i = 0; i < ids->n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%lld", i ? "," : "",
		         (long long)ids->id[i]);
	assert_string_equal(got, want);
}

/* A fresh data dir holding n audit records. */
static void fresh_audit(char dir[64], int n)
{
	struct err err;
	snprintf(dir, 64, "/tmp/yz-audit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_audit_init(dir, &err), 0);
	audit_fill(dir, n);
}

static void test_audit_append_query_verify(void **state)
{
	struct audit_report rep;
	struct ids ids = {0};
	struct err err;
	char d[64];
	const char *dir = d;
	(void)state;

	fresh_audit(d, 10);
	assert_int_equal(store_audit_verify(dir, &rep, &err), 0);
	assert_int_equal(rep.records, 10);
	assert_int_equal(rep.bad_id, 0);

	query(dir, &(struct audit_filter){0}, &ids);
	expect_ids(&ids, "10,9,8,7,6,5,4,3,2,1");
	/* a dotted prefix matches the type and its children, nothing else */
	query(dir, &(struct audit_filter){.type = "auth.login"}, &ids);
	expect_ids(&ids, "10,9,7,5,2,1");
	query(dir, &(struct audit_filter){.type = "auth.login.ok"}, &ids);
	expect_ids(&ids, "9,7,1");
	query(dir, &(struct audit_filter){.type = "auth"}, &ids);
	expect_ids(&ids, "10,9,7,5,4,3,2,1");
	query(dir, &(struct audit_filter){.type = "auth.log"}, &ids);
	expect_ids(&ids, "");
	query(dir, &(struct audit_filter){.actor = "user1@example.com"}, &ids);
	expect_ids(&ids, "8,5,2");
	query(dir, &(struct audit_filter){.from_ms = 3000, .to_ms = 5000}, &ids);
	expect_ids(&ids, "5,4,3");
	query(dir, &(struct audit_filter){.before_id = 5}, &ids);
	expect_ids(&ids, "4,3,2,1");
	query(dir, &(struct audit_filter){.limit = 3}, &ids);
	expect_ids(&ids, "10,9,8");
	query(dir, &(struct audit_filter){.before_id = 8, .limit = 3}, &ids);
	expect_ids(&ids, "7,6,5");
	query(dir, &(struct audit_filter){.before_id = 2, .limit = 3}, &ids);
	expect_ids(&ids, "1");
	query(dir, &(struct audit_filter){.type = "auth.login", .before_id = 7, .limit = 2}, &ids);
	expect_ids(&ids, "5,2");
	ids.stop_after = 2; /* the callback can stop the walk */
	query(dir, &(struct audit_filter){0}, &ids);
	expect_ids(&ids, "10,9");
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void verify_names(const char *dir, int64_t want_bad)
{
	struct audit_report rep;
	struct err err;
	assert_int_equal(store_audit_verify(dir, &rep, &err), 0);
	if (rep.bad_id != want_bad)
		fail_msg("verify: bad_id %lld (%s), want %lld", (long long)rep.bad_id, rep.reason,
		         (long long)want_bad);
	if (want_bad)
		assert_true(rep.reason[0] != '\0');
}

#define UNLOCK "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"

static int sql_exec(const char *dir, const char *q)
{
	char path[128];
	sqlite3 *db;
	int rc;
	snprintf(path, sizeof(path), "%s/audit.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void test_audit_triggers(void **state)
{
	char dir[64];
	int64_t n;
	(void)state;
	fresh_audit(dir, 10);
	assert_int_not_equal(sql_exec(dir, "UPDATE audit SET actor = 'x' WHERE id = 5"), SQLITE_OK);
	assert_int_not_equal(sql_exec(dir, "DELETE FROM audit WHERE id = 10"), SQLITE_OK);
	assert_int_equal(sql(dir, "audit.db", "SELECT count(*) FROM audit", &n), SQLITE_ROW);
	assert_int_equal(n, 10);
	verify_names(dir, 0);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_audit_tamper(void **state)
{
	static const struct {
		const char *sql;
		int64_t bad;
	} cases[] = {
	    {UNLOCK "UPDATE audit SET actor = 'mallory@example.com' WHERE id = 5", 5},
	    {UNLOCK "UPDATE audit SET detail = '{}' WHERE id = 4", 4},
	    {UNLOCK "UPDATE audit SET ts = ts + 1 WHERE id = 2", 2},
	    {UNLOCK "DELETE FROM audit WHERE id = 5", 5},
	    {UNLOCK "DELETE FROM audit WHERE id = 1", 1},
	    {UNLOCK "DELETE FROM audit WHERE id = 10", 10},
	    {UNLOCK "DELETE FROM audit WHERE id >= 8", 8},
	    /* swap the whole contents (hash included) of records 3 and 7 */
	    {UNLOCK "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE id IN (3, 7);"
	            "UPDATE audit SET (ts, actor, type, ip, client, detail, hash) = "
	            "(SELECT ts, actor, type, ip, client, detail, hash FROM t"
	            " WHERE t.id = 10 - audit.id) WHERE id IN (3, 7);",
	     3},
	    /* a forged record appended without the key */
	    {"INSERT INTO audit VALUES (11, 11000, 'x', 'auth.login.ok', '', '', '{}', "
	     "'0000000000000000000000000000000000000000000000000000000000000000')",
	     11},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char dir[64];
		fresh_audit(dir, 10);
		if (sql_exec(dir, cases[i].sql) != SQLITE_OK)
			fail_msg("tamper case %zu: SQL failed", i);
		verify_names(dir, cases[i].bad);
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

static void test_audit_head(void **state)
{
	char dir[64], path[128];
	FILE *fp;
	(void)state;

	/* the head file gone: the newest record cannot be vouched for */
	fresh_audit(dir, 10);
	snprintf(path, sizeof(path), "%s/audit.head", dir);
	assert_int_equal(unlink(path), 0);
	verify_names(dir, 10);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	/* a head with a forged signature */
	fresh_audit(dir, 10);
	snprintf(path, sizeof(path), "%s/audit.head", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "9 %064d %064d\n", 0, 0);
	fclose(fp);
	verify_names(dir, 9);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	/* an empty log with no head is intact */
	fresh_audit(dir, 0);
	verify_names(dir, 0);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* audit.head is overwritten in place (one fixed-width line), keeps working when another
 * process replaced the file, and a head in the older variable-width form still verifies. */
/* The first line of the file at path. */
static void head_line(const char *path, char *line, size_t n)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, (int)n, fp));
	fclose(fp);
}

static void test_audit_head_in_place(void **state)
{
	char dir[64], path[128], line[256];
	struct stat st1, st2;
	struct store_audit *a;
	struct err err;
	long long id;
	FILE *fp;
	(void)state;

	fresh_audit(dir, 3);
	snprintf(path, sizeof(path), "%s/audit.head", dir);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, 20 + 1 + 64 + 1 + 64 + 1);
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	struct audit_rec r = {.type = "admin.test", .ip = "192.0.2.1", .actor = "a@example.com"};
	for (int i = 0; i < 2; i++) /* records 4 and 5 */
		assert_int_equal(store_audit_append(a, &r, &err), 0);
	store_audit_close(&a);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st2.st_ino, st1.st_ino); /* the same file, rewritten */
	assert_int_equal(st2.st_size, st1.st_size);
	head_line(path, line, sizeof(line));
	assert_int_equal(sscanf(line, "%lld", &id), 1);
	assert_int_equal(id, 5);
	assert_int_equal(strncmp(line, "00000000000000000005 ", 21), 0);
	verify_names(dir, 0);

	/* another process puts a new file in its place while this one has it open: the next
	 * head goes into the new file, not the unlinked one */
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	assert_int_equal(store_audit_append(a, &r, &err), 0); /* 6: opens the head */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.other", path);
	head_line(path, line, sizeof(line));
	/* the older form: no padding, shorter than what replaces it */
	char hash[65], mac[65];
	assert_int_equal(sscanf(line, "%lld %64s %64s", &id, hash, mac), 3);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fprintf(fp, "%lld %s %s\n", id, hash, mac);
	fclose(fp);
	assert_int_equal(rename(tmp, path), 0);
	verify_names(dir, 0);
	assert_int_equal(store_audit_append(a, &r, &err), 0); /* 7 */
	store_audit_close(&a);
	head_line(path, line, sizeof(line));
	assert_int_equal(sscanf(line, "%lld", &id), 1);
	assert_int_equal(id, 7);
	verify_names(dir, 0);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

struct first_rec {
	char actor[64], type[64], client[64];
};

static int on_first(void *ctx, const struct audit_rec *r)
{
	struct first_rec *fr = ctx;
	snprintf(fr->actor, sizeof(fr->actor), "%s", r->actor);
	snprintf(fr->type, sizeof(fr->type), "%s", r->type);
	snprintf(fr->client, sizeof(fr->client), "%s", r->client);
	return 1;
}

/* Fields from the network are kept, as valid UTF-8: invalid bytes become U+FFFD, and the
 * chain still verifies. */
static void test_audit_invalid_utf8(void **state)
{
	char dir[64];
	struct store_audit *a;
	struct audit_rec r = {.actor = "x\xffy@example.com",
	                      .type = "auth.login.fail",
	                      .client = "\xc3",
	                      .ip = "192.0.2.1"};
	struct first_rec fr;
	struct err err;
	(void)state;

	fresh_audit(dir, 2);
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	assert_int_equal(store_audit_append(a, &r, &err), 0);
	assert_int_equal(r.id, 3);
	assert_int_equal(store_audit_query(a, &(struct audit_filter){0}, on_first, &fr, &err), 0);
	store_audit_close(&a);
	assert_string_equal(fr.actor, "x\xef\xbf\xbdy@example.com");
	assert_string_equal(fr.type, "auth.login.fail");
	assert_string_equal(fr.client, "\xef\xbf\xbd");
	verify_names(dir, 0);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Eight threads append 200 records each through one handle (group commits) while a second
 * handle, as another process would, appends too: every record is there once, ids are
 * contiguous, each thread's records are in its order, and the chain and head verify. */
#define GC_THREADS 8
#define GC_EACH 200

struct gc_arg {
	struct store_audit *a;
	int n;
	int64_t ids[GC_EACH];
	int failed;
};

static void *gc_main(void *p)
{
	struct gc_arg *g = p;
	for (int i = 0; i < GC_EACH; i++) {
		char detail[64];
		struct audit_rec r = {.actor = "mta", .type = "mail.delivered", .ip = "",
				      .client = "t", .detail = detail};
		struct err err;
		snprintf(detail, sizeof(detail), "{\"t\":%d,\"i\":%d}", g->n, i);
		if (store_audit_append(g->a, &r, &err) < 0)
			g->failed++;
		g->ids[i] = r.id;
	}
	return NULL;
}

static void test_audit_group_commit(void **state)
{
	struct store_audit *a, *other;
	struct gc_arg args[GC_THREADS + 1];
	pthread_t th[GC_THREADS + 1];
	struct audit_report rep;
	struct err err;
	char dir[64];
	int64_t count = 0, maxid = 0;
	(void)state;

	fresh_audit(dir, 0);
	assert_int_equal(store_audit_open(dir, &a, &err), 0);
	assert_int_equal(store_audit_open(dir, &other, &err), 0);
	for (int t = 0; t <= GC_THREADS; t++) {
		args[t] = (struct gc_arg){.a = t == GC_THREADS ? other : a, .n = t};
		assert_int_equal(pthread_create(&th[t], NULL, gc_main, &args[t]), 0);
	}
	for (int t = 0; t <= GC_THREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(args[t].failed, 0);
		for (int i = 1; i < GC_EACH; i++)
			assert_true(args[t].ids[i] > args[t].ids[i - 1]);
	}
	store_audit_close(&a);
	store_audit_close(&other);
	assert_int_equal(sql(dir, "audit.db", "SELECT count(DISTINCT detail) FROM audit", &count),
			 SQLITE_ROW);
	assert_int_equal(count, (GC_THREADS + 1) * GC_EACH);
	assert_int_equal(sql(dir, "audit.db", "SELECT max(id) FROM audit", &maxid), SQLITE_ROW);
	assert_int_equal(maxid, (GC_THREADS + 1) * GC_EACH);
	assert_int_equal(store_audit_verify(dir, &rep, &err), 0);
	assert_int_equal(rep.records, (GC_THREADS + 1) * GC_EACH);
	if (rep.bad_id != 0)
		fail_msg("verify: bad_id %lld (%s)", (long long)rep.bad_id, rep.reason);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_audit_append_query_verify),
	    cmocka_unit_test(test_audit_triggers),
	    cmocka_unit_test(test_audit_tamper),
	    cmocka_unit_test(test_audit_head),
	    cmocka_unit_test(test_audit_head_in_place),
	    cmocka_unit_test(test_audit_invalid_utf8),
	    cmocka_unit_test(test_audit_group_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
