/* The delivery workers (deliver.h). Each worker takes a batch of due recipients, delivers the
 * local ones into their mailboxes and the remote ones in one SMTP transaction per message
 * and destination, and records each outcome in the queue. One of them also sends the DSNs
 * the queue owes and cleans finished messages out of it. */
#include "deliver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/dsn.h"
#include "mta/mailauth.h"
#include "mta/route.h"
#include "mta/smtpc.h"
#include "store/audit.h"
#include "store/blob.h"
#include "store/mail.h"
#include "store/mime.h"
#include "store/queue.h"
#include "store/store.h"

#define BATCH 32
/* A worker that ran out of work and is woken by new mail waits this long before it looks,
 * so that at a light load a batch holds what came in meanwhile instead of one message: a
 * batch costs one mail.db commit, one queue and one audit transaction whatever its size.
 * Mail reaches the mailbox up to this much later; under full load the batches are full and
 * no worker waits. Measured at one session (bench/smtp/smtplat.c, 30 KB): with the indexer
 * niced, 330-365 -> 365-480 messages/s. */
#define GATHER_MS 50
#define LEASE_S 600
#define WORKERS_MAX 64

struct mta_delivery {
	struct app *app;
	char host[256];
	pthread_t threads[WORKERS_MAX];
	size_t nthreads;
	volatile bool stop;
	/* configuration snapshot (the daemon's reload rewrites app->cfg) */
	char relay_host[256], relay_user[320], relay_password[256];
	int relay_port, remote_port, timeout;
	int64_t delay_warn_s;
};

/* The audit record of one outcome: its type and its detail (JSON in b). */
static const char *audit_type(enum mta_outcome o, const char *route)
{
	return o == MTA_OK ? (strcmp(route, "local") == 0 ? "mail.delivered" : "mail.sent")
	       : o == MTA_PERMFAIL ? "mail.failed"
				   : "mail.deferred";
}

static int audit_detail(struct buf *b, const char *qid, const char *sender, const char *rcpt,
			const char *route, const char *result)
{
	if (buf_puts(b, "{\"qid\":") == 0 && buf_json_str(b, qid) == 0 &&
	    buf_puts(b, ",\"sender\":") == 0 && buf_json_str(b, sender ? sender : "") == 0 &&
	    buf_puts(b, ",\"recipients\":[") == 0 && buf_json_str(b, rcpt) == 0 &&
	    buf_puts(b, "],\"route\":") == 0 && buf_json_str(b, route) == 0 &&
	    buf_puts(b, ",\"result\":") == 0 && buf_json_str(b, result ? result : "") == 0 &&
	    buf_puts(b, "}") == 0)
		return 0;
	return -1;
}

static void log_outcome(const struct mta_job *j, enum mta_outcome o, int code, const char *text,
			const char *route)
{
	log_info("mta", "qid=%s rcpt=<%s> route=%s result=%s code=%d text=\"%s\"", j->qid, j->rcpt,
		 route, o == MTA_OK ? "delivered" : o == MTA_PERMFAIL ? "failed" : "deferred", code,
		 text ? text : "");
}

static void audit(struct mta_delivery *d, const char *type, const char *qid, const char *sender,
		  const char *rcpt, const char *route, const char *result_text)
{
	struct audit_rec r = {.actor = "mta", .type = type, .ip = "", .client = "yizhan-mta"};
	struct err err;
	struct buf b;

	buf_init(&b, 0);
	if (audit_detail(&b, qid, sender, rcpt, route, result_text) == 0) {
		r.detail = buf_cstr(&b);
		if (store_audit_append(d->app->audit, &r, &err) < 0)
			log_error("mta", "qid=%s audit=\"%s\"", qid, err.msg);
	}
	buf_release(&b);
}

static void result(struct mta_delivery *d, const struct mta_job *j, enum mta_outcome o, int code,
		   const char *text, const char *route)
{
	struct err err;

	if (mta_queue_result(d->app->queue, j->rcpt_id, o, code, text, &err) < 0)
		log_error("mta", "qid=%s rcpt=%s error=\"%s\"", j->qid, j->rcpt, err.msg);
	log_outcome(j, o, code, text, route);
	audit(d, audit_type(o, route), j->qid, j->sender, j->rcpt, route, text);
}

/* ---- local ---- */

