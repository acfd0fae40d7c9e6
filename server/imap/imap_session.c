/* IMAP sessions: the state machine over a non-blocking bufferevent (STYLE.md section 6).
 *
 * Bytes move from the socket into s->in, where imap_scan() finds whole commands, literals
 * included (a synchronizing literal gets its "+" continuation from here, never from a
 * command). A whole command is parsed and looked up in the command table, whose states mask
 * decides whether it may run now. Commands that touch storage run as jobs; the session reads
 * nothing more until the job is done. Limits: line length, literal size (smaller before
 * authentication), nesting, commands per second (reading pauses), BAD commands, and an idle
 * timer per state. */
#include "imap_int.h"

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

static void process(struct imap_session *s);
static void session_kill(struct imap_session *s);

bool imap_alive(const struct imap_session *s)
{
	return !s->dead && !s->closing;
}

/* ---- output ---- */

static void reply_v(struct imap_session *s, const char *fmt, va_list ap) YZ_PRINTF(2, 0);

static void reply_v(struct imap_session *s, const char *fmt, va_list ap)
{
	if (imap_alive(s) && s->bev != NULL)
		netconn_vprintf(s->bev, NULL, fmt, ap);
}

void imap_reply(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
}

void imap_out(struct imap_cmdctx *c, const char *fmt, ...)
{
	va_list ap;
	char *line;
	va_start(ap, fmt);
	line = arena_vprintf(c->a, fmt, ap);
	va_end(ap);
	(void)!buf_puts(&c->out, line);
	(void)!buf_append(&c->out, "\r\n", 2);
}

void imap_tagged(struct imap_cmdctx *c, const char *status, const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	text = arena_vprintf(c->a, fmt, ap);
	va_end(ap);
	(void)!buf_printf(&c->out, "%s %s %s\r\n", c->cmd.tag ? c->cmd.tag : "*", status, text);
}

static void close_check(struct imap_session *s)
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

static void start_close(struct imap_session *s)
{
	if (!imap_alive(s))
		return;
	s->closing = true;
	evtimer_del(s->delay);
	/* close_check from the loop */
	netconn_linger(s->bev, s->timer, &s->linger, IMAP_LINGER_S * 1000);
}

void imap_bye(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	if (!imap_alive(s))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	imap_reply(s, "* BYE %s", line);
	start_close(s);
}

static void bad(struct imap_session *s, const char *tag, const char *why)
{
	imap_reply(s, "%s BAD %s", tag ? tag : "*", why);
	if (++s->nerrors >= s->srv->lim.max_errors) {
		log_info("imap", "sess=%llu ip=%s errors=%lld msg=\"too many errors\"",
			 (unsigned long long)s->id, s->ip, (long long)s->nerrors);
		imap_bye(s, "Too many invalid commands");
	}
}

/* ---- timers ---- */

