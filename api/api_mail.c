/* Messages: list a folder, read one, its raw form and parts, batch changes, delete, upload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_int.h"
#include "lib/util.h"
#include "search/search.h"
#include "store/mail.h"

#define LIST_DEFAULT 50
#define LIST_MAX 500

int api_mailbox(struct req *rq, struct resp *rs, struct mailbox **mb_r)
{
	struct store_limits lim;
	struct err err;

	if (rq->caller->role != ROLE_USER) {
		api_error(rs, 403, "forbidden", "admin accounts have no mailbox");
		return -1;
	}
	if (store_account_limits(rq->app->store, rq->caller->account_id, &lim, &err) < 0 ||
	    mailbox_open(rq->app->mail, rq->caller->account_id, lim.quota_bytes, mb_r, &err) < 0) {
		api_error_from(rs, &err);
		return -1;
	}
	arena_defer(rq->arena, (void (*)(void *))api_mailbox_release, *mb_r);
	return 0;
}

void api_mailbox_release(struct mailbox *mb)
{
	mailbox_unref(&mb);
}

int api_mail_error(struct resp *rs, const struct err *err)
{
	/* a MIME or size limit is the request's fault, not a rate limit */
	if (err->code == ERR_LIMIT)
		return api_error(rs, 413, "too_large", "%s", err->msg);
	return api_error_from(rs, err);
}

int api_input_error(struct resp *rs, const struct err *err)
{
	/* a limit on what was asked for (folder depth, query length): a bad request */
	if (err->code == ERR_LIMIT)
		return api_error(rs, 400, "bad_request", "%s", err->msg);
	return api_error_from(rs, err);
}

const char *api_time(struct req *rq, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];
	if (gmtime_r(&tt, &tm) == NULL)
		return "1970-01-01T00:00:00Z";
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(rq->arena, buf);
}

json_t *api_addr(const char *name, const char *address)
{
	return json_pack("{s:s,s:s}", "name", name ? name : "", "address", address ? address : "");
}

static json_t *addr_array(const struct mail_addr *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, api_addr(v[i].name, v[i].address));
	return a;
}

json_t *api_flags(unsigned flags)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{MAIL_SEEN, "seen"},       {MAIL_ANSWERED, "answered"},
		     {MAIL_FLAGGED, "flagged"}, {MAIL_DELETED, "deleted"},
		     {MAIL_DRAFT, "draft"}};
	json_t *a = json_array();
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (flags & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

static json_t *keywords_array(const char *kw)
{
	json_t *a = json_array();
	for (const char *p = kw; p && *p;) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		while (*p == ' ')
			p++;
	}
	return a;
}

json_t *api_msg_item(struct req *rq, const struct mail_msg *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(m->id));
	json_object_set_new(o, "folder", json_integer(m->folder_id));
	json_object_set_new(o, "uid", json_integer(m->uid));
	json_object_set_new(o, "subject", json_string(m->subject));
	json_object_set_new(o, "from", api_addr(m->from.name, m->from.address));
	json_object_set_new(o, "to", addr_array(m->to, m->nto));
	json_object_set_new(o, "cc", addr_array(m->cc, m->ncc));
	json_object_set_new(o, "date", json_string(api_time(rq, m->internal_date)));
	json_object_set_new(o, "size", json_integer(m->size));
	json_object_set_new(o, "flags", api_flags(m->flags));
	json_object_set_new(o, "keywords", keywords_array(m->keywords));
	json_object_set_new(o, "colour", m->colour > 0 && m->colour <= MAIL_COLOUR_MAX
						 ? json_string(search_colours[m->colour])
						 : json_null());
	json_object_set_new(o, "pinned", json_boolean(m->pinned));
	json_object_set_new(o, "has_note", json_boolean(m->note && *m->note));
	json_object_set_new(o, "has_attachments", json_boolean(m->has_attachments));
	json_object_set_new(o, "snippet", json_string(m->snippet));
	json_object_set_new(o, "thread", json_integer(m->thread_id));
	/* json_string() refuses invalid UTF-8; the store only keeps valid UTF-8, so a NULL here
	 * would be a bug, but never send a broken object */
	return o;
}

static int id_param(struct req *rq, struct resp *rs, const char *name, int64_t *id_r)
{
	const char *v = rt_param(rq, name);
	if (v == NULL || str_to_i64(v, 1, INT64_MAX, id_r) < 0) {
		api_error(rs, 404, "not_found", "no such %s", name);
		return -1;
	}
	return 0;
}

