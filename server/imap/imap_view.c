/* The selected mailbox as a session sees it: UIDs as ranges, sequence numbers, the untagged
 * updates that keep a client in step (RFC 3501 7.3.1 EXISTS, 7.4.1 EXPUNGE, RFC 7162
 * VANISHED), flags with the colour and pin keywords, and mailbox names. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/util.h"

/* Colours 1..7 (mail.h) as keywords: Thunderbird's five default tags first, in the colours it
 * gives them (Important red, Work orange, Personal green, To Do blue, Later purple), then the
 * two colours Thunderbird has no default tag for. */
const char *const imap_colour_keywords[8] = {
	"", "$label1", "$label2", "$label6", "$label3", "$label4", "$label5", "$label7",
};

/* ---- ranges ---- */

static void rebuild_prefix(struct imap_view *v)
{
	uint32_t total = 0;
	v->pre = xrealloc(v->pre, (v->nr ? v->nr : 1) * sizeof(*v->pre));
	for (size_t i = 0; i < v->nr; i++) {
		v->pre[i] = total;
		total += v->r[i].hi - v->r[i].lo + 1;
	}
	v->count = total;
}

static void push_uid(struct imap_view *v, uint32_t uid)
{
	if (v->nr && v->r[v->nr - 1].hi + 1 == uid) {
		v->r[v->nr - 1].hi = uid;
		return;
	}
	if (v->nr == v->rcap) {
		v->rcap = v->rcap ? v->rcap * 2 : 4;
		v->r = xrealloc(v->r, v->rcap * sizeof(*v->r));
	}
	v->r[v->nr].lo = v->r[v->nr].hi = uid;
	v->nr++;
}

struct imap_view *imap_view_new(int64_t folder, const uint32_t *uids, size_t n)
{
	struct imap_view *v = xcalloc(1, sizeof(*v));
	v->folder_id = folder;
	for (size_t i = 0; i < n; i++)
		push_uid(v, uids[i]);
	rebuild_prefix(v);
	return v;
}

void imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;
	if (v == NULL)
		return;
	free(v->r);
	free(v->pre);
	free(v->name);
	free(v);
	*vp = NULL;
}

uint32_t imap_view_uid(const struct imap_view *v, uint32_t seq)
{
	size_t lo = 0, hi = v->nr;
	if (seq == 0 || seq > v->count)
		return 0;
	while (hi - lo > 1) { /* the last range whose prefix is below seq */
		size_t mid = (lo + hi) / 2;
		if (v->pre[mid] < seq)
			lo = mid;
		else
			hi = mid;
	}
	return v->r[lo].lo + (seq - 1 - v->pre[lo]);
}

static size_t range_of(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nr;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->r[mid].hi < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo; /* first range with hi >= uid */
}

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	size_t i = range_of(v, uid);
	if (i >= v->nr || uid < v->r[i].lo)
		return 0;
	return v->pre[i] + (uid - v->r[i].lo) + 1;
}

uint32_t imap_view_max_uid(const struct imap_view *v)
{
	return v->nr ? v->r[v->nr - 1].hi : 0;
}

static void remove_uid(struct imap_view *v, uint32_t uid)
{
	size_t i = range_of(v, uid);
	if (i >= v->nr || uid < v->r[i].lo)
		return;
	struct imap_range *r = &v->r[i];
	if (r->lo == r->hi) {
		memmove(&v->r[i], &v->r[i + 1], (v->nr - i - 1) * sizeof(*r));
		v->nr--;
	} else if (uid == r->lo) {
		r->lo++;
	} else if (uid == r->hi) {
		r->hi--;
	} else {
		if (v->nr == v->rcap) {
			v->rcap = v->rcap * 2;
			v->r = xrealloc(v->r, v->rcap * sizeof(*v->r));
			r = &v->r[i];
		}
		memmove(&v->r[i + 1], &v->r[i], (v->nr - i) * sizeof(*r));
		v->nr++;
		v->r[i].hi = uid - 1;
		v->r[i + 1].lo = uid + 1;
	}
}

size_t imap_view_resolve(const struct imap_view *v, const struct imap_seqset *set, bool uid,
			 struct arena *a, struct imap_range **r_r, size_t *n_r)
{
	/* at most one output range per (set range, view range) overlap */
	size_t cap = 16, n = 0, total = 0;
	struct imap_range *out = arena_alloc(a, cap * sizeof(*out));

	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->v[i].lo, hi = set->v[i].hi;
		if (!uid) { /* sequence numbers -> UIDs: split where the view's ranges split */
			if (lo > v->count)
				continue;
			if (hi > v->count)
				hi = v->count;
			for (uint32_t seq = lo; seq <= hi;) {
				uint32_t u = imap_view_uid(v, seq);
				size_t k = range_of(v, u);
				uint32_t span = v->r[k].hi - u; /* more UIDs in this range */
				uint32_t left = hi - seq;
				uint32_t take = span < left ? span : left;
				if (n == cap) {
					struct imap_range *nv = arena_alloc(a, cap * 2 * sizeof(*nv));
					memcpy(nv, out, n * sizeof(*nv));
					out = nv;
					cap *= 2;
				}
				out[n].lo = u;
				out[n].hi = u + take;
				n++;
				total += (size_t)take + 1;
				if (take == left)
					break;
				seq += take + 1;
			}
			continue;
		}
		/* UIDs: intersect with the view's ranges */
		for (size_t k = range_of(v, lo); k < v->nr && v->r[k].lo <= hi; k++) {
			uint32_t x = v->r[k].lo > lo ? v->r[k].lo : lo;
			uint32_t y = v->r[k].hi < hi ? v->r[k].hi : hi;
			if (x > y)
				continue;
			if (n == cap) {
				struct imap_range *nv = arena_alloc(a, cap * 2 * sizeof(*nv));
				memcpy(nv, out, n * sizeof(*nv));
				out = nv;
				cap *= 2;
			}
			out[n].lo = x;
			out[n].hi = y;
			n++;
			total += (size_t)(y - x) + 1;
		}
	}
	*r_r = out;
	*n_r = n;
	return total;
}

