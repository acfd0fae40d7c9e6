/* totp.h: TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1, 30 s steps, 6 digits. */
#ifndef YZ_TOTP_H
#define YZ_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_KEY_LEN 20
#define TOTP_STEP 30
#define TOTP_DIGITS 6

/* HOTP value for a counter, as a number below 10^digits. */
uint32_t totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits);

/* Check a code typed by a person (digits, maybe with spaces) at unix time now, allowing one
 * step of clock drift either way. Refuses any step <= last_step (replay). On success writes the
 * matched step into *step_r. */
bool totp_check(const unsigned char *key, size_t keylen, const char *code, int64_t now,
		int64_t last_step, int64_t *step_r);

#endif