int api_message_list(struct req *rq, struct resp *rs)
{
	struct mail_list_q q = {.limit = LIST_DEFAULT, .want_total = true};
	struct mailbox *mb;
	struct mail_msg *v;
	size_t n;
	const char *next, *s;
	int64_t total, x;
	struct err err;
	json_t *items, *o;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if ((s = rt_query(rq, "folder")) == NULL || str_to_i64(s, 1, INT64_MAX, &q.folder_id) < 0) {
		int64_t inbox;
		if (s != NULL && *s)
			return api_error(rs, 400, "bad_request", "folder is a folder id");
		if (mail_folder_by_special(mb, MAIL_INBOX, &inbox, &err) < 0)
			return api_error_from(rs, &err);
		q.folder_id = inbox;
	}
	if ((s = rt_query(rq, "limit")) && *s) {
		if (str_to_i64(s, 1, LIST_MAX, &x) < 0)
			return api_error(rs, 400, "bad_request", "limit is 1..%d", LIST_MAX);
		q.limit = (size_t)x;
	}
	if ((s = rt_query(rq, "sort")) && *s) {
		if (strcmp(s, "date") == 0)
			q.sort = MAIL_SORT_DATE;
		else if (strcmp(s, "from") == 0)
			q.sort = MAIL_SORT_FROM;
		else if (strcmp(s, "subject") == 0)
			q.sort = MAIL_SORT_SUBJECT;
		else if (strcmp(s, "size") == 0)
			q.sort = MAIL_SORT_SIZE;
		else
			return api_error(rs, 400, "bad_request", "sort is date, from, subject or size");
	}
	/* dates newest first, names A to Z, sizes biggest first, unless order says otherwise */
	q.ascending = q.sort == MAIL_SORT_FROM || q.sort == MAIL_SORT_SUBJECT;
	if ((s = rt_query(rq, "order")) && *s) {
		if (strcmp(s, "asc") != 0 && strcmp(s, "desc") != 0)
			return api_error(rs, 400, "bad_request", "order is asc or desc");
		q.ascending = strcmp(s, "asc") == 0;
	}
	if ((s = rt_query(rq, "filter")) && *s) {
		if (strcmp(s, "unread") == 0)
			q.filter = MAIL_F_UNREAD;
		else if (strcmp(s, "pinned") == 0)
			q.filter = MAIL_F_PINNED;
		else if (strcmp(s, "flagged") == 0)
			q.filter = MAIL_F_FLAGGED;
		else if (strcmp(s, "attachments") == 0)
			q.filter = MAIL_F_ATTACHMENT;
		else if (strcmp(s, "colour") == 0 || strncmp(s, "colour:", 7) == 0) {
			q.filter = MAIL_F_COLOUR;
			if (s[6] == ':') {
				q.colour = api_colour_parse(s + 7);
				if (q.colour <= 0)
					return api_error(rs, 400, "bad_request", "unknown colour '%.20s'",
							 s + 7);
			}
		} else
			return api_error(rs, 400, "bad_request",
					 "filter is unread, pinned, flagged, attachments, colour or"
					 " colour:NAME");
	}
	q.cursor = rt_query(rq, "cursor");
	if ((s = rt_query(rq, "at")) && *s) {
		if (str_to_i64(s, 0, 10000000, &x) < 0)
			return api_error(rs, 400, "bad_request", "at is a position in the folder, 0..");
		q.offset = (size_t)x;
	}
	if (mail_list(mb, &q, rq->arena, &v, &n, &next, &total, &err) < 0)
		return api_error_from(rs, &err);
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, api_msg_item(rq, &v[i]));
	o = json_pack("{s:o,s:o,s:I,s:I}", "items", items, "next", next ? json_string(next) : json_null(),
		      "total", (json_int_t)total, "folder", (json_int_t)q.folder_id);
	return api_json(rq, rs, 200, o);
}

int api_colour_parse(const char *s)
{
	static const char *const zh[] = {"", "红", "橙", "黄", "绿", "蓝", "紫", "灰"};
	int64_t n;
	if (str_to_i64(s, 1, MAIL_COLOUR_MAX, &n) == 0)
		return (int)n;
	for (int i = 1; i <= MAIL_COLOUR_MAX; i++)
		if (strcmp(s, search_colours[i]) == 0 || strcmp(s, zh[i]) == 0)
			return i;
	if (strcmp(s, "gray") == 0)
		return 7;
	return -1;
}

