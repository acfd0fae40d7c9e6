/* fuzz_scram: lib/scram.h client message parsers and lib/httpauth.h credentials parser.
 *
 * The whole input goes to scram_client_first_parse, scram_client_final_parse,
 * httpauth_parse and scram_secret_parse (the stored form, as a C string). If it holds a '\n', the part before is also parsed as a client-first message
 * and the part after as the client-final that follows it (with the gs2 header the first one
 * produced), so the fuzzer can reach scram_verify. When httpauth_parse finds a data= parameter,
 * its base64 content goes to both SCRAM parsers, as the HTTP sign-in does.
 *
 * Invariants checked on success:
 * - client-first: the unescaped user is non-empty; it may hold ',' and '=' (sent as =2C and
 *   =3D, RFC 5802 section 5.1), but re-escaping it rebuilds the wire form exactly: bare (the
 *   input after the "n,," or "y,," gs2 header) starts with "n=" ESC(user) ",r=" NONCE, and
 *   "n,,n=ESC(user),r=NONCE" parses back to the same user and nonce. The nonce is printable
 *   without ','.
 * - client-final: without_proof is the input up to ",p=", the proof re-encodes to exactly the
 *   rest of the input, and the nonce is printable without ','.
 * - httpauth: the scheme is a non-empty token; names are lower-case, non-empty and distinct;
 *   serialising every value as a quoted string parses back to the same scheme and params.
 * - secret: format(parse(x)) parses back to the same secret. */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/codec.h"
#include "lib/httpauth.h"
#include "lib/scram.h"

static bool nonce_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || *s == ',')
			return false;
	return true;
}

