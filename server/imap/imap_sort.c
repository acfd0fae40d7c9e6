/* SORT, UID SORT, THREAD and UID THREAD (RFC 5256; MODSEQ in SORT, RFC 7162 3.1.5).
 *
 * The search criteria are SEARCH's (imap_search_hits); the matching messages are then read in
 * chunks of SORT_CHUNK (mail_imap_ids + mail_get_many, one chunk arena at a time), and only
 * the keys asked for are kept per message, each string cut to SORT_KEY_MAX bytes, so a
 * mailbox of 100,000 messages costs about 10 MB of heap. Ordering is qsort_r: O(n log n), never a loop
 * over the mailbox inside a loop over the mailbox.
 *
 * Strings compare as i;unicode-casemap (RFC 5051, what I18NLEVEL=1 asks of SORT and THREAD):
 * each character to its titlecase, then NFKD, then octet by octet. GLib (linked already for
 * GMime) has the Unicode tables, so they are not written here. Chinese has no case and no
 * compatibility forms outside the full-width ones, so Chinese subjects compare by their UTF-8
 * text. The subject is the store's decoded one (RFC 2047 words decoded, controls as spaces).
 *
 * Departures from RFC 5256, chosen because they are cheap:
 * - Keys longer than SORT_KEY_MAX bytes compare by their first SORT_KEY_MAX bytes.
 * - THREAD=REFERENCES uses the store's thread grouping (mail_msg.thread_id, computed at arrival
 *   from Message-ID, In-Reply-To and References, store/mail_cache.c) instead of building the
 *   tree of section 3: a message joins the thread of the first id it names that the account
 *   has seen, threads are never merged afterwards, and a reply without references that the
 *   store put in a thread by its subject (within 60 days) stays there; otherwise there is no
 *   subject merging (step 5), no dummy parents. Every thread is flat: its oldest message (by
 *   sent date, then sequence number) is the root and all the others are its children, by sent
 *   date; threads are ordered by their root's sent date. */
#include "imap_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "lib/util.h"

#define SORT_CHUNK 256
#define SORT_KEY_MAX 256
#define SORT_MAX_KEYS 16

enum sort_key { SK_ARRIVAL, SK_CC, SK_DATE, SK_FROM, SK_SIZE, SK_SUBJECT, SK_TO };

struct sort_crit {
	enum sort_key key;
	bool reverse;
};

enum need {
	NEED_SUBJECT = 1 << 0,
	NEED_FROM = 1 << 1,
	NEED_TO = 1 << 2,
	NEED_CC = 1 << 3,
};

/* One matching message and the keys asked for ("" for those that were not). */
struct srec {
	uint32_t seq, uid;
	int64_t size, arrival, sent, thread;
	const char *subject, *from, *to, *cc;
};

struct sorting {
	const struct sort_crit *k;
	size_t n;
};

/* ---- strings ---- */

/* The length of s cut to at most max bytes at a character boundary. */
static size_t cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* s as an i;unicode-casemap key (RFC 5051 section 2), in the arena. Invalid UTF-8 (the store
 * hands out none) falls back to ASCII upper case. */