static json_t *addr_list_json(const struct mime_addr_list *l)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++) {
		json_t *o = api_addr(l->v[i].name, l->v[i].address);
		if (l->v[i].group)
			json_object_set_new(o, "group", json_string(l->v[i].group));
		json_array_append_new(a, o);
	}
	return a;
}

/* A JSON string from text that should be UTF-8; replaces the object with "" if not. */
static json_t *jstr(const char *s, size_t n)
{
	json_t *j = json_stringn(s ? s : "", s ? n : 0);
	return j ? j : json_string("");
}

int api_message_get(struct req *rq, struct resp *rs)
{
	const struct mail_store_opts *o = mail_store_options(rq->app->mail);
	struct mailbox *mb;
	struct mail_msg m;
	struct mime_msg *msg;
	struct err err;
	char *raw;
	size_t len;
	int64_t id;
	json_t *obj, *atts, *refs;

	if (api_mailbox(rq, rs, &mb) < 0 || id_param(rq, rs, "id", &id) < 0)
		return rs->status;
	if (mail_get(mb, id, rq->arena, &m, &err) < 0)
		return api_error_from(rs, &err);
	if (mail_raw(mb, &m, &raw, &len, &err) < 0)
		return api_error_from(rs, &err);
	arena_defer(rq->arena, free, raw);
	if (mime_parse(raw, len, &o->mime, rq->arena, &msg, &err) < 0)
		return api_mail_error(rs, &err);
	obj = api_msg_item(rq, &m);
	json_object_set_new(obj, "note", json_string(m.note));
	json_object_set_new(obj, "sent_date",
			    msg->date ? json_string(api_time(rq, msg->date)) : json_null());
	json_object_set_new(obj, "message_id", json_string(msg->message_id ? msg->message_id : ""));
	json_object_set_new(obj, "in_reply_to",
			    json_string(msg->in_reply_to ? msg->in_reply_to : ""));
	refs = json_array();
	for (size_t i = 0; i < msg->nreferences; i++)
		json_array_append_new(refs, jstr(msg->references[i], strlen(msg->references[i])));
	json_object_set_new(obj, "references", refs);
	json_object_set_new(obj, "from_all", addr_list_json(&msg->from));
	json_object_set_new(obj, "to", addr_list_json(&msg->to));
	json_object_set_new(obj, "cc", addr_list_json(&msg->cc));
	json_object_set_new(obj, "bcc", addr_list_json(&msg->bcc));
	json_object_set_new(obj, "reply_to", addr_list_json(&msg->reply_to));
	json_object_set_new(obj, "text", jstr(msg->text, msg->text_len));
	json_object_set_new(obj, "html", msg->html ? jstr(msg->html, msg->html_len) : json_null());
	atts = json_array();
	for (size_t i = 0; i < msg->nparts; i++) {
		const struct mime_part *p = &msg->parts[i];
		bool inline_part = !p->is_attachment && p->content_id && strcmp(p->type, "multipart") != 0 &&
				   !p->is_body;
		if (!p->is_attachment && !inline_part)
			continue;
		json_array_append_new(
		    atts, json_pack("{s:s,s:s,s:s,s:I,s:b,s:s}", "part",
				    *p->section ? p->section : "1", "name",
				    p->filename ? p->filename : "", "type",
				    arena_printf(rq->arena, "%s/%s", p->type, p->subtype), "size",
				    (json_int_t)p->decoded_size, "inline", inline_part, "content_id",
				    p->content_id ? p->content_id : ""));
	}
	json_object_set_new(obj, "attachments", atts);
	return api_json(rq, rs, 200, obj);
}

/* Content-Disposition with an RFC 6266 / RFC 8187 filename*. */
static const char *disposition(struct req *rq, const char *kind, const char *name)
{
	struct buf b;
	const char *r;
	static const char hex[] = "0123456789ABCDEF";
	char ascii[128];
	size_t k = 0;

	buf_init(&b, 4096);
	if (buf_printf(&b, "%s", kind) < 0)
		goto out;
	/* a plain fallback for old clients: ASCII letters, digits and a few marks only */
	for (const char *p = name; *p && k < sizeof(ascii) - 1; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_')
			ascii[k++] = (char)c;
	}
	ascii[k] = '\0';
	/* "季度报告.pdf" would leave ".pdf": a dotfile; name it download.pdf instead */
	if (buf_printf(&b, "; filename=\"%s%s\"; filename*=UTF-8''",
		       k == 0 || ascii[0] == '.' ? "download" : "", k == 0 ? "" : ascii) < 0)
		goto out;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("!#$&+-.^_`|~", *p)) {
			if (buf_append(&b, p, 1) < 0)
				goto out;
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			if (buf_append(&b, e, 3) < 0)
				goto out;
		}
	}
