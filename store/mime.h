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
 * punctuation there (so Latin-1 text is not read as rare hanzi); when both qualify, the one with
 * the larger share of common characters wins, GB18030 on a tie.
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

/* Section numbers follow RFC 3501 section 6.4.5 (FETCH BODY[section]):
 * - parts[0] is the root with section "". The children of a multipart root are "1", "2", ...
 *   A root that is not a multipart is not repeated as a part "1": IMAP part 1 is parts[0]'s
 *   body (mime_part_find(msg, "1") returns 0).
 * - The children of a multipart with section S are S.1, S.2, ...
 * - A message/rfc822 part S (or the root, as "1") has the enclosed message's root entity as its
 *   only child: a multipart root shares the number S (IMAP numbers its children S.1, S.2 and
 *   gives it none of its own; its header block is S.HEADER, its body S.TEXT); a single-part
 *   root is S.1. Lookups take the first part in pre-order, the message/rfc822 part.
 * - message/rfc822 sent base64 or quoted-printable is a leaf (RFC 2046 section 5.2.1 allows
 *   only 7bit, 8bit and binary), as in GMime and Dovecot. */
struct mime_part {
	const char *section;  /* IMAP section: "1", "1.2", ...; "" for the top-level message */
	int parent;           /* index into mime_msg.parts, -1 for the root */
	int depth;            /* 0 for the root */
	const char *type;     /* lower-case, e.g. "text" */
	const char *subtype;  /* lower-case, e.g. "plain" */
	const char *charset;  /* as labelled, lower-case, or NULL */
	const char *boundary; /* multiparts only */
	const char *encoding; /* Content-Transfer-Encoding as labelled ("7-bit", "x-uuencode"),
				 lower-case, or NULL; unknown ones decode as identity */
	const char *disposition; /* "inline", "attachment" (also for unknown types, RFC 2183
				    section 2.8) or NULL */
	const char *filename; /* decoded (RFC 2231 / 2047), UTF-8, or NULL; from the
				 disposition's filename or else Content-Type's name */
	const char *content_id;  /* without <>, or NULL */
	const char *description; /* decoded, or NULL */
	const char *language;    /* Content-Language, or NULL */
	const char *md5;         /* Content-MD5, or NULL */
	/* Byte offsets into the raw message: [header_off, body_off) is the part's header block,
	 * [body_off, end_off) its (still transfer-encoded) body. For the root the header block
	 * is the message header. The line break before a boundary line is the boundary's
	 * (RFC 2046 section 5.1.1), not the part's. A message/rfc822 part's body is the enclosed
	 * message, header included. */
	size_t header_off, body_off, end_off;
	size_t lines;        /* lines in the encoded body: line breaks, plus one for a last line
				without one (leaves and message/rfc822; 0 for multiparts) */
	size_t decoded_size; /* bytes after transfer decoding (leaves; the body size of a
				message/rfc822 part), 0 for multiparts */
	bool is_attachment;  /* shown to the user as an attachment: a leaf or message/rfc822 part
				that is not the body, not an inline image the HTML body shows by
				cid:, and not inside an attached message */
	bool is_body;        /* the part text/html below came from (text/plain, text/html) */
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
	/* Bodies follow RFC 8621 section 4.1.4 (JMAP textBody/htmlBody): text joins the text/plain
	 * parts the reader sees (with a plain alternative preferred, else text made from the HTML
	 * by mime_html_to_text), html joins the text/html parts (plain ones in the same run are
	 * escaped into <pre>). Line ends are LF, NUL bytes dropped; each at most max_text bytes. */
	const char *text;        /* UTF-8 plain text body: the text/plain alternative, or text made
				    from the HTML body (mime_html_to_text), or "" */
	size_t text_len;
	const char *html;        /* UTF-8 HTML body, or NULL when the message has none */
	size_t html_len;
	const char *attach_text; /* UTF-8 text of text attachments and of the bodies of attached
				    messages, joined by "\n", or "" */
	size_t attach_text_len;
	struct mime_part *parts; /* pre-order: parts[0] is the root */
	size_t nparts;
	bool has_attachments;
	size_t header_len;       /* bytes of the top-level header block, final blank line included */
	bool eight_bit_headers;  /* raw 8-bit bytes were found in the header block */
};

/* Parse raw (len bytes, need not be NUL-terminated). Tolerates the malformations of real mail
 * (bad or missing boundaries, bogus transfer encodings, folded garbage): those parse to a
 * best-effort tree, never an error; input GMime cannot read as a message at all (the first
 * line is not a header field) is a header-less text/plain message. Fails with ERR_LIMIT beyond
 * a limit, ERR_INVALID only for empty input. The bytes are read in place, never copied whole;
 * the parse needs well under 128 KiB of stack (GMime stops nesting at 1024 levels). */
int mime_parse(const char *raw, size_t len, const struct mime_limits *lim, struct arena *a,
	       struct mime_msg **msg_r, struct err *err) YZ_WUR;

/* The transfer-decoded bytes of the part with the given IMAP section (looked up as
 * mime_part_find() does) of the message msg was parsed from: a leaf's content, or the enclosed
 * message of a message/rfc822 part. *data_r is in the arena, NUL terminated (not counted in
 * *len_r). ERR_NOTFOUND for an unknown section or a multipart. */
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
 * text: unfolded (CR and LF dropped; tabs and other controls, also those inside encoded words,
 * become spaces), RFC 2047 encoded words decoded with the charset policy above (adjacent words
 * in one charset joined as bytes first, so a character split across words survives),
 * surrounding white space trimmed. Always valid UTF-8.
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
 * quoted lines ("> ...") and signature ("-- \n" onwards) skipped: the list snippet. Lines that
 * introduce a quote ("On ... wrote:", "在 ... 写道：", and the French, German and Spanish
 * forms) are skipped too, and the text ends at an "-----Original Message-----" or "原始邮件"
 * separator. Spaces count as characters; invalid UTF-8 becomes U+FFFD. */
const char *mime_snippet(const char *text, size_t n, size_t max_chars, struct arena *a);

/* For store/mime*.c only: body selection (RFC 8621 section 4.1.4, with the attachment rule of
 * struct mime_part) over msg->parts as mime_parse() builds them. dec[i] is part i's
 * transfer-decoded content (text leaves, and multiparts in which no parts were found), else
 * NULL. Sets text, html, attach_text (each at most max_text bytes), is_body, is_attachment and
 * has_attachments. */
void mime_bodies(struct mime_msg *msg, const char *const *dec, const size_t *dec_len,
		 size_t max_text, struct arena *a);

#endif
