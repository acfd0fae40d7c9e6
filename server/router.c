#include "router.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "lib/log.h"
#include "lib/util.h"
#include "metrics.h"
#include "store/store.h"

unsigned rt_method_parse(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = {
		{"GET", RT_GET},       {"HEAD", RT_HEAD},     {"POST", RT_POST},
		{"PUT", RT_PUT},       {"DELETE", RT_DELETE}, {"PATCH", RT_PATCH},
		{"OPTIONS", RT_OPTIONS},
	};
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].bit;
	return 0;
}

/* Walk pattern and path together; {name} takes one non-empty segment, {name*} the rest. */
static bool match(const char *pat, const char *path, struct req *rq)
{
	while (*pat && *path) {
		if (*pat == '{') {
			const char *close = strchr(pat, '}');
			bool rest = close[-1] == '*';
			const char *end = rest ? path + strlen(path) : strchrnul(path, '/');
			if (end == path)
				return false;
			if (rq && rq->nparams < RT_MAX_PARAMS) {
				size_t nl = (size_t)(close - pat - 1) - (rest ? 1 : 0);
				rq->param_names[rq->nparams] = arena_strndup(rq->arena, pat + 1, nl);
				rq->param_values[rq->nparams] =
					arena_strndup(rq->arena, path, (size_t)(end - path));
				rq->nparams++;
			}
			pat = close + 1;
			path = end;
		} else if (*pat++ != *path++) {
			return false;
		}
	}
	return *pat == '\0' && *path == '\0';
}

/* Dot segments and empty segments never name a resource. */
static bool path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 2048)
		return false;
	for (const char *s = p; (s = strchr(s, '/')) != NULL; s++) {
		if (s[1] == '/' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0')) ||
		    (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0')))
			return false;
	}
	return true;
}

const struct route *rt_match(const struct route *routes, size_t n, const char *path,
			     unsigned method, struct req *rq, unsigned *allowed_r)
{
	unsigned allowed = 0;
	/* HEAD is answered wherever GET is */
	unsigned want = method == RT_HEAD ? (RT_HEAD | RT_GET) : method;

	*allowed_r = 0;
	if (!path_ok(path))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!match(routes[i].pattern, path, NULL))
			continue;
		if (routes[i].methods & want) {
			if (rq) {
				rq->nparams = 0;
				match(routes[i].pattern, path, rq);
			}
			return &routes[i];
		}
		allowed |= routes[i].methods;
	}
	if (allowed & RT_GET)
		allowed |= RT_HEAD;
	*allowed_r = allowed;
	return NULL;
}

int rt_not_found(struct resp *rs)
{
	return api_error(rs, 404, "not_found", "no such resource");
}

static const char *allow_header(struct req *rq, unsigned allowed)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
					    "OPTIONS"};
	char *s = arena_alloc(rq->arena, 64);
	for (unsigned i = 0; i < ARRAY_LEN(names); i++) {
		if (!(allowed & (1u << i)))
			continue;
		if (*s)
			strcat(s, ", ");
		strcat(s, names[i]);
	}
	return s;
}

static void fill_caller(struct req *rq, const struct store_account *a);

int rt_resolve_caller(struct req *rq)
{
	struct app *app = rq->app;
	const char *id = rt_cookie(rq, API_SESSION_COOKIE);
	struct store_session s;
	struct store_account a;
	struct caller *c;
	struct err err;

	if (id == NULL)
		return 0;
	if (store_session_resolve(app->store, id, time_now(), app->cfg.session_idle_timeout,
				  app->cfg.session_absolute_timeout, &s, &a, &err) < 0) {
		if (err.code == ERR_DENIED) {
			rq->audit_actor = arena_strdup(rq->arena, a.address);
			api_audit(rq, "auth.session.expired", NULL);
			rq->audit_actor = NULL;
		} else if (err.code != ERR_NOTFOUND && err.code != ERR_DENIED) {
			return -1;
		}
		return 0;
	}
	if (a.disabled)
		return 0;
	fill_caller(rq, &a);
	c = rq->caller;
	c->complete = s.complete;
	snprintf(c->csrf, sizeof(c->csrf), "%s", s.csrf);
	memcpy(c->session_hash, s.hash, sizeof(c->session_hash));
	return 0;
}

static void fill_caller(struct req *rq, const struct store_account *a)
{
	struct caller *c = arena_alloc(rq->arena, sizeof(*c));
	c->account_id = a->id;
	c->domain_id = a->domain_id;
	c->role = a->role;
	c->totp_enabled = a->totp_enabled;
	snprintf(c->address, sizeof(c->address), "%s", a->address);
	snprintf(c->name, sizeof(c->name), "%s", a->name);
	snprintf(c->lang, sizeof(c->lang), "%s", a->lang);
	rq->caller = c;
}

/* "Authorization: Bearer yz_..." (RFC 6750). Returns 0 with rq->caller set, or the status
 * already written. */
