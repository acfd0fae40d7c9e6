/* A user's mail settings: forwarding, vacation reply, app passwords. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "lib/util.h"
#include "mta/route.h"
#include "store/mail.h"

static json_t *settings_json(struct req *rq, const struct store_mail_settings *ms)
{
	return json_pack("{s:{s:s?,s:b},s:{s:b,s:s,s:s,s:o,s:o,s:I},s:b}", "forwarding", "to",
			 *ms->forward_to ? ms->forward_to : NULL, "keep_copy", ms->forward_keep,
			 "vacation", "on", ms->vacation_on, "subject", ms->vacation_subject, "body",
			 ms->vacation_body, "start",
			 ms->vacation_start ? json_string(api_time(rq, ms->vacation_start)) : json_null(),
			 "end", ms->vacation_end ? json_string(api_time(rq, ms->vacation_end)) : json_null(),
			 "period_days", (json_int_t)(ms->vacation_period / 86400), "require_app_password",
			 ms->require_app_password);
}

int api_settings_get(struct req *rq, struct resp *rs)
{
	struct store_mail_settings ms;
	struct err err;
	if (rq->caller->role != ROLE_USER)
		return api_error(rs, 403, "forbidden", "admin accounts have no mailbox");
	if (store_mail_settings_get(rq->app->store, rq->caller->account_id, &ms, &err) < 0)
		return api_error_from(rs, &err);
	return api_json(rq, rs, 200, settings_json(rq, &ms));
}

/* "2024-05-01" or RFC 3339 or unix seconds; 0 for null. -1 if unreadable. */
static int64_t parse_time(struct req *rq, json_t *v)
{
	int y, mo, d, h = 0, mi = 0, s = 0;
	struct tm tm = {0};
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	if (!json_is_string(v))
		return -1;
	if (sscanf(json_string_value(v), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) < 3)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	/* a bare date is a day in the organisation's zone; a time is UTC (RFC 3339 'Z') */
	return (int64_t)timegm(&tm) -
	       (strchr(json_string_value(v), 'T') ? 0 : rq->app->cfg.mail_tz_minutes * 60);
}

int api_settings_put(struct req *rq, struct resp *rs)
{
	struct store_mail_settings ms, before;
	struct err err;
	json_t *body, *fw, *vac, *v;

	if (rq->caller->role != ROLE_USER)
		return api_error(rs, 403, "forbidden", "admin accounts have no mailbox");
	if (api_body_object(rq, rs, &body) < 0)
		return rs->status;
	if (store_mail_settings_get(rq->app->store, rq->caller->account_id, &ms, &err) < 0)
		return api_error_from(rs, &err);
	before = ms;
	if ((fw = json_object_get(body, "forwarding")) != NULL) {
		if (!json_is_object(fw))
			return api_error(rs, 400, "bad_request", "forwarding is an object");
		v = json_object_get(fw, "to");
		if (v && json_is_null(v)) {
			ms.forward_to[0] = '\0';
		} else if (v) {
			if (!json_is_string(v) || strlen(json_string_value(v)) > STORE_ADDR_MAX ||
			    mta_rcpt_classify(rq->app->store, json_string_value(v)) == MTA_RCPT_BAD)
				return api_error(rs, 400, "bad_request",
						 "forwarding.to is an address or null");
			snprintf(ms.forward_to, sizeof(ms.forward_to), "%s", json_string_value(v));
		}
		if ((v = json_object_get(fw, "keep_copy")) != NULL)
			ms.forward_keep = json_is_true(v);
	}
	if ((vac = json_object_get(body, "vacation")) != NULL) {
		if (!json_is_object(vac))
			return api_error(rs, 400, "bad_request", "vacation is an object");
		if ((v = json_object_get(vac, "on")) != NULL)
			ms.vacation_on = json_is_true(v);
		if ((v = json_object_get(vac, "subject")) != NULL) {
			if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(ms.vacation_subject))
				return api_error(rs, 400, "bad_request", "vacation.subject: at most 255 bytes");
			snprintf(ms.vacation_subject, sizeof(ms.vacation_subject), "%s",
				 json_string_value(v));
		}
		if ((v = json_object_get(vac, "body")) != NULL) {
			if (!json_is_string(v) || strlen(json_string_value(v)) >= sizeof(ms.vacation_body))
				return api_error(rs, 400, "bad_request", "vacation.body: at most 8 KiB");
			snprintf(ms.vacation_body, sizeof(ms.vacation_body), "%s", json_string_value(v));
		}
		if ((v = json_object_get(vac, "start")) != NULL &&
		    (ms.vacation_start = parse_time(rq, v)) < 0)
			return api_error(rs, 400, "bad_request", "vacation.start is a date or null");
		if ((v = json_object_get(vac, "end")) != NULL && (ms.vacation_end = parse_time(rq, v)) < 0)
			return api_error(rs, 400, "bad_request", "vacation.end is a date or null");
		if ((v = json_object_get(vac, "period_days")) != NULL) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 365)
				return api_error(rs, 400, "bad_request", "vacation.period_days is 1..365");
			ms.vacation_period = json_integer_value(v) * 86400;
		}
	}
	if (store_mail_settings_set(rq->app->store, rq->caller->account_id, &ms, &err) < 0)
		return api_error_from(rs, &err);
	/* turning forwarding on or pointing it elsewhere is what an attacker with a stolen
	 * session does first: it gets its own audit record */
	if (strcmp(before.forward_to, ms.forward_to) != 0)
		api_audit(rq, *ms.forward_to ? "mail.forwarding.on" : "mail.forwarding.off",
			  api_dump(rq, json_pack("{s:s,s:s}", "before", before.forward_to, "after",
						 ms.forward_to)));
	return api_json(rq, rs, 200, settings_json(rq, &ms));
}

