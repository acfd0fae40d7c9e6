/* yizhan import|export: years of mail in and out, as .eml files, mbox files and Maildirs.
 *
 * Import batches messages (group commit: one file-system flush per batch), keys each message
 * by its digest and folder so running the same import again after a crash stores nothing
 * twice, skips and reports what it cannot read, and never stops for one bad message. Export
 * writes each message byte for byte as stored (mboxrd quoting in mbox files). */
#include "cli_mail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <openssl/sha.h>

#include "cli.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "search/index.h"

#define BATCH_MSGS 256
#define BATCH_BYTES (32u << 20)
#define REPORT_MAX 30
#define DIR_DEPTH_MAX 32
#define IMPORT_COMPACT_MIN 1000 /* messages: a bulk import, after which the index is compacted */
#define BG_INDEX_MIN 512        /* queued jobs the indexer waits for while the import stores */
#define BG_INDEX_MAX 4096       /* jobs per drain, so the index lock is let go now and then */

struct imp {
	struct cli_mail *cm;
	struct mailbox *mb;
	const char *base; /* --folder, or NULL */
	struct mail_new batch[BATCH_MSGS];
	char *owned[BATCH_MSGS]; /* buffers to free after the flush (or NULL) */
	char *keys[BATCH_MSGS];
	char *sources[BATCH_MSGS];
	size_t n, bytes_in_batch;
	int64_t stored, duplicates, skipped, bytes_done, bytes_total, stored_bytes;
	char *report[REPORT_MAX];
	size_t nreport;
	bool tty, fatal;
	uint64_t t0, last_draw;
};

static void skip(struct imp *im, const char *source, const char *why)
{
	im->skipped++;
	if (im->nreport < REPORT_MAX) {
		size_t n = strlen(source) + strlen(why) + 4;
		im->report[im->nreport] = xmalloc(n);
		snprintf(im->report[im->nreport], n, "%s: %s", source, why);
		im->nreport++;
	}
}

static void draw(struct imp *im, bool force)
{
	uint64_t now = time_mono_ns();
	double pct, secs;
	int bars;

	if (!im->tty || (!force && now - im->last_draw < 100000000ull))
		return;
	im->last_draw = now;
	pct = im->bytes_total ? 100.0 * (double)im->bytes_done / (double)im->bytes_total : 100.0;
	if (pct > 100.0)
		pct = 100.0;
	bars = (int)(pct / 5);
	secs = (double)(now - im->t0) / 1e9;
	fprintf(stderr, "\r导入 importing [%.*s%.*s] %3.0f%%  %lld 封/messages  %.0f/s  %lld skipped ",
		bars, "####################", 20 - bars, "....................", pct,
		(long long)im->stored, secs > 0 ? (double)im->stored / secs : 0.0,
		(long long)im->skipped);
}

static void flush(struct imp *im)
{
	struct mail_added added[BATCH_MSGS];
	struct err errs[BATCH_MSGS], err;

	if (im->n == 0)
		return;
	if (!im->fatal && mail_insert_batch(im->mb, im->batch, im->n, added, errs, &err) < 0) {
		if (err.code == ERR_QUOTA || err.code == ERR_IO) {
			/* nothing of this batch was stored, and the next would fail the same way */
			if (im->tty)
				fputc('\n', stderr);
			fprintf(stderr, "yizhan: import stopped: %s\n", err.msg);
			im->fatal = true;
		}
		for (size_t i = 0; i < im->n; i++)
			if (errs[i].code == ERR_OK)
				errs[i] = err;
	}
	for (size_t i = 0; i < im->n; i++) {
		if (im->fatal) {
			im->skipped++;
		} else if (added[i].id == 0) {
			skip(im, im->sources[i], errs[i].msg);
		} else if (added[i].duplicate) {
			im->duplicates++;
		} else {
			im->stored++;
			im->stored_bytes += (int64_t)im->batch[i].len;
		}
		free(im->owned[i]);
		free(im->keys[i]);
		free(im->sources[i]);
	}
	im->n = 0;
	im->bytes_in_batch = 0;
	draw(im, false);
}

/* A message must start like one: a header field name (RFC 5322 3.6.8: printable ASCII but
 * ':'; obsolete syntax, RFC 5322 4.5, allows white space before the colon). */
