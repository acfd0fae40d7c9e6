/* The IMAP server (imap.h): its limits, its callbacks for the shared service
 * (server/net/netsvc.h: the loop thread, listeners, TLS context, job pool, audit thread), and
 * the fan-out of mail store events to sessions. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

void imap_job_start(struct imap_session *s, struct netsvc_job *j)
{
	j->s = s;
	s->pending++;
	netsvc_pool_post(&s->srv->net.jobs, j);
}

/* ---- mail events: subscribed once, fanned out on the loop ---- */

/* On the committing thread: queue (deduplicated) and wake the loop; never blocks for long. */
static void on_mail_event(void *ctx, const struct mail_event *ev)
{
	struct imap_server *srv = ctx;
	bool wake = false;

	pthread_mutex_lock(&srv->ev_lock);
	size_t i;
	for (i = srv->nevq; i > 0 && srv->nevq - i < 16; i--)
		if (srv->evq[i - 1].account_id == ev->account_id &&
		    srv->evq[i - 1].folder_id == ev->folder_id)
			break;
	if (i == 0 || srv->nevq - i >= 16) {
		if (srv->nevq < IMAP_EVQ)
			srv->evq[srv->nevq++] = (struct imap_event){ev->account_id, ev->folder_id};
		else
			srv->evq_all = true;
		wake = srv->nevq == 1 || srv->evq_all;
	}
	pthread_mutex_unlock(&srv->ev_lock);
	if (wake)
		event_active(srv->mail_ev, EV_READ, 0);
}

static unsigned acct_bucket(int64_t id)
{
	return (unsigned)((uint64_t)id * 11400714819323198485ull >> 54) % IMAP_ACCT_BUCKETS;
}

static void on_mail_wake(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	struct imap_event *v;
	size_t n;
	bool all;

	pthread_mutex_lock(&srv->ev_lock);
	n = srv->nevq;
	all = srv->evq_all;
	v = n ? xmalloc(n * sizeof(*v)) : NULL;
	if (n)
		memcpy(v, srv->evq, n * sizeof(*v));
	srv->nevq = 0;
	srv->evq_all = false;
	pthread_mutex_unlock(&srv->ev_lock);
	if (all) {
		for (struct imap_session *s = srv->sessions; s; s = s->next)
			if (s->in_account)
				imap_session_notify(s);
	} else {
		for (size_t i = 0; i < n; i++)
			for (struct imap_session *s = srv->by_account[acct_bucket(v[i].account_id)]; s;
			     s = s->acct_next)
				if (s->account_id == v[i].account_id &&
				    (v[i].folder_id == 0 || v[i].folder_id == s->folder_loop))
					imap_session_notify(s);
	}
	free(v);
}

void imap_session_authed(struct imap_session *s)
{
	unsigned b = acct_bucket(s->account_id);
	if (s->in_account)
		return;
	s->acct_next = s->srv->by_account[b];
	s->srv->by_account[b] = s;
	s->in_account = true;
}

void imap_session_unaccount(struct imap_session *s)
{
	struct imap_session **pp;
	if (!s->in_account)
		return;
	for (pp = &s->srv->by_account[acct_bucket(s->account_id)]; *pp; pp = &(*pp)->acct_next)
		if (*pp == s) {
			*pp = s->acct_next;
			break;
		}
	s->in_account = false;
}

/* ---- the service's callbacks, on the loop ---- */

static void on_accept(void *arg, int kind, int fd, const char *ip)
{
	imap_session_accept(arg, (enum imap_kind)kind, fd, ip);
}

