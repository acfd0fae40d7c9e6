/* MAIL and RCPT (RFC 5321 4.1.1.2-3) with SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
 * (RFC 6531), DSN (RFC 3461) and AUTH= (RFC 4954 5) parameters; who may send and receive.
 *
 * Port 25 without authentication takes any sender (SPF judges it) and only recipients that
 * are someone here: unknown ones are answered slower and slower and then the client is
 * dropped (no address harvesting); other domains are refused (no open relay). Submission
 * (and port 25 after AUTH) requires the sender to be one of the user's addresses and takes
 * any recipient. */
#include "smtp_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mta/route.h"

size_t smtp_max_message(const struct smtp_session *s)
{
	size_t m = s->srv->lim.max_message;
	if (s->user_max_message > 0 && (size_t)s->user_max_message < m)
		m = (size_t)s->user_max_message;
	return m;
}

void smtp_audit_refused(struct smtp_session *s, const char *reason, const char *rcpt)
{
	struct buf b;
	bool first = true;

	buf_init(&b, 0);
	netsvc_json_kv(&b, "reason", reason, &first);
	netsvc_json_kv(&b, "sender", s->txn ? s->txn->env.sender : NULL, &first);
	if (rcpt)
		netsvc_json_kv(&b, "recipient", rcpt, &first);
	netsvc_json_kv(&b, "client_ip", s->ip, &first);
	netsvc_json_kv(&b, "helo", s->helo, &first);
	netsvc_json_kv(&b, "user", s->authed ? s->user : NULL, &first);
	netsvc_json_ki(&b, "port", s->port, &first);
	(void)!buf_puts(&b, "}");
	netsvc_audit(&s->srv->net, s->authed ? s->user : "-", "mail.refused", s->ip, "smtp", b.data,
		     NULL);
	buf_release(&b);
}

static void path_error(struct smtp_session *s, const struct smtp_mailarg *m, const char *cmd)
{
	switch (m->error) {
	case SMTP_PATH_ADDRESS:
		smtp_fail(s, "501 5.1.%d Bad address syntax", strcmp(cmd, "MAIL") == 0 ? 7 : 3);
		break;
	case SMTP_PATH_TOOLONG:
		smtp_fail(s, "501 5.1.3 Address too long");
		break;
	case SMTP_PATH_PARAMS:
		smtp_fail(s, "501 5.5.4 Bad, repeated or too many parameters");
		break;
	default:
		smtp_fail(s, "501 5.5.4 Syntax: %s %s<address> [parameters]", cmd,
			  strcmp(cmd, "MAIL") == 0 ? "FROM:" : "TO:");
	}
}

static bool value_is(const struct smtp_param *p, const char *v)
{
	return p->value && p->value_len == strlen(v) && strncasecmp(p->value, v, p->value_len) == 0;
}

static int parse_size(const struct smtp_param *p, int64_t *out)
{
	int64_t v = 0;
	if (p->value == NULL || p->value_len > 18)
		return -1;
	for (size_t i = 0; i < p->value_len; i++) {
		if (p->value[i] < '0' || p->value[i] > '9')
			return -1;
		v = v * 10 + (p->value[i] - '0');
	}
	*out = v;
	return 0;
}

