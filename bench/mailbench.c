/* bench/mailbench.c: in-process latency of a folder's list pages and of search, for
 * bench/store.sh. A benchmark, not a test (docs/BENCHMARKS.md): never registered with meson test.
 *
 * usage: bench-mail DATA_DIR ACCOUNT_ID [--queries FILE] [--repeats N] [--list-repeats N]
 *                   [--seconds S] [--no-count]
 *
 * Opens the store as the daemon does (the data directory's yizhan.conf for the store options;
 * when started as root it first becomes the owner of DATA_DIR, so nothing it touches changes
 * hands), takes the account's INBOX and measures, each call with its own arena as a request has:
 *
 *   list   the first page (limit 50, want_total as GET /api/v1/messages asks), repeated;
 *          every page of the folder by following the cursors to the end, without the total
 *          ("walk": the keyset paging alone); and up to 200 of those pages, evenly spread
 *          over the depth, again with the total as the API asks ("deep"); for sort=date
 *          (newest first), sort=from (A to Z) and filter=unread.
 *   search each query of FILE (lines "name<TAB>query[<TAB>...]"), limit 50, by_date true and
 *          false, repeated; and, once and untimed, the exact number of matches by paging
 *          through all of them (limit 200) next to the first page's estimate.
 *
 * Every timed series is repeated up to N times or S seconds, whichever comes first (at least
 * 20 samples), after 3 untimed warm-up calls. Output is one line per series, key=value pairs,
 * for bench/store.sh to parse:
 *   info account=1 folder_id=1 messages=100000 unread=29876 index_bytes=... index_docs=...
 *   list name=first sort=date filter=none n=500 rows=50 p50_ms=0.41 p95_ms=0.52 ...
 *   list name=walk sort=date filter=none rows=100000 pages=2000 n=2000 p50_ms=... ...
 *   list name=deep sort=date filter=none pages=200 of=2000 n=200 p50_ms=... ...
 *   search name=zh-rare by_date=1 n=200 hits=50 total=61 count=61 p50_ms=... p95_ms=... ...
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/util.h"
#include "search/index.h"
#include "store/mail.h"

#define QUERIES_MAX 64
#define WARMUP 3
#define MIN_SAMPLES 20
#define COUNT_PAGES_MAX 5000
#define DEEP_PAGES 200

struct series {
	double *v;
	size_t n, cap;
};

static void add(struct series *s, double ms)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	s->v[s->n++] = ms;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p % of the samples at or below it. */
static double pct(const struct series *s, double p)
{
	size_t k;
	if (s->n == 0)
		return 0;
	k = (size_t)(p / 100.0 * (double)s->n);
	if ((double)k < p / 100.0 * (double)s->n)
		k++; /* ceiling */
	return s->v[k ? k - 1 : 0];
}

static void stats(struct series *s)
{
	double sum = 0;
	qsort(s->v, s->n, sizeof(*s->v), dcmp);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	printf(" n=%zu p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f\n", s->n,
	       pct(s, 50), pct(s, 95), pct(s, 99), s->n ? s->v[s->n - 1] : 0.0,
	       s->n ? sum / (double)s->n : 0.0);
	fflush(stdout);
	s->n = 0;
}

static double ms_since(uint64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e6;
}

static void die(const char *what, const struct err *err)
{
	fprintf(stderr, "bench-mail: %s: %s\n", what, err->msg);
	exit(1);
}

/* Become the owner of the data directory when started as root (as the yizhan CLI does), so
 * the -wal/-shm files and anything the store creates stay the service user's. */
static void drop_root(const char *data)
{
	struct stat sb;
	if (geteuid() != 0)
		return;
	if (stat(data, &sb) < 0) {
		fprintf(stderr, "bench-mail: %s: %s\n", data, strerror(errno));
		exit(1);
	}
	if (sb.st_uid == 0)
		return;
	if (setgroups(0, NULL) < 0 || setgid(sb.st_gid) < 0 || setuid(sb.st_uid) < 0) {
		fprintf(stderr, "bench-mail: cannot become uid %d: %s\n", (int)sb.st_uid,
			strerror(errno));
		exit(1);
	}
}

