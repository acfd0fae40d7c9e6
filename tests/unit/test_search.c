/* Unit tests for search/search.h: the Xapian shim on real databases in a mkdtemp() directory,
 * and search_query_parse() (search/query.c) as a table of inputs and wanted results.
 *
 * One fixture index (the docs[] table: Chinese, Japanese, Korean, English, full-width text)
 * is built once for the read-only query tables; tests that change an index build their own. */
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
#include <unistd.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "search/search.h"
#include "store/mime.h"
#include "tests/unit/mime_fixture.h"

#define DAY 86400
#define T0 1717200000 /* 2024-06-01 00:00 UTC, 08:00 in China */
#define MAXW 16

/* ---- fixtures ---- */

static const struct search_doc docs[] = {
	{.id = 1, .folder_id = 1, .date = T0 + 3 * DAY, .subject = "2024年第三季度报告",
	 .from = "张三 <zhangsan@example.com>", .to = "李四 <lisi@example.com>",
	 .body = "请查收第三季度报告，谢谢。The quarterly report is attached.",
	 .attach_names = "报告.pdf", .has_attachment = true},
	{.id = 2, .folder_id = 2, .date = T0 + 1 * DAY, .subject = "会议纪要",
	 .from = "王五 <wangwu@example.com>", .to = "张三 <zhangsan@example.com>",
	 .body = "本季度的销售报告还没有完成，下周再讨论。"},
	{.id = 3, .folder_id = 1, .date = T0 + 5 * DAY, .subject = "Lunch on Friday",
	 .from = "Alice Smith <alice@example.org>", .to = "bob@example.com",
	 .body = "Let's meet for lunch like this Friday. ABC Corp is paying.",
	 .note = "重要客户"},
	{.id = 4, .folder_id = 1, .date = T0 + 2 * DAY, .subject = "新品发布",
	 .from = "市场部 <market@example.cn>",
	 .body = "新款ｉＰｈｏｎｅ手机发布，ＡＢＣ公司参加。"},
	{.id = 5, .folder_id = 3, .date = T0 + 4 * DAY, .subject = "会議の議事録",
	 .body = "東京で会議があります。よろしくお願いします。"},
	{.id = 6, .folder_id = 3, .date = T0 + 7 * DAY, .subject = "회의 안내",
	 .body = "내일 회의가 있습니다. 서울 사무실"},
	{.id = 7, .folder_id = 2, .date = T0 + 6 * DAY, .subject = "手机坏了",
	 .body = "我的iPhone手机坏了，屏幕碎了。"},
	{.id = 8, .folder_id = 2, .date = T0 + 0 * DAY, .subject = "比较",
	 .body = "iPhone很好，但是这个手机不行。"},
	{.id = 9, .folder_id = 4, .date = T0 + 8 * DAY, .subject = "通知",
	 .body = "本季度，报告如下：收入 增长。年度报表另发。"},
	{.id = 12, .folder_id = 4, .date = T0 + 10 * DAY, .subject = "decoy",
	 .body = "季度报表已经发出，报告稍后。this is what I like"},
	{.id = 10, .folder_id = 4, .date = T0 + 9 * DAY, .subject = "review",
	 .body = "budget budget budget budget budget"},
	{.id = 11, .folder_id = 4, .date = T0 + 9 * DAY, .subject = "misc",
	 .body = "a long note about many things, the budget among them, and more words here "
		 "to make this document longer than the other one, from R&D <team> \"quoted\" "
		 "会面时间：下午三点，北京-上海，时间:3点，学习C++教程。"},
	{.id = 13, .folder_id = 31, .date = T0 + 11 * DAY, .subject = "Zebra",
	 .body = "Mind the Zebra\r\ncrossing ahead; send an e-mail, and another mail."},
};