/* Is this message one a vacation responder must not answer (RFC 3834 section 2)? */
static bool auto_or_bulk(const char *raw, size_t len)
{
	size_t hl = len;
	for (size_t i = 0; i + 1 < len; i++)
		if (raw[i] == '\n' && (raw[i + 1] == '\n' || (raw[i + 1] == '\r' && i + 2 < len &&
							      raw[i + 2] == '\n'))) {
			hl = i;
			break;
		}
	for (size_t i = 0; i < hl;) {
		const char *line = raw + i, *nl = memchr(line, '\n', hl - i);
		size_t n = nl ? (size_t)(nl - line) : hl - i;
		if ((n > 15 && strncasecmp(line, "Auto-Submitted:", 15) == 0 &&
		     !(n >= 18 && strncasecmp(line + 15, " no", 3) == 0)) ||
		    (n > 11 && strncasecmp(line, "Precedence:", 11) == 0) ||
		    (n > 8 && strncasecmp(line, "List-Id:", 8) == 0) ||
		    (n > 17 && strncasecmp(line, "List-Unsubscribe:", 17) == 0))
			return true;
		i += n + 1;
	}
	return false;
}

static int submit_local(struct mta_delivery *d, const char *sender, const char **rcpts, size_t n,
			const char *data, size_t len, struct err *err)
{
	struct mta_rcpt *rv = xcalloc(n, sizeof(*rv));
	struct mta_envelope env = {.sender = sender, .nrcpts = n, .source = MTA_SRC_LOCAL};
	char qid[MTA_QID_LEN];
	int r;

	for (size_t i = 0; i < n; i++)
		rv[i].address = rcpts[i];
	env.rcpts = rv;
	r = mta_queue_submit(d->app->queue, &env, data, len, qid, err);
	free(rv);
	return r;
}

/* Forwarding and vacation for one account that received the message. Failures here are
 * logged: the message itself is already in the mailbox. */
static void user_rules(struct mta_delivery *d, const struct mta_job *j,
		       const struct store_account *acct, const struct store_mail_settings *ms,
		       const char *raw, size_t len)
{
	struct arena *a = arena_new();
	struct err err;
	int64_t now = time_now();

	if (*ms->forward_to && strcasecmp(ms->forward_to, acct->address) != 0) {
		const char *to = ms->forward_to;
		if (mta_delivered_to(raw, len, acct->address) ||
		    mta_hops(raw, len) >= (size_t)d->app->cfg.smtp_max_hops) {
			/* A forwards to B, B to A: it came back, or went round too often */
			log_warn("mta", "qid=%s account=%s forward=%s msg=\"mail loop: not forwarded\"",
				 j->qid, acct->address, to);
		} else {
			/* marked, so it is not forwarded again should it come back here; the
			 * forwarding account is the envelope sender, so SPF holds and bounces
			 * come back to it, not to a stranger */
			char *h = arena_printf(a, "Delivered-To: %s\r\n", acct->address);
			size_t hl = strlen(h);
			char *fw = xmalloc(hl + len);
			memcpy(fw, h, hl);
			memcpy(fw + hl, raw, len);
			if (submit_local(d, acct->address, &to, 1, fw, hl + len, &err) < 0)
				log_warn("mta", "qid=%s forward=%s error=\"%s\"", j->qid, to, err.msg);
			free(fw);
		}
	}
	if (ms->vacation_on && j->sender && *j->sender && (ms->vacation_start == 0 || now >= ms->vacation_start) &&
	    (ms->vacation_end == 0 || now < ms->vacation_end) && !auto_or_bulk(raw, len) &&
	    strncasecmp(j->sender, "mailer-daemon@", 14) != 0 &&
	    strncasecmp(j->sender, "owner-", 6) != 0 && strcasecmp(j->sender, acct->address) != 0) {
		bool reply = false;
		if (store_vacation_claim(d->app->store, acct->id, j->sender, now, ms->vacation_period,
					 &reply, &err) < 0) {
			log_warn("mta", "qid=%s vacation error=\"%s\"", j->qid, err.msg);
		} else if (reply) {
			/* parsed only now: the reply quotes its subject and Message-ID */
			const struct mail_store_opts *mo = mail_store_options(d->app->mail);
			struct mime_msg *msg = NULL;
			struct err perr;
			size_t rl;
			if (mime_parse(raw, len, &mo->mime, a, &msg, &perr) < 0)
				msg = NULL;
			const char *rmsg = dsn_vacation(acct->address, acct->name, j->sender,
							ms->vacation_subject, ms->vacation_body,
							msg ? msg->message_id : NULL,
							msg ? msg->subject : NULL, d->host, now, a, &rl);
			const char *to = j->sender;
			/* the null sender: a reply to an auto-reply goes nowhere */
			if (submit_local(d, "", &to, 1, rmsg, rl, &err) < 0)
				log_warn("mta", "qid=%s vacation error=\"%s\"", j->qid, err.msg);
		}
	}
	arena_free(&a);
}

