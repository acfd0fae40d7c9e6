/* Sign-in and sign-out: HTTP SCRAM-SHA-256 (RFC 7804, over RFC 5802 / RFC 7677).
 *
 * Step 1: "Authorization: SCRAM-SHA-256 data=B64(client-first)" -> 401 with
 *         "WWW-Authenticate: SCRAM-SHA-256 sid=SID, data=B64(server-first)".
 * Step 2: "Authorization: SCRAM-SHA-256 sid=SID, data=B64(client-final)" -> 200 with
 *         "Authentication-Info: sid=SID, data=B64(server-final)" and a session cookie.
 * The password never reaches the server. Unknown addresses get a stable fake salt and fail
 * at step 2 exactly like a wrong password. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "api_state.h"
#include "lib/codec.h"
#include "lib/httpauth.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store.h"

#define SCHEME "SCRAM-SHA-256"

static int rate_limited(struct req *rq, struct resp *rs, int64_t retry)
{
	rt_resp_header(rs, "Retry-After", arena_printf(rq->arena, "%lld", (long long)retry));
	return api_error(rs, 429, "rate_limited",
			 "too many sign-in attempts; try again in %lld seconds", (long long)retry);
}

static int auth_failed(struct resp *rs)
{
	rt_resp_header(rs, "WWW-Authenticate", SCHEME " realm=\"yizhan\"");
	return api_error(rs, 401, "auth_failed", "wrong address or password");
}

/* Decode the base64 "data" parameter into a NUL-terminated message. */
static int decode_data(const struct httpauth *h, char *out, size_t outsz, size_t *len_r)
{
	const char *d = httpauth_param(h, "data");
	size_t dl;
	if (d == NULL || (dl = strlen(d)) == 0 || dl / 4 * 3 >= outsz)
		return -1;
	if (b64_decode(d, dl, (unsigned char *)out, len_r) < 0)
		return -1;
	out[*len_r] = '\0';
	return 0;
}

static int step_one_for(struct req *rq, struct resp *rs, const struct httpauth *h,
			const char *must_be);

static int step_one(struct req *rq, struct resp *rs, const struct httpauth *h)
{
	return step_one_for(rq, rs, h, NULL);
}

/* Step one of an exchange; with must_be, only for that address (re-authentication). */
static int step_one_for(struct req *rq, struct resp *rs, const struct httpauth *h,
			const char *must_be)
{
	struct app *app = rq->app;
	struct scram_pending p;
	struct store_account a;
	struct store_login_policy pol = api_login_policy(&app->cfg);
	char msg[SCRAM_MAX_MSG + 1], snonce_raw[18], snonce[B64_ENC_LEN(18)],
		sf_b64[B64_ENC_LEN(SCRAM_MAX_MSG)];
	size_t len;
	int64_t retry;
	struct err err;

	memset(&p, 0, sizeof(p));
	if (decode_data(h, msg, sizeof(msg), &len) < 0)
		return api_error(rs, 400, "bad_request", "data must be base64 of a SCRAM message");
	if (scram_client_first_parse(msg, len, &p.cf, &err) < 0)
		return api_error(rs, 400, "bad_request", "%s", err.msg);
	if (store_address_normalise(p.cf.user, p.address, sizeof(p.address), &err) < 0)
		snprintf(p.address, sizeof(p.address), "%s", p.cf.user);
	if (must_be && strcmp(p.address, must_be) != 0)
		return api_error(rs, 400, "bad_request", "prove the password of %s", must_be);
	if (store_login_allowed(app->store, p.address, time_now_ms(), &pol, &retry, &err) < 0)
		return err.code == ERR_LIMIT ? rate_limited(rq, rs, retry) : api_error_from(rs, &err);
	if (store_account_get(app->store, p.address, &a, &err) == 0 && !a.disabled) {
		p.account_id = a.id;
		p.secret = a.secret;
	} else {
		scram_secret_fake(app->secret, sizeof(app->secret), p.address,
				  (unsigned)app->cfg.scram_iterations, &p.secret);
	}
	rand_bytes(snonce_raw, sizeof(snonce_raw));
	b64_encode((unsigned char *)snonce_raw, sizeof(snonce_raw), snonce);
	if (scram_server_first(&p.cf, snonce, &p.secret, p.server_first, sizeof(p.server_first),
			       &err) < 0)
		return api_error(rs, 400, "bad_request", "%s", err.msg);
	rand_hex(p.sid, 16);
	if (api_pending_put(app->api, &p, &err) < 0)
		return rate_limited(rq, rs, 5);
	b64_encode((unsigned char *)p.server_first, strlen(p.server_first), sf_b64);
	rt_resp_header(rs, "WWW-Authenticate",
		       arena_printf(rq->arena, SCHEME " sid=%s, data=%s", p.sid, sf_b64));
	return api_error(rs, 401, "auth_continue", "SCRAM step one done; send the client proof");
}

