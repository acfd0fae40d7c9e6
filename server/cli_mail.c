/* yizhan check|restore|reindex|gc|purge: mail store maintenance from the shell. */
#include "cli_mail.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "search/index.h"
#include "store/blob.h"
#include "store/queue.h"

void cli_mail_opts(const struct config *c, struct mail_store_opts *o)
{
	mail_store_opts_default(o);
	o->retention_seconds = c->mail_retention_days * 86400;
	o->cache_mailboxes = (size_t)c->mail_cache_mailboxes;
	o->tz_minutes = (int)c->mail_tz_minutes;
	o->index_shards = (unsigned)c->mail_index_shards;
	o->mime.max_bytes = (size_t)c->mime_max_bytes;
	o->mime.max_header_bytes = (size_t)c->mime_max_header_bytes;
	o->mime.max_line = (size_t)c->mime_max_line;
	o->mime.max_parts = (size_t)c->mime_max_parts;
	o->mime.max_depth = (size_t)c->mime_max_depth;
	o->mime.max_text = (size_t)c->mime_max_text;
}

int cli_mail_open(const char *data, struct cli_mail *cm)
{
	struct mail_store_opts o;
	struct err err;
	char conf[1100];

	memset(cm, 0, sizeof(*cm));
	if (data == NULL) {
		fprintf(stderr, "yizhan: --data DIR is required\n");
		return 2;
	}
	snprintf(conf, sizeof(conf), "%s/yizhan.conf", data);
	if (access(conf, F_OK) != 0)
		return cli_fail("%s is not a data directory (no yizhan.conf; run 'yizhan init')", data);
	if (config_load(&cm->cfg, data, &err) < 0)
		return cli_fail("%s", err.msg);
	cli_mail_opts(&cm->cfg, &o);
	if (store_open(data, false, &cm->st, &err) < 0 ||
	    mail_store_open(data, &o, &cm->ms, &err) < 0) {
		store_close(&cm->st);
		return cli_fail("%s", err.msg);
	}
	return 0;
}

void cli_mail_close(struct cli_mail *cm)
{
	mail_store_close(&cm->ms);
	store_close(&cm->st);
}

int cli_mail_mailbox(struct cli_mail *cm, const char *address, struct mailbox **mb_r,
		     int64_t *account_r)
{
	struct store_account a;
	struct store_limits lim;
	struct err err;

	if (store_account_get(cm->st, address, &a, &err) < 0)
		return cli_fail("%s", err.msg);
	if (a.role != ROLE_USER)
		return cli_fail("%s is an admin account (%s): admin accounts have no mailbox",
				a.address, role_name(a.role));
	if (store_account_limits(cm->st, a.id, &lim, &err) < 0 ||
	    mailbox_open(cm->ms, a.id, lim.quota_bytes, mb_r, &err) < 0)
		return cli_fail("%s", err.msg);
	if (account_r)
		*account_r = a.id;
	return 0;
}

int cli_index_drain(struct mailbox *mb, bool quiet)
{
	int64_t total = mail_index_pending(mb), done = 0;
	uint64_t t0 = time_mono_ns();
	bool tty = isatty(2) && !quiet;
	struct err err;

	while (done < total) {
		size_t n;
		if (search_index_drain(mb, 1000, &n, &err) < 0) {
			if (tty)
				fputc('\n', stderr);
			if (err.code == ERR_LIMIT) {
				fprintf(stderr, "yizhan: %s; the running server indexes the rest\n",
					err.msg);
				return 0;
			}
			return cli_fail("indexing: %s", err.msg);
		}
		if (n == 0)
			break;
		done += (int64_t)n;
		if (tty)
			fprintf(stderr, "\r索引 indexing %lld/%lld", (long long)done, (long long)total);
	}
	if (tty)
		fputc('\n', stderr);
	if (!quiet && done > 0) {
		double s = (double)(time_mono_ns() - t0) / 1e9;
		printf("indexed %lld messages in %.1f s (%.0f messages/s)\n", (long long)done, s,
		       s > 0 ? (double)done / s : 0.0);
	}
	return 0;
}

/* ---- option parsing shared by the commands below ---- */

struct mopts {
	const char *data, *since, *folder;
	bool rebuild, help;
	int64_t grace;
	char *pos[8];
	int npos;
};