/* ---- local: a batch of recipients, one mailbox transaction per account ----
 *
 * Up to BATCH recipients (LOCAL_BYTES of messages at most) are delivered together: every
 * account's share goes into its mailbox with mail_insert_batch (one mail.db transaction and
 * one journal sync for all of them, instead of one each), then all outcomes are recorded in
 * one queue transaction and one audit transaction. The at-least-once / exactly-once argument
 * is unchanged: the mailbox rows commit before the queue hears of them, and a crash in
 * between redelivers into the same delivery keys, which store nothing twice. */

#define LOCAL_BYTES (64 << 20)

struct local {
	const struct mta_job *j;
	char *raw; /* the message (malloc'd) */
	size_t len;
	struct mta_expansion x;
	int failed, temp;
	const char *why;
	bool done; /* its outcome is decided */
};

struct drop {
	size_t k; /* the struct local */
	int64_t account;
};

struct outcome {
	const struct mta_job *j;
	enum mta_outcome o;
	int code;
	const char *text;
};

struct local_batch {
	struct mta_delivery *d;
	struct arena *a;
	struct local *v;
	size_t n, cap, bytes;
	struct outcome *out;
	size_t nout;
};

static void outcome(struct local_batch *b, const struct mta_job *j, enum mta_outcome o, int code,
		    const char *text)
{
	b->out[b->nout++] = (struct outcome){j, o, code, arena_strdup(b->a, text ? text : "")};
}

/* One account's delivery failed with err: count it against recipient l. */
static void drop_failed(struct local *l, int64_t account, const struct err *err, struct arena *a)
{
	if (err->code == ERR_QUOTA) {
		l->failed++;
		l->why = "5.2.2 mailbox full";
	} else if (err->code == ERR_LIMIT || err->code == ERR_INVALID) {
		l->failed++;
		l->why = "5.3.4 message refused by the mailbox (size or structure limit)";
	} else {
		l->temp++;
		l->why = arena_strdup(a, err->msg);
	}
	log_warn("mta", "qid=%s rcpt=<%s> account=%lld error=\"%s\"", l->j->qid, l->j->rcpt,
		 (long long)account, err->msg);
}

static int by_account(const void *x, const void *y)
{
	const struct drop *a = x, *b = y;
	if (a->account != b->account)
		return a->account < b->account ? -1 : 1;
	return a->k < b->k ? -1 : a->k > b->k;
}

