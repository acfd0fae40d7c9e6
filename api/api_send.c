/* Writing mail from the web app and OA systems: uploads, send (with undo), drafts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "lib/util.h"
#include "mta/mailauth.h"
#include "mta/route.h"
#include "store/mail.h"
#include "store/mime_build.h"
#include "store/queue.h"

#define UNDO_MAX_S 30
#define ATTACH_MAX 100

/* ---- uploads ---- */

static const char *url_decode(struct req *rq, const char *s)
{
	char *out = arena_alloc(rq->arena, strlen(s) + 1), *o = out;
	for (const char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], 0};
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end == '\0') {
				*o++ = (char)v;
				p += 2;
				continue;
			}
		}
		*o++ = *p == '+' ? ' ' : *p;
	}
	*o = '\0';
	return out;
}

int api_upload_create(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_upload u;
	struct err err;
	const char *name = rt_query(rq, "name"), *type = rt_header(rq, "Content-Type");

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if (rq->body_len == 0)
		return api_error(rs, 400, "bad_request", "the body is the file, and it is empty");
	/* libmicrohttpd hands the query already decoded; X-File-Name may carry %-encoding */
	if (name == NULL && rt_header(rq, "X-File-Name"))
		name = url_decode(rq, rt_header(rq, "X-File-Name"));
	if (name == NULL || *name == '\0' || strlen(name) > 255 || strchr(name, '/') ||
	    !api_valid_utf8(name))
		return api_error(rs, 400, "bad_request",
				 "name (query parameter or X-File-Name) is the file's name, 1 to 255"
				 " bytes of UTF-8 without '/'");
	if (type && (strlen(type) > 127 || strchr(type, '/') == NULL || strpbrk(type, "\r\n")))
		type = NULL;
	if (mail_upload_add(mb, rq->body, rq->body_len, name, type, &u, &err) < 0)
		return api_mail_error(rs, &err);
	return api_json(rq, rs, 201,
			json_pack("{s:s,s:s,s:s,s:I}", "id", u.id, "name", u.name, "type", u.type,
				  "size", (json_int_t)u.size));
}

/* ---- composing ---- */

struct compose {
	struct mime_compose c;
	struct mime_addr *to, *cc, *bcc;
	struct mime_attachment *att;
	const char **refs;
	int64_t draft_id;
	int delay;
};

/* "addr", "Name <addr>", or {"name","address"} into v. */
static int addr_item(struct req *rq, json_t *v, struct mime_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *lt = strrchr(s, '<'), *gt = strrchr(s, '>');
		if (lt && gt && gt > lt) {
			size_t nl = (size_t)(lt - s);
			while (nl > 0 && (s[nl - 1] == ' ' || s[nl - 1] == '"'))
				nl--;
			out->name = arena_strndup(rq->arena, s[0] == '"' ? s + 1 : s,
						  s[0] == '"' && nl ? nl - 1 : nl);
			out->address = arena_strndup(rq->arena, lt + 1, (size_t)(gt - lt - 1));
		} else {
			out->name = "";
			out->address = s;
		}
	} else if (json_is_object(v) && json_is_string(json_object_get(v, "address"))) {
		json_t *n = json_object_get(v, "name");
		out->address = json_string_value(json_object_get(v, "address"));
		out->name = json_is_string(n) ? json_string_value(n) : "";
	} else {
		return -1;
	}
	return 0;
}

static int addr_list(struct req *rq, struct resp *rs, json_t *body, const char *key,
		     struct mime_addr **v_r, size_t *n_r)
{
	json_t *a = json_object_get(body, key), *v;
	size_t i;

	*v_r = NULL;
	*n_r = 0;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 10000) {
		api_error(rs, 400, "bad_request", "%s is a list of addresses", key);
		return -1;
	}
	*v_r = arena_alloc(rq->arena, (json_array_size(a) + 1) * sizeof(**v_r));
	json_array_foreach(a, i, v) {
		if (addr_item(rq, v, &(*v_r)[i]) < 0 ||
		    mta_rcpt_classify(rq->app->store, (*v_r)[i].address) == MTA_RCPT_BAD) {
			api_error(rs, 400, "bad_request", "%s[%zu] is not a usable address", key, i);
			return -1;
		}
	}
	*n_r = json_array_size(a);
	return 0;
}

