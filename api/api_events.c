/* GET /api/v1/events: the mail store's event bus as Server-Sent Events for the web app (new
 * mail, flag and folder changes), one stream per open tab. A parked stream holds no thread:
 * the HTTP glue suspends the connection until the hub wakes it (lib/rt.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/mail.h"

#define STREAM_BUF (64 * 1024) /* per stream; beyond it the client is told to resync */
#define HEARTBEAT_S 20
#define STREAMS_PER_ACCOUNT 16

struct ev_stream {
	struct ev_stream *next;
	struct api_events *hub;
	int64_t account_id;
	pthread_mutex_t lock; /* guards out, waker */
	struct buf out;
	size_t sent; /* bytes of out already given to the HTTP glue */
	struct rt_waker *waker;
	uint64_t seq; /* event ids, for the client's Last-Event-ID */
};

struct api_events {
	struct mail_store *ms;
	int sub;
	pthread_mutex_t lock; /* guards streams (membership) */
	struct ev_stream *streams;
	size_t nstreams;
	pthread_t heartbeat;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stop;
};

static const char *type_name(enum mail_event_type t)
{
	switch (t) {
	case MAIL_EV_NEW: return "new";
	case MAIL_EV_CHANGED: return "changed";
	case MAIL_EV_REMOVED: return "removed";
	case MAIL_EV_FOLDERS: return "folders";
	}
	return "unknown";
}

/* Append text to a stream (under its lock); too much unread means the client fell behind:
 * drop what it has not taken and tell it to reload. */
static void stream_put(struct ev_stream *s, const char *text)
{
	pthread_mutex_lock(&s->lock);
	if (s->out.len - s->sent + strlen(text) > STREAM_BUF) {
		buf_reset(&s->out);
		s->sent = 0;
		(void)!buf_printf(&s->out, "event: resync\ndata: {}\n\n");
	} else {
		if (s->sent > 0 && s->sent == s->out.len) {
			buf_reset(&s->out);
			s->sent = 0;
		}
		(void)!buf_puts(&s->out, text);
	}
	pthread_mutex_unlock(&s->lock);
}

static void wake(struct ev_stream *s)
{
	struct rt_waker *w;
	pthread_mutex_lock(&s->lock);
	w = s->waker;
	pthread_mutex_unlock(&s->lock);
	if (w)
		rt_waker_wake(w);
}

static void on_event(void *ctx, const struct mail_event *ev)
{
	struct api_events *hub = ctx;
	char text[256];

	pthread_mutex_lock(&hub->lock);
	for (struct ev_stream *s = hub->streams; s; s = s->next) {
		if (s->account_id != ev->account_id)
			continue;
		snprintf(text, sizeof(text),
			 "id: %llu\nevent: mail\ndata: {\"type\":\"%s\",\"folder\":%lld,"
			 "\"message\":%lld,\"uid\":%u,\"modseq\":%llu}\n\n",
			 (unsigned long long)++s->seq, type_name(ev->type), (long long)ev->folder_id,
			 (long long)ev->message_id, ev->uid, (unsigned long long)ev->modseq);
		stream_put(s, text);
		wake(s); /* under the hub lock: the stream cannot be freed meanwhile */
	}
	pthread_mutex_unlock(&hub->lock);
}

static void *heartbeat_main(void *p)
{
	struct api_events *hub = p;
	struct timespec ts;

	pthread_mutex_lock(&hub->stop_lock);
	while (!hub->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += HEARTBEAT_S;
		pthread_cond_timedwait(&hub->stop_cond, &hub->stop_lock, &ts);
		if (hub->stop)
			break;
		pthread_mutex_unlock(&hub->stop_lock);
		/* a comment line keeps proxies from closing the stream and finds dead clients */
		pthread_mutex_lock(&hub->lock);
		for (struct ev_stream *s = hub->streams; s; s = s->next) {
			stream_put(s, ": ping\n\n");
			wake(s);
		}
		pthread_mutex_unlock(&hub->lock);
		pthread_mutex_lock(&hub->stop_lock);
	}
	pthread_mutex_unlock(&hub->stop_lock);
	return NULL;
}

