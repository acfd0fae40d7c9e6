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
 * job pool; the loop only counts attempts. */
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
#include "store/audit.h"
#include "store/auth.h"


enum mech { M_LOGIN = 1, M_PLAIN, M_SCRAM };
static const char *const mech_names[] = {[M_LOGIN] = "login", [M_PLAIN] = "plain",
					 [M_SCRAM] = "scram-sha-256"};

struct imap_sasl {
	enum mech mech;
	int step;
	char tag[128];
	struct scram_client_first cf;
	char server_first[SCRAM_MAX_MSG + 1];
	struct scram_secret secret;
	int64_t account_id;
	char address[STORE_ADDR_MAX + 1];
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

static void key_address(const char *typed, char *out, size_t outsz)
{
	struct err err;
	if (store_address_normalise(typed, out, outsz, &err) < 0)
		snprintf(out, outsz, "%s", typed);
}

static void audit(struct imap_session *s, enum mech mech, const char *actor, bool ok,
		  const char *reason, int64_t app_id)
{
	struct buf b;
	bool first = true;

	buf_init(&b, 0);
	imap_json_kv(&b, "protocol", "imap", &first);
	imap_json_kv(&b, "method", mech_names[mech], &first);
	imap_json_ki(&b, "port", s->srv->lim.ports[s->kind], &first);
	if (!ok)
		imap_json_kv(&b, "reason", reason, &first);
	if (app_id)
		imap_json_ki(&b, "app_password", app_id, &first);
	(void)!buf_puts(&b, "}");
	imap_audit(s->srv, actor, ok ? "auth.login.ok" : "auth.login.fail", s->ip, b.data);
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
	if (store_login_failed(srv->store, address, time_now(), &srv->lim.login, &err) < 0)
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

	key_address(user, address, sizeof(address));
	if (store_login_allowed(srv->store, address, time_now(), &srv->lim.login, &retry, &err) <
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
	struct imap_server *srv = s->srv;
	int64_t now = time_now();
	if (imap_map_get(&srv->auth_ip, s->ip, now, 60) >= srv->lim.login_ip_per_minute)
		return false;
	imap_map_add(&srv->auth_ip, s->ip, 1, now, 60);
	return true;
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
		   pl == 0 || pl > 1024 || memchr(u, '\0', ul) || memchr(p, '\0', pl)) {
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
	const char *nul1 = memchr(d, '\0', n), *nul2;
	char user[SCRAM_MAX_USER + 1], pass[1025], tag[128];
	size_t zl, ul, pl;

	if (nul1 == NULL || (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - d))) == NULL)
		return sasl_fail(s, out, "Malformed PLAIN message");
	zl = (size_t)(nul1 - d);
	ul = (size_t)(nul2 - nul1 - 1);
	pl = n - (size_t)(nul2 + 1 - d);
	if (ul == 0 || ul > SCRAM_MAX_USER || pl == 0 || pl >= sizeof(pass) ||
	    memchr(nul2 + 1, '\0', pl) != NULL)
		return sasl_fail(s, out, "Malformed PLAIN message");
	memcpy(user, nul1 + 1, ul);
	user[ul] = '\0';
	memcpy(pass, nul2 + 1, pl);
	pass[pl] = '\0';
	if (zl && (zl != ul || strncasecmp(d, user, ul) != 0)) {
		OPENSSL_cleanse(pass, sizeof(pass));
		return sasl_fail(s, out, "Acting for another user is not allowed");
	}
	snprintf(tag, sizeof(tag), "%s", s->sasl->tag);
	imap_auth_abort(s);
	check_password(s, out, tag, M_PLAIN, user, pass);
	OPENSSL_cleanse(pass, sizeof(pass));
}

