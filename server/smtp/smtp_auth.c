/* AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN only inside TLS, SCRAM-SHA-256 (RFC 5802,
 * RFC 7677) also without. The SASL exchange is a session mode (MODE_SASL), not a loop.
 *
 * Failures follow the web sign-in's rules (store_login_*: per address as typed, waits and
 * then a lock) plus an in-memory per-IP limit ([auth] login_ip_per_minute). Password checks
 * (PBKDF2), SCRAM's account lookup, the failure bookkeeping and the audit record run on the
 * job pool; the session waits meanwhile. Unknown addresses get a fake SCRAM salt and fail like
 * wrong passwords. The steps shared with IMAP and POP3 are server/net/sasl_srv.h's. */
#include "smtp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "lib/codec.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/scram.h"
#include "lib/util.h"
#include "server/net/sasl_srv.h"
#include "store/auth.h"

enum mech { M_PLAIN = 1, M_LOGIN, M_SCRAM };

static const char *const mech_names[] = {
	[M_PLAIN] = "plain",
	[M_LOGIN] = "login",
	[M_SCRAM] = "scram-sha-256",
};

struct smtp_sasl {
	enum mech mech;
	int step;
	char user[SCRAM_MAX_USER + 1]; /* LOGIN: the user name given at step 1 */
	struct sasl_srv_scram scram;
};

const char *smtp_auth_mechs(const struct smtp_session *s)
{
	if (s->tls)
		return "PLAIN LOGIN SCRAM-SHA-256";
	return smtp_is_submission(s) ? "SCRAM-SHA-256" : ""; /* port 25: after STARTTLS only */
}

void smtp_auth_abort(struct smtp_session *s)
{
	if (s->sasl) {
		OPENSSL_cleanse(s->sasl, sizeof(*s->sasl));
		free(s->sasl);
		s->sasl = NULL;
	}
	if (s->mode == MODE_SASL)
		s->mode = MODE_CMD;
}

/* ---- the job: check, bookkeeping, audit ---- */

enum auth_result { AUTH_OK, AUTH_FAIL, AUTH_LIMIT };

struct auth_job {
	struct netsvc_job job;
	struct smtp_server *srv;
	enum mech mech;
	bool scram_ok;        /* SCRAM: the proof was verified on the loop */
	int64_t account_id;   /* SCRAM: the account it belongs to */
	char address[STORE_ADDR_MAX + 1];
	char *password;       /* PLAIN/LOGIN, cleansed and freed after use */
	char ip[64];
	int port;
	const char *reason;
	enum auth_result result;
	int64_t retry, app_id;
	struct store_account acct;
	struct store_limits limits;
};

static void auth_audit(struct auth_job *j)
{
	struct buf b;
	bool ok = j->result == AUTH_OK;

	buf_init(&b, 0);
	sasl_srv_audit_detail(&b, "smtp", mech_names[j->mech], j->port, ok, j->reason, j->app_id);
	netsvc_audit_now(&j->srv->net, ok ? j->acct.address : j->address,
			 ok ? "auth.login.ok" : "auth.login.fail", j->ip, "smtp", b.data);
	buf_release(&b);
}

static void auth_run(struct netsvc_job *jb)
{
	struct auth_job *j = (struct auth_job *)jb;
	struct smtp_server *srv = j->srv;
	struct err err;

	j->result = AUTH_FAIL;
	if (j->mech != M_SCRAM) {
		if (store_login_allowed(srv->store, j->address, time_now_ms(), &srv->lim.login,
					&j->retry, &err) < 0) {
			j->result = err.code == ERR_LIMIT ? AUTH_LIMIT : AUTH_FAIL;
			j->reason = err.code == ERR_LIMIT ? "locked" : "internal error";
			goto out;
		}
		if (auth_check_mail_password(srv->store, srv->auth_cache, j->address, j->password,
					     &j->acct, &j->app_id, &err) == 0) {
			j->result = AUTH_OK;
		} else {
			j->reason = err.code == ERR_AUTH ? "bad password or unknown address"
							 : "internal error";
		}
	} else if (j->scram_ok && store_account_get_id(srv->store, j->account_id, &j->acct,
						       &err) == 0 && !j->acct.disabled) {
		j->result = AUTH_OK;
	} else {
		j->reason = j->account_id ? "bad proof" : "bad proof or unknown address";
	}
	if (j->result == AUTH_OK && role_is_admin(j->acct.role)) {
		/* admin roles have no mailbox and send no mail */
		j->result = AUTH_FAIL;
		j->reason = "admin account";
	}
	if (j->result == AUTH_OK) {
		if (store_login_succeeded(srv->store, j->address, &err) < 0)
			log_error("smtp", "msg=\"clearing sign-in failures failed\" err=\"%s\"",
				  err.msg);
		if (store_account_limits(srv->store, j->acct.id, &j->limits, &err) < 0)
			memset(&j->limits, 0, sizeof(j->limits));
	} else if (store_login_failed(srv->store, j->address, time_now_ms(), &srv->lim.login,
				      &err) < 0) {
		log_error("smtp", "msg=\"recording a sign-in failure failed\" err=\"%s\"", err.msg);
	}
out:
	if (j->password) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
		j->password = NULL;
	}
	auth_audit(j);
}

