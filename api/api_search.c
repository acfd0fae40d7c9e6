/* Search and threads. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "lib/util.h"
#include "search/index.h"
#include "search/search.h"
#include "store/mail.h"

/* The excerpt as [{"text":..., "match":bool}, ...]: the browser shows it without parsing HTML. */
static json_t *highlight_json(const char *h)
{
	json_t *a = json_array();
	bool match = false;
	const char *p = h;

	while (p && *p) {
		size_t n = strcspn(p, SEARCH_HL_START SEARCH_HL_END);
		if (n) {
			json_t *t = json_stringn(p, n);
			if (t)
				json_array_append_new(a, json_pack("{s:o,s:b}", "text", t, "match", match));
		}
		p += n;
		if (*p == SEARCH_HL_START[0])
			match = true;
		else if (*p == SEARCH_HL_END[0])
			match = false;
		if (*p)
			p++;
	}
	return a;
}

int api_search(struct req *rq, struct resp *rs)
{
	struct mail_search_q q = {.limit = 50};
	struct mail_search_hit *v;
	struct mailbox *mb;
	struct err err;
	const char *s, *next;
	int64_t total, x;
	size_t n;
	json_t *items;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	q.q = rt_query(rq, "q");
	if (q.q == NULL)
		q.q = "";
	if ((s = rt_query(rq, "folder")) && *s) {
		if (str_to_i64(s, 1, INT64_MAX, &q.folder_id) < 0)
			return api_error(rs, 400, "bad_request", "folder is a folder id");
	}
	if ((s = rt_query(rq, "limit")) && *s) {
		if (str_to_i64(s, 1, 200, &x) < 0)
			return api_error(rs, 400, "bad_request", "limit is 1..200");
		q.limit = (size_t)x;
	}
	s = rt_query(rq, "order");
	q.by_date = s == NULL || strcmp(s, "relevance") != 0;
	q.cursor = rt_query(rq, "cursor");
	if (search_mail(mb, &q, rq->arena, &v, &n, &next, &total, &err) < 0)
		return api_input_error(rs, &err);
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = api_msg_item(rq, &v[i].msg);
		json_object_set_new(o, "highlight", highlight_json(v[i].highlight));
		json_array_append_new(items, o);
	}
	return api_json(rq, rs, 200,
			json_pack("{s:o,s:o,s:I,s:I}", "items", items, "next",
				  next ? json_string(next) : json_null(), "total", (json_int_t)total,
				  "pending", (json_int_t)mail_index_pending(mb)));
}

int api_thread_get(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_msg *v;
	struct err err;
	const char *p = rt_param(rq, "id");
	int64_t id;
	size_t n;
	json_t *items;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if (p == NULL || str_to_i64(p, 1, INT64_MAX, &id) < 0)
		return api_error(rs, 404, "not_found", "no such thread");
	if (mail_thread(mb, id, rq->arena, &v, &n, &err) < 0)
		return api_error_from(rs, &err);
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, api_msg_item(rq, &v[i]));
	return api_json(rq, rs, 200, json_pack("{s:I,s:o}", "id", (json_int_t)id, "items", items));
}
