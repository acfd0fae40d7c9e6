/* The shared part of the mail protocol servers (netsvc.h): counters, the job pool and its
 * completions, the audit thread, the TLS context, the listeners and the loop thread. */
#include "netsvc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NETSVC_MAP_BUCKETS;
}

static void roll(struct netsvc_count *c, int64_t now, int64_t window_s)
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

static struct netsvc_count **map_slot(struct netsvc_map *m, const char *key)
{
	struct netsvc_count **pp = &m->b[map_hash(key)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

int64_t netsvc_map_get(struct netsvc_map *m, const char *key, int64_t now, int64_t window_s)
{
	struct netsvc_count *c = *map_slot(m, key);
	if (c == NULL)
		return 0;
	roll(c, now, window_s);
	if (window_s <= 0)
		return c->n;
	/* sliding window: the previous window weighs what is left of it */
	return c->n + c->prev * (window_s - (now - c->window)) / window_s;
}

void netsvc_map_add(struct netsvc_map *m, const char *key, int64_t delta, int64_t now,
		    int64_t window_s)
{
	struct netsvc_count **pp = map_slot(m, key), *c = *pp;
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

bool netsvc_map_take(struct netsvc_map *m, const char *key, int64_t limit, int64_t now,
		     int64_t window_s)
{
	if (netsvc_map_get(m, key, now, window_s) >= limit)
		return false;
	netsvc_map_add(m, key, 1, now, window_s);
	return true;
}

void netsvc_map_sweep(struct netsvc_map *m, int64_t now, int64_t window_s)
{
	for (size_t i = 0; i < NETSVC_MAP_BUCKETS; i++) {
		struct netsvc_count **pp = &m->b[i];
		while (*pp) {
			struct netsvc_count *c = *pp;
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

void netsvc_map_release(struct netsvc_map *m)
{
	for (size_t i = 0; i < NETSVC_MAP_BUCKETS; i++)
		while (m->b[i]) {
			struct netsvc_count *c = m->b[i];
			m->b[i] = c->next;
			free(c);
		}
	m->n = 0;
}

/* ---- jobs and completions ---- */

void netsvc_complete(struct netsvc *svc, struct netsvc_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&svc->done_lock);
	*svc->done_tail = j;
	svc->done_tail = &j->next;
	pthread_mutex_unlock(&svc->done_lock);
	event_active(svc->done_ev, EV_READ, 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct netsvc *svc = arg;
	struct netsvc_job *list;

	pthread_mutex_lock(&svc->done_lock);
	list = svc->done_head;
	svc->done_head = NULL;
	svc->done_tail = &svc->done_head;
	pthread_mutex_unlock(&svc->done_lock);
	while (list) {
		struct netsvc_job *j = list;
		void *s = j->s;
		list = j->next;
		j->done(j);
		if (s != NULL)
			svc->d->unref(s);
	}
}

void netsvc_pool_post(struct netsvc_pool *p, struct netsvc_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = j;
	p->tail = &j->next;
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *pool_main(void *arg)
{
	struct netsvc_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct netsvc_job *j;
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
			netsvc_complete(p->svc, j);
		pthread_mutex_lock(&p->lock);
		p->queued--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *audit_main(void *arg);

static int pool_start(struct netsvc *svc, struct netsvc_pool *p, size_t n,
		      void *(*main_fn)(void *), struct err *err)
{
	p->svc = svc;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	p->threads = xcalloc(n, sizeof(*p->threads));
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, main_fn, p) != 0)
			return err_set(err, ERR_INTERNAL, "cannot start the %s worker threads",
				       svc->d->label);
		p->nthreads++;
	}
	return 0;
}

static void pool_stop(struct netsvc_pool *p)
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

void netsvc_audit_now(struct netsvc *svc, const char *actor, const char *type, const char *ip,
		      const char *client, const char *detail)
{
	struct audit_rec r = {
		.actor = actor && *actor ? actor : "-",
		.type = type,
		.ip = ip,
		.client = client,
		.detail = detail,
	};
	struct err err;

	if (store_audit_append(svc->audit, &r, &err) < 0)
		log_error(svc->d->name, "type=%s msg=\"audit append failed\" err=\"%s\"", type,
			  err.msg);
}

struct audit_job {
	struct netsvc_job job;
	struct netsvc *svc;
	struct netsvc_job *waiter;
	char *actor, *type, *ip, *client, *detail;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Audit records taken off the queue at once, written in one transaction. */
#define AUDIT_BATCH 256

static void audit_free(struct audit_job *a)
{
	free(a->actor);
	free(a->type);
	free(a->ip);
	free(a->client);
	free(a->detail);
	free(a);
}

/* In a stream of records a commit starts no sooner than this after the previous one ended,
 * so that the records of that time share its flush. At one SMTP session a record came every
 * 2 ms, and each had a flush of its own beside the queue's flush of the same message
 * (docs/BENCHMARKS.md, "The accept records of one session share a flush"). After a pause
 * the first record is written at once. A record becomes durable up to this much later; no
 * reply waits for it except under back-pressure, when a batch is full at once. */
#define AUDIT_GATHER_MS 20

static void audit_gather(struct netsvc_pool *p, uint64_t last_ns)
{
	uint64_t now = time_mono_ns(), until = last_ns + AUDIT_GATHER_MS * 1000000ull;
	struct timespec ts;

	if (last_ns == 0 || now >= until)
		return;
	time_deadline(&ts, (int64_t)((until - now + 999999) / 1000000));
	while (!p->stop && p->queued < AUDIT_BATCH && time_mono_ns() < until)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) != 0)
			break;
}

/* The audit thread: everything queued (up to AUDIT_BATCH) goes into one group commit, so
 * a stream of sessions costs a flush per batch, not one per record (at 10 SMTP sessions the
 * queue holds a few records whenever a commit ends). Records keep the order they were
 * posted in. A session waiting for its record (back-pressure) is released after the commit
 * that holds it. */
static void *audit_main(void *arg)
{
	struct netsvc_pool *p = arg;
	struct audit_rec *v = xcalloc(AUDIT_BATCH, sizeof(*v));
	struct audit_job *batch[AUDIT_BATCH];
	uint64_t last_ns = 0; /* monotonic end of the last commit */

	pthread_mutex_lock(&p->lock);
	for (;;) {
		size_t n = 0;
		struct err err;
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->head == NULL)
			break; /* stopping, and everything queued is written */
		audit_gather(p, last_ns);
		while (p->head != NULL && n < AUDIT_BATCH) {
			batch[n++] = (struct audit_job *)p->head;
			p->head = p->head->next;
		}
		if (p->head == NULL)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < n; i++)
			v[i] = (struct audit_rec){.actor = batch[i]->actor,
						  .type = batch[i]->type,
						  .ip = batch[i]->ip,
						  .client = batch[i]->client,
						  .detail = batch[i]->detail};
		if (store_audit_append_many(batch[0]->svc->audit, v, n, &err) < 0)
			log_error(batch[0]->svc->d->name,
				  "msg=\"audit append failed\" records=%zu first_type=%s err=\"%s\"", n,
				  batch[0]->type, err.msg);
		last_ns = time_mono_ns();
		for (size_t i = 0; i < n; i++) {
			if (batch[i]->waiter)
				netsvc_complete(batch[i]->svc, batch[i]->waiter);
			audit_free(batch[i]);
		}
		pthread_mutex_lock(&p->lock);
		p->queued -= n;
	}
	pthread_mutex_unlock(&p->lock);
	free(v);
	return NULL;
}

bool netsvc_audit_backlogged(struct netsvc *svc)
{
	bool full;
	ASSERT(svc->d->audit_thread);
	pthread_mutex_lock(&svc->audits.lock);
	full = svc->audits.queued >= NETSVC_AUDIT_BACKLOG;
	pthread_mutex_unlock(&svc->audits.lock);
	return full;
}

void netsvc_audit(struct netsvc *svc, const char *actor, const char *type, const char *ip,
		  const char *client, const char *detail, struct netsvc_job *waiter)
{
	struct audit_job *a = xcalloc(1, sizeof(*a));

	ASSERT(svc->d->audit_thread);
	a->svc = svc;
	a->waiter = waiter;
	a->actor = xstrdup(actor && *actor ? actor : "-");
	a->type = xstrdup(type);
	a->ip = dup_or_null(ip);
	a->client = dup_or_null(client);
	a->detail = dup_or_null(detail);
	netsvc_pool_post(&svc->audits, &a->job);
}

void netsvc_json_kv(struct buf *b, const char *key, const char *value, bool *first)
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

void netsvc_json_kb(struct buf *b, const char *key, bool value, bool *first)
{
	(void)!buf_puts(b, *first ? "{" : ",");
	*first = false;
	(void)!buf_json_str(b, key);
	(void)!buf_puts(b, value ? ":true" : ":false");
}

void netsvc_json_ki(struct buf *b, const char *key, int64_t value, bool *first)
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
	struct netsvc_listener *lc = arg;
	char ip[64];
	int one = 1;

	(void)l;
	(void)socklen;
	client_ip(sa, ip, sizeof(ip));
	/* Replies go out whole from a bufferevent, so Nagle's algorithm only ever held back the
	 * second of two writes in a row (the TLS handshake's records, a reply after a greeting)
	 * until the client's delayed ACK, 40 ms later: every TLS connection paid that. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (lc->svc->stopping) {
		evutil_closesocket(fd);
		return;
	}
	lc->svc->d->accept(lc->svc->srv, lc->kind, fd, ip);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct netsvc_listener *lc = arg;
	if (!lc->svc->stopping && lc->lis)
		evconnlistener_enable(lc->lis);
}

/* accept() failed (out of descriptors, most likely): pause this listener for a second
 * instead of spinning on the error */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct netsvc_listener *lc = arg;
	struct timeval tv = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	log_warn(lc->svc->d->name, "port=%d msg=\"accept failed\" err=\"%s\"", lc->port,
		 evutil_socket_error_to_string(e));
	evconnlistener_disable(l);
	evtimer_add(lc->retry, &tv);
}

int netsvc_listen(struct netsvc *svc, const int *fds, const int *ports, int n, struct err *err)
{
	ASSERT(n <= NETSVC_MAX_LISTENERS);
	for (int k = 0; k < n; k++) {
		struct netsvc_listener *lc = &svc->lis[k];
		if (fds[k] < 0)
			continue;
		lc->svc = svc;
		lc->kind = k;
		lc->port = ports[k];
		evutil_make_socket_nonblocking(fds[k]);
		lc->lis = evconnlistener_new(svc->base, on_accept, lc,
					     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
					     fds[k]);
		if (lc->lis == NULL)
			return err_set(err, ERR_IO, "cannot listen for %s on port %d",
				       svc->d->label, ports[k]);
		evconnlistener_set_error_cb(lc->lis, on_accept_error);
		lc->retry = evtimer_new(svc->base, on_retry, lc);
	}
	return 0;
}

/* ---- TLS ---- */

/* Cross-protocol defence (ALPACA): a client that names application protocols must name
 * ours (the IANA registry's "smtp", "imap", "pop3"); one that names none is an ordinary mail
 * client. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	const char *ours = arg;
	size_t len = strlen(ours);

	(void)ssl;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == len && memcmp(in + i + 1, ours, len) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int tls_fail(struct netsvc *svc, struct err *err, const char *what, const char *path)
{
	char e[200];
	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	ERR_clear_error();
	return err_set(err, ERR_IO, "%s TLS: %s %s: %s", svc->d->label, what, path, e);
}

/* A new server context from c's certificate and key into *ctx_r (freed on failure). */
static int tls_context(struct netsvc *svc, const struct config *c, SSL_CTX **ctx_r,
		       struct err *err)
{
	char cert[CONFIG_PATH_MAX], key[CONFIG_PATH_MAX], sid[32];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int sidlen;

