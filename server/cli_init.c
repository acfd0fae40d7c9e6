/* yizhan init: a data directory with config, TLS certificate, directory and audit databases;
 * --demo adds one account per role with random passwords. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "lib/config.h"
#include "lib/util.h"
#include "store/audit.h"
#include "store/store.h"

static const char init_usage[] =
	"usage: yizhan init --data DIR --domain DOMAIN [--port-base N] [--demo]\n"
	"\n"
	"Creates DIR with yizhan.conf, a self-signed TLS certificate, directory.db and audit.db.\n"
	"Listeners use N + the standard port (HTTPS 443, SMTP 25, ...). N defaults to 0 as root\n"
	"and 10000 otherwise. --demo also creates demo@, sysadmin@, secadmin@ and auditor@DOMAIN\n"
	"with random passwords, printed and kept in DIR/demo-credentials.txt (mode 0600).\n";

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ex == NULL)
		return -1;
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

int tls_selfsigned_write(const char *cert_path, const char *key_path, const char *hostname,
			 char *errbuf, size_t errsz)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	char san[600];
	FILE *f = NULL;
	int fd, ret = -1;

	if (pkey == NULL || x == NULL)
		goto out;
	rand_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 825L * 24 * 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Yizhan", -1,
				   -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		 strcmp(hostname, "localhost") ? ",DNS:" : "",
		 strcmp(hostname, "localhost") ? hostname : "");
	if (add_ext(x, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0)
		goto out;
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL ||
	    !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0) {
		snprintf(errbuf, errsz, "%s: %s", key_path, strerror(errno));
		f = NULL;
		goto out_quiet;
	}
	f = fopen(cert_path, "wx");
	if (f == NULL || !PEM_write_X509(f, x) || fclose(f) != 0) {
		snprintf(errbuf, errsz, "%s: %s", cert_path, strerror(errno));
		f = NULL;
		goto out_quiet;
	}
	f = NULL;
	ret = 0;
	goto out_quiet;
out:
	snprintf(errbuf, errsz, "could not create a certificate (OpenSSL error)");
out_quiet:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

static int write_config(const char *path, const char *domain, long port_base)
{
	FILE *f = fopen(path, "wx");
	if (f == NULL)
		return cli_fail("%s: %s", path, strerror(errno));
	fprintf(f,
		"# Yizhan configuration. Every key is described in docs/CONFIG.md.\n"
		"# Relative paths are taken from this directory.\n"
		"\n"
		"[server]\n"
		"hostname = localhost\n"
		"default_domain = %s\n"
		"# listeners use port_base + the standard port (HTTPS %ld)\n"
		"port_base = %ld\n"
		"listen = 127.0.0.1\n"
		"# when started as root, drop to this user after binding the ports\n"
		"user = yizhan\n"
		"log_level = info\n"
		"\n"
		"[http]\n"
		"threads = 4\n"
		"max_connections = 4096\n"
		"per_ip_connections = 256\n"
		"connection_memory = 65536\n"
		"timeout = 60\n"
		"\n"
		"[tls]\n"
		"cert = tls/cert.pem\n"
		"key = tls/key.pem\n"
		"\n"
		"[auth]\n"
		"scram_iterations = 16384\n"
		"session_idle_timeout = 7200\n"
		"session_absolute_timeout = 86400\n"
		"login_ip_per_minute = 60\n"
		"login_fail_delay_after = 3\n"
		"login_lock_after = 10\n"
		"login_lock_seconds = 900\n"
		"\n"
		"# Per-domain branding of the sign-in page:\n"
		"# [brand.%s]\n"
		"# name = 示例单位邮件系统\n"
		"# color = #c8102e\n"
		"# logo = brand/logo.svg\n",
		domain, port_base + 443, port_base, domain);
	if (fclose(f) != 0)
		return cli_fail("%s: write failed", path);
	return 0;
}

/* 16 characters from an alphabet without look-alikes: about 85 bits. */
static void random_password(char out[17])
{
	static const char alpha[] = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY345679";
	unsigned char r[16];
	rand_bytes(r, sizeof(r));
	for (int i = 0; i < 16; i++)
		out[i] = alpha[r[i] % (sizeof(alpha) - 1)];
	out[16] = '\0';
}

