/* AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN only inside TLS, SCRAM-SHA-256 (RFC 5802,
 * RFC 7677) also without. The SASL exchange is a session mode (MODE_SASL), not a loop.
 *
 * Failures follow the web sign-in's rules (store_login_*: per address as typed, waits and
 * then a lock) plus an in-memory per-IP limit ([auth] login_ip_per_minute). Password checks
 * (PBKDF2), the failure bookkeeping and the audit record run on the job pool; the session
 * waits meanwhile. Unknown addresses get a fake SCRAM salt and fail like wrong passwords. */
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
#include "store/audit.h"
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
	/* SCRAM */
	struct scram_client_first cf;
	char server_first[SCRAM_MAX_MSG + 1];
	struct scram_secret secret;
	int64_t account_id; /* 0: unknown (the fake secret) */
	char address[STORE_ADDR_MAX + 1];
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

/* The address as the throttle keys it: normalised when it is an address at all. */
static void key_address(const char *typed, char *out, size_t outsz)
{
	struct err err;
	if (store_address_normalise(typed, out, outsz, &err) < 0)
		snprintf(out, outsz, "%s", typed);
}

/* ---- the job: check, bookkeeping, audit ---- */

enum auth_result { AUTH_OK, AUTH_FAIL, AUTH_LIMIT };

struct auth_job {
	struct smtp_job job;
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
	bool first = true;
	struct err err;
	struct audit_rec r = {
		.actor = j->result == AUTH_OK ? j->acct.address : j->address,
		.type = j->result == AUTH_OK ? "auth.login.ok" : "auth.login.fail",
		.ip = j->ip,
		.client = "smtp",
	};

	buf_init(&b, 0);
	smtp_json_kv(&b, "protocol", "smtp", &first);
	smtp_json_kv(&b, "method", mech_names[j->mech], &first);
	smtp_json_ki(&b, "port", j->port, &first);
	if (j->result != AUTH_OK)
		smtp_json_kv(&b, "reason", j->reason, &first);
	if (j->app_id)
		smtp_json_ki(&b, "app_password", j->app_id, &first);
	(void)!buf_puts(&b, "}");
	r.detail = b.data;
	if (store_audit_append(j->srv->audit, &r, &err) < 0)
		log_error("smtp", "msg=\"audit append failed\" err=\"%s\"", err.msg);
	buf_release(&b);
}