struct fx {
	char dir[64];
	struct search_db *db;
	struct arena *a;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* search_format.cc */
int test_index_format(const char *dir, unsigned shard);
int test_make_format1(const char *dir, unsigned shards);

/* A new, empty index of 3 shards in f, of format 1 (every term with positions, as indexes
 * made before format 2 are) or 2. */
static void fx_empty(struct fx *f, int format)
{
	struct err err = {0};
	snprintf(f->dir, sizeof(f->dir), "/tmp/yz-search-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(search_open(f->dir, true, 3, &f->db, &err), 0);
	if (format == 1) {
		search_close(&f->db);
		assert_int_equal(test_make_format1(f->dir, 3), 0);
		assert_int_equal(search_open(f->dir, true, 3, &f->db, &err), 0);
	}
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(test_index_format(f->dir, k), format);
	f->a = arena_new();
}

static void fx_open(struct fx *f, int format)
{
	struct err err = {0};
	fx_empty(f, format);
	for (size_t i = 0; i < ARRAY_LEN(docs); i++)
		assert_int_equal(search_put(f->db, &docs[i], &err), 0);
	assert_int_equal(search_commit(f->db, &err), 0);
}

static void fx_close(struct fx *f)
{
	search_close(&f->db);
	assert_null(f->db);
	arena_free(&f->a);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int group_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fx_open(f, 2);
	*state = f;
	return 0;
}

static int group_setup_format1(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fx_open(f, 1);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;
	fx_close(f);
	free(f);
	return 0;
}

/* Run q; the ids in result order into ids (at most MAXW), their count returned. */
static size_t run_ids(struct search_db *db, struct arena *a, const struct search_query *q,
		      int64_t *ids, size_t *total_r)
{
	struct search_hit *hits;
	size_t n, total;
	struct err err = {0};
	int r = search_run(db, q, a, &hits, &n, &total, &err);
	if (r < 0)
		fail_msg("query \"%s\": %s", q->text ? q->text : "", err.msg);
	assert_true(n <= MAXW);
	for (size_t i = 0; i < n; i++)
		ids[i] = hits[i].id;
	if (total_r)
		*total_r = total;
	return n;
}

static int cmp_id(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* want is 0-terminated; compared as sets. */
static void assert_ids(const char *what, int64_t *got, size_t n, const int64_t *want)
{
	size_t nw = 0;
	int64_t w[MAXW];
	while (want[nw] != 0)
		w[nw] = want[nw], nw++;
	qsort(got, n, sizeof(*got), cmp_id);
	qsort(w, nw, sizeof(*w), cmp_id);
	bool same = n == nw;
	for (size_t i = 0; same && i < n; i++)
		same = got[i] == w[i];
	if (!same) {
		char buf[256];
		size_t o = 0;
		for (size_t i = 0; i < n && o < sizeof(buf) - 24; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %lld", (long long)got[i]);
		buf[o] = '\0';
		fail_msg("%s: got {%s }, want %zu ids", what, buf, nw);
	}
}

/* ---- text queries: exact id sets ---- */

static const struct {
	const char *text;
	int64_t want[MAXW];
} text_cases[] = {
	/* CJK: one character, a word, a contiguous phrase (not 2 with 季度 and 报告 apart, not 9
	 * with them split by a comma, although 9 has all three bigrams: 年度报表 holds 度报) */
	{"季", {1, 2, 9, 12}},
	{"报告", {1, 2, 9, 12}},
	{"季度", {1, 2, 9, 12}},
	{"季度报告", {1}}, /* not 12: 季度报表 ... 报告 has all three bigrams */
	{"第三季度报告", {1}},
	{"三季度报", {1}},
	{"\"季度报告\"", {1}},
	{"季度报告 quarterly", {1}},
	{"销售报告", {2}},
	{"度报", {1, 9, 12}},
	/* punctuation touching CJK in a query lets a phrase span one more position; it does not
	 * demand one */
	{"季度，报告", {1, 9}},
	{"度，报", {1, 9, 12}},
	{"本季度，报告如下", {9}},
	/* punctuation between CJK and a Latin letter or digit is Xapian's, as before */
	{"时间：下午", {11}},
	{"北京-上海", {11}},
	{"时间:3点", {11}},
	{"C++教程", {11}},
	{"下午三点", {11}},
	{"《季度报告》", {1}}, /* brackets outside the phrase widen nothing: not 9 */
	{"报告如下", {9}},
	/* a user's quoted phrase with a space matches a space or a line break in the text, like
	 * English phrases, but not CJK punctuation */
	{"\"收入 增长\"", {9}},
	{"收入增长", {0}},
	{"\"本季度 报告\"", {0}},
	/* mixed Chinese and ASCII: contiguous, not iPhone and 手机 apart (8) */
	{"iPhone手机", {4, 7}},
	{"iphone", {4, 7, 8}},
	{"手机", {4, 7, 8}},
	/* full-width and case */
	{"ＡＢＣ", {3, 4}},
	{"abc", {3, 4}},
	{"AbC", {3, 4}},
	{"ＩＰＨＯＮＥ手机", {4, 7}},
	/* English */
	{"lunch friday", {3}},
	{"\"like this\"", {3}},
	{"\"this like\"", {0}},
	{"lunch \"like this\"", {3}},
	/* phrases under OR are checked inside Xapian's match, not after it */
	{"\"like this\" OR nothingmatches", {3}},
	{"季度报告 OR nothingmatches", {1}},
	{"(季度报告 OR 销售报告) -review", {1, 2}},
	{"quarterly report", {1}},
	{"report", {1}},
	{"reports", {0}}, /* no stemming: exact words */
	{"lunch OR budget", {3, 10, 11}},
	{"budget -review", {11}},
	{"budget NOT review", {11}},
	{"bud*", {10, 11}},
	/* Japanese and Korean */
	{"会議", {5}},
	{"お願い", {5}},
	{"東京", {5}},
	{"회의", {6}},
	{"서울", {6}},
	{"会议", {2}},
	/* fields */
	{"from:张三", {1}},
	{"from:zhangsan@example.com", {1}},
	{"from:alice", {3}},
	{"from:\"Alice Smith\"", {3}},
	{"to:张三", {2}},
	{"to:李四", {1}},
	{"cc:李四", {1}},
	{"to:bob@example.com", {3}},
	{"张三", {1, 2}},
	{"subject:季度报告", {1}},
	{"subject:会议", {2}},
	{"subject:报告", {1}},
	{"subject:\"第三季度\"", {1}},
	{"subject:lunch", {3}},
	{"note:重要", {3}},
	{"重要客户", {3}},
	{"note:lunch", {0}},
	{"file:报告", {1}},
	{"file:pdf", {1}},
	{"-subject:报告 报告", {2, 9, 12}},
	{"市场部", {4}},
	{"nothingmatchesthis", {0}},
	{"-budget", {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13}},
	{"-季度报告 -budget", {2, 3, 4, 5, 6, 7, 8, 9, 12, 13}},
	{"-\"季度 报告\"", {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}}, /* 9: 季度，报告 */
	{"NOT 手机 NOT budget", {1, 2, 3, 5, 6, 9, 12, 13}},
	/* phrases of words: across a line break and case, never across two fields (the subject
	 * ends in Friday, the sender starts with Alice), NEAR in any order, ADJ in order */
	{"\"zebra crossing ahead\"", {13}},
	{"\"crossing zebra\"", {0}},
	{"\"zebra ahead\"", {0}},
	{"\"friday alice\"", {0}},
	{"zebra NEAR ahead", {13}},
	{"ahead NEAR zebra", {13}},
	{"zebra ADJ ahead", {13}},
	{"ahead ADJ zebra", {0}},
	{"e-mail", {13}},
	{"\"another mail\"", {13}},
	{"\"an mail\"", {0}},
	{"\"zebra crossing\" OR nothingmatches", {13}},
	{"mail -\"another mail\"", {0}},
	{"哈哈哈", {0}},
	{"。", {0}},
};

static void test_text_queries(void **state)
{
	struct fx *f = *state;
	for (size_t i = 0; i < ARRAY_LEN(text_cases); i++) {
		struct search_query q = {.text = text_cases[i].text, .limit = MAXW};
		int64_t ids[MAXW];
		size_t n = run_ids(f->db, f->a, &q, ids, NULL);
		assert_ids(text_cases[i].text, ids, n, text_cases[i].want);
	}
	arena_reset(f->a);
}

/* ---- filters ---- */

static void test_filters(void **state)
{
	struct fx *f = *state;
	static const int64_t not12[] = {1, 2};
	static const struct {
		const char *what;
		struct search_query q;
		int64_t want[MAXW];
	} cases[] = {
		{"all", {.text = ""}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{"folder 1", {.text = "", .folder_id = 1}, {1, 3, 4}},
		{"folder 1 text", {.text = "abc", .folder_id = 1}, {3, 4}},
		{"folder 9", {.text = "", .folder_id = 9}, {0}},
		{"not 1,2", {.text = "", .not_folders = not12, .nnot_folders = 2},
		 {5, 6, 9, 10, 11, 12, 13}},
		{"not 1,2 text", {.text = "手机", .not_folders = not12, .nnot_folders = 2}, {0}},
		{"attachment", {.text = "", .has_attachment = true}, {1}},
		{"attachment text", {.text = "季度", .has_attachment = true}, {1}},
		/* after <= date < before, at the boundary second */
		{"after day 7", {.text = "", .after = T0 + 7 * DAY}, {6, 9, 10, 11, 12, 13}},
		{"after day 7 +1s", {.text = "", .after = T0 + 7 * DAY + 1}, {9, 10, 11, 12, 13}},
		{"before day 2", {.text = "", .before = T0 + 2 * DAY}, {2, 8}},
		{"before day 2 +1s", {.text = "", .before = T0 + 2 * DAY + 1}, {2, 4, 8}},
		{"day 2 .. 4", {.text = "", .after = T0 + 2 * DAY, .before = T0 + 4 * DAY}, {1, 4}},
		{"range + text", {.text = "手机", .after = T0 + 1, .before = T0 + 7 * DAY}, {4, 7}},
		{"all filters",
		 {.text = "报告", .folder_id = 1, .has_attachment = true, .after = T0,
		  .before = T0 + 10 * DAY, .not_folders = not12 + 1, .nnot_folders = 1},
		 {1}},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct search_query q = cases[i].q;
		int64_t ids[MAXW];
		size_t total, n;
		q.limit = MAXW;
		n = run_ids(f->db, f->a, &q, ids, &total);
		assert_int_equal(total, n);
		assert_ids(cases[i].what, ids, n, cases[i].want);
	}
	arena_reset(f->a);
}

/* ---- order, paging, totals ---- */

static void test_order_and_paging(void **state)
{
	struct fx *f = *state;
	/* newest first; 10 and 11 share a date, the higher id first */
	static const int64_t by_date[] = {13, 12, 11, 10, 9, 6, 7, 3, 5, 1, 4, 2, 8};
	int64_t ids[MAXW], page[MAXW];
	size_t n, total;
	struct search_query q = {.text = "", .by_date = true, .limit = MAXW};

	n = run_ids(f->db, f->a, &q, ids, &total);
	assert_int_equal(n, ARRAY_LEN(by_date));
	assert_int_equal(total, ARRAY_LEN(by_date));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], by_date[i]);

	/* pages of 4 rebuild the whole list; total stays the same on every page */
	size_t seen = 0;
	for (size_t off = 0; off < ARRAY_LEN(by_date) + 4; off += 4) {
		q.offset = off;
		q.limit = 4;
		n = run_ids(f->db, f->a, &q, page, &total);
		assert_int_equal(total, ARRAY_LEN(by_date));
		assert_int_equal(n, off >= ARRAY_LEN(by_date) ? 0
			: (ARRAY_LEN(by_date) - off < 4 ? ARRAY_LEN(by_date) - off : 4));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(page[i], by_date[seen++]);
	}
	assert_int_equal(seen, ARRAY_LEN(by_date));

	/* by date with text */
	q = (struct search_query){.text = "手机", .by_date = true, .limit = MAXW};
	n = run_ids(f->db, f->a, &q, ids, &total);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 4);
	assert_int_equal(ids[2], 8);

	/* limit 1: total still counts everything */
	q = (struct search_query){.text = "报告", .limit = 1};
	n = run_ids(f->db, f->a, &q, ids, &total);
	assert_int_equal(n, 1);
	assert_int_equal(total, 4);

	/* relevance: the short mail saying budget five times beats the long one saying it once */
	struct search_hit *hits;
	struct err err = {0};
	q = (struct search_query){.text = "budget", .limit = MAXW};
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hits[0].id, 10);
	assert_int_equal(hits[1].id, 11);
	assert_true(hits[0].score > hits[1].score);
	assert_true(hits[1].score > 0);
	assert_null(hits[0].highlight);

	/* limit 0: no hits, but the total */
	q = (struct search_query){.text = "报告", .limit = 0};
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 4);
	assert_int_equal(search_count(f->db), ARRAY_LEN(docs));
	arena_reset(f->a);
}

