/* DSNs (RFC 3464/6522) and vacation replies (RFC 3834). */
#include "dsn.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/codec.h"
#include "lib/utf8.h"
#include "lib/util.h"

static const char *rfc5322_date(int64_t t, struct arena *a)
{
	char buf[64];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	return arena_strdup(a, buf);
}

const char *dsn_header_encode(const char *text, struct arena *a)
{
	struct buf b;
	const char *r, *p = text ? text : "";
	bool ascii = true;

	for (const unsigned char *q = (const unsigned char *)p; *q; q++)
		if (*q >= 0x80 || *q < 0x20)
			ascii = false;
	if (ascii)
		return arena_strdup(a, p);
	buf_init(&b, 0);
	/* 45 bytes of UTF-8 make 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72 */
	while (*p) {
		size_t n = 0;
		char enc[B64_ENC_LEN(48)];
		while (p[n]) {
			size_t l = utf8_seq_len((const unsigned char *)p + n, strlen(p + n));
			if (l == 0)
				l = 1;
			if (n + l > 45)
				break;
			n += l;
		}
		b64_encode((const unsigned char *)p, n, enc);
		if ((b.len && buf_puts(&b, "\r\n ") < 0) || buf_printf(&b, "=?UTF-8?B?%s?=", enc) < 0)
			break;
		p += n;
	}
	r = arena_strdup(a, buf_cstr(&b) ? buf_cstr(&b) : "");
	buf_release(&b);
	return r;
}

static const char *boundary(struct arena *a)
{
	char hex[33];
	rand_hex(hex, 16);
	return arena_printf(a, "=_yizhan_%s", hex);
}

static const char *message_id(const char *host, struct arena *a)
{
	char hex[33];
	rand_hex(hex, 16);
	return arena_printf(a, "<%s@%s>", hex, host);
}

/* The header block of a message (up to the first empty line). */
static size_t header_len(const char *m, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 1;
		if (m[i] == '\n' && m[i + 1] == '\r' && i + 2 < len && m[i + 2] == '\n')
			return i + 1;
	}
	return len;
}

/* RFC 3463 status from an SMTP reply code and text ("550 5.1.1 ..." -> "5.1.1"). */
static const char *status_of(int code, const char *text, bool delay, struct arena *a)
{
	const char *p = text ? text : "";
	if (strlen(p) > 4 && p[3] == ' ')
		p += 4;
	if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
		size_t n = strspn(p, "0123456789.");
		if (n >= 5 && n < 12)
			return arena_strndup(a, p, n);
	}
	if (delay)
		return "4.0.0";
	return code >= 500 ? "5.0.0" : code >= 400 ? "4.4.7" : "5.0.0";
}