static bool looks_like_mail(const char *p, size_t n)
{
	size_t i = 0, name;
	while (i < n && i < 1000 && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f &&
	       p[i] != ':')
		i++;
	name = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return name > 0 && i < n && p[i] == ':';
}

/* Queue one message; takes ownership of owned (may be NULL when raw lives elsewhere until
 * the flush, e.g. an mbox mapping that outlives it). */
static void add(struct imp *im, const char *raw, size_t len, char *owned, int64_t folder,
		unsigned flags, int64_t idate, const char *source)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char hex[65];

	im->bytes_done += (int64_t)len;
	if (im->fatal) {
		free(owned);
		return;
	}
	if (len == 0 || !looks_like_mail(raw, len)) {
		skip(im, source, len ? "not a mail message (it does not start with a header field)"
				     : "empty file");
		free(owned);
		return;
	}
	SHA256((const unsigned char *)raw, len, h);
	hex_encode(h, sizeof(h), hex);
	im->keys[im->n] = xmalloc(100);
	snprintf(im->keys[im->n], 100, "import:%s:%lld", hex, (long long)folder);
	im->batch[im->n] = (struct mail_new){.folder_id = folder, .raw = raw, .len = len,
					     .internal_date = idate, .flags = flags,
					     .delivery_key = im->keys[im->n]};
	im->owned[im->n] = owned;
	im->sources[im->n] = xstrdup(source);
	im->n++;
	im->bytes_in_batch += len;
	if (im->n == BATCH_MSGS || im->bytes_in_batch >= BATCH_BYTES)
		flush(im);
}

static int read_file(const char *path, size_t max, char **data_r, size_t *len_r, char *why,
		     size_t whysz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((size_t)sb.st_size > max) {
		snprintf(why, whysz, "larger than %zu bytes (mime.max_bytes)", max);
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data_r = buf;
	*len_r = got;
	return 0;
}

static int64_t folder_for(struct imp *im, const char *sub)
{
	struct err err;
	int64_t id;
	const char *path;
	struct arena *a = arena_new();

	if (im->base && sub && *sub)
		path = arena_printf(a, "%s/%s", im->base, sub);
	else if (sub && *sub)
		path = sub;
	else
		path = im->base ? im->base : "INBOX";
	if (mail_folder_ensure_path(im->mb, path, &id, &err) < 0) {
		fprintf(stderr, "yizhan: folder '%s': %s; using INBOX\n", path, err.msg);
		if (mail_folder_by_special(im->mb, MAIL_INBOX, &id, &err) < 0)
			id = 0;
	}
	arena_free(&a);
	return id;
}

/* ---- mbox (mboxrd: one '>' is taken off ">From " lines; mboxo files read the same) ---- */

static bool is_from_line(const char *p, const char *end)
{
	return end - p >= 5 && memcmp(p, "From ", 5) == 0;
}

/* An mbox starts with a From_ line (RFC 4155): "From " and a sender (then a date).
 * "From  : John" (an obsolete-syntax header, RFC 5322 4.5) is not one. */
static bool is_from_sep(const char *p, size_t n)
{
	/* some writers leave the date out ("From mike@nowhere.com"): the sender suffices */
	return n > 5 && memcmp(p, "From ", 5) == 0 && !strchr(" \t:\r\n", p[5]);
}

/* asctime-style date of a From_ line ("From sender Sat Jan  3 01:05:34 1996"), or 0. */
static int64_t from_line_date(const char *line, size_t n)
{
	char buf[256];
	struct tm tm;
	const char *p;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, line, n);
	buf[n] = '\0';
	p = strchr(buf + 5, ' ');
	while (p) {
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(p + 1, "%a %b %d %H:%M:%S %Y", &tm);
		if (end)
			return (int64_t)timegm(&tm);
		p = strchr(p + 1, ' ');
	}
	return 0;
}

