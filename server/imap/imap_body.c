/* Message contents for FETCH: header fields from the raw header block, ENVELOPE (RFC 3501
 * 7.4.2) with an RFC 5322 address-list reader, and BODY/BODYSTRUCTURE from mime_parse()'s
 * part tree plus each part's raw Content-* fields (parameters are passed as written;
 * RFC 2047/2231 decoding is the client's, as the RFC intends). */
#include "imap_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "store/mime.h"

/* ---- header blocks ---- */

size_t imap_header_len(const char *raw, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (raw[i] != '\n')
			continue;
		if (i + 1 < len && raw[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && raw[i + 1] == '\r' && raw[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* The end of the field that starts at p (after its last continuation line). */
static const char *field_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end;
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			return p;
	}
}

static bool is_blank_line(const char *p, const char *end)
{
	return p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'));
}

/* Does the field at p have this name? Sets *value to after the colon. */
static bool field_is(const char *p, const char *fend, const char *name, const char **value)
{
	size_t n = strlen(name);
	if ((size_t)(fend - p) <= n || strncasecmp(p, name, n) != 0)
		return false;
	p += n;
	while (p < fend && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= fend || *p != ':')
		return false;
	*value = p + 1;
	return true;
}

const char *imap_header_get(const char *hdr, size_t n, const char *name, struct arena *a)
{
	const char *p = hdr, *end = hdr + n;
	while (p < end && !is_blank_line(p, end)) {
		const char *fe = field_end(p, end), *v;
		if (field_is(p, fe, name, &v)) {
			char *out = arena_alloc(a, (size_t)(fe - v) + 1);
			size_t k = 0;
			for (const char *q = v; q < fe; q++)
				if (*q != '\r' && *q != '\n')
					out[k++] = *q;
			while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '\t'))
				k--;
			out[k] = '\0';
			char *s = out;
			while (*s == ' ' || *s == '\t')
				s++;
			return s;
		}
		p = fe;
	}
	return NULL;
}

void imap_header_filter(struct buf *b, const char *hdr, size_t n, const char *const *names,
			size_t nn, bool not)
{
	const char *p = hdr, *end = hdr + n;
	while (p < end && !is_blank_line(p, end)) {
		const char *fe = field_end(p, end), *v;
		bool hit = false;
		for (size_t i = 0; i < nn && !hit; i++)
			hit = field_is(p, fe, names[i], &v);
		if (hit != not) {
			(void)!buf_append(b, p, (size_t)(fe - p));
			if (fe == end && (fe == p || fe[-1] != '\n'))
				(void)!buf_append(b, "\r\n", 2);
		}
		p = fe;
	}
	(void)!buf_append(b, "\r\n", 2);
}

/* ---- addresses (RFC 5322 3.4, with the obsolete forms real mail has) ---- */

/* Copy s[0,n) without comments, unquoting quoted strings, collapsing white space. */
static char *clean_phrase(const char *s, size_t n, struct arena *a, bool unquote)
{
	char *out = arena_alloc(a, n + 1);
	size_t k = 0;
	int depth = 0;
	bool q = false, sp = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (q) {
			if (c == '\\' && i + 1 < n) {
				out[k++] = s[++i];
				continue;
			}
			if (c == '"') {
				q = false;
				if (!unquote)
					out[k++] = c;
				continue;
			}
			if (c != '\r' && c != '\n')
				out[k++] = c;
			continue;
		}
		if (depth) {
			if (c == '\\' && i + 1 < n)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth = 1;
			continue;
		}
		if (c == '"') {
			q = true;
			if (sp && k)
				out[k++] = ' ';
			sp = false;
			if (!unquote)
				out[k++] = c;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			sp = true;
			continue;
		}
		if (sp && k)
			out[k++] = ' ';
		sp = false;
		out[k++] = c;
	}
	out[k] = '\0';
	return out;
}

