/* What mail.db caches of a parsed message: envelope, structure, snippet, sort keys.
 *
 * Serialised forms (no JSON in store/): an address list is "name\x1faddress" items joined by
 * "\x1e"; the envelope is ten tab-separated fields (date, subject, from, sender, reply-to, to,
 * cc, bcc, in-reply-to, message-id); the structure is one line per part in pre-order:
 * section, parent, type/subtype, charset, encoding, disposition, filename, content-id,
 * decoded size, lines, header/body/end offsets, and "a"/"b" for attachment/body, tab-separated.
 * Tabs, newlines and the separators inside values become spaces. */
#include "mail_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

#define SNIPPET_CHARS 200

/* Append s with the serialisation's separators replaced. */
static void put_clean(struct buf *b, const char *s)
{
	for (const char *p = s ? s : ""; *p; p++) {
		char c = *p;
		if (c == '\t' || c == '\n' || c == '\r' || c == '\x1e' || c == '\x1f')
			c = ' ';
		if (buf_append(b, &c, 1) < 0)
			return;
	}
}

static void put_addrs(struct buf *b, const struct mime_addr_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (i && buf_append(b, "\x1e", 1) < 0)
			return;
		put_clean(b, l->v[i].name);
		if (buf_append(b, "\x1f", 1) < 0)
			return;
		put_clean(b, l->v[i].address);
	}
}

static const char *addrs_str(const struct mime_addr_list *l, struct arena *a)
{
	struct buf b;
	const char *r;
	buf_init(&b, 0);
	put_addrs(&b, l);
	r = arena_strdup(a, buf_cstr(&b));
	buf_release(&b);
	return r;
}

struct mail_addr *mail_addrs_decode(const char *s, struct arena *a, size_t *n_r)
{
	size_t n = 0, i = 0;
	struct mail_addr *v;
	const char *p;

	if (s == NULL || *s == '\0') {
		*n_r = 0;
		return NULL;
	}
	for (p = s, n = 1; *p; p++)
		if (*p == '\x1e')
			n++;
	v = arena_alloc(a, n * sizeof(*v));
	for (p = s; i < n; i++) {
		const char *end = strchr(p, '\x1e'), *sep;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		sep = memchr(p, '\x1f', len);
		if (sep) {
			v[i].name = arena_strndup(a, p, (size_t)(sep - p));
			v[i].address = arena_strndup(a, sep + 1, len - (size_t)(sep - p) - 1);
		} else {
			v[i].name = "";
			v[i].address = arena_strndup(a, p, len);
		}
		p = end ? end + 1 : p + len;
	}
	*n_r = n;
	return v;
}

/* Reply and forward prefixes, in the forms Chinese and Western clients write. */
static size_t prefix_len(const char *s)
{
	static const char *const prefixes[] = {
		"re:", "re：", "fw:", "fw：", "fwd:", "fwd：", "aw:", "wg:", "sv:", "vs:", "antw:",
		"回复:", "回复：", "答复:", "答复：", "转发:", "转发：", "回覆:", "回覆：", "轉寄:", "轉寄：",
	};
	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncasecmp(s, prefixes[i], n) == 0)
			return n;
	}
	/* "Re[2]:" and "Re(2):" */
	if (strncasecmp(s, "re[", 3) == 0 || strncasecmp(s, "re(", 3) == 0) {
		const char *p = s + 3;
		while (isdigit((unsigned char)*p))
			p++;
		if ((*p == ']' || *p == ')') && p[1] == ':')
			return (size_t)(p + 2 - s);
	}
	return 0;
}