uint32_t *imap_view_uids(const struct imap_view *v, const struct imap_range *r, size_t nr,
			 struct arena *a, size_t *n_r)
{
	size_t total = 0, k = 0;
	uint32_t *out;
	(void)v;
	for (size_t i = 0; i < nr; i++)
		total += (size_t)(r[i].hi - r[i].lo) + 1;
	out = arena_alloc(a, (total ? total : 1) * sizeof(*out));
	for (size_t i = 0; i < nr; i++)
		for (uint64_t u = r[i].lo; u <= r[i].hi; u++)
			out[k++] = (uint32_t)u;
	*n_r = k;
	return out;
}

void imap_view_remember_own(struct imap_view *v, uint64_t modseq)
{
	v->own[v->nown++ % ARRAY_LEN(v->own)] = modseq;
}

static bool is_own(const struct imap_view *v, uint64_t modseq)
{
	for (size_t i = 0; i < ARRAY_LEN(v->own) && i < v->nown; i++)
		if (v->own[i] == modseq)
			return true;
	return false;
}

/* ---- flags ---- */

void imap_put_flags(struct buf *b, unsigned flags, const char *keywords, int colour,
		    bool pinned)
{
	static const struct {
		unsigned bit;
		const char *name;
	} sys[] = {{MAIL_SEEN, "\\Seen"},       {MAIL_ANSWERED, "\\Answered"},
		   {MAIL_FLAGGED, "\\Flagged"}, {MAIL_DELETED, "\\Deleted"},
		   {MAIL_DRAFT, "\\Draft"}};
	bool first = true;
	(void)!buf_puts(b, "FLAGS (");
	for (size_t i = 0; i < ARRAY_LEN(sys); i++)
		if (flags & sys[i].bit) {
			(void)!buf_printf(b, "%s%s", first ? "" : " ", sys[i].name);
			first = false;
		}
	if (colour > 0 && colour <= MAIL_COLOUR_MAX) {
		(void)!buf_printf(b, "%s%s", first ? "" : " ", imap_colour_keywords[colour]);
		first = false;
	}
	if (pinned) {
		(void)!buf_printf(b, "%s" IMAP_PINNED_KEYWORD, first ? "" : " ");
		first = false;
	}
	if (keywords && *keywords)
		(void)!buf_printf(b, "%s%s", first ? "" : " ", keywords);
	(void)!buf_puts(b, ")");
}

int imap_flags_parse(const struct imap_arg *list, size_t n, struct arena *a,
		     struct mail_imap_flagop *op)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {{"\\Seen", MAIL_SEEN},       {"\\Answered", MAIL_ANSWERED},
		   {"\\Flagged", MAIL_FLAGGED}, {"\\Deleted", MAIL_DELETED},
		   {"\\Draft", MAIL_DRAFT}};
	struct buf kw;

	buf_init(&kw, 0);
	for (size_t i = 0; i < n; i++) {
		const char *f = list[i].str;
		bool done = false;
		if (list[i].type != IMAP_ARG_ATOM)
			goto bad;
		if (f[0] == '\\') {
			for (size_t k = 0; k < ARRAY_LEN(sys); k++)
				if (strcasecmp(f, sys[k].name) == 0) {
					op->flags |= sys[k].bit;
					done = true;
				}
			if (!done)
				goto bad; /* \Recent and unknown system flags cannot be stored */
			continue;
		}
		for (int c = 1; c <= MAIL_COLOUR_MAX; c++)
			if (strcasecmp(f, imap_colour_keywords[c]) == 0) {
				op->colour_mask |= 1u << c;
				done = true;
			}
		if (strcasecmp(f, IMAP_PINNED_KEYWORD) == 0) {
			op->pinned = true;
			done = true;
		}
		if (done)
			continue;
		if (strpbrk(f, "[]") != NULL || list[i].len > 64)
			goto bad;
		if (kw.len)
			(void)!buf_append(&kw, " ", 1);
		(void)!buf_puts(&kw, f);
	}
	op->keywords = arena_strdup(a, kw.len ? buf_cstr(&kw) : "");
	buf_release(&kw);
	return 0;
bad:
	buf_release(&kw);
	return -1;
}

