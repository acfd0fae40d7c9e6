/* smtp_parse.h: the SMTP tokenizers (no I/O; STYLE.md section 6). The session code, the
 * libFuzzer targets (tests/fuzz/fuzz_smtp.c, fuzz_smtpdata.c) and nothing else call these.
 *
 * - smtp_line_next: one command line out of a byte stream (RFC 5321 2.3.8, 4.5.3.1.4).
 * - smtp_cmd_split: verb and argument of a command line.
 * - smtp_parse_path_arg: "FROM:<path> params" / "TO:<path> params" (RFC 5321 4.1.2, with the
 *   UTF-8 of RFC 6531 3.3) and the ESMTP parameters after it.
 * - smtp_xtext_decode: RFC 3461 4 xtext (ENVID, ORCPT, AUTH=).
 * - smtp_dotread: the DATA reader (RFC 5321 4.5.2 dot-stuffing) and the BDAT byte checker
 *   (RFC 3030), an incremental state machine fed arbitrary chunks. */
#ifndef YZ_SMTP_PARSE_H
#define YZ_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"

/* ---- command lines ---- */

enum smtp_line_err {
	SMTP_LINE_OK = 0,
	SMTP_LINE_BARE_EOL, /* an LF without CR before it, or a CR not followed by LF */
	SMTP_LINE_NUL,      /* a NUL byte in the line */
	SMTP_LINE_LONG,     /* no LF within max + 2 bytes */
};

struct smtp_line {
	size_t len;      /* bytes of the line, CRLF excluded (1 only) */
	size_t consumed; /* bytes to drop from the stream (1 and -1; 0 for SMTP_LINE_LONG) */
	enum smtp_line_err error;
};

/* Look for one CRLF-terminated line at the start of buf[0, len), at most max bytes long.
 * 1: a line (buf[0, out->len)), out->consumed = len + 2.
 * 0: no complete line yet and fewer than max + 2 bytes: read more.
 * -1: out->error says why. For BARE_EOL and NUL, out->consumed covers the bad line up to and
 *     including its LF (the stream goes on after it). For LONG nothing is consumed: the caller
 *     discards bytes up to the next LF (resynchronises) without buffering them. */
int smtp_line_next(const char *buf, size_t len, size_t max, struct smtp_line *out);

#define SMTP_VERB_MAX 16

struct smtp_cmdline {
	char verb[SMTP_VERB_MAX + 1]; /* upper case */
	const char *arg;              /* borrowed from the line; "" when none */
	size_t arg_len;               /* trailing spaces removed */
};

/* "VERB" or "VERB SP arg". 0, or -1 when the verb is not 1..16 ASCII letters followed by the
 * end of the line or a space. */
int smtp_cmd_split(const char *line, size_t len, struct smtp_cmdline *out);

/* ---- paths and parameters ---- */

#define SMTP_LOCAL_MAX 64     /* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255   /* RFC 5321 4.5.3.1.2 */
#define SMTP_MAILBOX_MAX 254  /* RFC 5321 4.5.3.1.3 path (256) minus the brackets */
#define SMTP_MAX_PARAMS 16
#define SMTP_PARAM_MAX 500    /* bytes of one parameter value */

struct smtp_path {
	char mailbox[SMTP_MAILBOX_MAX + 1]; /* as written, without <> and source route; "" for <> */
	bool null;       /* the null reverse-path <> */
	bool route;      /* a source route ("@a,@b:") was given (and is not in mailbox) */
	bool quoted;     /* the local part is a quoted string */
	bool utf8;       /* non-ASCII bytes (needs SMTPUTF8) */
	bool literal;    /* the domain is an address literal [...] */
	bool postmaster; /* the special "<Postmaster>" forward-path (no domain) */
};

struct smtp_param {
	char key[24];      /* upper case */
	const char *value; /* borrowed from the line, NULL when the parameter has no value */
	size_t value_len;
};

enum smtp_path_err {
	SMTP_PATH_SYNTAX = 1, /* bad command syntax (501 5.5.4) */
	SMTP_PATH_ADDRESS,    /* bad address syntax (501 5.1.3 / 5.1.7) */
	SMTP_PATH_TOOLONG,    /* a length limit (501 5.1.3) */
	SMTP_PATH_PARAMS,     /* bad parameter syntax, too many, or repeated (501 5.5.4) */
};

struct smtp_mailarg {
	struct smtp_path path;
	struct smtp_param params[SMTP_MAX_PARAMS];
	size_t nparams;
	enum smtp_path_err error; /* on -1 */
};

/* Parse the argument of MAIL (prefix "FROM:") or RCPT ("TO:"): the prefix (any case, spaces
 * allowed after the colon), a path in angle brackets, then SP-separated esmtp-params
 * (RFC 5321 4.1.2: esmtp-keyword ["=" esmtp-value]). reverse allows "<>"; forward allows
 * "<Postmaster>". 0, or -1 with out->error. */
int smtp_parse_path_arg(const char *arg, size_t len, const char *prefix, bool reverse,
			struct smtp_mailarg *out);

/* RFC 3461 4: decode xtext ("+HH" escapes) into the arena. The result must be printable
 * (no control characters, no NUL; UTF-8 allowed only if utf8). 0 or -1. */
int smtp_xtext_decode(const char *s, size_t len, bool utf8, struct arena *a, char **out_r);

/* A HELO/EHLO argument we accept: 1..255 bytes of printable ASCII without spaces. */
bool smtp_helo_ok(const char *s, size_t len);

/* ---- message bytes ---- */

/* Where message bytes go: data[0, base) is reserved for the session (room for trace headers
 * in front); content is appended after it, at most max bytes. Past max the first max bytes
 * stay (whatever the chunking), the rest is only counted in seen, and over is set: the
 * buffer never grows beyond base + max + 1. */
struct smtp_msg {
	char *data;
	size_t len, cap; /* len includes base */
	size_t base, max;
	uint64_t seen;   /* content bytes offered, kept or not */
	bool over;
};

void smtp_msg_init(struct smtp_msg *m, size_t base, size_t max);
void smtp_msg_release(struct smtp_msg *m);
/* Append content (what goes beyond max is dropped, and over set). */
void smtp_msg_append(struct smtp_msg *m, const char *p, size_t n);

/* Problems found in the bytes; any of them refuses the message (never splits it). */
enum {
	SMTP_RD_BARE_CR = 1 << 0,
	SMTP_RD_BARE_LF = 1 << 1,
	SMTP_RD_NUL = 1 << 2,
};

struct smtp_dotread {
	bool dot;  /* DATA (dot-stuffed, ends at CRLF "." CRLF) rather than BDAT bytes */
	int st;    /* internal state */
	unsigned flags;
};

void smtp_dotread_init(struct smtp_dotread *r, bool dot);
/* Feed bytes. DATA: 1 when the end-of-data line was consumed, *used_r bytes of in (what
 * follows belongs to the next command); 0 when all len bytes were used and more are needed.
 * BDAT: always 0 (the caller counts the chunk). Content goes to out, dot-unstuffed, with
 * the CRLF before the final "." kept as the message's last line end. Bare CR, bare LF and
 * NUL set flags but never end the data: only CR LF "." CR LF does, and only after a CRLF
 * (or at the very start). */
int smtp_dotread_feed(struct smtp_dotread *r, const char *in, size_t len, struct smtp_msg *out,
		      size_t *used_r);
/* BDAT LAST: a CR left pending at the end is a bare CR (flags updated, the CR appended). */
void smtp_dotread_finish(struct smtp_dotread *r, struct smtp_msg *out);

#endif
