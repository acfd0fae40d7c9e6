/* POP3 sessions: the state machine over a non-blocking bufferevent (STYLE.md section 6).
 *
 * Input is processed in order, command by command, as far as the buffer goes (PIPELINING,
 * RFC 2449 section 6.6: responses are queued in order and leave together). Processing stops
 * while the session waits for a job, while too much output is queued, and after STLS. */
#include "pop3_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "lib/log.h"
#include "lib/util.h"
#include "server/net/netconn.h"

static void process(struct pop3_session *s);
static void session_kill(struct pop3_session *s);

bool pop3_alive(const struct pop3_session *s)
{
	return !s->dead && !s->closing;
}

/* ---- output ---- */

static void put_v(struct pop3_session *s, const char *prefix, const char *fmt, va_list ap)
	YZ_PRINTF(3, 0);

static void put_v(struct pop3_session *s, const char *prefix, const char *fmt, va_list ap)
{
	if (pop3_alive(s) && s->bev != NULL)
		netconn_vprintf(s->bev, prefix, fmt, ap);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	put_v(s, "+OK ", fmt, ap);
	va_end(ap);
}

void pop3_line(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	put_v(s, NULL, fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	put_v(s, "-ERR ", fmt, ap);
	va_end(ap);
	if (pop3_alive(s) && ++s->nerrors >= s->srv->lim.max_errors) {
		log_info("pop3", "sess=%llu ip=%s errors=%lld msg=\"too many errors\"",
			 (unsigned long long)s->id, s->ip, (long long)s->nerrors);
		pop3_close(s, "-ERR Too many errors, closing connection");
	}
}

static void free_ref(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

void pop3_write_take(struct pop3_session *s, char *data, size_t len)
{
	if (!pop3_alive(s) || s->bev == NULL || len == 0 ||
	    evbuffer_add_reference(bufferevent_get_output(s->bev), data, len, free_ref, NULL) < 0)
		free(data);
}

static void close_check(struct pop3_session *s)
{
	struct timeval tv = {0, 20000};
	if (s->dead)
		return;
	if (netconn_linger_over(s->bev, &s->linger)) {
		session_kill(s);
		return;
	}
	evtimer_add(s->timer, &tv);
}

void pop3_close(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	if (!pop3_alive(s))
		return;
	va_start(ap, fmt);
	put_v(s, NULL, fmt, ap);
	va_end(ap);
	s->closing = true;
	/* close_check from the loop */
	netconn_linger(s->bev, s->timer, &s->linger, POP3_LINGER_S * 1000);
}

/* ---- timers ---- */

static void arm_timer(struct pop3_session *s)
{
	struct timeval tv = {(time_t)s->srv->lim.timeout_s, 0};
	evtimer_add(s->timer, &tv);
}

/* RFC 1939 section 3: the autologout timer. An expired session in the TRANSACTION state does
 * not enter the UPDATE state: nothing is deleted. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_session *s = arg;
	(void)fd;
	(void)what;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	if (s->waiting)
		return;
	log_info("pop3", "sess=%llu ip=%s msg=\"timeout\"", (unsigned long long)s->id, s->ip);
	pop3_close(s, "-ERR Autologout; idle for too long");
}

void pop3_wait(struct pop3_session *s)
{
	s->waiting = true;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ);
	evtimer_del(s->timer);
}

void pop3_resume(struct pop3_session *s)
{
	s->waiting = false;
	if (!pop3_alive(s))
		return;
	if (!s->out_blocked)
		bufferevent_enable(s->bev, EV_READ);
	arm_timer(s);
	process(s);
}

/* ---- the connection ---- */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void setup_bev(struct pop3_session *s)
{
	netconn_setup(s->bev, on_read, on_write, on_event, s, POP3_IN_HIGH, POP3_OUT_LOW, s->tls);
}

static void session_reset(struct pop3_session *s)
{
	pop3_auth_abort(s);
	s->have_user = false;
	s->user[0] = '\0';
	s->mode = MODE_CMD;
	s->state = ST_AUTH;
}

int pop3_starttls(struct pop3_session *s)
{
	/* RFC 2595 section 4: buffered plaintext is discarded */
	if (netconn_starttls(&s->srv->net, &s->bev) < 0)
		return -1;
	s->tls = true;
	setup_bev(s);
	session_reset(s);
	return 0;
}

static void session_free(struct pop3_session *s)
{
	struct pop3_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	pop3_auth_abort(s);
	/* no UPDATE state for a session that did not QUIT (RFC 1939 section 6) */
	pop3_drop_free(srv, &s->drop, false);
	event_free(s->timer);
	arena_free(&s->cmd);
	free(s);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

/* The connection is over. The session itself goes once no completion refers to it. */
static void session_kill(struct pop3_session *s)
{
	if (s->dead)
		return;
	s->dead = true;
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->timer);
	if (s->counted_ip) {
		netsvc_map_add(&s->srv->per_ip, s->ip, -1, 0, 0);
		s->counted_ip = false;
	}
	log_info("pop3", "sess=%llu ip=%s user=%s commands=%lld errors=%lld msg=\"disconnect\"",
		 (unsigned long long)s->id, s->ip, s->address[0] ? s->address : "-",
		 (long long)s->ncommands, (long long)s->nerrors);
	if (s->pending == 0)
		session_free(s);
}

void pop3_session_unref(struct pop3_session *s)
{
	s->pending--;
	if (s->dead && s->pending == 0)
		session_free(s);
}

void pop3_session_free_all(struct pop3_server *srv)
{
	struct pop3_session *s = srv->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		session_kill(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct pop3_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl)
			log_debug("pop3", "sess=%llu tls=%s cipher=%s", (unsigned long long)s->id,
				  SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		return;
	}
	if (netconn_ended(bev, what, "pop3", s->id, s->ip, s->closing ? &s->linger : NULL))
		session_kill(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct pop3_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) { /* nothing more is read from a closing session: it lingers */
		if (!netconn_linger_drain(bev, &s->linger))
			session_kill(s);
		return;
	}
	if (s->waiting)
		return;
	arm_timer(s);
	process(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct pop3_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	if (!s->waiting)
		arm_timer(s); /* a client that downloads a large message is not idle */
	if (s->out_blocked && evbuffer_get_length(bufferevent_get_output(bev)) <= POP3_OUT_LOW) {
		s->out_blocked = false;
		if (!s->waiting) {
			bufferevent_enable(bev, EV_READ);
			process(s);
		}
	}
}

static struct pop3_session *session_new(struct pop3_server *srv, enum pop3_kind kind, int fd,
					const char *ip)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->srv = srv;
	s->id = ++srv->next_id;
	s->kind = kind;
	s->port = srv->lim.ports[kind];
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->tls = kind == POP3_TLS;
	s->bev = netconn_new(&srv->net, fd, s->tls);
	if (s->bev == NULL) {
		log_error("pop3", "ip=%s msg=\"cannot set up the connection\"", ip);
		evutil_closesocket(fd);
		free(s);
		return NULL;
	}
	s->cmd = arena_new();
	s->timer = evtimer_new(srv->net.base, on_timer, s);
	s->state = ST_AUTH;
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	setup_bev(s);
	return s;
}

void pop3_session_accept(struct pop3_server *srv, enum pop3_kind kind, int fd, const char *ip)
{
	const struct pop3_limits *l = &srv->lim;
	bool refuse = (int64_t)srv->nsessions >= l->max_sessions ||
		      netsvc_map_get(&srv->per_ip, ip, 0, 0) >= l->max_per_ip;
	struct pop3_session *s;

	if (refuse)
		log_warn("pop3", "ip=%s port=%d sessions=%zu msg=\"connection refused: too many\"",
			 ip, l->ports[kind], srv->nsessions);
	/* a refused session, even over implicit TLS, still hears why (after the handshake) and
	 * lingers at most POP3_LINGER_S */
	s = session_new(srv, kind, fd, ip);
	if (s == NULL)
		return;
	if (refuse) {
		pop3_close(s, "-ERR [SYS/TEMP] Too many connections, try again later");
		return;
	}
	netsvc_map_add(&srv->per_ip, ip, 1, 0, 0);
	s->counted_ip = true;
	log_info("pop3", "sess=%llu ip=%s port=%d msg=\"connect\"", (unsigned long long)s->id, ip,
		 s->port);
	/* RFC 1939 section 4; no APOP, so no timestamp in the greeting */
	pop3_ok(s, "%s POP3 server ready", l->hostname);
	arm_timer(s);
}

/* ---- input ---- */

/* A line past max_line: drop bytes up to the next LF without keeping them, then say so. */
static void skip_line(struct pop3_session *s, struct evbuffer *in)
{
	if (!netconn_skip_line(in))
		return;
	s->mode = MODE_CMD;
	pop3_err(s, "Line too long (the limit is %zu bytes)", s->srv->lim.max_line);
}

static enum pop3_ret command(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_cmdline cl;
	const struct pop3_cmd *c;

	s->ncommands++;
	if (pop3_cmd_split(line, len, &cl) < 0) {
		pop3_err(s, "Syntax error");
		return POP3_NEXT;
	}
	c = pop3_cmd_find(cl.verb);
	if (c == NULL) {
		pop3_err(s, "Unknown command");
		return POP3_NEXT;
	}
	if (!(c->states & s->state)) {
		pop3_err(s, s->state == ST_AUTH ? "Not logged in" : "Already logged in");
		return POP3_NEXT;
	}
	return c->fn(s, cl.arg, cl.arg_len);
}

static void process(struct pop3_session *s)
{
	size_t max = s->srv->lim.max_line;

	while (pop3_alive(s) && !s->waiting && !s->out_blocked) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		size_t avail = evbuffer_get_length(in), n;
		struct pop3_line ln;
		const char *p;
		char *line;
		enum pop3_ret r;
		int rc;

		if (avail == 0)
			break;
		if (s->mode == MODE_SKIP) {
			skip_line(s, in);
			continue;
		}
		n = avail < max + 2 ? avail : max + 2;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		rc = pop3_line_next(p, n, max, &ln);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (s->mode == MODE_SASL)
				pop3_auth_abort(s);
			if (ln.error == POP3_LINE_LONG) {
				s->mode = MODE_SKIP;
				continue;
			}
			evbuffer_drain(in, ln.consumed);
			pop3_err(s, "NUL or CR characters are not allowed in commands");
			continue;
		}
		line = arena_strndup(s->cmd, p, ln.len);
		evbuffer_drain(in, ln.consumed);
		r = s->mode == MODE_SASL ? pop3_auth_line(s, line, ln.len)
					 : command(s, line, ln.len);
		OPENSSL_cleanse(line, ln.len); /* PASS and SASL lines carry secrets */
		arena_reset(s->cmd);
		if (r == POP3_STOP)
			break;
	}
	if (pop3_alive(s) && !s->out_blocked &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > POP3_OUT_HIGH) {
		/* a client that pipelines without reading its responses waits for them */
		s->out_blocked = true;
		bufferevent_disable(s->bev, EV_READ);
	}
}
