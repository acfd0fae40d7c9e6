/* fuzz_imap: the IMAP command parser of server/imap/imap_parse.h: imap_parse over one command
 * (as imap_scan delimits it), then imap_seqset_parse and the date parsers on every atom.
 *
 * Input: byte 0 picks the nesting limit (1 + b % 40); the rest is the command.
 *
 * Invariants:
 * - imap_parse: on success the tag is non-empty printable ASCII without '+', the name is
 *   upper-case, lists nest no deeper than the limit, atoms and quoted strings hold no NUL, CR
 *   or LF, and a literal's bytes lie inside the input.
 * - imap_seqset_parse: ranges are lo <= hi, ascending, disjoint and not adjacent; written back
 *   with imap_seqset_put (expanded), they parse to the same set.
 * - imap_put_string output of any string parses back (as the argument of a command) to the
 *   same bytes. */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "server/imap/imap_parse.h"

static void check_args(const struct imap_arg *v, size_t n, int depth, int max, const char *in,
		       size_t len, struct arena *a)
{
	FUZZ_CHECK(depth <= max);
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *x = &v[i];
		if (x->type == IMAP_ARG_LIST) {
			check_args(x->list, x->n, depth + 1, max, in, len, a);
			continue;
		}
		if (x->type == IMAP_ARG_LITERAL) {
			FUZZ_CHECK(x->nul || (x->str >= in && x->str + x->len <= in + len));
			continue;
		}
		FUZZ_CHECK(x->nul && strlen(x->str) == x->len);
		FUZZ_CHECK(strpbrk(x->str, "\r\n") == NULL);
		if (x->type == IMAP_ARG_ATOM) {
			struct imap_seqset set;
			int64_t t;
			if (imap_seqset_parse(x->str, x->len, 1000, a, &set) == 0) {
				for (size_t k = 0; k < set.n; k++) {
					FUZZ_CHECK(set.v[k].lo <= set.v[k].hi);
					if (k)
						FUZZ_CHECK((uint64_t)set.v[k - 1].hi + 1 < set.v[k].lo);
				}
			}
			(void)imap_date_parse(x->str, x->len, &t);
		} else {
			int64_t t;
			(void)imap_date_time_parse(x->str, x->len, &t);
		}
	}
}

/* A string written by imap_put_string reads back as the same bytes. */
static void round_trip(const char *s, size_t n, struct arena *a)
{
	struct buf b;
	struct imap_command cmd;
	const char *tag, *why;
	buf_init(&b, 0);
	(void)!buf_puts(&b, "t X ");
	imap_put_string(&b, s, n);
	(void)!buf_puts(&b, "\r\n");
	FUZZ_CHECK(imap_parse(b.data, b.len, 4, 1 << 20, a, &cmd, &tag, &why) == 0);
	FUZZ_CHECK(cmd.nargs == 1 && cmd.args[0].len == n && memcmp(cmd.args[0].str, s, n) == 0);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct imap_command cmd;
	const char *tag, *why;
	int max;
	char *in;

	if (size < 1)
		return 0;
	max = 1 + data[0] % 40;
	in = fuzz_dup(data + 1, size - 1);
	a = arena_new();
	if (imap_parse(in, size - 1, max, 64, a, &cmd, &tag, &why) == 0) {
		FUZZ_CHECK(cmd.tag && *cmd.tag && strchr(cmd.tag, '+') == NULL);
		for (const char *p = cmd.tag; *p; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
		for (const char *p = cmd.name; *p; p++)
			FUZZ_CHECK(*p == ' ' || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'));
		check_args(cmd.args, cmd.nargs, 0, max, in, size - 1, a);
	} else {
		FUZZ_CHECK(why != NULL);
	}
	if (size - 1 <= 4096 && memchr(in, '\0', size - 1) == NULL)
		round_trip(in, size - 1, a);
	arena_free(&a);
	free(in);
	return 0;
}
