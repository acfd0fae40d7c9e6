/* libmicrohttpd glue: request context, body limits, response headers. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api/api.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metrics.h"
#include "router.h"

#define CSP "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; " \
	    "frame-ancestors 'none'"
/* inline previews of attachments (images, PDF) in the webmail's own frames */
#define CSP_FRAME_SELF "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; " \
		       "frame-ancestors 'self'"
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Each daemon owns a snapshot of the app (config, web assets) for its whole life, so a reload
 * never changes anything under a request in flight. Stores and counters are shared. */
struct http_server {
	struct MHD_Daemon *d;
	struct app app;
	char *cert, *key;
};

struct rctx {
	struct arena *arena;
	struct req rq;
	struct resp rs;
	struct buf body;
	bool too_big;
	uint64_t t0;
	unsigned allowed;
	struct MHD_Connection *conn;
};

static const char *get_kind(struct req *rq, enum MHD_ValueKind kind, const char *name)
{
	struct rctx *rc = rq->conn;
	return MHD_lookup_connection_value(rc->conn, kind, name);
}

static const char *get_header(struct req *rq, const char *name)
{
	return get_kind(rq, MHD_HEADER_KIND, name);
}

static const char *get_query(struct req *rq, const char *name)
{
	return get_kind(rq, MHD_GET_ARGUMENT_KIND, name);
}

static const char *get_cookie(struct req *rq, const char *name)
{
	return get_kind(rq, MHD_COOKIE_KIND, name);
}

static const char *client_ip(struct arena *a, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char buf[INET6_ADDRSTRLEN] = "-";
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
				  sizeof(buf));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
				  sizeof(buf));
	}
	return arena_strdup(a, buf);
}

static struct rctx *rctx_new(struct app *app, struct MHD_Connection *conn, const char *url,
			     const char *method)
{
	struct rctx *rc = xcalloc(1, sizeof(*rc));
	static _Atomic unsigned long seq;
	unsigned long n = ++seq;

	rc->arena = arena_new();
	rc->conn = conn;
	rc->t0 = time_mono_ns();
	rc->rq.arena = rc->arena;
	rc->rq.app = app;
	rc->rq.method_name = arena_strdup(rc->arena, method);
	rc->rq.method = rt_method_parse(method);
	rc->rq.path = arena_strdup(rc->arena, url);
	rc->rq.ip = client_ip(rc->arena, conn);
	rc->rq.get_header = get_header;
	rc->rq.get_query = get_query;
	rc->rq.get_cookie = get_cookie;
	rc->rq.conn = rc;
	snprintf(rc->rq.id, sizeof(rc->rq.id), "%08lx%08x", n, (unsigned)(rc->t0 & 0xffffffff));
	buf_init(&rc->rs.body, 0);
	rc->rs.status = 500;
	/* learn the route now: its max_body bounds what we buffer */
	rc->rq.route = rt_match(app->routes, app->nroutes, rc->rq.path, rc->rq.method, &rc->rq,
				&rc->allowed);
	buf_init(&rc->body, rc->rq.route ? rc->rq.route->max_body : 0);
	return rc;
}

static void rctx_free(struct rctx *rc)
{
	buf_release(&rc->body);
	buf_release(&rc->rs.body);
	arena_free(&rc->arena);
	free(rc);
}

/* ---- streaming responses (rt.h): parked with MHD_suspend_connection while they have
 * nothing to say, resumed by rt_waker_wake() ---- */

struct rt_waker {
	struct rt_waker *next; /* every live stream, for shutdown */
	pthread_mutex_t lock;
	struct MHD_Connection *conn;
	bool suspended, pending, done, closing;
	rt_stream_fn *fn;
	void *ctx;
	void (*free_fn)(void *);
};

/* libmicrohttpd refuses to stop with suspended connections: at shutdown (and reload) every
 * stream is ended and resumed first. */
static pthread_mutex_t wakers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rt_waker *wakers;