static void on_stop(void *arg)
{
	struct imap_server *srv = arg;
	imap_session_free_all(srv);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

static void on_sweep(void *arg, int64_t now)
{
	struct imap_server *srv = arg;
	netsvc_map_sweep(&srv->auth_ip, now, 60);
}

static void on_unref(void *session)
{
	imap_session_unref(session);
}

static const struct netsvc_desc imap_desc = {
	.name = "imap",
	.label = "IMAP",
	.job_threads = IMAP_JOB_THREADS,
	.audit_thread = true,
	.accept = on_accept,
	.stop = on_stop,
	.sweep = on_sweep,
	.unref = on_unref,
};

static void snapshot(struct imap_limits *l, const struct config *c)
{
	snprintf(l->hostname, sizeof(l->hostname), "%s", c->hostname[0] ? c->hostname : "localhost");
	l->ports[IMAP_PLAIN] = (int)c->imap_port;
	l->ports[IMAP_TLS] = (int)c->imaps_port;
	l->max_line = (size_t)c->imap_max_line;
	l->max_literal = (size_t)c->imap_max_literal;
	l->max_literal_preauth = (size_t)c->imap_max_literal_preauth;
	l->max_nesting = (int)c->imap_max_nesting;
	l->max_sessions = c->imap_max_sessions;
	l->max_per_ip = c->imap_max_per_ip;
	l->commands_per_second = c->imap_commands_per_second;
	l->idle_timeout_s = c->imap_idle_timeout;
	l->timeout_s = c->imap_timeout;
	l->login_timeout_s = c->imap_login_timeout;
	l->max_errors = c->imap_max_errors;
	l->login_ip_per_minute = c->login_ip_per_minute;
	l->login.delay_after = c->login_fail_delay_after;
	l->login.lock_after = c->login_lock_after;
	l->login.lock_seconds = c->login_lock_seconds;
	l->scram_iterations = (unsigned)c->scram_iterations;
	l->tz_minutes = (int)c->mail_tz_minutes;
	mime_limits_default(&l->mime);
	l->mime.max_bytes = (size_t)c->mime_max_bytes;
	l->mime.max_header_bytes = (size_t)c->mime_max_header_bytes;
	l->mime.max_line = (size_t)c->mime_max_line;
	l->mime.max_parts = (size_t)c->mime_max_parts;
	l->mime.max_depth = (size_t)c->mime_max_depth;
	l->mime.max_text = (size_t)c->mime_max_text;
}

static void server_free(struct imap_server *srv)
{
	if (srv->sub > 0)
		mail_events_unsubscribe(srv->mail, srv->sub);
	if (srv->mail_ev) /* nothing activates it once unsubscribed */
		event_free(srv->mail_ev);
	netsvc_release(&srv->net);
	netsvc_map_release(&srv->per_ip);
	netsvc_map_release(&srv->auth_ip);
	pthread_mutex_destroy(&srv->ev_lock);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

int imap_server_start(struct app *app, const int fds[IMAP_NKINDS], struct imap_server **s_r,
		      struct err *err)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));

	*s_r = NULL;
	pthread_mutex_init(&srv->ev_lock, NULL);
	snapshot(&srv->lim, &app->cfg);
	srv->store = app->store;
	srv->mail = app->mail;
	srv->auth_cache = app->auth_cache;
	memcpy(srv->secret, app->secret, sizeof(srv->secret));
	srv->sasl = (struct sasl_srv_conf){
		.store = srv->store,
		.login = &srv->lim.login,
		.key = srv->secret,
		.keylen = sizeof(srv->secret),
		.iterations = srv->lim.scram_iterations,
	};
	if (netsvc_init(&srv->net, &imap_desc, srv, &app->cfg, app->audit, err) < 0)
		goto fail;
	srv->mail_ev = event_new(srv->net.base, -1, 0, on_mail_wake, srv);
	if (netsvc_listen(&srv->net, fds, srv->lim.ports, IMAP_NKINDS, err) < 0)
		goto fail;
	srv->sub = mail_events_subscribe(srv->mail, on_mail_event, srv);
	if (srv->sub < 0) {
		err_set(err, ERR_LIMIT, "cannot subscribe to mail events");
		goto fail;
	}
	if (netsvc_run(&srv->net, err) < 0)
		goto fail;
	log_info("imap", "imap=%d imaps=%d msg=\"IMAP listening\"",
		 fds[IMAP_PLAIN] >= 0 ? srv->lim.ports[IMAP_PLAIN] : 0,
		 fds[IMAP_TLS] >= 0 ? srv->lim.ports[IMAP_TLS] : 0);
	*s_r = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
}

int imap_server_reload_tls(struct imap_server *srv, const struct config *c, struct err *err)
{
	return srv ? netsvc_reload_tls(&srv->net, c, err) : 0;
}

/* On the loop. Only what the loop reads changes: the MIME limits and the time zone are read
 * by FETCH and SEARCH jobs, the sign-in policy by the login jobs, so those stay. */
static void apply_limits(void *cur, const void *next)
{
	struct imap_limits *l = cur;
	const struct imap_limits *n = next;

	l->max_line = n->max_line;
	l->max_literal = n->max_literal;
	l->max_literal_preauth = n->max_literal_preauth;
	l->max_nesting = n->max_nesting;
	l->max_sessions = n->max_sessions;
	l->max_per_ip = n->max_per_ip;
	l->commands_per_second = n->commands_per_second;
	l->idle_timeout_s = n->idle_timeout_s;
	l->timeout_s = n->timeout_s;
	l->login_timeout_s = n->login_timeout_s;
	l->max_errors = n->max_errors;
	l->login_ip_per_minute = n->login_ip_per_minute;
	log_info("imap", "max_line=%zu max_literal=%zu msg=\"limits reloaded\"", l->max_line,
		 l->max_literal);
}

int imap_server_reload(struct imap_server *srv, const struct config *c, struct err *err)
{
	struct imap_limits n;

	if (srv == NULL)
		return 0;
	snapshot(&n, c);
	return netsvc_reload_limits(&srv->net, &srv->lim, &n, sizeof(n), srv->lim.ports, n.ports,
				    ARRAY_LEN(n.ports), apply_limits, err);
}

void imap_server_stop(struct imap_server **sp)
{
	struct imap_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	/* no more events into a server that is going away */
	if (srv->sub > 0) {
		mail_events_unsubscribe(srv->mail, srv->sub);
		srv->sub = 0;
	}
	netsvc_stop(&srv->net);
	server_free(srv);
	log_info("imap", "msg=\"IMAP stopped\"");
}
