/* The IMAP server (imap.h): the event loop thread, the listeners, the TLS context, the job
 * pool and audit thread, completions, and the fan-out of mail store events to sessions.
 * Jobs, counters, listeners and TLS follow server/smtp/smtp.c (the same code with imap_
 * names: the job pool and counter map could move to lib/ and be shared later). */
#include "imap_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/audit.h"

/* ---- counters ---- */

static unsigned map_hash(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % IMAP_MAP_BUCKETS;
}

static void roll(struct imap_count *c, int64_t now, int64_t window_s)
{
	int64_t w;
	if (window_s <= 0)
		return;
	w = now / window_s * window_s;
	if (c->window == w)
		return;
	c->prev = c->window == w - window_s ? c->n : 0;
	c->n = 0;
	c->window = w;
}

static struct imap_count **map_slot(struct imap_map *m, const char *key)
{
	struct imap_count **pp = &m->b[map_hash(key)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

int64_t imap_map_get(struct imap_map *m, const char *key, int64_t now, int64_t window_s)
{
	struct imap_count *c = *map_slot(m, key);
	if (c == NULL)
		return 0;
	roll(c, now, window_s);
	if (window_s <= 0)
		return c->n;
	/* sliding window: the previous window weighs what is left of it */
	return c->n + c->prev * (window_s - (now - c->window)) / window_s;
}

void imap_map_add(struct imap_map *m, const char *key, int64_t delta, int64_t now,
		  int64_t window_s)
{
	struct imap_count **pp = map_slot(m, key), *c = *pp;
	if (c == NULL) {
		size_t n = strlen(key) + 1;
		c = xcalloc(1, sizeof(*c) + n);
		memcpy(c->key, key, n);
		c->window = window_s > 0 ? now / window_s * window_s : 0;
		*pp = c;
		m->n++;
	}
	roll(c, now, window_s);
	c->n += delta;
	if (window_s <= 0 && c->n <= 0) {
		*pp = c->next;
		free(c);
		m->n--;
	}
}

void imap_map_sweep(struct imap_map *m, int64_t now, int64_t window_s)
{
	for (size_t i = 0; i < IMAP_MAP_BUCKETS; i++) {
		struct imap_count **pp = &m->b[i];
		while (*pp) {
			struct imap_count *c = *pp;
			roll(c, now, window_s);
			if (c->n <= 0 && c->prev <= 0) {
				*pp = c->next;
				free(c);
				m->n--;
			} else {
				pp = &c->next;
			}
		}
	}
}

void imap_map_release(struct imap_map *m)
{
	for (size_t i = 0; i < IMAP_MAP_BUCKETS; i++)
		while (m->b[i]) {
			struct imap_count *c = m->b[i];
			m->b[i] = c->next;
			free(c);
		}
	m->n = 0;
}

/* ---- jobs and completions ---- */

void imap_complete(struct imap_server *srv, struct imap_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&srv->done_lock);
	*srv->done_tail = j;
	srv->done_tail = &j->next;
	pthread_mutex_unlock(&srv->done_lock);
	event_active(srv->done_ev, EV_READ, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	struct imap_job *list;

	pthread_mutex_lock(&srv->done_lock);
	list = srv->done_head;
	srv->done_head = NULL;
	srv->done_tail = &srv->done_head;
	pthread_mutex_unlock(&srv->done_lock);
	while (list) {
		struct imap_job *j = list;
		struct imap_session *s = j->s;
		list = j->next;
		j->done(j);
		if (s != NULL)
			imap_session_unref(s);
	}
}

void imap_pool_post(struct imap_pool *p, struct imap_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = j;
	p->tail = &j->next;
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void imap_job_start(struct imap_session *s, struct imap_pool *p, struct imap_job *j)
{
	j->s = s;
	s->pending++;
	imap_pool_post(p, j);
}

static void *pool_main(void *arg)
{
	struct imap_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct imap_job *j;
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->head == NULL)
			break; /* stopping, and everything queued is done */
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		bool done = j->done != NULL; /* without done, run frees j */
		j->run(j);
		if (done)
			imap_complete(p->srv, j);
		pthread_mutex_lock(&p->lock);
		p->queued--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int pool_start(struct imap_server *srv, struct imap_pool *p, size_t n, struct err *err)
{
	p->srv = srv;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	p->threads = xcalloc(n, sizeof(*p->threads));
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
			return err_set(err, ERR_INTERNAL, "cannot start an SMTP worker thread");
		p->nthreads++;
	}
	return 0;
}

static void pool_stop(struct imap_pool *p)
{
	if (p->threads == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	p->threads = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}

/* ---- audit records, appended in order by the audit thread ---- */

struct audit_job {
	struct imap_job job;
	struct imap_server *srv;
	char *actor, *type, *ip, *detail;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void audit_run(struct imap_job *j)
{
	struct audit_job *a = (struct audit_job *)j;
	struct audit_rec r = {
		.actor = a->actor, .type = a->type, .ip = a->ip, .client = "imap",
		.detail = a->detail,
	};
	struct err err;

	if (store_audit_append(a->srv->audit, &r, &err) < 0)
		log_error("imap", "type=%s msg=\"audit append failed\" err=\"%s\"", a->type, err.msg);
	free(a->actor);
	free(a->type);
	free(a->ip);
	free(a->detail);
	free(a);
}

void imap_audit(struct imap_server *srv, const char *actor, const char *type, const char *ip,
		const char *detail)
{
	struct audit_job *a = xcalloc(1, sizeof(*a));
	a->job.run = audit_run;
	a->srv = srv;
	a->actor = xstrdup(actor && *actor ? actor : "-");
	a->type = xstrdup(type);
	a->ip = dup_or_null(ip);
	a->detail = dup_or_null(detail);
	imap_pool_post(&srv->audits, &a->job);
}

void imap_json_kv(struct buf *b, const char *key, const char *value, bool *first)
{
	(void)!buf_puts(b, *first ? "{" : ",");
	*first = false;
	(void)!buf_json_str(b, key);
	(void)!buf_puts(b, ":");
	if (value)
		(void)!buf_json_str(b, value);
	else
		(void)!buf_puts(b, "null");
}

void imap_json_ki(struct buf *b, const char *key, int64_t value, bool *first)
{
	(void)!buf_puts(b, *first ? "{" : ",");
	*first = false;
	(void)!buf_json_str(b, key);
	(void)!buf_printf(b, ":%lld", (long long)value);
}

/* ---- listeners ---- */

static void client_ip(const struct sockaddr *sa, char *out, size_t outsz)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)outsz);
			return;
		}
		if (inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)outsz) == NULL)
			snprintf(out, outsz, "unknown");
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &s4->sin_addr, out, (socklen_t)outsz) == NULL)
			snprintf(out, outsz, "unknown");
	} else {
		snprintf(out, outsz, "unknown");
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct imap_lis_ctx *lc = arg;
	char ip[64];

	(void)l;
	(void)socklen;
	client_ip(sa, ip, sizeof(ip));
	if (lc->srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	imap_session_accept(lc->srv, lc->kind, fd, ip);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct imap_lis_ctx *lc = arg;
	if (!lc->srv->stopping && lc->srv->lis[lc->kind])
		evconnlistener_enable(lc->srv->lis[lc->kind]);
}

/* accept() failed (out of descriptors, most likely): pause this listener for a second
 * instead of spinning on the error */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct imap_lis_ctx *lc = arg;
	struct timeval tv = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	log_warn("imap", "port=%d msg=\"accept failed\" err=\"%s\"", lc->srv->lim.ports[lc->kind],
		 evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	evtimer_add(lc->srv->lis_retry[lc->kind], &tv);
}

/* ---- TLS ---- */

/* Cross-protocol defence (ALPACA): a client that names application protocols must name
 * ours; one that names none is an ordinary mail client. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char imap[] = "imap";
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 4 && memcmp(in + i + 1, imap, 4) == 0) {
			*out = in + i + 1;
			*outlen = 4;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int tls_fail(struct err *err, const char *what, const char *path)
{
	char e[200];
	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	ERR_clear_error();
	return err_set(err, ERR_IO, "SMTP TLS: %s %s: %s", what, path, e);
}

static int tls_setup(struct imap_server *srv, const struct config *c, struct err *err)
{
	char cert[CONFIG_PATH_MAX], key[CONFIG_PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return tls_fail(err, "context", "");
	srv->ssl = ctx;
	config_path(c, c->tls_cert, cert, sizeof(cert));
	config_path(c, c->tls_key, key, sizeof(key));
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"yizhan-imap", 11);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return tls_fail(err, "certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(err, "key", key);
	return 0;
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

/* ---- the loop thread ---- */

static void *loop_main(void *arg)
{
	struct imap_server *srv = arg;
	event_base_loop(srv->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;

	srv->stopping = true;
	for (int k = 0; k < IMAP_NKINDS; k++)
		if (srv->lis[k]) {
			evconnlistener_free(srv->lis[k]);
			srv->lis[k] = NULL;
		}
	imap_session_free_all(srv);
	if (srv->nsessions == 0)
		event_base_loopexit(srv->base, &(struct timeval){0, 100000}); /* deferred frees run first */
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct imap_server *srv = arg;
	imap_map_sweep(&srv->auth_ip, time_now(), 60);
}

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

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

static void server_free(struct imap_server *srv)
{
	if (srv->sub > 0)
		mail_events_unsubscribe(srv->mail, srv->sub);
	pool_stop(&srv->jobs);
	pool_stop(&srv->audits);
	for (int k = 0; k < IMAP_NKINDS; k++) {
		if (srv->lis[k])
			evconnlistener_free(srv->lis[k]);
		if (srv->lis_retry[k])
			event_free(srv->lis_retry[k]);
	}
	while (srv->done_head) {
		struct imap_job *j = srv->done_head;
		srv->done_head = j->next;
		j->s = NULL;
		j->done(j);
	}
	if (srv->done_ev)
		event_free(srv->done_ev);
	if (srv->stop_ev)
		event_free(srv->stop_ev);
	if (srv->sweep_ev)
		event_free(srv->sweep_ev);
	if (srv->mail_ev)
		event_free(srv->mail_ev);
	if (srv->base)
		event_base_free(srv->base);
	if (srv->ssl)
		SSL_CTX_free(srv->ssl);
	imap_map_release(&srv->per_ip);
	imap_map_release(&srv->auth_ip);
	pthread_mutex_destroy(&srv->done_lock);
	pthread_mutex_destroy(&srv->ev_lock);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

int imap_server_start(struct app *app, const int fds[IMAP_NKINDS], struct imap_server **s_r,
		      struct err *err)
{
	struct imap_server *srv = xcalloc(1, sizeof(*srv));
	struct timeval sweep = {60, 0};

	*s_r = NULL;
	pthread_mutex_init(&srv->done_lock, NULL);
	pthread_mutex_init(&srv->ev_lock, NULL);
	srv->done_tail = &srv->done_head;
	snapshot(&srv->lim, &app->cfg);
	srv->store = app->store;
	srv->audit = app->audit;
	srv->mail = app->mail;
	srv->auth_cache = app->auth_cache;
	memcpy(srv->secret, app->secret, sizeof(srv->secret));
	pthread_once(&evthread_once, evthread_init);
	if (evthread_rc != 0) {
		err_set(err, ERR_INTERNAL, "libevent threading is not available");
		goto fail;
	}
	if (tls_setup(srv, &app->cfg, err) < 0)
		goto fail;
	srv->base = event_base_new();
	if (srv->base == NULL) {
		err_set(err, ERR_INTERNAL, "cannot create the IMAP event loop");
		goto fail;
	}
	srv->done_ev = event_new(srv->base, -1, 0, on_done, srv);
	srv->stop_ev = event_new(srv->base, -1, 0, on_stop, srv);
	srv->mail_ev = event_new(srv->base, -1, 0, on_mail_wake, srv);
	srv->sweep_ev = event_new(srv->base, -1, EV_PERSIST, on_sweep, srv);
	event_add(srv->sweep_ev, &sweep);
	if (pool_start(srv, &srv->jobs, IMAP_JOB_THREADS, err) < 0 ||
	    pool_start(srv, &srv->audits, 1, err) < 0)
		goto fail;
	for (int k = 0; k < IMAP_NKINDS; k++) {
		if (fds[k] < 0)
			continue;
		srv->lctx[k].srv = srv;
		srv->lctx[k].kind = (enum imap_kind)k;
		evutil_make_socket_nonblocking(fds[k]);
		srv->lis[k] = evconnlistener_new(srv->base, on_accept, &srv->lctx[k],
						 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
						 fds[k]);
		if (srv->lis[k] == NULL) {
			err_set(err, ERR_IO, "cannot listen for IMAP on port %d", srv->lim.ports[k]);
			goto fail;
		}
		evconnlistener_set_error_cb(srv->lis[k], on_accept_error);
		srv->lis_retry[k] = evtimer_new(srv->base, on_retry, &srv->lctx[k]);
	}
	srv->sub = mail_events_subscribe(srv->mail, on_mail_event, srv);
	if (srv->sub < 0) {
		err_set(err, ERR_LIMIT, "cannot subscribe to mail events");
		goto fail;
	}
	if (pthread_create(&srv->thread, NULL, loop_main, srv) != 0) {
		err_set(err, ERR_INTERNAL, "cannot start the IMAP thread");
		goto fail;
	}
	srv->thread_started = true;
	log_info("imap", "imap=%d imaps=%d msg=\"IMAP listening\"",
		 fds[IMAP_PLAIN] >= 0 ? srv->lim.ports[IMAP_PLAIN] : 0,
		 fds[IMAP_TLS] >= 0 ? srv->lim.ports[IMAP_TLS] : 0);
	*s_r = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
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
	if (srv->thread_started) {
		event_active(srv->stop_ev, EV_READ, 0);
		pthread_join(srv->thread, NULL);
	}
	server_free(srv);
	log_info("imap", "msg=\"IMAP stopped\"");
}
