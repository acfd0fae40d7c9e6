/* SEARCH and UID SEARCH (RFC 3501 6.4.4; MODSEQ RFC 7162 3.1.5).
 *
 * TEXT, BODY, SUBJECT, FROM, TO and CC are answered by the account's Xapian index (search.h:
 * CJK n-grams, so Chinese terms match wherever they occur), restricted to the selected folder.
 * Indexing is asynchronous, so before the first text key the mailbox's index queue is drained
 * here (search_index_drain); if the daemon's indexer holds the index lock we wait for it (up
 * to SEARCH_WAIT_MS), and messages still queued after that are matched by scanning their text
 * instead, so a message appended a moment ago is always found. Everything else (flags,
 * keywords, colours, sizes, dates, sets, MODSEQ, HEADER, BCC) comes from mail.db and, for
 * HEADER/BCC, the raw header block.
 *
 * Xapian matches words and CJK character runs, not arbitrary substrings: SUBJECT "meet" finds
 * "meet" but not "meeting" (as Dovecot with an FTS plugin behaves); BODY also matches words in
 * headers (the index does not keep the body apart); CC also matches To (one field there).
 *
 * imap_search_hits() is the criteria parser and evaluation for SORT and THREAD too
 * (imap_sort.c): they take the matching set from it and order it themselves. */
#include "imap_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "search/index.h"
#include "search/search.h"
#include "store/mime.h"

#define SEARCH_WAIT_MS 3000
#define SEARCH_PAGE 10000

enum skind {
	K_ALL = 1, K_NONE, K_AND, K_OR, K_NOT, K_SEQ, K_UID, K_FLAG, K_UNFLAG, K_COLOUR,
	K_UNCOLOUR, K_PINNED, K_UNPINNED, K_KEYWORD, K_UNKEYWORD, K_LARGER, K_SMALLER, K_BEFORE,
	K_ON, K_SINCE, K_SBEFORE, K_SON, K_SSINCE, K_TEXT, K_HEADER, K_MODSEQ,
};

enum tfield { T_TEXT, T_BODY, T_SUBJECT, T_FROM, T_TO, T_CC };

struct skey {
	enum skind kind;
	struct skey **v;
	size_t n;
	unsigned flag;
	int colour;
	const char *str, *field;
	int64_t num;
	struct imap_seqset set;
	enum tfield tf;
	int64_t *ids; /* K_TEXT: sorted hits */
	size_t nids;
};

struct sctx {
	struct imap_cmdctx *c;
	struct skey *root;
	bool has_text, has_header, has_modseq;
	int64_t *pending; /* message ids still queued for the index, sorted */
	size_t npending;
	struct imap_hit *hits;
	size_t nhits, cap;
	uint64_t max_modseq;
	struct arena *scratch;
	int tz;
};

static struct skey *key_new(struct arena *a, enum skind k)
{
	struct skey *s = arena_alloc(a, sizeof(*s));
	s->kind = k;
	return s;
}

static const char *str_arg(const struct imap_arg *args, size_t n, size_t *i)
{
	const char *s;
	size_t len;
	if (*i >= n || !imap_arg_string(&args[*i], &s, &len))
		return NULL;
	(*i)++;
	return s;
}

static bool is_seqset(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != ':' && *s != ',' && *s != '*')
			return false;
	return true;
}

static struct skey *parse_keys(struct sctx *x, const struct imap_arg *args, size_t n, size_t *i,
			       bool one);

static struct skey *parse_key(struct sctx *x, const struct imap_arg *args, size_t n, size_t *i)
{
	struct arena *a = x->c->a;
	struct imap_view *v = x->c->s->view;
	static const struct {
		const char *name;
		enum skind kind;
		unsigned flag;
	} flagkeys[] = {
		{"ANSWERED", K_FLAG, MAIL_ANSWERED},   {"DELETED", K_FLAG, MAIL_DELETED},
		{"DRAFT", K_FLAG, MAIL_DRAFT},         {"FLAGGED", K_FLAG, MAIL_FLAGGED},
		{"SEEN", K_FLAG, MAIL_SEEN},           {"UNANSWERED", K_UNFLAG, MAIL_ANSWERED},
		{"UNDELETED", K_UNFLAG, MAIL_DELETED}, {"UNDRAFT", K_UNFLAG, MAIL_DRAFT},
		{"UNFLAGGED", K_UNFLAG, MAIL_FLAGGED}, {"UNSEEN", K_UNFLAG, MAIL_SEEN},
	};
	static const struct {
		const char *name;
		enum skind kind;
	} datekeys[] = {{"BEFORE", K_BEFORE},     {"ON", K_ON},         {"SINCE", K_SINCE},
			{"SENTBEFORE", K_SBEFORE}, {"SENTON", K_SON},    {"SENTSINCE", K_SSINCE}};
	static const struct {
		const char *name;
		enum tfield tf;
	} textkeys[] = {{"TEXT", T_TEXT}, {"BODY", T_BODY}, {"SUBJECT", T_SUBJECT},
			{"FROM", T_FROM}, {"TO", T_TO},     {"CC", T_CC}};
	const struct imap_arg *arg;
	struct skey *k;
	const char *w, *s;