/* Every drop of one account (ds[0..n), all for ds[0].account). */
static void into_account(struct local_batch *b, const struct drop *ds, size_t n)
{
	struct mta_delivery *d = b->d;
	int64_t account = ds[0].account;
	struct store_account acct;
	struct store_limits lim;
	struct store_mail_settings ms;
	struct mailbox *mb = NULL;
	struct mail_new *m;
	struct mail_added *added;
	struct err err, *errs;
	int64_t inbox = 0, junk = 0;
	bool one_by_one = false;

	if (store_account_get_id(d->app->store, account, &acct, &err) < 0 ||
	    store_account_limits(d->app->store, account, &lim, &err) < 0 ||
	    store_mail_settings_get(d->app->store, account, &ms, &err) < 0 ||
	    mailbox_open(d->app->mail, account, lim.quota_bytes, &mb, &err) < 0) {
		for (size_t i = 0; i < n; i++)
			drop_failed(&b->v[ds[i].k], account, &err, b->a);
		return;
	}
	/* forwarding without a kept copy: nothing goes into the mailbox */
	if (*ms.forward_to && !ms.forward_keep) {
		mailbox_unref(&mb);
		for (size_t i = 0; i < n; i++) {
			struct local *l = &b->v[ds[i].k];
			user_rules(d, l->j, &acct, &ms, l->raw, l->len);
		}
		return;
	}
	if (mail_folder_by_special(mb, MAIL_INBOX, &inbox, &err) < 0 ||
	    mail_folder_by_special(mb, MAIL_JUNK, &junk, &err) < 0) {
		mailbox_unref(&mb);
		for (size_t i = 0; i < n; i++)
			drop_failed(&b->v[ds[i].k], account, &err, b->a);
		return;
	}
	m = arena_alloc(b->a, n * sizeof(*m));
	added = arena_alloc(b->a, n * sizeof(*added));
	errs = arena_alloc(b->a, n * sizeof(*errs));
	for (size_t i = 0; i < n; i++) {
		const struct local *l = &b->v[ds[i].k];
		/* one delivery per queue entry, recipient and account, however often retried */
		m[i] = (struct mail_new){.folder_id = l->j->junk ? junk : inbox, .raw = l->raw,
					 .len = l->len, .digest = l->j->blob,
					 .delivery_key = arena_printf(b->a, "%s:%s:%lld", l->j->qid,
								      l->j->rcpt,
								      (long long)account)};
	}
	if (n > 1 && mail_insert_batch(mb, m, n, added, errs, &err) < 0)
		one_by_one = true; /* nothing stored (quota, I/O): each on its own, to tell them apart */
	for (size_t i = 0; i < n; i++) {
		struct local *l = &b->v[ds[i].k];
		if (n == 1 || one_by_one) {
			if (mail_insert(mb, &m[i], &added[i], &errs[i]) < 0) {
				drop_failed(l, account, &errs[i], b->a);
				continue;
			}
		} else if (added[i].id == 0) {
			drop_failed(l, account, &errs[i], b->a);
			continue;
		}
		if (!added[i].duplicate)
			user_rules(d, l->j, &acct, &ms, l->raw, l->len);
	}
	mailbox_unref(&mb);
}

/* Record the batch's outcomes: one queue transaction, one audit transaction. */
static void record_outcomes(struct local_batch *b)
{
	struct mta_delivery *d = b->d;
	struct mta_result *res;
	struct audit_rec *recs;
	struct buf *details;
	struct err err;

	if (b->nout == 0)
		return;
	res = arena_alloc(b->a, b->nout * sizeof(*res));
	recs = arena_alloc(b->a, b->nout * sizeof(*recs));
	details = arena_alloc(b->a, b->nout * sizeof(*details));
	for (size_t i = 0; i < b->nout; i++) {
		const struct outcome *o = &b->out[i];
		res[i] = (struct mta_result){o->j->rcpt_id, o->o, o->code, o->text};
		log_outcome(o->j, o->o, o->code, o->text, "local");
		buf_init(&details[i], 0);
		(void)!audit_detail(&details[i], o->j->qid, o->j->sender, o->j->rcpt, "local",
				    o->text);
		recs[i] = (struct audit_rec){.actor = "mta", .type = audit_type(o->o, "local"),
					     .ip = "", .client = "yizhan-mta",
					     .detail = buf_cstr(&details[i])};
	}
	if (mta_queue_results(d->app->queue, res, b->nout, &err) < 0) {
		/* one by one, so that one bad row does not hold back the others */
		log_error("mta", "msg=\"queue results of a batch failed, recording one by one\" "
				 "error=\"%s\"",
			  err.msg);
		for (size_t i = 0; i < b->nout; i++)
			if (mta_queue_results(d->app->queue, &res[i], 1, &err) < 0)
				log_error("mta", "qid=%s rcpt=%s error=\"%s\"", b->out[i].j->qid,
					  b->out[i].j->rcpt, err.msg);
	}
	if (store_audit_append_many(d->app->audit, recs, b->nout, &err) < 0)
		log_error("mta", "msg=\"audit of %zu deliveries\" error=\"%s\"", b->nout, err.msg);
	for (size_t i = 0; i < b->nout; i++)
		buf_release(&details[i]);
}

