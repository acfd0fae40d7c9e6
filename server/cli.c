/* yizhan user|domain|audit: directory administration from the shell. Every change is audited
 * with actor "cli:LOGIN". */
#include "cli.h"

#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "lib/util.h"
#include "store/audit.h"
#include "store/store.h"

struct opts {
	const char *data, *role, *name, *domain;
	bool password_stdin, help;
	char *pos[4];
	int npos;
	const char *scopes[16];
	size_t nscopes;
};

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("yizhan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Parse options; returns -1 after printing a usage error. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},   {"role", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, 'n'},   {"domain", required_argument, NULL, 'D'},
		{"password-stdin", no_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
		{"scope", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'r': o->role = optarg; break;
		case 'n': o->name = optarg; break;
		case 'D': o->domain = optarg; break;
		case 'p': o->password_stdin = true; break;
		case 'h': o->help = true; break;
		case 's':
			if (o->nscopes == 16) {
				fprintf(stderr, "yizhan: at most 16 --scope options\n");
				return -1;
			}
			o->scopes[o->nscopes++] = optarg;
			break;
		default:
			fprintf(stderr, "yizhan: unknown or incomplete option '%s'\n", argv[optind - 1]);
			return -1;
		}
	}
	for (; optind < argc; optind++) {
		if (o->npos == 4) {
			fprintf(stderr, "yizhan: too many arguments\n");
			return -1;
		}
		o->pos[o->npos++] = argv[optind];
	}
	return 0;
}

/* Returns 0, 1 (failure) or 2 (usage error), as the exit status. */
static int open_store(const struct opts *o, struct store **st)
{
	struct err err;
	char conf[1100];
	if (o->data == NULL) {
		fprintf(stderr, "yizhan: --data DIR is required\n");
		return 2;
	}
	snprintf(conf, sizeof(conf), "%s/yizhan.conf", o->data);
	if (access(conf, F_OK) != 0) {
		fprintf(stderr, "yizhan: %s is not a data directory (no yizhan.conf; run 'yizhan init')\n",
			o->data);
		return 1;
	}
	if (store_open(o->data, false, st, &err) < 0) {
		fprintf(stderr, "yizhan: %s\n", err.msg);
		return 1;
	}
	return 0;
}

void cli_audit_write(const char *data_dir, const char *type, const char *detail)
{
	struct store_audit *a;
	struct err err;
	struct passwd *pw = getpwuid(getuid());
	char actor[128];
	struct audit_rec r = {.type = type, .ip = "", .client = "yizhan-cli", .detail = detail};

	snprintf(actor, sizeof(actor), "cli:%s", pw ? pw->pw_name : "?");
	r.actor = actor;
	if (store_audit_open(data_dir, &a, &err) < 0 || store_audit_append(a, &r, &err) < 0)
		fprintf(stderr, "yizhan: warning: audit record not written: %s\n", err.msg);
	store_audit_close(&a);
}

/* JSON object text {"k":"v",...} from key, value pairs ending with NULL; caller frees. */
static char *detail(const char *key, ...)
{
	struct buf b;
	va_list ap;
	int rc = 0;

	buf_init(&b, 0);
	rc |= buf_puts(&b, "{");
	va_start(ap, key);
	for (const char *k = key; k != NULL; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		rc |= buf_puts(&b, k == key ? "" : ",") | buf_json_str(&b, k) | buf_puts(&b, ":") |
		      buf_json_str(&b, v ? v : "");
	}
	va_end(ap);
	rc |= buf_puts(&b, "}");
	ASSERT(rc == 0);
	return buf_take(&b);
}

static int read_password(char *out, size_t outsz)
{
	size_t n;
	if (fgets(out, (int)outsz, stdin) == NULL)
		return cli_fail("no password on standard input");
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	else if (n == outsz - 1)
		return cli_fail("password longer than %zu bytes", outsz - 2);
	if (n > 0 && out[n - 1] == '\r')
		out[--n] = '\0';
	return 0;
}

static unsigned iterations(const char *data)
{
	struct config c;
	struct err err;
	if (config_load(&c, data, &err) < 0)
		return 4096 * 4;
	return (unsigned)c.scram_iterations;
}