static void auth_done(struct netsvc_job *jb)
{
	struct auth_job *j = (struct auth_job *)jb;
	struct smtp_session *s = jb->s;

	if (s && smtp_alive(s)) {
		switch (j->result) {
		case AUTH_OK:
			s->authed = true;
			s->account_id = j->acct.id;
			snprintf(s->user, sizeof(s->user), "%s", j->acct.address);
			s->user_max_message = j->limits.max_message_bytes;
			s->user_max_rcpts = j->limits.max_recipients;
			log_info("smtp", "sess=%llu ip=%s user=%s method=%s msg=\"authenticated\"",
				 (unsigned long long)s->id, s->ip, s->user, mech_names[j->mech]);
			smtp_reply(s, "235 2.7.0 Authentication successful");
			break;
		case AUTH_LIMIT:
			smtp_fail(s, "454 4.7.0 Too many failed attempts; try again in %lld seconds",
				  (long long)j->retry);
			break;
		default:
			smtp_fail(s, "535 5.7.8 Authentication credentials invalid");
		}
		smtp_resume(s);
	}
	OPENSSL_cleanse(&j->acct.secret, sizeof(j->acct.secret));
	free(j);
}

static enum smtp_ret start_job(struct smtp_session *s, enum mech mech, const char *user,
			       const char *password, bool scram_ok, int64_t account_id)
{
	struct auth_job *j = xcalloc(1, sizeof(*j));

	j->job.run = auth_run;
	j->job.done = auth_done;
	j->srv = s->srv;
	j->mech = mech;
	j->scram_ok = scram_ok;
	j->account_id = account_id;
	sasl_srv_key_address(user, j->address, sizeof(j->address));
	j->password = password ? xstrdup(password) : NULL;
	snprintf(j->ip, sizeof(j->ip), "%s", s->ip);
	j->port = s->port;
	smtp_auth_abort(s);
	smtp_wait(s);
	smtp_job_start(s, &j->job);
	return SMTP_STOP;
}

/* ---- the mechanisms ---- */

static void challenge(struct smtp_session *s, const char *msg, size_t len)
{
	char *b = arena_alloc(s->cmd, B64_ENC_LEN(len));
	b64_encode((const unsigned char *)msg, len, b);
	smtp_reply(s, "334 %s", b);
	s->mode = MODE_SASL;
}

static enum smtp_ret bad_message(struct smtp_session *s)
{
	smtp_auth_abort(s);
	smtp_fail(s, "501 5.5.2 Malformed authentication message");
	return SMTP_NEXT;
}

static enum smtp_ret plain(struct smtp_session *s, const char *d, size_t n)
{
	char user[SCRAM_MAX_USER + 1], pass[SASL_SRV_PASS_MAX + 1];
	enum smtp_ret r;
	struct err err;

	if (sasl_srv_plain(d, n, user, pass, &err) < 0)
		return bad_message(s);
	r = start_job(s, M_PLAIN, user, pass, false, 0);
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}

static enum smtp_ret login(struct smtp_session *s, const char *d, size_t n)
{
	struct smtp_sasl *a = s->sasl;
	char pass[SASL_SRV_PASS_MAX + 1];
	enum smtp_ret r;

	if (a->step == 0) { /* the user name */
		if (n == 0 || n > SCRAM_MAX_USER || memchr(d, '\0', n))
			return bad_message(s);
		memcpy(a->user, d, n);
		a->user[n] = '\0';
		a->step = 1;
		smtp_reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
		s->mode = MODE_SASL;
		return SMTP_NEXT;
	}
	if (n == 0 || n >= sizeof(pass) || memchr(d, '\0', n))
		return bad_message(s);
	memcpy(pass, d, n);
	pass[n] = '\0';
	r = start_job(s, M_LOGIN, a->user, pass, false, 0);
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}

/* SCRAM step one came back from the worker (the lockout, the account's secret or a fake
 * one, server-first: sasl_srv_first_job_new). */
static void first_done(struct netsvc_job *jb)
{
	struct sasl_srv_first_job *j = (struct sasl_srv_first_job *)jb;
	struct smtp_session *s = jb->s;

	if (s && smtp_alive(s)) {
		if (j->rc == 0) {
			const char *sf = s->sasl->scram.server_first;
			s->sasl->step = 1;
			challenge(s, sf, strlen(sf));
		} else if (j->err.code == ERR_INVALID) {
			(void)bad_message(s);
		} else {
			smtp_auth_abort(s);
			if (j->err.code == ERR_LIMIT)
				smtp_fail(s, "454 4.7.0 Too many failed attempts; try again in "
					     "%lld seconds", (long long)j->retry);
			else
				smtp_fail(s, "454 4.7.0 Temporary authentication failure");
		}
		smtp_resume(s);
	}
	free(j);
}

