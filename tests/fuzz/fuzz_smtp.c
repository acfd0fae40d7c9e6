/* fuzz_smtp: the SMTP command tokenizers of server/smtp/smtp_parse.h: smtp_line_next over a
 * byte stream, smtp_cmd_split, smtp_parse_path_arg (MAIL FROM / RCPT TO paths and ESMTP
 * parameters) and smtp_xtext_decode.
 *
 * Input: byte 0 picks the line limit (512 + 64 * (b % 8)); the rest is the stream.
 *
 * Invariants:
 * - smtp_line_next: a line (1) has no CR, LF or NUL, is at most max bytes, and is followed
 *   by CRLF in the input; consumed = len + 2. Every prefix shorter than consumed answers 0
 *   (incomplete), so feeding byte by byte finds the same lines. BARE_EOL/NUL (-1) consume up
 *   to and including an LF; LONG consumes nothing and only when no LF is in max + 2 bytes.
 * - smtp_cmd_split: the verb is 1..16 upper-case letters; the argument lies inside the line
 *   and has no trailing space.
 * - smtp_parse_path_arg: a parsed mailbox is at most 254 bytes with no control character,
 *   no space outside a quoted local part, and "FROM:<mailbox>" parses again to the same
 *   mailbox and flags. Parameters have upper-case keys of [A-Z0-9-], values inside the line
 *   without spaces or '='; at most 16; no key twice.
 * - smtp_xtext_decode: output has no control characters and no NUL. */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/arena.h"
#include "server/smtp/smtp_parse.h"

static void check_path(const struct smtp_mailarg *m, const char *arg, size_t len, bool reverse,
		       struct arena *a)
{
	const struct smtp_path *p = &m->path;
	size_t n = strlen(p->mailbox);
	bool inq = false;

	FUZZ_CHECK(n <= SMTP_MAILBOX_MAX);
	FUZZ_CHECK(p->null == (n == 0));
	FUZZ_CHECK(!p->null || reverse);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p->mailbox[i];
		FUZZ_CHECK(c >= 32 && c != 127);
		if (c == '"' && (i == 0 || p->mailbox[i - 1] != '\\'))
			inq = !inq;
		if (!inq)
			FUZZ_CHECK(c != ' ');
	}
	FUZZ_CHECK(m->nparams <= SMTP_MAX_PARAMS);
	for (size_t i = 0; i < m->nparams; i++) {
		const struct smtp_param *q = &m->params[i];
		FUZZ_CHECK(q->key[0] != '\0');
		for (const char *k = q->key; *k; k++)
			FUZZ_CHECK((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '-');
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(m->params[j].key, q->key) != 0);
		if (q->value) {
			char *dec;
			FUZZ_CHECK(q->value >= arg && q->value + q->value_len <= arg + len);
			FUZZ_CHECK(q->value_len > 0);
			FUZZ_CHECK(memchr(q->value, ' ', q->value_len) == NULL);
			FUZZ_CHECK(memchr(q->value, '=', q->value_len) == NULL);
			for (int u = 0; u < 2; u++)
				if (smtp_xtext_decode(q->value, q->value_len, u, a, &dec) == 0)
					for (const char *d = dec; *d; d++)
						FUZZ_CHECK((unsigned char)*d >= 32 && *d != 127);
		}
	}
	if (!p->null && !p->postmaster) {
		struct smtp_mailarg again;
		char *s = arena_printf(a, "FROM:<%s>", p->mailbox);
		FUZZ_CHECK(smtp_parse_path_arg(s, strlen(s), "FROM:", true, &again) == 0);
		FUZZ_CHECK(strcmp(again.path.mailbox, p->mailbox) == 0);
		/* utf8 covers the whole path: a source route (dropped here) may hold it alone */
		FUZZ_CHECK(again.path.quoted == p->quoted && again.path.literal == p->literal &&
			   (p->route || again.path.utf8 == p->utf8) && !again.path.route);
	}
}

