/* Folders: list with counts, create (nested), rename/move, delete (contents go to Trash). */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "lib/util.h"
#include "store/mail.h"

static json_t *folder_json(struct req *rq, struct mailbox *mb, const struct mail_folder *f)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)f->id, "name",
			      f->name, "path", mail_folder_path(mb, f->id, rq->arena), "total",
			      (json_int_t)f->total, "unread", (json_int_t)f->unread, "size",
			      (json_int_t)f->bytes, "uidvalidity", (json_int_t)f->uidvalidity,
			      "uidnext", (json_int_t)f->uidnext);
	json_object_set_new(o, "parent", f->parent ? json_integer(f->parent) : json_null());
	json_object_set_new(o, "role",
			    f->special ? json_string(mail_special_name(f->special)) : json_null());
	return o;
}

int api_folder_list(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_folder *v;
	struct mail_usage u;
	size_t n;
	struct err err;
	json_t *items;

	if (api_mailbox(rq, rs, &mb) < 0)
		return rs->status;
	if (mail_folder_list(mb, rq->arena, &v, &n, &err) < 0 || mail_usage_get(mb, &u, &err) < 0)
		return api_error_from(rs, &err);
	items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, folder_json(rq, mb, &v[i]));
	return api_json(rq, rs, 200,
			json_pack("{s:o,s:{s:I,s:I,s:I}}", "items", items, "usage", "bytes",
				  (json_int_t)u.bytes, "messages", (json_int_t)u.messages, "quota",
				  (json_int_t)u.quota));
}

static int parent_field(struct resp *rs, json_t *body, int64_t *parent_r, bool *given)
{
	json_t *v = json_object_get(body, "parent");
	*given = v != NULL;
	*parent_r = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		api_error(rs, 400, "bad_request", "parent is a folder id or null");
		return -1;
	}
	*parent_r = json_integer_value(v);
	return 0;
}

int api_folder_create(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_folder f;
	struct err err;
	json_t *body, *name;
	int64_t parent, id;
	bool given;

	if (api_mailbox(rq, rs, &mb) < 0 || api_body_object(rq, rs, &body) < 0 ||
	    parent_field(rs, body, &parent, &given) < 0)
		return rs->status;
	name = json_object_get(body, "name");
	if (!json_is_string(name))
		return api_error(rs, 400, "bad_request", "name is the folder's name");
	if (mail_folder_create(mb, parent, json_string_value(name), &id, &err) < 0 ||
	    mail_folder_get(mb, id, rq->arena, &f, &err) < 0)
		return api_input_error(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:I,s:s}", "id", (json_int_t)id, "name", f.name));
	return api_json(rq, rs, 201, folder_json(rq, mb, &f));
}

static int folder_id(struct req *rq, struct resp *rs, int64_t *id_r)
{
	const char *v = rt_param(rq, "id");
	if (v == NULL || str_to_i64(v, 1, INT64_MAX, id_r) < 0) {
		api_error(rs, 404, "not_found", "no such folder");
		return -1;
	}
	return 0;
}

int api_folder_patch(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct mail_folder f;
	struct err err;
	json_t *body, *name;
	int64_t id, parent;
	bool given;

	if (api_mailbox(rq, rs, &mb) < 0 || folder_id(rq, rs, &id) < 0 ||
	    api_body_object(rq, rs, &body) < 0 || parent_field(rs, body, &parent, &given) < 0)
		return rs->status;
	name = json_object_get(body, "name");
	if (name && !json_is_string(name))
		return api_error(rs, 400, "bad_request", "name is a string");
	if (!name && !given)
		return api_error(rs, 400, "bad_request", "give a new name or parent");
	if (mail_folder_rename(mb, id, given ? parent : -1, name ? json_string_value(name) : NULL,
			       &err) < 0 ||
	    mail_folder_get(mb, id, rq->arena, &f, &err) < 0)
		return api_input_error(rs, &err);
	return api_json(rq, rs, 200, folder_json(rq, mb, &f));
}

int api_folder_delete(struct req *rq, struct resp *rs)
{
	struct mailbox *mb;
	struct err err;
	int64_t id;

	if (api_mailbox(rq, rs, &mb) < 0 || folder_id(rq, rs, &id) < 0)
		return rs->status;
	if (mail_folder_delete(mb, id, &err) < 0)
		return api_error_from(rs, &err);
	rq->audit_detail = api_dump(rq, json_pack("{s:I}", "id", (json_int_t)id));
	return api_json(rq, rs, 200, json_pack("{s:b}", "ok", 1));
}