/* 0 ok, -1 a reply was sent */
static int mail_params(struct smtp_session *s, struct smtp_txn *t, const struct smtp_mailarg *m)
{
	for (size_t i = 0; i < m->nparams; i++) {
		const struct smtp_param *p = &m->params[i];
		if (strcmp(p->key, "SIZE") == 0) {
			if (parse_size(p, &t->size_hint) < 0)
				return smtp_fail(s, "501 5.5.4 Bad SIZE value"), -1;
			if ((uint64_t)t->size_hint > smtp_max_message(s))
				return smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %zu "
						     "bytes", smtp_max_message(s)),
				       -1;
		} else if (strcmp(p->key, "BODY") == 0) {
			if (value_is(p, "8BITMIME"))
				t->eightbit = true;
			else if (!value_is(p, "7BIT"))
				return smtp_fail(s, "504 5.5.4 BODY must be 7BIT or 8BITMIME"), -1;
		} else if (strcmp(p->key, "SMTPUTF8") == 0) {
			if (p->value)
				return smtp_fail(s, "501 5.5.4 SMTPUTF8 takes no value"), -1;
			t->smtputf8 = true;
		} else if (strcmp(p->key, "RET") == 0) {
			if (value_is(p, "FULL"))
				t->env.ret_full = true;
			else if (!value_is(p, "HDRS"))
				return smtp_fail(s, "501 5.5.4 RET must be FULL or HDRS"), -1;
		} else if (strcmp(p->key, "ENVID") == 0) {
			char *v;
			if (p->value == NULL ||
			    smtp_xtext_decode(p->value, p->value_len, false, t->arena, &v) < 0 ||
			    strlen(v) > 100)
				return smtp_fail(s, "501 5.5.4 Bad ENVID value"), -1;
			t->env.envid = v;
		} else if (strcmp(p->key, "AUTH") == 0) {
			/* RFC 4954 5: the original submitter; we trust our own AUTH only */
			if (p->value == NULL)
				return smtp_fail(s, "501 5.5.4 Bad AUTH value"), -1;
		} else {
			return smtp_fail(s, "555 5.5.4 Unsupported parameter %s", p->key), -1;
		}
	}
	return 0;
}

/* SPF is checked on a job while the client sends the recipients and the message: MAIL gets
 * its 250 at once, and the result is needed only with the whole message (DMARC, the
 * Authentication-Results field, the policy), where smtp_data_authenticate() waits for it if
 * it has not come yet. A transaction that ends first (RSET, QUIT, a refused message) marks
 * its job cancelled, so a job still queued behind others does no DNS work for nobody. */
struct spf_job {
	struct netsvc_job job;
	struct mailauth *ma;
	uint64_t serial; /* the transaction's: it may be gone (RSET, QUIT) when the job ends */
	atomic_bool cancelled; /* set on the loop by smtp_txn_free(), read by spf_run() */
	char ip[64], helo[256];
	char *sender;
	enum mailauth_result r;
};

static void spf_run(struct netsvc_job *j)
{
	struct spf_job *sj = (struct spf_job *)j;
	struct err err;
	if (atomic_load(&sj->cancelled)) {
		sj->r = MA_NONE;
		return;
	}
	if (mailauth_spf(sj->ma, sj->ip, sj->helo, sj->sender, &sj->r, &err) < 0) {
		log_info("smtp", "ip=%s msg=\"SPF check failed\" err=\"%s\"", sj->ip, err.msg);
		sj->r = MA_TEMPERROR;
	}
}

static void spf_done(struct netsvc_job *j)
{
	struct spf_job *sj = (struct spf_job *)j;
	struct smtp_session *s = j->s;
	struct smtp_txn *t;
	bool go_on = false;

	if (s == NULL)
		goto out;
	s->spf_running--;
	/* sj goes below: its transaction (alive or not, the session may be dead) lets go first */
	if (s->txn && s->txn->serial == sj->serial)
		s->txn->spf_cancel = NULL;
	if (s->spf_hold && smtp_alive(s)) {
		s->spf_hold = false;
		smtp_reply(s, "250 2.1.0 Ok");
		smtp_resume(s); /* the input read now may end this transaction, or begin another */
	}
	t = s->txn;
	if (t && smtp_alive(s) && t->serial == sj->serial && t->spf_pending) {
		t->spf = sj->r;
		t->spf_pending = false;
		go_on = t->spf_wanted;
		t->spf_wanted = false;
	}
out:
	free(sj->sender);
	free(sj);
	if (go_on)
		smtp_data_authenticate(s);
}

static bool rate_ok(struct smtp_session *s)
{
	int64_t n = netsvc_map_get(&s->srv->per_user, s->user, time_now(), 3600);
	return n < s->srv->lim.msgs_per_hour;
}