static int mparse(int argc, char **argv, struct mopts *o, const char *usage)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},   {"since", required_argument, NULL, 's'},
		{"folder", required_argument, NULL, 'f'}, {"rebuild", no_argument, NULL, 'r'},
		{"grace", required_argument, NULL, 'g'},  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->grace = 86400;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 's': o->since = optarg; break;
		case 'f': o->folder = optarg; break;
		case 'r': o->rebuild = true; break;
		case 'g':
			if (str_to_i64(optarg, 0, INT64_MAX / 2, &o->grace) < 0) {
				fprintf(stderr, "yizhan: --grace is a number of seconds\n%s", usage);
				return 2;
			}
			break;
		case 'h': o->help = true; break;
		default:
			fprintf(stderr, "yizhan: unknown or incomplete option '%s'\n%s", argv[optind - 1],
				usage);
			return 2;
		}
	}
	for (; optind < argc; optind++) {
		if (o->npos == 8) {
			fprintf(stderr, "yizhan: too many arguments\n%s", usage);
			return 2;
		}
		o->pos[o->npos++] = argv[optind];
	}
	if (o->help) {
		fputs(usage, stdout);
		return -1;
	}
	return 0;
}

/* YYYY-MM-DD in the configured zone, or unix seconds. */
static int parse_date(const char *s, int tz_minutes, int64_t *t_r)
{
	struct tm tm = {0};
	char *end;

	if (str_to_i64(s, 0, INT64_MAX / 2, t_r) == 0)
		return 0;
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	*t_r = (int64_t)timegm(&tm) - (int64_t)tz_minutes * 60;
	return 0;
}

/* ---- check ---- */

static const char check_usage[] =
	"usage: yizhan check --data DIR [ADDRESS...]\n"
	"       yizhan check --data DIR --rebuild ADDRESS\n"
	"\n"
	"Verifies every blob's SHA-256, every mailbox database (integrity check) and that every\n"
	"message's blob is there. --rebuild recreates an account's mail.db: from its journal and\n"
	"the blobs when the database is missing or damaged (flags, notes and other user-set state\n"
	"are lost), otherwise only the cached envelope, structure, snippet and threads. Exit 0 when\n"
	"everything is sound.\n";

struct check_ctx {
	struct cli_mail *cm;
	int64_t mailboxes, bad_db, blobs, bad_blobs, missing;
};

static int check_blob(void *ctx, const char *digest, int64_t size, int64_t mtime)
{
	struct check_ctx *c = ctx;
	struct err err;
	c->blobs++;
	if (blob_verify(mail_store_blobs(c->cm->ms), digest, &err) < 0) {
		printf("damaged blob: %s\n", err.msg);
		c->bad_blobs++;
	}
	return 0;
}

static int check_account(void *ctx, int64_t account)
{
	struct check_ctx *c = ctx;
	struct mailbox *mb;
	struct err err;
	struct store_account a;
	int64_t missing = 0;
	const char *who = store_account_get_id(c->cm->st, account, &a, NULL) == 0 ? a.address : "?";

	c->mailboxes++;
	if (mail_check_db(c->cm->ms, account, &err) < 0 ||
	    mailbox_open(c->cm->ms, account, -1, &mb, &err) < 0) {
		printf("account %lld (%s): damaged mail.db: %s\n  repair: yizhan check --data %s"
		       " --rebuild %s\n",
		       (long long)account, who, err.msg, c->cm->cfg.data_dir, who);
		c->bad_db++;
		return 0;
	}
	if (mail_blobs_missing(mb, &missing, &err) < 0) {
		printf("account %lld (%s): %s\n", (long long)account, who, err.msg);
		c->bad_db++;
	} else if (missing) {
		printf("account %lld (%s): %lld messages have no blob\n", (long long)account, who,
		       (long long)missing);
		c->missing += missing;
	}
	mailbox_unref(&mb);
	return 0;
}

