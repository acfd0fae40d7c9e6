/* SCRAM-SHA-256, RFC 5802 section 3 (algorithm) and 7 (message syntax), RFC 7677. */
#include "scram.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "codec.h"
#include "utf8.h"
#include "util.h"

static void hmac256(const unsigned char *key, size_t klen, const void *msg, size_t mlen,
		    unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int olen = SCRAM_KEY_LEN;
	HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen);
}

static void salted_password(const char *pw, size_t len, const unsigned char *salt, size_t slen,
			    unsigned iter, unsigned char out[SCRAM_KEY_LEN])
{
	if (PKCS5_PBKDF2_HMAC(pw, (int)len, salt, (int)slen, (int)iter, EVP_sha256(),
			      SCRAM_KEY_LEN, out) != 1)
		ASSERT(!"PBKDF2 failed");
}

static void keys_from_salted(const unsigned char sp[SCRAM_KEY_LEN], struct scram_secret *out)
{
	unsigned char client_key[SCRAM_KEY_LEN];
	hmac256(sp, SCRAM_KEY_LEN, "Client Key", 10, client_key);
	SHA256(client_key, SCRAM_KEY_LEN, out->stored_key);
	hmac256(sp, SCRAM_KEY_LEN, "Server Key", 10, out->server_key);
}

void scram_secret_make(const char *password, size_t len, unsigned iterations,
		       struct scram_secret *out)
{
	unsigned char sp[SCRAM_KEY_LEN];
	memset(out, 0, sizeof(*out));
	out->salt_len = SCRAM_SALT_LEN;
	out->iterations = iterations;
	rand_bytes(out->salt, SCRAM_SALT_LEN);
	salted_password(password, len, out->salt, out->salt_len, iterations, sp);
	keys_from_salted(sp, out);
}

bool scram_secret_check(const struct scram_secret *s, const char *password, size_t len)
{
	unsigned char sp[SCRAM_KEY_LEN];
	struct scram_secret t;
	salted_password(password, len, s->salt, s->salt_len, s->iterations, sp);
	keys_from_salted(sp, &t);
	return mem_eq_ct(t.stored_key, s->stored_key, SCRAM_KEY_LEN);
}

void scram_secret_fake(const unsigned char *key, size_t keylen, const char *user,
		       unsigned iterations, struct scram_secret *out)
{
	unsigned char mac[SCRAM_KEY_LEN];
	memset(out, 0, sizeof(*out));
	hmac256(key, keylen, user, strlen(user), mac);
	memcpy(out->salt, mac, SCRAM_SALT_LEN);
	out->salt_len = SCRAM_SALT_LEN;
	out->iterations = iterations;
	rand_bytes(out->stored_key, SCRAM_KEY_LEN);
	rand_bytes(out->server_key, SCRAM_KEY_LEN);
}

void scram_secret_format(const struct scram_secret *s, char *out, size_t outsz)
{
	char salt[B64_ENC_LEN(sizeof(s->salt))], sk[B64_ENC_LEN(SCRAM_KEY_LEN)],
		svk[B64_ENC_LEN(SCRAM_KEY_LEN)];
	b64_encode(s->salt, s->salt_len, salt);
	b64_encode(s->stored_key, SCRAM_KEY_LEN, sk);
	b64_encode(s->server_key, SCRAM_KEY_LEN, svk);
	snprintf(out, outsz, "SCRAM-SHA-256$%u:%s$%s:%s", s->iterations, salt, sk, svk);
}

/* Decode base64 of at most 32 bytes (44 characters) into out. */
static int decode_exact(const char *p, size_t n, unsigned char *out, size_t want)
{
	unsigned char tmp[33];
	size_t got;
	if (n > 44 || b64_decode(p, n, tmp, &got) < 0 || (want && got != want) || got > 32)
		return -1;
	memcpy(out, tmp, got);
	return (int)got;
}

