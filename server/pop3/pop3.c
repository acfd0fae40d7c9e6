/* The POP3 server (pop3.h): its limits, and its callbacks for the shared service
 * (server/net/netsvc.h: the loop thread, listeners, TLS context, job pool). */
#include "pop3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"

void pop3_job_start(struct pop3_session *s, struct netsvc_job *j)
{
	j->s = s;
	s->pending++;
	netsvc_pool_post(&s->srv->net.jobs, j);
}

/* ---- the service's callbacks, on the loop ---- */

static void on_accept(void *arg, int kind, int fd, const char *ip)
{
	pop3_session_accept(arg, (enum pop3_kind)kind, fd, ip);
}

/* Close every session; the loop ends once the last one (some may wait for a job) is gone. */
static void on_stop(void *arg)
{
	struct pop3_server *srv = arg;
	pop3_session_free_all(srv);
	netsvc_sessions_left(&srv->net, srv->nsessions);
}

static void on_sweep(void *arg, int64_t now)
{
	struct pop3_server *srv = arg;
	netsvc_map_sweep(&srv->auth_ip, now, 60);
}

static void on_unref(void *session)
{
	pop3_session_unref(session);
}

static const struct netsvc_desc pop3_desc = {
	.name = "pop3",
	.label = "POP3",
	.job_threads = POP3_JOB_THREADS,
	.audit_thread = false, /* the jobs append their records themselves (pop3_int.h) */
	.accept = on_accept,
	.stop = on_stop,
	.sweep = on_sweep,
	.unref = on_unref,
};

static void snapshot(struct pop3_limits *l, const struct config *c)
{
	snprintf(l->hostname, sizeof(l->hostname), "%s", c->hostname[0] ? c->hostname : "localhost");
	l->ports[POP3_PLAIN] = (int)c->pop3_port;
	l->ports[POP3_TLS] = (int)c->pop3s_port;
	l->max_line = (size_t)c->pop3_max_line;
	l->max_sessions = c->pop3_max_sessions;
	l->max_per_ip = c->pop3_max_per_ip;
	l->timeout_s = c->pop3_timeout;
	l->max_errors = c->pop3_max_errors;
	l->login_ip_per_minute = c->login_ip_per_minute;
	l->login.delay_after = c->login_fail_delay_after;
	l->login.lock_after = c->login_lock_after;
	l->login.lock_seconds = c->login_lock_seconds;
	l->scram_iterations = (unsigned)c->scram_iterations;
}

static void server_free(struct pop3_server *srv)
{
	netsvc_release(&srv->net);
	netsvc_map_release(&srv->per_ip);
	netsvc_map_release(&srv->auth_ip);
	netsvc_map_release(&srv->locked);
	free(srv->sizes);
	pthread_mutex_destroy(&srv->drop_lock);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

int pop3_server_start(struct app *app, const int fds[POP3_NKINDS], struct pop3_server **s_r,
		      struct err *err)
{
	struct pop3_server *srv = xcalloc(1, sizeof(*srv));

	*s_r = NULL;
	pthread_mutex_init(&srv->drop_lock, NULL);
	/* calloc'd pages stay untouched (and unresident) until a size is cached in them */
	srv->sizes = xcalloc(POP3_SIZE_CACHE, sizeof(*srv->sizes));
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
	if (netsvc_init(&srv->net, &pop3_desc, srv, &app->cfg, app->audit, err) < 0 ||
	    netsvc_listen(&srv->net, fds, srv->lim.ports, POP3_NKINDS, err) < 0 ||
	    netsvc_run(&srv->net, err) < 0) {
		server_free(srv);
		return -1;
	}
	log_info("pop3", "pop3=%d pop3s=%d msg=\"POP3 listening\"",
		 fds[POP3_PLAIN] >= 0 ? srv->lim.ports[POP3_PLAIN] : 0,
		 fds[POP3_TLS] >= 0 ? srv->lim.ports[POP3_TLS] : 0);
	*s_r = srv;
	return 0;
}

int pop3_server_reload_tls(struct pop3_server *srv, const struct config *c, struct err *err)
{
	return srv ? netsvc_reload_tls(&srv->net, c, err) : 0;
}

/* On the loop; the sign-in policy (read by the login jobs) stays. */
static void apply_limits(void *cur, const void *next)
{
	struct pop3_limits *l = cur;
	const struct pop3_limits *n = next;

	l->max_line = n->max_line;
	l->max_sessions = n->max_sessions;
	l->max_per_ip = n->max_per_ip;
	l->timeout_s = n->timeout_s;
	l->max_errors = n->max_errors;
	l->login_ip_per_minute = n->login_ip_per_minute;
	log_info("pop3", "max_line=%zu timeout=%lld msg=\"limits reloaded\"", l->max_line,
		 (long long)l->timeout_s);
}

int pop3_server_reload(struct pop3_server *srv, const struct config *c, struct err *err)
{
	struct pop3_limits n;

	if (srv == NULL)
		return 0;
	snapshot(&n, c);
	return netsvc_reload_limits(&srv->net, &srv->lim, &n, sizeof(n), srv->lim.ports, n.ports,
				    ARRAY_LEN(n.ports), apply_limits, err);
}

void pop3_server_stop(struct pop3_server **sp)
{
	struct pop3_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	netsvc_stop(&srv->net);
	server_free(srv);
	log_info("pop3", "msg=\"POP3 stopped\"");
}