/* ---- highlights ---- */

static void test_highlight(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text;
		int64_t id;
		const char *want; /* must appear in the excerpt */
	} cases[] = {
		{"季度报告", 1, SEARCH_HL_START "季度报告" SEARCH_HL_END},
		{"销售", 2, SEARCH_HL_START "销售" SEARCH_HL_END},
		{"lunch", 3, SEARCH_HL_START "Lunch" SEARCH_HL_END},
		{"\"like this\"", 3, SEARCH_HL_START "like"},
		{"abc", 3, SEARCH_HL_START "ABC" SEARCH_HL_END " Corp"}, /* and no HTML escaping: */
		{"abc", 3, "Let's"},
		{"team", 11, "R&D <" SEARCH_HL_START "team" SEARCH_HL_END "> \"quoted\""},
		{"会議", 5, SEARCH_HL_START "会議" SEARCH_HL_END},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct search_query q = {.text = cases[i].text, .limit = MAXW, .highlight = true};
		struct search_hit *hits;
		size_t n, total;
		struct err err = {0};
		const char *h = NULL;
		assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), 0);
		for (size_t k = 0; k < n; k++)
			if (hits[k].id == cases[i].id)
				h = hits[k].highlight;
		assert_non_null(h);
		if (strstr(h, cases[i].want) == NULL)
			fail_msg("highlight for %s: \"%s\" lacks \"%s\"", cases[i].text, h,
				 cases[i].want);
	}
	/* a short budget: the excerpt stays near it */
	struct search_query q = {.text = "budget", .limit = 2, .highlight = true,
				 .highlight_chars = 20};
	struct search_hit *hits;
	size_t n, total;
	struct err err = {0};
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 2);
	assert_non_null(strstr(hits[1].highlight, SEARCH_HL_START "budget" SEARCH_HL_END));
	assert_true(strlen(hits[1].highlight) < 80);
	arena_reset(f->a);
}

/* ---- bad queries: ERR_INVALID or a result, never an exception ---- */

static void test_bad_queries(void **state)
{
	struct fx *f = *state;
	static const char *const invalid[] = {"a AND", "AND", "OR b", "a NOT", "(a OR"};
	static const char *const odd[] = {
		"(((", ")))", "\"", "\"\"", "NOT", "OR OR", "*", "a*b*c", "-", "+", "--a",
		"a NEAR/3 b", "a ADJ b", "\xff\xfe\xfd", "季度\"报告\"", "subject:", "subject:\"\"",
		"from:()", "to:\"", "季度*", "*季度", "-季度", "+季度 -报告", "(季度 OR 报告) AND 手机",
		"\"季度 AND 报告\"", "季度:报告", "xf1", "XF1", "Q1", "\xe5\xad", "\x01\x02",
		"subject:(季度 报告)", "note:-", "a:b:c:d", "\"\"\"\"\"", "～！＠＃￥％……&*（）",
		"NEAR", "季 NEAR 度", "a XOR 季度", "季度 AND NOT 报告", "file:*", "x*****",
		"-\"", "- -", "-(a b)", "(-a)", "-a OR -b", "-from:", "-subject:季度", "-*",
	};
	struct search_hit *hits;
	size_t n, total;
	struct err err;

	for (size_t i = 0; i < ARRAY_LEN(invalid); i++) {
		struct search_query q = {.text = invalid[i], .limit = 10};
		err = (struct err){0};
		assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), -1);
		assert_int_equal(err.code, ERR_INVALID);
		assert_non_null(strstr(err.msg, "search query"));
	}
	for (size_t i = 0; i < ARRAY_LEN(odd); i++) {
		struct search_query q = {.text = odd[i], .limit = 10, .highlight = true};
		err = (struct err){0};
		if (search_run(f->db, &q, f->a, &hits, &n, &total, &err) < 0)
			assert_int_equal(err.code, ERR_INVALID);
	}
	/* long inputs: many CJK characters, a long word, deep brackets */
	char *big = malloc(8192 + 16);
	size_t o = 0;
	for (int i = 0; i < 900; i++)
		o += (size_t)sprintf(big + o, "%s", i % 2 ? "季" : "度");
	big[o] = '\0';
	struct search_query q = {.text = big, .limit = 10};
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 0);
	memset(big, '(', 4000);
	big[4000] = '\0';
	err = (struct err){0};
	if (search_run(f->db, &q, f->a, &hits, &n, &total, &err) < 0)
		assert_int_equal(err.code, ERR_INVALID);
	memset(big, 'x', 8192 + 8);
	big[8192 + 8] = '\0';
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	free(big);
	q = (struct search_query){.text = "", .limit = 100000};
	assert_int_equal(search_run(f->db, &q, f->a, &hits, &n, &total, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	arena_reset(f->a);
}

/* ---- the query syntax into the index: search_query_parse then search_run ---- */

static void test_parse_then_run(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *q;
		int64_t want[MAXW];
	} cases[] = {
		{"发件人：张三 has:attachment", {1}},
		{"主题:季度报告", {1}},
		{"收件人:张三", {2}},
		{"备注：重要", {3}},
		{"附件:报告", {1}},
		{"“季度报告”", {1}},
		{"after:2024-06-08 before:2024-06-10", {6, 9}},
		{"after:2024/6/8", {6, 9, 10, 11, 12, 13}},
		{"ｌｕｎｃｈ", {3}},
		{"http://example.com", {0}},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct search_parsed p;
		struct err err = {0};
		int64_t ids[MAXW];
		assert_int_equal(search_query_parse(cases[i].q, 480, f->a, &p, &err), 0);
		struct search_query q = {.text = p.text, .has_attachment = p.has_attachment,
					 .after = p.after, .before = p.before, .limit = MAXW};
		size_t n = run_ids(f->db, f->a, &q, ids, NULL);
		assert_ids(cases[i].q, ids, n, cases[i].want);
	}
	arena_reset(f->a);
}

