/* rt.h: the router's data types, shared by server/ (which fills them from libmicrohttpd) and
 * api/ + web/ (whose handlers read them). No third-party types appear here.
 *
 * A handler is  int fn(struct req *rq, struct resp *rs)  and returns the HTTP status.
 * Everything it allocates comes from rq->arena, freed when the response is sent. */
#ifndef YZ_RT_H
#define YZ_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "role.h"

enum rt_method {
	RT_GET = 1 << 0,
	RT_HEAD = 1 << 1,
	RT_POST = 1 << 2,
	RT_PUT = 1 << 3,
	RT_DELETE = 1 << 4,
	RT_PATCH = 1 << 5,
	RT_OPTIONS = 1 << 6,
};

/* Route policy, enforced by rt_dispatch() before the handler runs. */
enum rt_flag {
	RT_PUBLIC = 0,
	RT_AUTH = 1 << 0,    /* a signed-in session, or an API token when the route names a scope */
	RT_PARTIAL = 1 << 1, /* with RT_AUTH: a session still waiting for its second factor is ok */
	RT_CSRF = 1 << 2,    /* state-changing methods need X-CSRF-Token == the session's token */
	RT_JSON = 1 << 3,    /* requests with a body must be Content-Type: application/json */
	RT_PAGE = 1 << 4,    /* an HTML page: anonymous callers are redirected to /login */
};

struct req;
struct resp;
typedef int rt_fn(struct req *rq, struct resp *rs);

struct route {
	unsigned methods;      /* enum rt_method bits */
	const char *pattern;   /* "/api/v1/things/{id}"; a {name} matches one non-empty segment;
				  a trailing {name*} matches the rest of the path */
	rt_fn *fn;
	unsigned flags;        /* enum rt_flag bits */
	unsigned roles;        /* enum role bits allowed; 0 = any signed-in role */
	size_t max_body;       /* bytes; 0 = no body accepted */
	const char *audit;     /* audit record type written after the handler, or NULL */
	const char *scope;     /* API tokens with this scope may call the route (RT_AUTH only);
				  NULL: sessions only */
	const char *summary;   /* one line for the OpenAPI document */
	const char *tag;       /* OpenAPI tag */
};

#define RT_MAX_PARAMS 4
#define RT_MAX_RESP_HEADERS 16

/* The signed-in caller, filled by rt_dispatch() from the session cookie. */
struct caller {
	int64_t account_id;
	int64_t domain_id;
	enum role role;
	bool complete; /* false while the second factor is pending */
	bool totp_enabled;
	char address[321];
	char name[129];
	char lang[8];
	char csrf[65];
	char session_hash[65]; /* SHA-256 of the session id (hex): the id is never stored */
	bool via_token;        /* authenticated by an API token, not a session */
	int64_t token_id;
	char token_label[140]; /* "token:NAME" for audit records */
	char scopes[256];
};

struct app; /* the daemon's shared state: server/app.h */

struct req {
	struct arena *arena;
	struct app *app;
	enum rt_method method;
	const char *method_name;
	const char *path;
	const struct route *route;
	const char *param_names[RT_MAX_PARAMS];
	const char *param_values[RT_MAX_PARAMS];
	size_t nparams;
	const char *body; /* NUL-terminated copy; body_len bytes */
	size_t body_len;
	const char *ip;
	char id[17]; /* request id for logs */
	struct caller *caller; /* NULL when anonymous */
	/* filled by the HTTP glue */
	const char *(*get_header)(struct req *rq, const char *name);
	const char *(*get_query)(struct req *rq, const char *name);
	const char *(*get_cookie)(struct req *rq, const char *name);
	void *conn;
	/* details for the route's audit record, set by the handler (JSON object text) */
	const char *audit_detail;
	const char *audit_actor; /* overrides the caller's address (e.g. sign-in attempts) */
};

struct resp_header {
	const char *name, *value;
};

/* Streaming responses (Server-Sent Events): the handler sets resp.stream. The HTTP glue calls
 * stream(ctx, buf, max, waker) whenever the client can take more: it returns the bytes it put
 * in buf, 0 for "nothing now" (the connection is then parked without holding a thread, and
 * the stream calls rt_waker_wake(waker), from any thread, when it has more), or -1 to end the
 * response. stream_free(ctx) runs once when the response is done or the client went away. */
struct rt_waker;
typedef long rt_stream_fn(void *ctx, char *buf, size_t max, struct rt_waker *waker);
void rt_waker_wake(struct rt_waker *w);

struct resp {
	int status;
	const char *content_type;
	struct buf body;
	rt_stream_fn *stream;
	void *stream_ctx;
	void (*stream_free)(void *ctx);
	/* Loosenings of the one security policy, for the responses that need them: */
	bool csp_mail_images; /* the webmail page: img-src also https: data: blob: (mail images
				 the user chose to show; the sanitiser is the gate) */
	bool frame_self;      /* may be framed by our own pages (inline attachment preview) */
	const char *file_data; /* static body not owned by the response (cached asset) */
	size_t file_len;
	struct resp_header headers[RT_MAX_RESP_HEADERS];
	size_t nheaders;
};

const char *rt_header(struct req *rq, const char *name);
const char *rt_query(struct req *rq, const char *name);
const char *rt_cookie(struct req *rq, const char *name);
const char *rt_param(const struct req *rq, const char *name);
/* Add a response header; the strings must live as long as the request (arena or static). */
void rt_resp_header(struct resp *rs, const char *name, const char *value);
/* Set a text body (copied). */
void rt_resp_text(struct resp *rs, const char *content_type, const char *text, size_t len);

#endif
