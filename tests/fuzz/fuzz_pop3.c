/* fuzz_pop3: the POP3 tokenizers and the message encoder of server/pop3/pop3_parse.h:
 * pop3_line_next over a byte stream, pop3_cmd_split, pop3_args and pop3_number on each line,
 * and the whole input as a stored message through pop3_sizer and pop3_encode.
 *
 * Input: byte 0 picks the line limit (255 + 64 * (b % 8)), byte 1 the TOP line count (b % 8)
 * and the sizer's chunk size (1 + b / 8); the rest is the stream.
 *
 * Invariants:
 * - pop3_line_next: a line (1) has no CR, LF or NUL, is at most max bytes, and is followed by
 *   LF or CRLF; consumed = len + 1 or len + 2. Every prefix shorter than consumed answers 0
 *   (incomplete), so feeding byte by byte finds the same lines. CTRL (-1) consumes up to and
 *   including an LF; LONG consumes nothing and only when no line of at most max fits.
 * - pop3_cmd_split: the keyword is 1..POP3_VERB_MAX upper-case letters; the argument lies
 *   inside the line. pop3_args: tokens lie inside the argument, are non-empty and have no
 *   space; pop3_number: only digits, the value at most max, and it prints back the same
 *   (without leading zeros).
 * - pop3_encode (RETR): the output has only CRLF line ends (no bare CR or LF), no line that is
 *   "." alone; removing one "." from lines starting with ".." gives the message with every
 *   line end as CRLF; that length is what pop3_sizer counted, fed in any chunk size. TOP's
 *   output is a prefix of RETR's, ends at a line end, and has at most n lines after the first
 *   empty line. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "fuzz.h"
#include "lib/buf.h"
#include "server/pop3/pop3_parse.h"

static void check_command(const char *line, size_t len)
{
	struct pop3_cmdline cl;
	struct pop3_tok v[POP3_ARGS_MAX];
	size_t n;

	if (pop3_cmd_split(line, len, &cl) == 0) {
		size_t vl = strlen(cl.verb);
		FUZZ_CHECK(vl >= 1 && vl <= POP3_VERB_MAX);
		for (size_t i = 0; i < vl; i++)
			FUZZ_CHECK(cl.verb[i] >= 'A' && cl.verb[i] <= 'Z');
		FUZZ_CHECK(cl.arg_len == 0 || (cl.arg >= line && cl.arg + cl.arg_len <= line + len));
		FUZZ_CHECK(cl.arg_len == 0 || cl.arg == line + vl + 1);
		line = cl.arg;
		len = cl.arg_len;
	}
	if (pop3_args(line, len, v, POP3_ARGS_MAX, &n) < 0)
		return;
	FUZZ_CHECK(n <= POP3_ARGS_MAX);
	for (size_t i = 0; i < n; i++) {
		uint32_t num;
		FUZZ_CHECK(v[i].len > 0 && v[i].p >= line && v[i].p + v[i].len <= line + len);
		FUZZ_CHECK(memchr(v[i].p, ' ', v[i].len) == NULL);
		FUZZ_CHECK(i == 0 || v[i].p > v[i - 1].p + v[i - 1].len);
		if (pop3_number(v[i].p, v[i].len, 4000000000u, &num) == 0) {
			char again[16];
			size_t z = 0;
			FUZZ_CHECK(num <= 4000000000u);
			while (z + 1 < v[i].len && v[i].p[z] == '0')
				z++;
			snprintf(again, sizeof(again), "%" PRIu32, num);
			FUZZ_CHECK(strlen(again) == v[i].len - z &&
				   memcmp(again, v[i].p + z, v[i].len - z) == 0);
		}
	}
}

static void check_lines(const char *buf, size_t size, size_t max)
{
	size_t off = 0;

	while (off < size) {
		struct pop3_line ln, part;
		const char *p = buf + off;
		size_t left = size - off;
		int rc = pop3_line_next(p, left, max, &ln);

		if (rc == 0) {
			FUZZ_CHECK(left < max + 2 && memchr(p, '\n', left) == NULL);
			break;
		}
		if (rc == 1) {
			FUZZ_CHECK(ln.error == POP3_LINE_OK && ln.len <= max);
			FUZZ_CHECK(ln.consumed == ln.len + 1 || ln.consumed == ln.len + 2);
			FUZZ_CHECK(ln.consumed <= left && p[ln.consumed - 1] == '\n');
			FUZZ_CHECK(ln.consumed == ln.len + 1 || p[ln.len] == '\r');
			FUZZ_CHECK(memchr(p, '\r', ln.len) == NULL && memchr(p, '\n', ln.len) == NULL);
			FUZZ_CHECK(memchr(p, '\0', ln.len) == NULL);
			char *line = fuzz_dup((const uint8_t *)p, ln.len);
			check_command(line, ln.len);
			free(line);
		} else if (ln.error == POP3_LINE_LONG) {
			const char *lf = memchr(p, '\n', left);
			FUZZ_CHECK(ln.consumed == 0);
			FUZZ_CHECK(lf == NULL || (size_t)(lf - p) > max);
			if (lf == NULL)
				break;
			ln.consumed = (size_t)(lf - p) + 1; /* what the session does */
		} else {
			FUZZ_CHECK(ln.error == POP3_LINE_CTRL);
			FUZZ_CHECK(ln.consumed >= 1 && ln.consumed <= left && p[ln.consumed - 1] == '\n');
		}
		/* incremental feeding agrees: shorter prefixes are incomplete */
		if (ln.error != POP3_LINE_LONG)
			for (size_t k = 0; k < ln.consumed; k += 1 + k / 8)
				FUZZ_CHECK(pop3_line_next(p, k, max, &part) == 0);
		off += ln.consumed;
	}
}

