/* Unit tests for store/mail.h and store/blob.h against real SQLite files and a real blob
 * directory: folders, insert (single and batch), dedup, idempotent delivery, quota, keyset
 * paging, flags and counters, move/copy/delete/expunge/restore/purge, threads, events, the
 * index queue, the journal rebuild, and mark-and-sweep. search/index.h is tested end to end
 * at the bottom (index drain, Chinese queries through the user syntax). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "search/index.h"
#include "search/search.h"
#include "store/blob.h"
#include "store/mail.h"

struct fx {
	char dir[64];
	struct mail_store *ms;
	struct mailbox *mb;
	struct arena *a;
	int64_t inbox, trash, sent;
	int events[8];
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void on_event(void *ctx, const struct mail_event *ev)
{
	struct fx *f = ctx;
	if (ev->type > 0 && ev->type < 8)
		f->events[ev->type]++;
}

static int open_store(struct fx *f, int64_t quota, int64_t retention)
{
	struct mail_store_opts o;
	struct err err;

	mail_store_opts_default(&o);
	o.retention_seconds = retention;
	if (mail_store_open(f->dir, &o, &f->ms, &err) < 0 ||
	    mailbox_open(f->ms, 42, quota, &f->mb, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	mail_events_subscribe(f->ms, on_event, f);
	if (mail_folder_by_special(f->mb, MAIL_INBOX, &f->inbox, &err) < 0 ||
	    mail_folder_by_special(f->mb, MAIL_TRASH, &f->trash, &err) < 0 ||
	    mail_folder_by_special(f->mb, MAIL_SENT, &f->sent, &err) < 0)
		return -1;
	return 0;
}

static void close_store(struct fx *f)
{
	mailbox_unref(&f->mb);
	mail_store_close(&f->ms);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/yz-mail-XXXXXX");
	if (mkdtemp(f->dir) == NULL || open_store(f, 0, 30 * 86400) < 0)
		return -1;
	f->a = arena_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close_store(f);
	arena_free(&f->a);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A small message; n varies the body so digests differ. */
static char *make_msg(struct arena *a, const char *subject, const char *extra_headers, int n)
{
	return arena_printf(a,
			    "From: =?UTF-8?B?5byg5LiJ?= <zhang.san@example.com>\r\n"
			    "To: Li Si <li.si@example.com>, wang@example.com\r\n"
			    "Subject: %s\r\n"
			    "Date: Mon, 1 Jan 2024 %02d:00:00 +0800\r\n"
			    "Message-ID: <m%d@example.com>\r\n"
			    "%s"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "\r\n"
			    "第%d封信：季度报告已经完成。\r\n",
			    subject, n % 24, n, extra_headers ? extra_headers : "", n);
}

static int64_t put(struct fx *f, int64_t folder, const char *raw, int64_t idate)
{
	struct mail_new m = {.folder_id = folder, .raw = raw, .len = strlen(raw),
			     .internal_date = idate};
	struct mail_added out;
	struct err err;
	if (mail_insert(f->mb, &m, &out, &err) < 0)
		fail_msg("insert: %s", err.msg);
	return out.id;
}

static struct mail_folder folder(struct fx *f, int64_t id)
{
	struct mail_folder fo;
	struct err err;
	if (mail_folder_get(f->mb, id, f->a, &fo, &err) < 0)
		fail_msg("folder_get: %s", err.msg);
	return fo;
}

static int64_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int64_t n = 0;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char p[1024];
		struct stat sb;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			n += count_files(p);
		else
			n++;
	}
	closedir(d);
	return n;
}

