/* USER/PASS (RFC 1939 section 7) and AUTH (RFC 5034): PLAIN (RFC 4616) and USER/PASS only
 * inside TLS, SCRAM-SHA-256 (RFC 5802, RFC 7677) also without; the exchange is a session mode
 * (MODE_SASL), not a loop. Done the way server/smtp/smtp_auth.c does it: SCRAM's
 * server-final message goes in a "+ " continuation answered by an empty line, since a POP3
 * +OK carries no SASL data.
 *
 * Failures follow the web sign-in's rules (store_login_*: per address as typed, waits and
 * then a lock) plus an in-memory per-IP limit ([auth] login_ip_per_minute). Everything that
 * reads the store (SCRAM's account lookup, password checks, the bookkeeping, the audit record,
 * opening the maildrop) runs on the job pool; the session waits meanwhile. Unknown addresses
 * get a fake SCRAM salt and fail like wrong passwords.
 *
 * Response codes (RFC 2449 section 8, RFC 3206): [AUTH] for credentials and for plaintext
 * passwords outside TLS, [LOGIN-DELAY] while the lockout or the per-IP limit holds (the
 * password may well be right: try later, do not ask for another), [IN-USE] when another
 * session has the maildrop, [SYS/TEMP] for our own failures. The steps shared with SMTP and
 * IMAP are server/net/sasl_srv.h's. */
#include "pop3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "lib/codec.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/util.h"
#include "server/net/sasl_srv.h"
#include "store/auth.h"

enum mech { M_USER = 1, M_PLAIN, M_SCRAM };

static const char *const mech_names[] = {
	[M_USER] = "user",
	[M_PLAIN] = "plain",
	[M_SCRAM] = "scram-sha-256",
};

struct pop3_sasl {
	enum mech mech;
	int step;
	struct sasl_srv_scram scram;
};

const char *pop3_auth_mechs(const struct pop3_session *s)
{
	return s->tls ? "PLAIN SCRAM-SHA-256" : "SCRAM-SHA-256";
}

void pop3_auth_abort(struct pop3_session *s)
{
	if (s->sasl) {
		OPENSSL_cleanse(s->sasl, sizeof(*s->sasl));
		free(s->sasl);
		s->sasl = NULL;
	}
	if (s->mode == MODE_SASL)
		s->mode = MODE_CMD;
}

/* The in-memory per-IP limit on attempts (loop thread). */
static bool ip_allowed(struct pop3_session *s)
{
	return netsvc_map_take(&s->srv->auth_ip, s->ip, s->srv->lim.login_ip_per_minute,
			       time_now(), 60);
}

/* ---- the login job: check, bookkeeping, maildrop, audit ---- */

enum auth_result { AUTH_OK, AUTH_FAIL, AUTH_LIMIT, AUTH_INUSE, AUTH_TEMP };

struct auth_job {
	struct netsvc_job job;
	struct pop3_server *srv;
	enum mech mech;
	bool scram_ok;      /* SCRAM: the proof was verified on the loop */
	int64_t account_id; /* SCRAM: the account it belongs to */
	char address[STORE_ADDR_MAX + 1];
	char *password; /* USER/PASS and PLAIN, cleansed and freed after use */
	char ip[64];
	int port;
	const char *reason;
	enum auth_result result;
	int64_t retry, app_id;
	struct store_account acct;
	struct pop3_drop *drop;
};

static void auth_audit(struct auth_job *j)
{
	struct buf b;
	bool ok = j->result == AUTH_OK;

	buf_init(&b, 0);
	sasl_srv_audit_detail(&b, "pop3", mech_names[j->mech], j->port, ok, j->reason, j->app_id);
	netsvc_audit_now(&j->srv->net, ok ? j->acct.address : j->address,
			 ok ? "auth.login.ok" : "auth.login.fail", j->ip, "pop3", b.data);
	buf_release(&b);
}