static enum smtp_ret scram_first(struct smtp_session *s, const char *d, size_t n)
{
	struct sasl_srv_first_job *j;
	struct err err;

	if (sasl_srv_scram_client_first(&s->sasl->scram, d, n, &err) < 0)
		return bad_message(s);
	/* the store is read on a worker, never on the loop */
	j = sasl_srv_first_job_new(&s->srv->sasl, &s->sasl->scram, first_done);
	smtp_wait(s);
	smtp_job_start(s, &j->job);
	return SMTP_STOP;
}

static enum smtp_ret scram(struct smtp_session *s, const char *d, size_t n)
{
	struct smtp_sasl *a = s->sasl;
	struct sasl_srv_scram *sc = &a->scram;
	char fin[SASL_SRV_FINAL_MAX];

	if (a->step == 0)
		return scram_first(s, d, n);
	if (a->step == 2) { /* the client's empty answer to our server-final */
		if (n != 0)
			return bad_message(s);
		return start_job(s, M_SCRAM, sc->address, NULL, true, sc->account_id);
	}
	if (!sasl_srv_scram_client_final(sc, d, n, fin))
		return start_job(s, M_SCRAM, sc->address, NULL, false, sc->account_id);
	/* RFC 4954 4: no additional data with 235, so server-final goes in a 334 */
	a->step = 2;
	challenge(s, fin, strlen(fin));
	return SMTP_NEXT;
}

static enum smtp_ret step(struct smtp_session *s, const char *d, size_t n)
{
	switch (s->sasl->mech) {
	case M_PLAIN:
		return plain(s, d, n);
	case M_LOGIN:
		return login(s, d, n);
	default:
		return scram(s, d, n);
	}
}

/* A base64 SASL response into the command's arena (sasl_srv_decode). */
static int decode(struct smtp_session *s, const char *b, size_t len, char **d_r, size_t *n_r)
{
	*d_r = arena_alloc(s->cmd, SASL_SRV_MAX + 1);
	return sasl_srv_decode(b, len, *d_r, n_r);
}

enum smtp_ret smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	char *d;
	size_t n;

	s->mode = MODE_CMD;
	if (s->sasl == NULL)
		return SMTP_NEXT;
	if (len == 1 && line[0] == '*') {
		smtp_auth_abort(s);
		smtp_fail(s, "501 5.7.0 Authentication cancelled");
		return SMTP_NEXT;
	}
	if (decode(s, line, len, &d, &n) < 0)
		return bad_message(s);
	return step(s, d, n);
}

enum smtp_ret smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t len)
{
	struct smtp_server *srv = s->srv;
	const char *sp = memchr(arg, ' ', len);
	size_t ml = sp ? (size_t)(sp - arg) : len;
	enum mech mech = 0;
	char *d;
	size_t n;

	if (s->authed) {
		smtp_fail(s, "503 5.5.1 Already authenticated");
		return SMTP_NEXT;
	}
	if (!s->esmtp) {
		smtp_fail(s, "503 5.5.1 Send EHLO first");
		return SMTP_NEXT;
	}
	if (ml == 5 && strncasecmp(arg, "PLAIN", 5) == 0)
		mech = M_PLAIN;
	else if (ml == 5 && strncasecmp(arg, "LOGIN", 5) == 0)
		mech = M_LOGIN;
	else if (ml == 13 && strncasecmp(arg, "SCRAM-SHA-256", 13) == 0)
		mech = M_SCRAM;
	if (mech == 0) {
		smtp_fail(s, "504 5.5.4 Unrecognized authentication type");
		return SMTP_NEXT;
	}
	if (!s->tls && (mech != M_SCRAM || !smtp_is_submission(s))) {
		/* a password in the clear, or AUTH on port 25 before STARTTLS */
		smtp_fail(s, "538 5.7.11 Encryption required for requested authentication "
			     "mechanism");
		return SMTP_NEXT;
	}
	if (!netsvc_map_take(&srv->auth_ip, s->ip, srv->lim.login_ip_per_minute, time_now(), 60)) {
		smtp_fail(s, "454 4.7.0 Too many authentication attempts; try again later");
		return SMTP_NEXT;
	}
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	s->sasl->mech = mech;
	if (sp == NULL) { /* no initial response: ask for it */
		if (mech == M_LOGIN)
			smtp_reply(s, "334 VXNlcm5hbWU6"); /* "Username:" */
		else
			smtp_reply(s, "334 ");
		s->mode = MODE_SASL;
		return SMTP_NEXT;
	}
	while (sp < arg + len && *sp == ' ')
		sp++;
	if (decode(s, sp, len - (size_t)(sp - arg), &d, &n) < 0)
		return bad_message(s);
	return step(s, d, n);
}