/* ---- mailbox names ---- */

const char *imap_mailbox_path(const char *name, size_t len, struct arena *a)
{
	struct buf b;
	const char *r = NULL;

	buf_init(&b, 4096);
	if (len >= 5 && strncasecmp(name, "INBOX", 5) == 0 && (len == 5 || name[5] == '/')) {
		/* INBOX is case-insensitive, also as the head of a path */
		(void)!buf_puts(&b, "INBOX");
		name += 5;
		len -= 5;
	}
	bool eight = false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] >= 0x80)
			eight = true;
	if (eight) {
		/* lenient: a client that sends UTF-8 instead of modified UTF-7 */
		if (!utf8_valid(name, len) || buf_append(&b, name, len) < 0)
			goto out;
	} else if (imap_mutf7_decode(name, len, &b) < 0) {
		goto out;
	}
	r = arena_strdup(a, b.len ? buf_cstr(&b) : "");
out:
	buf_release(&b);
	return r;
}

int imap_mailbox_find(struct imap_session *s, const char *name, size_t len, int64_t *id_r,
		      struct arena *a, struct err *err)
{
	const char *path = imap_mailbox_path(name, len, a);
	if (path == NULL)
		return err_set(err, ERR_INVALID, "Bad mailbox name");
	if (*path == '\0' || path[strlen(path) - 1] == '/')
		return err_set(err, ERR_NOTFOUND, "No such mailbox");
	if (strcasecmp(path, "INBOX") == 0)
		return mail_folder_by_special(s->mb, MAIL_INBOX, id_r, err);
	if (mail_special_parse(path) == MAIL_INBOX)
		return err_set(err, ERR_NOTFOUND, "No such mailbox");
	if (mail_folder_by_path(s->mb, path, id_r, err) < 0)
		return err_set(err, ERR_NOTFOUND, "No such mailbox");
	return 0;
}

/* ---- the refresh ---- */

int imap_view_refresh(struct imap_session *s, struct buf *out, bool allow_expunge,
		      struct arena *a)
{
	struct imap_view *v = s->view;
	struct mail_imap_changes ch;
	struct err err;
	uint32_t old_count;

	if (v == NULL)
		return 0;
	if (mail_imap_changes(s->mb, v->folder_id, v->modseq, v->exp_modseq, v->uidnext, a, &ch,
			      &err) < 0) {
		if (err.code == ERR_NOTFOUND) {
			(void)!buf_puts(out, "* BYE The selected mailbox was deleted\r\n");
			return -1;
		}
		log_warn("imap", "sess=%llu msg=\"refresh failed\" err=\"%s\"",
			 (unsigned long long)s->id, err.msg);
		return 0;
	}
	if (allow_expunge && ch.nvanished) {
		uint32_t *gone = arena_alloc(a, ch.nvanished * sizeof(*gone));
		size_t ng = 0;
		for (size_t i = 0; i < ch.nvanished; i++)
			if (imap_view_seq(v, ch.vanished[i]))
				gone[ng++] = ch.vanished[i];
		if (ng && s->qresync) {
			(void)!buf_puts(out, "* VANISHED ");
			imap_seqset_put(out, gone, ng);
			(void)!buf_puts(out, "\r\n");
			for (size_t i = 0; i < ng; i++)
				remove_uid(v, gone[i]);
			rebuild_prefix(v);
		} else {
			/* highest first, so each number is still right when the client reads it */
			for (size_t i = ng; i > 0; i--) {
				uint32_t seq = imap_view_seq(v, gone[i - 1]);
				(void)!buf_printf(out, "* %u EXPUNGE\r\n", seq);
				remove_uid(v, gone[i - 1]);
				rebuild_prefix(v);
			}
		}
	}
	if (allow_expunge && ch.folder.highestmodseq > v->exp_modseq)
		v->exp_modseq = ch.folder.highestmodseq;
	old_count = v->count;
	for (size_t i = 0; i < ch.nadded; i++)
		if (ch.added[i] > imap_view_max_uid(v))
			push_uid(v, ch.added[i]);
	if (ch.nadded)
		rebuild_prefix(v);
	if (ch.folder.uidnext > v->uidnext)
		v->uidnext = ch.folder.uidnext;
	if (v->count != old_count || ch.nadded)
		(void)!buf_printf(out, "* %u EXISTS\r\n", v->count);
	for (size_t i = 0; i < ch.nchanged; i++) {
		const struct mail_imap_row *r = &ch.changed[i];
		uint32_t seq = imap_view_seq(v, r->uid);
		if (seq == 0 || is_own(v, r->modseq))
			continue;
		(void)!buf_printf(out, "* %u FETCH (", seq);
		imap_put_flags(out, r->flags, r->keywords, r->colour, r->pinned);
		(void)!buf_printf(out, " UID %u", r->uid);
		if (s->condstore)
			(void)!buf_printf(out, " MODSEQ (%llu)", (unsigned long long)r->modseq);
		(void)!buf_puts(out, ")\r\n");
	}
	if (ch.folder.highestmodseq > v->modseq)
		v->modseq = ch.folder.highestmodseq;
	return 0;
}