/* An authenticated sender: one of the user's addresses, and under the hourly limit. On
 * false the reply is sent and t is freed. */
static bool sender_ok(struct smtp_session *s, struct smtp_txn *t, const char *sender)
{
	if (!*sender || !mta_may_send_as(s->srv->store, s->account_id, sender)) {
		s->txn = t; /* for the audit record's sender */
		t->env.sender = arena_strdup(t->arena, sender);
		smtp_audit_refused(s, "sender not allowed for this user", NULL);
		smtp_txn_reset(s);
		smtp_fail(s, "553 5.7.1 <%s>: Sender address not owned by user %s", sender, s->user);
		return false;
	}
	if (!rate_ok(s)) {
		smtp_txn_free(t);
		smtp_reply(s, "450 4.7.1 Too many messages (the limit is %lld an hour); try again "
			      "later",
			   (long long)s->srv->lim.msgs_per_hour);
		return false;
	}
	return true;
}

enum smtp_ret smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_mailarg *m = arena_alloc(s->cmd, sizeof(*m));
	struct smtp_txn *t;
	const char *sender;

	if (smtp_parse_path_arg(arg, len, "FROM:", true, m) < 0) {
		path_error(s, m, "MAIL");
		return SMTP_NEXT;
	}
	if (smtp_is_submission(s) && !s->authed) {
		smtp_fail(s, "530 5.7.0 Authentication required");
		return SMTP_NEXT;
	}
	t = smtp_txn_new();
	if (mail_params(s, t, m) < 0) {
		smtp_txn_free(t);
		return SMTP_NEXT;
	}
	if (m->path.utf8 && !t->smtputf8) {
		smtp_txn_free(t);
		smtp_fail(s, "553 5.6.7 Non-ASCII addresses need the SMTPUTF8 parameter");
		return SMTP_NEXT;
	}
	sender = m->path.null ? "" : m->path.mailbox;
	if (s->authed && !sender_ok(s, t, sender))
		return SMTP_NEXT;
	t->env.sender = arena_strdup(t->arena, sender);
	t->env.smtputf8 = t->smtputf8;
	t->env.eightbit = t->eightbit;
	t->env.source = s->authed ? MTA_SRC_SUBMISSION : MTA_SRC_INBOUND;
	t->env.client_ip = arena_strdup(t->arena, s->ip);
	t->env.helo = arena_strdup(t->arena, s->helo);
	t->env.auth_user = s->authed ? arena_strdup(t->arena, s->user) : NULL;
	t->env.account_id = s->authed ? s->account_id : 0;
	t->serial = ++s->ntxns;
	s->txn = t;
	s->state = ST_MAIL;
	if (!s->authed && s->srv->mailauth != NULL) {
		struct spf_job *sj = xcalloc(1, sizeof(*sj));
		sj->job.run = spf_run;
		sj->job.done = spf_done;
		sj->ma = s->srv->mailauth;
		sj->serial = t->serial;
		snprintf(sj->ip, sizeof(sj->ip), "%s", s->ip);
		snprintf(sj->helo, sizeof(sj->helo), "%s", s->helo);
		sj->sender = xstrdup(sender);
		t->spf_pending = true;
		t->spf_cancel = &sj->cancelled;
		smtp_job_start(s, &sj->job);
		/* A client that loops MAIL, RSET, MAIL... without waiting must not queue an SPF job
		 * (DNS lookups) per command: while the previous one runs, this MAIL's 250 waits
		 * until one of the two is back (so at most two run for a session). */
		if (++s->spf_running > 1) {
			s->spf_hold = true;
			smtp_wait(s);
			return SMTP_STOP;
		}
	}
	smtp_reply(s, "250 2.1.0 Ok");
	return SMTP_NEXT;
}

/* ---- RCPT ---- */

