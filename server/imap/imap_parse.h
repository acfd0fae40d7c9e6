/* imap_parse.h: the IMAP tokenizers (RFC 3501 section 9 syntax), with no I/O, so unit tests
 * and fuzzers call them directly (STYLE.md section 6).
 *
 *   imap_scan        finds where a command ends in the input, literals included; fed any
 *                    amount of bytes at a time (1/0/-1)
 *   imap_parse       splits one complete command into tag, name and an argument tree
 *   imap_seqset_*    sequence sets ("1:5,7,*")
 *   imap_mutf7_*     modified UTF-7 mailbox names (RFC 3501 section 5.1.3)
 *   imap_date_*      date-time and date (APPEND, SEARCH)
 *   imap_put_*       strings as quoted strings or literals for responses */
#ifndef YZ_IMAP_PARSE_H
#define YZ_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/buf.h"

/* ---- the command scanner ---- */

enum imap_scan_error {
	IMAP_SCAN_OK = 0,
	IMAP_SCAN_LONG,    /* a line (literals excluded) is longer than max_line */
	IMAP_SCAN_TOOBIG,  /* a literal is larger than max_literal, or the command in total */
	IMAP_SCAN_BADLIT,  /* "{" ... "}" at a line end that is not a valid literal */
};

struct imap_scan {
	/* limits, set before the first call */
	size_t max_line, max_literal, max_total;
	/* state */
	size_t pos;        /* bytes of the input examined so far */
	size_t line_start; /* where the current line (outside literals) began */
	uint64_t lit_left; /* literal bytes still to skip */
	bool in_quote, quote_esc;
	int nliterals;
	/* outputs */
	size_t end;           /* 1: the command is input[0, end), CRLF included */
	bool need_cont;       /* 0: a synchronizing literal was announced; send "+" once */
	uint64_t lit_size;    /* the literal just announced (also for TOOBIG) */
	bool lit_nonsync;     /* ... was {N+} */
	enum imap_scan_error error;
};

/* Examine input[st->pos, len) (the caller keeps input[0, len) in place between calls).
 * 1: a whole command is input[0, st->end). 0: need more bytes (if st->need_cont, a
 * synchronizing literal of st->lit_size bytes waits for the "+" continuation; the caller
 * clears need_cont after sending it). -1: st->error says why; for IMAP_SCAN_TOOBIG of a
 * synchronizing literal the client has not sent it, so the command can be refused and
 * skipped up to st->pos. A lone LF also ends a line (lenient, as most servers are). */
int imap_scan(const char *input, size_t len, struct imap_scan *st);
/* Ready the scanner for the next command, keeping the limits. */
void imap_scan_reset(struct imap_scan *st);

/* ---- arguments ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM = 1, /* also NIL, numbers, sequence sets, BODY[...]<..> */
	IMAP_ARG_STRING,   /* quoted */
	IMAP_ARG_LITERAL,  /* {N} or ~{N} (literal8) */
	IMAP_ARG_LIST,     /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str; /* atoms, strings: NUL-terminated; literals: len bytes, NUL-terminated
			    unless it points into the input (big ones, see nul) */
	size_t len;
	bool nul;        /* str is NUL-terminated */
	bool literal8;
	struct imap_arg *list; /* IMAP_ARG_LIST: n children */
	size_t n;
};

struct imap_command {
	const char *tag;  /* arena */
	char name[24];    /* upper-cased command name ("UID FETCH" joined with one space) */
	struct imap_arg *args;
	size_t nargs;
};

/* Parse one complete command buf[0, len) (as imap_scan delimited it, CRLF included) into the
 * arena. Literals of at most copy_max bytes are copied; longer ones point into buf. Returns
 * 0, or -1 with *why_r a short text for a BAD response (and *tag_r the tag when one was read,
 * else NULL). Lists nest at most max_nesting deep. Quoted strings may not hold NUL, CR or
 * LF, and atoms hold only ATOM-CHARs (plus "[...]" sections and "<...>" partials in
 * FETCH-like atoms). */
int imap_parse(const char *buf, size_t len, int max_nesting, size_t copy_max, struct arena *a,
	       struct imap_command *cmd_r, const char **tag_r, const char **why_r);

bool imap_arg_is_atom(const struct imap_arg *a, const char *upper);
/* astring/nstring access: atoms, quoted strings and literals as text; false otherwise. */
bool imap_arg_string(const struct imap_arg *a, const char **s_r, size_t *len_r);
bool imap_arg_is_nil(const struct imap_arg *a);

/* ---- sequence sets ---- */

struct imap_range {
	uint32_t lo, hi; /* lo <= hi; UINT32_MAX stands for "*" before resolving */
};
struct imap_seqset {
	struct imap_range *v;
	size_t n;
};

/* Parse "1:5,7,9:*" (RFC 3501 sequence-set). 0 or -1. "*" becomes star; ranges are made
 * lo <= hi, sorted and merged. */
int imap_seqset_parse(const char *s, size_t len, uint32_t star, struct arena *a,
		      struct imap_seqset *out);
/* Write a set of ascending numbers as a compact sequence set. */
void imap_seqset_put(struct buf *b, const uint32_t *v, size_t n);

/* ---- modified UTF-7 ---- */

/* UTF-8 -> modified UTF-7 (appended to out). -1 if in is not valid UTF-8. */
int imap_mutf7_encode(const char *in, size_t n, struct buf *out);
/* Modified UTF-7 -> UTF-8 (appended to out). -1 if in is not valid modified UTF-7 (bad
 * base64, a non-minimal or unterminated shift, a shifted printable ASCII character, a bad
 * surrogate, 8-bit bytes). */
int imap_mutf7_decode(const char *in, size_t n, struct buf *out);

/* ---- dates ---- */

/* "dd-Mon-yyyy hh:mm:ss +zzzz" (date-time, day may be space-padded) -> unix seconds. */
int imap_date_time_parse(const char *s, size_t len, int64_t *t_r);
/* "d-Mon-yyyy" -> the day as unix seconds of its midnight UTC. */
int imap_date_parse(const char *s, size_t len, int64_t *t_r);
/* unix seconds -> "dd-Mon-yyyy hh:mm:ss +zzzz" in the given zone (33 bytes). */
void imap_date_time_format(int64_t t, int tz_minutes, char out[40]);

/* ---- response strings ---- */

/* A string as a quoted string when it can be one, else a literal. */
void imap_put_string(struct buf *b, const char *s, size_t len);
/* NIL for NULL. */
void imap_put_nstring(struct buf *b, const char *s);
/* An astring: an atom when it is one, else as imap_put_string. */
void imap_put_astring(struct buf *b, const char *s, size_t len);

#endif