static int make_demo(const char *data, struct store *st, const char *domain)
{
	static const struct {
		const char *local, *name;
		enum role role;
	} demo[] = {
		{"demo", "演示用户", ROLE_USER},
		{"sysadmin", "系统管理员", ROLE_SYSADMIN},
		{"secadmin", "安全管理员", ROLE_SECADMIN},
		{"auditor", "审计管理员", ROLE_AUDITOR},
	};
	char path[1100];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/demo-credentials.txt", data);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
		return cli_fail("%s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof(demo) / sizeof(demo[0]); i++) {
		char addr[300], pw[17], detail[400];
		struct err err;
		snprintf(addr, sizeof(addr), "%s@%s", demo[i].local, domain);
		random_password(pw);
		if (store_account_add(st, addr, demo[i].name, demo[i].role, pw, 16384, NULL, &err) < 0) {
			fclose(f);
			return cli_fail("%s", err.msg);
		}
		fprintf(f, "%-9s %-28s %s\n", role_name(demo[i].role), addr, pw);
		snprintf(detail, sizeof(detail), "{\"address\":\"%s\",\"role\":\"%s\"}", addr,
			 role_name(demo[i].role));
		cli_audit_write(data, "account.create", detail);
	}
	fclose(f);
	printf("demo accounts (also in %s):\n", path);
	f = fopen(path, "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f))
			printf("  %s", line);
		fclose(f);
	}
	printf("admin roles enrol a TOTP authenticator at their first sign-in.\n");
	return 0;
}

int cli_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},     {"domain", required_argument, NULL, 'D'},
		{"port-base", required_argument, NULL, 'p'}, {"demo", no_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *data = NULL, *domain = NULL;
	int64_t port_base = geteuid() == 0 ? 0 : 10000;
	bool demo = false;
	char path[1100], key[1100], errbuf[256], detail[300];
	struct store *st;
	struct err err;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'D': domain = optarg; break;
		case 'x': demo = true; break;
		case 'p':
			if (str_to_i64(optarg, 0, 65535 - 995, &port_base) < 0)
				return cli_fail("--port-base must be 0 to %d", 65535 - 995);
			break;
		case 'h': fputs(init_usage, stdout); return 0;
		default: fputs(init_usage, stderr); return 2;
		}
	}
	if (data == NULL || domain == NULL || optind != argc) {
		fputs(init_usage, stderr);
		return 2;
	}
	if (mkdir(data, 0750) < 0 && errno != EEXIST)
		return cli_fail("%s: %s", data, strerror(errno));
	snprintf(path, sizeof(path), "%s/yizhan.conf", data);
	if (access(path, F_OK) == 0)
		return cli_fail("%s is already initialised (%s exists)", data, path);
	if (store_open(data, true, &st, &err) < 0)
		return cli_fail("%s", err.msg);
	if (store_domain_add(st, domain, NULL, &err) < 0) {
		store_close(&st);
		return cli_fail("%s", err.msg);
	}
	if (store_audit_init(data, &err) < 0) {
		store_close(&st);
		return cli_fail("%s", err.msg);
	}
	snprintf(path, sizeof(path), "%s/tls", data);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/tls/cert.pem", data);
	snprintf(key, sizeof(key), "%s/tls/key.pem", data);
	if (tls_selfsigned_write(path, key, "localhost", errbuf, sizeof(errbuf)) < 0) {
		store_close(&st);
		return cli_fail("%s", errbuf);
	}
	snprintf(detail, sizeof(detail), "{\"domain\":\"%s\"}", domain);
	cli_audit_write(data, "domain.create", detail);
	rc = demo ? make_demo(data, st, domain) : 0;
	store_close(&st);
	if (rc != 0)
		return rc;
	/* the config goes last: its presence marks a finished init */
	snprintf(path, sizeof(path), "%s/yizhan.conf", data);
	if (write_config(path, domain, (long)port_base) != 0)
		return 1;
	printf("initialised %s for %s; HTTPS on port %lld\n", data, domain,
	       (long long)port_base + 443);
	return 0;
}
