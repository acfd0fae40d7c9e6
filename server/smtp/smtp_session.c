/* SMTP sessions: the state machine over a non-blocking bufferevent (STYLE.md section 6).
 *
 * Input is processed in order, command by command, as far as the buffer goes (PIPELINING,
 * RFC 2920: replies are queued in order and leave together). Processing stops while the
 * session waits (a queue commit, a password check, the tarpit), while too much output is
 * queued, and after STARTTLS. A command line must end in CRLF; see smtp_parse.c. */
#include "smtp_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"
#include "server/net/netconn.h"

static void process(struct smtp_session *s);
static void session_kill(struct smtp_session *s);

bool smtp_alive(const struct smtp_session *s)
{
	return !s->dead && !s->closing;
}

bool smtp_is_submission(const struct smtp_session *s)
{
	return s->kind != SMTP_MX;
}

const char *smtp_proto_name(const struct smtp_session *s)
{
	static const char *const names[2][2][2] = {
		/* [utf8][tls][auth] */
		{{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
		{{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
	};
	if (!s->esmtp)
		return "SMTP";
	return names[s->txn && s->txn->smtputf8][s->tls][s->authed];
}

/* ---- output ---- */

static void reply_v(struct smtp_session *s, const char *fmt, va_list ap) YZ_PRINTF(2, 0);

static void reply_v(struct smtp_session *s, const char *fmt, va_list ap)
{
	if (smtp_alive(s) && s->bev != NULL)
		netconn_vprintf(s->bev, NULL, fmt, ap);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
}

void smtp_fail(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
	if (++s->nerrors >= s->srv->lim.max_errors) {
		log_info("smtp", "sess=%llu ip=%s errors=%lld msg=\"too many errors\"",
			 (unsigned long long)s->id, s->ip, (long long)s->nerrors);
		smtp_close(s, "421 4.7.0 %s Too many errors, closing connection",
			   s->srv->lim.hostname);
	}
}

static void close_check(struct smtp_session *s)
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

void smtp_close(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	if (!smtp_alive(s))
		return;
	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
	s->closing = true;
	evtimer_del(s->delay);
	/* close_check from the loop */
	netconn_linger(s->bev, s->timer, &s->linger, SMTP_LINGER_S * 1000);
}

/* ---- timers ---- */

void smtp_arm_timer(struct smtp_session *s)
{
	int64_t t = (s->mode == MODE_DATA || s->mode == MODE_BDAT) ? s->srv->lim.data_timeout_s
								   : s->srv->lim.timeout_s;
	struct timeval tv = {(time_t)t, 0};
	evtimer_add(s->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	if (s->waiting)
		return;
	log_info("smtp", "sess=%llu ip=%s msg=\"timeout\"", (unsigned long long)s->id, s->ip);
	smtp_close(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->lim.hostname);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	void (*fn)(struct smtp_session *) = s->delay_fn;
	s->delay_fn = NULL;
	if (fn && smtp_alive(s))
		fn(s);
}

void smtp_wait(struct smtp_session *s)
{
	s->waiting = true;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ);
	evtimer_del(s->timer);
}

void smtp_resume(struct smtp_session *s)
{
	s->waiting = false;
	if (!smtp_alive(s))
		return;
	if (!s->out_blocked)
		bufferevent_enable(s->bev, EV_READ);
	smtp_arm_timer(s);
	process(s);
}

void smtp_delay(struct smtp_session *s, int64_t ms, void (*fn)(struct smtp_session *))
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	s->delay_fn = fn;
	smtp_wait(s);
	evtimer_add(s->delay, &tv);
}

/* ---- transactions ---- */

struct smtp_txn *smtp_txn_new(void)
{
	struct smtp_txn *t = xcalloc(1, sizeof(*t));
	t->arena = arena_new();
	t->t0_ms = time_now_ms();
	return t;
}

void smtp_txn_free(struct smtp_txn *t)
{
	if (t == NULL)
		return;
	if (t->spf_cancel) /* on the loop, where the job is freed: it is still there */
		atomic_store(t->spf_cancel, true);
	smtp_msg_release(&t->msg);
	arena_free(&t->arena);
	free(t);
}

void smtp_txn_reset(struct smtp_session *s)
{
	smtp_txn_free(s->txn);
	s->txn = NULL;
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_discard = false;
	s->state = s->helo[0] ? ST_READY : ST_GREET;
}

void smtp_session_reset(struct smtp_session *s)
{
	smtp_auth_abort(s);
	smtp_txn_reset(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->authed = false;
	s->account_id = 0;
	s->user[0] = '\0';
	s->user_max_message = s->user_max_rcpts = 0;
	s->mode = MODE_CMD;
	s->state = ST_GREET;
}

/* ---- the connection ---- */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void setup_bev(struct smtp_session *s)
{
	netconn_setup(s->bev, on_read, on_write, on_event, s, SMTP_IN_HIGH, SMTP_OUT_LOW, s->tls);
}

int smtp_starttls(struct smtp_session *s)
{
	/* RFC 3207 section 5: buffered plaintext is discarded */
	if (netconn_starttls(&s->srv->net, &s->bev) < 0)
		return -1;
	s->tls = true;
	setup_bev(s);
	smtp_session_reset(s);
	return 0;
}

static void session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	smtp_auth_abort(s);
	smtp_txn_free(s->txn);
	event_free(s->timer);
	event_free(s->delay);
	arena_free(&s->cmd);
	arena_free(&s->arena);
	free(s);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

/* The connection is over. The session itself goes once no completion refers to it. */
static void session_kill(struct smtp_session *s)
{
	if (s->dead)
		return;
	s->dead = true;
	if (s->rdns_cancel)
		atomic_store(s->rdns_cancel, true);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->timer);
	evtimer_del(s->delay);
	if (s->counted_ip) {
		netsvc_map_add(&s->srv->per_ip, s->ip, -1, 0, 0);
		s->counted_ip = false;
	}
	log_info("smtp", "sess=%llu ip=%s commands=%lld errors=%lld msg=\"disconnect\"",
		 (unsigned long long)s->id, s->ip, (long long)s->ncommands, (long long)s->nerrors);
	if (s->pending == 0)
		session_free(s);
}

void smtp_session_unref(struct smtp_session *s)
{
	s->pending--;
	if (s->dead && s->pending == 0)
		session_free(s);
}

void smtp_session_free_all(struct smtp_server *srv)
{
	struct smtp_session *s = srv->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		session_kill(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (ssl)
			s->tls_info = arena_printf(s->arena, "%s with cipher %s", SSL_get_version(ssl),
						   SSL_get_cipher_name(ssl));
		return;
	}
	if (netconn_ended(bev, what, "smtp", s->id, s->ip, s->closing ? &s->linger : NULL))
		session_kill(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) { /* nothing more is read from a closing session: it lingers */
		if (!netconn_linger_drain(bev, &s->linger))
			session_kill(s);
		return;
	}
	if (s->waiting)
		return;
	smtp_arm_timer(s);
	process(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	if (s->out_blocked && evbuffer_get_length(bufferevent_get_output(bev)) <= SMTP_OUT_LOW) {
		s->out_blocked = false;
		if (!s->waiting) {
			bufferevent_enable(bev, EV_READ);
			process(s);
		}
	}
}

/* ---- the client's name (port 25) ---- */

struct rdns_job {
	struct netsvc_job job;
	struct dns_resolver *dns;
	atomic_bool cancelled; /* the session went first: no lookups for nobody */
	char ip[64];
	char name[256];
	bool found;
};

static void rdns_run(struct netsvc_job *j)
{
	struct rdns_job *r = (struct rdns_job *)j;
	struct err err;
	if (atomic_load(&r->cancelled))
		return;
	r->found = dns_confirmed_name(r->dns, r->ip, r->name, sizeof(r->name), &err) == 0;
	if (!r->found && err.code == ERR_IO)
		log_info("smtp", "ip=%s msg=\"reverse lookup failed\" err=\"%s\"", r->ip, err.msg);
}

static void rdns_done(struct netsvc_job *j)
{
	struct rdns_job *r = (struct rdns_job *)j;
	struct smtp_session *s = j->s;
	bool go_on = false;

	if (s) {
		s->rdns_cancel = NULL;
		/* a name is one DNS label list: letters, digits, '-', '.', '_' only, so it can
		 * go into a header as it is */
		if (r->found && r->name[strspn(r->name, "abcdefghijklmnopqrstuvwxyz"
							 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")] == '\0')
			snprintf(s->rdns, sizeof(s->rdns), "%s", r->name);
		s->rdns_pending = false;
		go_on = s->rdns_wanted && smtp_alive(s) && s->txn != NULL;
		s->rdns_wanted = false;
	}
	free(r);
	if (go_on)
		smtp_data_authenticate(s);
}

static void start_rdns(struct smtp_session *s)
{
	struct rdns_job *r;

	snprintf(s->rdns, sizeof(s->rdns), "unknown");
	if (s->kind != SMTP_MX || s->srv->dns == NULL)
		return;
	r = xcalloc(1, sizeof(*r));
	r->job.run = rdns_run;
	r->job.done = rdns_done;
	r->dns = s->srv->dns;
	snprintf(r->ip, sizeof(r->ip), "%s", s->ip);
	s->rdns_pending = true;
	s->rdns_cancel = &r->cancelled;
	smtp_job_start(s, &r->job);
}

void smtp_session_accept(struct smtp_server *srv, enum smtp_kind kind, int fd, const char *ip)
{
	const struct smtp_limits *l = &srv->lim;
	struct smtp_session *s;

	if ((int64_t)srv->nsessions >= l->max_sessions ||
	    netsvc_map_get(&srv->per_ip, ip, 0, 0) >= l->max_per_ip) {
		char msg[400];
		log_warn("smtp", "ip=%s port=%d sessions=%zu msg=\"connection refused: too many\"",
			 ip, l->ports[kind], srv->nsessions);
		snprintf(msg, sizeof(msg), "421 4.7.0 %s Too many connections, try again later\r\n",
			 l->hostname);
		/* no TLS handshake just to say no */
		netconn_refuse(fd, kind != SMTP_SUBMISSIONS ? msg : NULL);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->id = ++srv->next_id;
	s->kind = kind;
	s->port = l->ports[kind];
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->tls = kind == SMTP_SUBMISSIONS;
	s->bev = netconn_new(&srv->net, fd, s->tls);
	if (s->bev == NULL) {
		log_error("smtp", "ip=%s msg=\"cannot set up the connection\"", ip);
		evutil_closesocket(fd);
		free(s);
		return;
	}
	s->arena = arena_new();
	s->cmd = arena_new();
	s->timer = evtimer_new(srv->net.base, on_timer, s);
	s->delay = evtimer_new(srv->net.base, on_delay, s);
	s->state = ST_GREET;
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	netsvc_map_add(&srv->per_ip, ip, 1, 0, 0);
	s->counted_ip = true;
	setup_bev(s);
	log_info("smtp", "sess=%llu ip=%s port=%d msg=\"connect\"", (unsigned long long)s->id, ip,
		 s->port);
	start_rdns(s);
	smtp_reply(s, "220 %s %s", l->hostname, l->banner);
	smtp_arm_timer(s);
}

/* ---- input ---- */

/* A line past max_line: drop bytes up to the next LF without keeping them, then say so. */
static void skip_line(struct smtp_session *s, struct evbuffer *in)
{
	if (!netconn_skip_line(in))
		return;
	s->mode = MODE_CMD;
	smtp_fail(s, "500 5.5.2 Line too long (the limit is %zu bytes)", s->srv->lim.max_line);
}

static enum smtp_ret command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_cmdline cl;
	const struct smtp_cmd *c;

	if (++s->ncommands > s->srv->lim.max_commands) {
		smtp_close(s, "421 4.7.0 %s Too many commands, closing connection",
			   s->srv->lim.hostname);
		return SMTP_STOP;
	}
	if (smtp_cmd_split(line, len, &cl) < 0) {
		smtp_fail(s, "500 5.5.2 Syntax error, command unrecognized");
		return SMTP_NEXT;
	}
	c = smtp_cmd_find(cl.verb);
	if (c == NULL) {
		smtp_fail(s, "500 5.5.2 Command not recognized");
		return SMTP_NEXT;
	}
	if (!(c->states & s->state)) {
		smtp_cmd_bad_sequence(s, c);
		return SMTP_NEXT;
	}
	return c->fn(s, cl.arg, cl.arg_len);
}

/* Bare CR/LF policy for command lines: the line is refused with 500 5.5.2 and counts as an
 * error; the stream goes on after its LF. In message content the whole message is refused
 * (smtp_data.c); nothing is ever taken as a line end but CRLF. */
static void bad_line(struct smtp_session *s, const struct smtp_line *ln)
{
	if (s->mode == MODE_SASL)
		smtp_auth_abort(s);
	if (ln->error == SMTP_LINE_NUL)
		smtp_fail(s, "500 5.5.2 NUL characters are not allowed in commands");
	else
		smtp_fail(s, "500 5.5.2 Bare CR or LF not allowed: lines end in CRLF");
}

static void process(struct smtp_session *s)
{
	size_t max = s->srv->lim.max_line;

	while (smtp_alive(s) && !s->waiting && !s->out_blocked) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		size_t avail = evbuffer_get_length(in), n;
		struct smtp_line ln;
		const char *p;
		char *line;
		enum smtp_ret r;
		int rc;

		if (avail == 0)
			break;
		if (s->mode == MODE_DATA || s->mode == MODE_BDAT) {
			if (smtp_data_input(s) == SMTP_STOP)
				break;
			continue;
		}
		if (s->mode == MODE_SKIP) {
			skip_line(s, in);
			continue;
		}
		n = avail < max + 2 ? avail : max + 2;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		rc = smtp_line_next(p, n, max, &ln);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (ln.error == SMTP_LINE_LONG) {
				if (s->mode == MODE_SASL)
					smtp_auth_abort(s);
				s->mode = MODE_SKIP;
				continue;
			}
			evbuffer_drain(in, ln.consumed);
			bad_line(s, &ln);
			continue;
		}
		line = arena_strndup(s->cmd, p, ln.len);
		evbuffer_drain(in, ln.consumed);
		r = s->mode == MODE_SASL ? smtp_auth_line(s, line, ln.len)
					 : command(s, line, ln.len);
		arena_reset(s->cmd);
		if (r == SMTP_STOP)
			break;
	}
	if (smtp_alive(s) && !s->out_blocked &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUT_HIGH) {
		/* a client that pipelines without reading its replies waits for them */
		s->out_blocked = true;
		bufferevent_disable(s->bev, EV_READ);
	}
}