static void login_failed(struct req *rq, const struct scram_pending *p, const char *why)
{
	struct store_login_policy pol = api_login_policy(&rq->app->cfg);
	struct err err;
	if (store_login_failed(rq->app->store, p->address, time_now_ms(), &pol, &err) < 0)
		log_error("auth", "req=%s err=\"%s\"", rq->id, err.msg);
	rq->audit_actor = p->address;
	api_audit(rq, "auth.login.fail",
		  api_dump(rq, json_pack("{s:s,s:s}", "method", "scram-sha-256", "reason", why)));
}

/* Cookie for a fresh session; the __Host- prefix pins it to this origin (RFC 6265bis). */
static const char *session_cookie(struct req *rq, const char *id)
{
	return arena_printf(rq->arena, API_SESSION_COOKIE "=%s; Path=/; Secure; HttpOnly; "
				       "SameSite=Strict", id);
}

static int finish_login(struct req *rq, struct resp *rs, const struct scram_pending *p,
			const char *server_sig)
{
	struct app *app = rq->app;
	struct store_account a;
	struct caller *c;
	char id[65], csrf[65], sfinal[64], sfinal_b64[B64_ENC_LEN(64)];
	const char *next, *old;
	struct err err;
	bool complete;

	if (store_account_get_id(app->store, p->account_id, &a, &err) < 0)
		return api_error_from(rs, &err);
	next = a.totp_enabled ? "totp" : role_is_admin(a.role) ? "totp_enrol" : "done";
	complete = strcmp(next, "done") == 0;
	/* rotate: a sign-in never reuses the session the browser may still hold */
	old = rt_cookie(rq, API_SESSION_COOKIE);
	if (old != NULL) {
		char old_hash[65];
		store_session_hash(old, old_hash);
		if (store_session_delete(app->store, old_hash, &err) < 0)
			return api_error_from(rs, &err);
	}
	/* the failure count is cleared only once the whole sign-in is proven: clearing it at
	 * the password step would let a password holder guess TOTP codes without limit */
	if (store_session_create(app->store, a.id, complete, rq->ip, api_client(rq), id, csrf,
				 &err) < 0 ||
	    (complete && store_login_succeeded(app->store, p->address, &err) < 0))
		return api_error_from(rs, &err);
	c = arena_alloc(rq->arena, sizeof(*c));
	c->account_id = a.id;
	c->domain_id = a.domain_id;
	c->role = a.role;
	c->totp_enabled = a.totp_enabled;
	c->complete = complete;
	snprintf(c->address, sizeof(c->address), "%s", a.address);
	snprintf(c->name, sizeof(c->name), "%s", a.name);
	snprintf(c->lang, sizeof(c->lang), "%s", a.lang);
	snprintf(c->csrf, sizeof(c->csrf), "%s", csrf);
	rq->caller = c;
	api_audit(rq, "auth.login.ok",
		  api_dump(rq, json_pack("{s:s,s:s}", "method", "scram-sha-256", "next", next)));
	snprintf(sfinal, sizeof(sfinal), "v=%s", server_sig);
	b64_encode((unsigned char *)sfinal, strlen(sfinal), sfinal_b64);
	rt_resp_header(rs, "Authentication-Info",
		       arena_printf(rq->arena, "sid=%s, data=%s", p->sid, sfinal_b64));
	rt_resp_header(rs, "Set-Cookie", session_cookie(rq, id));
	return api_json(rq, rs, 200,
			json_pack("{s:s,s:s,s:o}", "csrf_token", csrf, "next", next, "account",
				  api_me_object(rq, complete)));
}

