/* api.h: the JSON API handlers (one file per resource) and the helpers the router uses to
 * answer errors. Every handler returns the HTTP status it set. */
#ifndef YZ_API_H
#define YZ_API_H

#include "lib/app.h"
#include "lib/err.h"
#include "lib/rt.h"

/* Shared sign-in state (pending SCRAM exchanges, per-IP throttle). */
struct api_state *api_state_new(void);
void api_state_free(struct api_state **sp);

/* The hub behind GET /api/v1/events: it subscribes to the mail store's event bus. */
struct mail_store;
struct api_events *api_events_new(struct mail_store *ms);
void api_events_free(struct api_events **hp);
int api_events(struct req *rq, struct resp *rs);

/* Write {"error":{"code":CODE,"message":...}} with status; returns status. */
int api_error(struct resp *rs, int status, const char *code, const char *fmt, ...)
	YZ_PRINTF(4, 5);
/* The one mapping from struct err to an HTTP status and error body. */
int api_error_from(struct resp *rs, const struct err *err);
int api_status_from_err(const struct err *err);

/* Append an audit record for the current request (actor = the caller or rq->audit_actor).
 * detail is JSON object text or NULL. Failures are logged, never returned: the request has
 * already happened. */
void api_audit(struct req *rq, const char *type, const char *detail);

/* The OpenAPI 3 document for a route table (built once, cached). */
int api_openapi(struct req *rq, struct resp *rs);
int api_healthz(struct req *rq, struct resp *rs);

int api_session_create(struct req *rq, struct resp *rs);
int api_session_delete(struct req *rq, struct resp *rs);
int api_session_totp(struct req *rq, struct resp *rs);
int api_totp_enrol(struct req *rq, struct resp *rs);
int api_totp_confirm(struct req *rq, struct resp *rs);
int api_me(struct req *rq, struct resp *rs);
int api_me_patch(struct req *rq, struct resp *rs);
int api_password_change(struct req *rq, struct resp *rs);
int api_sessions_list(struct req *rq, struct resp *rs);
int api_sessions_delete(struct req *rq, struct resp *rs);
int api_audit_list(struct req *rq, struct resp *rs);
int api_audit_export(struct req *rq, struct resp *rs);

int api_folder_list(struct req *rq, struct resp *rs);
int api_folder_create(struct req *rq, struct resp *rs);
int api_folder_patch(struct req *rq, struct resp *rs);
int api_folder_delete(struct req *rq, struct resp *rs);
int api_message_list(struct req *rq, struct resp *rs);
int api_message_get(struct req *rq, struct resp *rs);
int api_message_raw(struct req *rq, struct resp *rs);
int api_message_part(struct req *rq, struct resp *rs);
int api_message_patch(struct req *rq, struct resp *rs);
int api_message_delete(struct req *rq, struct resp *rs);
int api_message_upload(struct req *rq, struct resp *rs);
int api_search(struct req *rq, struct resp *rs);
int api_upload_create(struct req *rq, struct resp *rs);
int api_message_send(struct req *rq, struct resp *rs);
int api_send_cancel(struct req *rq, struct resp *rs);
int api_draft_create(struct req *rq, struct resp *rs);
int api_draft_update(struct req *rq, struct resp *rs);
int api_settings_get(struct req *rq, struct resp *rs);
int api_settings_put(struct req *rq, struct resp *rs);
int api_apppw_list(struct req *rq, struct resp *rs);
int api_apppw_create(struct req *rq, struct resp *rs);
int api_apppw_delete(struct req *rq, struct resp *rs);
int api_ui_state_get(struct req *rq, struct resp *rs);
int api_ui_state_put(struct req *rq, struct resp *rs);
int api_correspondents(struct req *rq, struct resp *rs);
int api_thread_get(struct req *rq, struct resp *rs);

#define API_SESSION_COOKIE "__Host-yz_session"

#endif