static const char *opt_str(json_t *body, const char *key)
{
	json_t *v = json_object_get(body, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Read the compose fields shared by send and drafts; writes the error and returns -1. */
static int read_compose(struct req *rq, struct resp *rs, struct mailbox *mb, json_t *body,
			bool sending, struct compose *cm)
{
	json_t *atts = json_object_get(body, "attachments"), *refs = json_object_get(body, "references"),
	       *v;
	const char *from = opt_str(body, "from");
	size_t i;

	memset(cm, 0, sizeof(*cm));
	cm->c.from.address = from ? from : rq->caller->address;
	cm->c.from.name = opt_str(body, "from_name") ? opt_str(body, "from_name") : rq->caller->name;
	if (from && !mta_may_send_as(rq->app->store, rq->caller->account_id, from)) {
		api_error(rs, 403, "forbidden", "you may not send as %.100s", from);
		return -1;
	}
	if (addr_list(rq, rs, body, "to", &cm->to, &cm->c.nto) < 0 ||
	    addr_list(rq, rs, body, "cc", &cm->cc, &cm->c.ncc) < 0 ||
	    addr_list(rq, rs, body, "bcc", &cm->bcc, &cm->c.nbcc) < 0)
		return -1;
	cm->c.to = cm->to;
	cm->c.cc = cm->cc;
	cm->c.bcc = cm->bcc;
	if (sending && cm->c.nto + cm->c.ncc + cm->c.nbcc == 0) {
		api_error(rs, 400, "bad_request", "give at least one recipient in to, cc or bcc");
		return -1;
	}
	cm->c.subject = opt_str(body, "subject");
	cm->c.text = opt_str(body, "text");
	cm->c.html = opt_str(body, "html");
	cm->c.in_reply_to = opt_str(body, "in_reply_to");
	if (refs && json_is_array(refs) && json_array_size(refs) <= 200) {
		cm->refs = arena_alloc(rq->arena, (json_array_size(refs) + 1) * sizeof(*cm->refs));
		json_array_foreach(refs, i, v) if (json_is_string(v)) cm->refs[cm->c.nreferences++] =
			json_string_value(v);
		cm->c.references = cm->refs;
	}
	if (atts && !json_is_array(atts)) {
		api_error(rs, 400, "bad_request", "attachments is a list of upload ids");
		return -1;
	}
	if (atts && json_array_size(atts) > ATTACH_MAX) {
		api_error(rs, 400, "bad_request", "at most %d attachments", ATTACH_MAX);
		return -1;
	}
	if (atts && json_array_size(atts)) {
		cm->att = arena_alloc(rq->arena, json_array_size(atts) * sizeof(*cm->att));
		json_array_foreach(atts, i, v) {
			struct mail_upload u;
			struct err err;
			char *data;
			size_t len;
			if (!json_is_string(v) ||
			    mail_upload_get(mb, json_string_value(v), rq->arena, &u, &err) < 0) {
				api_error(rs, 400, "bad_request", "attachments[%zu] is not an upload of yours",
					  i);
				return -1;
			}
			if (blob_get(mail_store_blobs(rq->app->mail), u.blob, (size_t)1 << 31, &data, &len,
				     &err) < 0) {
				api_error_from(rs, &err);
				return -1;
			}
			arena_defer(rq->arena, free, data);
			cm->att[i] = (struct mime_attachment){.name = u.name, .type = u.type, .data = data,
							      .len = len};
		}
		cm->c.attachments = cm->att;
		cm->c.nattachments = json_array_size(atts);
	}
	cm->c.host = rq->app->cfg.hostname;
	cm->c.tz_minutes = (int)rq->app->cfg.mail_tz_minutes;
	cm->c.user_agent = "Yizhan Webmail";
	if ((v = json_object_get(body, "draft_id")) && json_is_integer(v))
		cm->draft_id = json_integer_value(v);
	if ((v = json_object_get(body, "delay_seconds"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UNDO_MAX_S) {
			api_error(rs, 400, "bad_request", "delay_seconds is 0 to %d", UNDO_MAX_S);
			return -1;
		}
		cm->delay = (int)json_integer_value(v);
	}
	return 0;
}

/* Build, and DKIM-sign when the domain has a key. */
static int build(struct req *rq, struct resp *rs, struct compose *cm, bool sign, const char **msg_r,
		 size_t *len_r, const char **mid_r)
{
	struct err err;
	const char *domain = strrchr(cm->c.from.address, '@');

	if (mime_build(&cm->c, rq->arena, msg_r, len_r, mid_r, &err) < 0) {
		api_error_from(rs, &err);
		return -1;
	}
	if (sign && domain && rq->app->mailauth) {
		char selector[64], *key;
		const char *hdr;
		if (store_dkim_get(rq->app->store, domain + 1, selector, sizeof(selector), &key, NULL) ==
		    0) {
			int r = mailauth_dkim_sign(rq->app->mailauth, domain + 1, selector, key, *msg_r,
						   *len_r, rq->arena, &hdr, &err);
			free(key);
			if (r == 0) {
				*msg_r = arena_printf(rq->arena, "%s%.*s", hdr, (int)*len_r, *msg_r);
				*len_r = strlen(*msg_r);
			}
		}
	}
	return 0;
}

static int64_t special_folder(struct mailbox *mb, enum mail_special sp)
{
	int64_t id = 0;
	if (mail_folder_by_special(mb, sp, &id, NULL) < 0)
		return 0;
	return id;
}

int api_message_send(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct compose cm;
	struct store_limits lim;
	struct mta_envelope env = {.source = MTA_SRC_WEB};
	struct mta_rcpt *rcpts;
	struct mail_new sent = {0};
	struct mail_added added = {0};
	struct err err;
	json_t *body;
	const char *msg, *mid;
	size_t len, n = 0;
	int64_t recent = 0;
	char qid[MTA_QID_LEN];

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0 ||
	    read_compose(rq, rs, mb, body, true, &cm) < 0)
		return rs->status;
	if (store_account_limits(rq->app->store, rq->caller->account_id, &lim, &err) < 0)
		return api_error_from(rs, &err);
	if ((int64_t)(cm.c.nto + cm.c.ncc + cm.c.nbcc) > lim.max_recipients)
		return api_error(rs, 400, "bad_request", "at most %lld recipients per message",
				 (long long)lim.max_recipients);
	if (mta_queue_sent_since(rq->app->queue, rq->caller->account_id, time_now() - 3600, &recent,
				 &err) < 0)
		return api_error_from(rs, &err);
	if (recent >= rq->app->cfg.smtp_msgs_per_hour) {
		rt_resp_header(rs, "Retry-After", "600");
		return api_error(rs, 429, "rate_limited", "at most %lld messages an hour",
				 (long long)rq->app->cfg.smtp_msgs_per_hour);
	}
	if (build(rq, rs, &cm, true, &msg, &len, &mid) < 0)
		return rs->status;
	if ((int64_t)len > lim.max_message_bytes)
		return api_error(rs, 413, "too_large", "the message is %zu bytes; at most %lld", len,
				 (long long)lim.max_message_bytes);
	/* the copy in Sent first: if the quota refuses it, nothing was sent */
	sent.folder_id = special_folder(mb, MAIL_SENT);
	sent.raw = msg;
	sent.len = len;
	sent.flags = MAIL_SEEN;
	if (mail_insert(mb, &sent, &added, &err) < 0)
		return api_mail_error(rs, &err);
	rcpts = arena_alloc(rq->arena, (cm.c.nto + cm.c.ncc + cm.c.nbcc) * sizeof(*rcpts));
	for (size_t i = 0; i < cm.c.nto; i++)
		rcpts[n++].address = cm.to[i].address;
	for (size_t i = 0; i < cm.c.ncc; i++)
		rcpts[n++].address = cm.cc[i].address;
	for (size_t i = 0; i < cm.c.nbcc; i++)
		rcpts[n++].address = cm.bcc[i].address;
	env.sender = cm.c.from.address;
	env.rcpts = rcpts;
	env.nrcpts = n;
	env.client_ip = rq->ip;
	env.helo = "webmail";
	env.auth_user = rq->caller->address;
	env.account_id = rq->caller->account_id;
	env.not_before = cm.delay ? time_now() + cm.delay : 0;
	for (const unsigned char *p = (const unsigned char *)msg; p < (const unsigned char *)msg + len;
	     p++)
		if (*p >= 0x80) {
			env.eightbit = true;
			break;
		}
	{
		/* the trace header (RFC 5321 4.4) goes on the queued copy, not on Sent's */
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		msg = arena_printf(rq->arena,
				   "Received: from webmail ([%s])\r\n\tby %s with HTTPSA;\r\n\t%s\r\n%.*s",
				   rq->ip, rq->app->cfg.hostname, date, (int)len, msg);
		len = strlen(msg);
	}
	if (mta_queue_submit(rq->app->queue, &env, msg, len, qid, &err) < 0) {
		/* nothing left: the Sent copy goes too, and the draft stays */
		int64_t id = added.id;
		(void)!mail_expunge(mb, &id, 1, NULL);
		return api_error(rs, 503, "queue_unavailable", "the message could not be queued: %s",
				 err.msg);
	}
	if (cm.draft_id > 0)
		(void)!mail_expunge(mb, &cm.draft_id, 1, NULL);
	rq->audit_detail = api_dump(
	    rq, json_pack("{s:s,s:s,s:I,s:I}", "qid", qid, "from", cm.c.from.address, "recipients",
			  (json_int_t)n, "size", (json_int_t)len));
	return api_json(rq, rs, 202,
			json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)added.id, "qid", qid,
				  "message_id", mid, "undo_until",
				  cm.delay ? json_string(api_time(rq, env.not_before)) : json_null()));
}

