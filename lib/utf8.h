/* utf8.h: UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
#ifndef YZ_UTF8_H
#define YZ_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);
/* Length of the valid sequence at s (1..4), or 0 if the bytes there are not valid UTF-8. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);
/* Write code point cp (at most U+10FFFF, not a surrogate: the caller checks) as UTF-8 at o,
 * which has room for 4 bytes; returns the bytes written. */
size_t utf8_put(char *o, unsigned cp);

#endif
