/* arena.h: a memory pool per request or command (STYLE.md section 4).
 * Everything allocated from an arena lives until arena_free()/arena_reset(); never free() it.
 * arena_defer() registers a cleanup for library handles, run in reverse order at reset/free. */
#ifndef YZ_ARENA_H
#define YZ_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "err.h"

struct arena;

struct arena *arena_new(void);
/* Run deferred cleanups and release all memory; sets *ap to NULL. */
void arena_free(struct arena **ap);
/* Run deferred cleanups and forget all allocations, keeping the first block for reuse. */
void arena_reset(struct arena *a);

void *arena_alloc(struct arena *a, size_t n);  /* zeroed, 16-byte aligned */
/* Not zeroed: for buffers filled at once (copies, decoder output), where zeroing tens of KB
 * first is wasted work. */
void *arena_alloc_raw(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) YZ_PRINTF(2, 3);
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
void arena_defer(struct arena *a, void (*fn)(void *), void *p);
/* Bytes handed out so far (for limits and metrics). */
size_t arena_used(const struct arena *a);
/* Bytes the arena holds from malloc: its blocks, used or not. */
size_t arena_held(const struct arena *a);

#endif
