#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/util.h"

struct entry {
	unsigned char mac[32];
	int64_t expires; /* 0 = free slot */
};

struct auth_cache {
	pthread_mutex_t lock;
	struct entry *slots;
	size_t nslots;
	int64_t ttl;
	unsigned char key[32];
	uint64_t hits, misses;
	unsigned fake_iterations;
};

struct auth_cache *auth_cache_new(size_t max_entries, int64_t ttl_seconds)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->nslots = max_entries ? max_entries : 1;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	c->ttl = ttl_seconds;
	rand_bytes(c->key, sizeof(c->key));
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c->slots);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

void auth_cache_stats(struct auth_cache *c, struct auth_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->hits = c->hits;
	out->misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}

static void entry_mac(struct auth_cache *c, const struct store_account *a, const char *password,
		      unsigned char out[32])
{
	char secret[256];
	unsigned int len = 32;
	size_t sl, pl = strlen(password);
	unsigned char *msg;

	scram_secret_format(&a->secret, secret, sizeof(secret));
	sl = strlen(secret) + 1; /* include the NUL as a separator */
	msg = xmalloc(sl + pl);
	memcpy(msg, secret, sl);
	memcpy(msg + sl, password, pl);
	HMAC(EVP_sha256(), c->key, sizeof(c->key), msg, sl + pl, out, &len);
	OPENSSL_cleanse(msg, sl + pl);
	free(msg);
}

/* The slot for an account: one entry per account id (open addressing is not needed: a
 * collision only costs a PBKDF2). */
static struct entry *slot_for(struct auth_cache *c, int64_t id)
{
	return &c->slots[(uint64_t)id % c->nslots];
}

static bool cache_hit(struct auth_cache *c, const struct store_account *a,
		      const unsigned char mac[32])
{
	struct entry *e;
	bool hit;
	pthread_mutex_lock(&c->lock);
	e = slot_for(c, a->id);
	hit = e->expires > time_now() && mem_eq_ct(e->mac, mac, 32);
	if (hit)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void cache_put(struct auth_cache *c, const struct store_account *a,
		      const unsigned char mac[32])
{
	struct entry *e;
	pthread_mutex_lock(&c->lock);
	e = slot_for(c, a->id);
	memcpy(e->mac, mac, 32);
	e->expires = time_now() + c->ttl;
	pthread_mutex_unlock(&c->lock);
}

int auth_check_password(struct store *st, struct auth_cache *c, const char *address,
			const char *password, struct store_account *acct, struct err *err)
{
	unsigned char mac[32];
	struct err lerr;

	if (store_account_get(st, address, acct, &lerr) < 0) {
		if (lerr.code != ERR_NOTFOUND)
			return err_set(err, lerr.code, "%s", lerr.msg);
		/* pay the same PBKDF2 as a real check so timing does not tell */
		struct scram_secret fake;
		scram_secret_fake(c ? c->key : (const unsigned char *)"k", c ? 32 : 1, address,
				  c && c->fake_iterations ? c->fake_iterations : SCRAM_MIN_ITER * 4,
				  &fake);
		(void)scram_secret_check(&fake, password, strlen(password));
		return err_set(err, ERR_AUTH, "authentication failed");
	}
	if (c && c->ttl > 0) {
		entry_mac(c, acct, password, mac);
		if (cache_hit(c, acct, mac))
			return acct->disabled ? err_set(err, ERR_AUTH, "authentication failed") : 0;
	}
	char prepped[4096];
	store_password_prep(password, prepped, sizeof(prepped));
	bool ok = scram_secret_check(&acct->secret, prepped, strlen(prepped));
	OPENSSL_cleanse(prepped, sizeof(prepped));
	if (!ok || acct->disabled)
		return err_set(err, ERR_AUTH, "authentication failed");
	if (c && c->ttl > 0)
		cache_put(c, acct, mac);
	return 0;
}

int auth_check_mail_password(struct store *st, struct auth_cache *c, const char *address,
			     const char *password, struct store_account *acct, int64_t *app_id_r,
			     struct err *err)
{
	struct store_mail_settings ms;
	struct store_apppw_secret apps[32];
	size_t napps = 0;
	struct err lerr;
	bool app_only = false;

	*app_id_r = 0;
	if (store_account_get(st, address, acct, &lerr) == 0 && !acct->disabled) {
		/* unread settings are no answer: reading them as "no" would let in the account
		 * password where only app passwords may be used */
		if (store_mail_settings_get(st, acct->id, &ms, &lerr) < 0)
			return err_set(err, lerr.code, "%s", lerr.msg);
		app_only = ms.require_app_password;
	}
	/* app_only: the account password is not good enough for mail clients */
	if (!app_only) {
		if (auth_check_password(st, c, address, password, acct, &lerr) == 0)
			return 0;
		if (lerr.code != ERR_AUTH)
			return err_set(err, lerr.code, "%s", lerr.msg);
	}
	if (store_account_get(st, address, acct, &lerr) < 0) {
		if (lerr.code != ERR_NOTFOUND)
			return err_set(err, lerr.code, "%s", lerr.msg);
		return err_set(err, ERR_AUTH, "authentication failed");
	}
	if (acct->disabled)
		return err_set(err, ERR_AUTH, "authentication failed");
	if (store_apppw_secrets(st, acct->id, apps, ARRAY_LEN(apps), &napps, &lerr) < 0)
		return err_set(err, lerr.code, "%s", lerr.msg);
	/* app passwords are made by us (16 plain characters): no SASLprep needed */
	for (size_t i = 0; i < napps; i++) {
		if (scram_secret_check(&apps[i].secret, password, strlen(password))) {
			*app_id_r = apps[i].id;
			(void)!store_apppw_used(st, apps[i].id, NULL);
			return 0;
		}
	}
	return err_set(err, ERR_AUTH, "authentication failed");
}

void auth_cache_set_iterations(struct auth_cache *c, unsigned iterations)
{
	c->fake_iterations = iterations;
}