/* POST /api/v1/outbox/{qid}/cancel {"message": SENT_ID}: undo send within the delay. The Sent
 * copy becomes a draft again. */
int api_send_cancel(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct err err;
	json_t *body, *v;
	const char *qid = rt_param(rq, "qid");
	int64_t id = 0, drafts;

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0)
		return rs->status;
	if ((v = json_object_get(body, "message")) && json_is_integer(v))
		id = json_integer_value(v);
	if (qid == NULL || strlen(qid) != MTA_QID_LEN - 1)
		return api_error(rs, 404, "not_found", "no such queued message");
	if (mta_queue_cancel(rq->app->queue, qid, rq->caller->account_id, &err) < 0)
		return err.code == ERR_EXISTS ? api_error(rs, 409, "too_late", "%s", err.msg)
					      : api_error_from(rs, &err);
	if (id > 0 && (drafts = special_folder(mb, MAIL_DRAFTS)) > 0) {
		struct mail_change c = {.set_flags = true, .flags_add = MAIL_DRAFT};
		if (mail_move(mb, &id, 1, drafts, NULL, &err) == 0)
			(void)!mail_update(mb, &id, 1, &c, NULL);
	}
	return api_json(rq, rs, 200, json_pack("{s:b,s:I}", "cancelled", 1, "draft", (json_int_t)id));
}

