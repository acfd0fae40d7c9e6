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
/* Send the ACK of what was read now, not delayed (TCP_QUICKACK, which the kernel drops again
 * by itself). For part of a command with the rest to come: a client writes a literal and then
 * its CRLF as two small segments, Nagle's algorithm holds the second until the first is
 * acknowledged, and a delayed ACK put that off by 40 ms; every literal paid that. */
void netconn_quickack(struct bufferevent *bev);
/* The lingering close of a session [Apache's lingering_close; RFC 9112 section 9.6]. Closing a
 * socket that still has unread input makes the kernel send a reset instead of the end of the
 * stream, and a reset can destroy the last reply (a BYE, a 421) before the client reads it;
 * a client still sending (a 100 KB line past the limit) also sees its send fail. So: the
 * output is flushed first, then our side is shut down for writing (the client sees the end
 * right after the reply), and input is read and discarded until the client closes too, at
 * most NETCONN_DRAIN_MS after the shutdown and NETCONN_DRAIN_MAX bytes, and never past the
 * deadline given at the start. */
#define NETCONN_DRAIN_MS 2000
#define NETCONN_DRAIN_MAX (1024 * 1024)

struct netconn_linger {
	int64_t close_by_ms; /* the connection ends at this time at the latest */
	size_t drained;      /* input bytes discarded so far */
	bool shut;           /* our side is shut down for writing */
	bool peer_done;      /* the client's input ended (EOF) */
};

/* A closing session: discard the input buffered so far and keep reading (the read callback
 * calls netconn_linger_drain), have the write callback run at every drain, and run the timer
 * (the linger check, netconn_linger_over) from the loop at once, never from here. The
 * connection ends at most linger_ms from now. */
void netconn_linger(struct bufferevent *bev, struct event *timer, struct netconn_linger *lg,
		    int64_t linger_ms);
/* The read callback of a closing session: discard the input. False once more than
 * NETCONN_DRAIN_MAX bytes went: end the connection now. */
bool netconn_linger_drain(struct bufferevent *bev, struct netconn_linger *lg);
/* The linger check, from the write callback and the timer of a closing session: true when the
 * connection should end now (the deadline passed, or the output is flushed and the client's
 * input ended); otherwise, once the output is flushed, our side is shut down for writing (once)
 * and the caller checks again later. */
bool netconn_linger_over(struct bufferevent *bev, struct netconn_linger *lg);
/* From the event callback: should the session end now? It has when the connection ended
 * (EOF, error, timeout); a TLS error is logged at debug level under tag with the session's
 * id and ip. For a closing session (closing: its linger, else NULL) the client's EOF ends it
 * only once our reply is flushed: until then reading stops and netconn_linger_over says when
 * it is done. */
bool netconn_ended(struct bufferevent *bev, short what, const char *tag, uint64_t id,
		   const char *ip, struct netconn_linger *closing);
/* A line past the length limit: drop input up to and including its LF. True once the LF was
 * found (the line is over), false when everything buffered went and the line goes on. */
bool netconn_skip_line(struct evbuffer *in);

#endif
