/* util.h: allocation that aborts on exhaustion, time, constant-time compare, randomness. */
#ifndef YZ_UTIL_H
#define YZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ASSERT is for bugs and stays on in release builds; user input never reaches it. */
#define ASSERT(x) ((x) ? (void)0 : yz_assert_fail(#x, __FILE__, __LINE__))
_Noreturn void yz_assert_fail(const char *what, const char *file, int line);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

int64_t time_now(void);     /* unix seconds */
int64_t time_now_ms(void);  /* unix milliseconds */
uint64_t time_mono_ns(void); /* monotonic nanoseconds */
struct timespec;
/* The wall-clock time ms milliseconds from now, for pthread_cond_timedwait (whose default
 * clock is CLOCK_REALTIME). */
void time_deadline(struct timespec *ts, int64_t ms);

/* Compare n bytes without a data-dependent early exit. */
bool mem_eq_ct(const void *a, const void *b, size_t n);
/* Fill buf with n bytes from the OpenSSL CSPRNG; aborts if it cannot (no safe fallback). */
void rand_bytes(void *buf, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* Random token: nbytes of randomness as lower-case hex into out (2*nbytes+1). */
void rand_hex(char *out, size_t nbytes);

bool str_has_prefix(const char *s, const char *prefix);
/* Parse a whole decimal string into [min,max]. */
int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out_r) YZ_WUR;
/* ASCII lower-case in place. */
void str_lower(char *s);

#endif