	if (*i >= n)
		return NULL;
	arg = &args[*i];
	if (arg->type == IMAP_ARG_LIST) {
		size_t j = 0;
		(*i)++;
		if (arg->n == 0)
			return NULL;
		k = parse_keys(x, arg->list, arg->n, &j, false);
		return k && j == arg->n ? k : NULL;
	}
	if (arg->type != IMAP_ARG_ATOM)
		return NULL;
	w = arg->str;
	(*i)++;
	if (is_seqset(w)) {
		k = key_new(a, K_SEQ);
		if (imap_seqset_parse(w, strlen(w), v->count ? v->count : 1, a, &k->set) < 0)
			return NULL;
		return k;
	}
	for (size_t f = 0; f < ARRAY_LEN(flagkeys); f++)
		if (strcasecmp(w, flagkeys[f].name) == 0) {
			k = key_new(a, flagkeys[f].kind);
			k->flag = flagkeys[f].flag;
			return k;
		}
	for (size_t f = 0; f < ARRAY_LEN(datekeys); f++)
		if (strcasecmp(w, datekeys[f].name) == 0) {
			k = key_new(a, datekeys[f].kind);
			if ((s = str_arg(args, n, i)) == NULL || imap_date_parse(s, strlen(s), &k->num) < 0)
				return NULL;
			k->num /= 86400;
			return k;
		}
	for (size_t f = 0; f < ARRAY_LEN(textkeys); f++)
		if (strcasecmp(w, textkeys[f].name) == 0) {
			if ((s = str_arg(args, n, i)) == NULL)
				return NULL;
			k = key_new(a, K_TEXT);
			k->tf = textkeys[f].tf;
			k->str = s;
			x->has_text = true;
			return k;
		}
	if (strcasecmp(w, "ALL") == 0 || strcasecmp(w, "OLD") == 0)
		return key_new(a, K_ALL);
	if (strcasecmp(w, "NEW") == 0 || strcasecmp(w, "RECENT") == 0)
		return key_new(a, K_NONE); /* \Recent is not kept: nothing is recent */
	if (strcasecmp(w, "NOT") == 0) {
		k = key_new(a, K_NOT);
		k->v = arena_alloc(a, sizeof(*k->v));
		k->n = 1;
		return (k->v[0] = parse_key(x, args, n, i)) ? k : NULL;
	}
	if (strcasecmp(w, "OR") == 0) {
		k = key_new(a, K_OR);
		k->v = arena_alloc(a, 2 * sizeof(*k->v));
		k->n = 2;
		if ((k->v[0] = parse_key(x, args, n, i)) == NULL ||
		    (k->v[1] = parse_key(x, args, n, i)) == NULL)
			return NULL;
		return k;
	}
	if (strcasecmp(w, "UID") == 0) {
		k = key_new(a, K_UID);
		if ((s = str_arg(args, n, i)) == NULL ||
		    imap_seqset_parse(s, strlen(s), imap_view_max_uid(v) ? imap_view_max_uid(v) : 1, a,
				      &k->set) < 0)
			return NULL;
		return k;
	}
	if (strcasecmp(w, "LARGER") == 0 || strcasecmp(w, "SMALLER") == 0) {
		k = key_new(a, w[0] == 'L' || w[0] == 'l' ? K_LARGER : K_SMALLER);
		if ((s = str_arg(args, n, i)) == NULL || str_to_i64(s, 0, INT64_MAX, &k->num) < 0)
			return NULL;
		return k;
	}
	if (strcasecmp(w, "KEYWORD") == 0 || strcasecmp(w, "UNKEYWORD") == 0) {
		bool un = w[0] == 'U' || w[0] == 'u';
		if ((s = str_arg(args, n, i)) == NULL)
			return NULL;
		for (int col = 1; col <= MAIL_COLOUR_MAX; col++)
			if (strcasecmp(s, imap_colour_keywords[col]) == 0) {
				k = key_new(a, un ? K_UNCOLOUR : K_COLOUR);
				k->colour = col;
				return k;
			}
		if (strcasecmp(s, IMAP_PINNED_KEYWORD) == 0)
			return key_new(a, un ? K_UNPINNED : K_PINNED);
		k = key_new(a, un ? K_UNKEYWORD : K_KEYWORD);
		k->str = s;
		return k;
	}
	if (strcasecmp(w, "HEADER") == 0 || strcasecmp(w, "BCC") == 0) {
		k = key_new(a, K_HEADER);
		if (w[0] == 'B' || w[0] == 'b')
			k->field = "Bcc";
		else if ((k->field = str_arg(args, n, i)) == NULL)
			return NULL;
		if ((k->str = str_arg(args, n, i)) == NULL)
			return NULL;
		x->has_header = true;
		return k;
	}
	if (strcasecmp(w, "MODSEQ") == 0) {
		k = key_new(a, K_MODSEQ);
		/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
		if (*i + 2 < n && args[*i].type == IMAP_ARG_STRING)
			*i += 2;
		if ((s = str_arg(args, n, i)) == NULL || str_to_i64(s, 0, INT64_MAX, &k->num) < 0)
			return NULL;
		x->has_modseq = true;
		x->c->s->condstore = true;
		return k;
	}
	return NULL;
}

