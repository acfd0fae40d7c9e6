/* /api/v1/openapi.json: generated from the route table, so it cannot drift from it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "lib/util.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *doc;
static const struct route *doc_routes;
static size_t doc_nroutes;

static const char *const method_names[] = {"get", "head", "post", "put", "delete", "patch",
					   "options"};

static json_t *error_response(const char *desc)
{
	return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", desc, "content",
			 "application/json", "schema", "$ref", "#/components/schemas/Error");
}

static json_t *operation(const struct route *r, const char *method)
{
	json_t *op = json_pack("{s:s,s:[s],s:{}}", "summary", r->summary ? r->summary : r->pattern,
			       "tags", r->tag ? r->tag : "misc", "responses");
	json_t *params = json_array(), *resp = json_object_get(op, "responses");
	char name[64];

	/* path parameters: {name} segments */
	for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
		const char *e = strchr(p, '}');
		size_t n = e ? (size_t)(e - p - 1) : 0;
		if (n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (name[n - 1] == '*')
			name[n - 1] = '\0';
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in",
						       "path", "required", 1, "schema", "type",
						       "string"));
	}
	if ((r->flags & RT_CSRF) && strcmp(method, "get") != 0 && strcmp(method, "head") != 0)
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name",
						       "X-CSRF-Token", "in", "header", "required", 1,
						       "schema", "type", "string"));
	if (json_array_size(params))
		json_object_set_new(op, "parameters", params);
	else
		json_decref(params);
	json_object_set_new(resp, "200", json_pack("{s:s}", "description", "success"));
	json_object_set_new(resp, "default", error_response("error"));
	if (r->flags & RT_AUTH) {
		json_t *sec = json_pack("[{s:[]}]", "session");
		if (r->scope)
			json_array_append_new(sec, json_pack("{s:[s]}", "token", r->scope));
		json_object_set_new(op, "security", sec);
		json_object_set_new(resp, "401", error_response("not signed in"));
	}
	if (r->roles)
		json_object_set_new(resp, "403", error_response("role not allowed"));
	if (r->max_body && strcmp(method, "get") != 0)
		json_object_set_new(op, "requestBody",
				    json_pack("{s:{s:{s:{s:s}}}}", "content",
					      (r->flags & RT_JSON) ? "application/json" : "*/*",
					      "schema", "type", "object"));
	if (r->audit)
		json_object_set_new(op, "x-audit", json_string(r->audit));
	if (r->roles) {
		json_t *roles = json_array();
		for (unsigned b = 1; b <= ROLE_AUDITOR; b <<= 1)
			if (r->roles & b)
				json_array_append_new(roles, json_string(role_name((enum role)b)));
		json_object_set_new(op, "x-roles", roles);
	}
	return op;
}

static void build(void)
{
	json_t *paths = json_object();
	json_t *root = json_pack(
		"{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:{s:{s:{s:s,s:s,s:s}},s:{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}}}}}",
		"openapi", "3.0.3", "info", "title", "Yizhan API", "version", "1",
		"description", "Generated from the server's route table.", "servers", "url", "/",
		"components", "securitySchemes", "session", "type", "apiKey", "in", "cookie", "name",
		API_SESSION_COOKIE, "schemas", "Error", "type", "object", "properties", "error",
		"type", "object", "properties", "code", "type", "string", "message", "type",
		"string");
	for (size_t i = 0; i < doc_nroutes; i++) {
		const struct route *r = &doc_routes[i];
		json_t *item;
		char *path = xstrdup(r->pattern);
		char *star = strstr(path, "*}");
		if (star)
			memmove(star, star + 1, strlen(star));
		item = json_object_get(paths, path);
		if (item == NULL) {
			item = json_object();
			json_object_set_new(paths, path, item);
		}
		for (unsigned m = 0; m < ARRAY_LEN(method_names); m++)
			if ((r->methods & (1u << m)) && m != 1 /* HEAD rides on GET */)
				json_object_set_new(item, method_names[m],
						    operation(r, method_names[m]));
		free(path);
	}
	json_object_set_new(json_object_get(json_object_get(root, "components"), "securitySchemes"),
			    "token", json_pack("{s:s,s:s}", "type", "http", "scheme", "bearer"));
	json_object_set_new(root, "paths", paths);
	doc = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
}

int api_openapi(struct req *rq, struct resp *rs)
{
	doc_routes = rq->app->routes;
	doc_nroutes = rq->app->nroutes;
	pthread_once(&once, build);
	if (doc == NULL)
		return api_error(rs, 500, "internal", "could not build the document");
	rs->status = 200;
	rs->content_type = "application/json; charset=utf-8";
	rs->file_data = doc;
	rs->file_len = strlen(doc);
	return 200;
}
