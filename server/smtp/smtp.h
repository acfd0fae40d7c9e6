/* smtp.h: the SMTP listeners (RFC 5321): port 25 inbound (MX), 587 submission with STARTTLS,
 * 465 submission with implicit TLS (RFC 8314). Non-blocking sessions on a libevent loop in
 * their own thread, OpenSSL through bufferevent_openssl; storage (queue commits) happens on
 * the queue's committer thread, and the session stops reading until it is done.
 *
 * Accepted mail goes into app->queue (store/queue.h); recipients are checked with
 * mta/route.h; port 25 mail is checked with mta/mailauth.h; every acceptance is audited. */
#ifndef YZ_SMTP_H
#define YZ_SMTP_H

#include "lib/app.h"
#include "lib/err.h"

struct smtp_server;

enum smtp_kind {
	SMTP_MX = 0,      /* 25: inbound, STARTTLS offered, AUTH only after STARTTLS */
	SMTP_SUBMISSION,  /* 587: STARTTLS, AUTH required */
	SMTP_SUBMISSIONS, /* 465: implicit TLS, AUTH required */
	SMTP_NKINDS
};

/* Listening sockets bound before privileges were dropped; fds[k] < 0 leaves kind k closed. */
int smtp_server_start(struct app *app, const int fds[SMTP_NKINDS], struct smtp_server **s_r,
		      struct err *err) YZ_WUR;
/* Stop accepting, close every session, join the thread. */
void smtp_server_stop(struct smtp_server **sp);
/* SIGHUP: the listeners take the certificate and key of c from the next connection on. */
int smtp_server_reload_tls(struct smtp_server *srv, const struct config *c,
			    struct err *err) YZ_WUR;
/* SIGHUP: the [smtp] limits of c (sizes, counts, timeouts, rates, the banner) apply from now
 * on: a running session sees them from its next command or transaction. The ports, the host
 * name and the sign-in policy stay as they were started (a restart changes them). */
int smtp_server_reload(struct smtp_server *srv, const struct config *c,
		       struct err *err) YZ_WUR;

#endif
