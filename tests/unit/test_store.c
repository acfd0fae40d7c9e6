/* Unit tests for store/store.h and store/auth.h: domains, accounts, passwords and the
 * verification cache, sessions, the sign-in throttle, TOTP steps; and db_end() of store/db.h,
 * which tells a failed step from the end of the rows. The audit trail is in test_audit.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/util.h"
#include "store/auth.h"
#include "store/db.h"
#include "store/store.h"

#define ITER 4096
#define PW "correct horse"

struct fx {
	char dir[64];
	struct store *st;
	int64_t dom;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err err;
	snprintf(f->dir, sizeof(f->dir), "/tmp/yz-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if (store_open(f->dir, true, &f->st, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	if (store_domain_add(f->st, "example.com", &f->dom, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	store_close(&f->st);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int64_t add_account(struct fx *f, const char *addr, enum role role, const char *pw)
{
	int64_t id = 0;
	struct err err;
	if (store_account_add(f->st, addr, "Test User", role, pw, ITER, &id, &err) < 0)
		fail_msg("account_add %s: %s", addr, err.msg);
	return id;
}

/* Run one SQL statement on DIR/NAME with a connection of our own; returns the sqlite code
 * of the step (SQLITE_DONE / SQLITE_ROW / an error) and the first column as int64. */
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

/* ---- domains ---- */

static void on_domain(void *ctx, int64_t id, const char *name, int64_t created)
{
	(void)id, (void)created;
	strcat(ctx, name);
	strcat(ctx, ";");
}

static void test_domain_add(void **state)
{
	struct fx *f = *state;
	static const char *const good[] = {"Mixed.Example.ORG", "a", "xn--fiq228c.com", "a-b.c9",
	                                   "123.example"};
	static const char *const bad[] = {"",        ".a.com",  "a.com.",       "a..com",
	                                  "a_b.com", "a b.com", "exa@mple.com", "中文.com",
	                                  "a/b.com", "a.com\n"};
	char list[512] = "", label64[80], long254[300];
	struct err err;
	int64_t id;

	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		if (store_domain_add(f->st, good[i], &id, &err) < 0)
			fail_msg("domain %s refused: %s", good[i], err.msg);
	assert_true(store_domain_exists(f->st, "mixed.example.org")); /* stored lower-case */
	assert_int_equal(store_domain_list(f->st, on_domain, list, &err), 0);
	assert_string_equal(list, "123.example;a;a-b.c9;example.com;mixed.example.org;"
	                          "xn--fiq228c.com;");
	/* duplicates, whatever their case */
	assert_int_equal(store_domain_add(f->st, "example.com", &id, &err), -1);
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(store_domain_add(f->st, "EXAMPLE.com", &id, &err), -1);
	assert_int_equal(err.code, ERR_EXISTS);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err.code = ERR_OK;
		if (store_domain_add(f->st, bad[i], &id, &err) != -1)
			fail_msg("domain \"%s\" accepted", bad[i]);
		assert_int_equal(err.code, ERR_INVALID);
	}
	/* a label holds at most 63 bytes, a name at most 253 */
	memset(label64, 'l', 64);
	strcpy(label64 + 64, ".com");
	assert_int_equal(store_domain_add(f->st, label64, &id, &err), -1);
	assert_int_equal(store_domain_add(f->st, label64 + 1, &id, &err), 0);
	for (int i = 0; i < 5; i++)
		memcpy(long254 + 50 * i, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 50);
	memcpy(long254 + 250, "abcd", 5); /* 254 bytes */
	assert_int_equal(store_domain_add(f->st, long254, &id, &err), -1);
	assert_int_equal(store_domain_add(f->st, long254 + 1, &id, &err), 0);
}

/* RFC 1123 section 2.1 / RFC 5890: an LDH label neither starts nor ends with '-'. */
static void test_domain_hyphen_labels(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"-a.com", "a-.com", "x.-.com", "a.com-"};
	char accepted[128] = "";
	struct err err;
	int64_t id;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (store_domain_add(f->st, bad[i], &id, &err) != -1)
			snprintf(accepted + strlen(accepted), sizeof(accepted) - strlen(accepted),
			         " \"%s\"", bad[i]);
	if (accepted[0])
		fail_msg("domains accepted:%s", accepted);
}

/* ---- accounts ---- */

