/* fuzz_b64: lib/codec.h base64 and base32.
 *
 * Invariants:
 * - b64_decode is strict, so whatever it accepts is canonical: encoding the result must give
 *   back the input byte for byte, and the decoded length follows from the padding.
 * - b64_encode then b64_decode reproduces any byte string.
 * - b32_encode then b32_decode reproduces any byte string.
 * - b32_decode ignores case, so decoding the lower-cased input gives the same bytes; and
 *   decode(encode(decode(x))) == decode(x). */
#include <ctype.h>

#include "fuzz.h"
#include "lib/codec.h"

static void b64_canonical(const char *in, size_t n)
{
	size_t cap = (n / 4) * 3, got = 0;
	unsigned char *out = malloc(cap ? cap : 1);
	FUZZ_CHECK(out != NULL);
	if (b64_decode(in, n, out, &got) == 0) {
		size_t pad = 0;
		FUZZ_CHECK(n % 4 == 0);
		if (n >= 1 && in[n - 1] == '=')
			pad++;
		if (n >= 2 && in[n - 2] == '=')
			pad++;
		FUZZ_CHECK(got == cap - pad);
		char *enc = malloc(B64_ENC_LEN(got));
		FUZZ_CHECK(enc != NULL);
		b64_encode(out, got, enc);
		FUZZ_CHECK(strlen(enc) == n);
		FUZZ_CHECK(memcmp(enc, in, n) == 0);
		free(enc);
	}
	free(out);
}

static void b64_roundtrip(const unsigned char *in, size_t n)
{
	size_t elen = B64_ENC_LEN(n), got = 0;
	char *enc = malloc(elen);
	unsigned char *dec;
	FUZZ_CHECK(enc != NULL);
	b64_encode(in, n, enc);
	FUZZ_CHECK(strlen(enc) == elen - 1);
	dec = malloc(((elen - 1) / 4) * 3 + 1);
	FUZZ_CHECK(dec != NULL);
	FUZZ_CHECK(b64_decode(enc, elen - 1, dec, &got) == 0);
	FUZZ_CHECK(got == n);
	FUZZ_CHECK(n == 0 || memcmp(dec, in, n) == 0);
	free(dec);
	free(enc);
}

static void b32_roundtrip(const unsigned char *in, size_t n)
{
	size_t elen = (n * 8 + 4) / 5 + 1, got = 0;
	char *enc = malloc(elen);
	unsigned char *dec;
	FUZZ_CHECK(enc != NULL);
	b32_encode(in, n, enc);
	FUZZ_CHECK(strlen(enc) == elen - 1);
	dec = malloc((elen - 1) * 5 / 8 + 1);
	FUZZ_CHECK(dec != NULL);
	FUZZ_CHECK(b32_decode(enc, elen - 1, dec, &got) == 0);
	FUZZ_CHECK(got == n);
	FUZZ_CHECK(n == 0 || memcmp(dec, in, n) == 0);
	free(dec);
	free(enc);
}

static void b32_lenient(const char *in, size_t n)
{
	size_t cap = n * 5 / 8, got = 0, got2 = 0, got3 = 0;
	unsigned char *out = malloc(cap ? cap : 1), *out2 = malloc(cap ? cap : 1);
	char *lower = malloc(n ? n : 1);
	FUZZ_CHECK(out != NULL && out2 != NULL && lower != NULL);
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)in[i]);
	int r = b32_decode(in, n, out, &got);
	int r2 = b32_decode(lower, n, out2, &got2);
	FUZZ_CHECK(r == r2);
	if (r == 0) {
		FUZZ_CHECK(got <= cap);
		FUZZ_CHECK(got == got2);
		FUZZ_CHECK(got == 0 || memcmp(out, out2, got) == 0);
		/* re-encode and decode again: the same bytes */
		char *enc = malloc((got * 8 + 4) / 5 + 1);
		unsigned char *out3;
		FUZZ_CHECK(enc != NULL);
		b32_encode(out, got, enc);
		out3 = malloc(strlen(enc) * 5 / 8 + 1);
		FUZZ_CHECK(out3 != NULL);
		FUZZ_CHECK(b32_decode(enc, strlen(enc), out3, &got3) == 0);
		FUZZ_CHECK(got3 == got);
		FUZZ_CHECK(got == 0 || memcmp(out3, out, got) == 0);
		free(out3);
		free(enc);
	}
	free(lower);
	free(out2);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_dup(data, size);
	b64_canonical(in, size);
	b64_roundtrip((const unsigned char *)in, size);
	b32_lenient(in, size);
	b32_roundtrip((const unsigned char *)in, size);
	free(in);
	return 0;
}
