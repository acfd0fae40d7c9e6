/* smtpc.h: the outbound SMTP client (RFC 5321) the delivery workers use: one transaction to
 * one server for one or more recipients, with opportunistic STARTTLS (RFC 3207, no
 * certificate check: MX hosts rarely have one that names them) and AUTH PLAIN to a relay
 * host (only inside TLS). Blocking sockets with a timeout per step, on a worker thread. */
#ifndef YZ_MTA_SMTPC_H
#define YZ_MTA_SMTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "lib/err.h"

struct smtpc_rcpt {
	const char *address;
	const char *dsn_params; /* " NOTIFY=... ORCPT=..." to pass on, or NULL */
	/* filled: the server's reply to RCPT, or to DATA when RCPT was accepted */
	int code;
	char text[256];
};

struct smtpc_msg {
	const char *helo;   /* our host name */
	const char *sender; /* "" for the null sender */
	const char *mail_params; /* " RET=... ENVID=..." or NULL */
	const char *data;
	size_t len;
	bool smtputf8, eightbit;
	struct smtpc_rcpt *rcpts;
	size_t nrcpts;
	const char *auth_user, *auth_password; /* for a relay; NULL: no AUTH */
	int timeout_s;
};

/* Deliver to host:port (host is a name or an address). Returns 0 when the transaction ran
 * (each recipient's code says how it went), -1 when no transaction could be had (connect,
 * greeting, EHLO, MAIL, or a network error): then err says why and err->code is ERR_IO for
 * temporary and ERR_DENIED for permanent (5xx) failures; *code_r gets the reply code or 0. */
int smtpc_deliver(const char *host, const char *const *addrs, size_t naddrs, int port,
		  struct smtpc_msg *m, int *code_r, struct err *err) YZ_WUR;

#endif
