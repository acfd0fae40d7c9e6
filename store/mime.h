/* mime.h: parse RFC 5322 / MIME messages through GMime 3 into a flat, arena-owned tree.
 *
 * Everything a caller needs from a message is decoded here once: header fields after RFC 2047
 * (also encoded words split mid-character) and RFC 2231 decoding, addresses, the part tree with
 * IMAP section numbers and byte offsets into the raw message, the text body (UTF-8) and the
 * HTML body (UTF-8, unsanitised: the browser sanitises it). Charset policy (mime_charset.c):
 * labels are mapped to the superset real mail needs (gb2312/gbk/cp936 -> GB18030, big5 ->
 * BIG5-HKSCS, ks_c_5601-1987/euc-kr -> CP949, iso-8859-1/us-ascii -> WINDOWS-1252,
 * shift_jis -> CP932), HZ is decoded here (glibc has no HZ), and unlabelled or mislabelled
 * 8-bit text is tried as UTF-8 (also with a stray bad byte per 8 good characters, repaired),
 * then GB18030, then BIG5-HKSCS, then WINDOWS-1252. GB18030 and Big5 are taken only when the bytes
 * are well-formed in them and at least half of the multi-byte characters are common hanzi or CJK
 * punctuation, so Latin-1 text is not read as rare hanzi.
 *
 * Hard limits (struct mime_limits, from yizhan.conf [mime]) are checked before GMime sees the
 * bytes where they can be, so hostile input never reaches an unbounded recursion or
 * allocation: beyond a limit mime_parse() fails with ERR_LIMIT and a message naming it.
 *
 * Thread-safe after mime_init(). All results live in the caller's arena. */
#ifndef YZ_MIME_H
#define YZ_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"

struct mime_limits {
	size_t max_bytes;        /* whole message */
	size_t max_header_bytes; /* one header block (the message's or a part's) */
	size_t max_line;         /* one line, CRLF excluded */
	size_t max_parts;        /* parts in the whole tree, multiparts included */
	size_t max_depth;        /* nesting of multiparts and message/rfc822 */
	size_t max_text;         /* bytes of decoded text kept for text/html/attach_text */
};

/* Defaults: 64 MiB, 1 MiB, 1 MiB (real mail has long base64 lines), 10000 parts, 64 deep,
 * 4 MiB text. */
void mime_limits_default(struct mime_limits *l);

/* Once per process, before any other mime_* call (idempotent, thread-safe). */
void mime_init(void);

struct mime_addr {
	const char *name;    /* display name, decoded UTF-8, "" if none */
	const char *address; /* addr-spec "local@domain" as written (may be "" for odd input) */
	const char *group;   /* the RFC 5322 group this address is in, or NULL */
};

struct mime_addr_list {
	struct mime_addr *v;
	size_t n;
};

struct mime_part {
	const char *section;  /* IMAP section: "1", "1.2", ...; "" for the top-level message */
	int parent;           /* index into mime_msg.parts, -1 for the root */
	int depth;            /* 0 for the root */
	const char *type;     /* lower-case, e.g. "text" */
	const char *subtype;  /* lower-case, e.g. "plain" */
	const char *charset;  /* as labelled, lower-case, or NULL */
	const char *boundary; /* multiparts only */
	const char *encoding; /* Content-Transfer-Encoding, lower-case, or NULL */
	const char *disposition; /* "inline", "attachment" or NULL */
	const char *filename; /* decoded (RFC 2231 / 2047), UTF-8, or NULL; from the
				 disposition's filename or else Content-Type's name */
	const char *content_id;  /* without <>, or NULL */
	const char *description; /* decoded, or NULL */
	const char *language;    /* Content-Language, or NULL */
	const char *md5;         /* Content-MD5, or NULL */
	/* Byte offsets into the raw message: [header_off, body_off) is the part's header block,
	 * [body_off, end_off) its (still transfer-encoded) body. For the root the header block
	 * is the message header. */
	size_t header_off, body_off, end_off;
	size_t lines;        /* lines in the encoded body (IMAP BODYSTRUCTURE for text parts) */
	size_t decoded_size; /* bytes after transfer decoding (leaf parts), 0 otherwise */
	bool is_attachment;  /* shown to the user as an attachment (not the body, not a
				multipart, not an inline image referenced by the HTML) */
	bool is_body;        /* the part text/html below came from */
};