static void mbox_message(struct imp *im, const char *start, const char *end, int64_t folder,
			 int64_t idate, const char *source)
{
	size_t len = (size_t)(end - start);
	bool quoted = false;
	char *copy = NULL;

	/* the blank line before the next From_ belongs to the separator */
	if (len >= 2 && start[len - 1] == '\n' && start[len - 2] == '\n')
		len--;
	else if (len >= 4 && memcmp(start + len - 4, "\r\n\r\n", 4) == 0)
		len -= 2;
	for (const char *p = start; p < start + len;) {
		const char *nl = memchr(p, '\n', (size_t)(start + len - p));
		const char *eol = nl ? nl + 1 : start + len, *q = p;
		while (q < eol && *q == '>')
			q++;
		if (q > p && is_from_line(q, eol)) {
			quoted = true;
			break;
		}
		p = eol;
	}
	if (quoted) {
		char *o;
		const char *p = start;
		copy = xmalloc(len + 1);
		o = copy;
		while (p < start + len) {
			const char *nl = memchr(p, '\n', (size_t)(start + len - p));
			const char *eol = nl ? nl + 1 : start + len, *q = p;
			while (q < eol && *q == '>')
				q++;
			if (q > p && is_from_line(q, eol))
				p++; /* drop one '>' */
			memcpy(o, p, (size_t)(eol - p));
			o += eol - p;
			p = eol;
		}
		len = (size_t)(o - copy);
		add(im, copy, len, copy, folder, 0, idate, source);
		return;
	}
	add(im, start, len, NULL, folder, 0, idate, source);
}

static void import_mbox(struct imp *im, const char *path, int64_t folder)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	const char *data, *end, *p, *msg = NULL;
	int64_t idate = 0;
	size_t count = 0;
	char source[1200];

	if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size == 0) {
		skip(im, path, fd < 0 ? strerror(errno) : "empty file");
		if (fd >= 0)
			close(fd);
		return;
	}
	data = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED) {
		skip(im, path, strerror(errno));
		return;
	}
	end = data + sb.st_size;
	for (p = data; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		/* a From_ line starts the file or follows an empty line */
		bool sep = is_from_sep(p, (size_t)(end - p)) &&
			   (p == data || (p >= data + 2 && p[-2] == '\n') ||
			    (p >= data + 3 && p[-2] == '\r' && p[-3] == '\n'));
		if (sep) {
			if (msg) {
				snprintf(source, sizeof(source), "%s (message %zu)", path, count);
				mbox_message(im, msg, p, folder, idate, source);
			}
			count++;
			idate = from_line_date(p, (size_t)(next - p) - 1);
			msg = next;
		}
		p = next;
	}
	if (msg) {
		snprintf(source, sizeof(source), "%s (message %zu)", path, count);
		mbox_message(im, msg, end, folder, idate, source);
	} else {
		skip(im, path, "not an mbox file (no From_ line)");
	}
	/* the batch points into the mapping: store it before unmapping */
	flush(im);
	munmap((void *)data, (size_t)sb.st_size);
}

/* ---- single files and Maildirs ---- */

static bool is_mbox_file(const char *path)
{
	char head[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, head, sizeof(head)) : -1;
	if (fd >= 0)
		close(fd);
	return n > 0 && is_from_sep(head, (size_t)n);
}

static void import_file(struct imp *im, const char *path, int64_t folder, unsigned flags,
			int64_t idate)
{
	const struct mail_store_opts *o = mail_store_options(im->cm->ms);
	char why[256], *data;
	size_t len;

	if (is_mbox_file(path)) {
		import_mbox(im, path, folder);
		return;
	}
	if (read_file(path, o->mime.max_bytes, &data, &len, why, sizeof(why)) < 0) {
		im->bytes_done += 0;
		skip(im, path, why);
		return;
	}
	add(im, data, len, data, folder, flags, idate, path);
}

static unsigned maildir_flags(const char *name, bool in_new)
{
	const char *info = strstr(name, ":2,");
	unsigned f = 0;
	if (info == NULL)
		info = strstr(name, "!2,"); /* the Windows-friendly separator some tools use */
	for (const char *p = info ? info + 3 : ""; *p; p++) {
		switch (*p) {
		case 'S': f |= MAIL_SEEN; break;
		case 'R': f |= MAIL_ANSWERED; break;
		case 'F': f |= MAIL_FLAGGED; break;
		case 'T': f |= MAIL_DELETED; break;
		case 'D': f |= MAIL_DRAFT; break;
		}
	}
	if (in_new)
		f &= ~(unsigned)MAIL_SEEN;
	return f;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entries of a directory (names starting with '.' only when dots is set). */
static char **list_dir(const char *dir, bool dots, size_t *n_r)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*n_r = 0;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_name[0] == '.' && !dots)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	*n_r = n;
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_maildir(const char *path)
{
	char p[4200];
	if ((size_t)snprintf(p, sizeof(p), "%s/cur", path) >= sizeof(p))
		return false; /* too long a path to be one we can read */
	if (is_dir(p))
		return true;
	if ((size_t)snprintf(p, sizeof(p), "%s/new", path) >= sizeof(p))
		return false;
	return is_dir(p);
}

