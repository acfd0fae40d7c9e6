/* DATA (RFC 5321 4.1.1.4, dot-stuffing 4.5.2) and BDAT (RFC 3030 CHUNKING); the Received
 * header (RFC 5321 4.4); SPF/DKIM/DMARC on port 25; the queue submit and its 250.
 *
 * Bare CR / bare LF / NUL policy for message content: the bytes are read to the real end
 * (CRLF.CRLF for DATA, the LAST chunk for BDAT) and the whole message is then refused with
 * "554 5.6.0". It is never split and never ends early, so no smuggled second message can
 * exist (smtp_parse.c says which sequences end DATA: only CRLF "." CRLF). */
#include "smtp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mta/route.h"

/* ---- the message buffer ---- */

static void rfc5322_date(char *out, size_t outsz)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, outsz, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Put bytes in front of what will be queued: into the headroom, or by copying when the
 * headroom is used up. */
static void prepend(struct smtp_txn *t, const char *p, size_t n)
{
	struct smtp_msg *m = &t->msg;
	if (n <= t->start) {
		t->start -= n;
		memcpy(m->data + t->start, p, n);
		return;
	}
	size_t body = m->len - t->start;
	char *d = xmalloc(n + body + 1);
	memcpy(d, p, n);
	memcpy(d + n, m->data + t->start, body);
	free(m->data);
	m->data = d;
	m->base = 0;
	m->len = m->cap = n + body;
	t->start = 0;
}

/* RFC 5321 4.4: "from HELO (rDNS [ip]) by HOST with PROTO for <rcpt>; date". The name in
 * the parentheses is the client's forward-confirmed reverse name, or "unknown" (as Postfix
 * writes it; submission ports never look it up); the TLS comment is what Postfix writes.
 * Added once the whole message is in (smtp_data_authenticate), when that name is known. */
static void stamp(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	const struct smtp_limits *l = &s->srv->lim;
	char date[64];
	char *h;

	rfc5322_date(date, sizeof(date));
	h = arena_printf(s->cmd,
			 "Received: from %s (%s [%s%s])\r\n"
			 "\tby %s (Yizhan) with %s%s%s%s\r\n"
			 "\t%s%s%s%s; %s\r\n",
			 s->helo, s->rdns, strchr(s->ip, ':') ? "IPv6:" : "",
			 s->ip, l->hostname, smtp_proto_name(s), s->tls ? "\r\n\t(" : "",
			 s->tls ? (s->tls_info ? s->tls_info : "TLS") : "", s->tls ? ")" : "",
			 t->nrcpts == 1 ? "for <" : "", t->nrcpts == 1 ? t->rcpts[0].address : "",
			 t->nrcpts == 1 ? ">" : "", t->nrcpts == 1 ? "" : "(multiple recipients)",
			 date);
	prepend(t, h, strlen(h));
	t->stamped = true;
}

static void begin_message(struct smtp_session *s, bool dot)
{
	struct smtp_txn *t = s->txn;

	smtp_msg_init(&t->msg, SMTP_HEADROOM, smtp_max_message(s));
	t->start = SMTP_HEADROOM;
	smtp_dotread_init(&t->rd, dot);
}

/* ---- the end of a message ---- */

struct reply_job {
	struct netsvc_job job;
	char reply[96];
};

static void reply_done(struct netsvc_job *j)
{
	struct reply_job *r = (struct reply_job *)j;
	if (j->s && smtp_alive(j->s)) {
		smtp_reply(j->s, "%s", r->reply);
		smtp_resume(j->s);
	}
	free(r);
}