const char *mail_subject_base(const char *subject, struct arena *a, bool *had_prefix_r)
{
	const char *p = subject ? subject : "";
	bool had = false;
	char *out, *q;
	size_t n;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		n = prefix_len(p);
		if (n == 0)
			break;
		had = true;
		p += n;
	}
	out = arena_strdup(a, p);
	for (q = out; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	for (n = strlen(out); n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'); n--)
		out[n - 1] = '\0';
	if (had_prefix_r)
		*had_prefix_r = had;
	return out;
}

static const char *envelope_str(const struct mime_msg *m, struct arena *a)
{
	struct buf b;
	const char *r;

	buf_init(&b, 0);
	if (buf_printf(&b, "%lld\t", (long long)m->date) < 0)
		goto out;
	put_clean(&b, m->subject);
	const struct mime_addr_list *lists[] = {&m->from, &m->sender, &m->reply_to,
						&m->to,   &m->cc,     &m->bcc};
	for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
		if (buf_append(&b, "\t", 1) < 0)
			goto out;
		put_addrs(&b, lists[i]);
	}
	if (buf_append(&b, "\t", 1) < 0)
		goto out;
	put_clean(&b, m->in_reply_to);
	if (buf_append(&b, "\t", 1) < 0)
		goto out;
	put_clean(&b, m->message_id);
out:
	r = arena_strdup(a, buf_cstr(&b));
	buf_release(&b);
	return r;
}

static const char *structure_str(const struct mime_msg *m, struct arena *a)
{
	struct buf b;
	const char *r;

	buf_init(&b, 0);
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (buf_printf(&b, "%s\t%d\t", p->section ? p->section : "", p->parent) < 0)
			break;
		put_clean(&b, p->type);
		if (buf_append(&b, "/", 1) < 0)
			break;
		put_clean(&b, p->subtype);
		const char *fields[] = {p->charset, p->encoding, p->disposition, p->filename,
					p->content_id};
		for (size_t j = 0; j < ARRAY_LEN(fields); j++) {
			if (buf_append(&b, "\t", 1) < 0)
				goto out;
			put_clean(&b, fields[j]);
		}
		if (buf_printf(&b, "\t%zu\t%zu\t%zu\t%zu\t%zu\t%s%s\n", p->decoded_size, p->lines,
			       p->header_off, p->body_off, p->end_off, p->is_attachment ? "a" : "",
			       p->is_body ? "b" : "") < 0)
			break;
	}
out:
	r = arena_strdup(a, buf_cstr(&b));
	buf_release(&b);
	return r;
}

static const char *joined_refs(const struct mime_msg *m, struct arena *a)
{
	struct buf b;
	const char *r;
	buf_init(&b, 16 * 1024);
	for (size_t i = 0; i < m->nreferences; i++) {
		if (strchr(m->references[i], ' '))
			continue;
		if ((i && buf_append(&b, " ", 1) < 0) || buf_puts(&b, m->references[i]) < 0)
			break;
	}
	r = arena_strdup(a, buf_cstr(&b));
	buf_release(&b);
	return r;
}