static void test_account_add_and_get(void **state)
{
	struct fx *f = *state;
	struct store_account a;
	struct err err;
	int64_t id, id2;
	static const char *const bad_addr[] = {"",
	                                       "alice",
	                                       "@example.com",
	                                       "alice@",
	                                       "a b@example.com",
	                                       "a<b@example.com",
	                                       "a@b@example.com",
	                                       "a,b@example.com",
	                                       "a\"b@example.com",
	                                       "a:b@example.com",
	                                       "a\tb@example.com",
	                                       "a\x7f@example.com",
	                                       "a\xff@example.com",
	                                       "\xc3@example.com"};

	id = add_account(f, "Alice@Example.COM", ROLE_USER, PW);
	assert_true(id > 0);
	assert_int_equal(store_account_get(f->st, "alice@example.com", &a, &err), 0);
	assert_int_equal(a.id, id);
	assert_int_equal(a.domain_id, f->dom);
	assert_string_equal(a.address, "alice@example.com");
	assert_string_equal(a.domain, "example.com");
	assert_string_equal(a.name, "Test User");
	assert_int_equal(a.role, ROLE_USER);
	assert_false(a.disabled);
	assert_false(a.totp_enabled);
	assert_int_equal(a.secret.iterations, ITER);
	assert_int_equal(a.secret.salt_len, 16);
	/* lookups ignore case */
	assert_int_equal(store_account_get(f->st, "ALICE@EXAMPLE.COM", &a, &err), 0);
	assert_int_equal(a.id, id);
	assert_int_equal(store_account_get_id(f->st, id, &a, &err), 0);
	assert_string_equal(a.address, "alice@example.com");

	/* roles are stored */
	id2 = add_account(f, "audit@example.com", ROLE_AUDITOR, PW);
	assert_int_equal(store_account_get_id(f->st, id2, &a, &err), 0);
	assert_int_equal(a.role, ROLE_AUDITOR);

	/* refusals */
	assert_int_equal(
	    store_account_add(f->st, "alice@example.com", NULL, ROLE_USER, PW, ITER, &id, &err),
	    -1);
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(
	    store_account_add(f->st, "ALICE@example.com", NULL, ROLE_USER, PW, ITER, &id, &err),
	    -1);
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(
	    store_account_add(f->st, "bob@nowhere.org", NULL, ROLE_USER, PW, ITER, &id, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(store_account_add(f->st, "bob@example.com", NULL, ROLE_USER, "short77",
	                                   ITER, &id, &err),
	                 -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(store_account_add(f->st, "bob@example.com", NULL, 0, PW, ITER, &id, &err),
	                 -1);
	assert_int_equal(err.code, ERR_INVALID);
	{
		char name[200];
		memset(name, 'n', 129);
		name[129] = '\0';
		assert_int_equal(store_account_add(f->st, "bob@example.com", name, ROLE_USER, PW,
		                                   ITER, &id, &err),
		                 -1);
		assert_int_equal(err.code, ERR_INVALID);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad_addr); i++) {
		err.code = ERR_OK;
		if (store_account_add(f->st, bad_addr[i], NULL, ROLE_USER, PW, ITER, &id, &err) !=
		    -1)
			fail_msg("address \"%s\" accepted", bad_addr[i]);
		assert_int_equal(err.code, ERR_INVALID);
	}
	{
		char local65[100];
		memset(local65, 'x', 65);
		strcpy(local65 + 65, "@example.com");
		assert_int_equal(
		    store_account_add(f->st, local65, NULL, ROLE_USER, PW, ITER, &id, &err), -1);
		assert_int_equal(
		    store_account_add(f->st, local65 + 1, NULL, ROLE_USER, PW, ITER, &id, &err), 0);
	}
	/* bob was never added */
	assert_int_equal(store_account_get(f->st, "bob@example.com", &a, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(store_account_get_id(f->st, 99999, &a, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
}

/* ---- passwords and the auth cache ---- */

static void test_password_change(void **state)
{
	struct fx *f = *state;
	struct store_account a, before;
	struct err err;

	add_account(f, "carol@example.com", ROLE_USER, PW);
	assert_int_equal(store_account_get(f->st, "carol@example.com", &before, &err), 0);
	assert_int_equal(auth_check_password(f->st, NULL, "carol@example.com", PW, &a, &err), 0);
	assert_int_equal(a.id, before.id);
	assert_int_equal(
	    store_account_set_password(f->st, "Carol@example.com", "new password 2", ITER, &err),
	    0);
	assert_int_equal(store_account_get(f->st, "carol@example.com", &a, &err), 0);
	assert_memory_not_equal(a.secret.salt, before.secret.salt, 16);
	assert_memory_not_equal(a.secret.stored_key, before.secret.stored_key, 32);
	assert_int_equal(auth_check_password(f->st, NULL, "carol@example.com", PW, &a, &err), -1);
	assert_int_equal(err.code, ERR_AUTH);
	assert_int_equal(
	    auth_check_password(f->st, NULL, "carol@example.com", "new password 2", &a, &err), 0);
	/* refusals */
	assert_int_equal(
	    store_account_set_password(f->st, "carol@example.com", "short", ITER, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(
	    store_account_set_password(f->st, "nobody@example.com", "long enough", ITER, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
}

/* Passwords are SASLprep'd (RFC 4013) before PBKDF2, as the browser does. */
static void test_password_saslprep(void **state)
{
	struct fx *f = *state;
	struct store_account a;
	struct err err;

	/* U+2168 ROMAN NUMERAL NINE normalises to "IX"; U+00AD SOFT HYPHEN maps to nothing */
	add_account(f, "dora@example.com", ROLE_USER, "pass\xe2\x85\xa8word");
	assert_int_equal(
	    auth_check_password(f->st, NULL, "dora@example.com", "passIXword", &a, &err), 0);
	assert_int_equal(
	    auth_check_password(f->st, NULL, "dora@example.com", "pass\xc2\xadIXword", &a, &err),
	    0);
	assert_int_equal(
	    auth_check_password(f->st, NULL, "dora@example.com", "passixword", &a, &err), -1);
}

static void test_auth_disabled_and_unknown(void **state)
{
	struct fx *f = *state;
	struct store_account a;
	struct err e1, e2, e3;

	add_account(f, "erin@example.com", ROLE_USER, PW);
	assert_int_equal(store_account_set_disabled(f->st, "erin@example.com", true, &e1), 0);
	assert_int_equal(store_account_get(f->st, "erin@example.com", &a, &e1), 0);
	assert_true(a.disabled);
	assert_int_equal(auth_check_password(f->st, NULL, "erin@example.com", PW, &a, &e1), -1);
	assert_int_equal(
	    auth_check_password(f->st, NULL, "erin@example.com", "wrong pass", &a, &e2), -1);
	assert_int_equal(auth_check_password(f->st, NULL, "nobody@example.com", PW, &a, &e3), -1);
	/* one answer for all three, so a caller cannot tell them apart */
	assert_int_equal(e1.code, ERR_AUTH);
	assert_int_equal(e2.code, ERR_AUTH);
	assert_int_equal(e3.code, ERR_AUTH);
	assert_string_equal(e1.msg, e2.msg);
	assert_string_equal(e1.msg, e3.msg);
	assert_int_equal(auth_check_password(f->st, NULL, "not an address", PW, &a, &e3), -1);
	assert_int_equal(e3.code, ERR_AUTH);

	assert_int_equal(store_account_set_disabled(f->st, "erin@example.com", false, &e1), 0);
	assert_int_equal(auth_check_password(f->st, NULL, "erin@example.com", PW, &a, &e1), 0);
	assert_int_equal(store_account_set_disabled(f->st, "nobody@example.com", true, &e1), -1);
	assert_int_equal(e1.code, ERR_NOTFOUND);
}

static void test_auth_cache(void **state)
{
	struct fx *f = *state;
	struct auth_cache *c = auth_cache_new(100, 600);
	struct auth_stats s;
	struct store_account a;
	struct err err;
	int64_t fred = add_account(f, "fred@example.com", ROLE_USER, PW);

	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err), 0);
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 0);
	assert_int_equal(s.misses, 1);
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err), 0);
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 1);
	assert_int_equal(s.misses, 1);
	memset(&a, 0, sizeof(a));
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err), 0);
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 2);
	assert_int_equal(a.id, fred); /* acct is filled on a hit too */
	assert_string_equal(a.address, "fred@example.com");
	/* a wrong password is never a hit and does not evict the right one */
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", "wrong pass", &a, &err),
	                 -1);
	assert_int_equal(err.code, ERR_AUTH);
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err), 0);
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 3);
	assert_int_equal(s.misses, 2);
	/* disabling wins over a cached success */
	assert_int_equal(store_account_set_disabled(f->st, "fred@example.com", true, &err), 0);
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err), -1);
	assert_int_equal(err.code, ERR_AUTH);
	assert_int_equal(store_account_set_disabled(f->st, "fred@example.com", false, &err), 0);
	/* a password change invalidates the entry */
	assert_int_equal(
	    store_account_set_password(f->st, "fred@example.com", "another one", ITER, &err), 0);
	auth_cache_stats(c, &s);
	{
		uint64_t hits = s.hits;
		assert_int_equal(auth_check_password(f->st, c, "fred@example.com", PW, &a, &err),
		                 -1);
		assert_int_equal(err.code, ERR_AUTH);
		auth_cache_stats(c, &s);
		assert_int_equal(s.hits, hits);
		assert_int_equal(
		    auth_check_password(f->st, c, "fred@example.com", "another one", &a, &err), 0);
		auth_cache_stats(c, &s);
		assert_int_equal(s.hits, hits);
		assert_int_equal(
		    auth_check_password(f->st, c, "fred@example.com", "another one", &a, &err), 0);
		auth_cache_stats(c, &s);
		assert_int_equal(s.hits, hits + 1);
	}
	auth_cache_free(&c);
	assert_null(c);

	/* ttl 0 turns the cache off */
	c = auth_cache_new(100, 0);
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", "another one", &a, &err),
	                 0);
	assert_int_equal(auth_check_password(f->st, c, "fred@example.com", "another one", &a, &err),
	                 0);
	auth_cache_stats(c, &s);
	assert_int_equal(s.hits, 0);
	auth_cache_free(&c);
}