static void collect_apppw(void *ctx, int64_t id, const char *name, int64_t created, int64_t used)
{
	json_array_append_new((json_t *)ctx, json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)id,
						       "name", name, "created", (json_int_t)created,
						       "last_used", (json_int_t)used));
}

int api_apppw_list(struct req *rq, struct resp *rs)
{
	json_t *items = json_array();
	struct err err;
	if (store_apppw_list(rq->app->store, rq->caller->account_id, collect_apppw, items, &err) < 0) {
		json_decref(items);
		return api_error_from(rs, &err);
	}
	return api_json(rq, rs, 200, json_pack("{s:o}", "items", items));
}

int api_apppw_create(struct req *rq, struct resp *rs)
{
	json_t *body, *name;
	char pw[33];
	int64_t id;
	struct err err;

	if (rq->caller->role != ROLE_USER)
		return api_error(rs, 403, "forbidden", "admin accounts have no mailbox");
	if (api_body_object(rq, rs, &body) < 0)
		return rs->status;
	name = json_object_get(body, "name");
	if (!json_is_string(name))
		return api_error(rs, 400, "bad_request", "name says which client or device it is for");
	if (store_apppw_add(rq->app->store, rq->caller->account_id, json_string_value(name), pw,
			    (unsigned)rq->app->cfg.scram_iterations, &id, &err) < 0)
		return api_error_from(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:I,s:s}", "id", (json_int_t)id, "name",
						  json_string_value(name)));
	/* the only time the password is shown */
	return api_json(rq, rs, 201, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "name",
					      json_string_value(name), "password", pw));
}

int api_apppw_delete(struct req *rq, struct resp *rs)
{
	const char *p = rt_param(rq, "id");
	struct err err;
	int64_t id;

	if (p == NULL || str_to_i64(p, 1, INT64_MAX, &id) < 0)
		return api_error(rs, 404, "not_found", "no such app password");
	if (store_apppw_revoke(rq->app->store, rq->caller->account_id, id, &err) < 0)
		return api_error_from(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:I}", "id", (json_int_t)id));
	return api_json(rq, rs, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- the web app's saved state: GET/PUT /api/v1/ui-state with ETag / If-Match ---- */

#define UI_KEY "webmail"

int api_ui_state_get(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct err err;
	const char *value;
	int64_t version;
	json_t *obj;
	json_error_t je;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if (mail_ui_get(mb, UI_KEY, rq->arena, &value, &version, &err) < 0) {
		if (err.code != ERR_NOTFOUND)
			return api_error_from(rs, &err);
		value = "{}";
		version = 0;
	}
	obj = json_loads(value, 0, &je);
	rt_resp_header(rs, "ETag", arena_printf(rq->arena, "\"%lld\"", (long long)version));
	return api_json(rq, rs, 200,
			json_pack("{s:o,s:I}", "state", obj ? obj : json_object(), "version",
				  (json_int_t)version));
}

int api_ui_state_put(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct err err;
	json_t *body, *state;
	const char *im = rt_header(rq, "If-Match");
	int64_t if_version = 0, version;
	char *text;

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0)
		return rs->status;
	state = json_object_get(body, "state");
	if (!json_is_object(state))
		return api_error(rs, 400, "bad_request", "state is an object");
	if (im && *im && strcmp(im, "*") != 0) {
		char digits[24];
		size_t n = strlen(im);
		if (n < 3 || n > 22 || im[0] != '"' || im[n - 1] != '"')
			return api_error(rs, 400, "bad_request", "If-Match is an ETag from GET");
		memcpy(digits, im + 1, n - 2);
		digits[n - 2] = '\0';
		if (str_to_i64(digits, 0, INT64_MAX, &if_version) < 0)
			return api_error(rs, 400, "bad_request", "If-Match is an ETag from GET");
	}
	text = api_dump(rq, json_incref(state));
	if (text == NULL)
		return api_error(rs, 400, "bad_request", "state could not be stored");
	if (mail_ui_put(mb, UI_KEY, text, if_version, &version, &err) < 0) {
		if (err.code == ERR_EXISTS)
			return api_error(rs, 412, "precondition_failed", "%s", err.msg);
		return api_input_error(rs, &err);
	}
	rt_resp_header(rs, "ETag", arena_printf(rq->arena, "\"%lld\"", (long long)version));
	return api_json(rq, rs, 200, json_pack("{s:I}", "version", (json_int_t)version));
}

int api_correspondents(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_correspondent *v;
	struct err err;
	const char *q = rt_query(rq, "q"), *l = rt_query(rq, "limit");
	int64_t limit = 10;
	size_t n;
	json_t *items;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if (l && *l && str_to_i64(l, 1, 50, &limit) < 0)
		return api_error(rs, 400, "bad_request", "limit is 1..50");
	if (q && strlen(q) > 100)
		return api_error(rs, 400, "bad_request", "q is at most 100 bytes");
	if (mail_correspondents(mb, q ? q : "", (size_t)limit, rq->arena, &v, &n, &err) < 0)
		return api_error_from(rs, &err);
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = api_addr(v[i].name, v[i].address);
		json_object_set_new(o, "last", json_string(api_time(rq, v[i].last)));
		json_array_append_new(items, o);
	}
	return api_json(rq, rs, 200, json_pack("{s:o}", "items", items));
}