void imap_arm_timer(struct imap_session *s)
{
	const struct imap_limits *l = &s->srv->lim;
	int64_t t = s->state == ST_NOAUTH ? l->login_timeout_s
		    : s->mode == MODE_IDLE ? l->idle_timeout_s
					   : l->timeout_s;
	struct timeval tv = {(time_t)t, 0};
	evtimer_add(s->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	if (s->busy) {
		imap_arm_timer(s);
		return;
	}
	log_info("imap", "sess=%llu ip=%s msg=\"timeout\"", (unsigned long long)s->id, s->ip);
	imap_bye(s, "Autologout; idle for too long");
}

static void arm_poll(struct imap_session *s)
{
	struct timeval tv = {IMAP_POLL_S, 0};
	evtimer_add(s->delay, &tv);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct imap_session *s = arg;
	if (!imap_alive(s))
		return;
	if (s->paused) {
		s->paused = false;
		process(s);
		return;
	}
	if (s->mode == MODE_IDLE) {
		s->dirty = true;
		if (!s->busy)
			imap_idle_refresh(s);
		arm_poll(s);
	}
}

void imap_session_notify(struct imap_session *s)
{
	if (!imap_alive(s))
		return;
	s->dirty = true;
	if (s->mode == MODE_IDLE && !s->busy)
		imap_idle_refresh(s);
}

/* ---- the connection ---- */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void setup_bev(struct imap_session *s)
{
	netconn_setup(s->bev, on_read, on_write, on_event, s, IMAP_IN_HIGH, IMAP_OUT_LOW, s->tls);
}

static void scan_reset(struct imap_session *s)
{
	const struct imap_limits *l = &s->srv->lim;
	s->scan.max_line = l->max_line;
	s->scan.max_literal = s->state == ST_NOAUTH ? l->max_literal_preauth : l->max_literal;
	s->scan.max_total = s->scan.max_literal + 4 * l->max_line;
	imap_scan_reset(&s->scan);
}

void imap_session_limits(struct imap_session *s)
{
	if (s->scan.pos == 0)
		scan_reset(s);
}

/* Drop the first n bytes of s->in; an empty buffer gives its memory back (idle sessions
 * should cost little). */
static void consume(struct imap_session *s, size_t n)
{
	if (n >= s->in.len) {
		buf_release(&s->in);
		buf_init(&s->in, 0);
	} else if (n > 0) {
		memmove(s->in.data, s->in.data + n, s->in.len - n);
		s->in.len -= n;
		s->in.data[s->in.len] = '\0';
	}
	scan_reset(s);
}

int imap_starttls(struct imap_session *s)
{
	/* RFC 3501 6.2.1: nothing sent before the handshake counts afterwards, neither what
	 * libevent buffered nor what s->in holds */
	if (netconn_starttls(&s->srv->net, &s->bev) < 0)
		return -1;
	consume(s, s->in.len);
	s->tls = true;
	setup_bev(s);
	return 0;
}

static void session_free(struct imap_session *s)
{
	struct imap_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	imap_auth_abort(s);
	imap_view_free(&s->view);
	mailbox_unref(&s->mb);
	buf_release(&s->in);
	free(s->idle_tag);
	event_free(s->timer);
	event_free(s->delay);
	free(s);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

static void session_kill(struct imap_session *s)
{
	if (s->dead)
		return;
	s->dead = true;
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	evtimer_del(s->timer);
	evtimer_del(s->delay);
	imap_session_unaccount(s);
	if (s->counted_ip) {
		netsvc_map_add(&s->srv->per_ip, s->ip, -1, 0, 0);
		s->counted_ip = false;
	}
	log_info("imap", "sess=%llu ip=%s user=%s commands=%lld msg=\"disconnect\"",
		 (unsigned long long)s->id, s->ip, s->user[0] ? s->user : "-",
		 (long long)s->ncommands);
	if (s->pending == 0)
		session_free(s);
}

void imap_session_unref(struct imap_session *s)
{
	s->pending--;
	if (s->dead && s->pending == 0)
		session_free(s);
}

void imap_session_free_all(struct imap_server *srv)
{
	struct imap_session *s = srv->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		if (imap_alive(s) && s->bev) {
			imap_reply(s, "* BYE Server shutting down");
			bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
		}
		session_kill(s);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct imap_session *s = arg;
	if (netconn_ended(bev, what, "imap", s->id, s->ip, s->closing ? &s->linger : NULL))
		session_kill(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct imap_session *s = arg;
	if (s->dead)
		return;
	if (s->closing) { /* nothing more is read from a closing session: it lingers */
		if (!netconn_linger_drain(bev, &s->linger))
			session_kill(s);
		return;
	}
	if (s->busy)
		return;
	imap_arm_timer(s);
	process(s);
}

static void repost(struct imap_session *s);

static void on_write(struct bufferevent *bev, void *arg)
{
	struct imap_session *s = arg;
	size_t len;
	if (s->dead)
		return;
	if (s->closing) {
		close_check(s);
		return;
	}
	len = evbuffer_get_length(bufferevent_get_output(bev));
	if (s->more && len <= IMAP_OUT_LOW) {
		repost(s);
		return;
	}
	if (s->out_blocked && len <= IMAP_OUT_LOW) {
		s->out_blocked = false;
		if (!s->busy) {
			bufferevent_enable(bev, EV_READ);
			process(s);
		}
	}
}

void imap_session_accept(struct imap_server *srv, enum imap_kind kind, int fd, const char *ip)
{
	const struct imap_limits *l = &srv->lim;
	struct imap_session *s;

	if ((int64_t)srv->nsessions >= l->max_sessions ||
	    netsvc_map_get(&srv->per_ip, ip, 0, 0) >= l->max_per_ip) {
		log_warn("imap", "ip=%s sessions=%zu msg=\"connection refused: too many\"", ip,
			 srv->nsessions);
		netconn_refuse(fd, kind == IMAP_PLAIN
					   ? "* BYE Too many connections, try again later\r\n"
					   : NULL);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->id = ++srv->next_id;
	s->kind = kind;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->tls = kind == IMAP_TLS;
	s->bev = netconn_new(&srv->net, fd, s->tls);
	if (s->bev == NULL) {
		log_error("imap", "ip=%s msg=\"cannot set up the connection\"", ip);
		evutil_closesocket(fd);
		free(s);
		return;
	}
	s->timer = evtimer_new(srv->net.base, on_timer, s);
	s->delay = evtimer_new(srv->net.base, on_delay, s);
	s->state = ST_NOAUTH;
	s->tokens = (double)l->commands_per_second;
	s->tokens_ms = time_now_ms();
	buf_init(&s->in, 0);
	scan_reset(s);
	s->next = srv->sessions;
	if (srv->sessions)
		srv->sessions->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	netsvc_map_add(&srv->per_ip, ip, 1, 0, 0);
	s->counted_ip = true;
	setup_bev(s);
	log_debug("imap", "sess=%llu ip=%s port=%d msg=\"connect\"", (unsigned long long)s->id, ip,
		  l->ports[kind]);
	imap_reply(s, "* OK [CAPABILITY %s] %s Yizhan IMAP4rev1 ready", imap_capabilities(s),
		   l->hostname);
	imap_arm_timer(s);
}

/* ---- commands and jobs ---- */

static void cmd_free(struct imap_cmdctx *c)
{
	buf_release(&c->out);
	arena_free(&c->a);
	free(c);
}

/* The command is over: its bytes leave s->in, reading resumes. */
static void finish(struct imap_session *s, struct imap_cmdctx *c)
{
	size_t used = s->scan.end;
	bool close_after = c->close_after;

	cmd_free(c);
	s->more = NULL;
	s->busy = false;
	s->folder_loop = s->view ? s->view->folder_id : 0;
	if (s->state & ST_AUTHED)
		imap_session_authed(s);
	if (!imap_alive(s))
		return;
	if (close_after) {
		start_close(s);
		return;
	}
	consume(s, used);
	if (s->mode == MODE_IDLE)
		arm_poll(s);
	imap_resume(s);
}

void imap_cmd_done(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	if (c->out.len && imap_alive(s))
		evbuffer_add(bufferevent_get_output(s->bev), c->out.data, c->out.len);
	finish(s, c);
}

static void run_cmd(struct netsvc_job *j)
{
	struct imap_cmdctx *c = (struct imap_cmdctx *)j;
	c->more = false;
	c->exec(c);
}

static void done_cmd(struct netsvc_job *j)
{
	struct imap_cmdctx *c = (struct imap_cmdctx *)j;
	struct imap_session *s = j->s;

	if (s == NULL || !imap_alive(s)) {
		cmd_free(c);
		if (s)
			s->busy = false;
		return;
	}
	if (c->out.len)
		evbuffer_add(bufferevent_get_output(s->bev), c->out.data, c->out.len);
	buf_reset(&c->out);
	if (c->more) {
		s->more = c;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) <= IMAP_OUT_LOW)
			repost(s);
		return;
	}
	finish(s, c);
}

static void repost(struct imap_session *s)
{
	struct imap_cmdctx *c = s->more;
	s->more = NULL;
	c->job.run = run_cmd;
	c->job.done = done_cmd;
	imap_job_start(s, &c->job);
}

void imap_run(struct imap_cmdctx *c, imap_exec_fn *exec)
{
	struct imap_session *s = c->s;
	c->exec = exec;
	c->job.run = run_cmd;
	c->job.done = done_cmd;
	s->busy = true;
	evtimer_del(s->timer);
	imap_job_start(s, &c->job);
}

void imap_resume(struct imap_session *s)
{
	if (!imap_alive(s))
		return;
	if (!s->out_blocked)
		bufferevent_enable(s->bev, EV_READ);
	imap_arm_timer(s);
	if (s->mode == MODE_IDLE && s->dirty)
		imap_idle_refresh(s);
	if (!s->busy)
		process(s);
}

/* Commands per second: a token bucket; an empty one pauses reading until a token is due. */
static bool rate_ok(struct imap_session *s)
{
	int64_t now = time_now_ms(), rate = s->srv->lim.commands_per_second;
	s->tokens += (double)(now - s->tokens_ms) * (double)rate / 1000.0;
	s->tokens_ms = now;
	if (s->tokens > (double)rate)
		s->tokens = (double)rate;
	if (s->tokens >= 1.0)
		return true;
	double wait_ms = (1.0 - s->tokens) * 1000.0 / (double)rate + 1;
	struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)((int64_t)wait_ms % 1000) * 1000};
	s->paused = true;
	evtimer_add(s->delay, &tv);
	return false;
}

