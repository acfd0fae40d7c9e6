/* The daemon's housekeeping thread: drops expunged mail past its retention period, hourly.
 * (Blob garbage collection stays a command, `yizhan gc`, run from cron: it reads every
 * mailbox and is best done at a quiet hour.) */
#include "maint.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/mail.h"

#define PURGE_EVERY_S 3600

struct maint {
	struct mail_store *ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

static int purge_one(void *ctx, int64_t account)
{
	struct maint *m = ctx;
	struct mailbox *mb;
	struct err err;
	int64_t n = 0;

	if (m->stop)
		return 1;
	if (mailbox_open(m->ms, account, -1, &mb, &err) < 0 ||
	    mail_purge(mb, time_now(), &n, &err) < 0 || mail_upload_expire(mb, 86400, &err) < 0 ||
	    mail_optimize(mb, &err) < 0)
		log_warn("maint", "account=%lld error=\"%s\"", (long long)account, err.msg);
	else if (n)
		log_info("maint", "account=%lld purged=%lld", (long long)account, (long long)n);
	mailbox_unref(&mb);
	return 0;
}

static void *maint_main(void *p)
{
	struct maint *m = p;
	struct timespec ts;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct err err;
		pthread_mutex_unlock(&m->lock);
		if (mail_store_each_account(m->ms, purge_one, m, &err) < 0)
			log_warn("maint", "error=\"%s\"", err.msg);
		pthread_mutex_lock(&m->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += PURGE_EVERY_S;
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

struct maint *maint_start(struct mail_store *ms)
{
	struct maint *m = xcalloc(1, sizeof(*m));
	m->ms = ms;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

void maint_stop(struct maint **mp)
{
	struct maint *m = *mp;
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
	*mp = NULL;
}