struct opts {
	size_t repeats, list_repeats;
	double seconds;
	bool count;
};

static bool more(size_t done, size_t max, uint64_t t0, double seconds)
{
	if (done < MIN_SAMPLES)
		return true;
	return done < max && ms_since(t0) < seconds * 1000.0;
}

static const char *filter_name(unsigned f)
{
	return f & MAIL_F_UNREAD ? "unread" : "none";
}

static const char *sort_name(enum mail_sort s)
{
	return s == MAIL_SORT_FROM ? "from" : s == MAIL_SORT_SUBJECT ? "subject"
	     : s == MAIL_SORT_SIZE ? "size" : "date";
}

static void list_series(struct mailbox *mb, int64_t folder, enum mail_sort sort, unsigned filter,
			const struct opts *o)
{
	struct mail_list_q q = {.folder_id = folder, .sort = sort, .filter = filter, .limit = 50,
				.want_total = true,
				/* as the API orders them: names A to Z, dates newest first */
				.ascending = sort == MAIL_SORT_FROM || sort == MAIL_SORT_SUBJECT};
	struct series s = {0};
	struct mail_msg *v;
	const char *next;
	int64_t total;
	size_t n = 0, rows = 0, pages = 0;
	struct err err;
	uint64_t t0;

	/* the first page */
	for (size_t i = 0; i < WARMUP; i++) {
		struct arena *a = arena_new();
		if (mail_list(mb, &q, a, &v, &n, &next, &total, &err) < 0)
			die("mail_list", &err);
		arena_free(&a);
	}
	t0 = time_mono_ns();
	for (size_t i = 0; more(i, o->list_repeats, t0, o->seconds); i++) {
		uint64_t t = time_mono_ns();
		struct arena *a = arena_new();
		if (mail_list(mb, &q, a, &v, &n, &next, &total, &err) < 0)
			die("mail_list", &err);
		arena_free(&a);
		add(&s, ms_since(t));
	}
	printf("list name=first sort=%s filter=%s rows=%zu total=%lld", sort_name(sort),
	       filter_name(filter), n, (long long)total);
	stats(&s);

	/* every page, following the cursors to the end (each cursor copied out of the page's
	 * arena, as a client sends it back), without the total: the keyset paging alone */
	{
		char **cursors = NULL;
		size_t cap = 0;
		char *cursor = NULL;
		double last = 0;
		q.want_total = false;
		for (;;) {
			uint64_t t = time_mono_ns();
			struct arena *a = arena_new();
			q.cursor = cursor;
			if (mail_list(mb, &q, a, &v, &n, &next, &total, &err) < 0)
				die("mail_list (walk)", &err);
			cursor = next ? strdup(next) : NULL;
			arena_free(&a);
			last = ms_since(t);
			add(&s, last);
			rows += n;
			if (pages == cap) {
				cap = cap ? cap * 2 : 1024;
				cursors = realloc(cursors, cap * sizeof(*cursors));
				if (cursors == NULL) {
					perror("realloc");
					exit(1);
				}
			}
			cursors[pages++] = (char *)q.cursor; /* NULL for the first page */
			if (cursor == NULL || n == 0)
				break;
		}
		free(cursor);
		printf("list name=walk sort=%s filter=%s rows=%zu pages=%zu last_ms=%.3f",
		       sort_name(sort), filter_name(filter), rows, pages, last);
		stats(&s);

		/* pages at every depth again, now with the total as the API asks for it: up to
		 * DEEP_PAGES of them, evenly spread from the first to the last */
		q.want_total = true;
		{
			size_t step = pages > DEEP_PAGES ? pages / DEEP_PAGES : 1, k = 0;
			for (size_t i = 0; i < pages; i += step, k++) {
				uint64_t t = time_mono_ns();
				struct arena *a = arena_new();
				q.cursor = cursors[i];
				if (mail_list(mb, &q, a, &v, &n, &next, &total, &err) < 0)
					die("mail_list (deep)", &err);
				arena_free(&a);
				add(&s, ms_since(t));
			}
			printf("list name=deep sort=%s filter=%s pages=%zu of=%zu", sort_name(sort),
			       filter_name(filter), k, pages);
			stats(&s);
		}
		for (size_t i = 0; i < pages; i++)
			free(cursors[i]);
		free(cursors);
	}
	free(s.v);
}