out:
	r = arena_strdup(rq->arena, buf_cstr(&b));
	buf_release(&b);
	return r;
}

int api_message_raw(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_msg m;
	struct err err;
	char *raw;
	size_t len;
	int64_t id;

	if (api_mailbox(rq, rs, &mb) < 0 || id_param(rq, rs, "id", &id) < 0)
		return rs->status;
	if (mail_get(mb, id, rq->arena, &m, &err) < 0 || mail_raw(mb, &m, &raw, &len, &err) < 0)
		return api_error_from(rs, &err);
	rs->status = 200;
	rt_resp_text(rs, "message/rfc822", raw, len);
	free(raw);
	rt_resp_header(rs, "Content-Disposition",
		       disposition(rq, "attachment",
				   arena_printf(rq->arena, "%s.eml",
						*m.subject ? m.subject : "message")));
	return 200;
}

/* Types a browser may show inline (the webmail's preview); everything else downloads. */
static bool previewable(const char *type, const char *subtype)
{
	if (strcmp(type, "image") == 0)
		return strcmp(subtype, "png") == 0 || strcmp(subtype, "jpeg") == 0 ||
		       strcmp(subtype, "gif") == 0 || strcmp(subtype, "webp") == 0;
	return strcmp(type, "application") == 0 && strcmp(subtype, "pdf") == 0;
}

int api_message_part(struct req *rq, struct resp *rs)
{
	const struct mail_store_opts *o = mail_store_options(rq->app->mail);
	const char *section = rt_param(rq, "part"), *data, *type, *inl = rt_query(rq, "inline");
	const struct mime_part *p = NULL;
	struct mailbox *mb;
	struct mime_msg *msg;
	struct mail_msg m;
	struct err err;
	char *raw;
	size_t len, dlen;
	int64_t id;

	if (api_mailbox(rq, rs, &mb) < 0 || id_param(rq, rs, "id", &id) < 0)
		return rs->status;
	if (mail_get(mb, id, rq->arena, &m, &err) < 0 || mail_raw(mb, &m, &raw, &len, &err) < 0)
		return api_error_from(rs, &err);
	arena_defer(rq->arena, free, raw);
	if (mime_parse(raw, len, &o->mime, rq->arena, &msg, &err) < 0)
		return api_mail_error(rs, &err);
	{
		int i = mime_part_find(msg, section);
		p = i >= 0 ? &msg->parts[i] : NULL;
	}
	if (p == NULL || strcmp(p->type, "multipart") == 0)
		return api_error(rs, 404, "not_found", "no part %.40s in message %lld", section,
				 (long long)id);
	if (mime_part_content(raw, len, msg, section, rq->arena, &data, &dlen, &err) < 0)
		return api_error_from(rs, &err);
	/* never text/html (or anything else a browser would run) from our origin: only the
	 * preview types keep their type, the rest is a download of opaque bytes */
	type = previewable(p->type, p->subtype)
		       ? arena_printf(rq->arena, "%s/%s", p->type, p->subtype)
		       : (strcmp(p->type, "text") == 0 && strcmp(p->subtype, "html") != 0
			      ? "text/plain; charset=utf-8"
			      : "application/octet-stream");
	if (strcmp(type, "text/plain; charset=utf-8") == 0) {
		data = mime_to_utf8(p->charset, data, dlen, rq->arena, &dlen);
	}
	rs->status = 200;
	rt_resp_text(rs, type, data, dlen);
	rs->frame_self = inl && strcmp(inl, "1") == 0 && previewable(p->type, p->subtype);
	rt_resp_header(rs, "Content-Disposition",
		       disposition(rq,
				   inl && strcmp(inl, "1") == 0 && previewable(p->type, p->subtype)
					   ? "inline"
					   : "attachment",
				   p->filename && *p->filename
					   ? p->filename
					   : arena_printf(rq->arena, "part-%s.%s", section, p->subtype)));
	return 200;
}

