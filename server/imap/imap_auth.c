/* LOGIN and AUTHENTICATE (RFC 3501 6.2.2, 6.2.3; SASL-IR RFC 4959): PLAIN (RFC 4616) and
 * LOGIN only inside TLS (LOGINDISABLED before STARTTLS on 143), SCRAM-SHA-256 (RFC 5802,
 * RFC 7677) always. App passwords work for LOGIN and PLAIN (auth_check_mail_password); SCRAM
 * uses the account's own secret, so an account that must use app passwords gets the fake
 * secret and fails like an unknown address.
 *
 * The rules are the web sign-in's and SMTP's (server/smtp/smtp_auth.c, the same shape):
 * failures per address as typed (store_login_*: waits, then a lock), an in-memory per-IP limit
 * ([auth] login_ip_per_minute), unknown addresses get a stable fake SCRAM salt, every success
 * and failure is audited with {"protocol":"imap"}. Every step that reads the store runs on the
 * job pool; the loop only counts attempts. The steps shared with SMTP and POP3 are
 * server/net/sasl_srv.h's. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent.h>
#include <openssl/crypto.h>

#include "lib/codec.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/scram.h"
#include "lib/util.h"
#include "server/net/sasl_srv.h"
#include "store/auth.h"

enum mech { M_LOGIN = 1, M_PLAIN, M_SCRAM };
static const char *const mech_names[] = {[M_LOGIN] = "login", [M_PLAIN] = "plain",
					 [M_SCRAM] = "scram-sha-256"};

struct imap_sasl {
	enum mech mech;
	int step;
	char tag[128];
	struct sasl_srv_scram scram;
};

void imap_auth_abort(struct imap_session *s)
{
	if (s->sasl) {
		OPENSSL_cleanse(s->sasl, sizeof(*s->sasl));
		free(s->sasl);
		s->sasl = NULL;
	}
	if (s->mode == MODE_SASL)
		s->mode = MODE_CMD;
}

static void audit(struct imap_session *s, enum mech mech, const char *actor, bool ok,
		  const char *reason, int64_t app_id)
{
	struct buf b;

	buf_init(&b, 0);
	sasl_srv_audit_detail(&b, "imap", mech_names[mech], s->srv->lim.ports[s->kind], ok, reason,
			      app_id);
	netsvc_audit(&s->srv->net, actor, ok ? "auth.login.ok" : "auth.login.fail", s->ip, "imap",
		     b.data, NULL);
	buf_release(&b);
}

/* On a worker: the session is authenticated as acct (open its mailbox) or not. Writes the
 * tagged reply. */
static void conclude(struct imap_session *s, struct buf *out, const char *tag, enum mech mech,
		     const char *address, bool ok, struct store_account *acct, int64_t app_id,
		     const char *reason)
{
	struct imap_server *srv = s->srv;
	struct store_limits lim;
	struct err err;

	if (ok && role_is_admin(acct->role)) {
		ok = false; /* admin roles have no mailbox */
		reason = "admin account";
	}
	if (ok) {
		if (store_account_limits(srv->store, acct->id, &lim, &err) < 0)
			memset(&lim, 0, sizeof(lim));
		if (mailbox_open(srv->mail, acct->id, lim.quota_bytes, &s->mb, &err) < 0) {
			log_error("imap", "sess=%llu user=%s msg=\"cannot open mailbox\" err=\"%s\"",
				  (unsigned long long)s->id, acct->address, err.msg);
			(void)!buf_printf(out, "%s NO [UNAVAILABLE] Mailbox not available\r\n", tag);
			return;
		}
		if (store_login_succeeded(srv->store, address, &err) < 0)
			log_error("imap", "msg=\"clearing sign-in failures failed\" err=\"%s\"", err.msg);
		s->state = ST_AUTH;
		s->account_id = acct->id;
		snprintf(s->user, sizeof(s->user), "%s", acct->address);
		audit(s, mech, acct->address, true, NULL, app_id);
		log_info("imap", "sess=%llu ip=%s user=%s method=%s msg=\"authenticated\"",
			 (unsigned long long)s->id, s->ip, s->user, mech_names[mech]);
		(void)!buf_printf(out, "%s OK [CAPABILITY %s] Logged in\r\n", tag,
				  imap_capabilities(s));
		return;
	}
	if (store_login_failed(srv->store, address, time_now_ms(), &srv->lim.login, &err) < 0)
		log_error("imap", "msg=\"recording a sign-in failure failed\" err=\"%s\"", err.msg);
	audit(s, mech, address, false, reason, 0);
	(void)!buf_printf(out, "%s NO [AUTHENTICATIONFAILED] Authentication failed\r\n", tag);
}