static void end_streams(void)
{
	pthread_mutex_lock(&wakers_lock);
	for (struct rt_waker *w = wakers; w; w = w->next) {
		pthread_mutex_lock(&w->lock);
		w->closing = true;
		if (w->suspended && !w->done) {
			w->suspended = false;
			MHD_resume_connection(w->conn);
		}
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_unlock(&wakers_lock);
}

static bool streams_left(void)
{
	bool any;
	pthread_mutex_lock(&wakers_lock);
	any = wakers != NULL;
	pthread_mutex_unlock(&wakers_lock);
	return any;
}

void rt_waker_wake(struct rt_waker *w)
{
	pthread_mutex_lock(&w->lock);
	if (w->suspended && !w->done) {
		w->suspended = false;
		MHD_resume_connection(w->conn);
	} else {
		w->pending = true; /* the reader is running: it must not park now */
	}
	pthread_mutex_unlock(&w->lock);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct rt_waker *w = cls;
	long n;

	pthread_mutex_lock(&w->lock);
	w->pending = false;
	if (w->closing) {
		pthread_mutex_unlock(&w->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = w->fn(w->ctx, buf, max, w);
	if (n > 0) {
		pthread_mutex_unlock(&w->lock);
		return (ssize_t)n;
	}
	if (n < 0) {
		pthread_mutex_unlock(&w->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!w->pending) {
		/* the pattern microhttpd.h prescribes: suspend, return 0, resume later */
		w->suspended = true;
		MHD_suspend_connection(w->conn);
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void stream_done(void *cls)
{
	struct rt_waker *w = cls;
	pthread_mutex_lock(&wakers_lock);
	for (struct rt_waker **pp = &wakers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&wakers_lock);
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_mutex_unlock(&w->lock);
	/* the stream forgets the waker before it is freed */
	if (w->free_fn)
		w->free_fn(w->ctx);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static enum MHD_Result send_response(struct rctx *rc)
{
	struct resp *rs = &rc->rs;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint64_t ns;

	if (rs->stream) {
		struct rt_waker *w = xcalloc(1, sizeof(*w));
		pthread_mutex_init(&w->lock, NULL);
		w->conn = rc->conn;
		w->fn = rs->stream;
		w->ctx = rs->stream_ctx;
		w->free_fn = rs->stream_free;
		pthread_mutex_lock(&wakers_lock);
		w->next = wakers;
		wakers = w;
		pthread_mutex_unlock(&wakers_lock);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, w,
						      stream_done);
		if (r == NULL) {
			stream_done(w);
			return MHD_NO;
		}
	} else if (rs->file_data)
		r = MHD_create_response_from_buffer(rs->file_len, (void *)rs->file_data,
						    MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(rs->body.len, rs->body.data,
						    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Security-Policy",
				rs->csp_mail_images ? CSP "; img-src 'self' data: blob: https:"
				: rs->frame_self    ? CSP_FRAME_SELF
						    : CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", rs->frame_self ? "SAMEORIGIN" : "DENY");
	if (rs->content_type)
		MHD_add_response_header(r, "Content-Type", rs->content_type);
	if (str_has_prefix(rc->rq.path, "/api/"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	for (size_t i = 0; i < rs->nheaders; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	ret = MHD_queue_response(rc->conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	ns = time_mono_ns() - rc->t0;
	metrics_observe(rc->rq.app->metrics,
			rc->rq.route ? (long)(rc->rq.route - rc->rq.app->routes) : -1, rs->status, ns);
	if (rs->status >= 500 || ns > 1000000000ull)
		log_warn("http", "req=%s ip=%s method=%s path=\"%.200s\" status=%d ms=%.1f", rc->rq.id,
			 rc->rq.ip, rc->rq.method_name, rc->rq.path, rs->status, (double)ns / 1e6);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct app *app = cls;
	struct rctx *rc = *con_cls;

	if (rc == NULL) {
		*con_cls = rc = rctx_new(app, conn, url, method);
		return MHD_YES;
	}
	if (*upload_size) {
		/* bodies over the route's limit are drained, then refused with 413 */
		if (!rc->too_big && buf_append(&rc->body, upload_data, *upload_size) < 0)
			rc->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	rc->rq.body = buf_cstr(&rc->body);
	rc->rq.body_len = rc->body.len;
	if (rc->too_big && rc->rq.route)
		api_error(&rc->rs, 413, "payload_too_large", "body larger than %zu bytes",
			  rc->rq.route->max_body);
	else
		rt_dispatch(&rc->rq, &rc->rs);
	return send_response(rc);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	if (*con_cls)
		rctx_free(*con_cls);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct app *app = cls;
	metrics_conn(app->metrics, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of paths and query values (RFC 3986 section 2.1), in place. "%00" stays
 * as it is: a decoded NUL would silently cut the C string, so "/healthz%00x" would reach
 * /healthz. Kept literal, such a path matches no route and gets the one 404. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *r = s, *w = s;
	while (*r) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi * 16 + lo);
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("mhd", "msg=\"%s\"", msg);
}

int http_listen(const char *addr, int port, int *fd_r, struct err *err)
{
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	bool v6 = strchr(addr, ':') != NULL;
	int one = 1, fd;

	if (v6 ? inet_pton(AF_INET6, addr, &sa6.sin6_addr) != 1
	       : inet_pton(AF_INET, addr, &sa4.sin_addr) != 1)
		return err_set(err, ERR_INVALID, "listen address '%s' is not an IP address", addr);
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, ERR_IO, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((v6 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6))
		: bind(fd, (struct sockaddr *)&sa4, sizeof(sa4))) < 0 ||
	    listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, ERR_IO, "cannot listen on %s port %d: %s", addr, port,
			       strerror(e));
	}
	*fd_r = fd;
	return 0;
}

static int read_pem(const char *path, char **out, struct err *err)
{
	FILE *f = fopen(path, "r");
	char *d;
	size_t n;
	if (f == NULL)
		return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	d = xmalloc(256 * 1024 + 1);
	n = fread(d, 1, 256 * 1024, f);
	fclose(f);
	if (n == 0 || n == 256 * 1024) {
		free(d);
		return err_set(err, ERR_INVALID, "%s: empty or larger than 256 KiB", path);
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

int http_start(const struct app *tmpl, int fd, struct http_server **s_r, struct err *err)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct app *app = &s->app;
	const struct config *c = &app->cfg;
	char path[CONFIG_PATH_MAX];

	*app = *tmpl;
	config_path(c, c->tls_cert, path, sizeof(path));
	if (read_pem(path, &s->cert, err) < 0)
		goto fail;
	config_path(c, c->tls_key, path, sizeof(path));
	if (read_pem(path, &s->key, err) < 0)
		goto fail;
	s->d = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			MHD_ALLOW_SUSPEND_RESUME,
		0, NULL, NULL, on_request, app,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_HTTPS_MEM_CERT, s->cert,
		MHD_OPTION_HTTPS_MEM_KEY, s->key,
		MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->http_threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->http_max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)c->http_per_ip_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)c->http_connection_memory,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->http_timeout,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, app,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, app,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
		MHD_OPTION_END);
	if (s->d == NULL) {
		err_set(err, ERR_IO, "libmicrohttpd did not start (check %s and %s)", c->tls_cert,
			c->tls_key);
		goto fail;
	}
	*s_r = s;
	return 0;
fail:
	free(s->cert);
	free(s->key);
	free(s);
	return -1;
}

#define QUIESCE_GRACE_MS 200

void http_stop(struct http_server **sp, unsigned drain_ms)
{
	struct http_server *s = *sp;
	if (s == NULL)
		return;
	if (drain_ms) {
		/* stop accepting (the socket stays open for the daemon taking over), then give the
		 * connections in flight up to drain_ms to finish */
		MHD_quiesce_daemon(s->d);
		/* A worker thread woken for the listening socket just before the quiesce may still
		 * be accepting a connection, which is not counted yet: "no connections" counts only
		 * once QUIESCE_GRACE_MS have passed (seen under load: such a connection was closed
		 * by the stop right after its TLS handshake, with no answer). */
		for (unsigned waited = 0; waited < drain_ms; waited += 20) {
			const union MHD_DaemonInfo *di =
				MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if ((di == NULL || di->num_connections == 0) && waited >= QUIESCE_GRACE_MS)
				break;
			usleep(20 * 1000);
		}
	}
	/* end the event streams and let them go before the daemon may stop */
	end_streams();
	for (unsigned waited = 0; waited < 3000 && streams_left(); waited += 10) {
		usleep(10 * 1000);
		end_streams(); /* a stream may have parked again in between */
	}
	MHD_stop_daemon(s->d); /* closes the listening socket unless quiesced */
	free(s->cert);
	free(s->key);
	free(s);
	*sp = NULL;
}
