/* The server side of mail client sign-in (sasl_srv.h). */
#include "sasl_srv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "lib/role.h"
#include "lib/util.h"

void sasl_srv_key_address(const char *typed, char *out, size_t outsz)
{
	struct err err;
	if (store_address_normalise(typed, out, outsz, &err) < 0)
		snprintf(out, outsz, "%s", typed);
}

int sasl_srv_decode(const char *b, size_t len, char *out, size_t *n_r)
{
	*n_r = 0;
	out[0] = '\0';
	if (len == 1 && b[0] == '=')
		return 0;
	if (len / 4 * 3 > SASL_SRV_MAX)
		return -1;
	if (len > 0 && b64_decode(b, len, (unsigned char *)out, n_r) < 0)
		return -1;
	out[*n_r] = '\0';
	return 0;
}

/* RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
int sasl_srv_plain(const char *d, size_t n, char user[SCRAM_MAX_USER + 1],
		   char pass[SASL_SRV_PASS_MAX + 1], struct err *err)
{
	const char *nul1 = memchr(d, '\0', n), *nul2;
	size_t zl, ul, pl;

	if (nul1 == NULL || (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - d))) == NULL)
		return err_set(err, ERR_INVALID, "malformed PLAIN message");
	zl = (size_t)(nul1 - d);
	ul = (size_t)(nul2 - nul1 - 1);
	pl = n - (size_t)(nul2 + 1 - d);
	if (ul == 0 || ul > SCRAM_MAX_USER || pl == 0 || pl > SASL_SRV_PASS_MAX ||
	    memchr(nul2 + 1, '\0', pl) != NULL)
		return err_set(err, ERR_INVALID, "malformed PLAIN message");
	memcpy(user, nul1 + 1, ul);
	user[ul] = '\0';
	if (zl && (zl != ul || strncasecmp(d, user, ul) != 0))
		return err_set(err, ERR_DENIED, "acting for another user is not allowed");
	memcpy(pass, nul2 + 1, pl);
	pass[pl] = '\0';
	return 0;
}

int sasl_srv_scram_client_first(struct sasl_srv_scram *sc, const char *d, size_t n,
				struct err *err)
{
	if (scram_client_first_parse(d, n, &sc->cf, err) < 0)
		return -1;
	sasl_srv_key_address(sc->cf.user, sc->address, sizeof(sc->address));
	return 0;
}

int sasl_srv_scram_server_first(struct sasl_srv_scram *sc, const struct sasl_srv_conf *conf,
				int64_t *retry_r, struct err *err)
{
	struct store *st = conf->store;
	struct store_account acct;
	struct store_mail_settings ms;
	unsigned char raw[18];
	char nonce[B64_ENC_LEN(18)];

	if (store_login_allowed(st, sc->address, time_now_ms(), conf->login, retry_r, err) < 0) {
		if (err->code != ERR_LIMIT)
			err->code = ERR_INTERNAL;
		return -1;
	}
	memset(&acct, 0, sizeof(acct));
	if (store_account_get(st, sc->address, &acct, err) == 0 && !acct.disabled &&
	    !role_is_admin(acct.role) && store_mail_settings_get(st, acct.id, &ms, err) == 0 &&
	    !ms.require_app_password) {
		sc->account_id = acct.id;
		sc->secret = acct.secret;
	} else {
		scram_secret_fake(conf->key, conf->keylen, sc->address, conf->iterations,
				  &sc->secret);
	}
	OPENSSL_cleanse(&acct.secret, sizeof(acct.secret));
	rand_bytes(raw, sizeof(raw));
	b64_encode(raw, sizeof(raw), nonce);
	if (scram_server_first(&sc->cf, nonce, &sc->secret, sc->server_first,
			       sizeof(sc->server_first), err) < 0) {
		err->code = ERR_INVALID;
		return -1;
	}
	return 0;
}

static void first_run(struct netsvc_job *jb)
{
	struct sasl_srv_first_job *j = (struct sasl_srv_first_job *)jb;
	j->rc = sasl_srv_scram_server_first(j->sc, j->conf, &j->retry, &j->err);
}

struct sasl_srv_first_job *sasl_srv_first_job_new(const struct sasl_srv_conf *conf,
						  struct sasl_srv_scram *sc, netsvc_job_fn *done)
{
	struct sasl_srv_first_job *j = xcalloc(1, sizeof(*j));
	j->job.run = first_run;
	j->job.done = done;
	j->conf = conf;
	j->sc = sc;
	return j;
}

bool sasl_srv_scram_client_final(const struct sasl_srv_scram *sc, const char *d, size_t n,
				 char fin[SASL_SRV_FINAL_MAX])
{
	struct scram_client_final cfin;
	char sig[B64_ENC_LEN(SCRAM_KEY_LEN)];
	struct err err;

	if (scram_client_final_parse(d, n, sc->cf.gs2_header, &cfin, &err) < 0 ||
	    !scram_verify(&sc->secret, &sc->cf, sc->server_first, &cfin, sig) ||
	    sc->account_id == 0)
		return false;
	snprintf(fin, SASL_SRV_FINAL_MAX, "v=%s", sig);
	return true;
}

void sasl_srv_audit_detail(struct buf *b, const char *protocol, const char *method, int port,
			   bool ok, const char *reason, int64_t app_id)
{
	bool first = true;

	netsvc_json_kv(b, "protocol", protocol, &first);
	netsvc_json_kv(b, "method", method, &first);
	netsvc_json_ki(b, "port", port, &first);
	if (!ok)
		netsvc_json_kv(b, "reason", reason, &first);
	if (app_id)
		netsvc_json_ki(b, "app_password", app_id, &first);
	(void)!buf_puts(b, "}");
}
