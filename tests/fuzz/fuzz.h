/* fuzz.h: shared helpers for the libFuzzer targets in tests/fuzz/ (STYLE.md section 8).
 *
 * Each target defines LLVMFuzzerTestOneInput(); replay.c supplies a main() so ordinary builds
 * replay the corpus and the committed crashers without libFuzzer. A broken invariant is a bug
 * in the code under test: FUZZ_CHECK prints it and aborts, which libFuzzer records as a crash. */
#ifndef YZ_FUZZ_H
#define YZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                         \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
				#cond);                                                          \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* A heap copy of exactly n bytes (no NUL added), so ASan catches any read past the input. */
static inline char *fuzz_dup(const uint8_t *data, size_t n)
{
	char *p = calloc(1, n); /* calloc(1, 0) too: any access to it is an ASan report */
	if (p == NULL && n > 0)
		abort();
	if (n > 0)
		memcpy(p, data, n);
	return p;
}

/* A heap copy of n bytes plus a NUL, for APIs that take C strings (n + 1 bytes exactly). */
static inline char *fuzz_strdup(const uint8_t *data, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		abort();
	if (n)
		memcpy(p, data, n);
	p[n] = '\0';
	return p;
}

#endif