static void scram_first(struct imap_session *s, struct buf *out, const char *d, size_t n)
{
	struct imap_server *srv = s->srv;
	struct imap_sasl *a = s->sasl;
	struct store_account acct;
	struct store_mail_settings ms;
	unsigned char raw[18];
	char nonce[B64_ENC_LEN(18)];
	int64_t retry;
	struct err err;

	if (scram_client_first_parse(d, n, &a->cf, &err) < 0)
		return sasl_fail(s, out, "Malformed SCRAM message");
	key_address(a->cf.user, a->address, sizeof(a->address));
	if (store_login_allowed(srv->store, a->address, time_now(), &srv->lim.login, &retry,
				&err) < 0) {
		(void)!buf_printf(out,
				  "%s NO [UNAVAILABLE] Too many failed attempts; try again in %lld "
				  "seconds\r\n",
				  a->tag, (long long)retry);
		imap_auth_abort(s);
		return;
	}
	memset(&acct, 0, sizeof(acct));
	if (store_account_get(srv->store, a->address, &acct, &err) == 0 && !acct.disabled &&
	    !role_is_admin(acct.role) && store_mail_settings_get(srv->store, acct.id, &ms, &err) == 0 &&
	    !ms.require_app_password) {
		a->account_id = acct.id;
		a->secret = acct.secret;
	} else {
		scram_secret_fake(srv->secret, sizeof(srv->secret), a->address,
				  srv->lim.scram_iterations, &a->secret);
	}
	OPENSSL_cleanse(&acct.secret, sizeof(acct.secret));
	rand_bytes(raw, sizeof(raw));
	b64_encode(raw, sizeof(raw), nonce);
	if (scram_server_first(&a->cf, nonce, &a->secret, a->server_first,
			       sizeof(a->server_first), &err) < 0)
		return sasl_fail(s, out, "Malformed SCRAM message");
	a->step = 1;
	challenge(s, out, a->server_first, strlen(a->server_first));
}

static void scram_end(struct imap_session *s, struct buf *out, bool ok)
{
	struct imap_sasl *a = s->sasl;
	struct store_account acct;
	char tag[128], address[STORE_ADDR_MAX + 1];
	struct err err;
	int64_t id = a->account_id;

	snprintf(tag, sizeof(tag), "%s", a->tag);
	snprintf(address, sizeof(address), "%s", a->address);
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
	struct scram_client_final cfin;
	char sig[B64_ENC_LEN(SCRAM_KEY_LEN)], fin[8 + sizeof(sig)];
	struct err err;

	if (a->step == 0)
		return scram_first(s, out, d, n);
	if (a->step == 2) {
		if (n != 0)
			return sasl_fail(s, out, "Unexpected SCRAM data");
		return scram_end(s, out, true);
	}
	if (scram_client_final_parse(d, n, a->cf.gs2_header, &cfin, &err) < 0 ||
	    !scram_verify(&a->secret, &a->cf, a->server_first, &cfin, sig) || a->account_id == 0)
		return scram_end(s, out, false);
	snprintf(fin, sizeof(fin), "v=%s", sig);
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

static int decode(const char *b, size_t len, char **d_r, size_t *n_r)
{
	char *d;
	if (len == 1 && b[0] == '=') {
		*d_r = xstrdup("");
		*n_r = 0;
		return 0;
	}
	if (len / 4 * 3 > IMAP_SASL_MAX)
		return -1;
	d = xmalloc(len / 4 * 3 + 1);
	*n_r = 0;
	if (len && b64_decode(b, len, (unsigned char *)d, n_r) < 0) {
		free(d);
		return -1;
	}
	d[*n_r] = '\0';
	*d_r = d;
	return 0;
}

struct sasl_job {
	struct imap_job job;
	char *data;
	size_t n;
	struct buf out;
};

static void sasl_run(struct imap_job *j)
{
	struct sasl_job *sj = (struct sasl_job *)j;
	sasl_step(j->s, &sj->out, sj->data, sj->n);
}

static void sasl_done(struct imap_job *j)
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
	free(sj->data);
	buf_release(&sj->out);
	free(sj);
}

void imap_auth_line(struct imap_session *s, const char *line, size_t len)
{
	struct sasl_job *sj;
	char *d;
	size_t n;

	s->mode = MODE_CMD;
	if (s->sasl == NULL)
		return;
	if (len == 1 && line[0] == '*') {
		imap_reply(s, "%s BAD Authentication cancelled", s->sasl->tag);
		imap_auth_abort(s);
		return;
	}
	if (decode(line, len, &d, &n) < 0) {
		imap_reply(s, "%s BAD Malformed SASL message", s->sasl->tag);
		imap_auth_abort(s);
		return;
	}
	sj = xcalloc(1, sizeof(*sj));
	sj->data = d;
	sj->n = n;
	buf_init(&sj->out, 0);
	sj->job.run = sasl_run;
	sj->job.done = sasl_done;
	s->busy = true;
	imap_job_start(s, &s->srv->jobs, &sj->job);
}

/* AUTHENTICATE with an initial response: the first step runs as the command's job. */
static void exec_ir(struct imap_cmdctx *c)
{
	const char *ir;
	size_t len;
	char *d;
	size_t n;
	imap_arg_string(&c->cmd.args[1], &ir, &len);
	if (decode(ir, len, &d, &n) < 0) {
		sasl_fail(c->s, &c->out, "Malformed SASL message");
		return;
	}
	sasl_step(c->s, &c->out, d, n);
	OPENSSL_cleanse(d, n);
	free(d);
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