static void dispatch(struct imap_session *s, const char *buf, size_t len)
{
	struct imap_cmdctx *c = xcalloc(1, sizeof(*c));
	const struct imap_cmd *cmd;
	const char *tag, *why;

	s->ncommands++;
	s->tokens -= 1.0;
	c->s = s;
	c->a = arena_new();
	buf_init(&c->out, 0);
	if (imap_parse(buf, len, s->srv->lim.max_nesting, IMAP_COPY_MAX, c->a, &c->cmd, &tag,
		       &why) < 0) {
		bad(s, tag, why);
		cmd_free(c);
		consume(s, s->scan.end);
		return;
	}
	cmd = imap_cmd_find(c->cmd.name);
	if (cmd == NULL) {
		bad(s, c->cmd.tag, "Unknown command");
		cmd_free(c);
		consume(s, s->scan.end);
		return;
	}
	if (!(cmd->states & s->state)) {
		if (s->state == ST_NOAUTH)
			bad(s, c->cmd.tag, "Log in first");
		else if (cmd->states == ST_NOAUTH)
			bad(s, c->cmd.tag, "Already authenticated");
		else
			bad(s, c->cmd.tag, "Select a mailbox first");
		cmd_free(c);
		consume(s, s->scan.end);
		return;
	}
	c->uid = strncmp(c->cmd.name, "UID ", 4) == 0;
	s->busy = true; /* until finish(): no input is consumed meanwhile */
	if (cmd->fn)
		cmd->fn(c);
	else
		imap_run(c, cmd->exec);
}