int cli_check(int argc, char **argv)
{
	struct mopts o;
	struct cli_mail cm;
	struct check_ctx c = {0};
	struct err err;
	int rc;

	if ((rc = mparse(argc, argv, &o, check_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (o.rebuild && o.npos != 1) {
		fprintf(stderr, "yizhan: --rebuild takes one ADDRESS\n%s", check_usage);
		return 2;
	}
	if ((rc = cli_mail_open(o.data, &cm)) != 0)
		return rc;
	if (o.rebuild) {
		struct store_account a;
		struct mailbox *mb;
		int64_t n;
		if (store_account_get(cm.st, o.pos[0], &a, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else if (mail_check_db(cm.ms, a.id, &err) < 0) {
			printf("%s: %s; rebuilding from the journal and the blobs\n", a.address, err.msg);
			if (mail_rebuild_from_log(cm.ms, a.id, &n, &err) < 0)
				rc = cli_fail("%s", err.msg);
			else
				printf("%s: rebuilt mail.db with %lld messages\n", a.address, (long long)n);
		} else if (cli_mail_mailbox(&cm, o.pos[0], &mb, NULL) != 0) {
			rc = 1;
		} else {
			if (mail_rebuild_cache(mb, &n, &err) < 0)
				rc = cli_fail("%s", err.msg);
			else
				printf("%s: recomputed the cached fields of %lld messages\n", a.address,
				       (long long)n);
			mailbox_unref(&mb);
		}
		if (rc == 0 && cli_mail_mailbox(&cm, o.pos[0], &mb, NULL) == 0) {
			if (search_index_reset(mb, &err) < 0)
				rc = cli_fail("%s", err.msg);
			else
				rc = cli_index_drain(mb, false);
			mailbox_unref(&mb);
		}
		if (rc == 0) {
			char *d = NULL;
			struct buf b;
			buf_init(&b, 0);
			if (buf_puts(&b, "{\"address\":") == 0 && buf_json_str(&b, a.address) == 0 &&
			    buf_puts(&b, "}") == 0)
				d = buf_take(&b);
			buf_release(&b);
			cli_audit_write(o.data, "mail.rebuild", d);
			free(d);
		}
		cli_mail_close(&cm);
		return rc;
	}
	c.cm = &cm;
	if (o.npos > 0) {
		/* only the named accounts (and their blobs' presence, not every blob's digest) */
		for (int i = 0; i < o.npos && rc == 0; i++) {
			struct store_account a;
			if (store_account_get(cm.st, o.pos[i], &a, &err) < 0)
				rc = cli_fail("%s", err.msg);
			else if (!mailbox_exists(cm.ms, a.id))
				printf("%s: no mailbox yet\n", a.address);
			else
				check_account(&c, a.id);
		}
	} else if (mail_store_each_account(cm.ms, check_account, &c, &err) < 0 ||
		   blob_walk(mail_store_blobs(cm.ms), check_blob, &c, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	}
	printf("mailboxes: %lld checked, %lld damaged\n", (long long)c.mailboxes,
	       (long long)c.bad_db);
	if (o.npos == 0)
		printf("blobs: %lld verified, %lld damaged, %lld referenced but missing\n",
		       (long long)c.blobs, (long long)c.bad_blobs, (long long)c.missing);
	else
		printf("blobs: %lld referenced but missing\n", (long long)c.missing);
	cli_mail_close(&cm);
	if (rc == 0 && (c.bad_db || c.bad_blobs || c.missing))
		rc = 1;
	return rc;
}

/* ---- restore ---- */

static const char restore_usage[] =
	"usage: yizhan restore --data DIR ADDRESS [--since DATE] [--folder NAME]\n"
	"\n"
	"Brings back messages that were expunged (deleted from Trash, IMAP EXPUNGE, POP3 DELE)\n"
	"within the retention period ([mail] retention_days), into the folder they were expunged\n"
	"from (Inbox if it is gone). DATE is YYYY-MM-DD (in [mail] tz_minutes) or unix seconds:\n"
	"only messages expunged since then. NAME limits it to one folder ('Parent/Child').\n";

int cli_restore(int argc, char **argv)
{
	struct mopts o;
	struct cli_mail cm;
	struct mailbox *mb = NULL;
	struct err err;
	int64_t since = 0, folder = 0, n = 0;
	int rc;

	if ((rc = mparse(argc, argv, &o, restore_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (o.npos != 1) {
		fprintf(stderr, "yizhan: restore takes one ADDRESS\n%s", restore_usage);
		return 2;
	}
	if ((rc = cli_mail_open(o.data, &cm)) != 0)
		return rc;
	if (o.since && parse_date(o.since, (int)cm.cfg.mail_tz_minutes, &since) < 0) {
		cli_mail_close(&cm);
		fprintf(stderr, "yizhan: --since is a date like 2024-05-01 or unix seconds\n%s",
			restore_usage);
		return 2;
	}
	if ((rc = cli_mail_mailbox(&cm, o.pos[0], &mb, NULL)) != 0)
		goto out;
	if (o.folder && mail_folder_by_path(mb, o.folder, &folder, &err) < 0) {
		rc = cli_fail("%s", err.msg);
		goto out;
	}
	if (mail_restore(mb, since, folder, &n, &err) < 0) {
		rc = cli_fail("%s", err.msg);
		goto out;
	}
	printf("%s: restored %lld messages\n", o.pos[0], (long long)n);
	{
		struct buf b;
		buf_init(&b, 0);
		if (buf_printf(&b, "{\"address\":") == 0 && buf_json_str(&b, o.pos[0]) == 0 &&
		    buf_printf(&b, ",\"restored\":%lld,\"since\":%lld,\"folder\":", (long long)n,
			       (long long)since) == 0 &&
		    buf_json_str(&b, o.folder ? o.folder : "") == 0 && buf_puts(&b, "}") == 0)
			cli_audit_write(o.data, "mail.restore", buf_cstr(&b));
		buf_release(&b);
	}
	/* the restored messages are queued for the index; make them findable now */
	rc = cli_index_drain(mb, true);
out:
	mailbox_unref(&mb);
	cli_mail_close(&cm);
	return rc;
}

/* ---- reindex ---- */

static const char reindex_usage[] =
	"usage: yizhan reindex --data DIR [ADDRESS...]\n"
	"\n"
	"Throws away the search index of each account (all accounts when none is named) and\n"
	"indexes every message again. An index made before format 2 (2026-12) comes back in\n"
	"format 2, about a third smaller.\n";

static int reindex_one(struct cli_mail *cm, int64_t account, const char *who)
{
	struct mailbox *mb;
	struct err err;
	int rc;

	if (mailbox_open(cm->ms, account, -1, &mb, &err) < 0)
		return cli_fail("%s: %s", who, err.msg);
	if (search_index_reset(mb, &err) < 0)
		rc = cli_fail("%s: %s", who, err.msg);
	else {
		printf("%s: ", who);
		fflush(stdout);
		rc = cli_index_drain(mb, false);
		if (mail_index_pending(mb) == 0 && rc == 0) {
			if (search_index_compact(mb, &err) < 0)
				fprintf(stderr, "yizhan: %s: compacting: %s\n", who, err.msg);
			printf("%s: index rebuilt\n", who);
		}
	}
	mailbox_unref(&mb);
	return rc;
}

struct reindex_ctx {
	struct cli_mail *cm;
	int rc;
};

static int reindex_each(void *ctx, int64_t account)
{
	struct reindex_ctx *r = ctx;
	char who[32];
	snprintf(who, sizeof(who), "account %lld", (long long)account);
	if (reindex_one(r->cm, account, who) != 0)
		r->rc = 1;
	return 0;
}

int cli_reindex(int argc, char **argv)
{
	struct mopts o;
	struct cli_mail cm;
	struct err err;
	int rc;

	if ((rc = mparse(argc, argv, &o, reindex_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if ((rc = cli_mail_open(o.data, &cm)) != 0)
		return rc;
	if (o.npos == 0) {
		struct reindex_ctx r = {.cm = &cm};
		if (mail_store_each_account(cm.ms, reindex_each, &r, &err) < 0)
			r.rc = cli_fail("%s", err.msg);
		rc = r.rc;
	}
	for (int i = 0; i < o.npos && rc == 0; i++) {
		struct store_account a;
		if (store_account_get(cm.st, o.pos[i], &a, &err) < 0)
			rc = cli_fail("%s", err.msg);
		else
			rc = reindex_one(&cm, a.id, a.address);
	}
	cli_mail_close(&cm);
	return rc;
}

/* ---- gc and purge ---- */

static const char gc_usage[] =
	"usage: yizhan gc --data DIR [--grace SECONDS]\n"
	"\n"
	"Mark and sweep: removes every blob no mailbox refers to (expunged mail still in its\n"
	"retention period counts as referred to) and that is older than the grace period\n"
	"(default 86400 s), so a blob written just before its message commits is never removed.\n";

static int mark_account(void *ctx, int64_t account)
{
	struct blob_marks *marks = ((void **)ctx)[0];
	struct cli_mail *cm = ((void **)ctx)[1];
	struct mailbox *mb;
	struct err err;

	if (mailbox_open(cm->ms, account, -1, &mb, &err) < 0) {
		fprintf(stderr, "yizhan: account %lld: %s (nothing is removed)\n", (long long)account,
			err.msg);
		return 1;
	}
	if (mail_mark_blobs(mb, marks, &err) < 0) {
		fprintf(stderr, "yizhan: account %lld: %s (nothing is removed)\n", (long long)account,
			err.msg);
		mailbox_unref(&mb);
		return 1;
	}
	mailbox_unref(&mb);
	return 0;
}

int cli_gc(int argc, char **argv)
{
	struct mopts o;
	struct cli_mail cm;
	struct blob_marks *marks;
	struct blob_sweep_stats st;
	struct err err;
	void *ctx[2];
	int rc;

	if ((rc = mparse(argc, argv, &o, gc_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (o.npos != 0) {
		fprintf(stderr, "yizhan: gc takes no arguments\n%s", gc_usage);
		return 2;
	}
	if ((rc = cli_mail_open(o.data, &cm)) != 0)
		return rc;
	marks = blob_marks_new();
	ctx[0] = marks;
	ctx[1] = &cm;
	/* any mailbox that cannot be read stops the sweep: better keep garbage than lose mail */
	rc = mail_store_each_account(cm.ms, mark_account, ctx, &err);
	if (rc == 0) {
		/* messages still in the queue refer to their blobs too */
		struct mta_queue *q;
		if (mta_queue_open(o.data, NULL, mail_store_blobs(cm.ms), &q, &err) < 0 ||
		    mta_queue_mark_blobs(q, marks, &err) < 0) {
			fprintf(stderr, "yizhan: queue: %s (nothing is removed)\n", err.msg);
			rc = 1;
		}
		mta_queue_close(&q);
	}
	if (rc != 0) {
		rc = 1;
	} else if (blob_sweep(mail_store_blobs(cm.ms), marks, o.grace, &st, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	} else {
		printf("blobs: %lld referenced, %lld kept, %lld removed (%lld bytes), %lld too young\n",
		       (long long)blob_marks_count(marks), (long long)st.kept, (long long)st.removed,
		       (long long)st.removed_bytes, (long long)st.young);
	}
	blob_marks_free(&marks);
	cli_mail_close(&cm);
	return rc;
}

static const char purge_usage[] =
	"usage: yizhan purge --data DIR\n"
	"\n"
	"Drops expunged messages older than the retention period from every mailbox (the daemon\n"
	"does this hourly); run 'yizhan gc' afterwards to free their blobs.\n";

static int purge_account(void *ctx, int64_t account)
{
	struct cli_mail *cm = ctx;
	struct mailbox *mb;
	struct err err;
	int64_t n = 0;

	if (mailbox_open(cm->ms, account, -1, &mb, &err) < 0 ||
	    mail_purge(mb, time_now(), &n, &err) < 0)
		fprintf(stderr, "yizhan: account %lld: %s\n", (long long)account, err.msg);
	else if (n)
		printf("account %lld: purged %lld messages\n", (long long)account, (long long)n);
	mailbox_unref(&mb);
	return 0;
}

int cli_purge(int argc, char **argv)
{
	struct mopts o;
	struct cli_mail cm;
	struct err err;
	int rc;

	if ((rc = mparse(argc, argv, &o, purge_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (o.npos != 0) {
		fprintf(stderr, "yizhan: purge takes no arguments\n%s", purge_usage);
		return 2;
	}
	if ((rc = cli_mail_open(o.data, &cm)) != 0)
		return rc;
	if (mail_store_each_account(cm.ms, purge_account, &cm, &err) < 0)
		rc = cli_fail("%s", err.msg);
	cli_mail_close(&cm);
	return rc;
}