static struct skey *parse_keys(struct sctx *x, const struct imap_arg *args, size_t n, size_t *i,
			       bool one)
{
	struct skey *k = key_new(x->c->a, K_AND);
	size_t cap = 8;
	k->v = arena_alloc(x->c->a, cap * sizeof(*k->v));
	while (*i < n) {
		struct skey *sub = parse_key(x, args, n, i);
		if (sub == NULL)
			return NULL;
		if (k->n == cap) {
			struct skey **nv = arena_alloc(x->c->a, cap * 2 * sizeof(*nv));
			memcpy(nv, k->v, cap * sizeof(*nv));
			k->v = nv;
			cap *= 2;
		}
		k->v[k->n++] = sub;
		if (one)
			break;
	}
	return k->n ? k : NULL;
}

/* ---- the index ---- */

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static bool has_id(const int64_t *v, size_t n, int64_t id)
{
	return n && bsearch(&id, v, n, sizeof(*v), i64_cmp) != NULL;
}

/* The Xapian query for one text key: the field's prefix and the value as a phrase. */
static const char *xapian_text(const struct skey *k, struct arena *a)
{
	static const char *const prefix[] = {
		[T_TEXT] = "", [T_BODY] = "", [T_SUBJECT] = "subject:", [T_FROM] = "from:",
		[T_TO] = "to:", [T_CC] = "cc:"};
	char *v = arena_strdup(a, k->str);
	for (char *p = v; *p; p++)
		if (*p == '"' || (unsigned char)*p < 0x20)
			*p = ' ';
	return arena_printf(a, "%s\"%s\"", prefix[k->tf], v);
}

static int run_text(struct sctx *x, struct search_db *sdb, struct skey *k, struct err *err)
{
	struct imap_session *s = x->c->s;
	struct search_query q = {0};
	size_t cap = 0;
	bool blank = true;

	for (const char *p = k->str; *p && blank; p++)
		blank = isspace((unsigned char)*p);
	if (blank) { /* RFC 3501: an empty string matches everything */
		k->kind = K_ALL;
		return 0;
	}
	if (sdb == NULL) {
		k->nids = 0;
		return 0;
	}
	q.text = xapian_text(k, x->c->a);
	q.folder_id = s->view->folder_id;
	for (size_t off = 0;; off += SEARCH_PAGE) {
		struct search_hit *hits;
		size_t nh, total;
		struct arena *a = arena_new();
		q.offset = off;
		q.limit = SEARCH_PAGE;
		if (search_run(sdb, &q, a, &hits, &nh, &total, err) < 0) {
			arena_free(&a);
			return -1;
		}
		if (k->nids + nh > cap) {
			size_t nc = cap ? cap * 2 : 256;
			while (nc < k->nids + nh)
				nc *= 2;
			int64_t *nv = arena_alloc(x->c->a, nc * sizeof(*nv));
			if (k->nids)
				memcpy(nv, k->ids, k->nids * sizeof(*nv));
			k->ids = nv;
			cap = nc;
		}
		for (size_t h = 0; h < nh; h++)
			k->ids[k->nids++] = hits[h].id;
		arena_free(&a);
		if (nh < SEARCH_PAGE || off >= 900000)
			break;
	}
	if (k->nids)
		qsort(k->ids, k->nids, sizeof(*k->ids), i64_cmp);
	return 0;
}