	*ctx_r = NULL;
	if (ctx == NULL)
		return tls_fail(svc, err, "context", "");
	config_path(c, c->tls_cert, cert, sizeof(cert));
	config_path(c, c->tls_key, key, sizeof(key));
	sidlen = snprintf(sid, sizeof(sid), "yizhan-%s", svc->d->name);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid, (unsigned)sidlen);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, (void *)svc->d->name);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		SSL_CTX_free(ctx);
		return tls_fail(svc, err, "certificate", cert);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return tls_fail(svc, err, "key", key);
	}
	*ctx_r = ctx;
	return 0;
}

static int tls_setup(struct netsvc *svc, const struct config *c, struct err *err)
{
	return tls_context(svc, c, &svc->ssl, err);
}

/* SIGHUP hands what changed to the loop thread, which alone reads it: fn(svc, arg) runs
 * there, soon. On -1 fn is not called and arg stays the caller's. */
struct loop_call {
	struct netsvc *svc;
	void (*fn)(struct netsvc *svc, void *arg);
	void *arg;
};

static void on_loop_call(evutil_socket_t fd, short what, void *arg)
{
	struct loop_call *lc = arg;
	(void)fd, (void)what;
	lc->fn(lc->svc, lc->arg);
	free(lc);
}

static int on_loop(struct netsvc *svc, void (*fn)(struct netsvc *, void *), void *arg,
		   const char *what, struct err *err)
{
	struct timeval now = {0, 0};
	struct loop_call *lc = xmalloc(sizeof(*lc));

	*lc = (struct loop_call){.svc = svc, .fn = fn, .arg = arg};
	if (event_base_once(svc->base, -1, EV_TIMEOUT, on_loop_call, lc, &now) < 0) {
		free(lc);
		return err_set(err, ERR_INTERNAL, "%s %s: cannot reach the loop", svc->d->label,
			       what);
	}
	return 0;
}

