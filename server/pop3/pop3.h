/* pop3.h: the POP3 listeners (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL): port
 * N+110 with STLS and N+995 with implicit TLS (RFC 8314). Non-blocking sessions on a libevent
 * loop in their own thread, OpenSSL through bufferevent_openssl; password checks and every
 * store call run on a job pool, and the session stops reading until they are done.
 *
 * The maildrop is the account's INBOX (store/mail.h), snapshot at login. UIDL is
 * "UIDVALIDITY.UID" of the INBOX message. DELE takes effect at QUIT (the UPDATE state) as a
 * recoverable expunge (mail_expunge; `yizhan restore` brings it back); a dropped connection
 * changes nothing. Every login and failure is audited with "protocol":"pop3". */
#ifndef YZ_POP3_H
#define YZ_POP3_H

#include "lib/app.h"
#include "lib/err.h"

struct pop3_server;

enum pop3_kind {
	POP3_PLAIN = 0, /* 110: STLS offered; USER/PASS and AUTH PLAIN only after it */
	POP3_TLS,       /* 995: implicit TLS */
	POP3_NKINDS
};

/* Listening sockets bound before privileges were dropped; fds[k] < 0 leaves kind k closed. */
int pop3_server_start(struct app *app, const int fds[POP3_NKINDS], struct pop3_server **s_r,
		      struct err *err) YZ_WUR;
/* Stop accepting, close every session (no UPDATE state for them), join the threads. */
void pop3_server_stop(struct pop3_server **sp);
/* SIGHUP: the listeners take the certificate and key of c from the next connection on. */
int pop3_server_reload_tls(struct pop3_server *srv, const struct config *c,
			    struct err *err) YZ_WUR;
/* SIGHUP: the [pop3] limits of c (line size, sessions, timeout, errors, sign-in rate) apply
 * on the loop from now on; the ports and the sign-in policy stay until a restart. */
int pop3_server_reload(struct pop3_server *srv, const struct config *c,
		       struct err *err) YZ_WUR;

#endif