static const char user_usage[] =
	"usage: yizhan user add     --data DIR ADDRESS [--role user|sysadmin|secadmin|auditor]\n"
	"                           [--name NAME] --password-stdin\n"
	"       yizhan user passwd  --data DIR ADDRESS --password-stdin\n"
	"       yizhan user disable --data DIR ADDRESS\n"
	"       yizhan user enable  --data DIR ADDRESS\n"
	"       yizhan user list    --data DIR [--domain DOMAIN]\n"
	"       yizhan user show    --data DIR ADDRESS\n"
	"       yizhan user totp-reset --data DIR ADDRESS\n";

static void print_row(void *ctx, const struct store_account *a)
{
	printf("%s\t%s\t%s\t%s\n", a->address, role_name(a->role),
	       a->disabled ? "disabled" : "active", a->name);
}

static int user_add(struct store *st, const struct opts *o)
{
	char pw[1100];
	enum role role = role_parse(o->role ? o->role : "user");
	struct err err;
	int64_t id;
	char *d;

	if (role == 0)
		return cli_fail("unknown role '%s' (user, sysadmin, secadmin, auditor)", o->role);
	if (read_password(pw, sizeof(pw)) != 0)
		return 1;
	if (store_account_add(st, o->pos[0], o->name, role, pw, iterations(o->data), &id, &err) < 0)
		return cli_fail("%s", err.msg);
	printf("created %s (%s)\n", o->pos[0], role_name(role));
	d = detail("address", o->pos[0], "role", role_name(role), "name", o->name, NULL);
	cli_audit_write(o->data, "account.create", d);
	free(d);
	return 0;
}

static int user_show(struct store *st, const char *address)
{
	struct store_account a;
	struct err err;
	char created[32];
	time_t t;
	if (store_account_get(st, address, &a, &err) < 0)
		return cli_fail("%s", err.msg);
	t = (time_t)a.created;
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("address: %s\nname: %s\nrole: %s\nstatus: %s\ntotp: %s\ncreated: %s\n", a.address,
	       a.name, role_name(a.role), a.disabled ? "disabled" : "active",
	       a.totp_enabled ? "enabled" : "off", created);
	return 0;
}

static int user_change(struct store *st, const struct opts *o, const char *verb)
{
	struct store_account a;
	struct err err;
	const char *type, *before = NULL, *after = NULL;
	char *d;
	int rc = 0;

	if (store_account_get(st, o->pos[0], &a, &err) < 0)
		return cli_fail("%s", err.msg);
	if (strcmp(verb, "passwd") == 0) {
		char pw[1100];
		if (read_password(pw, sizeof(pw)) != 0)
			return 1;
		rc = store_account_set_password(st, a.address, pw, iterations(o->data), &err);
		type = "account.passwd";
	} else if (strcmp(verb, "totp-reset") == 0) {
		rc = store_account_totp_set(st, a.id, NULL, &err);
		type = "account.totp_reset";
		before = a.totp_enabled ? "totp enabled" : "totp off";
		after = "totp off";
	} else {
		bool disable = strcmp(verb, "disable") == 0;
		rc = store_account_set_disabled(st, a.address, disable, &err);
		type = disable ? "account.disable" : "account.enable";
		before = a.disabled ? "disabled" : "active";
		after = disable ? "disabled" : "active";
	}
	/* a changed credential or a disabled account ends every open session */
	if (rc == 0 && strcmp(verb, "enable") != 0)
		rc = store_session_delete_account(st, a.id, &err);
	if (rc < 0)
		return cli_fail("%s", err.msg);
	printf("%s: %s done\n", a.address, verb);
	d = before ? detail("address", a.address, "before", before, "after", after, NULL)
		   : detail("address", a.address, "what", "password", NULL);
	cli_audit_write(o->data, type, d);
	free(d);
	return 0;
}