/* {"ids":[1,2,3]} or ?ids=1,2,3: at most 10000, into the arena. */
static int read_ids(struct req *rq, struct resp *rs, json_t *body, int64_t **ids_r, size_t *n_r)
{
	json_t *a = body ? json_object_get(body, "ids") : NULL, *v;
	const char *q = rt_query(rq, "ids");
	size_t i, n = 0;
	int64_t *ids;

	if (a && json_is_array(a)) {
		n = json_array_size(a);
		if (n == 0 || n > 10000)
			goto bad;
		ids = arena_alloc(rq->arena, n * sizeof(*ids));
		json_array_foreach(a, i, v) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0)
				goto bad;
			ids[i] = json_integer_value(v);
		}
	} else if (q && *q) {
		const char *p = q;
		ids = arena_alloc(rq->arena, (strlen(q) / 2 + 1) * sizeof(*ids));
		for (;;) {
			const char *comma = strchr(p, ',');
			char *t = arena_strndup(rq->arena, p, comma ? (size_t)(comma - p) : strlen(p));
			if (n >= 10000 || str_to_i64(t, 1, INT64_MAX, &ids[n]) < 0)
				goto bad; /* also an empty item: "1,,2" */
			n++;
			if (comma == NULL)
				break;
			p = comma + 1;
		}
		if (n == 0)
			goto bad;
	} else {
		goto bad;
	}
	*ids_r = ids;
	*n_r = n;
	return 0;
bad:
	api_error(rs, 400, "bad_request", "ids is a list of 1 to 10000 message ids");
	return -1;
}

static const char *keyword_list(struct req *rq, json_t *a, bool *ok)
{
	struct buf b;
	const char *r;
	size_t i;
	json_t *v;

	*ok = true;
	if (a == NULL)
		return NULL;
	if (!json_is_array(a)) {
		*ok = false;
		return NULL;
	}
	buf_init(&b, 16 * 1024);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || *json_string_value(v) == '\0' ||
		    strchr(json_string_value(v), ' ') ||
		    (b.len && buf_append(&b, " ", 1) < 0) || buf_puts(&b, json_string_value(v)) < 0) {
			*ok = false;
			break;
		}
	}
	r = arena_strdup(rq->arena, b.len ? buf_cstr(&b) : "");
	buf_release(&b);
	return r;
}

static int flag_field(json_t *body, const char *name, unsigned bit, struct mail_change *c,
		      bool *bad)
{
	json_t *v = json_object_get(body, name);
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		*bad = true;
		return 0;
	}
	c->set_flags = true;
	if (json_is_true(v))
		c->flags_add |= bit;
	else
		c->flags_remove |= bit;
	return 1;
}