/* The credentials are good: the maildrop. */
static void open_drop(struct auth_job *j)
{
	struct pop3_server *srv = j->srv;
	struct store_limits lim;
	struct err err;

	if (store_login_succeeded(srv->store, j->address, &err) < 0)
		log_error("pop3", "msg=\"clearing sign-in failures failed\" err=\"%s\"", err.msg);
	if (store_account_limits(srv->store, j->acct.id, &lim, &err) < 0)
		memset(&lim, 0, sizeof(lim));
	if (pop3_drop_open(srv, j->acct.id, lim.quota_bytes, &j->drop, &err) == 0)
		return;
	if (err.code == ERR_EXISTS) {
		j->result = AUTH_INUSE;
		j->reason = "maildrop in use";
	} else {
		log_error("pop3", "user=%s msg=\"cannot open the maildrop\" err=\"%s\"",
			  j->acct.address, err.msg);
		j->result = AUTH_TEMP;
		j->reason = "maildrop not available";
	}
}

static void check_password(struct auth_job *j)
{
	struct pop3_server *srv = j->srv;
	struct err err;

	if (store_login_allowed(srv->store, j->address, time_now_ms(), &srv->lim.login, &j->retry,
				&err) < 0) {
		j->result = err.code == ERR_LIMIT ? AUTH_LIMIT : AUTH_TEMP;
		j->reason = err.code == ERR_LIMIT ? "locked" : "internal error";
		return;
	}
	if (auth_check_mail_password(srv->store, srv->auth_cache, j->address, j->password,
				     &j->acct, &j->app_id, &err) == 0) {
		j->result = AUTH_OK;
	} else if (err.code == ERR_AUTH) {
		j->result = AUTH_FAIL;
		j->reason = "bad password or unknown address";
	} else {
		j->result = AUTH_TEMP;
		j->reason = "internal error";
	}
}

static void auth_run(struct netsvc_job *jb)
{
	struct auth_job *j = (struct auth_job *)jb;
	struct pop3_server *srv = j->srv;
	struct err err;

	j->result = AUTH_FAIL;
	if (j->mech != M_SCRAM) {
		check_password(j);
	} else if (j->scram_ok && store_account_get_id(srv->store, j->account_id, &j->acct,
						       &err) == 0 && !j->acct.disabled) {
		j->result = AUTH_OK;
	} else {
		j->reason = j->account_id ? "bad proof" : "bad proof or unknown address";
	}
	if (j->result == AUTH_OK && role_is_admin(j->acct.role)) {
		j->result = AUTH_FAIL; /* admin roles have no mailbox */
		j->reason = "admin account";
	}
	if (j->result == AUTH_OK)
		open_drop(j);
	else if (j->result == AUTH_FAIL &&
		 store_login_failed(srv->store, j->address, time_now_ms(), &srv->lim.login, &err) < 0)
		log_error("pop3", "msg=\"recording a sign-in failure failed\" err=\"%s\"", err.msg);
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
	struct pop3_session *s = jb->s;

	if (s == NULL) { /* the server is going away */
		pop3_drop_free(j->srv, &j->drop, true);
	} else if (!pop3_alive(s)) {
		s->drop = j->drop; /* released with the session */
		j->drop = NULL;
	} else {
		switch (j->result) {
		case AUTH_OK: {
			int64_t octets = 0;
			s->drop = j->drop;
			j->drop = NULL;
			s->account_id = j->acct.id;
			snprintf(s->address, sizeof(s->address), "%s", j->acct.address);
			s->state = ST_TRANS;
			for (size_t i = 0; i < s->drop->n; i++)
				octets += s->drop->v[i].size;
			log_info("pop3", "sess=%llu ip=%s user=%s method=%s messages=%zu "
					 "msg=\"authenticated\"",
				 (unsigned long long)s->id, s->ip, s->address, mech_names[j->mech],
				 s->drop->n);
			pop3_ok(s, "Maildrop locked and ready: %zu messages (%lld octets)",
				s->drop->n, (long long)octets);
			break;
		}
		case AUTH_LIMIT:
			pop3_err(s, "[LOGIN-DELAY] Too many failed attempts; try again in %lld seconds",
				 (long long)j->retry);
			break;
		case AUTH_INUSE:
			pop3_err(s, "[IN-USE] The maildrop is in use by another POP3 session");
			break;
		case AUTH_TEMP:
			pop3_err(s, "[SYS/TEMP] Temporary failure; try again later");
			break;
		default:
			pop3_err(s, "[AUTH] Authentication failed");
		}
		pop3_resume(s);
	}
	OPENSSL_cleanse(&j->acct.secret, sizeof(j->acct.secret));
	free(j);
}