/* ---- phrase checks after the match: pages and totals ---- */

static void checked_paging(int format)
{
	struct fx f;
	struct err err = {0};
	fx_empty(&f, format);
	/* 150 mails with the phrase, 100 decoys holding all its bigrams apart, interleaved */
	for (int i = 1; i <= 250; i++) {
		char body[128];
		bool real = i % 5 < 3;
		snprintf(body, sizeof(body), real ? "第%d份季度报告" : "季度报表 %d 和报告", i);
		struct search_doc d = {.id = i, .folder_id = 1, .date = T0 + i * 60, .body = body};
		assert_int_equal(search_put(f.db, &d, &err), 0);
	}
	assert_int_equal(search_commit(f.db, &err), 0);
	static const char *const texts[] = {"季度报告", "\"季度报告\"", "季度报告 OR nothing"};
	for (size_t t = 0; t < ARRAY_LEN(texts); t++) {
		for (int by_date = 0; by_date < 2; by_date++) {
			bool seen[251] = {false};
			int64_t last = 1000;
			size_t got = 0;
			for (size_t off = 0; off < 200; off += 13) {
				struct search_query q = {.text = texts[t], .by_date = by_date,
							 .offset = off, .limit = 13};
				struct search_hit *hits;
				size_t n, total;
				assert_int_equal(search_run(f.db, &q, f.a, &hits, &n, &total, &err), 0);
				assert_int_equal(total, 150);
				for (size_t i = 0; i < n; i++) {
					int64_t id = hits[i].id;
					assert_true(id >= 1 && id <= 250 && id % 5 < 3 && !seen[id]);
					seen[id] = true;
					if (by_date) { /* newest (highest id) first */
						assert_true(id < last);
						last = id;
					}
				}
				got += n;
				arena_reset(f.a);
			}
			assert_int_equal(got, 150);
		}
	}
	fx_close(&f);
}

static void test_checked_paging(void **state)
{
	(void)state;
	checked_paging(2);
	checked_paging(1);
}

/* Phrases far into a long text, next to words that occur hundreds of times (format 2 checks
 * word phrases in windows around each occurrence of one of their words). */
static void long_text(int format)
{
	struct fx f;
	struct err err = {0};
	int64_t ids[MAXW];
	char *body = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&body, &len);
	assert_non_null(m);
	for (int i = 0; i < 400; i++)
		fprintf(m, "%s mail %d, ", i % 7 ? "x" : "one more", i);
	fputs("then a big\nmail at the end ", m);
	for (int i = 0; i < 300; i++)
		fputs("季度", m);
	fputs("报告", m);
	assert_int_equal(fclose(m), 0);
	fx_empty(&f, format);
	struct search_doc d = {.id = 1, .folder_id = 1, .date = T0, .subject = "long",
			       .body = body};
	assert_int_equal(search_put(f.db, &d, &err), 0);
	/* format 2 unpacks a text 8 KiB at a time and looks at each piece once: here 季度 ends
	 * the second piece (the text starts "long" and three field ends) and 报告 starts the
	 * third */
	char *far = malloc(16371 + 64);
	assert_non_null(far);
	memset(far, 'x', 16371);
	for (size_t i = 1; i < 16371; i += 2)
		far[i] = ' ';
	strcpy(far + 16371, "季度报告");
	struct search_doc d2 = {.id = 2, .folder_id = 1, .date = T0, .subject = "long",
				.body = far};
	assert_int_equal(search_put(f.db, &d2, &err), 0);
	free(far);
	assert_int_equal(search_commit(f.db, &err), 0);
	static const struct {
		const char *text;
		size_t n;
	} cases[] = {
		{"\"big mail\"", 1},	    {"\"a big mail at\"", 1}, {"\"bad mail\"", 0},
		{"\"mail big\"", 0},	    {"\"more mail 392\"", 1}, {"\"more mail 393\"", 0},
		{"\"mail 399\" then", 1}, {"季度报告", 2},	    {"度报告", 2},
		{"报告季度", 0},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct search_query q = {.text = cases[i].text, .limit = MAXW};
		if (run_ids(f.db, f.a, &q, ids, NULL) != cases[i].n)
			fail_msg("format %d: %s: not %zu hits", format, cases[i].text, cases[i].n);
	}
	fx_close(&f);
	free(body);
}

static void test_long_text(void **state)
{
	(void)state;
	long_text(2);
	long_text(1);
}

/* ---- changing an index ---- */

static size_t count_text(struct fx *f, const char *text, int64_t folder, int64_t *ids)
{
	struct search_query q = {.text = text, .folder_id = folder, .limit = MAXW};
	return run_ids(f->db, f->a, &q, ids, NULL);
}

