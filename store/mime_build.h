/* mime_build.h: composing a message with GMime 3 (the web app's and the API's send and draft):
 * RFC 2047 for non-ASCII header text, RFC 2231 for non-ASCII file names, text and HTML as
 * multipart/alternative, attachments as multipart/mixed, CRLF line ends. */
#ifndef YZ_MIME_BUILD_H
#define YZ_MIME_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"
#include "store/mime.h"

struct mime_attachment {
	const char *name; /* UTF-8 file name */
	const char *type; /* "application/pdf"; NULL: application/octet-stream */
	const char *data;
	size_t len;
};

struct mime_compose {
	struct mime_addr from;
	const struct mime_addr *to, *cc, *bcc; /* bcc is never written into the message */
	size_t nto, ncc, nbcc;
	const struct mime_addr *reply_to;
	const char *subject;
	const char *text; /* plain text body, or NULL */
	const char *html; /* HTML body, or NULL (then text only) */
	const struct mime_attachment *attachments;
	size_t nattachments;
	const char *in_reply_to; /* msg-id without <>, or NULL */
	const char **references;
	size_t nreferences;
	const char *message_id; /* without <>; NULL: made up from host */
	const char *host;       /* for a made-up Message-ID */
	int64_t date;           /* 0: now */
	int tz_minutes;         /* the Date header's zone (480: China) */
	const char *user_agent; /* X-Mailer, or NULL */
};

/* The whole message in the arena (*msg_r, *len_r); *message_id_r the id used (no <>). */
int mime_build(const struct mime_compose *c, struct arena *a, const char **msg_r, size_t *len_r,
	       const char **message_id_r, struct err *err) YZ_WUR;

#endif