/* The tag of a refused command (for TOOBIG replies), copied into out. */
static void tag_of(const char *p, size_t n, char *out, size_t outsz)
{
	size_t i = 0;
	while (i < n && i + 1 < outsz && p[i] != ' ' && (unsigned char)p[i] > 0x20 &&
	       (unsigned char)p[i] < 0x7f)
		i++;
	memcpy(out, p, i);
	out[i] = '\0';
	if (i == 0)
		snprintf(out, outsz, "*");
}

/* A line in SASL or IDLE mode. 1: handled; 0: incomplete. */
static int mode_line(struct imap_session *s)
{
	char *nl = memchr(s->in.data, '\n', s->in.len);
	size_t n;
	if (nl == NULL) {
		if (s->in.len > s->srv->lim.max_line + 2)
			imap_bye(s, "Line too long");
		return 0;
	}
	n = (size_t)(nl - s->in.data);
	size_t used = n + 1;
	if (n > 0 && s->in.data[n - 1] == '\r')
		n--;
	char *line = xstrndup(s->in.data, n);
	s->scan.end = used;
	consume(s, used);
	if (s->mode == MODE_SASL)
		imap_auth_line(s, line, n);
	else
		imap_idle_line(s, line, n);
	OPENSSL_cleanse(line, n);
	free(line);
	return 1;
}