static int parse_notify(const struct smtp_param *p, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} kw[] = {{"NEVER", MTA_NOTIFY_NEVER},
		  {"SUCCESS", MTA_NOTIFY_SUCCESS},
		  {"FAILURE", MTA_NOTIFY_FAILURE},
		  {"DELAY", MTA_NOTIFY_DELAY}};
	size_t i = 0;
	unsigned v = 0;

	if (p->value == NULL)
		return -1;
	while (i < p->value_len) {
		size_t j = i, k;
		while (j < p->value_len && p->value[j] != ',')
			j++;
		for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
			if (strlen(kw[k].name) == j - i &&
			    strncasecmp(p->value + i, kw[k].name, j - i) == 0)
				break;
		if (k == sizeof(kw) / sizeof(kw[0]) || (v & kw[k].bit))
			return -1;
		v |= kw[k].bit;
		i = j + 1;
		if (j < p->value_len && i == p->value_len)
			return -1; /* a trailing comma */
	}
	if ((v & MTA_NOTIFY_NEVER) && v != MTA_NOTIFY_NEVER)
		return -1;
	*out = v;
	return 0;
}

/* ORCPT=addr-type ";" xtext (RFC 3461 4.2); kept as "type;address" decoded */
static int parse_orcpt(const struct smtp_param *p, struct smtp_txn *t, const char **out)
{
	const char *semi;
	size_t tl;
	char *addr;

	if (p->value == NULL || (semi = memchr(p->value, ';', p->value_len)) == NULL)
		return -1;
	tl = (size_t)(semi - p->value);
	if (tl == 0 || tl > 20)
		return -1;
	for (size_t i = 0; i < tl; i++) {
		char c = p->value[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return -1;
	}
	if (smtp_xtext_decode(semi + 1, p->value_len - tl - 1, t->smtputf8, t->arena, &addr) < 0 ||
	    *addr == '\0')
		return -1;
	*out = arena_printf(t->arena, "%.*s;%s", (int)tl, p->value, addr);
	return 0;
}

static void tarpit_done(struct smtp_session *s)
{
	smtp_reply(s, "%s", s->tarpit_reply);
	if (s->nbad_rcpts >= s->srv->lim.max_bad_rcpts) {
		log_info("smtp", "sess=%llu ip=%s unknown=%lld msg=\"dropped: unknown recipients\"",
			 (unsigned long long)s->id, s->ip, (long long)s->nbad_rcpts);
		smtp_audit_refused(s, "too many unknown recipients", NULL);
		smtp_close(s, "421 4.7.0 %s Too many unknown recipients, closing connection",
			   s->srv->lim.hostname);
		return;
	}
	smtp_resume(s);
}

/* An unknown local recipient: the answer comes tarpit_ms x (unknown so far) later, and after
 * max_bad_recipients the client is dropped. The delay is a timer: the loop never sleeps. */
static enum smtp_ret unknown_rcpt(struct smtp_session *s, const char *addr)
{
	int64_t ms = s->srv->lim.tarpit_ms * ++s->nbad_rcpts;
	snprintf(s->tarpit_reply, sizeof(s->tarpit_reply), "550 5.1.1 <%s>: Recipient unknown",
		 addr);
	if (ms <= 0 && s->nbad_rcpts < s->srv->lim.max_bad_rcpts) {
		smtp_reply(s, "%s", s->tarpit_reply);
		return SMTP_NEXT;
	}
	smtp_delay(s, ms > 0 ? ms : 0, tarpit_done);
	return SMTP_STOP;
}

static bool have_rcpt(const struct smtp_txn *t, const char *addr)
{
	for (size_t i = 0; i < t->nrcpts; i++)
		if (strcasecmp(t->rcpts[i].address, addr) == 0)
			return true;
	return false;
}

static void add_rcpt(struct smtp_txn *t, const char *addr, const char *orcpt, unsigned notify)
{
	if (have_rcpt(t, addr))
		return; /* once is enough: the queue delivers per recipient */
	if (t->nrcpts == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct mta_rcpt *v = arena_alloc(t->arena, cap * sizeof(*v));
		if (t->nrcpts)
			memcpy(v, t->rcpts, t->nrcpts * sizeof(*v));
		t->rcpts = v;
		t->cap = cap;
	}
	t->rcpts[t->nrcpts].address = arena_strdup(t->arena, addr);
	t->rcpts[t->nrcpts].orcpt = orcpt;
	t->rcpts[t->nrcpts].notify = notify;
	t->nrcpts++;
	t->env.rcpts = t->rcpts;
	t->env.nrcpts = t->nrcpts;
}

static int64_t max_rcpts(const struct smtp_session *s)
{
	int64_t m = s->srv->lim.max_recipients;
	if (s->user_max_rcpts > 0 && s->user_max_rcpts < m)
		m = s->user_max_rcpts;
	return m;
}

enum smtp_ret smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_mailarg *m = arena_alloc(s->cmd, sizeof(*m));
	struct smtp_txn *t = s->txn;
	const char *orcpt = NULL, *addr;
	unsigned notify = 0;
	enum mta_rcpt_kind kind;

	if (smtp_parse_path_arg(arg, len, "TO:", false, m) < 0) {
		path_error(s, m, "RCPT");
		return SMTP_NEXT;
	}
	if (m->path.utf8 && !t->smtputf8) {
		smtp_fail(s, "553 5.6.7 Non-ASCII addresses need SMTPUTF8 in MAIL FROM");
		return SMTP_NEXT;
	}
	for (size_t i = 0; i < m->nparams; i++) {
		const struct smtp_param *p = &m->params[i];
		if (strcmp(p->key, "NOTIFY") == 0) {
			if (parse_notify(p, &notify) < 0) {
				smtp_fail(s, "501 5.5.4 Bad NOTIFY value");
				return SMTP_NEXT;
			}
		} else if (strcmp(p->key, "ORCPT") == 0) {
			if (parse_orcpt(p, t, &orcpt) < 0) {
				smtp_fail(s, "501 5.5.4 Bad ORCPT value");
				return SMTP_NEXT;
			}
		} else {
			smtp_fail(s, "555 5.5.4 Unsupported parameter %s", p->key);
			return SMTP_NEXT;
		}
	}
	if ((int64_t)t->nrcpts >= max_rcpts(s)) {
		smtp_reply(s, "452 4.5.3 Too many recipients (the limit is %lld)",
			   (long long)max_rcpts(s));
		return SMTP_NEXT;
	}
	addr = m->path.postmaster
		       ? arena_printf(s->cmd, "postmaster@%s", s->srv->lim.default_domain)
		       : m->path.mailbox;
	/* a source route is a relay request by definition (RFC 5321 3.6.1 lets us refuse it) */
	kind = m->path.route ? MTA_RCPT_BAD : mta_rcpt_classify(s->srv->store, addr);
	switch (kind) {
	case MTA_RCPT_LOCAL:
		break;
	case MTA_RCPT_REMOTE:
		if (s->authed)
			break;
		smtp_audit_refused(s, "relay denied", addr);
		smtp_fail(s, "554 5.7.1 <%s>: Relay access denied", addr);
		return SMTP_NEXT;
	case MTA_RCPT_NOUSER:
		return unknown_rcpt(s, addr);
	case MTA_RCPT_TEMPFAIL:
		smtp_reply(s, "451 4.3.0 <%s>: Recipient lookup failed; try again later", addr);
		return SMTP_NEXT;
	default:
		if (!s->authed)
			smtp_audit_refused(s, "bad recipient address", addr);
		smtp_fail(s, "553 5.1.3 <%s>: Recipient address not accepted here", addr);
		return SMTP_NEXT;
	}
	add_rcpt(t, addr, orcpt, notify);
	s->state = ST_RCPT;
	smtp_reply(s, "250 2.1.5 Ok");
	return SMTP_NEXT;
}
