#include "totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util.h"

uint32_t totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits)
{
	unsigned char msg[8], mac[20];
	unsigned int maclen = sizeof(mac);
	uint32_t bin, mod = 1;

	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	HMAC(EVP_sha1(), key, (int)keylen, msg, sizeof(msg), mac, &maclen);
	/* dynamic truncation, RFC 4226 section 5.3 */
	int off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	for (int i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

bool totp_check(const unsigned char *key, size_t keylen, const char *code, int64_t now,
		int64_t last_step, int64_t *step_r)
{
	uint32_t want = 0;
	int ndig = 0;
	int64_t step = now / TOTP_STEP;
	bool ok = false;

	for (const char *p = code; *p; p++) {
		if (*p == ' ')
			continue;
		if (*p < '0' || *p > '9' || ndig >= TOTP_DIGITS)
			return false;
		want = want * 10 + (uint32_t)(*p - '0');
		ndig++;
	}
	if (ndig != TOTP_DIGITS)
		return false;
	/* check all three steps so timing does not reveal which one matched */
	for (int64_t s = step - 1; s <= step + 1; s++) {
		uint32_t v = totp_hotp(key, keylen, (uint64_t)s, TOTP_DIGITS);
		if (v == want && s > last_step && !ok) {
			ok = true;
			*step_r = s;
		}
	}
	return ok;
}
