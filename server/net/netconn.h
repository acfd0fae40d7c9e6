/* netconn.h: the bufferevent plumbing a protocol session needs, the same for SMTP, IMAP and
 * POP3: the connection over an accepted socket (implicit TLS or not), its callbacks and
 * watermarks, STARTTLS, output lines, the linger check of a closing session, and the end of a
 * connection. Loop thread only. The sessions themselves (state, modes, limits, replies) stay
 * with each protocol. */
#ifndef YZ_NETCONN_H
#define YZ_NETCONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "lib/err.h"

struct event;
struct netsvc;

/* The connection over an accepted fd: TLS (accepting, svc's context) when tls. NULL if it
 * cannot be set up; the caller still owns fd then. */
struct bufferevent *netconn_new(struct netsvc *svc, int fd, bool tls);
/* Callbacks (arg is the session), watermarks (libevent stops reading above in_high; the write
 * callback runs once output is at out_low or below), dirty TLS shutdowns tolerated (clients
 * often just close); reading and writing on. Again after netconn_starttls(). */
void netconn_setup(struct bufferevent *bev, bufferevent_data_cb on_read,
		   bufferevent_data_cb on_write, bufferevent_event_cb on_event, void *arg,
		   size_t in_high, size_t out_low, bool tls);
/* STARTTLS / STLS: discard every plaintext byte buffered so far (nothing sent before the
 * handshake may count as a command after it), then put a TLS filter (accepting) over *bev,
 * which it owns. 0, or -1 with *bev unchanged (its input may be gone). */
int netconn_starttls(struct netsvc *svc, struct bufferevent **bev);
/* Refuse a connection before any session exists: send line (already CRLF-terminated; NULL
 * sends nothing, say over implicit TLS) without waiting, and close fd. */
void netconn_refuse(int fd, const char *line);

/* Append prefix (NULL: none), the formatted text and CRLF to the output. */
void netconn_vprintf(struct bufferevent *bev, const char *prefix, const char *fmt, va_list ap)
	YZ_PRINTF(3, 0);
/* Has every byte been written, the socket under a STARTTLS filter included? */
bool netconn_flushed(struct bufferevent *bev);
/* A closing session: stop reading, have the write callback run at every drain, and run the
 * timer (the linger check) from the loop at once, never from here. */
void netconn_linger(struct bufferevent *bev, struct event *timer);
/* From the event callback: has the connection ended (EOF, error, timeout)? A TLS error is
 * logged at debug level under tag with the session's id and ip. */
bool netconn_ended(struct bufferevent *bev, short what, const char *tag, uint64_t id,
		   const char *ip);
/* A line past the length limit: drop input up to and including its LF. True once the LF was
 * found (the line is over), false when everything buffered went and the line goes on. */
bool netconn_skip_line(struct evbuffer *in);

#endif
