/* The SMTP server (smtp.h): its limits, and its callbacks for the shared service
 * (server/net/netsvc.h: the loop thread, listeners, TLS context, job pool, audit thread). */
#include "smtp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- jobs and audit records ---- */

void smtp_job_start(struct smtp_session *s, struct netsvc_job *j)
{
	j->s = s;
	s->pending++;
	netsvc_pool_post(&s->srv->net.jobs, j);
}

bool smtp_audit_wait(struct smtp_server *srv, const char *actor, const char *type,
		     const char *ip, const char *client, const char *detail,
		     struct smtp_session *s, struct netsvc_job *waiter)
{
	/* back-pressure: with the audit thread behind, this session's reply waits for its
	 * record */
	bool wait = waiter != NULL && netsvc_audit_backlogged(&srv->net);

	if (wait) {
		waiter->s = s;
		s->pending++;
	}
	netsvc_audit(&srv->net, actor, type, ip, client, detail, wait ? waiter : NULL);
	return wait;
}

/* ---- the service's callbacks, on the loop ---- */

static void on_accept(void *arg, int kind, int fd, const char *ip)
{
	smtp_session_accept(arg, (enum smtp_kind)kind, fd, ip);
}

/* Close every session; the loop ends once the last one (some may wait for a queue commit)
 * is gone. */
static void on_stop(void *arg)
{
	struct smtp_server *srv = arg;
	smtp_session_free_all(srv);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

static void on_sweep(void *arg, int64_t now)
{
	struct smtp_server *srv = arg;
	netsvc_map_sweep(&srv->auth_ip, now, 60);
	netsvc_map_sweep(&srv->per_user, now, 3600);
}

static void on_unref(void *session)
{
	smtp_session_unref(session);
}

static const struct netsvc_desc smtp_desc = {
	.name = "smtp",
	.label = "SMTP",
	.job_threads = SMTP_JOB_THREADS,
	.audit_thread = true,
	.accept = on_accept,
	.stop = on_stop,
	.sweep = on_sweep,
	.unref = on_unref,
};

static void snapshot(struct smtp_limits *l, const struct config *c)
{
	snprintf(l->hostname, sizeof(l->hostname), "%s", c->hostname[0] ? c->hostname : "localhost");
	snprintf(l->banner, sizeof(l->banner), "%s", c->smtp_banner);
	snprintf(l->default_domain, sizeof(l->default_domain), "%s", c->default_domain);
	l->ports[SMTP_MX] = (int)c->smtp_port;
	l->ports[SMTP_SUBMISSION] = (int)c->submission_port;
	l->ports[SMTP_SUBMISSIONS] = (int)c->submissions_port;
	l->max_line = (size_t)c->smtp_max_line;
	l->max_message = (size_t)c->smtp_max_message;
	l->max_sessions = c->smtp_max_sessions;
	l->max_per_ip = c->smtp_max_per_ip;
	l->max_recipients = c->smtp_max_recipients;
	l->max_hops = c->smtp_max_hops;
	l->max_errors = c->smtp_max_errors;
	l->max_bad_rcpts = c->smtp_max_bad_rcpts;
	l->max_commands = c->smtp_max_commands;
	l->timeout_s = c->smtp_timeout;
	l->data_timeout_s = c->smtp_data_timeout;
	l->tarpit_ms = c->smtp_tarpit_ms;
	l->msgs_per_hour = c->smtp_msgs_per_hour;
	l->login_ip_per_minute = c->login_ip_per_minute;
	l->login.delay_after = c->login_fail_delay_after;
	l->login.lock_after = c->login_lock_after;
	l->login.lock_seconds = c->login_lock_seconds;
	l->scram_iterations = (unsigned)c->scram_iterations;
}

static void server_free(struct smtp_server *srv)
{
	netsvc_release(&srv->net);
	netsvc_map_release(&srv->per_ip);
	netsvc_map_release(&srv->auth_ip);
	netsvc_map_release(&srv->per_user);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

int smtp_server_start(struct app *app, const int fds[SMTP_NKINDS], struct smtp_server **s_r,
		      struct err *err)
{
	struct smtp_server *srv = xcalloc(1, sizeof(*srv));

	*s_r = NULL;
	snapshot(&srv->lim, &app->cfg);
	srv->store = app->store;
	srv->queue = app->queue;
	srv->mailauth = app->mailauth;
	srv->auth_cache = app->auth_cache;
	srv->dns = app->dns;
	memcpy(srv->secret, app->secret, sizeof(srv->secret));
	srv->sasl = (struct sasl_srv_conf){
		.store = srv->store,
		.login = &srv->lim.login,
		.key = srv->secret,
		.keylen = sizeof(srv->secret),
		.iterations = srv->lim.scram_iterations,
	};
	if (netsvc_init(&srv->net, &smtp_desc, srv, &app->cfg, app->audit, err) < 0 ||
	    netsvc_listen(&srv->net, fds, srv->lim.ports, SMTP_NKINDS, err) < 0 ||
	    netsvc_run(&srv->net, err) < 0) {
		server_free(srv);
		return -1;
	}
	log_info("smtp", "mx=%d submission=%d submissions=%d msg=\"SMTP listening\"",
		 fds[SMTP_MX] >= 0 ? srv->lim.ports[SMTP_MX] : 0,
		 fds[SMTP_SUBMISSION] >= 0 ? srv->lim.ports[SMTP_SUBMISSION] : 0,
		 fds[SMTP_SUBMISSIONS] >= 0 ? srv->lim.ports[SMTP_SUBMISSIONS] : 0);
	*s_r = srv;
	return 0;
}

int smtp_server_reload_tls(struct smtp_server *srv, const struct config *c, struct err *err)
{
	return srv ? netsvc_reload_tls(&srv->net, c, err) : 0;
}

/* On the loop, the only thread that reads these fields (the jobs read lim.login and the
 * SASL settings, which stay). */
static void apply_limits(void *cur, const void *next)
{
	struct smtp_limits *l = cur;
	const struct smtp_limits *n = next;

	memcpy(l->banner, n->banner, sizeof(l->banner));
	l->max_line = n->max_line;
	l->max_message = n->max_message;
	l->max_sessions = n->max_sessions;
	l->max_per_ip = n->max_per_ip;
	l->max_recipients = n->max_recipients;
	l->max_hops = n->max_hops;
	l->max_errors = n->max_errors;
	l->max_bad_rcpts = n->max_bad_rcpts;
	l->max_commands = n->max_commands;
	l->timeout_s = n->timeout_s;
	l->data_timeout_s = n->data_timeout_s;
	l->tarpit_ms = n->tarpit_ms;
	l->msgs_per_hour = n->msgs_per_hour;
	l->login_ip_per_minute = n->login_ip_per_minute;
	log_info("smtp", "max_message=%zu max_recipients=%lld msg=\"limits reloaded\"",
		 l->max_message, (long long)l->max_recipients);
}

int smtp_server_reload(struct smtp_server *srv, const struct config *c, struct err *err)
{
	struct smtp_limits n;

	if (srv == NULL)
		return 0;
	snapshot(&n, c);
	return netsvc_reload_limits(&srv->net, &srv->lim, &n, sizeof(n), srv->lim.ports, n.ports,
				    ARRAY_LEN(n.ports), apply_limits, err);
}

void smtp_server_stop(struct smtp_server **sp)
{
	struct smtp_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	netsvc_stop(&srv->net);
	server_free(srv);
	log_info("smtp", "msg=\"SMTP stopped\"");
}