static void put_addr(struct buf *b, const char *name, const char *adl, const char *spec,
		     struct arena *a)
{
	const char *at = spec ? strrchr(spec, '@') : NULL;
	(void)!buf_puts(b, "(");
	imap_put_nstring(b, name && *name ? name : NULL);
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, adl && *adl ? adl : NULL);
	(void)!buf_puts(b, " ");
	if (at) {
		const char *local = arena_strndup(a, spec, (size_t)(at - spec));
		imap_put_nstring(b, local);
		(void)!buf_puts(b, " ");
		imap_put_nstring(b, at + 1);
	} else {
		imap_put_nstring(b, spec && *spec ? spec : "");
		(void)!buf_puts(b, " NIL");
	}
	(void)!buf_puts(b, ")");
}

/* One mailbox: [phrase] <[route:]addr-spec> or addr-spec. */
static bool put_mailbox(struct buf *b, const char *s, size_t n, struct arena *a)
{
	const char *lt = NULL, *gt = NULL;
	bool q = false;
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (q) {
			if (c == '\\')
				i++;
			else if (c == '"')
				q = false;
		} else if (depth) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '"') {
			q = true;
		} else if (c == '(') {
			depth = 1;
		} else if (c == '<' && lt == NULL) {
			lt = s + i;
		} else if (c == '>' && lt && gt == NULL) {
			gt = s + i;
		}
	}
	if (lt) {
		const char *end = gt ? gt : s + n;
		char *name = clean_phrase(s, (size_t)(lt - s), a, true);
		char *inner = clean_phrase(lt + 1, (size_t)(end - lt - 1), a, false);
		char *colon = strrchr(inner, ':');
		const char *adl = NULL, *spec = inner;
		if (colon && inner[0] == '@') {
			*colon = '\0';
			adl = inner;
			spec = colon + 1;
		}
		if (*spec == '\0' && *name == '\0')
			return false;
		put_addr(b, name, adl, spec, a);
		return true;
	}
	char *spec = clean_phrase(s, n, a, false);
	if (*spec == '\0')
		return false;
	for (char *p = spec; *p; p++) /* obsolete spaces inside local part / domain */
		if (*p == ' ')
			memmove(p, p + 1, strlen(p));
	put_addr(b, NULL, NULL, spec, a);
	return true;
}

/* Split at top-level c (not inside quotes, comments or <>). */
static const char *next_sep(const char *p, const char *end, const char *seps)
{
	bool q = false;
	int depth = 0, angle = 0;
	for (; p < end; p++) {
		char c = *p;
		if (q) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '"')
				q = false;
		} else if (depth) {
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '"') {
			q = true;
		} else if (c == '(') {
			depth = 1;
		} else if (c == '<') {
			angle++;
		} else if (c == '>' && angle) {
			angle--;
		} else if (!angle && strchr(seps, c)) {
			return p;
		}
	}
	return end;
}

static void put_address_list(struct buf *b, const char *v, struct arena *a)
{
	const char *p, *end;
	size_t start;
	bool any = false;

	if (v == NULL) {
		(void)!buf_puts(b, "NIL");
		return;
	}
	start = b->len;
	(void)!buf_puts(b, "(");
	p = v;
	end = v + strlen(v);
	while (p < end) {
		const char *sep = next_sep(p, end, ",:");
		if (sep < end && *sep == ':') {
			/* a group: name ":" [members] ";" */
			char *gname = clean_phrase(p, (size_t)(sep - p), a, true);
			const char *gend = sep + 1;
			while (gend < end) {
				const char *s2 = next_sep(gend, end, ",;");
				if (s2 >= end || *s2 == ';') {
					gend = s2;
					break;
				}
				gend = s2 + 1;
			}
			(void)!buf_puts(b, "(NIL NIL ");
			imap_put_string(b, gname, strlen(gname));
			(void)!buf_puts(b, " NIL)");
			for (const char *m = sep + 1; m < gend;) {
				const char *ms = next_sep(m, gend, ",");
				(void)put_mailbox(b, m, (size_t)(ms - m), a);
				m = ms < gend ? ms + 1 : gend;
			}
			(void)!buf_puts(b, "(NIL NIL NIL NIL)");
			any = true;
			p = gend < end ? gend + 1 : end;
			continue;
		}
		if (put_mailbox(b, p, (size_t)(sep - p), a))
			any = true;
		p = sep < end ? sep + 1 : end;
	}
	if (!any) {
		b->len = start;
		b->data[start] = '\0';
		(void)!buf_puts(b, "NIL");
		return;
	}
	(void)!buf_puts(b, ")");
}