static int save_draft(struct req *rq, struct resp *rs, int64_t replaces)
{
	struct mailbox *mb;
	struct compose cm;
	struct mail_new m = {.flags = MAIL_DRAFT | MAIL_SEEN};
	struct mail_added added;
	struct err err;
	json_t *body;
	const char *msg, *mid;
	size_t len;

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0 ||
	    read_compose(rq, rs, mb, body, false, &cm) < 0)
		return rs->status;
	if (replaces > 0) {
		struct mail_msg old;
		if (mail_get(mb, replaces, rq->arena, &old, &err) < 0 || !(old.flags & MAIL_DRAFT))
			return api_error(rs, 404, "not_found", "no draft %lld", (long long)replaces);
		/* the same Message-ID across saves, so replies and threads do not change */
		if (*old.message_id)
			cm.c.message_id = old.message_id;
	}
	if (build(rq, rs, &cm, false, &msg, &len, &mid) < 0)
		return rs->status;
	m.folder_id = special_folder(mb, MAIL_DRAFTS);
	m.raw = msg;
	m.len = len;
	if (mail_insert(mb, &m, &added, &err) < 0)
		return api_mail_error(rs, &err);
	if (replaces > 0)
		(void)!mail_expunge(mb, &replaces, 1, NULL);
	return api_json(rq, rs, replaces > 0 ? 200 : 201,
			json_pack("{s:I,s:s}", "id", (json_int_t)added.id, "message_id", mid));
}

int api_draft_create(struct req *rq, struct resp *rs)
{
	return save_draft(rq, rs, 0);
}

int api_draft_update(struct req *rq, struct resp *rs)
{
	const char *p = rt_param(rq, "id");
	int64_t id;
	if (p == NULL || str_to_i64(p, 1, INT64_MAX, &id) < 0)
		return api_error(rs, 404, "not_found", "no such draft");
	return save_draft(rq, rs, id);
}
