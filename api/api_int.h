/* api_int.h: helpers shared by the api_*.c files only (these may use Jansson). */
#ifndef YZ_API_INT_H
#define YZ_API_INT_H

#include <jansson.h>

#include "api.h"
#include "store/store.h"

/* Serialise obj as the response body (steals the reference). Returns status. */
int api_json(struct req *rq, struct resp *rs, int status, json_t *obj);
/* Parse the request body as a JSON object; on failure writes a 400 and returns -1. */
int api_body_object(struct req *rq, struct resp *rs, json_t **obj_r);
/* json_dumps into the request arena (compact); NULL obj gives NULL. Steals obj. */
char *api_dump(struct req *rq, json_t *obj);
/* The caller's account as the /api/v1/me object. */
json_t *api_me_object(struct req *rq, bool complete);
/* The sign-in throttle settings from the config. */
struct store_login_policy api_login_policy(const struct config *c);
/* Client description for audit records: User-Agent, truncated. */
const char *api_client(struct req *rq);

/* ---- mail (api_mail.c) ---- */
struct mailbox;
struct mail_msg;
/* The caller's mailbox (user role only), released with the request. Writes the error and
 * returns -1 on failure. */
int api_mailbox(struct req *rq, struct resp *rs, struct mailbox **mb_r);
void api_mailbox_release(struct mailbox *mb);
/* api_error_from, with size/MIME limits as 413 instead of 429. */
int api_mail_error(struct resp *rs, const struct err *err);
/* api_error_from, with limits on what was asked for as 400. */
int api_input_error(struct resp *rs, const struct err *err);
/* RFC 3339 UTC, in the request arena. */
const char *api_time(struct req *rq, int64_t t);
json_t *api_addr(const char *name, const char *address);
json_t *api_flags(unsigned flags);
/* The list item shape of a message. */
json_t *api_msg_item(struct req *rq, const struct mail_msg *m);
/* Is s valid UTF-8? */
bool api_valid_utf8(const char *s);
/* A colour name (English or Chinese) or 1..7 -> 1..7; -1 if unknown. */
int api_colour_parse(const char *s);

#endif
