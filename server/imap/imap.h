/* imap.h: the IMAP listeners (RFC 3501 IMAP4rev1 with IDLE, NAMESPACE, UIDPLUS, MOVE,
 * SPECIAL-USE, LITERAL+, ID, ENABLE, UNSELECT, CHILDREN, CONDSTORE, QRESYNC): port 143 with
 * STARTTLS, 993 with implicit TLS (RFC 8314). Non-blocking sessions on a libevent loop in its
 * own thread, OpenSSL through bufferevent_openssl; storage work (mail.db, blobs, Xapian,
 * password checks) runs on a job pool and the session stops reading until it is done.
 *
 * Changes from anywhere in the process (web, API, delivery, other sessions) reach selected
 * and idling sessions through one subscription to the mail store's event bus. */
#ifndef YZ_IMAP_H
#define YZ_IMAP_H

#include "lib/app.h"
#include "lib/err.h"

struct imap_server;

enum imap_kind {
	IMAP_PLAIN = 0, /* 143: STARTTLS offered, no plaintext passwords before it */
	IMAP_TLS,       /* 993: implicit TLS */
	IMAP_NKINDS
};

/* Listening sockets bound before privileges were dropped; fds[k] < 0 leaves kind k closed. */
int imap_server_start(struct app *app, const int fds[IMAP_NKINDS], struct imap_server **s_r,
		      struct err *err) YZ_WUR;
/* Stop accepting, close every session (BYE), join the thread. */
void imap_server_stop(struct imap_server **sp);
/* SIGHUP: the listeners take the certificate and key of c from the next connection on. */
int imap_server_reload_tls(struct imap_server *srv, const struct config *c,
			    struct err *err) YZ_WUR;
/* SIGHUP: the [imap] limits of c (line, literal and nesting sizes, sessions, rates, timeouts,
 * errors) apply on the loop from now on. The ports, the MIME limits, the time zone and the
 * sign-in policy stay as they were started (a restart changes them). */
int imap_server_reload(struct imap_server *srv, const struct config *c,
		       struct err *err) YZ_WUR;

#endif
