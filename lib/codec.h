/* codec.h: base64 (RFC 4648 section 4) and base32 (section 6), strict decoders. */
#ifndef YZ_CODEC_H
#define YZ_CODEC_H

#include <stddef.h>

#include "err.h"

/* Encoded length including the NUL. */
#define B64_ENC_LEN(n) ((((n) + 2) / 3) * 4 + 1)

void b64_encode(const unsigned char *in, size_t n, char *out);
/* Decode padded base64; rejects bad characters, bad padding and non-zero trailing bits.
 * out must hold (len/4)*3 bytes. Returns 0 and the byte count, or -1. */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len_r) YZ_WUR;
/* The 6-bit value of a base64 alphabet character, or -1. */
int b64_value(int c);

/* No padding; out holds ceil(8n/5) + 1 bytes. */
void b32_encode(const unsigned char *in, size_t n, char *out);
/* Decode base32, case-insensitive, spaces and padding ignored. out holds len*5/8 bytes. */
int b32_decode(const char *in, size_t len, unsigned char *out, size_t *out_len_r) YZ_WUR;

#endif