int scram_secret_parse(const char *text, struct scram_secret *out, struct err *err)
{
	const char *p = text, *colon, *dollar, *colon2;
	unsigned long iter;
	char *end;
	int n;

	memset(out, 0, sizeof(*out));
	if (!str_has_prefix(p, "SCRAM-SHA-256$"))
		return err_set(err, ERR_INVALID, "not a SCRAM-SHA-256 secret");
	p += 14;
	iter = strtoul(p, &end, 10);
	if (end == p || *end != ':' || iter < 1 || iter > SCRAM_MAX_ITER)
		return err_set(err, ERR_INVALID, "bad iteration count");
	out->iterations = (unsigned)iter;
	colon = end;
	dollar = strchr(colon, '$');
	colon2 = dollar ? strchr(dollar, ':') : NULL;
	if (dollar == NULL || colon2 == NULL)
		return err_set(err, ERR_INVALID, "malformed secret");
	n = decode_exact(colon + 1, (size_t)(dollar - colon - 1), out->salt, 0);
	if (n <= 0)
		return err_set(err, ERR_INVALID, "bad salt");
	out->salt_len = (size_t)n;
	if (decode_exact(dollar + 1, (size_t)(colon2 - dollar - 1), out->stored_key,
			 SCRAM_KEY_LEN) < 0 ||
	    decode_exact(colon2 + 1, strlen(colon2 + 1), out->server_key, SCRAM_KEY_LEN) < 0)
		return err_set(err, ERR_INVALID, "bad key");
	return 0;
}

/* printable = %x21-2B / %x2D-7E (RFC 5802 section 7) */
static bool is_printable_nonce(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* saslname: "=2C" -> ",", "=3D" -> "="; any other '=' or ',' or NUL is invalid. */
static int unescape_saslname(const char *p, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '=') {
			if (i + 2 >= n)
				return -1;
			if (p[i + 1] == '2' && p[i + 2] == 'C')
				c = ',';
			else if (p[i + 1] == '3' && p[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		} else if (c == ',' || c == '\0') {
			return -1;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* A run of ",attr=value" extensions (p points after the comma) up to end. */
static bool extensions_ok(const char *p, const char *end)
{
	if (p == end && p[-1] == ',')
		return false; /* an empty extension */
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		if (end - p < 2 || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) ||
		    p[1] != '=')
			return false;
		p = comma ? comma + 1 : end;
		if (comma && p == end)
			return false; /* trailing comma */
	}
	return true;
}

/* Split off the next comma-separated attribute "X=value" starting at *pp. */
static bool next_attr(const char **pp, const char *end, char want, const char **val,
		      size_t *vlen)
{
	const char *p = *pp, *comma;
	if (end - p < 2 || p[0] != want || p[1] != '=')
		return false;
	comma = memchr(p, ',', (size_t)(end - p));
	*val = p + 2;
	*vlen = (size_t)((comma ? comma : end) - *val);
	*pp = comma ? comma + 1 : end;
	return true;
}

int scram_client_first_parse(const char *msg, size_t len, struct scram_client_first *out,
			     struct err *err)
{
	const char *p = msg, *end = msg + len, *v, *c1, *c2;
	size_t vlen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > SCRAM_MAX_MSG || memchr(msg, '\0', len))
		return err_set(err, ERR_INVALID, "client-first: bad length");
	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
	if (p[0] == 'p')
		return err_set(err, ERR_INVALID, "channel binding is not supported");
	if ((p[0] != 'n' && p[0] != 'y') || len < 3 || p[1] != ',')
		return err_set(err, ERR_INVALID, "client-first: bad gs2 header");
	c1 = p + 1;
	c2 = memchr(c1 + 1, ',', (size_t)(end - c1 - 1));
	if (c2 == NULL)
		return err_set(err, ERR_INVALID, "client-first: bad gs2 header");
	if (c2 != c1 + 1)
		return err_set(err, ERR_INVALID, "authorization identity is not supported");
	memcpy(out->gs2_header, msg, (size_t)(c2 - msg + 1));
	p = c2 + 1;
	memcpy(out->bare, p, (size_t)(end - p));
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
		return err_set(err, ERR_INVALID, "mandatory extension not supported");
	if (!next_attr(&p, end, 'n', &v, &vlen) ||
	    unescape_saslname(v, vlen, out->user, sizeof(out->user)) < 0 ||
	    !utf8_valid(out->user, strlen(out->user)))
		return err_set(err, ERR_INVALID, "client-first: bad username");
	if (!next_attr(&p, end, 'r', &v, &vlen) || vlen > SCRAM_MAX_NONCE ||
	    !is_printable_nonce(v, vlen) || (p == end && end[-1] == ','))
		return err_set(err, ERR_INVALID, "client-first: bad nonce");
	memcpy(out->nonce, v, vlen);
	/* optional extensions follow, each attr-val (ALPHA "=" value); ignored (section 7) */
	if (!extensions_ok(p, end))
		return err_set(err, ERR_INVALID, "client-first: malformed extension");
	return 0;
}

int scram_client_final_parse(const char *msg, size_t len, const char *gs2_header,
			     struct scram_client_final *out, struct err *err)
{
	const char *p = msg, *end = msg + len, *v, *proof_at;
	unsigned char cb[64];
	size_t vlen, cblen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > SCRAM_MAX_MSG || memchr(msg, '\0', len))
		return err_set(err, ERR_INVALID, "client-final: bad length");
	if (!next_attr(&p, end, 'c', &v, &vlen) || vlen > 80 ||
	    b64_decode(v, vlen, cb, &cblen) < 0 || cblen != strlen(gs2_header) ||
	    memcmp(cb, gs2_header, cblen) != 0)
		return err_set(err, ERR_INVALID, "client-final: channel binding mismatch");
	if (!next_attr(&p, end, 'r', &v, &vlen) || vlen > 2 * SCRAM_MAX_NONCE ||
	    !is_printable_nonce(v, vlen))
		return err_set(err, ERR_INVALID, "client-final: bad nonce");
	memcpy(out->nonce, v, vlen);
	/* extensions, then "p=" which must be last */
	proof_at = NULL;
	for (const char *q = p; q < end;) {
		const char *comma = memchr(q, ',', (size_t)(end - q));
		if (end - q >= 2 && q[0] == 'p' && q[1] == '=' && comma == NULL) {
			proof_at = q;
			break;
		}
		if (comma == NULL || !extensions_ok(q, comma))
			break;
		q = comma + 1;
	}
	if (proof_at == NULL)
		return err_set(err, ERR_INVALID, "client-final: missing or misplaced proof");
	if (decode_exact(proof_at + 2, (size_t)(end - proof_at - 2), out->proof,
			 SCRAM_KEY_LEN) < 0)
		return err_set(err, ERR_INVALID, "client-final: bad proof");
	memcpy(out->without_proof, msg, (size_t)(proof_at - 1 - msg));
	return 0;
}