void imap_put_envelope(struct buf *b, const char *hdr, size_t n, struct arena *a)
{
	const char *from = imap_header_get(hdr, n, "From", a);
	const char *sender = imap_header_get(hdr, n, "Sender", a);
	const char *reply = imap_header_get(hdr, n, "Reply-To", a);

	(void)!buf_puts(b, "(");
	imap_put_nstring(b, imap_header_get(hdr, n, "Date", a));
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, n, "Subject", a));
	(void)!buf_puts(b, " ");
	put_address_list(b, from, a);
	(void)!buf_puts(b, " ");
	put_address_list(b, sender && *sender ? sender : from, a);
	(void)!buf_puts(b, " ");
	put_address_list(b, reply && *reply ? reply : from, a);
	(void)!buf_puts(b, " ");
	put_address_list(b, imap_header_get(hdr, n, "To", a), a);
	(void)!buf_puts(b, " ");
	put_address_list(b, imap_header_get(hdr, n, "Cc", a), a);
	(void)!buf_puts(b, " ");
	put_address_list(b, imap_header_get(hdr, n, "Bcc", a), a);
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, n, "In-Reply-To", a));
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, n, "Message-ID", a));
	(void)!buf_puts(b, ")");
}

/* ---- BODYSTRUCTURE ---- */

/* "value; a=b; c="d"" -> the first token (arena) and the parameters as an IMAP list or NIL. */
static const char *put_params(struct buf *b, const char *v, struct arena *a)
{
	const char *p = v, *first;
	size_t start = b->len;
	bool any = false;

	if (v == NULL) {
		(void)!buf_puts(b, "NIL");
		return NULL;
	}
	while (*p && *p != ';')
		p++;
	first = clean_phrase(v, (size_t)(p - v), a, true);
	(void)!buf_puts(b, "(");
	while (*p == ';') {
		const char *name, *eq;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			continue;
		eq = p;
		char *attr = clean_phrase(name, (size_t)(eq - name), a, true);
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *vs = p;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			if (*p == '"')
				p++;
		}
		while (*p && *p != ';')
			p++;
		char *val = clean_phrase(vs, (size_t)(p - vs), a, true);
		if (*attr == '\0')
			continue;
		if (any)
			(void)!buf_puts(b, " ");
		imap_put_string(b, attr, strlen(attr));
		(void)!buf_puts(b, " ");
		imap_put_string(b, val, strlen(val));
		any = true;
	}
	if (!any) {
		b->len = start;
		b->data[start] = '\0';
		(void)!buf_puts(b, "NIL");
	} else {
		(void)!buf_puts(b, ")");
	}
	return first;
}

static void put_disposition(struct buf *b, const char *v, struct arena *a)
{
	struct buf tmp;
	const char *first;
	if (v == NULL) {
		(void)!buf_puts(b, "NIL");
		return;
	}
	buf_init(&tmp, 0);
	first = put_params(&tmp, v, a);
	(void)!buf_puts(b, "(");
	imap_put_string(b, first ? first : "", first ? strlen(first) : 0);
	(void)!buf_puts(b, " ");
	(void)!buf_append(b, tmp.data, tmp.len);
	(void)!buf_puts(b, ")");
	buf_release(&tmp);
}

static void put_part(struct buf *b, const char *raw, size_t len, const struct mime_msg *m,
		     int idx, bool ext, struct arena *a, int depth);

