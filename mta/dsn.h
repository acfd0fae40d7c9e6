/* dsn.h: messages the server writes itself: delivery status notifications (RFC 3464, in a
 * multipart/report of RFC 6522) and vacation replies (RFC 3834). */
#ifndef YZ_MTA_DSN_H
#define YZ_MTA_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "store/queue.h"

/* A DSN for job (a failure, or a delay warning when job->delay), to job->sender, from
 * MAILER-DAEMON@host. orig is the original message (its headers only unless RET=FULL).
 * Bilingual (Chinese first) human-readable part. Returns the message in the arena. */
const char *dsn_build(const struct mta_dsn_job *job, const char *host, const char *orig,
		      size_t orig_len, int64_t now, struct arena *a, size_t *len_r);

/* A vacation reply from `from` (the user) to `to`, answering a message with the given
 * Message-ID and subject. */
const char *dsn_vacation(const char *from, const char *from_name, const char *to,
			 const char *subject, const char *body, const char *in_reply_to,
			 const char *orig_subject, const char *host, int64_t now, struct arena *a,
			 size_t *len_r);

/* RFC 2047 B-encoding of UTF-8 text for a header (only when it is not plain ASCII), in words
 * of at most 75 characters split on character boundaries. */
const char *dsn_header_encode(const char *text, struct arena *a);

#endif