const char *dsn_build(const struct mta_dsn_job *job, const char *host, const char *orig,
		      size_t orig_len, int64_t now, struct arena *a, size_t *len_r)
{
	const char *bnd = boundary(a), *r, *subject;
	struct buf b;
	size_t hl = header_len(orig, orig_len), nfailed = 0;

	for (size_t i = 0; i < job->nrcpts; i++)
		if (job->rcpts[i].state != MTA_DELIVERED)
			nfailed++;
	subject = job->delay  ? "邮件延迟送达 / Delayed Mail (still trying)"
		  : nfailed   ? "邮件退信 / Undelivered Mail Returned to Sender"
			      : "邮件已送达 / Delivery Status Notification (Success)";

	buf_init(&b, 0);
	(void)!buf_printf(&b,
			  "From: =?UTF-8?B?6YKu5Lu257O757uf?= <MAILER-DAEMON@%s>\r\n" /* 邮件系统 */
			  "To: <%s>\r\n"
			  "Subject: %s\r\n"
			  "Date: %s\r\n"
			  "Message-ID: %s\r\n"
			  "Auto-Submitted: auto-replied\r\n"
			  "MIME-Version: 1.0\r\n"
			  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			  " boundary=\"%s\"\r\n"
			  "\r\n"
			  "--%s\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: 8bit\r\n"
			  "\r\n",
			  host, job->sender,
			  dsn_header_encode(subject, a),
			  rfc5322_date(now, a), message_id(host, a), bnd, bnd);
	if (job->delay)
		(void)!buf_puts(&b, "您的邮件尚未送达以下收件人，系统会继续尝试投递。\r\n"
				    "Your message has not yet been delivered to these recipients."
				    " We will keep trying.\r\n\r\n");
	else if (nfailed)
		(void)!buf_puts(&b, "您的邮件无法送达以下收件人。\r\n"
				    "Your message could not be delivered to these recipients.\r\n\r\n");
	else
		(void)!buf_puts(&b, "您的邮件已送达以下收件人。\r\n"
				    "Your message was delivered to these recipients.\r\n\r\n");
	for (size_t i = 0; i < job->nrcpts; i++)
		(void)!buf_printf(&b, "  <%s>: %s\r\n", job->rcpts[i].rcpt,
				  job->rcpts[i].text && *job->rcpts[i].text ? job->rcpts[i].text
									     : "(no reply)");
	/* the machine-readable part (RFC 3464 section 2) */
	(void)!buf_printf(&b,
			  "\r\n--%s\r\n"
			  "Content-Type: message/delivery-status\r\n"
			  "\r\n"
			  "Reporting-MTA: dns; %s\r\n",
			  bnd, host);
	if (job->envid && *job->envid)
		(void)!buf_printf(&b, "Original-Envelope-Id: %s\r\n", job->envid);
	(void)!buf_printf(&b, "Arrival-Date: %s\r\n", rfc5322_date(job->received, a));
	for (size_t i = 0; i < job->nrcpts; i++) {
		const struct mta_dsn_rcpt *rc = &job->rcpts[i];
		(void)!buf_printf(&b, "\r\n");
		if (rc->orcpt && *rc->orcpt)
			(void)!buf_printf(&b, "Original-Recipient: %s\r\n", rc->orcpt);
		(void)!buf_printf(&b,
				  "Final-Recipient: rfc822; %s\r\n"
				  "Action: %s\r\n"
				  "Status: %s\r\n",
				  rc->rcpt,
				  job->delay			   ? "delayed"
				  : rc->state == MTA_DELIVERED ? "delivered"
							       : "failed",
				  rc->state == MTA_DELIVERED ? "2.0.0"
							     : status_of(rc->code, rc->text, job->delay, a));
		if (rc->code >= 400 && rc->text && *rc->text)
			(void)!buf_printf(&b, "Diagnostic-Code: smtp; %s\r\n", rc->text);
		if (rc->last_try)
			(void)!buf_printf(&b, "Last-Attempt-Date: %s\r\n",
					  rfc5322_date(rc->last_try, a));
		if (job->delay)
			(void)!buf_printf(&b, "Will-Retry-Until: %s\r\n",
					  rfc5322_date(job->received + 5 * 86400, a));
	}
	/* the returned message: all of it with RET=FULL, else its header */
	(void)!buf_printf(&b, "\r\n--%s\r\nContent-Type: %s\r\n\r\n", bnd,
			  job->ret_full ? "message/rfc822" : "text/rfc822-headers");
	(void)!buf_append(&b, orig, job->ret_full ? orig_len : hl);
	if (b.len && b.data[b.len - 1] != '\n')
		(void)!buf_puts(&b, "\r\n");
	(void)!buf_printf(&b, "\r\n--%s--\r\n", bnd);
	*len_r = b.len;
	r = arena_strndup(a, buf_cstr(&b), b.len);
	buf_release(&b);
	return r;
}

const char *dsn_vacation(const char *from, const char *from_name, const char *to,
			 const char *subject, const char *body, const char *in_reply_to,
			 const char *orig_subject, const char *host, int64_t now, struct arena *a,
			 size_t *len_r)
{
	struct buf b;
	const char *r, *subj = subject && *subject
				       ? subject
				       : arena_printf(a, "自动回复 / Auto: %s", orig_subject ? orig_subject : "");

	buf_init(&b, 0);
	(void)!buf_printf(&b, "From: %s <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
			      "Message-ID: %s\r\n",
			  dsn_header_encode(from_name && *from_name ? from_name : from, a), from, to,
			  dsn_header_encode(subj, a), rfc5322_date(now, a), message_id(host, a));
	if (in_reply_to && *in_reply_to)
		(void)!buf_printf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", in_reply_to,
				  in_reply_to);
	/* RFC 3834 section 5: marked, so other responders do not answer it */
	(void)!buf_printf(&b, "Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\n"
			      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n",
			  body ? body : "");
	*len_r = b.len;
	r = arena_strndup(a, buf_cstr(&b), b.len);
	buf_release(&b);
	return r;
}