static void auth_run(struct smtp_job *jb)
{
	struct auth_job *j = (struct auth_job *)jb;
	struct smtp_server *srv = j->srv;
	struct err err;
	int64_t now = time_now();

	j->result = AUTH_FAIL;
	if (j->mech != M_SCRAM) {
		if (store_login_allowed(srv->store, j->address, now, &srv->lim.login, &j->retry,
					&err) < 0) {
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
	} else if (store_login_failed(srv->store, j->address, now, &srv->lim.login, &err) < 0) {
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

static void auth_done(struct smtp_job *jb)
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
	key_address(user, j->address, sizeof(j->address));
	j->password = password ? xstrdup(password) : NULL;
	snprintf(j->ip, sizeof(j->ip), "%s", s->ip);
	j->port = s->port;
	smtp_auth_abort(s);
	smtp_wait(s);
	smtp_job_start(s, &s->srv->jobs, &j->job);
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

/* RFC 4616: [authzid] NUL authcid NUL passwd */
static enum smtp_ret plain(struct smtp_session *s, const char *d, size_t n)
{
	const char *nul1 = memchr(d, '\0', n), *nul2;
	char user[SCRAM_MAX_USER + 1], pass[1025];
	size_t zl, ul, pl;
	enum smtp_ret r;

	if (nul1 == NULL || (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - d))) == NULL)
		return bad_message(s);
	zl = (size_t)(nul1 - d);
	ul = (size_t)(nul2 - nul1 - 1);
	pl = n - (size_t)(nul2 + 1 - d);
	if (ul == 0 || ul > SCRAM_MAX_USER || pl == 0 || pl >= sizeof(pass) ||
	    memchr(nul2 + 1, '\0', pl) != NULL)
		return bad_message(s);
	memcpy(user, nul1 + 1, ul);
	user[ul] = '\0';
	memcpy(pass, nul2 + 1, pl);
	pass[pl] = '\0';
	/* acting for another user is not offered: an authzid must name the same one */
	if (zl && (zl != ul || strncasecmp(d, user, ul) != 0)) {
		OPENSSL_cleanse(pass, sizeof(pass));
		return bad_message(s);
	}
	r = start_job(s, M_PLAIN, user, pass, false, 0);
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}

static enum smtp_ret login(struct smtp_session *s, const char *d, size_t n)
{
	struct smtp_sasl *a = s->sasl;
	char pass[1025];
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

static enum smtp_ret scram_first(struct smtp_session *s, const char *d, size_t n)
{
	struct smtp_server *srv = s->srv;
	struct smtp_sasl *a = s->sasl;
	struct store_account acct;
	struct store_mail_settings *ms;
	unsigned char raw[18];
	char nonce[B64_ENC_LEN(18)];
	int64_t retry;
	struct err err;

	if (scram_client_first_parse(d, n, &a->cf, &err) < 0)
		return bad_message(s);
	key_address(a->cf.user, a->address, sizeof(a->address));
	if (store_login_allowed(srv->store, a->address, time_now(), &srv->lim.login, &retry,
				&err) < 0) {
		smtp_auth_abort(s);
		if (err.code == ERR_LIMIT)
			smtp_fail(s, "454 4.7.0 Too many failed attempts; try again in %lld seconds",
				  (long long)retry);
		else
			smtp_fail(s, "454 4.7.0 Temporary authentication failure");
		return SMTP_NEXT;
	}
	ms = arena_alloc(s->cmd, sizeof(*ms));
	if (store_account_get(srv->store, a->address, &acct, &err) == 0 && !acct.disabled &&
	    !role_is_admin(acct.role) &&
	    store_mail_settings_get(srv->store, acct.id, ms, &err) == 0 &&
	    !ms->require_app_password) {
		a->account_id = acct.id;
		a->secret = acct.secret;
	} else {
		/* unknown, disabled, admin, or app passwords only (they have no SCRAM salt of
		 * their own here): the same exchange, bound to fail */
		scram_secret_fake(srv->secret, sizeof(srv->secret), a->address,
				  srv->lim.scram_iterations, &a->secret);
	}
	OPENSSL_cleanse(&acct.secret, sizeof(acct.secret));
	rand_bytes(raw, sizeof(raw));
	b64_encode(raw, sizeof(raw), nonce);
	if (scram_server_first(&a->cf, nonce, &a->secret, a->server_first,
			       sizeof(a->server_first), &err) < 0)
		return bad_message(s);
	a->step = 1;
	challenge(s, a->server_first, strlen(a->server_first));
	return SMTP_NEXT;
}

static enum smtp_ret scram(struct smtp_session *s, const char *d, size_t n)
{
	struct smtp_sasl *a = s->sasl;
	struct scram_client_final *cfin;
	char sig[B64_ENC_LEN(SCRAM_KEY_LEN)], *fin;
	struct err err;

	if (a->step == 0)
		return scram_first(s, d, n);
	if (a->step == 2) { /* the client's empty answer to our server-final */
		if (n != 0)
			return bad_message(s);
		return start_job(s, M_SCRAM, a->address, NULL, true, a->account_id);
	}
	cfin = arena_alloc(s->cmd, sizeof(*cfin));
	if (scram_client_final_parse(d, n, a->cf.gs2_header, cfin, &err) < 0 ||
	    !scram_verify(&a->secret, &a->cf, a->server_first, cfin, sig) || a->account_id == 0)
		return start_job(s, M_SCRAM, a->address, NULL, false, a->account_id);
	/* RFC 4954 4: no additional data with 235, so server-final goes in a 334 */
	fin = arena_printf(s->cmd, "v=%s", sig);
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

/* Decode a base64 SASL response; "=" is the empty initial response (RFC 4954 4). */
static int decode(struct smtp_session *s, const char *b, size_t len, char **d_r, size_t *n_r)
{
	char *d;
	if (len == 1 && b[0] == '=') {
		*d_r = arena_strdup(s->cmd, "");
		*n_r = 0;
		return 0;
	}
	if (len / 4 * 3 > SMTP_SASL_MAX)
		return -1;
	d = arena_alloc(s->cmd, len / 4 * 3 + 1);
	if (len == 0) {
		*d_r = d;
		*n_r = 0;
		return 0;
	}
	if (b64_decode(b, len, (unsigned char *)d, n_r) < 0)
		return -1;
	d[*n_r] = '\0';
	*d_r = d;
	return 0;
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
	int64_t now = time_now();
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
	if (smtp_map_get(&srv->auth_ip, s->ip, now, 60) >= srv->lim.login_ip_per_minute) {
		smtp_fail(s, "454 4.7.0 Too many authentication attempts; try again later");
		return SMTP_NEXT;
	}
	smtp_map_add(&srv->auth_ip, s->ip, 1, now, 60);
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