struct mime_msg {
	const char *subject;     /* decoded UTF-8, "" if none */
	const char *message_id;  /* without <>, or NULL */
	const char *in_reply_to; /* first msg-id, without <>, or NULL */
	const char **references; /* msg-ids without <>, oldest first */
	size_t nreferences;
	int64_t date;            /* the Date: header as unix seconds, 0 if absent or unparseable */
	int tz_offset;           /* minutes east of UTC, from the Date: header */
	struct mime_addr_list from, sender, reply_to, to, cc, bcc;
	const char *text;        /* UTF-8 plain text body: the text/plain alternative, or text made
				    from the HTML body (mime_html_to_text), or "" */
	size_t text_len;
	const char *html;        /* UTF-8 HTML body, or NULL when the message has none */
	size_t html_len;
	const char *attach_text; /* UTF-8 text of text attachments, joined by "\n", or "" */
	size_t attach_text_len;
	struct mime_part *parts; /* pre-order: parts[0] is the root */
	size_t nparts;
	bool has_attachments;
	size_t header_len;       /* bytes of the top-level header block, final blank line included */
	bool eight_bit_headers;  /* raw 8-bit bytes were found in the header block */
};

/* Parse raw (len bytes, need not be NUL-terminated). Tolerates the malformations of real mail
 * (bad or missing boundaries, bogus transfer encodings, folded garbage): those parse to a
 * best-effort tree, never an error. Fails with ERR_LIMIT beyond a limit, ERR_INVALID only for
 * input that is not a message at all (empty). */
int mime_parse(const char *raw, size_t len, const struct mime_limits *lim, struct arena *a,
	       struct mime_msg **msg_r, struct err *err) YZ_WUR;

/* The transfer-decoded bytes of the leaf part with the given IMAP section (as in
 * mime_part.section) of the message msg was parsed from. *data_r is in the arena, NUL
 * terminated (not counted in *len_r). ERR_NOTFOUND for an unknown section or a multipart. */
int mime_part_content(const char *raw, size_t len, const struct mime_msg *msg,
		      const char *section, struct arena *a, const char **data_r, size_t *len_r,
		      struct err *err) YZ_WUR;

/* Convert n bytes in charset (NULL or "" = unlabelled: guessed as described above) to UTF-8
 * in the arena, NUL terminated. Never fails: bytes that cannot be converted become U+FFFD. */
const char *mime_to_utf8(const char *charset, const char *in, size_t n, struct arena *a,
			 size_t *len_r);

/* The index in msg->parts of the part an IMAP section (RFC 3501 section 6.4.5) names, or -1.
 * Section "1" of a message whose root is not a multipart is the root (parts[0]); otherwise the
 * first part, in pre-order, whose mime_part.section equals section. */
int mime_part_find(const struct mime_msg *msg, const char *section);

/* Header helpers, also used inside the module. charset is how raw 8-bit bytes in the value are
 * read (NULL: guessed as in mime_to_utf8); both results are in the arena, NUL terminated.
 *
 * mime_header_decode: an unstructured field value (Subject, Content-Description) as display
 * text: unfolded (CR and LF dropped, tabs become spaces), RFC 2047 encoded words decoded with the
 * charset policy above (adjacent words in one charset joined as bytes first, so a character
 * split across words survives), surrounding white space trimmed. Always valid UTF-8.
 *
 * mime_header_prepare: a structured field value (address list, Content-Type,
 * Content-Disposition) made safe for a syntax-only parser such as GMime's: raw 8-bit bytes
 * become UTF-8, every run of adjacent encoded words becomes a single =?UTF-8?B?...?= word with
 * our decoding, and RFC 2231 charset labels (name*=gb2312''...) get the mapped name. */
const char *mime_header_decode(const char *value, size_t n, const char *charset, struct arena *a,
			       size_t *len_r);
const char *mime_header_prepare(const char *value, size_t n, const char *charset,
				struct arena *a);

/* The first of "UTF-8", "GB18030", "BIG5-HKSCS", "WINDOWS-1252" that reads the n bytes as
 * qualified at the top (the guess mime_to_utf8 makes for unlabelled text; WINDOWS-1252 reads
 * anything). */
const char *mime_charset_guess(const char *in, size_t n);

/* Text from HTML for snippets and the index: tags dropped, <script>/<style> contents dropped,
 * block elements and <br> become newlines, entities decoded (named ones HTML needs in mail,
 * numeric ones all), whitespace runs collapsed. Bounded by max_out bytes of output. */
const char *mime_html_to_text(const char *html, size_t n, size_t max_out, struct arena *a,
			      size_t *len_r);

/* The first max_chars characters of text with whitespace collapsed to single spaces and
 * quoted lines ("> ...") and signature ("-- \n" onwards) skipped: the list snippet. */
const char *mime_snippet(const char *text, size_t n, size_t max_chars, struct arena *a);

#endif
