#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/app.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "store/mail.h"

/* latency histogram upper bounds in seconds */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
#define NB ARRAY_LEN(bounds)

struct route_m {
	atomic_ulong by_class[6]; /* 1xx..5xx at [1..5] */
	atomic_ulong buckets[NB];
	atomic_ulong count;
	atomic_ullong sum_ns;
};

struct metrics {
	size_t n; /* routes + 1 for unmatched */
	struct route_m *r;
	atomic_long open_conns;
	atomic_ulong conns_total;
};

struct metrics *metrics_new(size_t nroutes)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	m->n = nroutes + 1;
	m->r = xcalloc(m->n, sizeof(*m->r));
	return m;
}

void metrics_free(struct metrics **mp)
{
	if (*mp == NULL)
		return;
	free((*mp)->r);
	free(*mp);
	*mp = NULL;
}

void metrics_observe(struct metrics *m, long idx, int status, uint64_t ns)
{
	struct route_m *r = &m->r[idx < 0 || (size_t)idx >= m->n - 1 ? m->n - 1 : (size_t)idx];
	int cls = status / 100;
	double s = (double)ns / 1e9;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add_explicit(&r->by_class[cls], 1, memory_order_relaxed);
	for (size_t i = 0; i < NB; i++)
		if (s <= bounds[i])
			atomic_fetch_add_explicit(&r->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_ns, ns, memory_order_relaxed);
}

void metrics_conn(struct metrics *m, int delta)
{
	atomic_fetch_add_explicit(&m->open_conns, delta, memory_order_relaxed);
	if (delta > 0)
		atomic_fetch_add_explicit(&m->conns_total, 1, memory_order_relaxed);
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static int emit(struct buf *b, const struct app *app)
{
	const struct metrics *m = app->metrics;
	int rc = 0;

	rc |= buf_puts(b, "# HELP yizhan_http_requests_total HTTP requests by route and status "
			  "class.\n# TYPE yizhan_http_requests_total counter\n");
	for (size_t i = 0; i < m->n; i++) {
		const char *route = i < app->nroutes ? app->routes[i].pattern : "unmatched";
		for (int c = 1; c <= 5; c++) {
			unsigned long v = atomic_load(&m->r[i].by_class[c]);
			if (v)
				rc |= buf_printf(b, "yizhan_http_requests_total{route=\"%s\","
						    "code=\"%dxx\"} %lu\n", route, c, v);
		}
	}
	rc |= buf_puts(b, "# HELP yizhan_http_request_duration_seconds Request latency by "
			  "route.\n# TYPE yizhan_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n; i++) {
		const char *route = i < app->nroutes ? app->routes[i].pattern : "unmatched";
		unsigned long count = atomic_load(&m->r[i].count);
		if (count == 0)
			continue;
		for (size_t k = 0; k < NB; k++)
			rc |= buf_printf(b, "yizhan_http_request_duration_seconds_bucket{route=\"%s\","
					    "le=\"%g\"} %lu\n", route, bounds[k],
					 atomic_load(&m->r[i].buckets[k]));
		rc |= buf_printf(b, "yizhan_http_request_duration_seconds_bucket{route=\"%s\","
				    "le=\"+Inf\"} %lu\n", route, count);
		rc |= buf_printf(b, "yizhan_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
				 route, (double)atomic_load(&m->r[i].sum_ns) / 1e9);
		rc |= buf_printf(b, "yizhan_http_request_duration_seconds_count{route=\"%s\"} %lu\n",
				 route, count);
	}
	rc |= buf_printf(b, "# HELP yizhan_http_open_connections Open HTTPS connections.\n"
			    "# TYPE yizhan_http_open_connections gauge\n"
			    "yizhan_http_open_connections %ld\n"
			    "# HELP yizhan_http_connections_total HTTPS connections accepted.\n"
			    "# TYPE yizhan_http_connections_total counter\n"
			    "yizhan_http_connections_total %lu\n",
			 atomic_load(&m->open_conns), atomic_load(&m->conns_total));
	rc |= buf_printf(b, "# HELP process_resident_memory_bytes Resident memory size.\n"
			    "# TYPE process_resident_memory_bytes gauge\n"
			    "process_resident_memory_bytes %ld\n"
			    "# HELP process_start_time_seconds Start time of the process.\n"
			    "# TYPE process_start_time_seconds gauge\n"
			    "process_start_time_seconds %lld\n",
			 rss_bytes(), (long long)app->started);
	if (app->dns) {
		uint64_t hits, misses;
		dns_cache_stats(app->dns, &hits, &misses);
		rc |= buf_printf(b, "# HELP yizhan_dns_lookups_total DNS lookups (SPF, DKIM, DMARC, "
				    "PTR, MX) by whether the resolver's cache answered them.\n"
				    "# TYPE yizhan_dns_lookups_total counter\n"
				    "yizhan_dns_lookups_total{cache=\"hit\"} %llu\n"
				    "yizhan_dns_lookups_total{cache=\"miss\"} %llu\n",
				 (unsigned long long)hits, (unsigned long long)misses);
	}
	if (app->mail)
		rc |= buf_printf(b, "# HELP yizhan_mail_parsed_kept_bytes MIME parses of new mail "
				    "kept for the indexer.\n"
				    "# TYPE yizhan_mail_parsed_kept_bytes gauge\n"
				    "yizhan_mail_parsed_kept_bytes %zu\n",
				 mail_parsed_bytes(app->mail));
	return rc;
}

int metrics_handler(struct req *rq, struct resp *rs)
{
	buf_reset(&rs->body);
	if (emit(&rs->body, rq->app) != 0)
		return rs->status = 500;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	rs->status = 200;
	return 200;
}