static void on_scan_error(struct imap_session *s)
{
	char tag[64];
	tag_of(s->in.data, s->in.len, tag, sizeof(tag));
	switch (s->scan.error) {
	case IMAP_SCAN_LONG:
		log_info("imap", "sess=%llu ip=%s msg=\"line too long\"", (unsigned long long)s->id,
			 s->ip);
		imap_bye(s, "Line too long (the limit is %zu bytes)", s->srv->lim.max_line);
		return;
	case IMAP_SCAN_TOOBIG:
		if (s->scan.lit_nonsync || s->scan.nliterals > 0 || s->scan.lit_size == 0) {
			/* its bytes are on their way and cannot be told from commands */
			imap_reply(s, "%s BAD [TOOBIG] Literal too big (the limit is %zu bytes)", tag,
				   s->scan.max_literal);
			imap_bye(s, "[TOOBIG] Literal too big");
			return;
		}
		imap_reply(s, "%s NO [TOOBIG] Literal too big (the limit is %zu bytes%s)", tag,
			   s->scan.max_literal, s->state == ST_NOAUTH ? " before login" : "");
		s->scan.end = s->scan.pos;
		consume(s, s->scan.pos);
		s->nerrors++;
		return;
	default:
		s->scan.end = s->scan.pos;
		consume(s, s->scan.pos);
		bad(s, tag, "Bad literal");
	}
}

static void pull(struct imap_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	while (avail > 0) {
		size_t take = avail < 16384 ? avail : 16384;
		char tmp[16384];
		evbuffer_remove(in, tmp, take);
		(void)!buf_append(&s->in, tmp, take);
		avail -= take;
		/* bounded: the scanner fails at the line or literal limit long before */
		if (s->in.len > s->scan.max_total + 65536)
			break;
	}
}

static void process(struct imap_session *s)
{
	while (imap_alive(s) && !s->busy && !s->out_blocked && !s->paused) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		int rc;

		if (s->in.len <= s->scan.pos || s->mode != MODE_CMD)
			pull(s, in);
		if (s->in.len == 0)
			break;
		if (s->mode != MODE_CMD) {
			if (mode_line(s) == 0)
				break;
			continue;
		}
		if (s->scan.pos == 0 && !rate_ok(s))
			break;
		rc = imap_scan(s->in.data, s->in.len, &s->scan);
		if (rc == 0) {
			if (s->scan.need_cont) {
				s->scan.need_cont = false;
				imap_reply(s, "+ Ready for literal data");
				continue;
			}
			if (evbuffer_get_length(in) == 0)
				break;
			continue;
		}
		if (rc < 0) {
			on_scan_error(s);
			continue;
		}
		dispatch(s, s->in.data, s->scan.end);
	}
	/* part of a command is here and the rest to come (a literal's CRLF): acknowledge now */
	if (imap_alive(s) && s->in.len > 0)
		netconn_quickack(s->bev);
	if (imap_alive(s) && !s->out_blocked &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > IMAP_OUT_HIGH) {
		s->out_blocked = true;
		bufferevent_disable(s->bev, EV_READ);
	}
}