int scram_server_first(const struct scram_client_first *cf, const char *server_nonce,
		       const struct scram_secret *s, char *out, size_t outsz, struct err *err)
{
	char salt[B64_ENC_LEN(sizeof(s->salt))];
	int n;
	b64_encode(s->salt, s->salt_len, salt);
	n = snprintf(out, outsz, "r=%s%s,s=%s,i=%u", cf->nonce, server_nonce, salt,
		     s->iterations);
	if (n < 0 || (size_t)n >= outsz || (size_t)n > SCRAM_MAX_MSG)
		return err_set(err, ERR_LIMIT, "server-first too long");
	return 0;
}

bool scram_verify(const struct scram_secret *s, const struct scram_client_first *cf,
		  const char *server_first, const struct scram_client_final *cfin,
		  char *server_sig_b64)
{
	char auth[3 * SCRAM_MAX_MSG + 8];
	unsigned char client_sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN],
		stored[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN];
	const char *r;
	int n;

	/* the final nonce must be the one the server sent: r=<nonce>,... of server_first */
	r = server_first + 2;
	if (strncmp(r, cfin->nonce, strlen(cfin->nonce)) != 0 ||
	    r[strlen(cfin->nonce)] != ',')
		return false;
	n = snprintf(auth, sizeof(auth), "%s,%s,%s", cf->bare, server_first,
		     cfin->without_proof);
	if (n < 0 || (size_t)n >= sizeof(auth))
		return false;
	hmac256(s->stored_key, SCRAM_KEY_LEN, auth, (size_t)n, client_sig);
	for (int i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = cfin->proof[i] ^ client_sig[i];
	SHA256(client_key, SCRAM_KEY_LEN, stored);
	if (!mem_eq_ct(stored, s->stored_key, SCRAM_KEY_LEN))
		return false;
	hmac256(s->server_key, SCRAM_KEY_LEN, auth, (size_t)n, server_sig);
	b64_encode(server_sig, SCRAM_KEY_LEN, server_sig_b64);
	return true;
}