/* The message with every line end (CRLF, LF, bare CR) as CRLF and a CRLF after an
 * unterminated last line. */
static void normalise(const char *raw, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\r') {
			if (i + 1 < len && raw[i + 1] == '\n')
				i++;
			FUZZ_CHECK(buf_append(out, "\r\n", 2) == 0);
		} else if (raw[i] == '\n') {
			FUZZ_CHECK(buf_append(out, "\r\n", 2) == 0);
		} else {
			FUZZ_CHECK(buf_append(out, raw + i, 1) == 0);
		}
	}
	if (len && raw[len - 1] != '\r' && raw[len - 1] != '\n')
		FUZZ_CHECK(buf_append(out, "\r\n", 2) == 0);
}

static void check_message(const char *raw, size_t len, unsigned top, size_t chunk)
{
	struct buf retr, toplines, norm, unstuffed;
	struct pop3_sizer z;
	size_t i, after_empty = 0;
	bool in_body = false;

	buf_init(&retr, 0);
	buf_init(&toplines, 0);
	buf_init(&norm, 0);
	buf_init(&unstuffed, 0);
	FUZZ_CHECK(pop3_encode(raw, len, -1, &retr) == 0);
	FUZZ_CHECK(pop3_encode(raw, len, top, &toplines) == 0);
	normalise(raw, len, &norm);
	pop3_sizer_init(&z);
	for (i = 0; i < len; i += chunk)
		pop3_sizer_feed(&z, raw + i, len - i < chunk ? len - i : chunk);
	FUZZ_CHECK(pop3_sizer_end(&z) == (int64_t)norm.len);

	/* line by line: CRLF only, unstuffing gives the normalised message */
	for (i = 0; i < retr.len;) {
		const char *p = retr.data + i;
		const char *lf = memchr(p, '\n', retr.len - i);
		size_t n;
		FUZZ_CHECK(lf != NULL && lf > p && lf[-1] == '\r');
		n = (size_t)(lf - p) - 1;
		FUZZ_CHECK(memchr(p, '\r', n) == NULL);
		FUZZ_CHECK(!(n == 1 && p[0] == '.'));
		if (n > 0 && p[0] == '.') {
			FUZZ_CHECK(n >= 2 && p[1] == '.');
			FUZZ_CHECK(buf_append(&unstuffed, p + 1, n + 1) == 0);
		} else {
			FUZZ_CHECK(buf_append(&unstuffed, p, n + 2) == 0);
		}
		i += n + 2;
	}
	FUZZ_CHECK(unstuffed.len == norm.len);
	FUZZ_CHECK(norm.len == 0 || memcmp(unstuffed.data, norm.data, norm.len) == 0);

	/* TOP: a prefix of RETR, at most `top` body lines */
	FUZZ_CHECK(toplines.len <= retr.len);
	FUZZ_CHECK(toplines.len == 0 || memcmp(toplines.data, retr.data, toplines.len) == 0);
	FUZZ_CHECK(toplines.len == 0 || toplines.data[toplines.len - 1] == '\n');
	for (i = 0; i < toplines.len;) {
		const char *lf = memchr(toplines.data + i, '\n', toplines.len - i);
		size_t n = (size_t)(lf - (toplines.data + i)) + 1;
		if (in_body)
			after_empty++;
		else if (n == 2)
			in_body = true;
		i += n;
	}
	FUZZ_CHECK(after_empty <= top);
	if (toplines.len < retr.len)
		FUZZ_CHECK(after_empty == top);

	buf_release(&retr);
	buf_release(&toplines);
	buf_release(&norm);
	buf_release(&unstuffed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max;
	unsigned top;
	size_t chunk;
	char *buf;

	if (size < 2)
		return 0;
	max = 255 + 64 * (data[0] % 8);
	top = data[1] % 8;
	chunk = 1 + data[1] / 8;
	buf = fuzz_dup(data + 2, size - 2);
	check_lines(buf, size - 2, max);
	check_message(buf, size - 2, top, chunk);
	free(buf);
	return 0;
}