/* LOGIN and PLAIN: a plaintext password (over TLS). */
static void check_password(struct imap_session *s, struct buf *out, const char *tag,
			   enum mech mech, const char *user, const char *pass)
{
	struct imap_server *srv = s->srv;
	char address[STORE_ADDR_MAX + 1];
	struct store_account acct;
	int64_t retry = 0, app_id = 0;
	struct err err;

	sasl_srv_key_address(user, address, sizeof(address));
	if (store_login_allowed(srv->store, address, time_now_ms(), &srv->lim.login, &retry, &err) <
	    0) {
		audit(s, mech, address, false, err.code == ERR_LIMIT ? "locked" : "internal error", 0);
		(void)!buf_printf(out,
				  "%s NO [UNAVAILABLE] Too many failed attempts; try again in %lld "
				  "seconds\r\n",
				  tag, (long long)retry);
		return;
	}
	if (auth_check_mail_password(srv->store, srv->auth_cache, address, pass, &acct, &app_id,
				     &err) == 0) {
		conclude(s, out, tag, mech, address, true, &acct, app_id, NULL);
	} else {
		conclude(s, out, tag, mech, address, false, NULL, 0,
			 err.code == ERR_AUTH ? "bad password or unknown address" : "internal error");
	}
	OPENSSL_cleanse(&acct, sizeof(acct));
}

/* ---- the per-IP limit and the loop side ---- */

static bool ip_allowed(struct imap_session *s)
{
	return netsvc_map_take(&s->srv->auth_ip, s->ip, s->srv->lim.login_ip_per_minute,
			       time_now(), 60);
}

static void exec_login(struct imap_cmdctx *c)
{
	const char *user, *pass;
	size_t ul, pl;
	imap_arg_string(&c->cmd.args[0], &user, &ul);
	imap_arg_string(&c->cmd.args[1], &pass, &pl);
	check_password(c->s, &c->out, c->cmd.tag, M_LOGIN, user, pass);
}

/* The loop part of LOGIN: refuse before TLS and above the per-IP rate. */
static void login_loop(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	const char *u, *p;
	size_t ul, pl;

	if (!s->tls) {
		imap_tagged(c, "NO", "[PRIVACYREQUIRED] LOGIN is disabled before STARTTLS");
	} else if (c->cmd.nargs != 2 || !imap_arg_string(&c->cmd.args[0], &u, &ul) ||
		   !imap_arg_string(&c->cmd.args[1], &p, &pl) || ul == 0 || ul > SCRAM_MAX_USER ||
		   pl == 0 || pl > SASL_SRV_PASS_MAX || memchr(u, '\0', ul) ||
		   memchr(p, '\0', pl)) {
		imap_tagged(c, "BAD", "Usage: LOGIN user password");
	} else if (!ip_allowed(s)) {
		imap_tagged(c, "NO", "[UNAVAILABLE] Too many login attempts; try again later");
	} else {
		imap_run(c, exec_login);
		return;
	}
	imap_cmd_done(c);
}

/* ---- SASL ---- */

static void sasl_fail(struct imap_session *s, struct buf *out, const char *why)
{
	(void)!buf_printf(out, "%s BAD %s\r\n", s->sasl ? s->sasl->tag : "*", why);
	imap_auth_abort(s);
}

