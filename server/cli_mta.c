/* yizhan queue|alias|list|app-password, yizhan domain dkim: mail routing from the shell. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mailauth.h"
#include "store/queue.h"
#include "store/store.h"

struct mo {
	const char *data, *name, *selector;
	bool help, no_send, group, all, off;
	char *pos[4];
	int npos;
};

static int mparse(int argc, char **argv, struct mo *o, const char *usage)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},     {"name", required_argument, NULL, 'n'},
		{"selector", required_argument, NULL, 's'}, {"no-send", no_argument, NULL, 'N'},
		{"group", no_argument, NULL, 'g'},          {"all", no_argument, NULL, 'a'},
		{"off", no_argument, NULL, 'o'},            {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'n': o->name = optarg; break;
		case 's': o->selector = optarg; break;
		case 'N': o->no_send = true; break;
		case 'g': o->group = true; break;
		case 'a': o->all = true; break;
		case 'o': o->off = true; break;
		case 'h': o->help = true; break;
		default:
			fprintf(stderr, "yizhan: unknown or incomplete option '%s'\n%s", argv[optind - 1],
				usage);
			return 2;
		}
	}
	for (; optind < argc; optind++) {
		if (o->npos == 4) {
			fprintf(stderr, "yizhan: too many arguments\n%s", usage);
			return 2;
		}
		o->pos[o->npos++] = argv[optind];
	}
	if (o->help) {
		fputs(usage, stdout);
		return -1;
	}
	if (o->data == NULL) {
		fprintf(stderr, "yizhan: --data DIR is required\n%s", usage);
		return 2;
	}
	return 0;
}

static int open_dir(const char *data, struct store **st)
{
	struct err err;
	char conf[1100];
	snprintf(conf, sizeof(conf), "%s/yizhan.conf", data);
	if (access(conf, F_OK) != 0)
		return cli_fail("%s is not a data directory (no yizhan.conf; run 'yizhan init')", data);
	if (store_open(data, false, st, &err) < 0)
		return cli_fail("%s", err.msg);
	return 0;
}

/* {"k":"v",...} for audit records */
static void audit2(const char *data, const char *type, const char *k1, const char *v1,
		   const char *k2, const char *v2)
{
	struct buf b;
	buf_init(&b, 0);
	if (buf_puts(&b, "{") == 0 && buf_json_str(&b, k1) == 0 && buf_puts(&b, ":") == 0 &&
	    buf_json_str(&b, v1 ? v1 : "") == 0 &&
	    (k2 == NULL || (buf_puts(&b, ",") == 0 && buf_json_str(&b, k2) == 0 &&
			    buf_puts(&b, ":") == 0 && buf_json_str(&b, v2 ? v2 : "") == 0)) &&
	    buf_puts(&b, "}") == 0)
		cli_audit_write(data, type, buf_cstr(&b));
	buf_release(&b);
}

/* ---- queue ---- */

static const char queue_usage[] =
	"usage: yizhan queue list    --data DIR [--all]\n"
	"       yizhan queue show    --data DIR QUEUEID\n"
	"       yizhan queue retry   --data DIR QUEUEID\n"
	"       yizhan queue hold    --data DIR QUEUEID\n"
	"       yizhan queue release --data DIR QUEUEID\n"
	"       yizhan queue delete  --data DIR QUEUEID\n"
	"\n"
	"list shows messages with recipients still to deliver (--all: every message kept).\n"
	"retry makes them due now; hold stops delivery until release; delete drops the message\n"
	"without a bounce.\n";

static const char *state_name(enum mta_rcpt_state s)
{
	switch (s) {
	case MTA_QUEUED: return "queued";
	case MTA_DELIVERED: return "delivered";
	case MTA_FAILED: return "failed";
	case MTA_HELD: return "held";
	}
	return "?";
}