static enum pop3_ret start_login(struct pop3_session *s, enum mech mech, const char *user,
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
	pop3_auth_abort(s);
	s->have_user = false; /* a failed PASS needs a new USER */
	pop3_wait(s);
	pop3_job_start(s, &j->job);
	return POP3_STOP;
}

/* ---- USER and PASS (RFC 1939 section 7), inside TLS only ---- */

enum pop3_ret pop3_cmd_user(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_tok t;
	size_t n;

	if (!s->tls) {
		pop3_err(s, "[AUTH] Plaintext authentication needs TLS; use STLS first");
		return POP3_NEXT;
	}
	if (pop3_args(arg, len, &t, 1, &n) < 0 || n != 1 || t.len > SCRAM_MAX_USER) {
		pop3_err(s, "Syntax: USER name");
		return POP3_NEXT;
	}
	memcpy(s->user, t.p, t.len);
	s->user[t.len] = '\0';
	s->have_user = true;
	/* the same answer for every name: nothing is learnt about who exists */
	pop3_ok(s, "Send the password");
	return POP3_NEXT;
}

enum pop3_ret pop3_cmd_pass(struct pop3_session *s, const char *arg, size_t len)
{
	char pass[SASL_SRV_PASS_MAX + 1];
	enum pop3_ret r;

	if (!s->tls) {
		pop3_err(s, "[AUTH] Plaintext authentication needs TLS; use STLS first");
		return POP3_NEXT;
	}
	if (!s->have_user) {
		pop3_err(s, "Send USER first");
		return POP3_NEXT;
	}
	/* RFC 1939 section 7: the one argument may contain spaces */
	if (len == 0 || len >= sizeof(pass)) {
		s->have_user = false;
		pop3_err(s, "Syntax: PASS password");
		return POP3_NEXT;
	}
	if (!ip_allowed(s)) {
		s->have_user = false;
		pop3_err(s, "[LOGIN-DELAY] Too many authentication attempts; try again later");
		return POP3_NEXT;
	}
	memcpy(pass, arg, len);
	pass[len] = '\0';
	r = start_login(s, M_USER, s->user, pass, false, 0);
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}

/* ---- the SASL mechanisms ---- */

static void challenge(struct pop3_session *s, const char *msg, size_t len)
{
	char *b = arena_alloc(s->cmd, B64_ENC_LEN(len));
	b64_encode((const unsigned char *)msg, len, b);
	pop3_line(s, "+ %s", b);
	s->mode = MODE_SASL;
}

static enum pop3_ret bad_message(struct pop3_session *s)
{
	pop3_auth_abort(s);
	pop3_err(s, "Malformed authentication message");
	return POP3_NEXT;
}

static enum pop3_ret plain(struct pop3_session *s, const char *d, size_t n)
{
	char user[SCRAM_MAX_USER + 1], pass[SASL_SRV_PASS_MAX + 1];
	enum pop3_ret r;
	struct err err;

	if (sasl_srv_plain(d, n, user, pass, &err) < 0)
		return bad_message(s);
	r = start_login(s, M_PLAIN, user, pass, false, 0);
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}

/* SCRAM step one came back from the worker (the lockout, the account's secret or a fake
 * one, server-first: sasl_srv_first_job_new). */
static void first_done(struct netsvc_job *jb)
{
	struct sasl_srv_first_job *j = (struct sasl_srv_first_job *)jb;
	struct pop3_session *s = jb->s;

	if (s && pop3_alive(s)) {
		if (j->rc == 0) {
			const char *sf = s->sasl->scram.server_first;
			s->sasl->step = 1;
			challenge(s, sf, strlen(sf));
		} else {
			pop3_auth_abort(s);
			if (j->err.code == ERR_LIMIT)
				pop3_err(s, "[LOGIN-DELAY] Too many failed attempts; try again in %lld "
					    "seconds", (long long)j->retry);
			else if (j->err.code == ERR_INVALID)
				pop3_err(s, "Malformed authentication message");
			else
				pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
		}
		pop3_resume(s);
	}
	free(j);
}