int api_message_patch(struct req *rq, struct resp *rs)
{
	struct mail_change c = {0};
	struct mailbox *mb;
	struct err err;
	json_t *body, *v, *out = NULL;
	int64_t *ids, target;
	size_t n;
	bool bad = false, ok1 = true, ok2 = true;
	int actions = 0;

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0 ||
	    read_ids(rq, rs, body, &ids, &n) < 0)
		return rs->status;
	actions += flag_field(body, "seen", MAIL_SEEN, &c, &bad);
	actions += flag_field(body, "flagged", MAIL_FLAGGED, &c, &bad);
	actions += flag_field(body, "answered", MAIL_ANSWERED, &c, &bad);
	actions += flag_field(body, "draft", MAIL_DRAFT, &c, &bad);
	actions += flag_field(body, "deleted", MAIL_DELETED, &c, &bad);
	if ((v = json_object_get(body, "colour")) != NULL) {
		c.set_colour = true;
		actions++;
		if (json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == 0))
			c.colour = 0;
		else if (json_is_integer(v) && json_integer_value(v) > 0 &&
			 json_integer_value(v) <= MAIL_COLOUR_MAX)
			c.colour = (int)json_integer_value(v);
		else if (json_is_string(v) && api_colour_parse(json_string_value(v)) > 0)
			c.colour = api_colour_parse(json_string_value(v));
		else
			return api_error(rs, 400, "bad_request",
					 "colour is null, 1..7 or red, orange, yellow, green, blue,"
					 " purple, grey");
	}
	if ((v = json_object_get(body, "pinned")) != NULL) {
		if (!json_is_boolean(v))
			bad = true;
		c.set_pinned = true;
		c.pinned = json_is_true(v);
		actions++;
	}
	if ((v = json_object_get(body, "note")) != NULL) {
		if (!json_is_string(v) && !json_is_null(v))
			bad = true;
		c.set_note = true;
		c.note = json_is_string(v) ? json_string_value(v) : "";
		actions++;
	}
	c.keywords_add = keyword_list(rq, json_object_get(body, "keywords_add"), &ok1);
	c.keywords_remove = keyword_list(rq, json_object_get(body, "keywords_remove"), &ok2);
	if (!ok1 || !ok2)
		return api_error(rs, 400, "bad_request", "keywords_add/remove are lists of keywords");
	if (c.keywords_add || c.keywords_remove) {
		c.set_keywords = true;
		actions++;
	}
	if (bad)
		return api_error(rs, 400, "bad_request",
				 "seen, flagged, answered, draft, deleted and pinned are true or false;"
				 " note is a string");
	if (actions && mail_update(mb, ids, n, &c, &err) < 0)
		return api_mail_error(rs, &err);
	if ((v = json_object_get(body, "restore")) != NULL) {
		if (!json_is_true(v))
			return api_error(rs, 400, "bad_request", "restore is true");
		if (mail_untrash(mb, ids, n, &err) < 0)
			return api_mail_error(rs, &err);
		actions++;
	}
	if ((v = json_object_get(body, "move")) != NULL) {
		if (!json_is_integer(v) || (target = json_integer_value(v)) <= 0)
			return api_error(rs, 400, "bad_request", "move is a folder id");
		if (mail_move(mb, ids, n, target, NULL, &err) < 0)
			return api_mail_error(rs, &err);
		actions++;
	}
	if ((v = json_object_get(body, "copy")) != NULL) {
		int64_t *new_ids = arena_alloc(rq->arena, n * sizeof(*new_ids));
		if (!json_is_integer(v) || (target = json_integer_value(v)) <= 0)
			return api_error(rs, 400, "bad_request", "copy is a folder id");
		if (mail_copy(mb, ids, n, target, new_ids, NULL, &err) < 0)
			return api_mail_error(rs, &err);
		out = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(out, json_integer(new_ids[i]));
		actions++;
	}
	if (actions == 0) {
		json_decref(out);
		return api_error(rs, 400, "bad_request",
				 "nothing to do: give seen, flagged, colour, pinned, note,"
				 " keywords_add, keywords_remove, move, copy or restore");
	}
	rq->audit_detail = api_dump(rq, json_pack("{s:I}", "count", (json_int_t)n));
	return api_json(rq, rs, 200,
			json_pack("{s:b,s:I,s:o}", "ok", 1, "count", (json_int_t)n, "copies",
				  out ? out : json_null()));
}

int api_message_delete(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct err err;
	json_t *body = NULL;
	int64_t *ids;
	size_t n;

	if (api_mailbox(rq, rs, &mb) < 0 || (rq->body_len && api_body_object(rq, rs, &body) < 0) ||
	    read_ids(rq, rs, body, &ids, &n) < 0)
		return rs->status;
	if (mail_delete(mb, ids, n, &err) < 0)
		return api_mail_error(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:I}", "count", (json_int_t)n));
	return api_json(rq, rs, 200, json_pack("{s:b,s:I}", "ok", 1, "count", (json_int_t)n));
}

/* "type/subtype" exactly, parameters after ';' allowed, any case. */
static bool media_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* POST /api/v1/folders/{id}/messages with a message/rfc822 body: store one message. */
int api_message_upload(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_new m = {0};
	struct mail_added added;
	struct err err;
	const char *ct = rt_header(rq, "Content-Type");
	int64_t folder;

	if (api_mailbox(rq, rs, &mb) < 0 || id_param(rq, rs, "id", &folder) < 0)
		return rs->status;
	if (ct == NULL || (!media_type_is(ct, "message/rfc822") &&
			   !media_type_is(ct, "application/octet-stream")))
		return api_error(rs, 415, "unsupported_media_type",
				 "send the message as Content-Type: message/rfc822");
	if (rq->body_len == 0)
		return api_error(rs, 400, "bad_request", "the body is the message, and it is empty");
	m.folder_id = folder;
	m.raw = rq->body;
	m.len = rq->body_len;
	if (mail_insert(mb, &m, &added, &err) < 0)
		return api_mail_error(rs, &err);
	return api_json(rq, rs, 201,
			json_pack("{s:I,s:I}", "id", (json_int_t)added.id, "uid", (json_int_t)added.uid));
}