static void local_flush(struct local_batch *b)
{
	struct mta_delivery *d = b->d;
	struct drop *ds;
	size_t nd = 0, cap = 0;
	struct err err;

	for (size_t k = 0; k < b->n; k++)
		if (!b->v[k].done)
			cap += b->v[k].x.naccounts;
	ds = arena_alloc(b->a, (cap ? cap : 1) * sizeof(*ds));
	for (size_t k = 0; k < b->n; k++)
		for (size_t i = 0; !b->v[k].done && i < b->v[k].x.naccounts; i++)
			ds[nd++] = (struct drop){k, b->v[k].x.accounts[i]};
	qsort(ds, nd, sizeof(*ds), by_account);
	for (size_t i = 0; i < nd;) {
		size_t e = i + 1;
		while (e < nd && ds[e].account == ds[i].account)
			e++;
		into_account(b, &ds[i], e - i);
		i = e;
	}
	for (size_t k = 0; k < b->n; k++) {
		struct local *l = &b->v[k];
		if (l->done)
			continue;
		/* members outside our domains (list members, cross-server groups) go out as new
		 * mail */
		if (l->x.nremote > 0 &&
		    submit_local(d, l->j->sender, l->x.remote, l->x.nremote, l->raw, l->len, &err) < 0) {
			l->temp++;
			l->why = arena_strdup(b->a, err.msg);
		}
		if (l->temp && l->x.naccounts == 1)
			outcome(b, l->j, MTA_TEMPFAIL, 451, l->why);
		else if (l->failed && l->failed == (int)l->x.naccounts && l->x.nremote == 0)
			outcome(b, l->j, MTA_PERMFAIL, 552, l->why);
		else
			outcome(b, l->j, MTA_OK, 250,
				l->x.naccounts > 1 || l->x.nremote ? "2.0.0 delivered to the list"
								    : "2.0.0 delivered");
	}
	record_outcomes(b);
	for (size_t k = 0; k < b->n; k++)
		free(b->v[k].raw);
	b->n = b->bytes = b->nout = 0;
}

/* Read and expand one local recipient into the batch (its outcome is decided here when
 * it cannot be delivered at all); the batch is delivered when full. */
static void local_add(struct local_batch *b, const struct mta_job *j)
{
	const struct mail_store_opts *mo = mail_store_options(b->d->app->mail);
	struct local *l;
	struct err err;

	if (b->n == b->cap || b->bytes > LOCAL_BYTES)
		local_flush(b);
	l = &b->v[b->n++];
	*l = (struct local){.j = j, .why = ""};
	if (mta_queue_body(b->d->app->queue, j->blob, mo->mime.max_bytes, &l->raw,
		     &l->len, &err) < 0) {
		l->done = true;
		outcome(b, j, MTA_TEMPFAIL, 451, "4.3.0 the queued message cannot be read");
		return;
	}
	b->bytes += l->len;
	if (mta_expand(b->d->app->store, j->rcpt, b->a, &l->x, &err) < 0) {
		l->done = true;
		outcome(b, j, MTA_TEMPFAIL, 451, err.msg);
	} else if (l->x.naccounts == 0 && l->x.nremote == 0) {
		l->done = true;
		outcome(b, j, MTA_PERMFAIL, 550, "5.1.1 no such user here");
	}
}

/* ---- remote ---- */

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

static bool needs_smtputf8(const struct mta_job *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)j[i].rcpt; *p; p++)
			if (*p >= 0x80)
				return true;
	}
	for (const unsigned char *p = (const unsigned char *)(j->sender ? j->sender : ""); *p; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

static bool has_8bit(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return true;
	return false;
}

/* xtext (RFC 3461 section 4) for ENVID and ORCPT */
static const char *xtext(const char *s, struct arena *a)
{
	struct buf b;
	const char *r;
	buf_init(&b, 4096);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=') {
			if (buf_printf(&b, "+%02X", *p) < 0)
				break;
		} else if (buf_append(&b, p, 1) < 0) {
			break;
		}
	}
	r = arena_strdup(a, buf_cstr(&b) ? buf_cstr(&b) : "");
	buf_release(&b);
	return r;
}

