/* The POP3 server (pop3.h): the event loop thread, the listeners, the TLS context, the job
 * pool and the completions that bring its results back to the loop. The shape is
 * server/smtp/smtp.c's; the counter table is a copy of its smtp_map. */
#include "pop3_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
	return h % POP3_MAP_BUCKETS;
}

static void roll(struct pop3_count *c, int64_t now, int64_t window_s)
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

static struct pop3_count **map_slot(struct pop3_map *m, const char *key)
{
	struct pop3_count **pp = &m->b[map_hash(key)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

int64_t pop3_map_get(struct pop3_map *m, const char *key, int64_t now, int64_t window_s)
{
	struct pop3_count *c = *map_slot(m, key);
	if (c == NULL)
		return 0;
	roll(c, now, window_s);
	if (window_s <= 0)
		return c->n;
	/* sliding window: the previous window weighs what is left of it */
	return c->n + c->prev * (window_s - (now - c->window)) / window_s;
}

void pop3_map_add(struct pop3_map *m, const char *key, int64_t delta, int64_t now,
		  int64_t window_s)
{
	struct pop3_count **pp = map_slot(m, key), *c = *pp;
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

void pop3_map_sweep(struct pop3_map *m, int64_t now, int64_t window_s)
{
	for (size_t i = 0; i < POP3_MAP_BUCKETS; i++) {
		struct pop3_count **pp = &m->b[i];
		while (*pp) {
			struct pop3_count *c = *pp;
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

void pop3_map_release(struct pop3_map *m)
{
	for (size_t i = 0; i < POP3_MAP_BUCKETS; i++)
		while (m->b[i]) {
			struct pop3_count *c = m->b[i];
			m->b[i] = c->next;
			free(c);
		}
	m->n = 0;
}

/* ---- jobs and completions ---- */

static void complete(struct pop3_server *srv, struct pop3_job *j)
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
	struct pop3_server *srv = arg;
	struct pop3_job *list;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&srv->done_lock);
	list = srv->done_head;
	srv->done_head = NULL;
	srv->done_tail = &srv->done_head;
	pthread_mutex_unlock(&srv->done_lock);
	while (list) {
		struct pop3_job *j = list;
		struct pop3_session *s = j->s;
		list = j->next;
		j->done(j);
		if (s != NULL)
			pop3_session_unref(s);
	}
}

void pop3_pool_post(struct pop3_pool *p, struct pop3_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = j;
	p->tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void pop3_job_start(struct pop3_session *s, struct pop3_job *j)
{
	j->s = s;
	s->pending++;
	pop3_pool_post(&s->srv->jobs, j);
}

static void *pool_main(void *arg)
{
	struct pop3_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct pop3_job *j;
		bool done;
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->head == NULL)
			break; /* stopping, and everything queued is done */
		j = p->head;
		p->head = j->next;
		if (p->head == NULL)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		done = j->done != NULL; /* without done, run frees j */
		j->run(j);
		if (done)
			complete(p->srv, j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int pool_start(struct pop3_server *srv, struct pop3_pool *p, size_t n, struct err *err)
{
	p->srv = srv;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	p->threads = xcalloc(n, sizeof(*p->threads));
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
			return err_set(err, ERR_INTERNAL, "cannot start a POP3 worker thread");
		p->nthreads++;
	}
	return 0;
}

static void pool_stop(struct pop3_pool *p)
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

/* ---- audit records ---- */

void pop3_audit(struct pop3_server *srv, const char *actor, const char *type, const char *ip,
		const char *detail)
{
	struct audit_rec r = {
		.actor = actor && *actor ? actor : "-",
		.type = type,
		.ip = ip,
		.client = "pop3",
		.detail = detail,
	};
	struct err err;

	if (store_audit_append(srv->audit, &r, &err) < 0)
		log_error("pop3", "type=%s msg=\"audit append failed\" err=\"%s\"", type, err.msg);
}

void pop3_json_kv(struct buf *b, const char *key, const char *value, bool *first)
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

void pop3_json_ki(struct buf *b, const char *key, int64_t value, bool *first)
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
	struct pop3_lis_ctx *lc = arg;
	char ip[64];

	(void)l;
	(void)socklen;
	client_ip(sa, ip, sizeof(ip));
	if (lc->srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	pop3_session_accept(lc->srv, lc->kind, fd, ip);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_lis_ctx *lc = arg;
	(void)fd;
	(void)what;
	if (!lc->srv->stopping && lc->srv->lis[lc->kind])
		evconnlistener_enable(lc->srv->lis[lc->kind]);
}

/* accept() failed (out of descriptors, most likely): pause this listener for a second
 * instead of spinning on the error */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct pop3_lis_ctx *lc = arg;
	struct timeval tv = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	log_warn("pop3", "port=%d msg=\"accept failed\" err=\"%s\"", lc->srv->lim.ports[lc->kind],
		 evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	evtimer_add(lc->srv->lis_retry[lc->kind], &tv);
}

/* ---- TLS ---- */

/* Cross-protocol defence (ALPACA): a client that names application protocols must name
 * ours ("pop3" in the IANA registry); one that names none is an ordinary mail client. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char pop3[] = "pop3";
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 4 && memcmp(in + i + 1, pop3, 4) == 0) {
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
	return err_set(err, ERR_IO, "POP3 TLS: %s %s: %s", what, path, e);
}

static int tls_setup(struct pop3_server *srv, const struct config *c, struct err *err)
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
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"yizhan-pop3", 11);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return tls_fail(err, "certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(err, "key", key);
	return 0;
}

/* ---- the loop thread ---- */

static void *loop_main(void *arg)
{
	struct pop3_server *srv = arg;
	event_base_loop(srv->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Runs on the loop: stop accepting, close every session; the loop ends once the last one
 * (some may wait for a job) is gone. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_server *srv = arg;

	(void)fd;
	(void)what;
	srv->stopping = true;
	for (int k = 0; k < POP3_NKINDS; k++)
		if (srv->lis[k]) {
			evconnlistener_free(srv->lis[k]);
			srv->lis[k] = NULL;
		}
	pop3_session_free_all(srv);
	if (srv->nsessions == 0)
		event_base_loopbreak(srv->base);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct pop3_server *srv = arg;
	(void)fd;
	(void)what;
	pop3_map_sweep(&srv->auth_ip, time_now(), 60);
}

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

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

static void server_free(struct pop3_server *srv)
{
	pool_stop(&srv->jobs);
	for (int k = 0; k < POP3_NKINDS; k++) {
		if (srv->lis[k])
			evconnlistener_free(srv->lis[k]);
		if (srv->lis_retry[k])
			event_free(srv->lis_retry[k]);
	}
	/* completions that arrived after the loop ended (none are expected: sessions wait) */
	while (srv->done_head) {
		struct pop3_job *j = srv->done_head;
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
	if (srv->base)
		event_base_free(srv->base);
	if (srv->ssl)
		SSL_CTX_free(srv->ssl);
	pop3_map_release(&srv->per_ip);
	pop3_map_release(&srv->auth_ip);
	pop3_map_release(&srv->locked);
	free(srv->sizes);
	pthread_mutex_destroy(&srv->done_lock);
	pthread_mutex_destroy(&srv->drop_lock);
	OPENSSL_cleanse(srv->secret, sizeof(srv->secret));
	free(srv);
}

static int listen_on(struct pop3_server *srv, const int fds[POP3_NKINDS], struct err *err)
{
	for (int k = 0; k < POP3_NKINDS; k++) {
		if (fds[k] < 0)
			continue;
		srv->lctx[k].srv = srv;
		srv->lctx[k].kind = (enum pop3_kind)k;
		evutil_make_socket_nonblocking(fds[k]);
		srv->lis[k] = evconnlistener_new(srv->base, on_accept, &srv->lctx[k],
						 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
						 fds[k]);
		if (srv->lis[k] == NULL)
			return err_set(err, ERR_IO, "cannot listen for POP3 on port %d",
				       srv->lim.ports[k]);
		evconnlistener_set_error_cb(srv->lis[k], on_accept_error);
		srv->lis_retry[k] = evtimer_new(srv->base, on_retry, &srv->lctx[k]);
	}
	return 0;
}

int pop3_server_start(struct app *app, const int fds[POP3_NKINDS], struct pop3_server **s_r,
		      struct err *err)
{
	struct pop3_server *srv = xcalloc(1, sizeof(*srv));
	struct timeval sweep = {60, 0};

	*s_r = NULL;
	pthread_mutex_init(&srv->done_lock, NULL);
	pthread_mutex_init(&srv->drop_lock, NULL);
	srv->done_tail = &srv->done_head;
	/* calloc'd pages stay untouched (and unresident) until a size is cached in them */
	srv->sizes = xcalloc(POP3_SIZE_CACHE, sizeof(*srv->sizes));
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
		err_set(err, ERR_INTERNAL, "cannot create the POP3 event loop");
		goto fail;
	}
	srv->done_ev = event_new(srv->base, -1, 0, on_done, srv);
	srv->stop_ev = event_new(srv->base, -1, 0, on_stop, srv);
	srv->sweep_ev = event_new(srv->base, -1, EV_PERSIST, on_sweep, srv);
	event_add(srv->sweep_ev, &sweep);
	if (pool_start(srv, &srv->jobs, POP3_JOB_THREADS, err) < 0 || listen_on(srv, fds, err) < 0)
		goto fail;
	if (pthread_create(&srv->thread, NULL, loop_main, srv) != 0) {
		err_set(err, ERR_INTERNAL, "cannot start the POP3 thread");
		goto fail;
	}
	srv->thread_started = true;
	log_info("pop3", "pop3=%d pop3s=%d msg=\"POP3 listening\"",
		 fds[POP3_PLAIN] >= 0 ? srv->lim.ports[POP3_PLAIN] : 0,
		 fds[POP3_TLS] >= 0 ? srv->lim.ports[POP3_TLS] : 0);
	*s_r = srv;
	return 0;
fail:
	server_free(srv);
	return -1;
}

void pop3_server_stop(struct pop3_server **sp)
{
	struct pop3_server *srv = *sp;

	if (srv == NULL)
		return;
	*sp = NULL;
	if (srv->thread_started) {
		event_active(srv->stop_ev, EV_READ, 0);
		pthread_join(srv->thread, NULL);
	}
	server_free(srv);
	log_info("pop3", "msg=\"POP3 stopped\"");
}