static int step_two(struct req *rq, struct resp *rs, const struct httpauth *h, const char *sid)
{
	struct scram_pending p;
	struct scram_client_final cfin;
	char msg[SCRAM_MAX_MSG + 1], sig[B64_ENC_LEN(SCRAM_KEY_LEN)];
	size_t len;
	struct err err;

	if (api_pending_take(rq->app->api, sid, &p) < 0) {
		rt_resp_header(rs, "WWW-Authenticate", SCHEME " realm=\"yizhan\"");
		return api_error(rs, 401, "auth_failed",
				 "the sign-in exchange expired or is unknown; start again");
	}
	if (decode_data(h, msg, sizeof(msg), &len) < 0 ||
	    scram_client_final_parse(msg, len, p.cf.gs2_header, &cfin, &err) < 0) {
		login_failed(rq, &p, "malformed client-final");
		return api_error(rs, 400, "bad_request", "malformed SCRAM client-final message");
	}
	/* unknown accounts carry a random fake key: the proof cannot match */
	if (!scram_verify(&p.secret, &p.cf, p.server_first, &cfin, sig) || p.account_id == 0) {
		login_failed(rq, &p, p.account_id ? "bad proof" : "bad proof or unknown address");
		return auth_failed(rs);
	}
	return finish_login(rq, rs, &p, sig);
}

int api_session_create(struct req *rq, struct resp *rs)
{
	struct app *app = rq->app;
	const char *hdr = rt_header(rq, "Authorization");
	struct httpauth *h;
	const char *sid;
	int64_t retry;
	struct err err;

	if (hdr == NULL) {
		rt_resp_header(rs, "WWW-Authenticate", SCHEME " realm=\"yizhan\"");
		return api_error(rs, 401, "unauthorized",
				 "sign in with HTTP SCRAM-SHA-256 (RFC 7804)");
	}
	if (api_throttle_ip(app->api, rq->ip, app->cfg.login_ip_per_minute, &retry) < 0)
		return rate_limited(rq, rs, retry);
	h = arena_alloc(rq->arena, sizeof(*h));
	if (httpauth_parse(hdr, strlen(hdr), h, &err) < 0)
		return api_error(rs, 400, "bad_request", "Authorization: %s", err.msg);
	if (strcasecmp(h->scheme, SCHEME) != 0)
		return api_error(rs, 400, "bad_request", "only the SCRAM-SHA-256 scheme is offered");
	sid = httpauth_param(h, "sid");
	return sid ? step_two(rq, rs, h, sid) : step_one(rq, rs, h);
}