/* Deliver jobs j[0..n) (one message, one destination domain) in one transaction. */
static void deliver_remote(struct mta_delivery *d, const struct mta_job *j, size_t n)
{
	const struct mail_store_opts *mo = mail_store_options(d->app->mail);
	struct arena *a = arena_new();
	struct smtpc_rcpt *rc = arena_alloc(a, n * sizeof(*rc));
	struct smtpc_msg m = {.helo = d->host, .sender = j->sender ? j->sender : "",
			      .rcpts = rc, .nrcpts = n, .timeout_s = d->timeout};
	const char *domain = domain_of(j->rcpt), *route;
	struct dns_mx *mx = NULL;
	size_t nmx = 0;
	char *raw = NULL;
	size_t len;
	struct err err;
	int code = 0;
	bool done = false;

	for (size_t i = 0; i < n; i++) {
		rc[i].address = j[i].rcpt;
		if (j[i].notify || j[i].orcpt) {
			const char *nt = "";
			if (j[i].notify & MTA_NOTIFY_NEVER)
				nt = " NOTIFY=NEVER";
			else if (j[i].notify)
				nt = arena_printf(a, " NOTIFY=%s%s%s",
						  j[i].notify & MTA_NOTIFY_SUCCESS ? "SUCCESS," : "",
						  j[i].notify & MTA_NOTIFY_FAILURE ? "FAILURE," : "",
						  j[i].notify & MTA_NOTIFY_DELAY ? "DELAY," : "");
			rc[i].dsn_params = arena_printf(a, "%.*s%s%s",
							(int)(strlen(nt) && nt[strlen(nt) - 1] == ','
								  ? strlen(nt) - 1
								  : strlen(nt)),
							nt, j[i].orcpt ? " ORCPT=" : "",
							j[i].orcpt ? xtext(j[i].orcpt, a) : "");
		}
	}
	m.mail_params = arena_printf(a, "%s%s%s", j->ret_full ? " RET=FULL" : "",
				     j->envid ? " ENVID=" : "", j->envid ? xtext(j->envid, a) : "");
	if (mta_queue_body(d->app->queue, j->blob, mo->mime.max_bytes, &raw, &len, &err) <
	    0) {
		for (size_t i = 0; i < n; i++)
			result(d, &j[i], MTA_TEMPFAIL, 451, "4.3.0 the queued message cannot be read",
			       "remote");
		goto out;
	}
	m.data = raw;
	m.len = len;
	/* mail handed in by mail clients is signed on its way out (the web's is signed when it
	 * is built): with the key of the sender's domain, when it has one */
	if (j->source == MTA_SRC_SUBMISSION && d->app->mailauth && j->sender && strrchr(j->sender, '@')) {
		char selector[64], *key;
		const char *hdr, *dom = strrchr(j->sender, '@') + 1;
		if (store_dkim_get(d->app->store, dom, selector, sizeof(selector), &key, NULL) == 0) {
			if (mailauth_dkim_sign(d->app->mailauth, dom, selector, key, raw, len, a, &hdr,
					       &err) == 0) {
				size_t hl = strlen(hdr);
				char *signed_msg = arena_alloc(a, hl + len + 1);
				memcpy(signed_msg, hdr, hl);
				memcpy(signed_msg + hl, raw, len);
				m.data = signed_msg;
				m.len = hl + len;
			} else {
				log_warn("mta", "qid=%s dkim=\"%s\"", j->qid, err.msg);
			}
			free(key);
		}
	}
	m.eightbit = has_8bit(raw, len);
	m.smtputf8 = needs_smtputf8(j, n);
	if (*d->relay_host) {
		route = arena_printf(a, "relay:%s", d->relay_host);
		m.auth_user = *d->relay_user ? d->relay_user : NULL;
		m.auth_password = d->relay_password;
		done = smtpc_deliver(d->relay_host, NULL, 0, d->relay_port, &m, &code, &err) == 0;
	} else {
		route = arena_printf(a, "mx:%s", domain);
		if (dns_mx(d->app->dns, domain, a, &mx, &nmx, &err) < 0) {
			/* NXDOMAIN or a null MX: no such domain for mail; else try later */
			enum mta_outcome o = err.code == ERR_IO ? MTA_TEMPFAIL : MTA_PERMFAIL;
			for (size_t i = 0; i < n; i++)
				result(d, &j[i], o, o == MTA_PERMFAIL ? 550 : 451,
				       arena_printf(a, "%s %s", o == MTA_PERMFAIL ? "5.1.2" : "4.4.3",
						    err.msg),
				       route);
			goto out;
		}
		for (size_t k = 0; k < nmx && !done; k++) {
			const char **addrs;
			size_t naddrs;
			if (dns_addrs(d->app->dns, mx[k].host, a, &addrs, &naddrs, &err) < 0)
				continue;
			route = arena_printf(a, "mx:%s", mx[k].host);
			done = smtpc_deliver(mx[k].host, addrs, naddrs, d->remote_port, &m, &code, &err) ==
			       0;
			if (!done && err.code == ERR_DENIED)
				break; /* a 5xx to the whole transaction: the next MX says the same */
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!done) {
			enum mta_outcome o = err.code == ERR_DENIED ? MTA_PERMFAIL : MTA_TEMPFAIL;
			result(d, &j[i], o, code, err.msg, route);
		} else if (rc[i].code / 100 == 2) {
			result(d, &j[i], MTA_OK, rc[i].code, rc[i].text, route);
		} else {
			result(d, &j[i], rc[i].code >= 500 ? MTA_PERMFAIL : MTA_TEMPFAIL, rc[i].code,
			       rc[i].text, route);
		}
	}
out:
	free(raw);
	arena_free(&a);
}