/* Maildir++ ".A.B" -> "A/B", with %2E and %25 decoded (how export writes dots). */
static char *maildirpp_name(const char *entry)
{
	char *out = xmalloc(strlen(entry) + 1), *o = out;
	for (const char *p = entry + 1; *p; p++) {
		if (*p == '.')
			*o++ = '/';
		else if (p[0] == '%' && p[1] == '2' && (p[2] == 'E' || p[2] == 'e'))
			*o++ = '.', p += 2;
		else if (p[0] == '%' && p[1] == '2' && p[2] == '5')
			*o++ = '%', p += 2;
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static void import_maildir_files(struct imp *im, const char *dir, int64_t folder)
{
	static const char *const subs[] = {"cur", "new"};
	for (size_t s = 0; s < 2; s++) {
		char sub[4200];
		size_t n;
		char **names;
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[s]);
		names = list_dir(sub, false, &n);
		for (size_t i = 0; i < n && !im->fatal; i++) {
			char path[4300];
			struct stat sb;
			snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
			if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
				continue;
			import_file(im, path, folder, maildir_flags(names[i], s == 1),
				    (int64_t)sb.st_mtime);
		}
		free_list(names, n);
	}
}

static void import_maildir(struct imp *im, const char *dir, const char *sub)
{
	size_t n;
	char **names;

	import_maildir_files(im, dir, folder_for(im, sub));
	/* Maildir++ subfolders */
	names = list_dir(dir, true, &n);
	for (size_t i = 0; i < n && !im->fatal; i++) {
		char path[4300], *name;
		if (names[i][0] != '.' || names[i][1] == '\0')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!is_maildir(path))
			continue;
		name = maildirpp_name(names[i]);
		import_maildir_files(im, path, folder_for(im, name));
		free(name);
	}
	free_list(names, n);
}

static void import_path(struct imp *im, const char *path, const char *sub, int depth);

/* A plain folder: files are messages or mbox files; subfolders nest. */
static void import_dir(struct imp *im, const char *dir, const char *sub, int depth)
{
	size_t n;
	char **names = list_dir(dir, false, &n);

	for (size_t i = 0; i < n && !im->fatal; i++) {
		char path[4300], child[2048];
		size_t len = strlen(names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (is_dir(path)) {
			snprintf(child, sizeof(child), "%s%s%s", sub ? sub : "", sub ? "/" : "", names[i]);
			import_path(im, path, child, depth + 1);
		} else if (len > 4 && strcmp(names[i] + len - 4, ".msf") == 0) {
			continue; /* Thunderbird's index files */
		} else if (is_mbox_file(path)) {
			/* "Sent.mbox" or "Sent" (Thunderbird) becomes the folder Sent */
			snprintf(child, sizeof(child), "%s%s%.*s", sub ? sub : "", sub ? "/" : "",
				 (int)(len > 5 && strcmp(names[i] + len - 5, ".mbox") == 0 ? len - 5 : len),
				 names[i]);
			import_mbox(im, path, folder_for(im, child));
		} else {
			import_file(im, path, folder_for(im, sub), 0, 0);
		}
	}
	free_list(names, n);
}

static void import_path(struct imp *im, const char *path, const char *sub, int depth)
{
	if (depth > DIR_DEPTH_MAX) {
		skip(im, path, "folders nested too deep");
		return;
	}
	if (is_maildir(path))
		import_maildir(im, path, sub);
	else if (is_dir(path))
		import_dir(im, path, sub, depth);
	else if (access(path, R_OK) == 0)
		import_file(im, path, folder_for(im, sub), 0, 0);
	else
		skip(im, path, strerror(errno));
}

static int64_t du(const char *path, int depth)
{
	struct stat sb;
	int64_t total = 0;

	if (depth > DIR_DEPTH_MAX || stat(path, &sb) < 0)
		return 0;
	if (!S_ISDIR(sb.st_mode))
		return (int64_t)sb.st_size;
	{
		size_t n;
		char **names = list_dir(path, true, &n);
		for (size_t i = 0; i < n; i++) {
			char p[4300];
			if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, names[i]) < sizeof(p))
				total += du(p, depth + 1); /* a longer one is left out of the total */
		}
		free_list(names, n);
	}
	return total;
}