int cli_user(int argc, char **argv)
{
	struct opts o;
	struct store *st = NULL;
	struct err err;
	const char *verb = argc > 1 ? argv[1] : NULL;
	int rc;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(user_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if (parse(argc - 1, argv + 1, &o) < 0) {
		fputs(user_usage, stderr);
		return 2;
	}
	if (o.help) {
		fputs(user_usage, stdout);
		return 0;
	}
	bool is_list = strcmp(verb, "list") == 0;
	if (!is_list && strcmp(verb, "add") != 0 && strcmp(verb, "passwd") != 0 &&
	    strcmp(verb, "disable") != 0 && strcmp(verb, "enable") != 0 &&
	    strcmp(verb, "show") != 0 && strcmp(verb, "totp-reset") != 0) {
		fprintf(stderr, "yizhan: unknown user command '%s'\n%s", verb, user_usage);
		return 2;
	}
	if ((strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) && !o.password_stdin) {
		fprintf(stderr, "yizhan: give the password on standard input with --password-stdin\n%s",
			user_usage);
		return 2;
	}
	if (o.npos != (is_list ? 0 : 1)) {
		fprintf(stderr, "yizhan: user %s takes %s\n%s", verb,
			is_list ? "no address" : "one ADDRESS", user_usage);
		return 2;
	}
	if ((rc = open_store(&o, &st)) != 0)
		return rc;
	if (strcmp(verb, "add") == 0)
		rc = user_add(st, &o);
	else if (is_list)
		rc = store_account_list(st, o.domain, print_row, NULL, &err) < 0
			     ? cli_fail("%s", err.msg)
			     : 0;
	else if (strcmp(verb, "show") == 0)
		rc = user_show(st, o.pos[0]);
	else
		rc = user_change(st, &o, verb);
	store_close(&st);
	return rc;
}

static const char domain_usage[] = "usage: yizhan domain add  --data DIR DOMAIN\n"
				   "       yizhan domain list --data DIR\n"
				   "       yizhan domain dkim --data DIR DOMAIN [--selector NAME]\n";

static void print_domain(void *ctx, int64_t id, const char *name, int64_t created)
{
	printf("%s\n", name);
}

int cli_domain(int argc, char **argv)
{
	struct opts o;
	struct store *st;
	struct err err;
	const char *verb = argc > 1 ? argv[1] : NULL;
	int rc = 0;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(domain_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if (strcmp(verb, "dkim") == 0)
		return cli_domain_dkim(argc - 1, argv + 1);
	if (parse(argc - 1, argv + 1, &o) < 0 ||
	    (strcmp(verb, "add") != 0 && strcmp(verb, "list") != 0) ||
	    (!o.help && o.npos != (strcmp(verb, "add") == 0 ? 1 : 0))) {
		fputs(domain_usage, stderr);
		return 2;
	}
	if (o.help) {
		fputs(domain_usage, stdout);
		return 0;
	}
	if ((rc = open_store(&o, &st)) != 0)
		return rc;
	if (strcmp(verb, "add") == 0) {
		if (store_domain_add(st, o.pos[0], NULL, &err) < 0) {
			rc = cli_fail("%s", err.msg);
		} else {
			char *d = detail("domain", o.pos[0], NULL);
			printf("created domain %s\n", o.pos[0]);
			cli_audit_write(o.data, "domain.create", d);
			free(d);
		}
	} else if (store_domain_list(st, print_domain, NULL, &err) < 0) {
		rc = cli_fail("%s", err.msg);
	}
	store_close(&st);
	return rc;
}

static const char audit_usage[] = "usage: yizhan audit verify --data DIR\n";

int cli_audit(int argc, char **argv)
{
	struct opts o;
	struct audit_report rep;
	struct err err;
	const char *verb = argc > 1 ? argv[1] : NULL;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(audit_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if (strcmp(verb, "verify") != 0 || parse(argc - 1, argv + 1, &o) < 0 || o.npos) {
		fputs(audit_usage, stderr);
		return 2;
	}
	if (o.help) {
		fputs(audit_usage, stdout);
		return 0;
	}
	if (o.data == NULL) {
		fprintf(stderr, "yizhan: --data DIR is required\n%s", audit_usage);
		return 2;
	}
	if (store_audit_verify(o.data, &rep, &err) < 0)
		return cli_fail("%s", err.msg);
	if (rep.bad_id) {
		printf("audit: record %lld: %s\n", (long long)rep.bad_id, rep.reason);
		return 1;
	}
	printf("audit: %lld records, chain intact\n", (long long)rep.records);
	return 0;
}

static const char token_usage[] =
	"usage: yizhan token add    --data DIR ADDRESS --name APP --scope SCOPE [--scope SCOPE ...]\n"
	"       yizhan token list   --data DIR [ADDRESS]\n"
	"       yizhan token revoke --data DIR ID\n"
	"\n"
	"API tokens let an OA system call the routes whose scope they hold, as ADDRESS, with\n"
	"'Authorization: Bearer TOKEN'. The token is printed once; only its hash is kept.\n";

static void print_token(void *ctx, const struct store_token *t)
{
	printf("%lld\t%s\t%s\t%s\n", (long long)t->id, t->name, t->scopes,
	       t->revoked ? "revoked" : "live");
}

static int token_add(struct store *st, const struct opts *o, const char *scopes)
{
	struct store_account a;
	char token[STORE_TOKEN_LEN + 1], id[24];
	struct err err;
	int64_t tid;
	char *d;

	if (store_account_get(st, o->pos[0], &a, &err) < 0)
		return cli_fail("%s", err.msg);
	if (role_is_admin(a.role))
		return cli_fail("API tokens act for user accounts; %s has role %s", a.address,
				role_name(a.role));
	if (store_token_add(st, a.id, o->name, scopes, token, &tid, &err) < 0)
		return cli_fail("%s", err.msg);
	printf("%s\n", token);
	fprintf(stderr, "token %lld for %s (%s); it is shown only now\n", (long long)tid, a.address,
		scopes);
	snprintf(id, sizeof(id), "%lld", (long long)tid);
	d = detail("address", a.address, "token", id, "name", o->name, "scopes", scopes, NULL);
	cli_audit_write(o->data, "token.create", d);
	free(d);
	return 0;
}

int cli_token(int argc, char **argv)
{
	struct opts o;
	struct store *st;
	struct err err;
	const char *verb = argc > 1 ? argv[1] : NULL;
	char scopes[STORE_SCOPES_MAX + 1] = "";
	int rc = 0;

	if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(token_usage, verb ? stdout : stderr);
		return verb ? 0 : 2;
	}
	if (parse(argc - 1, argv + 1, &o) < 0) {
		fputs(token_usage, stderr);
		return 2;
	}
	if (o.help)
		return fputs(token_usage, stdout), 0;
	for (size_t i = 0; i < o.nscopes; i++) {
		if (strlen(scopes) + strlen(o.scopes[i]) + 2 > sizeof(scopes))
			return cli_fail("too many scopes");
		if (*scopes)
			strcat(scopes, " ");
		strcat(scopes, o.scopes[i]);
	}
	if ((strcmp(verb, "add") == 0 && (o.npos != 1 || !o.name || !*scopes)) ||
	    (strcmp(verb, "list") == 0 && o.npos > 1) ||
	    (strcmp(verb, "revoke") == 0 && o.npos != 1) ||
	    (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "revoke"))) {
		fputs(token_usage, stderr);
		return 2;
	}
	if ((rc = open_store(&o, &st)) != 0)
		return rc;
	if (strcmp(verb, "add") == 0) {
		rc = token_add(st, &o, scopes);
	} else if (strcmp(verb, "list") == 0) {
		struct store_account a;
		int64_t id = 0;
		if (o.npos == 1 && store_account_get(st, o.pos[0], &a, &err) < 0)
			rc = cli_fail("%s", err.msg);
		else if (o.npos == 1)
			id = a.id;
		if (rc == 0 && store_token_list(st, id, print_token, NULL, &err) < 0)
			rc = cli_fail("%s", err.msg);
	} else {
		int64_t id;
		if (str_to_i64(o.pos[0], 1, INT64_MAX, &id) < 0)
			rc = cli_fail("ID must be a token number from 'yizhan token list'");
		else if (store_token_revoke(st, id, &err) < 0)
			rc = cli_fail("%s", err.msg);
		else {
			char *d = detail("token", o.pos[0], NULL);
			printf("revoked token %s\n", o.pos[0]);
			cli_audit_write(o.data, "token.revoke", d);
			free(d);
		}
	}
	store_close(&st);
	return rc;
}