static void accepted_detail(struct smtp_session *s, const struct smtp_txn *t, struct buf *b)
{
	bool first = true;
	netsvc_json_kv(b, "qid", t->qid, &first);
	netsvc_json_kv(b, "sender", t->env.sender, &first);
	(void)!buf_puts(b, ",\"recipients\":[");
	for (size_t i = 0; i < t->nrcpts; i++) {
		if (i)
			(void)!buf_puts(b, ",");
		(void)!buf_json_str(b, t->rcpts[i].address);
	}
	(void)!buf_puts(b, "]");
	netsvc_json_kv(b, "client_ip", t->env.client_ip, &first);
	netsvc_json_kv(b, "helo", t->env.helo, &first);
	netsvc_json_kv(b, "user", t->env.auth_user, &first);
	netsvc_json_kv(b, "source", t->env.source == MTA_SRC_INBOUND ? "inbound" : "submission",
		     &first);
	netsvc_json_ki(b, "port", s->port, &first);
	netsvc_json_ki(b, "size", (int64_t)(t->msg.len - t->start), &first);
	netsvc_json_kb(b, "tls", s->tls, &first);
	if (t->have_verdict) {
		netsvc_json_kv(b, "spf", mailauth_result_name(t->verdict.spf), &first);
		netsvc_json_kv(b, "dkim", mailauth_result_name(t->verdict.dkim), &first);
		netsvc_json_kv(b, "dmarc", mailauth_result_name(t->verdict.dmarc), &first);
	}
	if (t->env.junk)
		netsvc_json_kv(b, "folder", "junk", &first);
	(void)!buf_puts(b, "}");
}

/* On the loop: the queue has the message (or refused it). */
static void submit_done(struct netsvc_job *j)
{
	struct smtp_txn *t = (struct smtp_txn *)j;
	struct smtp_session *s = j->s;
	struct reply_job *r = NULL;

	if (t->status == 0) {
		struct buf b;
		buf_init(&b, 0);
		accepted_detail(s, t, &b);
		log_info("smtp", "sess=%llu qid=%s from=<%s> rcpts=%zu size=%zu ms=%lld "
				 "msg=\"accepted\"",
			 (unsigned long long)s->id, t->qid, t->env.sender, t->nrcpts,
			 t->msg.len - t->start, (long long)(time_now_ms() - t->t0_ms));
		if (s->authed)
			netsvc_map_add(&s->srv->per_user, s->user, 1, time_now(), 3600);
		r = xcalloc(1, sizeof(*r));
		r->job.done = reply_done;
		snprintf(r->reply, sizeof(r->reply), "250 2.0.0 Ok: queued as %s", t->qid);
		if (!smtp_audit_wait(s->srv, t->env.auth_user ? t->env.auth_user : "-",
				     "mail.accepted", s->ip, "smtp", b.data, s, &r->job)) {
			smtp_reply(s, "%s", r->reply);
			free(r);
			r = NULL;
		}
		buf_release(&b);
	} else {
		log_error("smtp", "sess=%llu msg=\"queue refused the message\" err=\"%s\"",
			  (unsigned long long)s->id, t->err.msg);
		smtp_audit_refused(s, "queue error", NULL);
		smtp_reply(s, "451 4.3.0 Error: the message could not be queued; try again later");
	}
	s->txn = NULL;
	smtp_txn_free(t);
	smtp_txn_reset(s);
	if (r == NULL)
		smtp_resume(s);
}

/* On the committer thread. */
static void on_submitted(void *ctx, int status, const char *qid, const struct err *err)
{
	struct smtp_txn *t = ctx;
	struct smtp_session *s = t->job.s; /* kept by its pending count until submit_done */

	t->status = status;
	if (qid)
		memcpy(t->qid, qid, MTA_QID_LEN);
	if (status < 0 && err)
		t->err = *err;
	netsvc_complete(&s->srv->net, &t->job);
}

static void submit(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	t->job.done = submit_done;
	t->job.s = s;
	s->pending++;
	smtp_wait(s);
	/* group commit: the committer batches concurrent sessions into one flush */
	mta_queue_submit_async(s->srv->queue, &t->env, t->msg.data + t->start,
			       t->msg.len - t->start, on_submitted, t);
}

struct ma_job {
	struct netsvc_job job;
	struct mailauth *ma;
	struct smtp_txn *t;
	char ip[64], helo[256];
	int rc;
	struct err err;
};

static void ma_run(struct netsvc_job *j)
{
	struct ma_job *m = (struct ma_job *)j;
	struct smtp_txn *t = m->t;
	m->rc = mailauth_check(m->ma, m->ip, m->helo, t->env.sender, t->spf,
			       t->msg.data + t->start, t->msg.len - t->start, t->arena, &t->verdict,
			       &m->err);
}