static const char import_usage[] =
	"usage: yizhan import --data DIR ADDRESS PATH... [--folder NAME] [--no-index]\n"
	"\n"
	"PATH is a .eml file, an mbox file, a Maildir (with Maildir++ subfolders), or a folder\n"
	"of these (mbox files there become folders named after them). Everything goes into\n"
	"NAME ('Parent/Child', created if needed; default INBOX). Messages that cannot be read\n"
	"are skipped and listed at the end. Running the same import again stores nothing twice.\n"
	"The new mail is indexed for search afterwards unless --no-index (the server does it);\n"
	"after 1,000 messages or more the index is then compacted.\n";

/* ---- indexing while storing ----
 *
 * Storing is one thread at about 1,500 mails/s; indexing them is most of an import's time
 * (bench/store.sh). So the index is fed while the import stores: a thread with its own store
 * handle (a SQLite connection is not shared between threads) drains the index queue as the
 * import's batches commit, and the import's thread then only waits for the rest. */
struct bg_index {
	struct cli_mail cm;
	struct mailbox *mb;
	pthread_t th;
	atomic_bool stored; /* the import has committed everything it will store */
	int64_t done;       /* jobs indexed */
	uint64_t t0, t1;
	int rc; /* 0, or -1 with err */
	struct err err;
};

static void *bg_index_main(void *p)
{
	struct bg_index *bi = p;
	for (;;) {
		bool last = atomic_load(&bi->stored);
		int64_t pending = mail_index_pending(bi->mb);
		size_t n;
		if (pending == 0 && last)
			break;
		if (pending < BG_INDEX_MIN && !last) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (search_index_drain(bi->mb, BG_INDEX_MAX, &n, &bi->err) < 0) {
			bi->rc = -1; /* the import's own drain afterwards says what went wrong */
			break;
		}
		bi->done += (int64_t)n;
		if (n == 0 && last)
			break;
	}
	bi->t1 = time_mono_ns();
	return NULL;
}

/* Start the indexer for ADDRESS; NULL (and the import indexes afterwards) if it cannot. */
static struct bg_index *bg_index_start(const char *data, const char *address)
{
	struct bg_index *bi = xcalloc(1, sizeof(*bi));
	atomic_init(&bi->stored, false);
	bi->t0 = time_mono_ns();
	if (cli_mail_open(data, &bi->cm) != 0) {
		free(bi);
		return NULL;
	}
	if (cli_mail_mailbox(&bi->cm, address, &bi->mb, NULL) != 0 ||
	    pthread_create(&bi->th, NULL, bg_index_main, bi) != 0) {
		mailbox_unref(&bi->mb);
		cli_mail_close(&bi->cm);
		free(bi);
		return NULL;
	}
	return bi;
}

/* Tell the indexer the import is stored, wait for it to finish the queue, report. */
static void bg_index_finish(struct bg_index **bip, uint64_t stored_at)
{
	struct bg_index *bi = *bip;
	if (bi == NULL)
		return;
	*bip = NULL;
	atomic_store(&bi->stored, true);
	pthread_join(bi->th, NULL);
	if (bi->done > 0) {
		double s = (double)(bi->t1 - bi->t0) / 1e9;
		double after = bi->t1 > stored_at ? (double)(bi->t1 - stored_at) / 1e9 : 0.0;
		printf("indexed %lld messages in %.1f s (%.0f messages/s), %.1f s of it after "
		       "storing\n",
		       (long long)bi->done, s, s > 0 ? (double)bi->done / s : 0.0, after);
	}
	mailbox_unref(&bi->mb);
	cli_mail_close(&bi->cm);
	free(bi);
}