/* On the loop, where every SSL_new() of a session happens: sessions already running keep a
 * reference to the old context, so it can go now. */
static void swap_tls(struct netsvc *svc, void *ctx)
{
	SSL_CTX *old = svc->ssl;
	svc->ssl = ctx;
	SSL_CTX_free(old);
}

int netsvc_reload_tls(struct netsvc *svc, const struct config *c, struct err *err)
{
	SSL_CTX *ctx;

	if (svc->d == NULL || svc->base == NULL)
		return 0; /* not running */
	if (tls_context(svc, c, &ctx, err) < 0)
		return -1;
	if (on_loop(svc, swap_tls, ctx, "TLS", err) < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}
	return 0;
}

struct limits_swap {
	void *cur;
	void (*apply)(void *cur, const void *next);
	max_align_t next[]; /* the new limits */
};

static void swap_limits(struct netsvc *svc, void *arg)
{
	struct limits_swap *sw = arg;
	(void)svc;
	sw->apply(sw->cur, sw->next);
	free(sw);
}

int netsvc_reload_limits(struct netsvc *svc, void *cur, const void *next, size_t size,
			 const int *ports_cur, const int *ports_next, size_t nports,
			 void (*apply)(void *cur, const void *next), struct err *err)
{
	struct limits_swap *sw;

	if (svc->d == NULL || svc->base == NULL || !svc->thread_started)
		return 0; /* not running: nothing to change */
	if (memcmp(ports_cur, ports_next, nports * sizeof(*ports_cur)) != 0)
		log_warn(svc->d->name, "msg=\"%s ports change only with a restart\"", svc->d->label);
	sw = xmalloc(sizeof(*sw) + size);
	sw->cur = cur;
	sw->apply = apply;
	memcpy(sw->next, next, size);
	if (on_loop(svc, swap_limits, sw, "limits", err) < 0) {
		free(sw);
		return -1;
	}
	return 0;
}