static void ma_done(struct netsvc_job *j)
{
	struct ma_job *m = (struct ma_job *)j;
	struct smtp_session *s = j->s;
	struct smtp_txn *t = m->t;

	if (s == NULL || !smtp_alive(s) || s->txn != t) {
		free(m);
		return;
	}
	if (m->rc < 0) {
		log_warn("smtp", "sess=%llu msg=\"mail authentication failed\" err=\"%s\"",
			 (unsigned long long)s->id, m->err.msg);
	} else {
		t->have_verdict = true;
		if (t->verdict.action == MAILAUTH_REJECT) {
			/* the reason lives in the transaction's arena: reply before it goes */
			const char *why = t->verdict.reason ? t->verdict.reason : "policy";
			smtp_audit_refused(s, why, NULL);
			smtp_reply(s, "550 5.7.1 Message rejected: %s", why);
			smtp_txn_reset(s);
			free(m);
			smtp_resume(s);
			return;
		}
		if (t->verdict.action == MAILAUTH_QUARANTINE)
			t->env.junk = true;
		if (t->verdict.header)
			prepend(t, t->verdict.header, strlen(t->verdict.header));
	}
	free(m);
	submit(s);
}

static void end_of_message(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	size_t hops;

	s->mode = MODE_CMD;
	smtp_arm_timer(s);
	if (t->rd.flags) {
		smtp_audit_refused(s, (t->rd.flags & SMTP_RD_NUL) ? "NUL in message"
								  : "bare CR or LF in message",
				   NULL);
		smtp_txn_reset(s);
		smtp_fail(s, "554 5.6.0 Message refused: bare CR or LF, or NUL, in the message "
			     "(lines must end in CRLF)");
		return;
	}
	if (t->msg.over) {
		smtp_audit_refused(s, "message too big", NULL);
		smtp_txn_reset(s);
		smtp_reply(s, "552 5.3.4 Message too big (the limit is %zu bytes)",
			   smtp_max_message(s));
		return;
	}
	/* ours, not added yet, counts too */
	hops = mta_hops(t->msg.data + t->start, t->msg.len - t->start) + 1;
	if (hops > (size_t)s->srv->lim.max_hops) {
		smtp_audit_refused(s, "too many hops", NULL);
		smtp_txn_reset(s);
		smtp_reply(s, "554 5.4.6 Too many hops (%zu Received fields; the limit is %lld): a "
			      "mail loop?",
			   hops, (long long)s->srv->lim.max_hops);
		return;
	}
	smtp_wait(s);
	smtp_data_authenticate(s);
}

