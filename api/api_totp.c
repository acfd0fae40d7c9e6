/* Second factor: TOTP (RFC 6238). Admin roles must enrol at first sign-in; users may. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "lib/codec.h"
#include "lib/log.h"
#include "lib/totp.h"
#include "lib/util.h"
#include "store/store.h"

static const char *code_from_body(struct req *rq, struct resp *rs)
{
	json_t *body, *code;
	if (api_body_object(rq, rs, &body) < 0)
		return NULL;
	code = json_object_get(body, "code");
	if (!json_is_string(code) || json_string_length(code) > 16) {
		api_error(rs, 400, "bad_request", "body must be {\"code\":\"123456\"}");
		return NULL;
	}
	return json_string_value(code);
}

/* Count a wrong code like a wrong password: 10^6 codes must not be guessable. Returns the
 * status written. */
static int code_refused(struct req *rq, struct resp *rs, const char *type)
{
	struct store_login_policy p = api_login_policy(&rq->app->cfg);
	struct err err;
	if (store_login_failed(rq->app->store, rq->caller->address, time_now_ms(), &p, &err) < 0)
		log_error("auth", "req=%s err=\"%s\"", rq->id, err.msg);
	api_audit(rq, type, NULL);
	return api_error(rs, 401, "totp_invalid", "the code is wrong, expired or already used");
}

static int throttled(struct req *rq, struct resp *rs)
{
	struct store_login_policy p = api_login_policy(&rq->app->cfg);
	int64_t retry;
	struct err err;
	if (store_login_allowed(rq->app->store, rq->caller->address, time_now_ms(), &p, &retry,
				&err) == 0)
		return 0;
	if (err.code != ERR_LIMIT)
		return api_error_from(rs, &err);
	rt_resp_header(rs, "Retry-After", arena_printf(rq->arena, "%lld", (long long)retry));
	return api_error(rs, 429, "rate_limited", "too many attempts; try again in %lld seconds",
			 (long long)retry);
}

static int session_done(struct req *rq, struct resp *rs)
{
	struct err err;
	if (store_session_complete(rq->app->store, rq->caller->session_hash, &err) < 0 ||
	    store_login_succeeded(rq->app->store, rq->caller->address, &err) < 0)
		return api_error_from(rs, &err);
	rq->caller->complete = true;
	rq->caller->totp_enabled = true;
	return api_json(rq, rs, 200, json_pack("{s:s,s:o}", "next", "done", "account",
					       api_me_object(rq, true)));
}

int api_session_totp(struct req *rq, struct resp *rs)
{
	struct store_account a;
	const char *code;
	int64_t step;
	struct err err;
	int st;

	if ((code = code_from_body(rq, rs)) == NULL)
		return rs->status;
	if (rq->caller->complete)
		return api_error(rs, 409, "conflict", "this session needs no second factor");
	if ((st = throttled(rq, rs)) != 0)
		return st;
	if (store_account_get_id(rq->app->store, rq->caller->account_id, &a, &err) < 0)
		return api_error_from(rs, &err);
	if (!a.totp_enabled)
		return api_error(rs, 409, "conflict", "no authenticator is enrolled; enrol first");
	if (!totp_check(a.totp_key, STORE_TOTP_KEY, code, time_now(), a.totp_last_step, &step) ||
	    store_account_totp_use(rq->app->store, a.id, step, &err) < 0)
		return code_refused(rq, rs, "auth.totp.fail");
	api_audit(rq, "auth.totp.ok", NULL);
	return session_done(rq, rs);
}

int api_totp_enrol(struct req *rq, struct resp *rs)
{
	struct store_account a;
	unsigned char key[STORE_TOTP_KEY];
	char secret[40];
	struct err err;
	json_t *body;

	if (api_body_object(rq, rs, &body) < 0)
		return rs->status;
	if (store_account_get_id(rq->app->store, rq->caller->account_id, &a, &err) < 0)
		return api_error_from(rs, &err);
	/* a half-signed-in session may not replace an authenticator it has not proven */
	if (a.totp_enabled && !rq->caller->complete)
		return api_error(rs, 403, "forbidden", "verify your current code first");
	rand_bytes(key, sizeof(key));
	if (store_session_set_pending_totp(rq->app->store, rq->caller->session_hash, key, &err) < 0)
		return api_error_from(rs, &err);
	b32_encode(key, sizeof(key), secret);
	return api_json(rq, rs, 200,
			json_pack("{s:s,s:s,s:i,s:i}", "secret", secret, "uri",
				  arena_printf(rq->arena,
					       "otpauth://totp/Yizhan:%s?secret=%s&issuer=Yizhan"
					       "&algorithm=SHA1&digits=%d&period=%d",
					       rq->caller->address, secret, TOTP_DIGITS, TOTP_STEP),
				  "digits", TOTP_DIGITS, "period", TOTP_STEP));
}

int api_totp_confirm(struct req *rq, struct resp *rs)
{
	struct store_session s;
	const char *code, *sid;
	int64_t step;
	struct err err;
	int st;

	if ((code = code_from_body(rq, rs)) == NULL)
		return rs->status;
	if ((st = throttled(rq, rs)) != 0)
		return st;
	sid = rt_cookie(rq, API_SESSION_COOKIE);
	if (sid == NULL || store_session_get(rq->app->store, sid, time_now(), INT64_MAX / 4,
					     INT64_MAX / 4, &s, &err) < 0)
		return api_error(rs, 401, "unauthorized", "session ended");
	if (!s.has_pending_totp)
		return api_error(rs, 409, "conflict", "start enrolment first");
	if (!totp_check(s.pending_totp, STORE_TOTP_KEY, code, time_now(), 0, &step))
		return code_refused(rq, rs, "auth.totp.fail");
	if (store_account_totp_set(rq->app->store, rq->caller->account_id, s.pending_totp,
				   &err) < 0 ||
	    store_account_totp_use(rq->app->store, rq->caller->account_id, step, &err) < 0)
		return api_error_from(rs, &err);
	api_audit(rq, "auth.totp.enrol", NULL);
	return session_done(rq, rs);
}