/* ---- sessions ---- */

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Does the file hold the bytes of s anywhere? */
static bool file_has(const char *path, const char *s)
{
	FILE *fp = fopen(path, "rb");
	size_t n = strlen(s), len;
	char *data;
	bool found = false;
	if (fp == NULL)
		return false;
	fseek(fp, 0, SEEK_END);
	len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc(len + 1);
	if (fread(data, 1, len, fp) == len && len >= n)
		found = memmem(data, len, s, n) != NULL;
	free(data);
	fclose(fp);
	return found;
}

static void test_session_lifecycle(void **state)
{
	struct fx *f = *state;
	char id[65], csrf[65], id2[65], csrf2[65], hash[65], q[256], path[128], upper[65];
	unsigned char key[STORE_TOTP_KEY];
	struct store_session s;
	struct err err;
	int64_t acct = add_account(f, "gina@example.com", ROLE_USER, PW), now = time_now(), n;

	assert_int_equal(
	    store_session_create(f->st, acct, false, "192.0.2.1", "test", id, csrf, &err), 0);
	assert_true(is_hex64(id));
	assert_true(is_hex64(csrf));
	assert_string_not_equal(id, csrf);
	assert_int_equal(store_session_get(f->st, id, now, 3600, 86400, &s, &err), 0);
	store_session_hash(id, hash);
	assert_true(is_hex64(hash));
	assert_string_not_equal(hash, id);
	assert_string_equal(s.hash, hash);
	assert_int_equal(s.account_id, acct);
	assert_false(s.complete);
	assert_string_equal(s.csrf, csrf);
	assert_false(s.has_pending_totp);
	{
		/* the joined lookup the router uses gives the same session plus its account */
		struct store_session s2;
		struct store_account a;
		assert_int_equal(store_session_resolve(f->st, id, now, 3600, 86400, &s2, &a, &err),
				 0);
		assert_int_equal(s2.account_id, acct);
		assert_string_equal(s2.csrf, csrf);
		assert_int_equal(a.id, acct);
		assert_string_equal(a.address, "gina@example.com");
		assert_string_equal(a.domain, "example.com");
		assert_int_equal(a.role, ROLE_USER);
		assert_int_equal(store_session_resolve(f->st, hash, now, 3600, 86400, &s2, &a, &err),
				 -1);
		assert_int_equal(err.code, ERR_NOTFOUND);
		/* expired: ERR_DENIED, and the account is still named for the audit record */
		memset(&a, 0, sizeof(a));
		assert_int_equal(
		    store_session_create(f->st, acct, true, NULL, NULL, id2, csrf2, &err), 0);
		assert_int_equal(
		    store_session_resolve(f->st, id2, now + 7200, 3600, 86400, &s2, &a, &err), -1);
		assert_int_equal(err.code, ERR_DENIED);
		assert_string_equal(a.address, "gina@example.com");
		assert_int_equal(store_session_get(f->st, id2, now, 3600, 86400, &s2, &err), -1);
		assert_int_equal(err.code, ERR_NOTFOUND); /* removed */
	}

	/* only the hash is stored */
	snprintf(q, sizeof(q), "SELECT count(*) FROM sessions WHERE hash = '%s'", hash);
	assert_int_equal(sql(f->dir, "directory.db", q, &n), SQLITE_ROW);
	assert_int_equal(n, 1);
	snprintf(
	    q, sizeof(q),
	    "SELECT count(*) FROM sessions WHERE instr(hash || csrf || ip || client, '%s') > 0",
	    id);
	assert_int_equal(sql(f->dir, "directory.db", q, &n), SQLITE_ROW);
	assert_int_equal(n, 0);
	{
		char wal[128];
		snprintf(path, sizeof(path), "%s/directory.db", f->dir);
		snprintf(wal, sizeof(wal), "%s/directory.db-wal", f->dir);
		/* the scan works: the hash is on disk (in the database or its WAL) ... */
		assert_true(file_has(path, hash) || file_has(wal, hash));
		/* ... and the id itself is nowhere */
		assert_false(file_has(path, id));
		assert_false(file_has(wal, id));
	}

	/* unknown and malformed ids */
	assert_int_equal(store_session_get(f->st, "", now, 3600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(store_session_get(f->st, hash, now, 3600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND); /* the stored hash is no credential */
	memcpy(upper, id, 65);
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(store_session_get(f->st, upper, now, 3600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);

	/* pending TOTP key, then completion clears it */
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(store_session_set_pending_totp(f->st, hash, key, &err), 0);
	assert_int_equal(store_session_get(f->st, id, now, 3600, 86400, &s, &err), 0);
	assert_true(s.has_pending_totp);
	assert_memory_equal(s.pending_totp, key, sizeof(key));
	assert_int_equal(store_session_complete(f->st, hash, &err), 0);
	assert_int_equal(store_session_get(f->st, id, now, 3600, 86400, &s, &err), 0);
	assert_true(s.complete);
	assert_false(s.has_pending_totp);

	/* a second session has another id; delete removes one, delete_account all */
	assert_int_equal(store_session_create(f->st, acct, true, NULL, NULL, id2, csrf2, &err), 0);
	assert_string_not_equal(id, id2);
	assert_int_equal(store_session_delete(f->st, hash, &err), 0);
	assert_int_equal(store_session_get(f->st, id, now, 3600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(store_session_get(f->st, id2, now, 3600, 86400, &s, &err), 0);
	assert_true(s.complete);
	assert_int_equal(store_session_delete_account(f->st, acct, &err), 0);
	assert_int_equal(store_session_get(f->st, id2, now, 3600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
}

static int64_t session_rows(struct fx *f)
{
	int64_t n = -1;
	assert_int_equal(sql(f->dir, "directory.db", "SELECT count(*) FROM sessions", &n),
	                 SQLITE_ROW);
	return n;
}

static void test_session_expiry(void **state)
{
	struct fx *f = *state;
	char id[65], csrf[65];
	struct store_session s;
	struct err err;
	int64_t acct = add_account(f, "hank@example.com", ROLE_USER, PW), t0;

	/* idle: unused for longer than idle seconds */
	assert_int_equal(store_session_create(f->st, acct, true, NULL, NULL, id, csrf, &err), 0);
	assert_int_equal(store_session_get(f->st, id, time_now(), 600, 86400, &s, &err), 0);
	t0 = s.created;
	assert_true(t0 >= time_now() - 5 && t0 <= time_now());
	assert_int_equal(store_session_get(f->st, id, t0 + 30, 600, 86400, &s, &err), 0);
	assert_int_equal(s.last_seen, t0); /* touched at most once a minute */
	assert_int_equal(store_session_get(f->st, id, t0 + 300, 600, 86400, &s, &err), 0);
	assert_int_equal(s.last_seen, t0 + 300);
	assert_int_equal(store_session_get(f->st, id, t0 + 300 + 601, 600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
	assert_int_equal(session_rows(f), 0); /* the row is gone */
	assert_int_equal(store_session_get(f->st, id, t0, 600, 86400, &s, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);

	/* absolute: in use all along, but older than absolute seconds */
	assert_int_equal(store_session_create(f->st, acct, true, NULL, NULL, id, csrf, &err), 0);
	assert_int_equal(store_session_get(f->st, id, time_now(), 600, 1800, &s, &err), 0);
	t0 = s.created;
	for (int64_t t = t0 + 500; t <= t0 + 1800; t += 500)
		assert_int_equal(store_session_get(f->st, id, t, 600, 1800, &s, &err), 0);
	assert_int_equal(store_session_get(f->st, id, t0 + 1801, 600, 1800, &s, &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
	assert_int_equal(session_rows(f), 0);
}

/* ---- sign-in throttle (docs/CONFIG.md: waits of 1, 2, 4 ... s once delay_after failures
 * have happened; a lock at lock_after) ---- */

static int allowed(struct fx *f, const char *addr, int64_t now, int64_t *retry)
{
	static const struct store_login_policy p = {
	    .delay_after = 3, .lock_after = 5, .lock_seconds = 100};
	struct err err = {0};
	int ret;
	*retry = -1;
	ret = store_login_allowed(f->st, addr, now, &p, retry, &err);
	if (ret < 0)
		assert_int_equal(err.code, ERR_LIMIT);
	return ret;
}

static void failed(struct fx *f, const char *addr, int64_t now)
{
	static const struct store_login_policy p = {
	    .delay_after = 3, .lock_after = 5, .lock_seconds = 100};
	struct err err;
	assert_int_equal(store_login_failed(f->st, addr, now, &p, &err), 0);
}

static void test_login_throttle(void **state)
{
	struct fx *f = *state;
	const char *a = "nobody@example.com"; /* unknown addresses are tracked the same way */
	int64_t t = 1000000000, r;            /* milliseconds */
	struct err err;

	assert_int_equal(allowed(f, a, t, &r), 0);
	failed(f, a, t); /* 1 */
	assert_int_equal(allowed(f, a, t, &r), 0);
	failed(f, a, t); /* 2 */
	assert_int_equal(allowed(f, a, t, &r), 0);
	failed(f, a, t); /* 3: waits start */
	assert_int_equal(allowed(f, a, t, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 1000, &r), 0);
	failed(f, a, t + 1000); /* 4 */
	assert_int_equal(allowed(f, a, t + 1000, &r), -1);
	assert_int_equal(r, 2);
	assert_int_equal(allowed(f, a, t + 2000, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 3000, &r), 0);
	failed(f, a, t + 3000); /* 5: locked */
	assert_int_equal(allowed(f, a, t + 3000, &r), -1);
	assert_int_equal(r, 100);
	assert_int_equal(allowed(f, a, t + 102000, &r), -1);
	assert_int_equal(r, 1);
	/* other addresses are not affected */
	assert_int_equal(allowed(f, "other@example.com", t + 3000, &r), 0);
	/* when the lock has run out, the count starts afresh */
	assert_int_equal(allowed(f, a, t + 103000, &r), 0);
	failed(f, a, t + 103000);
	assert_int_equal(allowed(f, a, t + 103000, &r), 0);

	/* success clears the count */
	failed(f, a, t + 104000);
	assert_int_equal(store_login_succeeded(f->st, a, &err), 0);
	failed(f, a, t + 105000);
	failed(f, a, t + 105000);
	assert_int_equal(allowed(f, a, t + 105000, &r), 0);
	failed(f, a, t + 105000);
	assert_int_equal(allowed(f, a, t + 105000, &r), -1);
	assert_int_equal(r, 1);
}

/* A wait or a lock lasts as long as configured from the failure itself: a failure late in a
 * second (here at .999) is not let off at the next second boundary, as it was when failures
 * were kept in whole seconds. The seconds to wait are rounded up. */
static void test_login_throttle_sub_second(void **state)
{
	struct fx *f = *state;
	const char *a = "late@example.com";
	int64_t t = 1000000000, r; /* a whole second, in milliseconds */

	failed(f, a, t + 999);
	failed(f, a, t + 999);
	failed(f, a, t + 999); /* 3: a wait of 1 s, until t + 1999 */
	assert_int_equal(allowed(f, a, t + 1000, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 1998, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 1999, &r), 0);
	failed(f, a, t + 1999); /* 4: 2 s, until t + 3999 */
	assert_int_equal(allowed(f, a, t + 2000, &r), -1);
	assert_int_equal(r, 2);
	assert_int_equal(allowed(f, a, t + 3000, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 3999, &r), 0);
	failed(f, a, t + 3999); /* 5: locked for 100 s, until t + 103999 */
	assert_int_equal(allowed(f, a, t + 4000, &r), -1);
	assert_int_equal(r, 100);
	assert_int_equal(allowed(f, a, t + 103000, &r), -1);
	assert_int_equal(r, 1);
	assert_int_equal(allowed(f, a, t + 103998, &r), -1);
	assert_int_equal(allowed(f, a, t + 103999, &r), 0);
	failed(f, a, t + 103999); /* the lock has run out: the count starts afresh */
	assert_int_equal(allowed(f, a, t + 103999, &r), 0);
}

/* ---- TOTP ---- */

static void test_totp_use_compare_and_set(void **state)
{
	struct fx *f = *state;
	unsigned char key[STORE_TOTP_KEY];
	struct store_account a;
	struct err err;
	int64_t id = add_account(f, "ivy@example.com", ROLE_SECADMIN, PW);

	memset(key, 0x11, sizeof(key));
	assert_int_equal(store_account_totp_set(f->st, id, key, &err), 0);
	assert_int_equal(store_account_get_id(f->st, id, &a, &err), 0);
	assert_true(a.totp_enabled);
	assert_memory_equal(a.totp_key, key, sizeof(key));
	assert_int_equal(a.totp_last_step, 0);

	assert_int_equal(store_account_totp_use(f->st, id, 100, &err), 0);
	assert_int_equal(store_account_totp_use(f->st, id, 100, &err), -1); /* replay */
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(store_account_totp_use(f->st, id, 99, &err), -1); /* older */
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(store_account_totp_use(f->st, id, 101, &err), 0);
	assert_int_equal(store_account_get_id(f->st, id, &a, &err), 0);
	assert_int_equal(a.totp_last_step, 101);

	assert_int_equal(store_account_totp_set(f->st, id, NULL, &err), 0);
	assert_int_equal(store_account_get_id(f->st, id, &a, &err), 0);
	assert_false(a.totp_enabled);
	assert_int_equal(a.totp_last_step, 0);
}

/* ---- db_end: a step that fails is not the end of the rows ---- */

static const char *const abs_migrations[] = {
    /* abs() of the smallest int64 raises "integer overflow": the scan fails at row 2 */
    "CREATE TABLE t (x INTEGER);"
    "INSERT INTO t VALUES (1), (-9223372036854775807 - 1), (3);",
};

/* Step st to its end or its error; the rows seen. */
static int scan(sqlite3_stmt *st)
{
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW)
		n++;
	return n;
}

/* Open DIR/NAME with o, failing the test if that fails. */
static struct db *open_in(const char *dir, const char *name, const struct db_opts *o)
{
	char path[128];
	struct db *db;
	struct err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (db_open(path, o, &db, &err) < 0)
		fail_msg("db_open %s: %s", path, err.msg);
	return db;
}

static void test_db_end(void **state)
{
	static const char *const bad_sql = "SELECT abs(x) FROM t ORDER BY rowid";
	struct db_opts o = {.migrations = abs_migrations, .nmigrations = 1, .create = true};
	char dir[64];
	struct db *db;
	sqlite3_stmt *st, *st2;
	struct err err;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/yz-db-XXXXXX");
	assert_non_null(mkdtemp(dir));
	db = open_in(dir, "t.db", &o);

	/* a loop stopped by the error has seen one row; db_end says why it stopped */
	assert_int_equal(db_prepare(db, bad_sql, &st, &err), 0);
	assert_int_equal(scan(st), 1);
	err = (struct err){0};
	assert_int_equal(db_end(db, st, "scan t", &err), -1);
	assert_int_equal(err.code, ERR_IO);
	if (strstr(err.msg, "scan t: ") != err.msg || strstr(err.msg, "integer overflow") == NULL)
		fail_msg("db_end message: \"%s\"", err.msg);
	/* the statement went back to the cache in working order: the same error again, and a
	 * NULL err is allowed */
	assert_int_equal(db_prepare(db, bad_sql, &st, &err), 0);
	assert_int_equal(scan(st), 1);
	assert_int_equal(db_end(db, st, "scan t", NULL), -1);

	/* a nested user of the same SQL gets an uncached statement, finalized by db_end */
	assert_int_equal(db_prepare(db, bad_sql, &st, &err), 0);
	assert_int_equal(db_prepare(db, bad_sql, &st2, &err), 0);
	assert_ptr_not_equal(st, st2);
	assert_int_equal(scan(st2), 1);
	err = (struct err){0};
	assert_int_equal(db_end(db, st2, "nested", &err), -1);
	assert_non_null(strstr(err.msg, "integer overflow"));
	/* stopped early, after a good row: no error */
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(db_end(db, st, "first row", &err), 0);

	/* run to SQLITE_DONE, never stepped, NULL: no error */
	assert_int_equal(db_prepare(db, "SELECT x FROM t WHERE x > 0 ORDER BY x", &st, &err), 0);
	assert_int_equal(scan(st), 2);
	assert_int_equal(db_end(db, st, "good scan", &err), 0);
	assert_int_equal(db_prepare(db, "SELECT x FROM t", &st, &err), 0);
	assert_int_equal(db_end(db, st, "unused", &err), 0);
	assert_int_equal(db_end(db, NULL, "none", &err), 0);

	/* a one-row lookup: no row is 0 (the caller says "not found"), an error is -1 */
	assert_int_equal(db_prepare(db, "SELECT abs(x) FROM t WHERE x = ?", &st, &err), 0);
	sqlite3_bind_int64(st, 1, 42);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(db_end(db, st, "lookup", &err), 0);
	assert_int_equal(db_prepare(db, "SELECT abs(x) FROM t WHERE x = ?", &st, &err), 0);
	sqlite3_bind_int64(st, 1, INT64_MIN);
	assert_int_not_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(db_end(db, st, "lookup", &err), -1);
	assert_non_null(strstr(err.msg, "integer overflow"));

	db_close(&db);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* PRAGMA secure_delete on this thread's connection of db: 0 off, 1 on, 2 FAST. */
static int secure_delete_of(struct db *db)
{
	sqlite3_stmt *st;
	struct err err;
	int v = -1;

	if (db_prepare(db, "PRAGMA secure_delete", &st, &err) < 0)
		fail_msg("db_prepare: %s", err.msg);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	db_done(db, st);
	return v;
}

static void *secure_delete_thread(void *db)
{
	static int v;
	v = secure_delete_of(db);
	return &v;
}

/* fast_delete holds on every connection of the db, also the ones other threads open later
 * (the queue's committer and delivery workers); without it SQLite's default stays. */
static void test_db_fast_delete(void **state)
{
	static const char *const mig[] = {"CREATE TABLE t (x BLOB);"};
	struct db_opts o = {.migrations = mig, .nmigrations = 1, .create = true};
	char dir[64];
	struct db *fast, *plain;
	pthread_t th;
	void *r;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/yz-db-XXXXXX");
	assert_non_null(mkdtemp(dir));
	plain = open_in(dir, "plain.db", &o);
	o.fast_delete = true;
	fast = open_in(dir, "fast.db", &o);

	assert_int_equal(secure_delete_of(fast), 2);
	assert_int_equal(pthread_create(&th, NULL, secure_delete_thread, fast), 0);
	assert_int_equal(pthread_join(th, &r), 0);
	assert_int_equal(*(int *)r, 2);
	assert_int_not_equal(secure_delete_of(plain), 2);
	assert_int_equal(pthread_create(&th, NULL, secure_delete_thread, plain), 0);
	assert_int_equal(pthread_join(th, &r), 0);
	assert_int_not_equal(*(int *)r, 2);

	db_close(&fast);
	db_close(&plain);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_db_end),
	    cmocka_unit_test(test_db_fast_delete),
	    T(test_domain_add),
	    T(test_domain_hyphen_labels),
	    T(test_account_add_and_get),
	    T(test_password_change),
	    T(test_password_saslprep),
	    T(test_auth_disabled_and_unknown),
	    T(test_auth_cache),
	    T(test_session_lifecycle),
	    T(test_session_expiry),
	    T(test_login_throttle),
	    T(test_login_throttle_sub_second),
	    T(test_totp_use_compare_and_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