static int resolve_token(struct req *rq, struct resp *rs, const char *token)
{
	struct store_token t;
	struct store_account a;
	struct err err;

	while (*token == ' ')
		token++;
	if (store_token_get(rq->app->store, token, &t, &err) < 0 ||
	    store_account_get_id(rq->app->store, t.account_id, &a, &err) < 0 || a.disabled) {
		api_audit(rq, "auth.token.fail", NULL);
		rt_resp_header(rs, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
		return api_error(rs, 401, "unauthorized", "unknown, revoked or disabled API token");
	}
	fill_caller(rq, &a);
	rq->caller->complete = true;
	rq->caller->via_token = true;
	rq->caller->token_id = t.id;
	snprintf(rq->caller->token_label, sizeof(rq->caller->token_label), "token:%s", t.name);
	snprintf(rq->caller->scopes, sizeof(rq->caller->scopes), "%s", t.scopes);
	return 0;
}

static int check_scope(struct req *rq, struct resp *rs)
{
	const char *want = rq->route->scope;
	if (want == NULL)
		return api_error(rs, 403, "forbidden", "this route does not accept API tokens");
	if (!store_scope_has(rq->caller->scopes, want)) {
		rt_resp_header(rs, "WWW-Authenticate",
			       arena_printf(rq->arena,
					    "Bearer error=\"insufficient_scope\", scope=\"%s\"", want));
		return api_error(rs, 403, "forbidden", "the token lacks scope %s", want);
	}
	return 0;
}

static int to_login(struct resp *rs)
{
	rs->status = 302;
	rt_resp_header(rs, "Location", "/login");
	rt_resp_text(rs, "text/plain; charset=utf-8", "", 0);
	return 302;
}

static bool is_json(const char *ct)
{
	size_t n = strlen("application/json");
	return ct && strncasecmp(ct, "application/json", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Policy checks in the order the flags promise. Returns 0 to run the handler. */
static int enforce(struct req *rq, struct resp *rs)
{
	const struct route *r = rq->route;
	bool writes = (rq->method & (RT_POST | RT_PUT | RT_PATCH | RT_DELETE)) != 0;

	if (rq->body_len > r->max_body)
		return api_error(rs, 413, "payload_too_large", "body larger than %zu bytes",
				 r->max_body);
	if ((r->flags & RT_JSON) && rq->body_len > 0 && !is_json(rt_header(rq, "Content-Type")))
		return api_error(rs, 415, "unsupported_media_type",
				 "send Content-Type: application/json");
	const char *authz;
	int st;

	if (!(r->flags & RT_AUTH))
		return 0;
	authz = rt_header(rq, "Authorization");
	if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		/* no ambient credential is involved, so no CSRF token is needed */
		if ((st = resolve_token(rq, rs, authz + 7)) != 0 || (st = check_scope(rq, rs)) != 0)
			return st;
		writes = false;
	} else if (rt_resolve_caller(rq) < 0)
		return api_error(rs, 500, "internal", "session lookup failed");
	if (rq->caller == NULL)
		return (r->flags & RT_PAGE) ? to_login(rs)
					    : api_error(rs, 401, "unauthorized", "sign in first");
	if (!rq->caller->complete && !(r->flags & RT_PARTIAL))
		return (r->flags & RT_PAGE)
			       ? to_login(rs)
			       : api_error(rs, 403, "forbidden", "finish the second sign-in step");
	if (r->roles && !(r->roles & rq->caller->role)) {
		api_audit(rq, "access.denied", NULL);
		if (r->flags & RT_PAGE) {
			rs->status = 302;
			rt_resp_header(rs, "Location", "/");
			rt_resp_text(rs, "text/plain; charset=utf-8", "", 0);
			return 302;
		}
		return api_error(rs, 403, "forbidden", "your role may not do this");
	}
	if ((r->flags & RT_CSRF) && writes) {
		const char *tok = rt_header(rq, "X-CSRF-Token");
		if (tok == NULL || strlen(tok) != 64 || !mem_eq_ct(tok, rq->caller->csrf, 64))
			return api_error(rs, 403, "csrf", "missing or wrong X-CSRF-Token header");
	}
	return 0;
}

int rt_dispatch(struct req *rq, struct resp *rs)
{
	struct app *app = rq->app;
	unsigned allowed = 0;
	int status;

	if (rq->route == NULL)
		rq->route = rt_match(app->routes, app->nroutes, rq->path, rq->method, rq, &allowed);
	if (rq->route == NULL) {
		if (allowed == 0)
			return rt_not_found(rs);
		rt_resp_header(rs, "Allow", allow_header(rq, allowed));
		return api_error(rs, 405, "method_not_allowed", "use one of: %s",
				 allow_header(rq, allowed));
	}
	if ((status = enforce(rq, rs)) != 0)
		return status;
	status = rq->route->fn(rq, rs);
	rs->status = status;
	if (rq->route->audit && status < 400)
		api_audit(rq, rq->route->audit, rq->audit_detail);
	return status;
}
