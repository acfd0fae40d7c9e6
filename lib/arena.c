#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ARENA_BLOCK 8192

struct block {
	struct block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct deferred {
	struct deferred *next;
	void (*fn)(void *);
	void *p;
};

struct arena {
	struct block *head;  /* current block; older ones follow */
	struct deferred *defers;
	size_t total;
};

static struct block *block_new(size_t size)
{
	struct block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_new(void)
{
	struct arena *a = xcalloc(1, sizeof(*a));
	a->head = block_new(ARENA_BLOCK);
	return a;
}

static void run_defers(struct arena *a)
{
	while (a->defers != NULL) {
		struct deferred *d = a->defers;
		a->defers = d->next;
		d->fn(d->p);
	}
}

void arena_reset(struct arena *a)
{
	struct block *b, *keep;

	run_defers(a);
	/* keep one normal-size block for reuse; big blocks go back to malloc */
	keep = NULL;
	while ((b = a->head) != NULL) {
		a->head = b->next;
		if (keep == NULL && b->size == ARENA_BLOCK)
			keep = b;
		else
			free(b);
	}
	if (keep == NULL)
		keep = block_new(ARENA_BLOCK);
	keep->next = NULL;
	keep->used = 0;
	a->head = keep;
	a->total = 0;
}

void arena_free(struct arena **ap)
{
	struct arena *a = *ap;
	struct block *b;

	if (a == NULL)
		return;
	run_defers(a);
	while ((b = a->head) != NULL) {
		a->head = b->next;
		free(b);
	}
	free(a);
	*ap = NULL;
}

static void *alloc(struct arena *a, size_t n, bool zero)
{
	struct block *b = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (need < n)
		abort();
	if (b->size - b->used < need) {
		if (need > ARENA_BLOCK / 2) {
			/* big allocation: own block, inserted behind the current one */
			struct block *big = block_new(need);
			big->used = need;
			big->next = b->next;
			b->next = big;
			a->total += need;
			if (zero)
				memset(big->data, 0, need);
			return big->data;
		}
		b = block_new(ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	a->total += need;
	if (zero)
		memset(p, 0, need);
	return p;
}

void *arena_alloc(struct arena *a, size_t n)
{
	return alloc(a, n, true);
}

void *arena_alloc_raw(struct arena *a, size_t n)
{
	return alloc(a, n, false);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc_raw(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	ASSERT(n >= 0);
	p = arena_alloc_raw(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
	struct deferred *d = arena_alloc(a, sizeof(*d));
	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
}

size_t arena_used(const struct arena *a)
{
	return a->total;
}

size_t arena_held(const struct arena *a)
{
	size_t n = sizeof(*a);
	for (const struct block *b = a->head; b; b = b->next)
		n += sizeof(*b) + b->size;
	return n;
}