static const char *lower_copy(const char *s, struct arena *a)
{
	char *r = arena_strdup(a, s ? s : "");
	for (char *q = r; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return r;
}

void mail_cache_fill(const struct mime_msg *msg, struct arena *a, struct mail_cached *c)
{
	memset(c, 0, sizeof(*c));
	c->subject = msg->subject ? msg->subject : "";
	c->subject_sort = mail_subject_base(c->subject, a, &c->reply);
	if (msg->from.n > 0) {
		c->from_name = msg->from.v[0].name ? msg->from.v[0].name : "";
		c->from_addr = msg->from.v[0].address ? msg->from.v[0].address : "";
	} else {
		c->from_name = c->from_addr = "";
	}
	c->from_sort = lower_copy(*c->from_name ? c->from_name : c->from_addr, a);
	c->to_list = addrs_str(&msg->to, a);
	c->cc_list = addrs_str(&msg->cc, a);
	c->message_id = msg->message_id ? msg->message_id : "";
	c->in_reply_to = msg->in_reply_to ? msg->in_reply_to : "";
	c->refs = joined_refs(msg, a);
	c->snippet = mime_snippet(msg->text ? msg->text : "", msg->text_len, SNIPPET_CHARS, a);
	c->envelope = envelope_str(msg, a);
	c->structure = structure_str(msg, a);
	c->date = msg->date;
	c->has_attachments = msg->has_attachments;
	c->header_len = msg->header_len;
}

/* ---- threads ---- */

/* 1 with *thread_r set if the message id is known, 0 if not, -1 on an error. */
static int msgid_thread(struct mailbox *mb, const char *id, int64_t *thread_r, struct err *err)
{
	sqlite3_stmt *s;
	int found = 0;
	if (id == NULL || *id == '\0')
		return 0;
	if (db_prepare(mb->db, "SELECT thread_id FROM msgids WHERE msgid = ?", &s, err) < 0)
		return -1;
	db_bind_text(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		*thread_r = sqlite3_column_int64(s, 0);
		found = 1;
	}
	if (db_end(mb->db, s, "thread by message id", err) < 0)
		return -1;
	return found;
}

static int remember_msgid(struct mailbox *mb, const char *id, int64_t thread, struct err *err)
{
	sqlite3_stmt *s;
	if (id == NULL || *id == '\0')
		return 0;
	if (db_prepare(mb->db, "INSERT OR IGNORE INTO msgids (msgid, thread_id) VALUES (?, ?)", &s,
		       err) < 0)
		return -1;
	db_bind_text(s, 1, id);
	sqlite3_bind_int64(s, 2, thread);
	return mail_step(mb, s, "remember message id", err);
}

#define SUBJECT_THREAD_WINDOW (60 * 86400)

int mail_thread_assign(struct mailbox *mb, int64_t msg_id, const struct mail_cached *c,
		       int64_t date, int64_t *thread_r, struct err *err)
{
	int64_t thread = 0;
	sqlite3_stmt *s;
	const char *p;
	char ref[1000];
	bool has_refs = *c->refs || *c->in_reply_to;
	int found;

	/* 1. the message's own id (a copy, or a reply that arrived first), In-Reply-To, then the
	 * References from newest to oldest */
	found = msgid_thread(mb, c->message_id, &thread, err);
	if (found == 0)
		found = msgid_thread(mb, c->in_reply_to, &thread, err);
	if (found < 0)
		return -1;
	if (found == 0) {
		const char *end = c->refs + strlen(c->refs);
		while (end > c->refs && thread == 0) {
			const char *start = end;
			while (start > c->refs && start[-1] != ' ')
				start--;
			if ((size_t)(end - start) < sizeof(ref)) {
				memcpy(ref, start, (size_t)(end - start));
				ref[end - start] = '\0';
				if (msgid_thread(mb, ref, &thread, err) < 0)
					return -1;
			}
			end = start > c->refs ? start - 1 : start;
		}
	}
	/* 2. falling back to the subject, for replies whose references we never saw */
	if (thread == 0 && (c->reply || has_refs) && *c->subject_sort) {
		if (db_prepare(mb->db, "SELECT thread_id, last_date FROM thread_subjects WHERE subject = ?",
			       &s, err) < 0)
			return -1;
		db_bind_text(s, 1, c->subject_sort);
		if (sqlite3_step(s) == SQLITE_ROW &&
		    llabs(date - sqlite3_column_int64(s, 1)) < SUBJECT_THREAD_WINDOW)
			thread = sqlite3_column_int64(s, 0);
		if (db_end(mb->db, s, "thread by subject", err) < 0)
			return -1;
	}
	if (thread == 0)
		thread = msg_id;
	/* remember this message and the ids it names, so later ones join the thread */
	if (remember_msgid(mb, c->message_id, thread, err) < 0 ||
	    remember_msgid(mb, c->in_reply_to, thread, err) < 0)
		return -1;
	for (p = c->refs; *p;) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n > 0 && n < sizeof(ref)) {
			memcpy(ref, p, n);
			ref[n] = '\0';
			if (remember_msgid(mb, ref, thread, err) < 0)
				return -1;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	if (*c->subject_sort) {
		if (db_prepare(mb->db,
			       "INSERT INTO thread_subjects (subject, thread_id, last_date) VALUES (?, ?, ?)"
			       " ON CONFLICT (subject) DO UPDATE SET thread_id = excluded.thread_id,"
			       " last_date = excluded.last_date",
			       &s, err) < 0)
			return -1;
		db_bind_text(s, 1, c->subject_sort);
		sqlite3_bind_int64(s, 2, thread);
		sqlite3_bind_int64(s, 3, date);
		if (mail_step(mb, s, "thread subject", err) < 0)
			return -1;
	}
	*thread_r = thread;
	return 0;
}
