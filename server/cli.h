/* cli.h: the yizhan subcommands (docs/API.md lists the contract). Each returns the process
 * exit status: 0 success, 1 failure, 2 usage error. */
#ifndef YZ_CLI_H
#define YZ_CLI_H

#include <stddef.h>

int cli_init(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_domain(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_serve(int argc, char **argv);

int cli_import(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_reindex(int argc, char **argv);
int cli_gc(int argc, char **argv);
int cli_purge(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_alias(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_apppw(int argc, char **argv);
int cli_domain_dkim(int argc, char **argv);

/* Shared by the subcommands */
struct config;
struct mail_store_opts;
/* As root: give the data directory's top level to the service user (server.user) and become
 * that user. Returns 0 or prints why not and returns 1. */
int cli_drop_privileges(const struct config *c);
/* For commands other than init and serve: when run as root on an existing data directory
 * (--data), become the service user first, so files the command creates (databases, blobs,
 * audit.head) stay writable by the daemon. 0, or 1 after printing why not. */
int cli_become_service_user(int argc, char **argv);
/* The mail store's options from the config ([mail], [mime]). */
void cli_mail_opts(const struct config *c, struct mail_store_opts *o);
struct store;
struct store_audit;
/* Write a CLI audit record (actor "cli:LOGIN"); failures are printed, not fatal. */
void cli_audit_write(const char *data_dir, const char *type, const char *detail);
/* Print "yizhan: msg" to stderr and return 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Create a self-signed certificate (SAN localhost, 127.0.0.1, hostname). */
int tls_selfsigned_write(const char *cert_path, const char *key_path, const char *hostname,
			 char *errbuf, size_t errsz);

#endif
