#include "api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/util.h"
#include "store/audit.h"
#include "store/store.h"

int api_error(struct resp *rs, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	rs->status = status;
	rt_resp_text(rs, "application/json; charset=utf-8", s ? s : "{}", s ? strlen(s) : 2);
	free(s);
	return status;
}

int api_status_from_err(const struct err *err)
{
	switch (err->code) {
	case ERR_OK: return 200;
	case ERR_INVALID: return 400;
	case ERR_AUTH: return 401;
	case ERR_DENIED: return 403;
	case ERR_NOTFOUND: return 404;
	case ERR_EXISTS: return 409;
	case ERR_LIMIT: return 429;
	case ERR_QUOTA: return 507;
	case ERR_IO:
	case ERR_INTERNAL: return 500;
	}
	return 500;
}

int api_error_from(struct resp *rs, const struct err *err)
{
	static const char *const codes[] = {
		[ERR_OK] = "ok",          [ERR_INVALID] = "bad_request",
		[ERR_NOTFOUND] = "not_found", [ERR_EXISTS] = "conflict",
		[ERR_DENIED] = "forbidden", [ERR_LIMIT] = "rate_limited",
		[ERR_IO] = "internal",     [ERR_AUTH] = "unauthorized",
		[ERR_INTERNAL] = "internal", [ERR_QUOTA] = "over_quota",
	};
	int status = api_status_from_err(err);
	if (err->code == ERR_IO || err->code == ERR_INTERNAL) {
		log_error("api", "err=%s msg=\"%s\"", err_code_name(err->code), err->msg);
		return api_error(rs, status, "internal", "internal error");
	}
	return api_error(rs, status, codes[err->code], "%s", err->msg);
}

int api_json(struct req *rq, struct resp *rs, int status, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return api_error(rs, 500, "internal", "could not encode the response");
	rs->status = status;
	rt_resp_text(rs, "application/json; charset=utf-8", s, strlen(s));
	free(s);
	(void)rq;
	return status;
}

int api_body_object(struct req *rq, struct resp *rs, json_t **obj_r)
{
	json_error_t je;
	json_t *o;

	if (rq->body_len == 0) {
		*obj_r = json_object();
		arena_defer(rq->arena, (void (*)(void *))json_decref, *obj_r);
		return 0;
	}
	o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		api_error(rs, 400, "bad_request", "body must be a JSON object (%s)",
			  o ? "not an object" : je.text);
		return -1;
	}
	arena_defer(rq->arena, (void (*)(void *))json_decref, o);
	*obj_r = o;
	return 0;
}

char *api_dump(struct req *rq, json_t *obj)
{
	char *s, *r;
	if (obj == NULL)
		return NULL;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return NULL;
	r = arena_strdup(rq->arena, s);
	free(s);
	return r;
}

struct store_login_policy api_login_policy(const struct config *c)
{
	struct store_login_policy p = {
		.delay_after = c->login_fail_delay_after,
		.lock_after = c->login_lock_after,
		.lock_seconds = c->login_lock_seconds,
	};
	return p;
}

const char *api_client(struct req *rq)
{
	const char *ua = rt_header(rq, "User-Agent");
	if (ua == NULL)
		return "";
	return strlen(ua) > 200 ? arena_strndup(rq->arena, ua, 200) : ua;
}

void api_audit(struct req *rq, const char *type, const char *detail)
{
	struct err err;
	struct audit_rec r = {
		.actor = rq->audit_actor ? rq->audit_actor
					 : (rq->caller ? rq->caller->address : "-"),
		.type = type,
		.ip = rq->ip,
		.client = rq->caller && rq->caller->via_token ? rq->caller->token_label
							      : api_client(rq),
		.detail = detail,
	};
	if (store_audit_append(rq->app->audit, &r, &err) < 0)
		log_error("audit", "req=%s type=%s err=\"%s\"", rq->id, type, err.msg);
}

json_t *api_me_object(struct req *rq, bool complete)
{
	const struct caller *c = rq->caller;
	bool totp = c->totp_enabled;

	/* scram_iterations: what a new secret made in the browser (POST /api/v1/password) needs */
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:I}", "address", c->address, "name", c->name,
			 "role", role_name(c->role), "language", c->lang, "domain",
			 strrchr(c->address, '@') + 1, "totp_enabled", totp, "session_complete",
			 complete, "scram_iterations", (json_int_t)rq->app->cfg.scram_iterations);
}

bool api_valid_utf8(const char *s)
{
	return utf8_valid(s, strlen(s));
}

int api_healthz(struct req *rq, struct resp *rs)
{
	return api_json(rq, rs, 200, json_pack("{s:s}", "status", "ok"));
}
