/* fuzz_imaplit: the command scanner (literal reader) of server/imap/imap_parse.h.
 *
 * Input: byte 0 and 1 pick max_line (16 + b0 * 4) and max_literal (b1 * 64); the rest is a
 * byte stream of commands with literals.
 *
 * Invariants:
 * - fed the whole stream, or byte by byte, imap_scan finds the same command ends, the same
 *   continuation requests and the same errors at the same places;
 * - a command end lies after every literal it announced (never inside literal bytes);
 * - a continuation is requested only for synchronizing literals within max_literal;
 * - TOOBIG is reported only for a literal above max_literal (or the total above max_total). */
#include <stdbool.h>

#include "fuzz.h"
#include "server/imap/imap_parse.h"

struct ev {
	int kind; /* 1 command, 2 continuation, 3 error */
	size_t at;
	int error;
};

static size_t run(const char *in, size_t len, size_t step, size_t ml, size_t mlit, struct ev *evs,
		  size_t maxev)
{
	struct imap_scan st = {.max_line = ml, .max_literal = mlit, .max_total = mlit + 4 * ml};
	size_t base = 0, have = 0, n = 0;

	imap_scan_reset(&st);
	while (base < len && n < maxev) {
		int rc;
		if (have < len - base)
			have = step == 0 ? len - base : (have + step < len - base ? have + step : len - base);
		rc = imap_scan(in + base, have, &st);
		if (rc == 1) {
			FUZZ_CHECK(st.end > 0 && st.end <= have && st.lit_left == 0);
			evs[n++] = (struct ev){1, base + st.end, 0};
			base += st.end;
			have -= st.end;
			imap_scan_reset(&st);
		} else if (rc < 0) {
			if (st.error == IMAP_SCAN_TOOBIG)
				FUZZ_CHECK(st.lit_size > mlit || st.pos > st.max_total ||
					   st.lit_size + st.pos > st.max_total);
			evs[n++] = (struct ev){3, base + st.pos, st.error};
			if (st.pos == 0)
				break;
			base += st.pos;
			have -= st.pos;
			imap_scan_reset(&st);
		} else if (st.need_cont) {
			FUZZ_CHECK(!st.lit_nonsync && st.lit_size <= mlit);
			evs[n++] = (struct ev){2, base + st.pos, 0};
			st.need_cont = false;
		} else if (have == len - base) {
			break;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev a[4096], b[4096];
	size_t ml, mlit, na, nb;
	char *in;

	if (size < 2)
		return 0;
	ml = 16 + (size_t)data[0] * 4;
	mlit = (size_t)data[1] * 64;
	in = fuzz_dup(data + 2, size - 2);
	na = run(in, size - 2, 0, ml, mlit, a, 4096);
	nb = run(in, size - 2, 1, ml, mlit, b, 4096);
	FUZZ_CHECK(na == nb);
	for (size_t i = 0; i < na; i++)
		FUZZ_CHECK(a[i].kind == b[i].kind && a[i].at == b[i].at && a[i].error == b[i].error);
	free(in);
	return 0;
}