struct query {
	char name[64];
	char q[1024];
};

static size_t load_queries(const char *path, struct query *qv)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	size_t n = 0;

	if (f == NULL) {
		fprintf(stderr, "bench-mail: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (n < QUERIES_MAX && fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *end;
		if (line[0] == '#' || tab == NULL)
			continue;
		*tab = '\0';
		end = strpbrk(tab + 1, "\t\r\n");
		if (end)
			*end = '\0';
		snprintf(qv[n].name, sizeof(qv[n].name), "%.63s", line);
		snprintf(qv[n].q, sizeof(qv[n].q), "%.1023s", tab + 1);
		n++;
	}
	fclose(f);
	return n;
}

/* Exact number of matches, by paging through all of them. -1 if it had to stop. */
static int64_t count_all(struct mailbox *mb, const char *query)
{
	struct mail_search_q q = {.q = query, .by_date = true, .limit = 200};
	char *cursor = NULL;
	int64_t count = 0;
	size_t pages = 0;

	for (;;) {
		struct arena *a = arena_new();
		struct mail_search_hit *v;
		const char *next;
		int64_t total;
		size_t n;
		struct err err;
		q.cursor = cursor;
		if (search_mail(mb, &q, a, &v, &n, &next, &total, &err) < 0) {
			fprintf(stderr, "bench-mail: counting '%s': %s\n", query, err.msg);
			arena_free(&a);
			free(cursor);
			return -1;
		}
		count += (int64_t)n;
		free(cursor);
		cursor = next && n ? strdup(next) : NULL;
		arena_free(&a);
		if (cursor == NULL)
			return count;
		if (++pages >= COUNT_PAGES_MAX) {
			free(cursor);
			return -1;
		}
	}
}

static void search_series(struct mailbox *mb, const struct query *qu, bool by_date,
			  const struct opts *o)
{
	struct mail_search_q q = {.q = qu->q, .by_date = by_date, .limit = 50};
	struct series s = {0};
	struct mail_search_hit *v;
	const char *next;
	int64_t total = 0, count = -2;
	size_t n = 0;
	struct err err;
	uint64_t t0;

	for (size_t i = 0; i < WARMUP; i++) {
		struct arena *a = arena_new();
		if (search_mail(mb, &q, a, &v, &n, &next, &total, &err) < 0) {
			printf("search name=%s by_date=%d error=\"%s\"\n", qu->name, by_date ? 1 : 0,
			       err.msg);
			arena_free(&a);
			return;
		}
		arena_free(&a);
	}
	t0 = time_mono_ns();
	for (size_t i = 0; more(i, o->repeats, t0, o->seconds); i++) {
		uint64_t t = time_mono_ns();
		struct arena *a = arena_new();
		if (search_mail(mb, &q, a, &v, &n, &next, &total, &err) < 0)
			die("search_mail", &err);
		arena_free(&a);
		add(&s, ms_since(t));
	}
	if (o->count && by_date)
		count = count_all(mb, qu->q);
	printf("search name=%s by_date=%d hits=%zu total=%lld", qu->name, by_date ? 1 : 0, n,
	       (long long)total);
	if (count != -2)
		printf(" count=%lld", (long long)count);
	stats(&s);
	free(s.v);
}

static const char usage[] =
	"usage: bench-mail DATA_DIR ACCOUNT_ID [--queries FILE] [--repeats N] [--list-repeats N]\n"
	"                  [--seconds S] [--no-count] [--no-list]\n";