static void challenge(struct imap_session *s, struct buf *out, const char *msg, size_t len)
{
	char *b = xmalloc(B64_ENC_LEN(len));
	b64_encode((const unsigned char *)msg, len, b);
	(void)!buf_printf(out, "+ %s\r\n", b);
	free(b);
	s->mode = MODE_SASL;
}

static void plain(struct imap_session *s, struct buf *out, const char *d, size_t n)
{
	char user[SCRAM_MAX_USER + 1], pass[SASL_SRV_PASS_MAX + 1], tag[128];
	struct err err;

	if (sasl_srv_plain(d, n, user, pass, &err) < 0)
		return sasl_fail(s, out,
				 err.code == ERR_DENIED ? "Acting for another user is not allowed"
							: "Malformed PLAIN message");
	snprintf(tag, sizeof(tag), "%s", s->sasl->tag);
	imap_auth_abort(s);
	check_password(s, out, tag, M_PLAIN, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

static void scram_first(struct imap_session *s, struct buf *out, const char *d, size_t n)
{
	struct imap_server *srv = s->srv;
	struct imap_sasl *a = s->sasl;
	int64_t retry = 0;
	struct err err;

	if (sasl_srv_scram_client_first(&a->scram, d, n, &err) < 0)
		return sasl_fail(s, out, "Malformed SCRAM message");
	if (sasl_srv_scram_server_first(&a->scram, &srv->sasl, &retry, &err) < 0) {
		if (err.code == ERR_INVALID)
			return sasl_fail(s, out, "Malformed SCRAM message");
		(void)!buf_printf(out,
				  "%s NO [UNAVAILABLE] Too many failed attempts; try again in %lld "
				  "seconds\r\n",
				  a->tag, (long long)retry);
		imap_auth_abort(s);
		return;
	}
	a->step = 1;
	challenge(s, out, a->scram.server_first, strlen(a->scram.server_first));
}

static void scram_end(struct imap_session *s, struct buf *out, bool ok)
{
	struct imap_sasl *a = s->sasl;
	struct store_account acct;
	char tag[128], address[STORE_ADDR_MAX + 1];
	struct err err;
	int64_t id = a->scram.account_id;

	snprintf(tag, sizeof(tag), "%s", a->tag);
	snprintf(address, sizeof(address), "%s", a->scram.address);
	imap_auth_abort(s);
	memset(&acct, 0, sizeof(acct));
	if (ok && id && store_account_get_id(s->srv->store, id, &acct, &err) == 0 && !acct.disabled)
		conclude(s, out, tag, M_SCRAM, address, true, &acct, 0, NULL);
	else
		conclude(s, out, tag, M_SCRAM, address, false, NULL, 0,
			 id ? "bad proof" : "bad proof or unknown address");
	OPENSSL_cleanse(&acct, sizeof(acct));
}

static void scram(struct imap_session *s, struct buf *out, const char *d, size_t n)
{
	struct imap_sasl *a = s->sasl;
	char fin[SASL_SRV_FINAL_MAX];

	if (a->step == 0)
		return scram_first(s, out, d, n);
	if (a->step == 2) {
		if (n != 0)
			return sasl_fail(s, out, "Unexpected SCRAM data");
		return scram_end(s, out, true);
	}
	if (!sasl_srv_scram_client_final(&a->scram, d, n, fin))
		return scram_end(s, out, false);
	a->step = 2;
	challenge(s, out, fin, strlen(fin));
}

/* One SASL message (decoded), on a worker. */
static void sasl_step(struct imap_session *s, struct buf *out, const char *d, size_t n)
{
	s->mode = MODE_CMD;
	switch (s->sasl->mech) {
	case M_PLAIN:
		plain(s, out, d, n);
		break;
	default:
		scram(s, out, d, n);
	}
}

struct sasl_job {
	struct netsvc_job job;
	char data[SASL_SRV_MAX + 1]; /* decoded */
	size_t n;
	struct buf out;
};

static void sasl_run(struct netsvc_job *j)
{
	struct sasl_job *sj = (struct sasl_job *)j;
	sasl_step(j->s, &sj->out, sj->data, sj->n);
}

static void sasl_done(struct netsvc_job *j)
{
	struct sasl_job *sj = (struct sasl_job *)j;
	struct imap_session *s = j->s;
	if (s) {
		s->busy = false;
		if (imap_alive(s)) {
			if (sj->out.len)
				bufferevent_write(s->bev, sj->out.data, sj->out.len);
			if (s->state & ST_AUTHED) {
				imap_session_authed(s);
				imap_session_limits(s);
			}
			imap_resume(s);
		}
	}
	OPENSSL_cleanse(sj->data, sj->n);
	buf_release(&sj->out);
	free(sj);
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	struct sasl_job *sj;

	s->mode = MODE_CMD;
	if (s->sasl == NULL)
		return;
	if (len == 1 && line[0] == '*') {
		imap_reply(s, "%s BAD Authentication cancelled", s->sasl->tag);
		imap_auth_abort(s);
		return;
	}
	sj = xcalloc(1, sizeof(*sj));
	if (sasl_srv_decode(line, len, sj->data, &sj->n) < 0) {
		imap_reply(s, "%s BAD Malformed SASL message", s->sasl->tag);
		imap_auth_abort(s);
		free(sj);
		return;
	}
	buf_init(&sj->out, 0);
	sj->job.run = sasl_run;
	sj->job.done = sasl_done;
	s->busy = true;
	imap_job_start(s, &sj->job);
}

/* AUTHENTICATE with an initial response: the first step runs as the command's job. */
static void exec_ir(struct imap_cmdctx *c)
{
	const char *ir;
	size_t len, n;
	char *d = arena_alloc(c->a, SASL_SRV_MAX + 1);

	imap_arg_string(&c->cmd.args[1], &ir, &len);
	if (sasl_srv_decode(ir, len, d, &n) < 0) {
		sasl_fail(c->s, &c->out, "Malformed SASL message");
		return;
	}
	sasl_step(c->s, &c->out, d, n);
	OPENSSL_cleanse(d, n);
}

void imap_cmd_authenticate(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	const char *m, *ir;
	size_t ml, irl;
	enum mech mech = 0;

	if (c->cmd.nargs < 1 || c->cmd.nargs > 2 || !imap_arg_string(&c->cmd.args[0], &m, &ml) ||
	    (c->cmd.nargs == 2 && !imap_arg_string(&c->cmd.args[1], &ir, &irl))) {
		imap_tagged(c, "BAD", "Usage: AUTHENTICATE mechanism [initial-response]");
		imap_cmd_done(c);
		return;
	}
	if (strcasecmp(m, "PLAIN") == 0)
		mech = M_PLAIN;
	else if (strcasecmp(m, "SCRAM-SHA-256") == 0)
		mech = M_SCRAM;
	if (mech == 0) {
		imap_tagged(c, "NO", "Unsupported authentication mechanism");
	} else if (mech == M_PLAIN && !s->tls) {
		imap_tagged(c, "NO", "[PRIVACYREQUIRED] PLAIN is only allowed after STARTTLS");
	} else if (strlen(c->cmd.tag) >= sizeof(s->sasl->tag)) {
		imap_tagged(c, "BAD", "Tag too long");
	} else if (!ip_allowed(s)) {
		imap_tagged(c, "NO", "[UNAVAILABLE] Too many login attempts; try again later");
	} else {
		imap_auth_abort(s);
		s->sasl = xcalloc(1, sizeof(*s->sasl));
		s->sasl->mech = mech;
		snprintf(s->sasl->tag, sizeof(s->sasl->tag), "%s", c->cmd.tag);
		if (c->cmd.nargs == 2) {
			imap_run(c, exec_ir);
			return;
		}
		imap_out(c, "+ ");
		s->mode = MODE_SASL;
	}
	imap_cmd_done(c);
}

void imap_cmd_login(struct imap_cmdctx *c)
{
	login_loop(c);
}