static int text_keys(struct sctx *x, struct search_db *sdb, struct skey *k, struct err *err)
{
	if (k->kind == K_TEXT)
		return run_text(x, sdb, k, err);
	for (size_t i = 0; i < k->n; i++)
		if (text_keys(x, sdb, k->v[i], err) < 0)
			return -1;
	return 0;
}

/* Make the index current for this mailbox; what stays queued is scanned (x->pending). */
static void index_catch_up(struct sctx *x)
{
	struct imap_session *s = x->c->s;
	int64_t deadline = time_now_ms() + SEARCH_WAIT_MS;
	struct err err;

	while (mail_index_pending(s->mb) > 0) {
		size_t done;
		if (search_index_drain(s->mb, 0, &done, &err) == 0)
			continue;
		if (err.code != ERR_LIMIT) {
			log_warn("imap", "sess=%llu msg=\"index drain failed\" err=\"%s\"",
				 (unsigned long long)s->id, err.msg);
			break;
		}
		if (time_now_ms() >= deadline)
			break;
		usleep(10000); /* the daemon's indexer is at it */
	}
	if (mail_index_pending(s->mb) > 0) {
		struct mail_index_job *jobs;
		size_t n;
		if (mail_index_jobs(s->mb, 100000, x->c->a, &jobs, &n, &err) == 0 && n) {
			x->pending = arena_alloc(x->c->a, n * sizeof(*x->pending));
			for (size_t i = 0; i < n; i++)
				x->pending[x->npending++] = jobs[i].message_id;
			qsort(x->pending, x->npending, sizeof(*x->pending), i64_cmp);
		}
	}
}

/* ---- matching ---- */

struct msgtext {
	bool loaded, ok;
	char *raw;
	size_t len, hlen;
	struct mime_msg *mime;
};

static bool ci_contains(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);
	if (nl == 0)
		return true;
	for (const char *p = hay; p && *p; p++)
		if (strncasecmp(p, needle, nl) == 0)
			return true;
	return false;
}

static void load_text(struct sctx *x, const struct mail_imap_row *r, struct msgtext *t, bool mime)
{
	struct imap_session *s = x->c->s;
	struct mail_msg m;
	struct err err;
	if (!t->loaded) {
		t->loaded = true;
		memset(&m, 0, sizeof(m));
		memcpy(m.blob, r->blob, sizeof(m.blob));
		t->ok = mail_raw(s->mb, &m, &t->raw, &t->len, &err) == 0;
		if (t->ok)
			t->hlen = imap_header_len(t->raw, t->len);
	}
	if (mime && t->ok && t->mime == NULL &&
	    mime_parse(t->raw, t->len, &s->srv->lim.mime, x->scratch, &t->mime, &err) < 0)
		t->mime = NULL;
}

static bool addrs_contain(const struct mime_addr_list *l, const char *needle, struct arena *a)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *full = arena_printf(a, "%s <%s>", l->v[i].name ? l->v[i].name : "",
						l->v[i].address ? l->v[i].address : "");
		if (ci_contains(full, needle))
			return true;
	}
	return false;
}

/* A text key for a message the index does not have yet: a substring scan of its text. */
static bool scan_text(struct sctx *x, const struct skey *k, const struct mail_imap_row *r,
		      struct msgtext *t)
{
	const struct mime_msg *m;
	load_text(x, r, t, true);
	if ((m = t->mime) == NULL)
		return false;
	switch (k->tf) {
	case T_SUBJECT:
		return ci_contains(m->subject, k->str);
	case T_FROM:
		return addrs_contain(&m->from, k->str, x->scratch);
	case T_TO:
		return addrs_contain(&m->to, k->str, x->scratch);
	case T_CC:
		return addrs_contain(&m->cc, k->str, x->scratch);
	case T_BODY:
		return ci_contains(m->text, k->str) || ci_contains(m->attach_text, k->str);
	default:
		return ci_contains(m->subject, k->str) || addrs_contain(&m->from, k->str, x->scratch) ||
		       addrs_contain(&m->to, k->str, x->scratch) ||
		       addrs_contain(&m->cc, k->str, x->scratch) || ci_contains(m->text, k->str) ||
		       ci_contains(m->attach_text, k->str);
	}
}

