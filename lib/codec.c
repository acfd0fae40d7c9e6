#include "codec.h"

#include <stdint.h>
#include <string.h>

static const char b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0, i;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alpha[v >> 18];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = b64_alpha[(v >> 6) & 63];
		out[o++] = b64_alpha[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64_alpha[v >> 18];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len_r)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = b64_value((unsigned char)c)) < 0)
				return -1; /* data after '=' or a foreign byte */
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1; /* non-canonical trailing bits */
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	*out_len_r = o;
	return 0;
}

static const char b32_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void b32_encode(const unsigned char *in, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int b32_decode(const char *in, size_t len, unsigned char *out, size_t *out_len_r)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v;
		if (c == ' ' || c == '=' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		const char *p = c ? strchr(b32_alpha, c) : NULL;
		if (p == NULL)
			return -1;
		v = (int)(p - b32_alpha);
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	*out_len_r = o;
	return 0;
}
