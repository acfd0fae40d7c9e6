/* The audit trail, for the auditor role only (the route table enforces the role). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "lib/util.h"
#include "store/audit.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 500
#define EXPORT_MAX 100000

/* Filters shared by list and export; writes a 400 and returns -1 on bad input. */
static int read_filter(struct req *rq, struct resp *rs, struct audit_filter *f, int max_limit)
{
	const char *v;
	int64_t n;

	memset(f, 0, sizeof(*f));
	f->limit = max_limit == PAGE_MAX ? PAGE_DEFAULT : max_limit;
	if ((v = rt_query(rq, "from")) && *v) {
		if (str_to_i64(v, 0, INT64_MAX / 1000, &n) < 0)
			goto bad;
		f->from_ms = n * 1000;
	}
	if ((v = rt_query(rq, "to")) && *v) {
		if (str_to_i64(v, 0, INT64_MAX / 1000, &n) < 0)
			goto bad;
		f->to_ms = n * 1000 + 999;
	}
	if ((v = rt_query(rq, "limit")) && *v) {
		if (str_to_i64(v, 1, max_limit, &n) < 0)
			goto bad;
		f->limit = (int)n;
	}
	if ((v = rt_query(rq, "cursor")) && *v) {
		if (str_to_i64(v, 1, INT64_MAX, &n) < 0)
			goto bad;
		f->before_id = n;
	}
	if ((v = rt_query(rq, "actor")) && *v)
		f->actor = v;
	if ((v = rt_query(rq, "type")) && *v)
		f->type = v;
	return 0;
bad:
	api_error(rs, 400, "bad_request",
		  "from/to are unix seconds, limit is 1..%d, cursor is a record id", max_limit);
	return -1;
}

static json_t *rec_json(const struct audit_rec *r)
{
	json_error_t je;
	json_t *detail = json_loads(r->detail ? r->detail : "{}", 0, &je), *o;
	o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)r->id, "ts",
		      (json_int_t)(r->ts_ms / 1000), "actor", r->actor, "type", r->type, "ip", r->ip,
		      "client", r->client, "detail", detail ? detail : json_object(), "hash",
		      r->hash);
	/* records written before sanitising existed may hold bad UTF-8: show, never drop */
	return o ? o : json_pack("{s:I,s:I,s:s,s:s}", "id", (json_int_t)r->id, "ts",
				 (json_int_t)(r->ts_ms / 1000), "type", "unreadable", "hash", r->hash);
}

struct collect {
	json_t *items;
	int64_t last_id;
	int n;
};

static int collect(void *ctx, const struct audit_rec *r)
{
	struct collect *c = ctx;
	json_array_append_new(c->items, rec_json(r));
	c->last_id = r->id;
	c->n++;
	return 0;
}

int api_audit_list(struct req *rq, struct resp *rs)
{
	struct audit_filter f;
	struct collect c = {.items = json_array()};
	struct err err;
	json_t *next;

	arena_defer(rq->arena, (void (*)(void *))json_decref, c.items);
	if (read_filter(rq, rs, &f, PAGE_MAX) < 0)
		return rs->status;
	f.limit++; /* one extra row tells whether another page exists */
	if (store_audit_query(rq->app->audit, &f, collect, &c, &err) < 0)
		return api_error_from(rs, &err);
	next = json_null();
	if (c.n == f.limit) {
		json_array_remove(c.items, json_array_size(c.items) - 1);
		json_t *last = json_array_get(c.items, json_array_size(c.items) - 1);
		json_decref(next);
		next = json_sprintf("%lld", (long long)json_integer_value(json_object_get(last, "id")));
	}
	return api_json(rq, rs, 200, json_pack("{s:O,s:o}", "items", c.items, "next_cursor", next));
}

/* CSV field per RFC 4180: quoted, inner quotes doubled. Cells starting with = + - @ get a
 * leading apostrophe so spreadsheet programs do not run them as formulas. */
static int csv_field(struct buf *b, const char *s, bool last)
{
	int rc = buf_puts(b, "\"");
	if (s && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
		rc |= buf_puts(b, "'");
	for (; s && *s; s++)
		rc |= *s == '"' ? buf_puts(b, "\"\"") : buf_append(b, s, 1);
	return rc | buf_puts(b, last ? "\"\r\n" : "\",");
}

struct export {
	struct buf *b;
	bool json;
	bool first;
	int failed;
};

static int export_row(void *ctx, const struct audit_rec *r)
{
	struct export *e = ctx;
	if (e->json) {
		char *s;
		json_t *o = rec_json(r);
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		e->failed |= buf_puts(e->b, e->first ? "\n" : ",\n") | buf_puts(e->b, s ? s : "{}");
		free(s);
	} else {
		char id[24], ts[40];
		time_t t = (time_t)(r->ts_ms / 1000);
		struct tm tm;
		snprintf(id, sizeof(id), "%lld", (long long)r->id);
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		e->failed |= csv_field(e->b, id, false) | csv_field(e->b, ts, false) |
			     csv_field(e->b, r->actor, false) | csv_field(e->b, r->type, false) |
			     csv_field(e->b, r->ip, false) | csv_field(e->b, r->client, false) |
			     csv_field(e->b, r->detail, false) | csv_field(e->b, r->hash, true);
	}
	e->first = false;
	return e->failed;
}

int api_audit_export(struct req *rq, struct resp *rs)
{
	const char *fmt = rt_query(rq, "format");
	struct audit_filter f;
	struct export e = {.b = &rs->body, .first = true};
	char day[16];
	time_t now = time(NULL);
	struct tm tm;
	struct err err;

	if (fmt == NULL || (strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0))
		return api_error(rs, 400, "bad_request", "format must be csv or json");
	if (read_filter(rq, rs, &f, EXPORT_MAX) < 0)
		return rs->status;
	if (rt_query(rq, "limit") == NULL)
		f.limit = EXPORT_MAX;
	e.json = strcmp(fmt, "json") == 0;
	buf_reset(&rs->body);
	if (e.json)
		e.failed |= buf_puts(&rs->body, "[");
	else
		e.failed |= buf_puts(&rs->body, "\xEF\xBB\xBFid,time,actor,type,ip,client,detail,hash\r\n");
	if (store_audit_query(rq->app->audit, &f, export_row, &e, &err) < 0)
		return api_error_from(rs, &err);
	if (e.json)
		e.failed |= buf_puts(&rs->body, "\n]\n");
	if (e.failed)
		return api_error(rs, 413, "payload_too_large", "export too large; narrow the filter");
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	rs->status = 200;
	rs->content_type = e.json ? "application/json; charset=utf-8" : "text/csv; charset=utf-8";
	rt_resp_header(rs, "Content-Disposition",
		       arena_printf(rq->arena, "attachment; filename=\"audit-%s.%s\"", day, fmt));
	api_audit(rq, "audit.export",
		  api_dump(rq, json_pack("{s:s,s:s?,s:s?}", "format", fmt, "actor", f.actor,
					 "type", f.type)));
	return 200;
}