static void test_set_folder(void **state)
{
	struct fx f;
	struct err err = {0};
	int64_t ids[MAXW];
	(void)state;
	fx_open(&f, 2);
	assert_int_equal(search_set_folder(f.db, 3, 5, &err), 0);
	assert_int_equal(search_set_folder(f.db, 3, 5, &err), 0); /* again: nothing to do */
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(count_text(&f, "", 5, ids), 1);
	assert_int_equal(ids[0], 3);
	assert_int_equal(count_text(&f, "", 1, ids), 2); /* 1 and 4 */
	/* the text is still there, positions included */
	assert_int_equal(count_text(&f, "\"like this\"", 5, ids), 1);
	assert_int_equal(count_text(&f, "note:重要", 0, ids), 1);
	assert_int_equal(count_text(&f, "重要客户", 5, ids), 1);
	/* a document not committed yet moves too */
	struct search_doc d = {.id = 50, .folder_id = 8, .body = "尚未提交的邮件"};
	assert_int_equal(search_put(f.db, &d, &err), 0);
	assert_int_equal(search_set_folder(f.db, 50, 9, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(count_text(&f, "提交", 9, ids), 1);
	assert_int_equal(count_text(&f, "", 8, ids), 0);
	assert_int_equal(search_set_folder(f.db, 999, 1, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(search_set_folder(f.db, -1, 1, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	fx_close(&f);
}

static void test_delete_and_replace(void **state)
{
	struct fx f;
	struct err err = {0};
	int64_t ids[MAXW];
	(void)state;
	fx_open(&f, 2);
	assert_int_equal(search_delete(f.db, 6, &err), 0);
	assert_int_equal(search_delete(f.db, 6, &err), 0);   /* not there: no error */
	assert_int_equal(search_delete(f.db, 999, &err), 0);
	assert_int_equal(search_delete(f.db, -5, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(count_text(&f, "회의", 0, ids), 0);
	assert_int_equal(search_count(f.db), ARRAY_LEN(docs) - 1);

	/* put twice: one document, the new text only */
	struct search_doc d = docs[4];
	d.body = "大阪の天気は晴れです。";
	d.folder_id = 7;
	assert_int_equal(search_put(f.db, &d, &err), 0);
	assert_int_equal(search_put(f.db, &d, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(search_count(f.db), ARRAY_LEN(docs) - 1);
	assert_int_equal(count_text(&f, "東京", 0, ids), 0);
	assert_int_equal(count_text(&f, "大阪", 0, ids), 1);
	assert_int_equal(ids[0], 5);
	assert_int_equal(count_text(&f, "", 3, ids), 0);
	assert_int_equal(count_text(&f, "", 7, ids), 1);

	/* ids Xapian cannot hold */
	d.id = 0;
	assert_int_equal(search_put(f.db, &d, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	d.id = (int64_t)1 << 33;
	assert_int_equal(search_put(f.db, &d, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	/* an all-NULL document is fine */
	struct search_doc empty = {.id = 42};
	assert_int_equal(search_put(f.db, &empty, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(search_count(f.db), ARRAY_LEN(docs));
	fx_close(&f);
}

static long long du_total;

static int du_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)p;
	(void)ftw;
	if (flag == FTW_F)
		du_total += sb->st_size;
	return 0;
}

/* Bytes of the files under dir, shards included. */
static long long dir_bytes(const char *dir)
{
	du_total = 0;
	assert_int_equal(nftw(dir, du_entry, 8, FTW_PHYS), 0);
	return du_total;
}

static void test_compact(void **state)
{
	struct fx f;
	struct err err = {0};
	struct search_db *r = NULL;
	int64_t ids[MAXW];
	char path[96];
	struct stat st;
	(void)state;
	fx_open(&f, 2);
	/* churn so there is something to gain: put everything again a few times */
	for (int k = 0; k < 5; k++) {
		for (size_t i = 0; i < ARRAY_LEN(docs); i++)
			assert_int_equal(search_put(f.db, &docs[i], &err), 0);
		assert_int_equal(search_commit(f.db, &err), 0);
	}
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), 0);
	long long before = dir_bytes(f.dir);
	assert_int_equal(search_compact(f.db, &err), 0);
	assert_true(dir_bytes(f.dir) < before);
	for (int k = 0; k < 3; k++) { /* each shard was swapped, and nothing is left over */
		snprintf(path, sizeof(path), "%s/s%d.compact", f.dir, k);
		assert_int_equal(stat(path, &st), -1);
		snprintf(path, sizeof(path), "%s/s%d.old", f.dir, k);
		assert_int_equal(stat(path, &st), -1);
		snprintf(path, sizeof(path), "%s/s%d/iamglass", f.dir, k);
		assert_int_equal(stat(path, &st), 0);
	}

	/* same answers, ids kept */
	assert_int_equal(search_count(f.db), ARRAY_LEN(docs));
	assert_int_equal(count_text(&f, "季度报告", 0, ids), 1);
	assert_int_equal(ids[0], 1);
	assert_int_equal(count_text(&f, "iPhone手机", 0, ids), 2);
	/* the writer carries on in the new copy; the reader follows after reopen */
	struct search_doc d = {.id = 77, .folder_id = 1, .body = "压缩以后的新邮件"};
	assert_int_equal(search_put(f.db, &d, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(search_reopen(r, &err), 0);
	struct search_query q = {.text = "压缩", .limit = 10};
	struct search_hit *hits;
	size_t n, total;
	assert_int_equal(search_run(r, &q, f.a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hits[0].id, 77);
	assert_int_equal(search_count(r), ARRAY_LEN(docs) + 1);
	/* still the one writer */
	struct search_db *w2 = NULL;
	assert_int_equal(search_open(f.dir, true, 3, &w2, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_int_equal(search_compact(r, &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
	search_close(&r);
	fx_close(&f);
}

/* ---- shards ---- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void test_shards(void **state)
{
	struct fx f;
	struct err err = {0};
	struct search_db *r = NULL, *w = NULL;
	int64_t ids[MAXW];
	char path[128], text[128];
	(void)state;
	fx_open(&f, 2); /* 3 shards: ids 1, 4, 7 .. in s0; 2, 5, 8 .. in s1; 3, 6, 9 .. in s2 */
	assert_int_equal(search_shards(f.db), 3);
	snprintf(path, sizeof(path), "%s/XAPIANDB", f.dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t got = fread(text, 1, sizeof(text) - 1, fp);
	text[got] = '\0';
	fclose(fp);
	assert_string_equal(text, "auto s0\nauto s1\nauto s2\n");

	/* 40 more messages, each with its own word: every id comes back as itself */
	for (int64_t id = 1001; id <= 1040; id++) {
		char body[64];
		snprintf(body, sizeof(body), "分片测试 word%lld", (long long)id);
		struct search_doc d = {.id = id, .folder_id = 9, .date = T0 + id, .body = body};
		assert_int_equal(search_put(f.db, &d, &err), 0);
	}
	assert_int_equal(search_commit(f.db, &err), 0);
	for (int64_t id = 1001; id <= 1040; id++) {
		snprintf(text, sizeof(text), "word%lld", (long long)id);
		assert_int_equal(count_text(&f, text, 0, ids), 1);
		assert_int_equal(ids[0], id);
	}
	size_t total;
	struct search_query all = {.text = "分片测试", .folder_id = 9, .limit = MAXW};
	assert_int_equal(run_ids(f.db, f.a, &all, ids, &total), MAXW);
	assert_int_equal(total, 40);
	struct search_query q = {.text = "分片", .by_date = true, .limit = 5};
	assert_int_equal(run_ids(f.db, f.a, &q, ids, NULL), 5); /* newest first, across shards */
	for (int i = 0; i < 5; i++)
		assert_int_equal(ids[i], 1040 - i);

	/* changes reach the right shard: a put then at once a move, a delete */
	struct search_doc d = {.id = 1041, .folder_id = 9, .body = "刚放进去就移走"};
	assert_int_equal(search_put(f.db, &d, &err), 0);
	assert_int_equal(search_set_folder(f.db, 1041, 10, &err), 0);
	assert_int_equal(search_delete(f.db, 1005, &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(count_text(&f, "移走", 10, ids), 1);
	assert_int_equal(ids[0], 1041);
	assert_int_equal(count_text(&f, "word1005", 0, ids), 0);
	all.folder_id = 0;
	assert_int_equal(run_ids(f.db, f.a, &all, ids, &total), MAXW);
	assert_int_equal(total, 39);

	/* a reader opens every shard through XAPIANDB; the count a writer asks for later is
	 * ignored, the index keeps its three */
	search_close(&f.db);
	assert_int_equal(search_open(f.dir, true, 1, &w, &err), 0);
	assert_int_equal(search_shards(w), 3);
	search_close(&w);
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), 0);
	assert_int_equal(search_shards(r), 3);
	assert_int_equal(search_count(r), ARRAY_LEN(docs) + 40);
	q.text = "word1040";
	q.by_date = false;
	assert_int_equal(run_ids(r, f.a, &q, ids, NULL), 1);
	assert_int_equal(ids[0], 1040);
	search_close(&r);

	/* a compaction between its two renames (s0 moved to s0.old, the compacted copy not yet
	 * in place): while its writer holds the lock, another writer is told "busy" and makes no
	 * empty s0; once that writer is gone (it died there), s0.old goes back whole */
	char s0[160], s0old[160];
	struct stat st;
	snprintf(s0, sizeof(s0), "%s/s0", f.dir);
	snprintf(s0old, sizeof(s0old), "%s/s0.old", f.dir);
	assert_int_equal(search_open(f.dir, true, 2, &w, &err), 0);
	assert_int_equal(rename(s0, s0old), 0);
	struct search_db *w2 = NULL;
	assert_int_equal(search_open(f.dir, true, 2, &w2, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_int_equal(stat(s0, &st), -1);
	search_close(&w); /* "dies": its lock goes, s0 is still missing */
	assert_int_equal(stat(s0, &st), -1);
	assert_int_equal(search_open(f.dir, true, 2, &w, &err), 0);
	assert_int_equal(stat(s0, &st), 0);
	assert_int_equal(stat(s0old, &st), -1);
	search_close(&w);
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), 0);
	assert_int_equal(search_count(r), ARRAY_LEN(docs) + 40);
	search_close(&r);

	/* bad shard counts, and a XAPIANDB this shim did not write */
	assert_int_equal(search_open(f.dir, true, 0, &w, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	assert_int_equal(search_open(f.dir, true, 9, &w, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	write_file(path, "auto /etc\n");
	assert_int_equal(search_open(f.dir, true, 2, &w, &err), -1);
	assert_null(w);
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), -1);
	assert_null(r);
	fx_close(&f);

	/* one shard: the same, on the caller's thread */
	snprintf(f.dir, sizeof(f.dir), "/tmp/yz-search-XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	f.a = arena_new();
	assert_int_equal(search_open(f.dir, true, 1, &f.db, &err), 0);
	assert_int_equal(search_shards(f.db), 1);
	for (size_t i = 0; i < ARRAY_LEN(docs); i++)
		assert_int_equal(search_put(f.db, &docs[i], &err), 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(count_text(&f, "季度报告", 0, ids), 1);
	assert_int_equal(ids[0], 1);
	fx_close(&f);
}

/* ---- readers, writers, locks ---- */

static void test_readers_and_locks(void **state)
{
	struct fx f;
	struct err err = {0};
	struct search_db *r = NULL, *w2 = NULL;
	struct search_hit *hits;
	size_t n, total;
	(void)state;
	fx_open(&f, 2);

	/* a second writer: busy */
	assert_int_equal(search_open(f.dir, true, 3, &w2, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_string_equal(err.msg, "search index is busy");
	assert_null(w2);

	/* a reader sees what was committed, and more only after reopen */
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), 0);
	assert_int_equal(search_count(r), ARRAY_LEN(docs));
	struct search_doc d = {.id = 100, .folder_id = 1, .date = T0, .body = "新的邮件 fresh"};
	assert_int_equal(search_put(f.db, &d, &err), 0);
	struct search_query q = {.text = "fresh", .limit = 10};
	assert_int_equal(search_run(r, &q, f.a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(search_commit(f.db, &err), 0);
	assert_int_equal(search_reopen(r, &err), 0);
	assert_int_equal(search_run(r, &q, f.a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hits[0].id, 100);

	/* a reader cannot write */
	assert_int_equal(search_put(r, &d, &err), -1);
	assert_int_equal(err.code, ERR_DENIED);
	assert_int_equal(search_commit(r, &err), -1);
	search_close(&r);
	assert_null(r);

	/* close commits: a reader opened afterwards sees the pending put */
	d.id = 101;
	d.body = "written before close";
	assert_int_equal(search_put(f.db, &d, &err), 0);
	search_close(&f.db);
	assert_int_equal(search_open(f.dir, true, 3, &w2, &err), 0); /* the lock went with it */
	search_close(&w2);
	assert_int_equal(search_open(f.dir, false, 0, &r, &err), 0);
	q.text = "close";
	assert_int_equal(search_run(r, &q, f.a, &hits, &n, &total, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hits[0].id, 101);
	search_close(&r);
	search_close(&r); /* NULL: no-op */

	/* missing index */
	char missing[96];
	snprintf(missing, sizeof(missing), "%s/none", f.dir);
	assert_int_equal(search_open(missing, false, 0, &r, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_null(r);
	/* an empty directory is no index either */
	snprintf(missing, sizeof(missing), "%s/empty", f.dir);
	assert_int_equal(mkdir(missing, 0700), 0);
	assert_int_equal(search_open(missing, false, 0, &r, &err), -1);
	assert_int_equal(err.code, ERR_NOTFOUND);
	assert_int_equal(search_open("", false, 0, &r, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	fx_close(&f);
}

/* ---- search_query_parse ---- */

/* Midnight at UTC+8 of a few days, computed by hand (unix days * 86400 - 8 h). */
#define JAN1_2024 (19723LL * DAY - 8 * 3600)
#define FEB1_2024 (19754LL * DAY - 8 * 3600)
#define MAR1_2024 (19783LL * DAY - 8 * 3600)

static const struct {
	const char *q;
	const char *text;
	const char *folder;
	unsigned is;
	int colour;
	bool att;
	int64_t after, before;
} parse_good[] = {
	{.q = "", .text = ""},
	{.q = " \t ", .text = ""},
	{.q = "hello world", .text = "hello world"},
	{.q = "季度报告", .text = "季度报告"},
	{.q = "\"quarterly report\" draft", .text = "\"quarterly report\" draft"},
	{.q = "from:bob@example.com", .text = "from:bob@example.com"},
	{.q = "FROM:bob", .text = "from:bob"},
	{.q = "to:\"Bob Smith\" cc:carol", .text = "to:\"Bob Smith\" cc:carol"},
	{.q = "subject:\"季度 报告\"", .text = "subject:\"季度 报告\""},
	{.q = "note:重要 file:a.pdf", .text = "note:重要 file:a.pdf"},
	{.q = "发件人:张三", .text = "from:张三"},
	{.q = "发件人：张三", .text = "from:张三"},
	{.q = "收件人：李四 抄送：王五", .text = "to:李四 cc:王五"},
	{.q = "主题：会议 备注：重要 附件：合同", .text = "subject:会议 note:重要 file:合同"},
	{.q = "-from:spam report", .text = "-from:spam report"},
	{.q = "-\"out of office\"", .text = "-\"out of office\""},
	{.q = "“季度 报告”", .text = "\"季度 报告\""},
	{.q = "ＡＢＣ　ｄｅｆ", .text = "ABC def"},
	{.q = "(a OR b) AND NOT c", .text = "(a OR b) AND NOT c"},
	{.q = "meet*", .text = "meet*"},
	{.q = "http://example.com 12:30", .text = "\"http://example.com\" \"12:30\""},
	{.q = "foo:\"a b\"", .text = "\"foo:a b\""},
	{.q = ":x", .text = "\":x\""},
	{.q = "from:a:b", .text = "from:\"a:b\""},
	{.q = "subject:\"unclosed", .text = "subject:\"unclosed\""},
	{.q = "a\"b c\"d", .text = "a \"b c\" d"},
	{.q = "\"\" x", .text = "x"},
	{.q = "in:Inbox report", .text = "report", .folder = "Inbox"},
	{.q = "in:\"Work Stuff\"", .text = "", .folder = "Work Stuff"},
	{.q = "文件夹：收件箱", .text = "", .folder = "收件箱"},
	{.q = "is:unread", .text = "", .is = SEARCH_IS_UNREAD},
	{.q = "is:UNREAD is:flagged", .text = "", .is = SEARCH_IS_UNREAD | SEARCH_IS_FLAGGED},
	{.q = "is:read", .text = "", .is = SEARCH_IS_READ},
	{.q = "is:pinned is:unflagged", .text = "", .is = SEARCH_IS_PINNED | SEARCH_IS_UNFLAGGED},
	{.q = "is:starred", .text = "", .is = SEARCH_IS_FLAGGED},
	{.q = "is:未读 is:置顶", .text = "", .is = SEARCH_IS_UNREAD | SEARCH_IS_PINNED},
	{.q = "tag:red", .text = "", .colour = 1},
	{.q = "tag:Orange x", .text = "x", .colour = 2},
	{.q = "tag:gray", .text = "", .colour = 7},
	{.q = "tag:grey", .text = "", .colour = 7},
	{.q = "tag:4", .text = "", .colour = 4},
	{.q = "tag:紫", .text = "", .colour = 6},
	{.q = "标签：蓝色", .text = "", .colour = 5},
	{.q = "has:attachment", .text = "", .att = true},
	{.q = "has:附件 合同", .text = "合同", .att = true},
	{.q = "after:2024-01-01", .text = "", .after = JAN1_2024},
	{.q = "after:2024/01/01", .text = "", .after = JAN1_2024},
	{.q = "after:2024-1-1", .text = "", .after = JAN1_2024},
	{.q = "after:2024年1月1日", .text = "", .after = JAN1_2024},
	{.q = "before:2024-02-01", .text = "", .before = FEB1_2024},
	{.q = "before:2024-03-01 after:2024-02-01",
	 .text = "", .after = FEB1_2024, .before = MAR1_2024},
	{.q = "after:２０２４－０１－０１", .text = "", .after = JAN1_2024},
	{.q = "after:2024-02-29", .text = "", .after = MAR1_2024 - DAY},
	{.q = "in:Inbox is:unread tag:red has:attachment after:2024-01-01 before:2024-02-01 budget",
	 .text = "budget", .folder = "Inbox", .is = SEARCH_IS_UNREAD, .colour = 1, .att = true,
	 .after = JAN1_2024, .before = FEB1_2024},
};

static void test_parse_ok(void **state)
{
	struct arena *a = arena_new();
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(parse_good); i++) {
		struct search_parsed p;
		struct err err = {0};
		if (search_query_parse(parse_good[i].q, 480, a, &p, &err) < 0)
			fail_msg("parse \"%s\": %s", parse_good[i].q, err.msg);
		if (strcmp(p.text, parse_good[i].text) != 0)
			fail_msg("parse \"%s\": text \"%s\", want \"%s\"", parse_good[i].q, p.text,
				 parse_good[i].text);
		if (parse_good[i].folder == NULL)
			assert_null(p.folder);
		else
			assert_string_equal(p.folder, parse_good[i].folder);
		assert_int_equal(p.is, parse_good[i].is);
		assert_int_equal(p.colour, parse_good[i].colour);
		assert_int_equal(p.has_attachment, parse_good[i].att);
		assert_int_equal(p.after, parse_good[i].after);
		assert_int_equal(p.before, parse_good[i].before);
	}
	/* the zone moves midnight: UTC and UTC-5 */
	struct search_parsed p;
	struct err err = {0};
	assert_int_equal(search_query_parse("after:2024-01-01", 0, a, &p, &err), 0);
	assert_int_equal(p.after, 19723LL * DAY);
	assert_int_equal(search_query_parse("before:2024-01-01", -300, a, &p, &err), 0);
	assert_int_equal(p.before, 19723LL * DAY + 5 * 3600);
	assert_int_equal(search_query_parse("before:1970-01-01", 0, a, &p, &err), 0);
	assert_true(p.before < 0); /* not 0, which would mean no bound */
	assert_int_equal(search_query_parse(NULL, 480, a, &p, &err), 0);
	assert_string_equal(p.text, "");
	for (size_t i = 0; i < 8; i++)
		assert_non_null(search_colours[i]);
	assert_string_equal(search_colours[0], "");
	assert_string_equal(search_colours[1], "red");
	assert_string_equal(search_colours[7], "grey");
	arena_free(&a);
}

static const struct {
	const char *q;
	enum err_code code;
	const char *msg; /* a part of the message */
} parse_bad[] = {
	{"before:", ERR_INVALID, "before: needs a date like 2024-05-01"},
	{"before:tomorrow", ERR_INVALID, "before: needs a date like 2024-05-01"},
	{"after:2024-13-01", ERR_INVALID, "after: needs a date"},
	{"after:2023-02-29", ERR_INVALID, "after: needs a date"},
	{"after:2024-01-32", ERR_INVALID, "after: needs a date"},
	{"after:2024-01/01", ERR_INVALID, "after: needs a date"},
	{"after:24-01-01", ERR_INVALID, "after: needs a date"},
	{"after:2024-01-001", ERR_INVALID, "after: needs a date"},
	{"after:1969-12-31", ERR_INVALID, "after: needs a date"},
	{"after:2024-02-01 before:2024-01-01", ERR_INVALID, "after: must be earlier"},
	{"after:2024-02-01 before:2024-02-01", ERR_INVALID, "after: must be earlier"},
	{"in:a in:b", ERR_INVALID, "in: appears twice"},
	{"in:a 文件夹:b", ERR_INVALID, "文件夹: appears twice"},
	{"tag:red tag:blue", ERR_INVALID, "tag: appears twice"},
	{"has:attachment has:attachment", ERR_INVALID, "has: appears twice"},
	{"before:2024-01-01 before:2024-01-02", ERR_INVALID, "before: appears twice"},
	{"is:unread is:unread", ERR_INVALID, "is:unread appears twice"},
	{"is:read is:unread", ERR_INVALID, "exclude each other"},
	{"is:flagged is:unflagged", ERR_INVALID, "exclude each other"},
	{"in:", ERR_INVALID, "in: needs a folder name"},
	{"in:\"\"", ERR_INVALID, "in: needs a folder name"},
	{"is:sleepy", ERR_INVALID, "is: needs unread"},
	{"tag:pink", ERR_INVALID, "tag: needs a colour"},
	{"tag:8", ERR_INVALID, "tag: needs a colour"},
	{"tag:0", ERR_INVALID, "tag: needs a colour"},
	{"has:photo", ERR_INVALID, "has: only knows has:attachment"},
	{"-in:Trash", ERR_INVALID, "-in: cannot be negated"},
	{"+is:unread", ERR_INVALID, "+is: cannot be negated"},
	{"from:", ERR_INVALID, "from: needs a value"},
	{"发件人:", ERR_INVALID, "发件人: needs a value"},
	{"subject:\"\"", ERR_INVALID, "subject: needs a value"},
	{"bad \xff utf8", ERR_INVALID, "not valid UTF-8"},
	{"bad \xe5\xad", ERR_INVALID, "not valid UTF-8"},
};

static void test_parse_errors(void **state)
{
	struct arena *a = arena_new();
	struct search_parsed p = {.text = "untouched"};
	struct err err;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(parse_bad); i++) {
		err = (struct err){0};
		if (search_query_parse(parse_bad[i].q, 480, a, &p, &err) == 0)
			fail_msg("parse \"%s\" succeeded", parse_bad[i].q);
		assert_int_equal(err.code, parse_bad[i].code);
		if (strstr(err.msg, parse_bad[i].msg) == NULL)
			fail_msg("parse \"%s\": \"%s\" lacks \"%s\"", parse_bad[i].q, err.msg,
				 parse_bad[i].msg);
		assert_string_equal(p.text, "untouched"); /* out is written only on success */
	}

	/* limits: 1 KiB, 64 terms */
	char q[1100];
	memset(q, 'x', 1024);
	q[1024] = '\0';
	assert_int_equal(search_query_parse(q, 480, a, &p, &err), 0);
	q[1024] = 'x';
	q[1025] = '\0';
	assert_int_equal(search_query_parse(q, 480, a, &p, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	size_t o = 0;
	for (int i = 0; i < 64; i++)
		o += (size_t)sprintf(q + o, "w%d ", i);
	assert_int_equal(search_query_parse(q, 480, a, &p, &err), 0);
	sprintf(q + o, "one-more");
	assert_int_equal(search_query_parse(q, 480, a, &p, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_non_null(strstr(err.msg, "64 terms"));
	assert_int_equal(search_query_parse("x", 15 * 60, a, &p, &err), -1);
	assert_int_equal(err.code, ERR_INVALID);
	arena_free(&a);
}

/* ---- bare terms: index_bare() against TermGenerator (search_terms.cc) ---- */

int test_bare_terms(const char *text, size_t len, char *why, size_t why_len);

static void bare_same(const char *what, const char *text, size_t len)
{
	char why[512];
	int d = test_bare_terms(text, len, why, sizeof(why));
	if (d != 0)
		fail_msg("%s: %d terms differ; first: %s", what, d, why);
}

/* Each string is one case: the plain path's edges, and what it must leave to TermGenerator. */
static const char *const bare_cases[] = {
	"", "   \t\r\n ", "hello world", "Hello WORLD hello", "e-mail foo_bar x/y a@b (c) [d]",
	"world. end, then; ratio: 3", "1,000.5 and 3.14 and 1.a a.1 x.y.z e.g. i.e.",
	"U.S.A. U.S.A A. B.C", "don't it's rock'n'roll AT&T C++ C# c++, c#.", "a+b a#b +1 #2",
	"季度报告", "季度报告。下季度，预算", "“季度报告”《计划》【通知】、…—",
	"Q3季度报告 报告abc 2024年 iPhone手机 中文English中文", "季 度 报 告",
	"中文：测试；逗号,句号.", "Ｑ３季度 ＡＢＣ　全角", "𠀀𠀁 扩展B 㐀㐁 扩展A 鿕鿿 末尾",
	"한국어 日本語のテキスト カタカナ ไทย", "naïve café Straße ÆØÅ", "tab\there\vvt\fff",
	"ctrl\001char nul", "\xff\xfe broken \xe4\xb8 utf8 \xe4\xb8\xad", "_ __ a_b_ 9_9",
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1 "
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx12",
	"a.\n季度。\nend.", "http://example.com/a?b=c&d=e 邮件：a.b@example.cn", "1.5万元 3.5% 50%",
	"第一季度报告已经完成，请各部门于下周一（3月5日）前提交意见。谢谢！\n张三 敬上",
	"Re: 关于2024年度预算的通知 (第2版) -- 请查收附件《预算表.xlsx》",
};

/* Every corpus message under tests/data/mail/REL: its raw bytes, and its decoded subject,
 * text and attachment text. */
static void bare_sweep(const char *rel, size_t *files, size_t *texts)
{
	char path[1024];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s%s", DATA, rel);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char sub[512];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		snprintf(path, sizeof(path), "%s%s", DATA, sub);
		assert_int_equal(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			bare_sweep(sub, files, texts);
			continue;
		}
		size_t n;
		char *raw = slurp(sub, &n);
		struct mime_limits lim = deflim();
		struct arena *a = arena_new();
		struct mime_msg *m = NULL;
		struct err err = {0};
		bare_same(sub, raw, n);
		if (n > 0 && mime_parse(raw, n, &lim, a, &m, &err) == 0) {
			const char *t[] = {m->subject, m->text, m->attach_text};
			for (size_t i = 0; i < ARRAY_LEN(t); i++)
				if (t[i] != NULL && *t[i]) {
					bare_same(sub, t[i], strlen(t[i]));
					(*texts)++;
				}
		}
		(*files)++;
		free(raw);
		arena_free(&a);
	}
	closedir(d);
}

static void test_bare_terms_match(void **state)
{
	size_t files = 0, texts = 0;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bare_cases); i++)
		bare_same(bare_cases[i], bare_cases[i], strlen(bare_cases[i]));
	/* the check can fail: a case that differs is reported */
	char why[512];
	assert_int_equal(test_bare_terms("x", 1, why, sizeof(why)), 0);
	mime_init();
	bare_sweep("", &files, &texts);
	print_message("%zu files, %zu decoded texts\n", files, texts);
	assert_true(files >= 400);
	assert_true(texts >= 300);
}

int main(void)
{
	const struct CMUnitTest index_tests[] = {
		cmocka_unit_test(test_text_queries),   cmocka_unit_test(test_filters),
		cmocka_unit_test(test_order_and_paging), cmocka_unit_test(test_highlight),
		cmocka_unit_test(test_bad_queries),    cmocka_unit_test(test_parse_then_run),
	};
	const struct CMUnitTest own_index_tests[] = {
		cmocka_unit_test(test_checked_paging),
		cmocka_unit_test(test_long_text),
		cmocka_unit_test(test_set_folder),
		cmocka_unit_test(test_delete_and_replace),
		cmocka_unit_test(test_readers_and_locks),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_bare_terms_match),
	};
	int r = cmocka_run_group_tests_name("search index", index_tests, group_setup,
					    group_teardown);
	r |= cmocka_run_group_tests_name("search index of format 1", index_tests,
					 group_setup_format1, group_teardown);
	return r | cmocka_run_group_tests_name("search changes and syntax", own_index_tests,
					       NULL, NULL);
}