static const char *when(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t == 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static int print_entry(void *ctx, const struct mta_queue_entry *e)
{
	bool verbose = ctx != NULL;
	char t1[32], t2[32];
	printf("%s  %s  %lld bytes  <%s>\n", e->qid, when(e->received, t1, sizeof(t1)),
	       (long long)e->size, e->sender);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct mta_queue_rcpt *r = &e->rcpts[i];
		printf("    <%s>  %s", r->rcpt, state_name(r->state));
		if (r->attempts)
			printf("  attempts=%lld", (long long)r->attempts);
		if (r->state == MTA_QUEUED)
			printf("  next=%s", when(r->next_try, t2, sizeof(t2)));
		if (r->text && *r->text && (verbose || r->state != MTA_DELIVERED))
			printf("  %s", r->text);
		printf("\n");
	}
	return 0;
}

int cli_queue(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct mta_queue *q;
	struct arena *a;
	struct err err;
	struct mo o;
	int rc;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(queue_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if ((rc = mparse(argc - 1, argv + 1, &o, queue_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (strcmp(verb, "list") != 0 && strcmp(verb, "show") != 0 && strcmp(verb, "retry") != 0 &&
	    strcmp(verb, "hold") != 0 && strcmp(verb, "release") != 0 &&
	    strcmp(verb, "delete") != 0) {
		fprintf(stderr, "yizhan: unknown queue command '%s'\n%s", verb, queue_usage);
		return 2;
	}
	if (o.npos != (strcmp(verb, "list") == 0 ? 0 : 1)) {
		fprintf(stderr, "yizhan: queue %s takes %s\n%s", verb,
			strcmp(verb, "list") == 0 ? "no arguments" : "one QUEUEID", queue_usage);
		return 2;
	}
	{
		char conf[1100];
		snprintf(conf, sizeof(conf), "%s/yizhan.conf", o.data);
		if (access(conf, F_OK) != 0)
			return cli_fail("%s is not a data directory (no yizhan.conf)", o.data);
	}
	if (mta_queue_open(o.data, NULL, NULL, &q, &err) < 0)
		return cli_fail("%s", err.msg);
	a = arena_new();
	rc = 0;
	if (strcmp(verb, "list") == 0) {
		if (mta_queue_list(q, o.all, a, print_entry, NULL, &err) < 0)
			rc = cli_fail("%s", err.msg);
	} else if (strcmp(verb, "show") == 0) {
		struct mta_queue_entry e;
		if (mta_queue_show(q, o.pos[0], a, &e, &err) < 0)
			rc = cli_fail("%s", err.msg);
		else
			print_entry((void *)1, &e);
	} else {
		int r = strcmp(verb, "retry") == 0     ? mta_queue_retry(q, o.pos[0], &err)
			: strcmp(verb, "hold") == 0    ? mta_queue_hold(q, o.pos[0], true, &err)
			: strcmp(verb, "release") == 0 ? mta_queue_hold(q, o.pos[0], false, &err)
						       : mta_queue_delete(q, o.pos[0], &err);
		if (r < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			char type[32];
			printf("%s: %s done\n", o.pos[0], verb);
			snprintf(type, sizeof(type), "queue.%s", verb);
			audit2(o.data, type, "qid", o.pos[0], NULL, NULL);
		}
	}
	arena_free(&a);
	mta_queue_close(&q);
	return rc;
}

/* ---- aliases ---- */

static const char alias_usage[] =
	"usage: yizhan alias add  --data DIR ALIAS ACCOUNT [--no-send]\n"
	"       yizhan alias del  --data DIR ALIAS\n"
	"       yizhan alias list --data DIR\n"
	"\n"
	"ALIAS is another address of ACCOUNT, in any hosted domain. The account may send as it\n"
	"unless --no-send.\n";

static void print_alias(void *ctx, const char *alias, const char *account, bool can_send)
{
	printf("%s\t%s\t%s\n", alias, account, can_send ? "send" : "receive-only");
}

int cli_alias(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct store *st;
	struct err err;
	struct mo o;
	int rc;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(alias_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if ((rc = mparse(argc - 1, argv + 1, &o, alias_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (!((strcmp(verb, "add") == 0 && o.npos == 2) || (strcmp(verb, "del") == 0 && o.npos == 1) ||
	      (strcmp(verb, "list") == 0 && o.npos == 0))) {
		fputs(alias_usage, stderr);
		return 2;
	}
	if ((rc = open_dir(o.data, &st)) != 0)
		return rc;
	if (strcmp(verb, "add") == 0) {
		struct store_account acct;
		if (store_account_get(st, o.pos[1], &acct, &err) < 0 ||
		    store_alias_add(st, o.pos[0], acct.id, !o.no_send, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("alias %s -> %s\n", o.pos[0], acct.address);
			audit2(o.data, "alias.create", "alias", o.pos[0], "account", acct.address);
		}
	} else if (strcmp(verb, "del") == 0) {
		if (store_alias_delete(st, o.pos[0], &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("alias %s removed\n", o.pos[0]);
			audit2(o.data, "alias.delete", "alias", o.pos[0], NULL, NULL);
		}
	} else if (store_alias_list(st, print_alias, NULL, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	}
	store_close(&st);
	return rc;
}

/* ---- groups and lists ---- */

static const char list_usage[] =
	"usage: yizhan list add     --data DIR ADDRESS [--name NAME] [--group]\n"
	"       yizhan list member  --data DIR ADDRESS MEMBER [--off]\n"
	"       yizhan list members --data DIR ADDRESS\n"
	"       yizhan list show    --data DIR\n"
	"\n"
	"A group (--group: the organisation's, like all@) or distribution list delivers to its\n"
	"members: accounts, aliases, other lists, or outside addresses. 'member' adds MEMBER,\n"
	"or with --off removes it.\n";

static void print_list(void *ctx, const char *address, const char *name, bool group,
		       int64_t members)
{
	printf("%s\t%s\t%lld members\t%s\n", address, group ? "group" : "list", (long long)members,
	       name);
}

static int print_member(void *ctx, const char *m)
{
	printf("%s\n", m);
	return 0;
}

int cli_list(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct store *st;
	struct err err;
	struct mo o;
	int rc;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(list_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if ((rc = mparse(argc - 1, argv + 1, &o, list_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (!((strcmp(verb, "add") == 0 && o.npos == 1) ||
	      (strcmp(verb, "member") == 0 && o.npos == 2) ||
	      (strcmp(verb, "members") == 0 && o.npos == 1) ||
	      (strcmp(verb, "show") == 0 && o.npos == 0))) {
		fputs(list_usage, stderr);
		return 2;
	}
	if ((rc = open_dir(o.data, &st)) != 0)
		return rc;
	if (strcmp(verb, "add") == 0) {
		if (store_list_add(st, o.pos[0], o.name, o.group, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("created %s %s\n", o.group ? "group" : "list", o.pos[0]);
			audit2(o.data, "list.create", "address", o.pos[0], "name", o.name);
		}
	} else if (strcmp(verb, "member") == 0) {
		if (store_list_member(st, o.pos[0], o.pos[1], !o.off, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("%s %s %s\n", o.pos[1], o.off ? "removed from" : "added to", o.pos[0]);
			audit2(o.data, o.off ? "list.member.remove" : "list.member.add", "list",
			       o.pos[0], "member", o.pos[1]);
		}
	} else if (strcmp(verb, "members") == 0) {
		if (store_list_members(st, o.pos[0], print_member, NULL, &err) < 0)
			rc = cli_fail("%s", err.msg);
	} else if (store_lists_each(st, print_list, NULL, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	}
	store_close(&st);
	return rc;
}

/* ---- app passwords ---- */

static const char apppw_usage[] =
	"usage: yizhan app-password add     --data DIR ADDRESS --name CLIENT\n"
	"       yizhan app-password list    --data DIR ADDRESS\n"
	"       yizhan app-password revoke  --data DIR ADDRESS ID\n"
	"       yizhan app-password require --data DIR ADDRESS [--off]\n"
	"\n"
	"App passwords (授权码) let mail clients sign in (SMTP, IMAP, POP3) without the account\n"
	"password; each is shown once. 'require' makes them the only way in for mail clients.\n";

static void print_apppw(void *ctx, int64_t id, const char *name, int64_t created, int64_t used)
{
	char t1[32], t2[32];
	printf("%lld\t%s\tcreated %s\tlast used %s\n", (long long)id, name,
	       when(created, t1, sizeof(t1)), when(used, t2, sizeof(t2)));
}

int cli_apppw(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : NULL;
	struct store_account acct;
	struct store *st;
	struct err err;
	struct mo o;
	int rc;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(apppw_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if ((rc = mparse(argc - 1, argv + 1, &o, apppw_usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (!((strcmp(verb, "add") == 0 && o.npos == 1 && o.name) ||
	      (strcmp(verb, "list") == 0 && o.npos == 1) ||
	      (strcmp(verb, "revoke") == 0 && o.npos == 2) ||
	      (strcmp(verb, "require") == 0 && o.npos == 1))) {
		fputs(apppw_usage, stderr);
		return 2;
	}
	if ((rc = open_dir(o.data, &st)) != 0)
		return rc;
	if (store_account_get(st, o.pos[0], &acct, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	} else if (strcmp(verb, "add") == 0) {
		char pw[33];
		int64_t id;
		struct config c;
		unsigned iter = config_load(&c, o.data, &err) == 0 ? (unsigned)c.scram_iterations
								    : 16384;
		if (store_apppw_add(st, acct.id, o.name, pw, iter, &id, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("%s\napp password %lld for %s (%s); it is shown only now\n", pw,
			       (long long)id, acct.address, o.name);
			audit2(o.data, "apppw.create", "address", acct.address, "name", o.name);
		}
	} else if (strcmp(verb, "list") == 0) {
		if (store_apppw_list(st, acct.id, print_apppw, NULL, &err) < 0)
			rc = cli_fail("%s", err.msg);
	} else if (strcmp(verb, "revoke") == 0) {
		int64_t id;
		if (str_to_i64(o.pos[1], 1, INT64_MAX, &id) < 0) {
			rc = cli_fail("'%s' is not an app password id", o.pos[1]);
		} else if (store_apppw_revoke(st, acct.id, id, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			printf("app password %lld revoked\n", (long long)id);
			audit2(o.data, "apppw.revoke", "address", acct.address, "id", o.pos[1]);
		}
	} else {
		struct store_mail_settings ms;
		if (store_mail_settings_get(st, acct.id, &ms, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			ms.require_app_password = !o.off;
			if (store_mail_settings_set(st, acct.id, &ms, &err) < 0) {
				rc = cli_fail("%s", err.msg);
			} else {
				printf("%s: mail clients %s\n", acct.address,
				       o.off ? "may use the account password again"
					     : "must use app passwords");
				audit2(o.data, "apppw.require", "address", acct.address, "required",
				       o.off ? "no" : "yes");
			}
		}
	}
	store_close(&st);
	return rc;
}

/* ---- DKIM ---- */

int cli_domain_dkim(int argc, char **argv)
{
	static const char usage[] = "usage: yizhan domain dkim --data DIR DOMAIN [--selector NAME]\n"
				    "\n"
				    "Makes a new 2048-bit RSA signing key for DOMAIN (selector default\n"
				    "'yz' plus the year and month) and prints the DNS TXT record to\n"
				    "publish. Outgoing mail from DOMAIN is signed from then on.\n";
	struct store *st;
	struct err err;
	struct mo o;
	char *key = NULL, *txt = NULL, sel[64];
	int rc;

	if ((rc = mparse(argc, argv, &o, usage)) != 0)
		return rc < 0 ? 0 : rc;
	if (o.npos != 1) {
		fputs(usage, stderr);
		return 2;
	}
	if (o.selector) {
		snprintf(sel, sizeof(sel), "%s", o.selector);
	} else {
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(sel, sizeof(sel), "yz%Y%m", &tm);
	}
	for (const char *p = sel; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return cli_fail("selector '%s': use lower-case letters, digits and '-'", sel);
	if ((rc = open_dir(o.data, &st)) != 0)
		return rc;
	if (mailauth_dkim_keygen(&key, &txt, &err) < 0 ||
	    store_dkim_set(st, o.pos[0], sel, key, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	} else {
		printf("%s._domainkey.%s. IN TXT \"%s\"\n", sel, o.pos[0], txt);
		audit2(o.data, "domain.dkim", "domain", o.pos[0], "selector", sel);
	}
	free(key);
	free(txt);
	store_close(&st);
	return rc;
}