/* ',' -> =2C, '=' -> =3D into out (capacity 3 * strlen(user) + 1). */
static size_t escape_user(const char *user, char *out)
{
	size_t o = 0;
	for (const char *p = user; *p; p++) {
		if (*p == ',') {
			memcpy(out + o, "=2C", 3);
			o += 3;
		} else if (*p == '=') {
			memcpy(out + o, "=3D", 3);
			o += 3;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return o;
}

static void check_first(const char *msg, size_t len, const struct scram_client_first *cf)
{
	char esc[3 * SCRAM_MAX_USER + 1];
	size_t elen, ulen = strlen(cf->user), nlen = strlen(cf->nonce), blen = strlen(cf->bare);

	FUZZ_CHECK(ulen > 0 && ulen <= SCRAM_MAX_USER);
	FUZZ_CHECK(nlen <= SCRAM_MAX_NONCE && nonce_ok(cf->nonce));
	FUZZ_CHECK(strcmp(cf->gs2_header, "n,,") == 0 || strcmp(cf->gs2_header, "y,,") == 0);
	FUZZ_CHECK(len >= 3 && memcmp(msg, cf->gs2_header, 3) == 0);
	FUZZ_CHECK(blen == len - 3 && memcmp(cf->bare, msg + 3, blen) == 0);

	/* the escaping is unique, so bare must start with n=ESC(user),r=NONCE */
	elen = escape_user(cf->user, esc);
	FUZZ_CHECK(blen >= 2 + elen + 3 + nlen);
	FUZZ_CHECK(memcmp(cf->bare, "n=", 2) == 0);
	FUZZ_CHECK(memcmp(cf->bare + 2, esc, elen) == 0);
	FUZZ_CHECK(memcmp(cf->bare + 2 + elen, ",r=", 3) == 0);
	FUZZ_CHECK(memcmp(cf->bare + 5 + elen, cf->nonce, nlen) == 0);
	FUZZ_CHECK(cf->bare[5 + elen + nlen] == '\0' || cf->bare[5 + elen + nlen] == ',');

	/* round trip through a freshly built message */
	size_t rlen = 3 + 2 + elen + 3 + nlen;
	if (rlen <= SCRAM_MAX_MSG) {
		char *re = malloc(rlen);
		struct scram_client_first cf2;
		struct err err = {0};
		FUZZ_CHECK(re != NULL);
		memcpy(re, cf->gs2_header, 3);
		memcpy(re + 3, "n=", 2);
		memcpy(re + 5, esc, elen);
		memcpy(re + 5 + elen, ",r=", 3);
		memcpy(re + 8 + elen, cf->nonce, nlen);
		FUZZ_CHECK(scram_client_first_parse(re, rlen, &cf2, &err) == 0);
		FUZZ_CHECK(strcmp(cf2.user, cf->user) == 0);
		FUZZ_CHECK(strcmp(cf2.nonce, cf->nonce) == 0);
		free(re);
	}
}

static void check_final(const char *msg, size_t len, const struct scram_client_final *cfin)
{
	char proof[B64_ENC_LEN(SCRAM_KEY_LEN)];
	size_t wlen = strlen(cfin->without_proof), plen;

	FUZZ_CHECK(nonce_ok(cfin->nonce) && strlen(cfin->nonce) <= 2 * SCRAM_MAX_NONCE);
	FUZZ_CHECK(wlen + 3 <= len && memcmp(cfin->without_proof, msg, wlen) == 0);
	FUZZ_CHECK(memcmp(msg + wlen, ",p=", 3) == 0);
	b64_encode(cfin->proof, SCRAM_KEY_LEN, proof);
	plen = strlen(proof);
	FUZZ_CHECK(len - wlen - 3 == plen && memcmp(msg + wlen + 3, proof, plen) == 0);
	FUZZ_CHECK(memcmp(msg, "c=", 2) == 0);
}

static void scram_both(const char *msg, size_t len)
{
	struct scram_client_first cf;
	struct scram_client_final cfin;
	struct err err = {0};

	if (scram_client_first_parse(msg, len, &cf, &err) == 0)
		check_first(msg, len, &cf);
	else
		FUZZ_CHECK(err.code != ERR_OK);
	err = (struct err){0};
	if (scram_client_final_parse(msg, len, "n,,", &cfin, &err) == 0)
		check_final(msg, len, &cfin);
	else
		FUZZ_CHECK(err.code != ERR_OK);
	if (scram_client_final_parse(msg, len, "y,,", &cfin, &err) == 0)
		check_final(msg, len, &cfin);
}

/* A whole exchange: first message, server-first with a fixed secret, final message, verify.
 * The proof cannot be right (the fuzzer does not know the key); verify must say so. */
static void exchange(const char *first, size_t flen, const char *final, size_t fnlen)
{
	static const struct scram_secret secret = {
		.salt = "0123456789abcdef", .salt_len = 16, .iterations = 4096,
		.stored_key = {1, 2, 3}, .server_key = {4, 5, 6},
	};
	struct scram_client_first cf;
	struct scram_client_final cfin;
	char server_first[SCRAM_MAX_MSG + 1], sig[B64_ENC_LEN(SCRAM_KEY_LEN)];
	struct err err = {0};

	if (scram_client_first_parse(first, flen, &cf, &err) < 0)
		return;
	check_first(first, flen, &cf);
	if (scram_server_first(&cf, "SERVERNONCE", &secret, server_first, sizeof(server_first),
			       &err) < 0)
		return;
	FUZZ_CHECK(memcmp(server_first, "r=", 2) == 0);
	FUZZ_CHECK(strncmp(server_first + 2, cf.nonce, strlen(cf.nonce)) == 0);
	if (scram_client_final_parse(final, fnlen, cf.gs2_header, &cfin, &err) < 0)
		return;
	check_final(final, fnlen, &cfin);
	FUZZ_CHECK(!scram_verify(&secret, &cf, server_first, &cfin, sig));
}

static void check_httpauth(const struct httpauth *a)
{
	size_t slen = strlen(a->scheme);
	FUZZ_CHECK(slen > 0 && slen < sizeof(a->scheme));
	FUZZ_CHECK(a->nparams <= HTTPAUTH_MAX_PARAMS);
	for (size_t i = 0; i < a->nparams; i++) {
		const char *n = a->params[i].name;
		FUZZ_CHECK(*n != '\0' && strlen(n) < sizeof(a->params[i].name));
		for (const char *q = n; *q; q++)
			FUZZ_CHECK(!(*q >= 'A' && *q <= 'Z') && *q != '=');
		FUZZ_CHECK(strlen(a->params[i].value) < HTTPAUTH_MAX_LEN);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(a->params[j].name, n) != 0);
		FUZZ_CHECK(httpauth_param(a, n) == a->params[i].value);
	}
}

/* Serialise as Scheme name="v", ... and parse again. */
static void httpauth_roundtrip(const struct httpauth *a)
{
	size_t cap = sizeof(a->scheme) + 1, o = 0;
	for (size_t i = 0; i < a->nparams; i++)
		cap += sizeof(a->params[i].name) + 6 + 2 * strlen(a->params[i].value);
	char *s = malloc(cap);
	FUZZ_CHECK(s != NULL);
	o += (size_t)sprintf(s, "%s", a->scheme);
	for (size_t i = 0; i < a->nparams; i++) {
		o += (size_t)sprintf(s + o, "%s%s=\"", i ? ", " : " ", a->params[i].name);
		for (const char *v = a->params[i].value; *v; v++) {
			if (*v == '"' || *v == '\\')
				s[o++] = '\\';
			s[o++] = *v;
		}
		s[o++] = '"';
	}
	FUZZ_CHECK(o < cap);
	if (o <= HTTPAUTH_MAX_LEN) {
		struct httpauth *b = malloc(sizeof(*b));
		struct err err = {0};
		FUZZ_CHECK(b != NULL);
		char *exact = fuzz_dup((const uint8_t *)s, o);
		int r = httpauth_parse(exact, o, b, &err);
		if (r < 0)
			fprintf(stderr, "re-parse of \"%.*s\": %s\n", (int)o, s, err.msg);
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(strcmp(a->scheme, b->scheme) == 0);
		FUZZ_CHECK(a->nparams == b->nparams);
		for (size_t i = 0; i < a->nparams; i++) {
			FUZZ_CHECK(strcmp(a->params[i].name, b->params[i].name) == 0);
			FUZZ_CHECK(strcmp(a->params[i].value, b->params[i].value) == 0);
		}
		free(exact);
		free(b);
	}
	free(s);
}

static void httpauth_all(const char *in, size_t len)
{
	struct httpauth *a = malloc(sizeof(*a)); /* ~33 KB: keep it off the stack */
	struct err err = {0};
	const char *data;

	FUZZ_CHECK(a != NULL);
	if (httpauth_parse(in, len, a, &err) == 0) {
		check_httpauth(a);
		httpauth_roundtrip(a);
		data = httpauth_param(a, "data");
		if (data != NULL) {
			size_t dlen = strlen(data), got = 0;
			unsigned char *dec = malloc(dlen / 4 * 3 + 1);
			FUZZ_CHECK(dec != NULL);
			if (b64_decode(data, dlen, dec, &got) == 0) {
				char *exact = fuzz_dup(dec, got);
				scram_both(exact, got);
				free(exact);
			}
			free(dec);
		}
	} else {
		FUZZ_CHECK(err.code != ERR_OK);
	}
	free(a);
}

/* The stored secret text: parse, format, parse again gives the same secret. */
static void secret_roundtrip(const uint8_t *data, size_t size)
{
	char *text = fuzz_strdup(data, size), out[256];
	struct scram_secret s, s2;
	struct err err = {0};

	if (scram_secret_parse(text, &s, &err) == 0) {
		FUZZ_CHECK(s.iterations >= 1 && s.iterations <= SCRAM_MAX_ITER);
		FUZZ_CHECK(s.salt_len >= 1 && s.salt_len <= sizeof(s.salt));
		scram_secret_format(&s, out, sizeof(out));
		FUZZ_CHECK(scram_secret_parse(out, &s2, &err) == 0);
		FUZZ_CHECK(s2.iterations == s.iterations && s2.salt_len == s.salt_len);
		FUZZ_CHECK(memcmp(s2.salt, s.salt, s.salt_len) == 0);
		FUZZ_CHECK(memcmp(s2.stored_key, s.stored_key, SCRAM_KEY_LEN) == 0);
		FUZZ_CHECK(memcmp(s2.server_key, s.server_key, SCRAM_KEY_LEN) == 0);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_dup(data, size);
	const char *nl = size > 0 ? memchr(in, '\n', size) : NULL;

	scram_both(in, size);
	httpauth_all(in, size);
	secret_roundtrip(data, size);
	if (nl != NULL) {
		size_t flen = (size_t)(nl - in);
		char *first = fuzz_dup((const uint8_t *)in, flen);
		char *final = fuzz_dup((const uint8_t *)nl + 1, size - flen - 1);
		exchange(first, flen, final, size - flen - 1);
		free(final);
		free(first);
	}
	free(in);
	return 0;
}
