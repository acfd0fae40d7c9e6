/* fuzz_smtpdata: the DATA reader and BDAT checker of server/smtp/smtp_parse.h
 * (smtp_dotread_*), fed arbitrary byte streams in random chunk sizes.
 *
 * Input: bytes 0-3 seed the chunk sizes, byte 4 picks the size limit (64 << (b % 12)) and
 * the mode (DATA when bit 7 is clear, BDAT when set); the rest is the stream.
 *
 * Invariants:
 * - Chunking does not matter: whole, byte by byte and random chunks give the same end
 *   position, the same output and the same flags.
 * - One DATA is one message: once the end was found, further input is never consumed.
 * - The end is exactly the first CRLF "." CRLF whose line start was made by CRLF (or the
 *   start of the data); consumed bytes end with it.
 * - Valid input (every LF after a CR, every CR before an LF, no NUL) gives no flags and the
 *   output is its dot-unstuffed text (RFC 5321 4.5.2), computed here independently.
 * - Input with a bare CR, a bare LF or a NUL before the end always sets a flag.
 * - Output beyond the limit is never kept: over is set exactly when the unstuffed content
 *   exceeds it, and the buffer stays within base + max + 1.
 * - BDAT: the output is the input unchanged; flags as above, with a CR left at the very end
 *   counted by smtp_dotread_finish. */
#include <stdbool.h>

#include "fuzz.h"
#include "server/smtp/smtp_parse.h"

struct run {
	struct smtp_msg out;
	struct smtp_dotread rd;
	size_t used;
	int end;
};

static uint32_t next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* chunking: 0 whole, 1 bytes, 2 random */
static void run_reader(const char *in, size_t len, bool dot, size_t max, int how, uint32_t seed,
		       struct run *r)
{
	size_t off = 0;

	smtp_msg_init(&r->out, 16, max);
	smtp_dotread_init(&r->rd, dot);
	r->end = 0;
	while (off < len) {
		size_t n = how == 0 ? len - off : how == 1 ? 1 : 1 + next_rand(&seed) % 97;
		size_t used;
		int rc;
		if (n > len - off)
			n = len - off;
		rc = smtp_dotread_feed(&r->rd, in + off, n, &r->out, &used);
		FUZZ_CHECK(used <= n);
		if (!dot)
			FUZZ_CHECK(rc == 0 && used == n);
		off += used;
		if (rc == 1) {
			r->end = 1;
			/* the message is over: nothing more is taken */
			size_t u2 = 1;
			FUZZ_CHECK(smtp_dotread_feed(&r->rd, in + off, len - off, &r->out, &u2) == 1);
			FUZZ_CHECK(u2 == 0);
			break;
		}
		FUZZ_CHECK(used == n);
	}
	r->used = off;
	if (!dot)
		smtp_dotread_finish(&r->rd, &r->out);
	FUZZ_CHECK(r->out.len <= r->out.base + max);
	FUZZ_CHECK(r->out.cap <= r->out.base + max + 1);
}

/* Is in[0, n) free of bare CR, bare LF and NUL? A CR as the last byte is judged by what
 * follows it, unless final is set. */
static bool clean(const char *in, size_t n, bool final)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\0')
			return false;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			return false;
		if (in[i] == '\r' && (i + 1 < n ? in[i + 1] != '\n' : final))
			return false;
	}
	return true;
}

/* The first end of data in in[0, len): the offset after its final LF, or 0. */
static size_t find_end(const char *in, size_t len)
{
	if (len >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

static void check_same(const struct run *a, const struct run *b)
{
	FUZZ_CHECK(a->used == b->used && a->end == b->end);
	FUZZ_CHECK(a->rd.flags == b->rd.flags);
	FUZZ_CHECK(a->out.over == b->out.over && a->out.seen == b->out.seen);
	FUZZ_CHECK(a->out.len == b->out.len);
	FUZZ_CHECK(memcmp(a->out.data + a->out.base, b->out.data + b->out.base,
			  a->out.len - a->out.base) == 0);
}

/* RFC 5321 4.5.2 done line by line on valid input that ends at end (or not at all). */
static void check_unstuffed(const char *in, size_t len, size_t end, const struct run *r)
{
	size_t cut = end ? end - 3 : len; /* without the final ".\r\n" */
	char *want = malloc(cut + 1);
	size_t n = 0, i = 0;

	FUZZ_CHECK(want != NULL);
	while (i < cut) {
		if (in[i] == '.' && (i == 0 || in[i - 1] == '\n'))
			i++; /* a stuffed dot */
		const char *lf = memchr(in + i, '\n', cut - i);
		size_t ll = lf ? (size_t)(lf - (in + i)) + 1 : cut - i;
		memcpy(want + n, in + i, ll);
		n += ll;
		i += ll;
	}
	if (!end && len > 0 && in[len - 1] == '\r')
		n--; /* a CR at the very end is held until its LF comes */
	if (n > r->out.max) {
		FUZZ_CHECK(r->out.over);
	} else {
		FUZZ_CHECK(!r->out.over);
		FUZZ_CHECK(r->out.len - r->out.base == n);
		FUZZ_CHECK(memcmp(r->out.data + r->out.base, want, n) == 0);
	}
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, bytes, rnd;
	uint32_t seed;
	size_t max, len, end;
	bool dot;
	char *in;

	if (size < 5)
		return 0;
	memcpy(&seed, data, 4);
	max = (size_t)64 << (data[4] % 12);
	dot = (data[4] & 0x80) == 0;
	len = size - 5;
	in = fuzz_dup(data + 5, len);

	run_reader(in, len, dot, max, 0, seed, &whole);
	run_reader(in, len, dot, max, 1, seed, &bytes);
	run_reader(in, len, dot, max, 2, seed, &rnd);
	check_same(&whole, &bytes);
	check_same(&whole, &rnd);

	if (dot) {
		end = find_end(in, len);
		if (whole.end) {
			size_t u = whole.used;
			FUZZ_CHECK(u >= 3 && memcmp(in + u - 3, ".\r\n", 3) == 0);
			FUZZ_CHECK(u == 3 || (u >= 5 && memcmp(in + u - 5, "\r\n.\r\n", 5) == 0));
		}
		/* on valid input the reader and the plain search agree on the end */
		size_t upto = whole.end ? whole.used : len;
		if (clean(in, upto, false)) {
			FUZZ_CHECK(whole.rd.flags == 0);
			FUZZ_CHECK(whole.end == (end != 0));
			if (whole.end)
				FUZZ_CHECK(whole.used == end);
			check_unstuffed(in, len, whole.end ? whole.used : 0, &whole);
		} else {
			FUZZ_CHECK(whole.rd.flags != 0);
		}
	} else {
		FUZZ_CHECK(whole.used == len && !whole.end);
		FUZZ_CHECK(clean(in, len, true) == (whole.rd.flags == 0));
		if (len <= max) {
			FUZZ_CHECK(!whole.out.over && whole.out.len - whole.out.base == len);
			FUZZ_CHECK(memcmp(whole.out.data + whole.out.base, in, len) == 0);
		} else {
			FUZZ_CHECK(whole.out.over);
		}
	}
	smtp_msg_release(&whole.out);
	smtp_msg_release(&bytes.out);
	smtp_msg_release(&rnd.out);
	free(in);
	return 0;
}