static enum pop3_ret scram_first(struct pop3_session *s, const char *d, size_t n)
{
	struct sasl_srv_first_job *j;
	struct err err;

	if (sasl_srv_scram_client_first(&s->sasl->scram, d, n, &err) < 0)
		return bad_message(s);
	j = sasl_srv_first_job_new(&s->srv->sasl, &s->sasl->scram, first_done);
	pop3_wait(s);
	pop3_job_start(s, &j->job);
	return POP3_STOP;
}

static enum pop3_ret scram(struct pop3_session *s, const char *d, size_t n)
{
	struct pop3_sasl *a = s->sasl;
	struct sasl_srv_scram *sc = &a->scram;
	char fin[SASL_SRV_FINAL_MAX];

	if (a->step == 0)
		return scram_first(s, d, n);
	if (a->step == 2) { /* the client's empty answer to our server-final */
		if (n != 0)
			return bad_message(s);
		return start_login(s, M_SCRAM, sc->address, NULL, true, sc->account_id);
	}
	if (!sasl_srv_scram_client_final(sc, d, n, fin))
		return start_login(s, M_SCRAM, sc->address, NULL, false, sc->account_id);
	a->step = 2;
	challenge(s, fin, strlen(fin));
	return POP3_NEXT;
}

/* A base64 SASL response into the command's arena (sasl_srv_decode). */
static int decode(struct pop3_session *s, const char *b, size_t len, char **d_r, size_t *n_r)
{
	*d_r = arena_alloc(s->cmd, SASL_SRV_MAX + 1);
	return sasl_srv_decode(b, len, *d_r, n_r);
}

static enum pop3_ret step(struct pop3_session *s, const char *d, size_t n)
{
	return s->sasl->mech == M_PLAIN ? plain(s, d, n) : scram(s, d, n);
}

enum pop3_ret pop3_auth_line(struct pop3_session *s, const char *line, size_t len)
{
	char *d;
	size_t n;

	s->mode = MODE_CMD;
	if (s->sasl == NULL)
		return POP3_NEXT;
	if (len == 1 && line[0] == '*') {
		pop3_auth_abort(s);
		pop3_err(s, "Authentication cancelled");
		return POP3_NEXT;
	}
	if (decode(s, line, len, &d, &n) < 0)
		return bad_message(s);
	return step(s, d, n);
}

enum pop3_ret pop3_cmd_auth(struct pop3_session *s, const char *arg, size_t len)
{
	struct pop3_tok t[2];
	size_t nt;
	enum mech mech = 0;
	char *d;
	size_t n;

	if (pop3_args(arg, len, t, 2, &nt) < 0) {
		pop3_err(s, "Syntax: AUTH mechanism [initial-response]");
		return POP3_NEXT;
	}
	if (nt == 0) { /* the mechanism list of RFC 1734, which some clients still ask for */
		pop3_ok(s, "Mechanisms follow");
		if (s->tls)
			pop3_line(s, "PLAIN");
		pop3_line(s, "SCRAM-SHA-256");
		pop3_line(s, ".");
		return POP3_NEXT;
	}
	if (t[0].len == 5 && strncasecmp(t[0].p, "PLAIN", 5) == 0)
		mech = M_PLAIN;
	else if (t[0].len == 13 && strncasecmp(t[0].p, "SCRAM-SHA-256", 13) == 0)
		mech = M_SCRAM;
	if (mech == 0) {
		pop3_err(s, "Unrecognized authentication mechanism");
		return POP3_NEXT;
	}
	if (mech == M_PLAIN && !s->tls) {
		pop3_err(s, "[AUTH] PLAIN needs TLS; use STLS first or SCRAM-SHA-256");
		return POP3_NEXT;
	}
	if (!ip_allowed(s)) {
		pop3_err(s, "[LOGIN-DELAY] Too many authentication attempts; try again later");
		return POP3_NEXT;
	}
	s->sasl = xcalloc(1, sizeof(*s->sasl));
	s->sasl->mech = mech;
	if (nt == 1) { /* no initial response: ask for it */
		pop3_line(s, "+ ");
		s->mode = MODE_SASL;
		return POP3_NEXT;
	}
	if (decode(s, t[1].p, t[1].len, &d, &n) < 0)
		return bad_message(s);
	return step(s, d, n);
}