int cli_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"folder", required_argument, NULL, 'f'},
		{"no-index", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL, *folder = NULL;
	bool no_index = false;
	struct cli_mail cm;
	struct imp *im;
	struct bg_index *bi = NULL;
	uint64_t stored_at = 0;
	double secs;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'f': folder = optarg; break;
		case 'n': no_index = true; break;
		case 'h': fputs(import_usage, stdout); return 0;
		default:
			fprintf(stderr, "yizhan: unknown or incomplete option '%s'\n%s", argv[optind - 1],
				import_usage);
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "yizhan: import needs ADDRESS and at least one PATH\n%s", import_usage);
		return 2;
	}
	if ((rc = cli_mail_open(data, &cm)) != 0)
		return rc;
	im = xcalloc(1, sizeof(*im));
	im->cm = &cm;
	im->base = folder;
	im->tty = isatty(2);
	im->t0 = time_mono_ns();
	if ((rc = cli_mail_mailbox(&cm, argv[optind], &im->mb, NULL)) != 0)
		goto out;
	for (int i = optind + 1; i < argc; i++)
		im->bytes_total += du(argv[i], 0);
	if (!no_index)
		bi = bg_index_start(data, argv[optind]);
	for (int i = optind + 1; i < argc && !im->fatal; i++)
		import_path(im, argv[i], NULL, 0);
	flush(im);
	stored_at = time_mono_ns();
	{
		struct err e;
		if (mail_optimize(im->mb, &e) < 0)
			fprintf(stderr, "yizhan: optimize: %s\n", e.msg);
	}
	draw(im, true);
	if (im->tty)
		fputc('\n', stderr);
	secs = (double)(time_mono_ns() - im->t0) / 1e9;
	printf("imported %lld messages (%.1f MB) into %s in %.1f s (%.0f messages/s, %.1f MB/s)",
	       (long long)im->stored, (double)im->stored_bytes / 1e6, argv[optind], secs,
	       secs > 0 ? (double)im->stored / secs : 0.0,
	       secs > 0 ? (double)im->stored_bytes / 1e6 / secs : 0.0);
	if (im->duplicates)
		printf("; %lld already there", (long long)im->duplicates);
	printf("\n");
	if (im->skipped) {
		printf("skipped %lld:\n", (long long)im->skipped);
		for (size_t i = 0; i < im->nreport; i++)
			printf("  %s\n", im->report[i]);
		if ((size_t)im->skipped > im->nreport)
			printf("  ... and %lld more\n", (long long)im->skipped - (long long)im->nreport);
	}
	{
		struct buf b;
		buf_init(&b, 0);
		if (buf_puts(&b, "{\"address\":") == 0 && buf_json_str(&b, argv[optind]) == 0 &&
		    buf_printf(&b, ",\"stored\":%lld,\"skipped\":%lld}", (long long)im->stored,
			       (long long)im->skipped) == 0)
			cli_audit_write(data, "mail.import", buf_cstr(&b));
		buf_release(&b);
	}
	bg_index_finish(&bi, stored_at);
	if (!no_index && !im->fatal) /* what the indexer left, or all of it if it failed */
		rc = cli_index_drain(im->mb, false);
	/* Indexed mail by mail, the index's B-trees are left with partly filled blocks: after a
	 * bulk import, rewrite it compactly (about a third smaller), as reindex does. */
	if (!no_index && !im->fatal && rc == 0 && im->stored >= IMPORT_COMPACT_MIN &&
	    mail_index_pending(im->mb) == 0) {
		struct err e;
		int64_t before = 0, after = 0, docs;
		uint64_t t1 = time_mono_ns();
		if (search_index_stats(im->mb, &before, &docs, &e) < 0)
			before = 0;
		if (search_index_compact(im->mb, &e) < 0) {
			fprintf(stderr, "yizhan: compacting the index: %s\n", e.msg);
		} else {
			if (search_index_stats(im->mb, &after, &docs, &e) < 0)
				after = 0;
			printf("compacted the index in %.1f s (%.1f MB -> %.1f MB)\n",
			       (double)(time_mono_ns() - t1) / 1e9, (double)before / 1e6,
			       (double)after / 1e6);
		}
	}
	if (im->fatal)
		rc = 1;
out:
	bg_index_finish(&bi, time_mono_ns());
	for (size_t i = 0; i < im->nreport; i++)
		free(im->report[i]);
	mailbox_unref(&im->mb);
	free(im);
	cli_mail_close(&cm);
	return rc;
}

/* ---- export ---- */