static void check_command(const char *line, size_t len, struct arena *a)
{
	struct smtp_cmdline cl;
	struct smtp_mailarg *m = arena_alloc(a, sizeof(*m));

	if (smtp_cmd_split(line, len, &cl) == 0) {
		size_t vl = strlen(cl.verb);
		FUZZ_CHECK(vl >= 1 && vl <= SMTP_VERB_MAX);
		for (size_t i = 0; i < vl; i++)
			FUZZ_CHECK(cl.verb[i] >= 'A' && cl.verb[i] <= 'Z');
		FUZZ_CHECK(cl.arg >= line && cl.arg + cl.arg_len <= line + len);
		FUZZ_CHECK(cl.arg_len == 0 || (cl.arg[cl.arg_len - 1] != ' ' &&
					       cl.arg[cl.arg_len - 1] != '\t'));
		(void)smtp_helo_ok(cl.arg, cl.arg_len);
		if (smtp_parse_path_arg(cl.arg, cl.arg_len, "FROM:", true, m) == 0)
			check_path(m, cl.arg, cl.arg_len, true, a);
		if (smtp_parse_path_arg(cl.arg, cl.arg_len, "TO:", false, m) == 0)
			check_path(m, cl.arg, cl.arg_len, false, a);
	}
	/* the whole line as an argument too: the parsers must not assume a verb before it */
	if (smtp_parse_path_arg(line, len, "FROM:", true, m) == 0)
		check_path(m, line, len, true, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max, off = 0;
	char *buf;
	struct arena *a;

	if (size == 0)
		return 0;
	max = 512 + 64 * (data[0] % 8);
	buf = fuzz_dup(data + 1, size - 1);
	size--;
	a = arena_new();
	while (off < size) {
		struct smtp_line ln, part;
		const char *p = buf + off;
		size_t left = size - off;
		int rc = smtp_line_next(p, left, max, &ln);

		if (rc == 0) {
			FUZZ_CHECK(left < max + 2 && memchr(p, '\n', left) == NULL);
			break;
		}
		if (rc == 1) {
			FUZZ_CHECK(ln.error == SMTP_LINE_OK && ln.len <= max);
			FUZZ_CHECK(ln.consumed == ln.len + 2 && ln.consumed <= left);
			FUZZ_CHECK(p[ln.len] == '\r' && p[ln.len + 1] == '\n');
			FUZZ_CHECK(memchr(p, '\r', ln.len) == NULL && memchr(p, '\n', ln.len) == NULL);
			FUZZ_CHECK(memchr(p, '\0', ln.len) == NULL);
			char *line = fuzz_dup((const uint8_t *)p, ln.len);
			check_command(line, ln.len, a);
			free(line);
		} else if (ln.error == SMTP_LINE_LONG) {
			FUZZ_CHECK(ln.consumed == 0 && left >= max + 2);
			FUZZ_CHECK(memchr(p, '\n', max + 2) == NULL);
			/* what the session does: drop up to the next LF */
			const char *lf = memchr(p, '\n', left);
			if (lf == NULL)
				break;
			ln.consumed = (size_t)(lf - p) + 1;
		} else {
			FUZZ_CHECK(ln.error == SMTP_LINE_BARE_EOL || ln.error == SMTP_LINE_NUL);
			FUZZ_CHECK(ln.consumed >= 1 && ln.consumed <= left && p[ln.consumed - 1] == '\n');
		}
		/* incremental feeding agrees: shorter prefixes are incomplete */
		if (ln.error != SMTP_LINE_LONG)
			for (size_t k = 0; k < ln.consumed; k += 1 + k / 8)
				FUZZ_CHECK(smtp_line_next(p, k, max, &part) == 0);
		off += ln.consumed;
		arena_reset(a);
	}
	arena_free(&a);
	free(buf);
	return 0;
}
