/* app.h: the daemon's shared state, handed to every handler as rq->app. The pointed-to
 * modules are opaque here; each layer includes the header of the modules it uses. */
#ifndef YZ_APP_H
#define YZ_APP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rt.h"

struct store;
struct store_audit;
struct auth_cache;
struct web;
struct metrics;
struct api_state;
struct mail_store;
struct search_indexer;
struct mta_queue;
struct dns_resolver;
struct mailauth;
struct mta_delivery;
struct api_events;

struct app {
	struct config cfg;
	struct store *store;
	struct store_audit *audit;
	struct auth_cache *auth_cache;
	struct web *web;
	struct metrics *metrics;
	struct api_state *api;
	struct mail_store *mail;         /* the mail store (accounts' mail.db + blobs) */
	struct search_indexer *indexer;  /* background indexing thread */
	struct mta_queue *queue;         /* the mail queue (store/queue.h) */
	struct dns_resolver *dns;        /* MX/TXT lookups (mta/dns.h) */
	struct mailauth *mailauth;       /* SPF, DKIM, DMARC (mta/mailauth.h) */
	struct mta_delivery *delivery;   /* delivery workers (mta/deliver.h) */
	struct api_events *events;       /* GET /api/v1/events streams (api/api_events.c) */
	unsigned char secret[32]; /* per-process: fake salts, throttling keys */
	const struct route *routes;
	size_t nroutes;
	int64_t started;
};

#endif