static int64_t day_of(int64_t t, int tz)
{
	int64_t x = t + (int64_t)tz * 60;
	return x >= 0 ? x / 86400 : -((-x + 86399) / 86400);
}

static bool match(struct sctx *x, const struct skey *k, const struct mail_imap_row *r,
		  uint32_t seq, struct msgtext *t)
{
	switch (k->kind) {
	case K_ALL:
		return true;
	case K_NONE:
		return false;
	case K_AND:
		for (size_t i = 0; i < k->n; i++)
			if (!match(x, k->v[i], r, seq, t))
				return false;
		return true;
	case K_OR:
		return match(x, k->v[0], r, seq, t) || match(x, k->v[1], r, seq, t);
	case K_NOT:
		return !match(x, k->v[0], r, seq, t);
	case K_SEQ:
	case K_UID: {
		uint32_t v = k->kind == K_SEQ ? seq : r->uid;
		for (size_t i = 0; i < k->set.n; i++)
			if (v >= k->set.v[i].lo && v <= k->set.v[i].hi)
				return true;
		return false;
	}
	case K_FLAG:
		return (r->flags & k->flag) != 0;
	case K_UNFLAG:
		return (r->flags & k->flag) == 0;
	case K_COLOUR:
		return r->colour == k->colour;
	case K_UNCOLOUR:
		return r->colour != k->colour;
	case K_PINNED:
		return r->pinned;
	case K_UNPINNED:
		return !r->pinned;
	case K_KEYWORD:
	case K_UNKEYWORD: {
		bool has = false;
		size_t n = strlen(k->str);
		for (const char *p = r->keywords; *p && !has;) {
			const char *sp = strchr(p, ' ');
			size_t len = sp ? (size_t)(sp - p) : strlen(p);
			has = len == n && strncasecmp(p, k->str, n) == 0;
			p += len;
			while (*p == ' ')
				p++;
		}
		return k->kind == K_KEYWORD ? has : !has;
	}
	case K_LARGER:
		return r->size > k->num;
	case K_SMALLER:
		return r->size < k->num;
	case K_BEFORE:
		return day_of(r->internal_date, x->tz) < k->num;
	case K_ON:
		return day_of(r->internal_date, x->tz) == k->num;
	case K_SINCE:
		return day_of(r->internal_date, x->tz) >= k->num;
	case K_SBEFORE:
	case K_SON:
	case K_SSINCE: {
		int64_t d = day_of(r->date ? r->date : r->internal_date, x->tz);
		return k->kind == K_SBEFORE ? d < k->num : k->kind == K_SON ? d == k->num : d >= k->num;
	}
	case K_TEXT:
		if (has_id(x->pending, x->npending, r->id))
			return scan_text(x, k, r, t);
		return has_id(k->ids, k->nids, r->id);
	case K_HEADER: {
		const char *v;
		load_text(x, r, t, false);
		if (!t->ok)
			return false;
		v = imap_header_get(t->raw, t->hlen, k->field, x->scratch);
		return v && ci_contains(v, k->str);
	}
	case K_MODSEQ:
		return r->modseq >= (uint64_t)k->num;
	}
	return false;
}

static int on_row(void *ctx, const struct mail_imap_row *r)
{
	struct sctx *x = ctx;
	struct imap_session *s = x->c->s;
	struct msgtext t = {0};
	uint32_t seq = imap_view_seq(s->view, r->uid);
	bool hit;

	if (seq == 0)
		return 0;
	hit = match(x, x->root, r, seq, &t);
	free(t.raw);
	if (t.loaded)
		arena_reset(x->scratch);
	if (!hit)
		return 0;
	if (x->nhits == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 256;
		struct imap_hit *nv = arena_alloc(x->c->a, nc * sizeof(*nv));
		if (x->nhits)
			memcpy(nv, x->hits, x->nhits * sizeof(*nv));
		x->hits = nv;
		x->cap = nc;
	}
	x->hits[x->nhits++] = (struct imap_hit){.seq = seq, .uid = r->uid};
	if (r->modseq > x->max_modseq)
		x->max_modseq = r->modseq;
	return 0;
}

/* AND of text keys only (each already answered by the index)? */
static bool text_only(const struct skey *root)
{
	for (size_t i = 0; i < root->n; i++)
		if (root->v[i]->kind != K_TEXT)
			return false;
	return root->n > 0;
}