int api_session_delete(struct req *rq, struct resp *rs)
{
	struct err err;
	if (store_session_delete(rq->app->store, rq->caller->session_hash, &err) < 0)
		return api_error_from(rs, &err);
	api_audit(rq, "auth.logout", NULL);
	rt_resp_header(rs, "Set-Cookie",
		       API_SESSION_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
	rs->status = 204;
	return 204;
}

int api_me(struct req *rq, struct resp *rs)
{
	return api_json(rq, rs, 200, api_me_object(rq, rq->caller->complete));
}

/* POST /api/v1/password: a password change without the password crossing the wire. The
 * browser proves the current password with the same SCRAM exchange as sign-in (RFC 7804:
 * step one answers 401 auth_continue, step two carries the proof), and step two's body holds
 * the new SCRAM secret it derived itself: {"secret":"SCRAM-SHA-256$ITER:SALT$STORED:SERVER"}.
 * Every other session of the account ends. */
int api_password_change(struct req *rq, struct resp *rs)
{
	struct app *app = rq->app;
	const char *hdr = rt_header(rq, "Authorization"), *sid;
	struct scram_pending p;
	struct scram_client_final cfin;
	struct scram_secret sec;
	struct httpauth *h;
	json_t *body, *v;
	char msg[SCRAM_MAX_MSG + 1], sig[B64_ENC_LEN(SCRAM_KEY_LEN)];
	size_t len;
	int64_t retry;
	struct err err;

	if (hdr == NULL) {
		rt_resp_header(rs, "WWW-Authenticate", SCHEME " realm=\"yizhan\"");
		return api_error(rs, 401, "unauthorized", "prove the current password with SCRAM");
	}
	if (api_throttle_ip(app->api, rq->ip, app->cfg.login_ip_per_minute, &retry) < 0)
		return rate_limited(rq, rs, retry);
	h = arena_alloc(rq->arena, sizeof(*h));
	if (httpauth_parse(hdr, strlen(hdr), h, &err) < 0 || strcasecmp(h->scheme, SCHEME) != 0)
		return api_error(rs, 400, "bad_request", "Authorization: SCRAM-SHA-256 only");
	sid = httpauth_param(h, "sid");
	if (sid == NULL)
		return step_one_for(rq, rs, h, rq->caller->address);
	if (api_pending_take(app->api, sid, &p) < 0)
		return api_error(rs, 401, "auth_failed", "the exchange expired or is unknown");
	if (decode_data(h, msg, sizeof(msg), &len) < 0 ||
	    scram_client_final_parse(msg, len, p.cf.gs2_header, &cfin, &err) < 0)
		return api_error(rs, 400, "bad_request", "malformed SCRAM client-final message");
	if (p.account_id != rq->caller->account_id ||
	    !scram_verify(&p.secret, &p.cf, p.server_first, &cfin, sig)) {
		login_failed(rq, &p, "password change: bad proof");
		return auth_failed(rs);
	}
	if (api_body_object(rq, rs, &body) < 0)
		return rs->status;
	v = json_object_get(body, "secret");
	if (!json_is_string(v) || scram_secret_parse(json_string_value(v), &sec, &err) < 0)
		return api_error(rs, 400, "bad_request",
				 "secret is SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY");
	if (sec.iterations < (unsigned)app->cfg.scram_iterations || sec.salt_len < 16)
		return api_error(rs, 400, "bad_request",
				 "the new secret needs at least %lld iterations and a 16-byte salt",
				 (long long)app->cfg.scram_iterations);
	if (store_account_set_secret(app->store, rq->caller->account_id, &sec, &err) < 0 ||
	    store_session_revoke(app->store, rq->caller->account_id, NULL, rq->caller->session_hash,
				 &err) < 0)
		return api_error_from(rs, &err);
	api_audit(rq, "account.passwd", api_dump(rq, json_pack("{s:s}", "how", "web (SCRAM)")));
	return api_json(rq, rs, 200, json_pack("{s:b}", "changed", 1));
}

int api_me_patch(struct req *rq, struct resp *rs)
{
	json_t *body, *name, *lang;
	struct store_account a;
	struct err err;

	if (api_body_object(rq, rs, &body) < 0)
		return rs->status;
	name = json_object_get(body, "name");
	lang = json_object_get(body, "language");
	if ((name && !json_is_string(name)) || (lang && !json_is_string(lang)))
		return api_error(rs, 400, "bad_request", "name and language are strings");
	if (store_account_set_profile(rq->app->store, rq->caller->account_id,
				      name ? json_string_value(name) : NULL,
				      lang ? json_string_value(lang) : NULL, &err) < 0 ||
	    store_account_get_id(rq->app->store, rq->caller->account_id, &a, &err) < 0)
		return api_error_from(rs, &err);
	snprintf(rq->caller->name, sizeof(rq->caller->name), "%s", a.name);
	snprintf(rq->caller->lang, sizeof(rq->caller->lang), "%s", a.lang);
	return api_json(rq, rs, 200, api_me_object(rq, rq->caller->complete));
}

struct sess_ctx {
	json_t *items;
	const char *mine;
	struct req *rq;
};

static void collect_session(void *ctx, const char *hash, const char *ip, const char *client,
			    int64_t created, int64_t last_seen)
{
	struct sess_ctx *c = ctx;
	json_array_append_new(
	    c->items, json_pack("{s:s%,s:s,s:s,s:s,s:s,s:b}", "id", hash, (size_t)16, "ip", ip,
				"client", client, "created", api_time(c->rq, created), "last_seen",
				api_time(c->rq, last_seen), "current", strcmp(hash, c->mine) == 0));
}

int api_sessions_list(struct req *rq, struct resp *rs)
{
	struct sess_ctx c = {.items = json_array(), .mine = rq->caller->session_hash, .rq = rq};
	struct err err;
	if (store_session_list(rq->app->store, rq->caller->account_id, collect_session, &c, &err) < 0) {
		json_decref(c.items);
		return api_error_from(rs, &err);
	}
	return api_json(rq, rs, 200, json_pack("{s:o}", "items", c.items));
}

/* DELETE /api/v1/sessions/{id} signs one out; DELETE /api/v1/sessions every other. */
int api_sessions_delete(struct req *rq, struct resp *rs)
{
	const char *id = rt_param(rq, "id");
	struct err err;
	int n;

	if (id && strncmp(id, rq->caller->session_hash, 16) == 0)
		return api_error(rs, 400, "bad_request", "sign out this session with DELETE /api/v1/session");
	n = store_session_revoke(rq->app->store, rq->caller->account_id, id, rq->caller->session_hash,
				 &err);
	if (n < 0)
		return api_error_from(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:i}", "signed_out", n));
	return api_json(rq, rs, 200, json_pack("{s:i}", "signed_out", n));
}