int main(int argc, char **argv)
{
	struct opts o = {.repeats = 200, .list_repeats = 500, .seconds = 10, .count = true};
	const char *data = NULL, *qfile = NULL;
	int64_t account = 0, inbox;
	bool do_list = true;
	struct mail_store_opts mo;
	struct mail_store *ms;
	struct mailbox *mb;
	struct config cfg;
	struct err err;
	int pos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--queries") == 0 && i + 1 < argc)
			qfile = argv[++i];
		else if (strcmp(a, "--repeats") == 0 && i + 1 < argc)
			o.repeats = strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--list-repeats") == 0 && i + 1 < argc)
			o.list_repeats = strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--seconds") == 0 && i + 1 < argc)
			o.seconds = strtod(argv[++i], NULL);
		else if (strcmp(a, "--no-count") == 0)
			o.count = false;
		else if (strcmp(a, "--no-list") == 0)
			do_list = false;
		else if (a[0] == '-') {
			fputs(usage, stderr);
			return 2;
		} else if (pos == 0)
			data = a, pos++;
		else if (pos == 1 && str_to_i64(a, 1, INT64_MAX, &account) == 0)
			pos++;
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (pos != 2) {
		fputs(usage, stderr);
		return 2;
	}
	drop_root(data);
	if (config_load(&cfg, data, &err) < 0)
		die("config", &err);
	mail_store_opts_default(&mo);
	mo.retention_seconds = cfg.mail_retention_days * 86400;
	mo.cache_mailboxes = (size_t)cfg.mail_cache_mailboxes;
	mo.tz_minutes = (int)cfg.mail_tz_minutes;
	mo.index_shards = (unsigned)cfg.mail_index_shards;
	mo.mime.max_bytes = (size_t)cfg.mime_max_bytes;
	mo.mime.max_header_bytes = (size_t)cfg.mime_max_header_bytes;
	mo.mime.max_line = (size_t)cfg.mime_max_line;
	mo.mime.max_parts = (size_t)cfg.mime_max_parts;
	mo.mime.max_depth = (size_t)cfg.mime_max_depth;
	mo.mime.max_text = (size_t)cfg.mime_max_text;
	if (mail_store_open(data, &mo, &ms, &err) < 0)
		die("mail_store_open", &err);
	if (!mailbox_exists(ms, account)) {
		fprintf(stderr, "bench-mail: account %lld has no mailbox in %s\n", (long long)account,
			data);
		return 1;
	}
	if (mailbox_open(ms, account, -1, &mb, &err) < 0)
		die("mailbox_open", &err);
	if (mail_folder_by_special(mb, MAIL_INBOX, &inbox, &err) < 0)
		die("INBOX", &err);
	{
		struct arena *a = arena_new();
		struct mail_folder f;
		int64_t ibytes = -1, idocs = -1;
		char path[1200];
		struct stat sb;
		if (mail_folder_get(mb, inbox, a, &f, &err) < 0)
			die("mail_folder_get", &err);
		if (search_index_stats(mb, &ibytes, &idocs, &err) < 0)
			fprintf(stderr, "bench-mail: search_index_stats: %s\n", err.msg);
		snprintf(path, sizeof(path), "%s/mail.db", mailbox_dir(mb));
		printf("info account=%lld folder_id=%lld messages=%lld unread=%lld folder_bytes=%lld"
		       " index_bytes=%lld index_docs=%lld maildb_bytes=%lld pending=%lld\n",
		       (long long)account, (long long)inbox, (long long)f.total, (long long)f.unread,
		       (long long)f.bytes, (long long)ibytes, (long long)idocs,
		       stat(path, &sb) == 0 ? (long long)sb.st_size : -1LL,
		       (long long)mail_index_pending(mb));
		fflush(stdout);
		arena_free(&a);
	}
	if (do_list) {
		list_series(mb, inbox, MAIL_SORT_DATE, 0, &o);
		list_series(mb, inbox, MAIL_SORT_FROM, 0, &o);
		list_series(mb, inbox, MAIL_SORT_DATE, MAIL_F_UNREAD, &o);
	}
	if (qfile) {
		static struct query qv[QUERIES_MAX];
		size_t nq = load_queries(qfile, qv);
		for (size_t i = 0; i < nq; i++) {
			search_series(mb, &qv[i], true, &o);
			search_series(mb, &qv[i], false, &o);
		}
	}
	mailbox_unref(&mb);
	mail_store_close(&ms);
	return 0;
}