static void put_ext_tail(struct buf *b, const char *hdr, size_t hn, struct arena *a)
{
	(void)!buf_puts(b, " ");
	put_disposition(b, imap_header_get(hdr, hn, "Content-Disposition", a), a);
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, hn, "Content-Language", a));
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, hn, "Content-Location", a));
}

static void put_part(struct buf *b, const char *raw, size_t len, const struct mime_msg *m,
		     int idx, bool ext, struct arena *a, int depth)
{
	const struct mime_part *p = &m->parts[idx];
	const char *hdr = raw + p->header_off;
	size_t hn = p->body_off > p->header_off ? p->body_off - p->header_off : 0;
	const char *ct = imap_header_get(hdr, hn, "Content-Type", a);
	const char *type = p->type ? p->type : "text", *sub = p->subtype ? p->subtype : "plain";
	int child = -1;
	struct buf tmp;

	for (size_t j = (size_t)idx + 1; j < m->nparts; j++)
		if (m->parts[j].parent == idx) {
			child = (int)j;
			break;
		}
	(void)!buf_puts(b, "(");
	if (strcmp(type, "multipart") == 0 && depth < 100) {
		bool any = false;
		for (size_t j = (size_t)idx + 1; j < m->nparts; j++)
			if (m->parts[j].parent == idx) {
				put_part(b, raw, len, m, (int)j, ext, a, depth + 1);
				any = true;
			}
		if (!any) /* a multipart with no parts found: an empty text part stands in */
			(void)!buf_puts(b, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
		(void)!buf_puts(b, " ");
		imap_put_string(b, sub, strlen(sub));
		if (ext) {
			(void)!buf_puts(b, " ");
			buf_init(&tmp, 0);
			(void)put_params(&tmp, ct, a);
			(void)!buf_append(b, tmp.data, tmp.len);
			buf_release(&tmp);
			put_ext_tail(b, hdr, hn, a);
		}
		(void)!buf_puts(b, ")");
		return;
	}
	imap_put_string(b, type, strlen(type));
	(void)!buf_puts(b, " ");
	imap_put_string(b, sub, strlen(sub));
	(void)!buf_puts(b, " ");
	if (ct == NULL && strcmp(type, "text") == 0)
		(void)!buf_puts(b, "(\"charset\" \"us-ascii\")");
	else
		(void)put_params(b, ct, a);
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, hn, "Content-ID", a));
	(void)!buf_puts(b, " ");
	imap_put_nstring(b, imap_header_get(hdr, hn, "Content-Description", a));
	(void)!buf_puts(b, " ");
	const char *enc = imap_header_get(hdr, hn, "Content-Transfer-Encoding", a);
	imap_put_string(b, enc && *enc ? enc : "7bit", enc && *enc ? strlen(enc) : 4);
	(void)!buf_printf(b, " %zu", p->end_off > p->body_off ? p->end_off - p->body_off : 0);
	if (strcmp(type, "message") == 0 && strcmp(sub, "rfc822") == 0 && child >= 0 &&
	    depth < 100) {
		const struct mime_part *cp = &m->parts[child];
		(void)!buf_puts(b, " ");
		imap_put_envelope(b, raw + cp->header_off,
				  cp->body_off > cp->header_off ? cp->body_off - cp->header_off : 0, a);
		(void)!buf_puts(b, " ");
		put_part(b, raw, len, m, child, ext, a, depth + 1);
		(void)!buf_printf(b, " %zu", p->lines);
	} else if (strcmp(type, "text") == 0) {
		(void)!buf_printf(b, " %zu", p->lines);
	}
	if (ext) {
		(void)!buf_puts(b, " ");
		imap_put_nstring(b, imap_header_get(hdr, hn, "Content-MD5", a));
		put_ext_tail(b, hdr, hn, a);
	}
	(void)!buf_puts(b, ")");
}

void imap_put_bodystructure(struct buf *b, const char *raw, size_t len,
			    const struct mime_msg *m, bool extended, struct arena *a)
{
	if (m->nparts == 0) {
		(void)!buf_puts(b, "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)");
		return;
	}
	put_part(b, raw, len, m, 0, extended, a, 0);
}
