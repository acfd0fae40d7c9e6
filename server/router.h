/* router.h: one entry (rt_dispatch) and one route table (routes.c) for the whole HTTP surface.
 * rt_dispatch() enforces each route's policy flags before its handler runs. */
#ifndef YZ_ROUTER_H
#define YZ_ROUTER_H

#include "lib/app.h"
#include "lib/rt.h"

extern const struct route rt_routes[];
extern const size_t rt_nroutes;

/* "GET" -> RT_GET ...; 0 for a method no route can have. */
unsigned rt_method_parse(const char *m);
/* Find the route for path + method. Returns it (and fills rq's params when rq != NULL), or
 * NULL with *allowed_r = the methods other routes accept on this path (0 when none: 404). */
const struct route *rt_match(const struct route *routes, size_t n, const char *path,
			     unsigned method, struct req *rq, unsigned *allowed_r);
/* Run the request: route lookup (if rq->route is unset), policy, handler, audit. Returns the
 * HTTP status, also left in rs->status. */
int rt_dispatch(struct req *rq, struct resp *rs);
/* The one 404 answer for every unknown path. */
int rt_not_found(struct resp *rs);
/* Resolve the session cookie into rq->caller (used by dispatch; exposed for tests). */
int rt_resolve_caller(struct req *rq);

#endif