int imap_search_hits(struct imap_cmdctx *c, size_t first, struct imap_hits *h_r)
{
	struct imap_session *s = c->s;
	struct sctx x = {.c = c, .tz = s->srv->lim.tz_minutes};
	struct search_db *sdb = NULL;
	struct arena *rows;
	size_t i = first;
	struct err err;
	char dir[1200];

	x.root = parse_keys(&x, c->cmd.args, c->cmd.nargs, &i, false);
	if (x.root == NULL || i != c->cmd.nargs) {
		imap_tagged(c, "BAD", "Bad search criteria");
		return -1;
	}
	x.scratch = arena_new();
	if (x.has_text) {
		index_catch_up(&x);
		snprintf(dir, sizeof(dir), "%s/index", mailbox_dir(s->mb));
		if (search_open(dir, false, 0, &sdb, &err) < 0) {
			if (err.code != ERR_NOTFOUND) {
				arena_free(&x.scratch);
				imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
				return -1;
			}
			sdb = NULL; /* nothing indexed yet */
		}
		if (text_keys(&x, sdb, x.root, &err) < 0) {
			search_close(&sdb);
			arena_free(&x.scratch);
			imap_tagged(c, "NO", "[CANNOT] %s", err.msg);
			return -1;
		}
		search_close(&sdb);
	}
	if (text_only(x.root) && x.npending == 0 && !x.has_modseq) {
		/* only text keys: the hits' UIDs straight from their ids, no walk of the folder */
		struct skey *k0 = x.root->v[0];
		uint32_t *uids = arena_alloc(c->a, (k0->nids ? k0->nids : 1) * sizeof(*uids));
		size_t nu = 0;
		int64_t *ids = arena_alloc(c->a, (k0->nids ? k0->nids : 1) * sizeof(*ids));
		size_t ni = 0;
		for (size_t j = 0; j < k0->nids; j++) {
			bool all = true;
			for (size_t t = 1; t < x.root->n && all; t++)
				all = has_id(x.root->v[t]->ids, x.root->v[t]->nids, k0->ids[j]);
			if (all)
				ids[ni++] = k0->ids[j];
		}
		if (mail_imap_uids_of(s->mb, s->view->folder_id, ids, ni, uids, &nu, &err) < 0) {
			arena_free(&x.scratch);
			imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
			return -1;
		}
		x.hits = arena_alloc(c->a, (nu ? nu : 1) * sizeof(*x.hits));
		for (size_t j = 0; j < nu; j++) {
			uint32_t seq = imap_view_seq(s->view, uids[j]);
			if (seq)
				x.hits[x.nhits++] = (struct imap_hit){.seq = seq, .uid = uids[j]};
		}
		arena_free(&x.scratch);
		goto out;
	}
	rows = arena_new();
	if (mail_imap_rows(s->mb, s->view->folder_id, 1, UINT32_MAX, rows, on_row, &x, &err) < 0) {
		arena_free(&rows);
		arena_free(&x.scratch);
		imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
		return -1;
	}
	arena_free(&rows);
	arena_free(&x.scratch);
out:
	h_r->v = x.hits;
	h_r->n = x.nhits;
	h_r->modseq = x.has_modseq;
	h_r->max_modseq = x.max_modseq;
	return 0;
}

void imap_exec_search(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct imap_hits h;
	size_t i = 0;

	if (c->cmd.nargs >= 2 && imap_arg_is_atom(&c->cmd.args[0], "CHARSET")) {
		const char *cs;
		size_t len;
		if (!imap_arg_string(&c->cmd.args[1], &cs, &len) ||
		    (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)) {
			imap_tagged(c, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
			return;
		}
		i = 2;
	}
	if (imap_search_hits(c, i, &h) < 0)
		return;
	(void)!buf_puts(&c->out, "* SEARCH");
	for (size_t k = 0; k < h.n; k++)
		(void)!buf_printf(&c->out, " %u", c->uid ? h.v[k].uid : h.v[k].seq);
	if (h.modseq && h.n)
		(void)!buf_printf(&c->out, " (MODSEQ %llu)", (unsigned long long)h.max_modseq);
	(void)!buf_puts(&c->out, "\r\n");
	if (imap_view_refresh(s, &c->out, c->uid, c->a) < 0) {
		c->close_after = true;
		return;
	}
	imap_tagged(c, "OK", "%s completed", c->cmd.name);
}