/* ---- the loop thread ---- */

static void *loop_main(void *arg)
{
	struct netsvc *svc = arg;
	event_base_loop(svc->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

void netsvc_sessions_left(struct netsvc *svc, size_t n)
{
	if (!svc->stopping || n > 0)
		return;
	/* Not event_base_loopbreak(): bufferevent_free() only schedules the free (a finalizer,
	 * or a deferred callback still holding a reference), and event_base_free() cancels what
	 * has not run, so a session closed just before the loop ended leaked its TLS connection.
	 * The loop runs a little longer to let those run. */
	struct timeval tv = {0, NETSVC_EXIT_DELAY_MS * 1000};
	event_base_loopexit(svc->base, &tv);
}

/* Runs on the loop: stop accepting, close every session; the loop ends once the last one
 * (some may wait for a job or a queue commit) is gone. */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct netsvc *svc = arg;

	svc->stopping = true;
	for (int k = 0; k < NETSVC_MAX_LISTENERS; k++)
		if (svc->lis[k].lis) {
			evconnlistener_free(svc->lis[k].lis);
			svc->lis[k].lis = NULL;
		}
	svc->d->stop(svc->srv);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct netsvc *svc = arg;
	svc->d->sweep(svc->srv, time_now());
}

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc;

static void evthread_init(void)
{
	evthread_rc = evthread_use_pthreads();
}

int netsvc_init(struct netsvc *svc, const struct netsvc_desc *d, void *srv,
		const struct config *c, struct store_audit *audit, struct err *err)
{
	struct timeval sweep = {60, 0};

	memset(svc, 0, sizeof(*svc));
	svc->d = d;
	svc->srv = srv;
	svc->audit = audit;
	pthread_mutex_init(&svc->done_lock, NULL);
	svc->done_tail = &svc->done_head;
	pthread_once(&evthread_once, evthread_init);
	if (evthread_rc != 0)
		return err_set(err, ERR_INTERNAL, "libevent threading is not available");
	if (tls_setup(svc, c, err) < 0)
		return -1;
	svc->base = event_base_new();
	if (svc->base == NULL)
		return err_set(err, ERR_INTERNAL, "cannot create the %s event loop", d->label);
	svc->done_ev = event_new(svc->base, -1, 0, on_done, svc);
	svc->stop_ev = event_new(svc->base, -1, 0, on_stop, svc);
	svc->sweep_ev = event_new(svc->base, -1, EV_PERSIST, on_sweep, svc);
	event_add(svc->sweep_ev, &sweep);
	if (pool_start(svc, &svc->jobs, d->job_threads, pool_main, err) < 0)
		return -1;
	if (d->audit_thread && pool_start(svc, &svc->audits, 1, audit_main, err) < 0)
		return -1;
	return 0;
}

int netsvc_run(struct netsvc *svc, struct err *err)
{
	if (pthread_create(&svc->thread, NULL, loop_main, svc) != 0)
		return err_set(err, ERR_INTERNAL, "cannot start the %s thread", svc->d->label);
	svc->thread_started = true;
	return 0;
}

void netsvc_stop(struct netsvc *svc)
{
	if (!svc->thread_started)
		return;
	event_active(svc->stop_ev, EV_READ, 0);
	pthread_join(svc->thread, NULL);
	svc->thread_started = false;
}

void netsvc_release(struct netsvc *svc)
{
	if (svc->d == NULL)
		return; /* never initialised */
	pool_stop(&svc->jobs);
	pool_stop(&svc->audits);
	for (int k = 0; k < NETSVC_MAX_LISTENERS; k++) {
		if (svc->lis[k].lis)
			evconnlistener_free(svc->lis[k].lis);
		if (svc->lis[k].retry)
			event_free(svc->lis[k].retry);
	}
	/* completions that arrived after the loop ended (none are expected: sessions wait) */
	while (svc->done_head) {
		struct netsvc_job *j = svc->done_head;
		svc->done_head = j->next;
		j->s = NULL;
		j->done(j);
	}
	if (svc->done_ev)
		event_free(svc->done_ev);
	if (svc->stop_ev)
		event_free(svc->stop_ev);
	if (svc->sweep_ev)
		event_free(svc->sweep_ev);
	if (svc->base)
		event_base_free(svc->base);
	if (svc->ssl)
		SSL_CTX_free(svc->ssl);
	pthread_mutex_destroy(&svc->done_lock);
	svc->d = NULL;
}