static void test_standard_folders(void **state)
{
	struct fx *f = *state;
	struct mail_folder *v;
	size_t n;
	struct err err;
	static const enum mail_special want[] = {MAIL_INBOX, MAIL_DRAFTS, MAIL_SENT,
						 MAIL_TRASH, MAIL_JUNK,   MAIL_ARCHIVE};

	assert_int_equal(mail_folder_list(f->mb, f->a, &v, &n, &err), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].special, want[i]);
		assert_true(v[i].uidvalidity > 0);
		assert_int_equal(v[i].uidnext, 1);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(v[i].uidvalidity, v[j].uidvalidity);
	}
	assert_string_equal(v[0].name, "INBOX");
	/* reopening does not add folders again */
	mailbox_unref(&f->mb);
	assert_int_equal(mailbox_open(f->ms, 42, 0, &f->mb, &err), 0);
	assert_int_equal(mail_folder_list(f->mb, f->a, &v, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_true(mailbox_exists(f->ms, 42));
	assert_false(mailbox_exists(f->ms, 43));
}

static void test_folders(void **state)
{
	struct fx *f = *state;
	struct err err;
	int64_t proj, y2024, other, id, found;
	static const char *const bad[] = {"", "a/b", "tab\there", ".", "..", " lead", "trail ",
					  "\x01", "\xff\xfe"};

	assert_int_equal(mail_folder_create(f->mb, 0, "项目", &proj, &err), 0);
	assert_int_equal(mail_folder_create(f->mb, proj, "2024 年度", &y2024, &err), 0);
	assert_int_equal(mail_folder_create(f->mb, 0, "Other", &other, &err), 0);
	assert_int_equal(mail_folder_create(f->mb, proj, "2024 年度", &id, &err), -1);
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(mail_folder_create(f->mb, 0, "other", &id, &err), -1); /* ASCII case */
	assert_int_equal(err.code, ERR_EXISTS);
	assert_int_equal(mail_folder_create(f->mb, 0, "inbox", &id, &err), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mail_folder_create(f->mb, 0, bad[i], &id, &err), -1);
		assert_int_equal(err.code, ERR_INVALID);
	}
	assert_int_equal(mail_folder_by_path(f->mb, "项目/2024 年度", &found, &err), 0);
	assert_int_equal(found, y2024);
	assert_string_equal(mail_folder_path(f->mb, y2024, f->a), "项目/2024 年度");
	assert_int_equal(mail_folder_by_path(f->mb, "inbox", &found, &err), 0);
	assert_int_equal(found, f->inbox);
	assert_int_equal(mail_folder_by_path(f->mb, "项目/nope", &found, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	/* ensure_path creates what is missing and finds what is there */
	assert_int_equal(mail_folder_ensure_path(f->mb, "项目/2024 年度/Q1", &id, &err), 0);
	assert_int_equal(mail_folder_ensure_path(f->mb, "项目/2024 年度/Q1", &found, &err), 0);
	assert_int_equal(id, found);
	assert_string_equal(mail_folder_path(f->mb, id, f->a), "项目/2024 年度/Q1");
	/* rename, move, and the refusals */
	assert_int_equal(mail_folder_rename(f->mb, y2024, -1, "二〇二四", &err), 0);
	assert_string_equal(mail_folder_path(f->mb, id, f->a), "项目/二〇二四/Q1");
	assert_int_equal(mail_folder_rename(f->mb, proj, id, NULL, &err), -1);
	assert_int_equal(err.code, ERR_INVALID); /* into its own subtree */
	assert_int_equal(mail_folder_rename(f->mb, f->inbox, -1, "Posteingang", &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
	assert_int_equal(mail_folder_rename(f->mb, y2024, other, NULL, &err), 0);
	assert_string_equal(mail_folder_path(f->mb, id, f->a), "Other/二〇二四/Q1");
	assert_int_equal(mail_folder_delete(f->mb, f->trash, &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
}

static void test_insert_and_dedup(void **state)
{
	struct fx *f = *state;
	char blobs[128];
	struct mail_msg m;
	struct err err;
	const char *raw = make_msg(f->a, "=?UTF-8?B?5a2j5bqm5oql5ZGK?=", NULL, 1);
	int64_t id1, id2;
	struct mail_folder fo;

	snprintf(blobs, sizeof(blobs), "%s/blobs", f->dir);
	id1 = put(f, f->inbox, raw, 1000);
	id2 = put(f, f->sent, raw, 1000);
	assert_true(id1 > 0 && id2 > id1);
	/* one message to many places: one blob */
	assert_int_equal(count_files(blobs), 1);
	assert_int_equal(mail_get(f->mb, id1, f->a, &m, &err), 0);
	assert_int_equal(m.uid, 1);
	assert_string_equal(m.subject, "季度报告");
	assert_string_equal(m.from.name, "张三");
	assert_string_equal(m.from.address, "zhang.san@example.com");
	assert_int_equal(m.nto, 2);
	assert_string_equal(m.to[0].name, "Li Si");
	assert_string_equal(m.to[1].address, "wang@example.com");
	assert_string_equal(m.message_id, "m1@example.com");
	assert_non_null(strstr(m.snippet, "季度报告已经完成"));
	assert_int_equal(m.size, (int64_t)strlen(raw));
	assert_int_equal(m.internal_date, 1000);
	assert_int_equal(m.flags, 0);
	fo = folder(f, f->inbox);
	assert_int_equal(fo.total, 1);
	assert_int_equal(fo.unread, 1);
	assert_int_equal(fo.uidnext, 2);
	assert_true(fo.highestmodseq >= m.modseq);
	/* the raw bytes come back exactly */
	{
		char *back;
		size_t len;
		assert_int_equal(mail_raw(f->mb, &m, &back, &len, &err), 0);
		assert_int_equal(len, strlen(raw));
		assert_memory_equal(back, raw, len);
		free(back);
	}
	assert_int_equal(f->events[MAIL_EV_NEW], 2);
	/* both are queued for the index */
	assert_int_equal(mail_index_pending(f->mb), 2);
}

static void test_idempotent_delivery(void **state)
{
	struct fx *f = *state;
	const char *raw = make_msg(f->a, "once", NULL, 2);
	struct mail_new m = {.folder_id = f->inbox, .raw = raw, .len = strlen(raw),
			     .delivery_key = "queue-17:li.si@example.com"};
	struct mail_added a1, a2;
	struct err err;

	assert_int_equal(mail_insert(f->mb, &m, &a1, &err), 0);
	assert_false(a1.duplicate);
	assert_int_equal(mail_insert(f->mb, &m, &a2, &err), 0);
	assert_true(a2.duplicate);
	assert_int_equal(a1.id, a2.id);
	assert_int_equal(a1.uid, a2.uid);
	assert_int_equal(folder(f, f->inbox).total, 1);
}

/* A message whose digest the caller holds already (delivery passes the queue's) is filed
 * under it, reads back, and verifies; a malformed digest stores nothing. */
static void test_insert_known_digest(void **state)
{
	struct fx *f = *state;
	const char *raw = make_msg(f->a, "digest known", NULL, 4);
	char d[BLOB_HEX], *back;
	struct mail_new m = {.folder_id = f->inbox, .raw = raw, .len = strlen(raw)};
	struct mail_added out;
	struct mail_msg got;
	size_t len;
	struct err err;

	blob_digest(raw, strlen(raw), d);
	m.digest = d;
	assert_int_equal(mail_insert(f->mb, &m, &out, &err), 0);
	assert_int_equal(mail_get(f->mb, out.id, f->a, &got, &err), 0);
	assert_string_equal(got.blob, d);
	assert_string_equal(got.subject, "digest known");
	assert_int_equal(mail_raw(f->mb, &got, &back, &len, &err), 0);
	assert_int_equal(len, strlen(raw));
	assert_memory_equal(back, raw, len);
	free(back);
	assert_int_equal(blob_verify(mail_store_blobs(f->ms), d, &err), 0);
	m.digest = "not-a-digest";
	m.raw = make_msg(f->a, "digest bad", NULL, 5);
	m.len = strlen(m.raw);
	assert_int_equal(mail_insert(f->mb, &m, &out, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(folder(f, f->inbox).total, 1);
}

/* Store a new message (subject, n as make_msg takes them) in folder, and read its row back. */
static void store_one(struct fx *f, struct mailbox *mb, int64_t folder, const char *subject,
		      int n, struct mail_added *out, struct mail_msg *got)
{
	struct mail_new m = {.folder_id = folder, .raw = make_msg(f->a, subject, NULL, n)};
	struct err err;

	m.len = strlen(m.raw);
	assert_int_equal(mail_insert(mb, &m, out, &err), 0);
	assert_int_equal(mail_get(mb, out->id, f->a, got, &err), 0);
}

/* The parse kept for id (blob) is handed over, with the subject given; the store keeps none
 * after it. */
static void claim_last(struct mailbox *mb, struct mail_store *ms, int64_t id, const char *blob,
		       const char *subject)
{
	struct arena *pa = NULL;
	struct mime_msg *msg = mail_parsed_claim(mb, id, blob, &pa);

	assert_non_null(msg);
	assert_string_equal(msg->subject, subject);
	arena_free(&pa);
	assert_int_equal(mail_parsed_bytes(ms), 0);
}

/* The parse of a stored message is kept for the indexer when the store is told to
 * (keep_parsed): handed over once, equal to parsing the blob again, refused for another
 * blob; a store that keeps none (the default) hands over nothing. */
static void test_parsed_kept(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/yz-parsed-XXXXXX";
	struct mail_store_opts o;
	struct mail_store *ms;
	struct mailbox *mb;
	struct mail_new m[3];
	struct mail_added out[3], again;
	struct mime_msg *msg, *fresh;
	struct arena *pa = NULL;
	struct mail_msg got[3];
	int64_t inbox;
	char *raw;
	size_t len;
	struct err err;

	m[0] = (struct mail_new){.folder_id = f->inbox, .raw = make_msg(f->a, "kept one", NULL, 6)};
	m[0].len = strlen(m[0].raw);
	assert_int_equal(mail_insert(f->mb, &m[0], &out[0], &err), 0);
	assert_int_equal(mail_get(f->mb, out[0].id, f->a, &got[0], &err), 0);
	assert_null(mail_parsed_claim(f->mb, out[0].id, got[0].blob, &pa));
	assert_null(pa);
	assert_int_equal(mail_parsed_bytes(f->ms), 0);

	assert_non_null(mkdtemp(dir));
	mail_store_opts_default(&o);
	o.keep_parsed = true;
	assert_int_equal(mail_store_open(dir, &o, &ms, &err), 0);
	assert_int_equal(mailbox_open(ms, 7, 0, &mb, &err), 0);
	assert_int_equal(mail_folder_by_special(mb, MAIL_INBOX, &inbox, &err), 0);
	for (int i = 0; i < 3; i++) {
		m[i] = (struct mail_new){.folder_id = inbox,
					 .raw = make_msg(f->a, i == 2 ? "单独 one" : "batch", NULL,
							 10 + i),
					 .delivery_key = arena_printf(f->a, "q%d:x@example.com", i)};
		m[i].len = strlen(m[i].raw);
	}
	assert_int_equal(mail_insert_batch(mb, m, 2, out, NULL, &err), 0);
	assert_int_equal(mail_insert(mb, &m[2], &out[2], &err), 0);
	assert_true(mail_parsed_bytes(ms) > 0);
	/* the kept parse owns its strings: the caller's bytes may go */
	memset((char *)(uintptr_t)m[1].raw, 'x', m[1].len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mail_get(mb, out[i].id, f->a, &got[i], &err), 0);
	/* out of order, as a delete or a folder move may make the indexer go */
	msg = mail_parsed_claim(mb, out[1].id, got[1].blob, &pa);
	assert_non_null(msg);
	assert_non_null(pa);
	assert_int_equal(mail_raw(mb, &got[1], &raw, &len, &err), 0);
	assert_int_equal(mime_parse(raw, len, &o.mime, f->a, &fresh, &err), 0);
	assert_string_equal(msg->subject, "batch");
	assert_string_equal(msg->subject, fresh->subject);
	assert_int_equal(msg->text_len, fresh->text_len);
	assert_memory_equal(msg->text, fresh->text, fresh->text_len);
	assert_int_equal(msg->from.n, 1);
	assert_string_equal(msg->from.v[0].name, "张三");
	assert_int_equal(msg->to.n, fresh->to.n);
	assert_int_equal(msg->nparts, fresh->nparts);
	free(raw);
	arena_free(&pa);
	assert_null(mail_parsed_claim(mb, out[1].id, got[1].blob, &pa)); /* once */
	/* another blob under that id: not this parse, which is dropped */
	assert_null(mail_parsed_claim(mb, out[0].id, got[2].blob, &pa));
	assert_null(mail_parsed_claim(mb, out[0].id, got[0].blob, &pa));
	claim_last(mb, ms, out[2].id, got[2].blob, "单独 one");
	/* a repeated delivery stores nothing, so nothing is kept */
	assert_int_equal(mail_insert(mb, &m[2], &again, &err), 0);
	assert_true(again.duplicate);
	assert_int_equal(mail_parsed_bytes(ms), 0);
	/* the tail claimed while another is kept, then one more kept, then one dropped */
	for (int i = 0; i < 2; i++)
		store_one(f, mb, inbox, "later", 30 + i, &out[i], &got[i]);
	assert_non_null(mail_parsed_claim(mb, out[1].id, got[1].blob, &pa));
	arena_free(&pa);
	store_one(f, mb, inbox, "last", 40, &out[2], &got[2]);
	mail_parsed_drop(mb, out[0].id);
	assert_null(mail_parsed_claim(mb, out[0].id, got[0].blob, &pa));
	claim_last(mb, ms, out[2].id, got[2].blob, "last");
	/* kept parses go with the store */
	store_one(f, mb, inbox, "left", 20, &out[0], &got[0]);
	assert_true(mail_parsed_bytes(ms) > 0);
	mailbox_unref(&mb);
	mail_store_close(&ms);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_quota(void **state)
{
	struct fx *f = *state;
	const char *raw = make_msg(f->a, "big enough", NULL, 3);
	struct mail_new m = {.folder_id = f->inbox, .raw = raw, .len = strlen(raw)};
	struct mail_added out;
	struct err err;
	char blobs[128];

	/* reopen with a quota smaller than two messages */
	mailbox_unref(&f->mb);
	assert_int_equal(mailbox_open(f->ms, 42, (int64_t)strlen(raw) + 10, &f->mb, &err), 0);
	assert_int_equal(mail_insert(f->mb, &m, &out, &err), 0);
	m.raw = make_msg(f->a, "over", NULL, 4);
	m.len = strlen(m.raw);
	assert_int_equal(mail_insert(f->mb, &m, &out, &err), -1);
	assert_int_equal(err.code, ERR_QUOTA);
	assert_non_null(strstr(err.msg, "quota"));
	/* nothing half-written: no row, no count, no blob */
	assert_int_equal(folder(f, f->inbox).total, 1);
	snprintf(blobs, sizeof(blobs), "%s/blobs", f->dir);
	assert_int_equal(count_files(blobs), 1);
	{
		struct mail_usage u;
		assert_int_equal(mail_usage_get(f->mb, &u, &err), 0);
		assert_int_equal(u.bytes, (int64_t)strlen(raw));
		assert_int_equal(u.messages, 1);
	}
}

static void test_batch(void **state)
{
	struct fx *f = *state;
	struct mail_new m[5];
	struct mail_added out[5];
	struct err errs[5], err;
	char *huge = arena_alloc(f->a, 70u << 20);

	memset(huge, 'a', (70u << 20) - 1);
	for (int i = 0; i < 5; i++) {
		const char *raw = make_msg(f->a, "batch", NULL, 100 + i);
		m[i] = (struct mail_new){.folder_id = f->inbox, .raw = raw, .len = strlen(raw)};
	}
	m[2].raw = huge; /* over mime.max_bytes */
	m[2].len = (70u << 20) - 1;
	m[4].folder_id = 9999; /* no such folder */
	assert_int_equal(mail_insert_batch(f->mb, m, 5, out, errs, &err), 0);
	assert_true(out[0].id > 0 && out[1].id > 0 && out[3].id > 0);
	assert_int_equal(out[2].id, 0);
	assert_int_equal(errs[2].code, ERR_LIMIT);
	assert_non_null(strstr(errs[2].msg, "max_bytes"));
	assert_int_equal(out[4].id, 0);
	assert_int_equal(errs[4].code, ERR_NOTFOUND);
	assert_int_equal(folder(f, f->inbox).total, 3);
	/* UIDs are consecutive in arrival order */
	{
		struct mail_msg a, b;
		assert_int_equal(mail_get(f->mb, out[0].id, f->a, &a, &err), 0);
		assert_int_equal(mail_get(f->mb, out[3].id, f->a, &b, &err), 0);
		assert_int_equal(a.uid + 2, b.uid);
	}
}

static void test_paging(void **state)
{
	struct fx *f = *state;
	struct mail_list_q q = {.folder_id = f->inbox, .limit = 50, .want_total = true};
	struct mail_msg *v;
	size_t n, seen = 0;
	const char *next;
	int64_t total, ids[130], prev_date = INT64_MAX;
	struct mail_change pin = {.set_pinned = true, .pinned = true};
	struct err err;
	bool got[130] = {0};

	for (int i = 0; i < 130; i++)
		ids[i] = put(f, f->inbox, make_msg(f->a, i % 2 ? "Beta" : "alpha", NULL, 200 + i),
			     10000 + i / 2); /* equal dates in pairs: the id breaks the tie */
	assert_int_equal(mail_update(f->mb, &ids[5], 1, &pin, &err), 0);
	q.cursor = NULL;
	do {
		assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
		assert_int_equal(total, 130);
		for (size_t i = 0; i < n; i++) {
			int idx = -1;
			for (int k = 0; k < 130; k++)
				if (ids[k] == v[i].id)
					idx = k;
			assert_true(idx >= 0);
			assert_false(got[idx]);
			got[idx] = true;
			if (seen == 0)
				assert_int_equal(v[i].id, ids[5]); /* pinned first */
			else
				assert_true(v[i].internal_date <= prev_date);
			if (seen > 0)
				prev_date = v[i].internal_date;
			seen++;
		}
		q.cursor = next;
	} while (next);
	assert_int_equal(seen, 130);
	/* oldest first: pinned still on top, then every other message once, dates rising */
	{
		int64_t last = INT64_MIN;
		size_t count = 0;
		memset(got, 0, sizeof(got));
		q = (struct mail_list_q){.folder_id = f->inbox, .limit = 40, .ascending = true};
		do {
			assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
			for (size_t i = 0; i < n; i++, count++) {
				if (count == 0) {
					assert_int_equal(v[i].id, ids[5]);
					continue;
				}
				assert_false(v[i].pinned);
				assert_true(v[i].internal_date >= last);
				last = v[i].internal_date;
			}
			q.cursor = next;
		} while (next);
		assert_int_equal(count, 130);
	}
	/* ascending by subject, then a cursor of the wrong sort is refused */
	q = (struct mail_list_q){.folder_id = f->inbox, .limit = 70, .sort = MAIL_SORT_SUBJECT,
				 .ascending = true};
	assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 70);
	assert_string_equal(v[0].subject, "alpha");
	assert_string_equal(v[64].subject, "alpha");
	assert_string_equal(v[65].subject, "Beta"); /* sort is case-insensitive */
	assert_non_null(next);
	q.sort = MAIL_SORT_SIZE;
	q.cursor = next;
	assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	q.cursor = "zz";
	assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
}

static void test_flags_and_filters(void **state)
{
	struct fx *f = *state;
	int64_t ids[6];
	struct mail_change seen = {.set_flags = true, .flags_add = MAIL_SEEN};
	struct mail_change red = {.set_colour = true, .colour = 1, .set_note = true,
				  .note = "记得回复王经理"};
	struct mail_change kw = {.set_keywords = true, .keywords_add = "$Label1 work",
				 .keywords_remove = "nothing"};
	struct mail_change badkw = {.set_keywords = true, .keywords_add = "bad(kw"};
	struct mail_change badcol = {.set_colour = true, .colour = 9};
	struct mail_list_q q = {.folder_id = f->inbox, .limit = 50, .want_total = true};
	struct mail_msg *v, m;
	size_t n;
	const char *next;
	int64_t total;
	struct err err;

	for (int i = 0; i < 6; i++)
		ids[i] = put(f, f->inbox, make_msg(f->a, "flags", NULL, 300 + i), 500 + i);
	assert_int_equal(folder(f, f->inbox).unread, 6);
	assert_int_equal(mail_update(f->mb, ids, 4, &seen, &err), 0);
	assert_int_equal(folder(f, f->inbox).unread, 2);
	assert_int_equal(mail_update(f->mb, &ids[1], 2, &red, &err), 0);
	assert_int_equal(mail_update(f->mb, &ids[0], 1, &kw, &err), 0);
	assert_int_equal(mail_update(f->mb, &ids[0], 1, &kw, &err), 0); /* a set: no repeats */
	assert_int_equal(mail_get(f->mb, ids[0], f->a, &m, &err), 0);
	assert_string_equal(m.keywords, "$Label1 work");
	assert_int_equal(mail_update(f->mb, &ids[0], 1, &badkw, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(mail_update(f->mb, &ids[0], 1, &badcol, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	/* all or nothing: an unknown id fails the batch and changes nothing */
	{
		int64_t mixed[2] = {ids[5], 999999};
		assert_int_equal(mail_update(f->mb, mixed, 2, &seen, &err), -1);
		assert_int_equal(err.code, ERR_NOTFOUND);
		assert_int_equal(folder(f, f->inbox).unread, 2);
	}
	q.filter = MAIL_F_UNREAD;
	assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	q.filter = MAIL_F_COLOUR;
	q.colour = 1;
	assert_int_equal(mail_list(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].note, "记得回复王经理");
	assert_int_equal(v[0].colour, 1);
	/* the note change queued index work (notes are searchable) */
	assert_true(mail_index_pending(f->mb) >= 8);
	assert_true(f->events[MAIL_EV_CHANGED] >= 7);
}

static void test_move_copy_delete_restore(void **state)
{
	struct fx *f = *state;
	int64_t proj, id, copy_id, n;
	uint32_t uid;
	struct mail_msg m;
	struct err err;

	assert_int_equal(mail_folder_create(f->mb, 0, "项目", &proj, &err), 0);
	id = put(f, f->inbox, make_msg(f->a, "move me", NULL, 400), 100);
	assert_int_equal(mail_move(f->mb, &id, 1, proj, &uid, &err), 0);
	assert_int_equal(uid, 1);
	assert_int_equal(folder(f, f->inbox).total, 0);
	assert_int_equal(folder(f, proj).total, 1);
	assert_int_equal(mail_copy(f->mb, &id, 1, f->inbox, &copy_id, &uid, &err), 0);
	assert_true(copy_id != id);
	assert_int_equal(folder(f, f->inbox).total, 1);
	/* delete outside Trash: to Trash, remembering where from */
	assert_int_equal(mail_delete(f->mb, &id, 1, &err), 0);
	assert_int_equal(mail_get(f->mb, id, f->a, &m, &err), 0);
	assert_int_equal(m.folder_id, f->trash);
	assert_int_equal(m.trash_from, proj);
	/* restore from Trash puts it back */
	assert_int_equal(mail_untrash(f->mb, &id, 1, &err), 0);
	assert_int_equal(mail_get(f->mb, id, f->a, &m, &err), 0);
	assert_int_equal(m.folder_id, proj);
	/* delete twice: Trash, then expunged (gone from every view, quota freed) */
	assert_int_equal(mail_delete(f->mb, &id, 1, &err), 0);
	assert_int_equal(mail_delete(f->mb, &id, 1, &err), 0);
	assert_int_equal(mail_get(f->mb, id, f->a, &m, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(folder(f, f->trash).total, 0);
	/* the admin's restore brings it back into the folder it was expunged from */
	assert_int_equal(mail_restore(f->mb, 0, 0, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(mail_get(f->mb, id, f->a, &m, &err), 0);
	assert_int_equal(m.folder_id, f->trash);
	assert_true(m.uid > 1); /* a new UID: clients saw the old one vanish */
	/* deleting a custom folder moves its mail to Trash */
	assert_int_equal(mail_move(f->mb, &copy_id, 1, proj, NULL, &err), 0);
	assert_int_equal(mail_folder_delete(f->mb, proj, &err), 0);
	assert_int_equal(mail_get(f->mb, copy_id, f->a, &m, &err), 0);
	assert_int_equal(m.folder_id, f->trash);
	assert_int_equal(folder(f, f->trash).total, 2);
}

static void test_purge_and_gc(void **state)
{
	struct fx *f = *state;
	char blobs[128];
	int64_t keep, gone, n;
	struct blob_marks *marks;
	struct blob_sweep_stats st;
	struct err err;

	close_store(f);
	assert_int_equal(open_store(f, 0, 0), 0); /* retention 0: purge drops at once */
	keep = put(f, f->inbox, make_msg(f->a, "keep", NULL, 500), 1);
	gone = put(f, f->inbox, make_msg(f->a, "gone", NULL, 501), 1);
	assert_int_equal(mail_expunge(f->mb, &gone, 1, &err), 0);
	snprintf(blobs, sizeof(blobs), "%s/blobs", f->dir);
	assert_int_equal(count_files(blobs), 2);
	/* still kept: the blob is referenced */
	marks = blob_marks_new();
	assert_int_equal(mail_mark_blobs(f->mb, marks, &err), 0);
	assert_int_equal(blob_marks_count(marks), 2);
	blob_marks_free(&marks);
	assert_int_equal(mail_purge(f->mb, time_now() + 1, &n, &err), 0);
	assert_int_equal(n, 1);
	marks = blob_marks_new();
	assert_int_equal(mail_mark_blobs(f->mb, marks, &err), 0);
	assert_int_equal(blob_marks_count(marks), 1);
	/* inside the grace period nothing goes */
	assert_int_equal(blob_sweep(mail_store_blobs(f->ms), marks, 3600, &st, &err), 0);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.young, 1);
	assert_int_equal(blob_sweep(mail_store_blobs(f->ms), marks, -10, &st, &err), 0);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.kept, 1);
	blob_marks_free(&marks);
	assert_int_equal(count_files(blobs), 1);
	{
		struct mail_msg m;
		char *raw;
		size_t len;
		assert_int_equal(mail_get(f->mb, keep, f->a, &m, &err), 0);
		assert_int_equal(mail_raw(f->mb, &m, &raw, &len, &err), 0);
		free(raw);
		assert_int_equal(blob_verify(mail_store_blobs(f->ms), m.blob, &err), 0);
	}
}

static void test_blob_verify_damage(void **state)
{
	struct fx *f = *state;
	char d[BLOB_HEX], path[4200];
	struct err err;
	FILE *fp;

	assert_int_equal(blob_put(mail_store_blobs(f->ms), "hello", 5, BLOB_SYNC, d, &err), 0);
	assert_string_equal(d, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	assert_int_equal(blob_verify(mail_store_blobs(f->ms), d, &err), 0);
	blob_path(mail_store_blobs(f->ms), d, path, sizeof(path));
	fp = fopen(path, "w");
	fputs("hellO", fp);
	fclose(fp);
	assert_int_equal(blob_verify(mail_store_blobs(f->ms), d, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(blob_verify(mail_store_blobs(f->ms), "00", &err), -1);
}

static int count_walk(void *ctx, const char *digest, int64_t size, int64_t mtime)
{
	(void)digest, (void)size, (void)mtime;
	(*(int *)ctx)++;
	return 0;
}

/* The store in dir keeps "hello" flat (storing it again changes nothing); dir is removed. */
static void check_flat_hello(const char *dir)
{
	struct blob_store *bs;
	char d[BLOB_HEX], path[4200], *data;
	size_t len;
	struct err err;

	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	assert_int_equal(blob_put(bs, "hello", 5, BLOB_SYNC, d, &err), 0);
	blob_path(bs, d, path, sizeof(path));
	assert_string_equal(path + strlen(dir), "/blobs/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	assert_int_equal(blob_get(bs, d, 100, &data, &len, &err), 0);
	assert_memory_equal(data, "hello", 5);
	free(data);
	blob_store_close(&bs);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new store keeps blobs one level down (blobs/ab/<digest>, all 256 directories made with
 * it, blobs/.layout saying so); a store made before that keeps blobs/ab/cd/<digest> and goes
 * on writing there. */
static void test_blob_layouts(void **state)
{
	(void)state;
	static const char hello[] = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
	char dir[] = "/tmp/yz-blobs-XXXXXX", path[4200], d[BLOB_HEX];
	struct blob_store *bs;
	struct err err;
	struct stat sb;
	char *data;
	size_t len;
	int n = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	snprintf(path, sizeof(path), "%s/blobs/ff", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(blob_put(bs, "hello", 5, BLOB_SYNC, d, &err), 0);
	blob_path(bs, d, path, sizeof(path));
	assert_string_equal(path + strlen(dir), "/blobs/2c/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	assert_int_equal(stat(path, &sb), 0);
	/* a removed directory is made again */
	assert_int_equal(blob_put(bs, "x", 1, 0, d, &err), 0); /* 2d711642... */
	blob_path(bs, d, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	*strrchr(path, '/') = '\0';
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(blob_put(bs, "x", 1, BLOB_SYNC, d, &err), 0);
	assert_int_equal(blob_walk(bs, count_walk, &n, &err), 0);
	assert_int_equal(n, 2);
	blob_store_close(&bs);
	/* reopened: still flat (the layout file), the blobs still there */
	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	assert_int_equal(blob_get(bs, hello, 100, &data, &len, &err), 0);
	assert_int_equal(len, 5);
	free(data);
	blob_store_close(&bs);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	/* an empty blobs directory (an older version made it, stored nothing) is made flat */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/yz-blobs-XXXXXX")));
	snprintf(path, sizeof(path), "%s/blobs", dir);
	assert_int_equal(mkdir(path, 0750), 0);
	check_flat_hello(dir);

	/* ... also when that directory is elsewhere, behind a symbolic link (or a mount point):
	 * it is filled where it is, not replaced */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/yz-blobs-XXXXXX")));
	snprintf(path, sizeof(path), "%s/elsewhere", dir);
	assert_int_equal(mkdir(path, 0750), 0);
	char link_path[200];
	snprintf(link_path, sizeof(link_path), "%s/blobs", dir);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	assert_int_equal(blob_put(bs, "hello", 5, BLOB_SYNC, d, &err), 0);
	blob_store_close(&bs);
	snprintf(path, sizeof(path), "%s/elsewhere/2c/%s", dir, hello);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(path, sizeof(path), "%s/elsewhere/.layout", dir);
	assert_int_equal(stat(path, &sb), 0);
	/* a layout file this version does not know is an error, not an older store */
	FILE *lf = fopen(path, "w");
	fputs("flat 2\n", lf);
	fclose(lf);
	assert_int_equal(blob_store_open(dir, &bs, &err), -1);
	assert_null(bs);
	unlink(link_path);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	/* processes opening one new store at once all get the same flat store, and no half-made
	 * copy is left beside it */
	for (int round = 0; round < 10; round++) {
		pid_t kids[4];
		assert_non_null(mkdtemp(strcpy(dir, "/tmp/yz-blobs-XXXXXX")));
		for (int k = 0; k < 4; k++) {
			kids[k] = fork();
			assert_true(kids[k] >= 0);
			if (kids[k] == 0) {
				struct blob_store *c;
				char cd[BLOB_HEX];
				int ok = blob_store_open(dir, &c, &err) == 0 &&
					 blob_put(c, "hello", 5, BLOB_SYNC, cd, &err) == 0;
				_exit(ok ? 0 : 1);
			}
		}
		for (int k = 0; k < 4; k++) {
			int st;
			assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		DIR *dd = opendir(dir);
		struct dirent *e;
		int entries = 0;
		while ((e = readdir(dd)) != NULL)
			entries += e->d_name[0] != '.';
		closedir(dd);
		assert_int_equal(entries, 1); /* blobs, no blobs.new.PID */
		check_flat_hello(dir);
	}

	/* an older store: blobs/ab/cd/<digest> and no layout file */
	assert_non_null(mkdtemp(strcpy(dir, "/tmp/yz-blobs-XXXXXX")));
	snprintf(path, sizeof(path), "%s/blobs", dir);
	assert_int_equal(mkdir(path, 0750), 0);
	strcat(path, "/2c");
	assert_int_equal(mkdir(path, 0750), 0);
	strcat(path, "/f2");
	assert_int_equal(mkdir(path, 0750), 0);
	strcat(path, "/");
	strcat(path, hello);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("hello", fp);
	fclose(fp);
	assert_int_equal(blob_store_open(dir, &bs, &err), 0);
	assert_int_equal(blob_get(bs, hello, 100, &data, &len, &err), 0);
	assert_memory_equal(data, "hello", 5);
	free(data);
	assert_int_equal(blob_verify(bs, hello, &err), 0);
	assert_int_equal(blob_put(bs, "x", 1, BLOB_SYNC, d, &err), 0);
	blob_path(bs, d, path, sizeof(path));
	assert_string_equal(path + strlen(dir), "/blobs/2d/71/2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
	assert_int_equal(stat(path, &sb), 0);
	n = 0;
	assert_int_equal(blob_walk(bs, count_walk, &n, &err), 0);
	assert_int_equal(n, 2);
	snprintf(path, sizeof(path), "%s/blobs/.layout", dir);
	assert_int_equal(stat(path, &sb), -1);
	blob_store_close(&bs);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	struct mail_msg m1, m2, m3, m4, *v;
	size_t n;
	struct err err;
	int64_t a, b, c, d;

	a = put(f, f->inbox, make_msg(f->a, "Budget 2024", NULL, 600), 100);
	b = put(f, f->inbox,
		make_msg(f->a, "Re: Budget 2024", "In-Reply-To: <m600@example.com>\r\n", 601), 200);
	/* a reply whose parent we never saw, joined by its references to b */
	c = put(f, f->inbox,
		make_msg(f->a, "RE: Budget",
			 "References: <unknown@x> <m601@example.com>\r\n", 602),
		300);
	/* 回复: with no references: joined by subject */
	d = put(f, f->inbox, make_msg(f->a, "回复：Budget 2024", NULL, 603), 400);
	assert_int_equal(mail_get(f->mb, a, f->a, &m1, &err), 0);
	assert_int_equal(mail_get(f->mb, b, f->a, &m2, &err), 0);
	assert_int_equal(mail_get(f->mb, c, f->a, &m3, &err), 0);
	assert_int_equal(mail_get(f->mb, d, f->a, &m4, &err), 0);
	assert_int_equal(m1.thread_id, a);
	assert_int_equal(m2.thread_id, a);
	assert_int_equal(m3.thread_id, a);
	assert_int_equal(m4.thread_id, a);
	assert_int_equal(mail_thread(f->mb, a, f->a, &v, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].id, a);
	assert_int_equal(v[3].id, d);
	/* a new mail with an unrelated subject starts its own thread */
	{
		int64_t e = put(f, f->inbox, make_msg(f->a, "Budget 2024", NULL, 604), 500);
		struct mail_msg m5;
		assert_int_equal(mail_get(f->mb, e, f->a, &m5, &err), 0);
		assert_int_equal(m5.thread_id, e);
	}
}

/* A listing whose query fails says so: before db_end() the failed step read as the end of the
 * rows and the caller got an empty list and 0. SQLite refuses a LIKE pattern longer than
 * SQLITE_LIMIT_LIKE_PATTERN_LENGTH (50000) with an error from the first row it tests; the API
 * keeps q to 100 bytes, the store itself does not. */
static void test_listing_error_is_reported(void **state)
{
	struct fx *f = *state;
	struct mail_correspondent *v = NULL;
	size_t n = 99, len = 60000;
	char *prefix = arena_alloc(f->a, len + 1);
	struct err err;

	put(f, f->inbox, make_msg(f->a, "Hello", NULL, 700), 100);
	assert_int_equal(mail_correspondents(f->mb, "zhang", 10, f->a, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	memset(prefix, 'z', len);
	prefix[len] = '\0';
	n = 99;
	err = (struct err){0};
	assert_int_equal(mail_correspondents(f->mb, prefix, 10, f->a, &v, &n, &err), -1);
	assert_int_equal(n, 99); /* outputs untouched */
	assert_int_equal(err.code, ERR_IO);
	if (strstr(err.msg, "pattern too complex") == NULL)
		fail_msg("error: \"%s\"", err.msg);
	/* the connection and its cached statement still work */
	assert_int_equal(mail_correspondents(f->mb, "zhang", 10, f->a, &v, &n, &err), 0);
	assert_int_equal(n, 1);
}

static void test_rebuild_from_log(void **state)
{
	struct fx *f = *state;
	char path[256];
	int64_t proj, n, found;
	struct mail_folder fo;
	struct err err;

	assert_int_equal(mail_folder_ensure_path(f->mb, "归档/2023", &proj, &err), 0);
	for (int i = 0; i < 10; i++)
		put(f, i < 7 ? f->inbox : proj, make_msg(f->a, "rebuild", NULL, 700 + i), 50 + i);
	assert_int_equal(mail_check_db(f->ms, 42, &err), 0);
	/* the journal follows copies, moves, folder renames, deletes and purges */
	{
		int64_t ids[3], copy, tmp, archive;
		struct mail_list_q q = {.folder_id = f->inbox, .limit = 3};
		struct mail_msg *v;
		size_t k;
		const char *next;
		int64_t total, purged;
		assert_int_equal(mail_list(f->mb, &q, f->a, &v, &k, &next, &total, &err), 0);
		for (size_t i = 0; i < 3; i++)
			ids[i] = v[i].id;
		assert_int_equal(mail_folder_by_special(f->mb, MAIL_ARCHIVE, &archive, &err), 0);
		/* a copy into Archive, then the original expunged and purged: the copy stays */
		assert_int_equal(mail_copy(f->mb, &ids[0], 1, archive, &copy, NULL, &err), 0);
		assert_int_equal(mail_expunge(f->mb, &ids[0], 1, &err), 0);
		assert_int_equal(mail_purge(f->mb, time_now() + 31 * 86400, &purged, &err), 0);
		assert_int_equal(purged, 1);
		/* a move into a folder that is then renamed */
		assert_int_equal(mail_folder_create(f->mb, 0, "临时", &tmp, &err), 0);
		assert_int_equal(mail_move(f->mb, &ids[1], 1, tmp, NULL, &err), 0);
		assert_int_equal(mail_folder_rename(f->mb, tmp, proj, "改名", &err), 0);
		/* a message in a deleted folder ends up in Trash */
		{
			int64_t gone;
			assert_int_equal(mail_folder_create(f->mb, 0, "Gone", &gone, &err), 0);
			assert_int_equal(mail_move(f->mb, &ids[2], 1, gone, NULL, &err), 0);
			assert_int_equal(mail_folder_delete(f->mb, gone, &err), 0);
		}
	}
	close_store(f);
	/* lose the database */
	snprintf(path, sizeof(path), "%s/accounts/2a/42/mail.db", f->dir);
	assert_int_equal(unlink(path), 0);
	{
		struct mail_store_opts o;
		mail_store_opts_default(&o);
		assert_int_equal(mail_store_open(f->dir, &o, &f->ms, &err), 0);
	}
	assert_int_equal(mail_check_db(f->ms, 42, &err), -1);
	assert_int_equal(mail_rebuild_from_log(f->ms, 42, &n, &err), 0);
	assert_int_equal(n, 10); /* 10 stored + 1 copy - 1 purged */
	assert_int_equal(mailbox_open(f->ms, 42, 0, &f->mb, &err), 0);
	assert_int_equal(mail_folder_by_special(f->mb, MAIL_INBOX, &f->inbox, &err), 0);
	assert_int_equal(folder(f, f->inbox).total, 4);
	assert_int_equal(mail_folder_by_path(f->mb, "归档/2023", &found, &err), 0);
	fo = folder(f, found);
	assert_int_equal(fo.total, 3);
	assert_int_equal(mail_folder_by_path(f->mb, "归档/2023/改名", &found, &err), 0);
	assert_int_equal(folder(f, found).total, 1);
	assert_int_equal(mail_folder_by_special(f->mb, MAIL_ARCHIVE, &found, &err), 0);
	assert_int_equal(folder(f, found).total, 1);
	assert_int_equal(mail_folder_by_special(f->mb, MAIL_TRASH, &found, &err), 0);
	assert_int_equal(folder(f, found).total, 1);
	assert_int_equal(mail_check_db(f->ms, 42, &err), 0);
}

static void test_search_end_to_end(void **state)
{
	struct fx *f = *state;
	struct mail_search_q q = {.limit = 20, .by_date = true};
	struct mail_search_hit *v;
	size_t n, done;
	const char *next;
	int64_t total, a, b, c;
	struct mail_change note = {.set_note = true, .note = "报销单据在附件里"};
	struct err err;

	a = put(f, f->inbox, make_msg(f->a, "季度报告", NULL, 800), 100);
	b = put(f, f->inbox, make_msg(f->a, "周末聚餐", NULL, 801), 200);
	c = put(f, f->trash, make_msg(f->a, "季度报告 (old)", NULL, 802), 300);
	assert_int_equal(mail_update(f->mb, &b, 1, &note, &err), 0);
	assert_int_equal(search_index_drain(f->mb, 0, &done, &err), 0);
	assert_true(done >= 4);
	assert_int_equal(mail_index_pending(f->mb), 0);

	q.q = "subject:季度";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 1); /* Trash is left out unless asked for */
	assert_int_equal(v[0].msg.id, a);
	q.q = "季度 in:trash";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].msg.id, c);
	q.q = "note:报销";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].msg.id, b);
	q.q = "is:unread 聚餐";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 1);
	q.q = "in:nosuchfolder x";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	/* moving updates the folder term: in:Archive finds it */
	{
		int64_t archive;
		assert_int_equal(mail_folder_by_special(f->mb, MAIL_ARCHIVE, &archive, &err), 0);
		assert_int_equal(mail_move(f->mb, &a, 1, archive, NULL, &err), 0);
		assert_int_equal(search_index_drain(f->mb, 0, &done, &err), 0);
		q.q = "季度报告 in:归档";
		assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
		assert_int_equal(n, 1);
		assert_int_equal(v[0].msg.id, a);
	}
	/* expunged mail is no longer found */
	assert_int_equal(mail_expunge(f->mb, &a, 1, &err), 0);
	assert_int_equal(search_index_drain(f->mb, 0, &done, &err), 0);
	q.q = "季度报告 in:archive";
	assert_int_equal(search_mail(f->mb, &q, f->a, &v, &n, &next, &total, &err), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_standard_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_and_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_copy_delete_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_and_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_verify_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_known_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parsed_kept, setup, teardown),
		cmocka_unit_test(test_blob_layouts),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing_error_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_from_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_end_to_end, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