/* ---- DSNs ---- */

static void send_dsns(struct mta_delivery *d)
{
	const struct mail_store_opts *mo = mail_store_options(d->app->mail);
	struct arena *a = arena_new();
	struct mta_dsn_job *v;
	size_t n;
	struct err err;

	if (mta_queue_dsn_due(d->app->queue, time_now(), d->delay_warn_s, 32, a, &v, &n, &err) < 0) {
		log_warn("mta", "dsn error=\"%s\"", err.msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct mta_dsn_job *j = &v[i];
		char *raw = NULL;
		size_t len = 0, dl;
		/* no DSN about a DSN (null sender), nor when every recipient said NOTIFY=NEVER */
		if (j->sender && *j->sender && j->nrcpts > 0) {
			const char *to = j->sender, *dmsg;
			if (mta_queue_body(d->app->queue, j->blob, mo->mime.max_bytes, &raw,
				     &len, &err) < 0) {
				raw = NULL;
				len = 0;
			}
			dmsg = dsn_build(j, d->host, raw ? raw : "", len, time_now(), a, &dl);
			if (submit_local(d, "", &to, 1, dmsg, dl, &err) < 0) {
				log_warn("mta", "qid=%s dsn error=\"%s\"", j->qid, err.msg);
				free(raw);
				continue; /* try again next round */
			}
			log_info("mta", "qid=%s dsn=%s to=<%s> recipients=%zu", j->qid,
				 j->delay ? "delay" : "failure", to, j->nrcpts);
			audit(d, j->delay ? "mail.dsn.delay" : "mail.dsn.failure", j->qid, "", to,
			      "local", "sent");
		}
		free(raw);
		if (mta_queue_dsn_sent(d->app->queue, j->msg_id, j->delay, &err) < 0)
			log_warn("mta", "qid=%s dsn error=\"%s\"", j->qid, err.msg);
	}
	if (mta_queue_cleanup(d->app->queue, &err) < 0)
		log_warn("mta", "cleanup error=\"%s\"", err.msg);
out:
	arena_free(&a);
}

/* ---- workers ---- */

static int by_qid_domain(const void *x, const void *y)
{
	const struct mta_job *a = x, *b = y;
	int c = strcmp(a->qid, b->qid);
	return c ? c : strcasecmp(domain_of(a->rcpt), domain_of(b->rcpt));
}

static void run_batch(struct mta_delivery *d, struct mta_job *v, size_t n)
{
	struct local_batch lb = {.d = d, .a = arena_new(), .cap = n ? n : 1};

	lb.v = arena_alloc(lb.a, lb.cap * sizeof(*lb.v));
	lb.out = arena_alloc(lb.a, lb.cap * sizeof(*lb.out));
	/* local recipients together, per account; remote ones grouped per message and domain */
	qsort(v, n, sizeof(*v), by_qid_domain);
	for (size_t i = 0; i < n && !d->stop;) {
		enum mta_rcpt_kind k = mta_rcpt_classify(d->app->store, v[i].rcpt);
		if (k == MTA_RCPT_LOCAL || k == MTA_RCPT_NOUSER) {
			local_add(&lb, &v[i]);
			i++;
			continue;
		}
		if (k == MTA_RCPT_BAD) {
			result(d, &v[i], MTA_PERMFAIL, 553, "5.1.3 bad recipient address", "none");
			i++;
			continue;
		}
		if (k == MTA_RCPT_TEMPFAIL) { /* retried with the queue's backoff */
			result(d, &v[i], MTA_TEMPFAIL, 451, "4.3.0 recipient lookup failed", "none");
			i++;
			continue;
		}
		size_t e = i + 1;
		while (e < n && strcmp(v[e].qid, v[i].qid) == 0 &&
		       strcasecmp(domain_of(v[e].rcpt), domain_of(v[i].rcpt)) == 0 &&
		       mta_rcpt_classify(d->app->store, v[e].rcpt) == MTA_RCPT_REMOTE)
			e++;
		deliver_remote(d, &v[i], e - i);
		i = e;
	}
	local_flush(&lb);
	arena_free(&lb.a);
}

struct worker_arg {
	struct mta_delivery *d;
	bool dsn; /* this worker also sends DSNs */
};

static void *worker(void *p)
{
	struct worker_arg *wa = p;
	struct mta_delivery *d = wa->d;
	bool dsn = wa->dsn;
	uint64_t last_dsn = 0;
	struct err rerr;

	free(wa);
	/* outcomes need no flush of their own: what they record is already durable (the
	 * mailbox insert) or idempotent to repeat, and the accepting side then never waits
	 * behind a worker's flush for the queue's write lock */
	if (mta_queue_relax_thread(d->app->queue, &rerr) < 0)
		log_warn("mta", "queue error=\"%s\"", rerr.msg);
	while (!d->stop) {
		struct arena *a = arena_new();
		struct mta_job *v;
		size_t n = 0;
		struct err err;
		/* counted before looking: a message queued while this batch runs is not left
		 * waiting for the next kick or the timeout */
		unsigned seen = mta_queue_kicks(d->app->queue);
		if (mta_queue_due(d->app->queue, time_now(), BATCH, LEASE_S, a, &v, &n, &err) < 0)
			log_warn("mta", "queue error=\"%s\"", err.msg);
		else if (n > 0)
			run_batch(d, v, n);
		arena_free(&a);
		if (dsn && time_mono_ns() - last_dsn > 2000000000ull) {
			send_dsns(d);
			last_dsn = time_mono_ns();
		}
		if (n < BATCH && !d->stop && mta_queue_wait(d->app->queue, seen, 1000) && !d->stop)
			usleep(GATHER_MS * 1000);
	}
	return NULL;
}

int mta_delivery_start(struct app *app, struct mta_delivery **d_r, struct err *err)
{
	struct mta_delivery *d = xcalloc(1, sizeof(*d));
	size_t want = (size_t)app->cfg.queue_workers;

	d->app = app;
	snprintf(d->host, sizeof(d->host), "%s", app->cfg.hostname);
	snprintf(d->relay_host, sizeof(d->relay_host), "%s", app->cfg.relay_host);
	snprintf(d->relay_user, sizeof(d->relay_user), "%s", app->cfg.relay_user);
	snprintf(d->relay_password, sizeof(d->relay_password), "%s", app->cfg.relay_password);
	d->relay_port = (int)app->cfg.relay_port;
	d->remote_port = (int)app->cfg.remote_port;
	d->timeout = (int)app->cfg.remote_timeout;
	d->delay_warn_s = app->cfg.queue_delay_warn_hours * 3600;
	if (want > WORKERS_MAX)
		want = WORKERS_MAX;
	if (mta_queue_release_leases(app->queue, err) < 0) {
		free(d);
		return -1;
	}
	for (size_t i = 0; i < want; i++) {
		struct worker_arg *wa = xcalloc(1, sizeof(*wa));
		wa->d = d;
		wa->dsn = i == 0;
		if (pthread_create(&d->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			mta_delivery_stop(&d);
			return err_set(err, ERR_INTERNAL, "cannot start delivery workers");
		}
		d->nthreads++;
	}
	*d_r = d;
	return 0;
}

void mta_delivery_stop(struct mta_delivery **dp)
{
	struct mta_delivery *d = *dp;
	if (d == NULL)
		return;
	d->stop = true;
	mta_queue_kick(d->app->queue);
	for (size_t i = 0; i < d->nthreads; i++)
		pthread_join(d->threads[i], NULL);
	free(d);
	*dp = NULL;
}