struct exp {
	struct mailbox *mb;
	FILE *mbox;
	const char *maildir; /* the folder's Maildir when exporting Maildir */
	int64_t count, bytes;
	int failed;
	struct err err;
};

static int write_mbox(struct exp *e, const struct mail_msg *m, const char *raw, size_t len)
{
	char date[64];
	struct tm tm;
	time_t t = (time_t)m->internal_date;
	const char *p = raw, *end = raw + len;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(e->mbox, "From %s %s\n", *m->from.address ? m->from.address : "MAILER-DAEMON",
		date);
	/* mboxrd: every line that is ">*From " gets one more '>' */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl + 1 : end, *q = p;
		while (q < eol && *q == '>')
			q++;
		if (is_from_line(q, eol))
			fputc('>', e->mbox);
		fwrite(p, 1, (size_t)(eol - p), e->mbox);
		p = eol;
	}
	if (len == 0 || raw[len - 1] != '\n')
		fputc('\n', e->mbox);
	fputc('\n', e->mbox);
	return ferror(e->mbox) ? -1 : 0;
}

static int write_maildir(struct exp *e, const struct mail_msg *m, const char *raw, size_t len)
{
	char path[4300], flags[8];
	size_t k = 0;
	FILE *f;
	struct utimbuf ut = {.actime = (time_t)m->internal_date, .modtime = (time_t)m->internal_date};

	/* Maildir info flags in ASCII order */
	if (m->flags & MAIL_DRAFT)
		flags[k++] = 'D';
	if (m->flags & MAIL_FLAGGED)
		flags[k++] = 'F';
	if (m->flags & MAIL_ANSWERED)
		flags[k++] = 'R';
	if (m->flags & MAIL_SEEN)
		flags[k++] = 'S';
	if (m->flags & MAIL_DELETED)
		flags[k++] = 'T';
	flags[k] = '\0';
	snprintf(path, sizeof(path), "%s/cur/%lld.M%lldP%d.yizhan,S=%zu:2,%s", e->maildir,
		 (long long)m->internal_date, (long long)m->id, (int)getpid(), len, flags);
	f = fopen(path, "wx");
	if (f == NULL)
		return -1;
	if (fwrite(raw, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	utime(path, &ut);
	return 0;
}

static int export_one(void *ctx, const struct mail_msg *m)
{
	struct exp *e = ctx;
	char *raw;
	size_t len;
	int r;

	if (mail_raw(e->mb, m, &raw, &len, &e->err) < 0) {
		fprintf(stderr, "yizhan: message %lld: %s (left out)\n", (long long)m->id, e->err.msg);
		e->failed++;
		return 0;
	}
	r = e->mbox ? write_mbox(e, m, raw, len) : write_maildir(e, m, raw, len);
	free(raw);
	if (r < 0) {
		err_set(&e->err, ERR_IO, "write: %s", strerror(errno));
		return 1;
	}
	e->count++;
	e->bytes += (int64_t)len;
	return 0;
}

static int mkdirs(const char *path)
{
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

/* Maildir++ directory for a folder path: "" for INBOX, else ".A.B" with dots escaped. */
static void maildirpp_dir(const char *out, const char *path, bool inbox, char *dst, size_t dstsz)
{
	size_t k;
	if (inbox) {
		snprintf(dst, dstsz, "%s", out);
		return;
	}
	k = (size_t)snprintf(dst, dstsz, "%s/.", out);
	for (const char *p = path; *p && k + 4 < dstsz; p++) {
		if (*p == '/')
			dst[k++] = '.';
		else if (*p == '.')
			k += (size_t)snprintf(dst + k, dstsz - k, "%%2E");
		else if (*p == '%')
			k += (size_t)snprintf(dst + k, dstsz - k, "%%25");
		else
			dst[k++] = *p;
	}
	dst[k] = '\0';
}

static int export_folder(struct exp *e, const struct mail_folder *f, const char *format,
			 const char *out, bool single)
{
	struct arena *a = arena_new();
	const char *path = mail_folder_path(e->mb, f->id, a);
	char target[4300];
	int r;

	if (strcmp(format, "mbox") == 0) {
		if (single)
			snprintf(target, sizeof(target), "%s", out);
		else {
			snprintf(target, sizeof(target), "%s/%s.mbox", out, path);
			*strrchr(target, '/') = '\0';
			if (mkdirs(target) < 0)
				goto io;
			snprintf(target, sizeof(target), "%s/%s.mbox", out, path);
		}
		e->mbox = fopen(target, "w");
		if (e->mbox == NULL)
			goto io;
	} else {
		static const char *const subs[] = {"cur", "new", "tmp"};
		maildirpp_dir(out, path, f->special == MAIL_INBOX || single, target, sizeof(target));
		for (size_t i = 0; i < 3; i++) {
			char d[4400];
			snprintf(d, sizeof(d), "%s/%s", target, subs[i]);
			if (mkdirs(d) < 0)
				goto io;
		}
		e->maildir = target;
	}
	r = mail_each(e->mb, f->id, a, export_one, e, &e->err);
	if (e->mbox && fclose(e->mbox) != 0 && r == 0)
		r = err_set(&e->err, ERR_IO, "%s: %s", target, strerror(errno));
	e->mbox = NULL;
	arena_free(&a);
	return r == 0 ? 0 : -1;
io:
	err_set(&e->err, ERR_IO, "%s: %s", target, strerror(errno));
	arena_free(&a);
	return -1;
}

static const char export_usage[] =
	"usage: yizhan export --data DIR ADDRESS --format mbox|maildir OUT [--folder NAME]\n"
	"\n"
	"Writes every message as stored, byte for byte. mbox: OUT is a directory with one\n"
	"FOLDER.mbox per folder (mboxrd quoting), or with --folder one mbox file. maildir: OUT is\n"
	"a Maildir++ tree (INBOX at the top, other folders as .Parent.Child), flags in the file\n"
	"names; with --folder, that folder alone as a Maildir.\n";

int cli_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"format", required_argument, NULL, 'F'},
		{"folder", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL, *format = NULL, *folder = NULL;
	struct cli_mail cm;
	struct exp e = {0};
	struct arena *a;
	struct mail_folder *v;
	size_t n;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'F': format = optarg; break;
		case 'f': folder = optarg; break;
		case 'h': fputs(export_usage, stdout); return 0;
		default:
			fprintf(stderr, "yizhan: unknown or incomplete option '%s'\n%s", argv[optind - 1],
				export_usage);
			return 2;
		}
	}
	if (argc - optind != 2 || format == NULL ||
	    (strcmp(format, "mbox") != 0 && strcmp(format, "maildir") != 0)) {
		fprintf(stderr, "yizhan: export needs ADDRESS, --format mbox|maildir and OUT\n%s",
			export_usage);
		return 2;
	}
	if ((rc = cli_mail_open(data, &cm)) != 0)
		return rc;
	if ((rc = cli_mail_mailbox(&cm, argv[optind], &e.mb, NULL)) != 0) {
		cli_mail_close(&cm);
		return rc;
	}
	a = arena_new();
	if (folder) {
		struct mail_folder f;
		int64_t id;
		if (mail_folder_by_path(e.mb, folder, &id, &e.err) < 0 ||
		    mail_folder_get(e.mb, id, a, &f, &e.err) < 0 ||
		    export_folder(&e, &f, format, argv[optind + 1], true) < 0)
			rc = cli_fail("%s", e.err.msg);
	} else if (strcmp(format, "mbox") == 0 && mkdirs(argv[optind + 1]) < 0) {
		rc = cli_fail("%s: %s", argv[optind + 1], strerror(errno));
	} else if (mail_folder_list(e.mb, a, &v, &n, &e.err) < 0) {
		rc = cli_fail("%s", e.err.msg);
	} else {
		for (size_t i = 0; i < n && rc == 0; i++)
			if (v[i].total > 0 || strcmp(format, "maildir") == 0)
				if (export_folder(&e, &v[i], format, argv[optind + 1], false) < 0)
					rc = cli_fail("%s", e.err.msg);
	}
	if (rc == 0)
		printf("exported %lld messages (%.1f MB) from %s to %s%s\n", (long long)e.count,
		       (double)e.bytes / 1e6, argv[optind], argv[optind + 1],
		       e.failed ? " (some left out, see above)" : "");
	if (e.failed && rc == 0)
		rc = 1;
	arena_free(&a);
	mailbox_unref(&e.mb);
	cli_mail_close(&cm);
	return rc;
}