void smtp_data_authenticate(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;
	struct ma_job *m;

	if (s->rdns_pending) {
		s->rdns_wanted = true; /* rdns_done() calls again */
		return;
	}
	if (!t->stamped)
		stamp(s);
	if (s->kind != SMTP_MX || s->authed || s->srv->mailauth == NULL) {
		submit(s);
		return;
	}
	if (t->spf_pending) {
		t->spf_wanted = true; /* spf_done() calls again */
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->job.run = ma_run;
	m->job.done = ma_done;
	m->ma = s->srv->mailauth;
	m->t = t;
	snprintf(m->ip, sizeof(m->ip), "%s", s->ip);
	snprintf(m->helo, sizeof(m->helo), "%s", s->helo);
	smtp_job_start(s, &m->job);
}

/* ---- DATA ---- */

enum smtp_ret smtp_cmd_data(struct smtp_session *s, const char *arg, size_t len)
{
	if (len) {
		smtp_fail(s, "501 5.5.4 Syntax: DATA");
		return SMTP_NEXT;
	}
	if (s->txn->nrcpts == 0) {
		smtp_fail(s, "554 5.5.1 No valid recipients");
		return SMTP_NEXT;
	}
	begin_message(s, true);
	s->mode = MODE_DATA;
	smtp_arm_timer(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	return SMTP_NEXT;
}

/* ---- BDAT ---- */

static void chunk_done(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	s->mode = MODE_CMD;
	smtp_arm_timer(s);
	if (s->bdat_discard) {
		s->bdat_discard = false;
		if (s->bdat_reset)
			smtp_txn_reset(s);
		s->bdat_reset = false;
		smtp_fail(s, "%s", s->bdat_reply);
		return;
	}
	if (s->bdat_last) {
		smtp_dotread_finish(&t->rd, &t->msg);
		end_of_message(s);
		return;
	}
	s->state = ST_BDAT;
	smtp_reply(s, "250 2.0.0 Ok: %llu octets received",
		   (unsigned long long)t->bdat_total);
}

static void refuse_chunk(struct smtp_session *s, bool reset, const char *reply)
{
	s->bdat_discard = true;
	s->bdat_reset = reset;
	snprintf(s->bdat_reply, sizeof(s->bdat_reply), "%s", reply);
}

/* "BDAT" SP chunk-size [SP "LAST"] (RFC 3030 2). The chunk is always read, also when it is
 * refused: its bytes must never be taken for commands. */
enum smtp_ret smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t len)
{
	uint64_t size = 0;
	size_t i = 0;
	bool last = false;

	while (i < len && arg[i] >= '0' && arg[i] <= '9' && i < 18)
		size = size * 10 + (uint64_t)(arg[i++] - '0');
	if (i == 0 || (i < len && arg[i] != ' '))
		goto syntax;
	while (i < len && arg[i] == ' ')
		i++;
	if (i < len) {
		if (len - i != 4 || strncasecmp(arg + i, "LAST", 4) != 0)
			goto syntax;
		last = true;
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->bdat_discard = false;
	if (!(s->state & (ST_RCPT | ST_BDAT))) {
		refuse_chunk(s, false, s->state == ST_MAIL ? "554 5.5.1 No valid recipients"
							   : "503 5.5.1 Need MAIL and RCPT before BDAT");
	} else {
		if (s->state == ST_RCPT)
			begin_message(s, false);
		if (s->txn->bdat_total + size > smtp_max_message(s)) {
			char r[120];
			snprintf(r, sizeof(r), "552 5.3.4 Message too big (the limit is %zu bytes)",
				 smtp_max_message(s));
			smtp_audit_refused(s, "message too big", NULL);
			refuse_chunk(s, true, r);
		} else {
			s->txn->bdat_total += size;
			s->state = ST_BDAT;
		}
	}
	s->mode = MODE_BDAT;
	smtp_arm_timer(s);
	if (size == 0)
		chunk_done(s);
	return SMTP_NEXT;
syntax:
	/* without a size we cannot know where the chunk ends: do not guess */
	smtp_close(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing connection");
	return SMTP_STOP;
}

/* ---- bytes from the input buffer ---- */

enum smtp_ret smtp_data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct smtp_txn *t = s->txn;
	struct evbuffer_iovec v[16];
	size_t used_total = 0;
	int nv;

	if (s->mode == MODE_BDAT) {
		size_t avail = evbuffer_get_length(in);
		size_t take = avail < s->bdat_left ? avail : (size_t)s->bdat_left;
		nv = evbuffer_peek(in, (ev_ssize_t)take, NULL, v, 16);
		for (int k = 0; k < nv && used_total < take; k++) {
			size_t n = v[k].iov_len;
			size_t dummy;
			if (n > take - used_total)
				n = take - used_total;
			if (!s->bdat_discard)
				(void)smtp_dotread_feed(&t->rd, v[k].iov_base, n, &t->msg, &dummy);
			used_total += n;
		}
		evbuffer_drain(in, used_total);
		s->bdat_left -= used_total;
		if (s->bdat_left == 0)
			chunk_done(s);
		return SMTP_NEXT;
	}
	nv = evbuffer_peek(in, -1, NULL, v, 16);
	for (int k = 0; k < nv && k < 16; k++) {
		size_t used;
		int r = smtp_dotread_feed(&t->rd, v[k].iov_base, v[k].iov_len, &t->msg, &used);
		used_total += used;
		if (r == 1) {
			evbuffer_drain(in, used_total);
			end_of_message(s);
			return SMTP_NEXT;
		}
	}
	evbuffer_drain(in, used_total);
	return SMTP_NEXT;
}
