/* Session connections over libevent bufferevents (netconn.h). */
#include "netconn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/log.h"
#include "lib/util.h"
#include "netsvc.h"

struct bufferevent *netconn_new(struct netsvc *svc, int fd, bool tls)
{
	SSL *ssl;

	if (!tls)
		return bufferevent_socket_new(svc->base, fd,
					      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	ssl = SSL_new(svc->ssl);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(svc->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

void netconn_setup(struct bufferevent *bev, bufferevent_data_cb on_read,
		   bufferevent_data_cb on_write, bufferevent_event_cb on_event, void *arg,
		   size_t in_high, size_t out_low, bool tls)
{
	bufferevent_setcb(bev, on_read, on_write, on_event, arg);
	bufferevent_setwatermark(bev, EV_READ, 0, in_high);
	bufferevent_setwatermark(bev, EV_WRITE, out_low, 0);
	if (tls)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int netconn_starttls(struct netsvc *svc, struct bufferevent **bev)
{
	struct bufferevent *tls;
	struct evbuffer *in = bufferevent_get_input(*bev);
	SSL *ssl = SSL_new(svc->ssl);

	if (ssl == NULL)
		return -1;
	/* RFC 3207 section 5, RFC 3501 6.2.1, RFC 2595 section 4 / STYLE.md: the STARTTLS
	 * command injection family (CVE-2011-0411 and its many relatives) */
	evbuffer_drain(in, evbuffer_get_length(in));
	tls = bufferevent_openssl_filter_new(svc->base, *bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		return -1;
	}
	*bev = tls;
	return 0;
}

void netconn_refuse(int fd, const char *line)
{
	if (line)
		(void)!send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	evutil_closesocket(fd);
}

void netconn_vprintf(struct bufferevent *bev, const char *prefix, const char *fmt, va_list ap)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	if (prefix)
		evbuffer_add(out, prefix, strlen(prefix));
	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

bool netconn_flushed(struct bufferevent *bev)
{
	struct bufferevent *u;
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return false;
	u = bufferevent_get_underlying(bev); /* the socket under a STARTTLS filter */
	return u == NULL || evbuffer_get_length(bufferevent_get_output(u)) == 0;
}

void netconn_quickack(struct bufferevent *bev)
{
	struct bufferevent *u = bufferevent_get_underlying(bev);
	evutil_socket_t fd = bufferevent_getfd(u ? u : bev);
	int one = 1;
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void netconn_linger(struct bufferevent *bev, struct event *timer, struct netconn_linger *lg,
		    int64_t linger_ms)
{
	struct timeval now = {0, 0};
	*lg = (struct netconn_linger){.close_by_ms = time_now_ms() + linger_ms};
	if (bev) {
		struct evbuffer *in = bufferevent_get_input(bev);
		/* also lifts libevent's read pause at the input high-water mark */
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_enable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	}
	evtimer_add(timer, &now);
}

bool netconn_linger_drain(struct bufferevent *bev, struct netconn_linger *lg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);
	evbuffer_drain(in, n);
	lg->drained += n;
	return lg->drained <= NETCONN_DRAIN_MAX;
}

bool netconn_linger_over(struct bufferevent *bev, struct netconn_linger *lg)
{
	int64_t now = time_now_ms();
	struct bufferevent *u;
	evutil_socket_t fd;

	if (bev == NULL || now >= lg->close_by_ms)
		return true;
	if (!netconn_flushed(bev))
		return false;
	if (lg->peer_done)
		return true;
	if (lg->shut)
		return false;
	/* the socket under a STARTTLS filter; under TLS no close_notify is sent (nor was one
	 * before: clients take the plain end of the stream, see netconn_setup) */
	u = bufferevent_get_underlying(bev);
	fd = bufferevent_getfd(u ? u : bev);
	if (fd < 0 || shutdown(fd, SHUT_WR) < 0)
		return true;
	lg->shut = true;
	if (lg->close_by_ms > now + NETCONN_DRAIN_MS)
		lg->close_by_ms = now + NETCONN_DRAIN_MS;
	return false;
}

/* A closing session's client ended its input: can the connection go (output flushed)? */
static bool linger_eof(struct bufferevent *bev, struct netconn_linger *lg)
{
	lg->peer_done = true;
	bufferevent_disable(bev, EV_READ);
	return netconn_flushed(bev);
}

bool netconn_ended(struct bufferevent *bev, short what, const char *tag, uint64_t id,
		   const char *ip, struct netconn_linger *closing)
{
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return false;
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char buf[160];
			ERR_error_string_n(e, buf, sizeof(buf));
			log_debug(tag, "sess=%llu ip=%s msg=\"TLS error\" err=\"%s\"",
				  (unsigned long long)id, ip, buf);
		}
		return true;
	}
	/* a closing session's reply may still be on its way */
	return closing == NULL || linger_eof(bev, closing);
}

bool netconn_skip_line(struct evbuffer *in)
{
	struct evbuffer_ptr p = evbuffer_search(in, "\n", 1, NULL);
	if (p.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return false;
	}
	evbuffer_drain(in, (size_t)p.pos + 1);
	return true;
}
