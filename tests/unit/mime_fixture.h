/* mime_fixture.h: what the store/mime.h unit tests share (test_mime.c, test_mime_corpus.c,
 * test_mime_charset.c): reading corpus files, parsing with the default limits, the part tree
 * and address lists as strings, the invariants every parse result must satisfy, and a
 * growing buffer for generated messages. Each function fails the running cmocka test. */
#ifndef YZ_TEST_MIME_FIXTURE_H
#define YZ_TEST_MIME_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/arena.h"
#include "store/mime.h"

#define DATA YZ_SOURCE_DIR "/tests/data/mail/"

/* tests/data/mail/REL, NUL-terminated, malloc'd; *n its length. */
char *slurp(const char *rel, size_t *n);
/* A copy in a block of exactly n bytes, so ASan sees any read past the message. */
char *dup_exact(const char *s, size_t n);
/* LF line ends, or CRLF ones (from either); malloc'd. */
char *line_ends(const char *s, size_t n, bool crlf, size_t *out_n);
struct mime_limits deflim(void);
/* mime_parse with the default limits; the test fails if it does not parse. */
struct mime_msg *parse_ok(const char *raw, size_t n, struct arena *a);
struct mime_msg *parse_str(const char *s, struct arena *a);
/* "type/subtype(child,child)" for the whole tree. */
const char *tree(const struct mime_msg *m, struct arena *a);
/* "group: name <address>, ..." */
const char *addrs(const struct mime_addr_list *l, struct arena *a);
/* The attachments' file names, "|"-separated ("-" for none). */
const char *attachments(const struct mime_msg *m, struct arena *a);
/* What every parse result must satisfy, whatever the input. */
void check_invariants(const char *raw, size_t n, const struct mime_msg *m, struct arena *a);

struct gen {
	char *p;
	size_t n, cap;
};
/* Append s (NUL-terminated; g->p stays a C string). */
void gen_add(struct gen *g, const char *s);

#endif