static const char *casemap(const char *s, struct arena *a)
{
	size_t n = cut(s, strlen(s), SORT_KEY_MAX), len = 0;
	bool ascii = true;
	char *out, *t;
	gchar *norm;
	const char *r;

	if (n == 0)
		return "";
	for (size_t i = 0; i < n && ascii; i++)
		ascii = (unsigned char)s[i] < 0x80;
	if (ascii || !g_utf8_validate(s, (gssize)n, NULL)) {
		out = arena_strndup(a, s, n);
		for (char *p = out; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		return out;
	}
	t = xmalloc(4 * n + 1); /* a titlecase character takes at most 4 bytes */
	for (const char *p = s; p < s + n; p = g_utf8_next_char(p))
		len += (size_t)g_unichar_to_utf8(g_unichar_totitle(g_utf8_get_char(p)), t + len);
	t[len] = '\0';
	norm = g_utf8_normalize(t, (gssize)len, G_NORMALIZE_NFKD);
	free(t);
	if (norm == NULL)
		return "";
	r = arena_strndup(a, norm, cut(norm, strlen(norm), SORT_KEY_MAX));
	g_free(norm);
	return r;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP (RFC 5256 section 5): its length at p, or 0. */
static size_t blob_len(const char *p)
{
	const char *q = p;
	if (*q != '[')
		return 0;
	for (q++; *q && *q != '[' && *q != ']'; q++)
		;
	if (*q != ']')
		return 0;
	for (q++; is_wsp(*q); q++)
		;
	return (size_t)(q - p);
}

/* subj-leader = (*subj-blob subj-refwd) / WSP, with
 * subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":". Its length at p, or 0. */
static size_t leader_len(const char *p)
{
	const char *q = p;
	size_t n;

	if (is_wsp(*p))
		return 1;
	while ((n = blob_len(q)) > 0)
		q += n;
	if (strncasecmp(q, "re", 2) == 0)
		q += 2;
	else if (strncasecmp(q, "fwd", 3) == 0)
		q += 3;
	else if (strncasecmp(q, "fw", 2) == 0)
		q += 2;
	else
		return 0;
	while (is_wsp(*q))
		q++;
	q += blob_len(q);
	return *q == ':' ? (size_t)(q + 1 - p) : 0;
}

static bool has_nonwsp(const char *p)
{
	for (; *p; p++)
		if (!is_wsp(*p))
			return true;
	return false;
}

/* The base subject (RFC 5256 section 2.1) of a decoded subject, in the arena. */
static const char *base_subject(const char *subject, struct arena *a)
{
	size_t n = strlen(subject), len = 0;
	char *b = arena_alloc(a, n + 1), *p;
	bool changed;

	/* (1) runs of white space (the store made tabs and folding spaces) become one space */
	for (size_t i = 0; i < n; i++) {
		bool sp = is_wsp(subject[i]) || subject[i] == '\r' || subject[i] == '\n';
		if (!sp)
			b[len++] = subject[i];
		else if (len == 0 || b[len - 1] != ' ')
			b[len++] = ' ';
	}
	b[len] = '\0';
	p = b;
	for (;;) {
		/* (2) trailers: "(fwd)" and white space */
		for (;;) {
			len = strlen(p);
			if (len > 0 && is_wsp(p[len - 1]))
				p[len - 1] = '\0';
			else if (len >= 5 && strcasecmp(p + len - 5, "(fwd)") == 0)
				p[len - 5] = '\0';
			else
				break;
		}
		/* (3)-(5) leaders, and a leading blob when something is left after it */
		do {
			size_t k;
			changed = false;
			while ((k = leader_len(p)) > 0) {
				p += k;
				changed = true;
			}
			if ((k = blob_len(p)) > 0 && has_nonwsp(p + k)) {
				p += k;
				changed = true;
			}
		} while (changed);
		/* (6) "[fwd:" ... "]" around it: take it off and start again at (2) */
		len = strlen(p);
		if (len >= 6 && strncasecmp(p, "[fwd:", 5) == 0 && p[len - 1] == ']') {
			p[len - 1] = '\0';
			p += 5;
			continue;
		}
		return p;
	}
}

/* addr-mailbox: the local part of an address. */
static const char *mailbox_of(const char *addr, struct arena *a)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (addr == NULL)
		return "";
	return at ? arena_strndup(a, addr, (size_t)(at - addr)) : addr;
}

/* ---- reading the keys ---- */

/* The keys of m into r (the strings in keep; tmp for what is needed on the way). */
static void fill(struct srec *r, const struct mail_msg *m, unsigned need, struct arena *tmp,
		 struct arena *keep)
{
	r->size = m->size;
	r->arrival = m->internal_date;
	r->sent = m->date ? m->date : m->internal_date; /* RFC 5256 2.2 */
	r->thread = m->thread_id ? m->thread_id : -m->id;
	r->subject = r->from = r->to = r->cc = "";
	if (need & NEED_SUBJECT)
		r->subject = casemap(base_subject(m->subject ? m->subject : "", tmp), keep);
	if (need & NEED_FROM)
		r->from = casemap(mailbox_of(m->from.address, tmp), keep);
	if ((need & NEED_TO) && m->nto)
		r->to = casemap(mailbox_of(m->to[0].address, tmp), keep);
	if ((need & NEED_CC) && m->ncc)
		r->cc = casemap(mailbox_of(m->cc[0].address, tmp), keep);
}

/* The hits with their keys (c->a); messages expunged meanwhile are left out. */
static int collect(struct imap_cmdctx *c, const struct imap_hits *h, unsigned need,
		   struct srec **v_r, size_t *n_r, struct err *err)
{
	struct imap_session *s = c->s;
	struct srec *v = arena_alloc(c->a, (h->n ? h->n : 1) * sizeof(*v));
	struct arena *chunk = arena_new();
	uint32_t uids[SORT_CHUNK];
	int64_t ids[SORT_CHUNK];
	size_t n = 0;
	int rc = -1;

	for (size_t off = 0; off < h->n; off += SORT_CHUNK) {
		size_t k = h->n - off < SORT_CHUNK ? h->n - off : SORT_CHUNK, nids, nm, j = off;
		struct mail_msg *m;

		for (size_t i = 0; i < k; i++)
			uids[i] = h->v[off + i].uid;
		if (mail_imap_ids(s->mb, s->view->folder_id, uids, k, ids, NULL, &nids, err) < 0 ||
		    mail_get_many(s->mb, ids, nids, chunk, &m, &nm, err) < 0)
			goto out;
		/* both in ascending UID order, the store's with the gone ones left out */
		for (size_t i = 0; i < nm; i++) {
			while (j < off + k && h->v[j].uid != m[i].uid)
				j++;
			if (j == off + k)
				break;
			v[n].seq = h->v[j].seq;
			v[n].uid = h->v[j].uid;
			fill(&v[n++], &m[i], need, chunk, c->a);
		}
		arena_reset(chunk);
	}
	*v_r = v;
	*n_r = n;
	rc = 0;
out:
	arena_free(&chunk);
	return rc;
}

/* ---- ordering ---- */

static int cmp_i64(int64_t x, int64_t y)
{
	return x < y ? -1 : x > y;
}

static int cmp_seq(const struct srec *x, const struct srec *y)
{
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_key(const struct srec *x, const struct srec *y, enum sort_key k)
{
	switch (k) {
	case SK_ARRIVAL:
		return cmp_i64(x->arrival, y->arrival);
	case SK_DATE:
		return cmp_i64(x->sent, y->sent);
	case SK_SIZE:
		return cmp_i64(x->size, y->size);
	case SK_SUBJECT:
		return strcmp(x->subject, y->subject);
	case SK_FROM:
		return strcmp(x->from, y->from);
	case SK_TO:
		return strcmp(x->to, y->to);
	case SK_CC:
		return strcmp(x->cc, y->cc);
	}
	return 0;
}

/* The criteria in order, then the sequence number (RFC 5256 section 3: exact matches stay in
 * mailbox order, REVERSE or not). */
static int cmp_sort(const void *a, const void *b, void *ctx)
{
	const struct sorting *st = ctx;
	const struct srec *x = a, *y = b;
	for (size_t i = 0; i < st->n; i++) {
		int r = cmp_key(x, y, st->k[i].key);
		if (r)
			return st->k[i].reverse ? -r : r;
	}
	return cmp_seq(x, y);
}

/* ---- arguments ---- */

static bool charset_ok(const struct imap_arg *arg)
{
	const char *cs;
	size_t len;
	return imap_arg_string(arg, &cs, &len) &&
	       (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "US-ASCII") == 0);
}

/* sort-criteria = "(" sort-criterion *(SP sort-criterion) ")" */
static int parse_criteria(const struct imap_arg *arg, struct sort_crit *k, size_t *n_r)
{
	static const struct {
		const char *name;
		enum sort_key key;
	} keys[] = {{"ARRIVAL", SK_ARRIVAL}, {"CC", SK_CC},           {"DATE", SK_DATE},
		    {"FROM", SK_FROM},       {"SIZE", SK_SIZE},       {"SUBJECT", SK_SUBJECT},
		    {"TO", SK_TO}};
	size_t n = 0;

	if (arg->type != IMAP_ARG_LIST || arg->n == 0)
		return -1;
	for (size_t i = 0; i < arg->n; i++) {
		bool reverse = false, found = false;
		if (imap_arg_is_atom(&arg->list[i], "REVERSE")) {
			reverse = true;
			if (++i == arg->n)
				return -1;
		}
		if (n == SORT_MAX_KEYS || arg->list[i].type != IMAP_ARG_ATOM)
			return -1;
		for (size_t j = 0; j < ARRAY_LEN(keys) && !found; j++)
			if (strcasecmp(arg->list[i].str, keys[j].name) == 0) {
				k[n++] = (struct sort_crit){.key = keys[j].key, .reverse = reverse};
				found = true;
			}
		if (!found)
			return -1;
	}
	*n_r = n;
	return 0;
}

static unsigned needs_of(const struct sort_crit *k, size_t n)
{
	unsigned need = 0;
	for (size_t i = 0; i < n; i++)
		need |= k[i].key == SK_SUBJECT ? NEED_SUBJECT
			: k[i].key == SK_FROM  ? NEED_FROM
			: k[i].key == SK_TO    ? NEED_TO
			: k[i].key == SK_CC    ? NEED_CC
					       : 0;
	return need;
}

/* After the untagged result: pending updates (expunges only in the UID form, RFC 3501 7.4.1)
 * and the tagged OK. */
static void finish(struct imap_cmdctx *c)
{
	if (imap_view_refresh(c->s, &c->out, c->uid, c->a) < 0) {
		c->close_after = true;
		return;
	}
	imap_tagged(c, "OK", "%s completed", c->cmd.name);
}

static uint32_t num(const struct imap_cmdctx *c, const struct srec *r)
{
	return c->uid ? r->uid : r->seq;
}

/* ---- SORT ---- */

void imap_exec_sort(struct imap_cmdctx *c)
{
	struct sort_crit k[SORT_MAX_KEYS];
	struct sorting st = {.k = k};
	struct imap_hits h;
	struct srec *v;
	size_t n;
	struct err err;

	if (c->cmd.nargs < 3 || parse_criteria(&c->cmd.args[0], k, &st.n) < 0) {
		imap_tagged(c, "BAD", "Expected (sort criteria) charset search criteria");
		return;
	}
	if (!charset_ok(&c->cmd.args[1])) {
		imap_tagged(c, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return;
	}
	if (imap_search_hits(c, 2, &h) < 0)
		return;
	if (collect(c, &h, needs_of(k, st.n), &v, &n, &err) < 0) {
		imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
		return;
	}
	if (n > 1)
		qsort_r(v, n, sizeof(*v), cmp_sort, &st);
	(void)!buf_puts(&c->out, "* SORT");
	for (size_t i = 0; i < n; i++)
		(void)!buf_printf(&c->out, " %u", num(c, &v[i]));
	if (h.modseq && n)
		(void)!buf_printf(&c->out, " (MODSEQ %llu)", (unsigned long long)h.max_modseq);
	(void)!buf_puts(&c->out, "\r\n");
	finish(c);
}

/* ---- THREAD ---- */

enum algo { ALGO_ORDEREDSUBJECT, ALGO_REFERENCES };

/* A thread: v[start, start + n) of the sorted messages, its first the root. */
struct tgroup {
	size_t start, n;
	const struct srec *root;
};

/* Members of a thread together (by base subject or thread id), each thread by sent date. */
static int cmp_member(const void *a, const void *b, void *ctx)
{
	const enum algo *al = ctx;
	const struct srec *x = a, *y = b;
	int r = *al == ALGO_ORDEREDSUBJECT ? strcmp(x->subject, y->subject)
					   : cmp_i64(x->thread, y->thread);
	if (r == 0)
		r = cmp_i64(x->sent, y->sent);
	return r ? r : cmp_seq(x, y);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct tgroup *x = a, *y = b;
	int r = cmp_i64(x->root->sent, y->root->sent);
	return r ? r : cmp_seq(x->root, y->root);
}

static bool same_thread(enum algo al, const struct srec *x, const struct srec *y)
{
	return al == ALGO_ORDEREDSUBJECT ? strcmp(x->subject, y->subject) == 0
					 : x->thread == y->thread;
}

/* "(root)", "(root child)" or "(root (child)(child)...)": RFC 5256 section 4 thread-list. */
static void put_thread(struct imap_cmdctx *c, const struct srec *v, const struct tgroup *t)
{
	(void)!buf_printf(&c->out, "(%u", num(c, t->root));
	if (t->n == 2) {
		(void)!buf_printf(&c->out, " %u", num(c, &v[t->start + 1]));
	} else if (t->n > 2) {
		(void)!buf_puts(&c->out, " ");
		for (size_t i = 1; i < t->n; i++)
			(void)!buf_printf(&c->out, "(%u)", num(c, &v[t->start + i]));
	}
	(void)!buf_puts(&c->out, ")");
}

void imap_exec_thread(struct imap_cmdctx *c)
{
	enum algo al;
	struct imap_hits h;
	struct srec *v;
	struct tgroup *t;
	size_t n, nt = 0;
	struct err err;

	if (c->cmd.nargs < 3) {
		imap_tagged(c, "BAD", "Expected algorithm charset search criteria");
		return;
	}
	if (imap_arg_is_atom(&c->cmd.args[0], "ORDEREDSUBJECT")) {
		al = ALGO_ORDEREDSUBJECT;
	} else if (imap_arg_is_atom(&c->cmd.args[0], "REFERENCES")) {
		al = ALGO_REFERENCES;
	} else {
		imap_tagged(c, "BAD", "Unknown threading algorithm");
		return;
	}
	if (!charset_ok(&c->cmd.args[1])) {
		imap_tagged(c, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return;
	}
	if (imap_search_hits(c, 2, &h) < 0)
		return;
	if (collect(c, &h, al == ALGO_ORDEREDSUBJECT ? NEED_SUBJECT : 0, &v, &n, &err) < 0) {
		imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
		return;
	}
	if (n > 1)
		qsort_r(v, n, sizeof(*v), cmp_member, &al);
	t = arena_alloc(c->a, (n ? n : 1) * sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		if (nt == 0 || !same_thread(al, &v[t[nt - 1].start], &v[i]))
			t[nt++] = (struct tgroup){.start = i, .root = &v[i]};
		t[nt - 1].n++;
	}
	if (nt > 1)
		qsort(t, nt, sizeof(*t), cmp_thread);
	(void)!buf_puts(&c->out, "* THREAD");
	if (nt)
		(void)!buf_puts(&c->out, " ");
	for (size_t i = 0; i < nt; i++)
		put_thread(c, v, &t[i]);
	(void)!buf_puts(&c->out, "\r\n");
	finish(c);
}