struct api_events *api_events_new(struct mail_store *ms)
{
	struct api_events *hub = xcalloc(1, sizeof(*hub));
	hub->ms = ms;
	pthread_mutex_init(&hub->lock, NULL);
	pthread_mutex_init(&hub->stop_lock, NULL);
	pthread_cond_init(&hub->stop_cond, NULL);
	hub->sub = mail_events_subscribe(ms, on_event, hub);
	if (pthread_create(&hub->heartbeat, NULL, heartbeat_main, hub) != 0)
		ASSERT(!"cannot start the events heartbeat");
	return hub;
}

void api_events_free(struct api_events **hp)
{
	struct api_events *hub = *hp;
	if (hub == NULL)
		return;
	mail_events_unsubscribe(hub->ms, hub->sub);
	pthread_mutex_lock(&hub->stop_lock);
	hub->stop = true;
	pthread_cond_signal(&hub->stop_cond);
	pthread_mutex_unlock(&hub->stop_lock);
	pthread_join(hub->heartbeat, NULL);
	/* the HTTP server is stopped before this: every stream was freed by then */
	pthread_mutex_destroy(&hub->lock);
	pthread_mutex_destroy(&hub->stop_lock);
	pthread_cond_destroy(&hub->stop_cond);
	free(hub);
	*hp = NULL;
}

static long stream_fn(void *ctx, char *out, size_t max, struct rt_waker *w)
{
	struct ev_stream *s = ctx;
	size_t n;

	pthread_mutex_lock(&s->lock);
	s->waker = w;
	n = s->out.len - s->sent;
	if (n > max)
		n = max;
	if (n)
		memcpy(out, s->out.data + s->sent, n);
	s->sent += n;
	pthread_mutex_unlock(&s->lock);
	return (long)n;
}

static void stream_free(void *ctx)
{
	struct ev_stream *s = ctx;
	struct api_events *hub = s->hub;

	pthread_mutex_lock(&hub->lock);
	for (struct ev_stream **pp = &hub->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			hub->nstreams--;
			break;
		}
	}
	pthread_mutex_unlock(&hub->lock);
	buf_release(&s->out);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int api_events(struct req *rq, struct resp *rs)
{
	struct api_events *hub = rq->app->events;
	struct ev_stream *s;
	size_t mine = 0;

	if (rq->caller->role != ROLE_USER)
		return api_error(rs, 403, "forbidden", "admin accounts have no mailbox");
	pthread_mutex_lock(&hub->lock);
	for (struct ev_stream *x = hub->streams; x; x = x->next)
		if (x->account_id == rq->caller->account_id)
			mine++;
	if (mine >= STREAMS_PER_ACCOUNT) {
		pthread_mutex_unlock(&hub->lock);
		return api_error(rs, 429, "rate_limited", "at most %d event streams per account",
				 STREAMS_PER_ACCOUNT);
	}
	s = xcalloc(1, sizeof(*s));
	s->hub = hub;
	s->account_id = rq->caller->account_id;
	pthread_mutex_init(&s->lock, NULL);
	buf_init(&s->out, 0);
	/* reconnect after 3 s when the stream breaks; a first line so the client sees it open */
	(void)!buf_puts(&s->out, "retry: 3000\nevent: hello\ndata: {}\n\n");
	s->next = hub->streams;
	hub->streams = s;
	hub->nstreams++;
	pthread_mutex_unlock(&hub->lock);
	rs->status = 200;
	rs->content_type = "text/event-stream; charset=utf-8";
	rs->stream = stream_fn;
	rs->stream_ctx = s;
	rs->stream_free = stream_free;
	rt_resp_header(rs, "X-Accel-Buffering", "no");
	return 200;
}
