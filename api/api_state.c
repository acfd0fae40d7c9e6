/* Sign-in state kept in memory: pending SCRAM exchanges (between step 1 and step 2) and the
 * per-IP sign-in throttle. Both are fixed-size tables, so a flood cannot grow memory. */
#include "api_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/util.h"

#define PENDING_SLOTS 4096
#define PENDING_TTL_MS 60000
#define THROTTLE_SLOTS 4096
#define THROTTLE_WINDOW 60

struct throttle {
	char ip[48];
	int64_t window; /* minute number */
	int64_t count;
};

struct api_state {
	pthread_mutex_t lock;
	struct scram_pending pending[PENDING_SLOTS];
	struct throttle throttle[THROTTLE_SLOTS];
};

struct api_state *api_state_new(void)
{
	struct api_state *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void api_state_free(struct api_state **sp)
{
	if (*sp == NULL)
		return;
	pthread_mutex_destroy(&(*sp)->lock);
	OPENSSL_cleanse(*sp, sizeof(**sp));
	free(*sp);
	*sp = NULL;
}

int api_pending_put(struct api_state *s, const struct scram_pending *p, struct err *err)
{
	int64_t now = time_now_ms();
	struct scram_pending *slot = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PENDING_SLOTS; i++) {
		struct scram_pending *e = &s->pending[i];
		if (e->created_ms == 0 || now - e->created_ms > PENDING_TTL_MS) {
			slot = e;
			break;
		}
	}
	if (slot)
		*slot = *p, slot->created_ms = now;
	pthread_mutex_unlock(&s->lock);
	if (slot == NULL)
		return err_set(err, ERR_LIMIT, "too many sign-ins in progress");
	return 0;
}

int api_pending_take(struct api_state *s, const char *sid, struct scram_pending *out)
{
	int64_t now = time_now_ms();
	int ret = -1;

	if (strlen(sid) != sizeof(out->sid) - 1)
		return -1;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < PENDING_SLOTS; i++) {
		struct scram_pending *e = &s->pending[i];
		if (e->created_ms != 0 && mem_eq_ct(e->sid, sid, sizeof(e->sid))) {
			if (now - e->created_ms <= PENDING_TTL_MS) {
				*out = *e;
				ret = 0;
			}
			memset(e, 0, sizeof(*e)); /* single use */
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int api_throttle_ip(struct api_state *s, const char *ip, int64_t per_minute,
		    int64_t *retry_after_r)
{
	int64_t now = time_now(), window = now / THROTTLE_WINDOW;
	unsigned h = 2166136261u;
	struct throttle *t;
	int ret = 0;

	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	pthread_mutex_lock(&s->lock);
	t = &s->throttle[h % THROTTLE_SLOTS];
	/* a slot shared by two IPs counts both: the error is only ever on the strict side */
	if (t->window != window || strcmp(t->ip, ip) != 0) {
		if (t->window != window)
			t->count = 0;
		snprintf(t->ip, sizeof(t->ip), "%s", ip);
		t->window = window;
	}
	if (++t->count > per_minute) {
		*retry_after_r = (window + 1) * THROTTLE_WINDOW - now;
		ret = -1;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}
