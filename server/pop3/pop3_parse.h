/* pop3_parse.h: the POP3 tokenizers and the message encoder (no I/O; STYLE.md section 6). The
 * session code, the libFuzzer target (tests/fuzz/fuzz_pop3.c) and nothing else call these.
 *
 * - pop3_line_next: one command line out of a byte stream (RFC 1939 section 3).
 * - pop3_cmd_split: keyword and argument of a command line.
 * - pop3_args, pop3_number: the arguments of STAT/LIST/RETR/DELE/TOP/UIDL.
 * - pop3_sizer, pop3_encode: a stored message as it goes on the wire (RFC 1939 section 3 and
 *   11): every line ends in CRLF, whatever the stored line ends were (LF, CRLF, or a bare CR:
 *   each is one line end), lines starting with "." are byte-stuffed, and the last line gets a
 *   CRLF when the message does not end with one. The size is the octets of the message as the
 *   client holds it after removing the stuffing: what LIST and STAT report. */
#ifndef YZ_POP3_PARSE_H
#define YZ_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---- command lines ---- */

enum pop3_line_err {
	POP3_LINE_OK = 0,
	POP3_LINE_CTRL, /* a NUL, or a CR that is not right before the LF */
	POP3_LINE_LONG, /* no LF within max + 2 bytes */
};

struct pop3_line {
	size_t len;      /* bytes of the line, line end excluded (1 only) */
	size_t consumed; /* bytes to drop from the stream (1 and CTRL; 0 for LONG) */
	enum pop3_line_err error;
};

/* Look for one line at the start of buf[0, len): it ends at LF, and a CR right before that LF
 * is part of the line end (RFC 1939 says CRLF; a bare LF is taken too: nothing is relayed, so
 * there is no smuggling to fear, and hand-typed sessions work). At most max content bytes.
 * 1: a line buf[0, out->len), out->consumed bytes to drop (len + 1 or len + 2).
 * 0: no LF yet and fewer than max + 2 bytes: read more.
 * -1: out->error says why. For CTRL, out->consumed covers the line and its LF. For LONG nothing
 *     is consumed: the caller discards bytes up to the next LF without buffering them. */
int pop3_line_next(const char *buf, size_t len, size_t max, struct pop3_line *out);

#define POP3_VERB_MAX 8 /* RFC 2449 section 3: keywords are 3 or 4 characters; some room */

struct pop3_cmdline {
	char verb[POP3_VERB_MAX + 1]; /* upper case */
	const char *arg;              /* borrowed from the line, everything after the first space
				       * (PASS keeps spaces: RFC 1939 section 7); "" when none */
	size_t arg_len;
};

/* "KEYWORD" or "KEYWORD SP argument". 0, or -1 when the keyword is not 1..POP3_VERB_MAX ASCII
 * letters followed by the end of the line or a space. */
int pop3_cmd_split(const char *line, size_t len, struct pop3_cmdline *out);

struct pop3_tok {
	const char *p; /* borrowed */
	size_t len;
};
#define POP3_ARGS_MAX 4
/* Split an argument string at runs of spaces (leading and trailing ones ignored) into at most
 * max tokens. 0 with *n_r tokens, or -1 when there are more than max. */
int pop3_args(const char *arg, size_t len, struct pop3_tok *v, size_t max, size_t *n_r);

/* A decimal number of 1..10 digits (no sign, no space) that is at most max. 0 or -1. */
int pop3_number(const char *s, size_t len, uint32_t max, uint32_t *n_r);

/* ---- the message on the wire ---- */

/* Counts the wire size of a message fed in pieces of any size. */
struct pop3_sizer {
	int64_t n;
	bool pending_cr; /* the last byte fed was a CR whose line end is not counted yet */
	bool at_bol;     /* the next byte starts a line (true before any byte) */
};
void pop3_sizer_init(struct pop3_sizer *z);
void pop3_sizer_feed(struct pop3_sizer *z, const char *p, size_t len);
/* The size of the whole message (the terminating ".CRLF" not included). */
int64_t pop3_sizer_end(const struct pop3_sizer *z);

/* Append raw[0, len) in wire form to out: all of it (body_lines < 0, RETR), or the header,
 * the empty line after it and body_lines lines of the body (TOP, RFC 1939 section 7). The
 * terminating ".CRLF" is not appended. -1 only when out's limit is reached. */
int pop3_encode(const char *raw, size_t len, int64_t body_lines, struct buf *out) YZ_WUR;

#endif
