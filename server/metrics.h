/* metrics.h: counters for /metrics (Prometheus text format 0.0.4). Lock-free: atomics only. */
#ifndef YZ_METRICS_H
#define YZ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/rt.h"

struct metrics;

struct metrics *metrics_new(size_t nroutes);
void metrics_free(struct metrics **mp);
/* route_index = route - routes, or -1 for unmatched requests. */
void metrics_observe(struct metrics *m, long route_index, int status, uint64_t ns);
void metrics_conn(struct metrics *m, int delta);
int metrics_handler(struct req *rq, struct resp *rs);

#endif
