/* FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2; BINARY RFC 3516; CONDSTORE/QRESYNC RFC 7162
 * CHANGEDSINCE, MODSEQ, VANISHED). Runs as jobs of about IMAP_CHUNK bytes of output each, so
 * "FETCH 1:* BODY[]" on a big folder streams with bounded memory. Messages that another
 * session expunged but this one has not been told about are left out of the response. */
#include "imap_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"
#include "store/mime.h"

enum fkind {
	F_FLAGS = 1,
	F_UID,
	F_INTERNALDATE,
	F_SIZE,
	F_ENVELOPE,
	F_BODY,          /* BODY (non-extensible BODYSTRUCTURE) */
	F_BODYSTRUCTURE,
	F_SECTION,       /* BODY[...], BINARY[...], RFC822, RFC822.HEADER, RFC822.TEXT */
	F_BINARY_SIZE,
	F_MODSEQ,
};

enum fspec { S_FULL, S_HEADER, S_FIELDS, S_FIELDS_NOT, S_TEXT, S_MIME };

struct fitem {
	enum fkind kind;
	const char *name;  /* the response item name, e.g. "BODY[HEADER]<0>" */
	const char *part;  /* "1.2" or "" */
	enum fspec spec;
	const char **fields;
	size_t nfields;
	bool peek, binary, partial;
	uint64_t origin, count;
};

struct fetch {
	struct fitem *items;
	size_t nitems;
	bool need_raw, need_mime, sets_seen, want_uid, want_modseq;
	uint64_t changedsince;
	bool vanished;
	struct imap_range *r;
	size_t nr, ri;
	uint32_t next; /* next UID to do in r[ri] */
	bool started;
	struct err err;
	bool failed;
	struct arena *scratch, *rows; /* per message, per batch of rows */
};

static void arena_drop(void *p)
{
	struct arena *a = p;
	arena_free(&a);
}

static int parse_fields(const char *p, struct fitem *it, struct arena *a)
{
	size_t cap = 8;
	while (*p == ' ')
		p++;
	if (*p != '(')
		return -1;
	p++;
	it->fields = arena_alloc(a, cap * sizeof(*it->fields));
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == ')')
			break;
		if (*p == '\0')
			return -1;
		const char *s = p;
		if (*p == '"') {
			s = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return -1;
		} else {
			while (*p && *p != ' ' && *p != ')')
				p++;
		}
		if (p == s)
			return -1;
		if (it->nfields == cap) {
			const char **nv = arena_alloc(a, cap * 2 * sizeof(*nv));
			memcpy(nv, it->fields, cap * sizeof(*nv));
			it->fields = nv;
			cap *= 2;
		}
		it->fields[it->nfields++] = arena_strndup(a, s, (size_t)(p - s));
		if (*p == '"')
			p++;
	}
	return it->nfields ? 0 : -1;
}

/* The inside of [...]: section-spec (RFC 3501 9). */
static int parse_section(const char *s, size_t n, struct fitem *it, struct arena *a)
{
	char *sec = arena_strndup(a, s, n);
	char *p = sec;
	while (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '.' && isdigit((unsigned char)p[1]))
			p++;
		else
			break;
	}
	it->part = arena_strndup(a, sec, (size_t)(p - sec));
	if (*p == '.') {
		if (*it->part == '\0')
			return -1;
		p++;
	}
	if (*p == '\0')
		it->spec = S_FULL;
	else if (strcasecmp(p, "HEADER") == 0)
		it->spec = S_HEADER;
	else if (strcasecmp(p, "TEXT") == 0)
		it->spec = S_TEXT;
	else if (strcasecmp(p, "MIME") == 0 && *it->part)
		it->spec = S_MIME;
	else if (strncasecmp(p, "HEADER.FIELDS.NOT", 17) == 0 && (p[17] == ' ' || p[17] == '(')) {
		it->spec = S_FIELDS_NOT;
		return parse_fields(p + 17, it, a);
	} else if (strncasecmp(p, "HEADER.FIELDS", 13) == 0 && (p[13] == ' ' || p[13] == '(')) {
		it->spec = S_FIELDS;
		return parse_fields(p + 13, it, a);
	} else
		return -1;
	if (it->part[0] && *p && it->spec != S_FULL && it->spec != S_MIME && it->spec != S_HEADER &&
	    it->spec != S_TEXT)
		return -1;
	return 0;
}

static int parse_item(const char *s, struct fitem *it, struct fetch *f, struct arena *a)
{
	static const struct {
		const char *name;
		enum fkind kind;
	} simple[] = {
		{"FLAGS", F_FLAGS},       {"UID", F_UID},           {"INTERNALDATE", F_INTERNALDATE},
		{"RFC822.SIZE", F_SIZE},  {"ENVELOPE", F_ENVELOPE}, {"BODY", F_BODY},
		{"BODYSTRUCTURE", F_BODYSTRUCTURE}, {"MODSEQ", F_MODSEQ},
	};
	const char *br;
	memset(it, 0, sizeof(*it));
	for (size_t i = 0; i < ARRAY_LEN(simple); i++)
		if (strcasecmp(s, simple[i].name) == 0) {
			it->kind = simple[i].kind;
			it->name = simple[i].name;
			return 0;
		}
	if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0 ||
	    strcasecmp(s, "RFC822.TEXT") == 0) {
		it->kind = F_SECTION;
		it->part = "";
		it->name = strcasecmp(s, "RFC822") == 0 ? "RFC822"
			   : strcasecmp(s, "RFC822.TEXT") == 0 ? "RFC822.TEXT"
							       : "RFC822.HEADER";
		it->spec = s[6] == '\0' ? S_FULL : (s[7] == 'T' || s[7] == 't') ? S_TEXT : S_HEADER;
		it->peek = it->spec == S_HEADER;
		return 0;
	}
	br = strchr(s, '[');
	if (br == NULL)
		return -1;
	size_t pl = (size_t)(br - s);
	const char *close = strchr(br, ']');
	if (close == NULL)
		return -1;
	if (pl == 4 && strncasecmp(s, "BODY", 4) == 0) {
		it->kind = F_SECTION;
	} else if (pl == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
		it->kind = F_SECTION;
		it->peek = true;
	} else if (pl == 6 && strncasecmp(s, "BINARY", 6) == 0) {
		it->kind = F_SECTION;
		it->binary = true;
	} else if (pl == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
		it->kind = F_SECTION;
		it->binary = it->peek = true;
	} else if (pl == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
		it->kind = F_BINARY_SIZE;
	} else {
		return -1;
	}
	if (parse_section(br + 1, (size_t)(close - br - 1), it, a) < 0)
		return -1;
	if ((it->binary || it->kind == F_BINARY_SIZE) && it->spec != S_FULL)
		return -1; /* BINARY takes part numbers only */
	const char *q = close + 1;
	if (*q == '<') {
		unsigned long long o, cnt;
		int used = 0;
		if (it->kind == F_BINARY_SIZE ||
		    sscanf(q, "<%llu.%llu>%n", &o, &cnt, &used) != 2 || q[used] != '\0' || cnt == 0)
			return -1;
		it->partial = true;
		it->origin = o;
		it->count = cnt;
	} else if (*q != '\0') {
		return -1;
	}
	{
		const char *base = it->kind == F_BINARY_SIZE ? "BINARY.SIZE" : it->binary ? "BINARY" : "BODY";
		char *nm = arena_printf(a, "%s[%.*s]", base, (int)(close - br - 1), br + 1);
		if (it->partial)
			nm = arena_printf(a, "%s<%llu>", nm, (unsigned long long)it->origin);
		it->name = nm;
	}
	(void)f;
	return 0;
}

static int add_item(struct fetch *f, const char *s, size_t *cap, struct arena *a)
{
	struct fitem it;
	if (parse_item(s, &it, f, a) < 0)
		return -1;
	if (f->nitems == *cap) {
		struct fitem *nv = arena_alloc(a, *cap * 2 * sizeof(*nv));
		memcpy(nv, f->items, *cap * sizeof(*nv));
		f->items = nv;
		*cap *= 2;
	}
	f->items[f->nitems++] = it;
	switch (it.kind) {
	case F_ENVELOPE:
		f->need_raw = true;
		break;
	case F_BODY:
	case F_BODYSTRUCTURE:
	case F_BINARY_SIZE:
		f->need_raw = f->need_mime = true;
		break;
	case F_SECTION:
		f->need_raw = true;
		if (it.part[0] || it.binary)
			f->need_mime = true;
		if (!it.peek)
			f->sets_seen = true;
		break;
	case F_UID:
		f->want_uid = true;
		break;
	case F_MODSEQ:
		f->want_modseq = true;
		break;
	default:
		break;
	}
	return 0;
}

static int parse_fetch(struct imap_cmdctx *c, struct fetch *f)
{
	const struct imap_arg *at = &c->cmd.args[1];
	size_t cap = 8;

	f->items = arena_alloc(c->a, cap * sizeof(*f->items));
	if (at->type == IMAP_ARG_ATOM) {
		const char *macro = NULL;
		if (strcasecmp(at->str, "ALL") == 0)
			macro = "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE";
		else if (strcasecmp(at->str, "FAST") == 0)
			macro = "FLAGS INTERNALDATE RFC822.SIZE";
		else if (strcasecmp(at->str, "FULL") == 0)
			macro = "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY";
		if (macro) {
			char *m = arena_strdup(c->a, macro), *save = NULL;
			for (char *t = strtok_r(m, " ", &save); t; t = strtok_r(NULL, " ", &save))
				if (add_item(f, t, &cap, c->a) < 0)
					return -1;
		} else if (add_item(f, at->str, &cap, c->a) < 0) {
			return -1;
		}
	} else if (at->type == IMAP_ARG_LIST && at->n > 0) {
		for (size_t i = 0; i < at->n; i++)
			if (at->list[i].type != IMAP_ARG_ATOM || add_item(f, at->list[i].str, &cap, c->a) < 0)
				return -1;
	} else {
		return -1;
	}
	/* modifiers (RFC 7162 3.1.4, 3.2.6) */
	if (c->cmd.nargs == 3) {
		const struct imap_arg *m = &c->cmd.args[2];
		if (m->type != IMAP_ARG_LIST)
			return -1;
		for (size_t i = 0; i < m->n; i++) {
			int64_t v;
			if (imap_arg_is_atom(&m->list[i], "CHANGEDSINCE") && i + 1 < m->n &&
			    m->list[i + 1].type == IMAP_ARG_ATOM &&
			    str_to_i64(m->list[i + 1].str, 0, INT64_MAX, &v) == 0) {
				f->changedsince = (uint64_t)v;
				f->want_modseq = true;
				i++;
			} else if (imap_arg_is_atom(&m->list[i], "VANISHED") && c->uid &&
				   c->s->qresync) {
				f->vanished = true;
			} else {
				return -1;
			}
		}
		if (f->vanished && f->changedsince == 0)
			return -1;
	} else if (c->cmd.nargs != 2) {
		return -1;
	}
	if (c->s->condstore && f->sets_seen)
		f->want_modseq = true;
	return 0;
}

/* ---- one message ---- */

struct msgdata {
	char *raw;
	size_t len;
	struct mime_msg *mime;
	size_t hlen;
};

static void put_literal(struct buf *b, const char *d, size_t n, bool binary)
{
	(void)!buf_printf(b, "%s{%zu}\r\n", binary && memchr(d, '\0', n) ? "~" : "", n);
	(void)!buf_append(b, d, n);
}

static void put_section(struct imap_cmdctx *c, struct fetch *f, const struct fitem *it,
			const struct msgdata *md)
{
	const char *d = "";
	size_t n = 0;
	struct buf tmp;
	bool have_tmp = false;

	buf_init(&tmp, 0);
	if (it->binary) {
		if (it->part[0] == '\0') {
			d = md->raw;
			n = md->len;
		} else if (mime_part_content(md->raw, md->len, md->mime, it->part, f->scratch, &d, &n, NULL) <
			   0) {
			d = "";
			n = 0;
		}
	} else if (it->part[0] == '\0') {
		switch (it->spec) {
		case S_FULL:
			d = md->raw;
			n = md->len;
			break;
		case S_HEADER:
			d = md->raw;
			n = md->hlen;
			break;
		case S_TEXT:
			d = md->raw + md->hlen;
			n = md->len - md->hlen;
			break;
		default:
			imap_header_filter(&tmp, md->raw, md->hlen, it->fields, it->nfields,
					   it->spec == S_FIELDS_NOT);
			have_tmp = true;
		}
	} else {
		int idx = md->mime ? mime_part_find(md->mime, it->part) : -1;
		if (idx >= 0) {
			const struct mime_part *p = &md->mime->parts[idx];
			const struct mime_part *cp = NULL;
			if ((size_t)idx + 1 < md->mime->nparts && md->mime->parts[idx + 1].parent == idx &&
			    p->type && strcmp(p->type, "message") == 0)
				cp = &md->mime->parts[idx + 1];
			switch (it->spec) {
			case S_FULL:
				d = md->raw + p->body_off;
				n = p->end_off - p->body_off;
				break;
			case S_MIME:
				d = md->raw + p->header_off;
				n = p->body_off - p->header_off;
				break;
			case S_HEADER:
				if (cp) {
					d = md->raw + cp->header_off;
					n = cp->body_off - cp->header_off;
				}
				break;
			case S_TEXT:
				if (cp) {
					d = md->raw + cp->body_off;
					n = cp->end_off - cp->body_off;
				}
				break;
			default:
				if (cp) {
					imap_header_filter(&tmp, md->raw + cp->header_off,
							   cp->body_off - cp->header_off, it->fields,
							   it->nfields, it->spec == S_FIELDS_NOT);
					have_tmp = true;
				}
			}
		}
	}
	if (have_tmp) {
		d = tmp.data ? tmp.data : "";
		n = tmp.len;
	}
	if (it->partial) {
		if (it->origin >= n) {
			d = "";
			n = 0;
		} else {
			d += it->origin;
			n -= (size_t)it->origin;
			if (n > it->count)
				n = (size_t)it->count;
		}
	}
	(void)!buf_printf(&c->out, "%s ", it->name);
	put_literal(&c->out, d, n, it->binary);
	buf_release(&tmp);
}

static int load(struct imap_cmdctx *c, struct fetch *f, const struct mail_imap_row *r,
		struct msgdata *md)
{
	struct imap_session *s = c->s;
	struct mail_msg m;
	struct err err;

	memset(&m, 0, sizeof(m));
	memcpy(m.blob, r->blob, sizeof(m.blob));
	if (mail_raw(s->mb, &m, &md->raw, &md->len, &err) < 0) {
		log_warn("imap", "sess=%llu uid=%u msg=\"message unreadable\" err=\"%s\"",
			 (unsigned long long)s->id, r->uid, err.msg);
		return -1;
	}
	md->hlen = imap_header_len(md->raw, md->len);
	if (f->need_mime && mime_parse(md->raw, md->len, &s->srv->lim.mime, f->scratch, &md->mime, &err) < 0) {
		log_warn("imap", "sess=%llu uid=%u msg=\"message does not parse\" err=\"%s\"",
			 (unsigned long long)s->id, r->uid, err.msg);
		md->mime = NULL;
	}
	return 0;
}

static void put_message(struct imap_cmdctx *c, struct fetch *f, struct mail_imap_row *r)
{
	struct imap_session *s = c->s;
	struct msgdata md = {0};
	uint32_t seq = imap_view_seq(s->view, r->uid);
	bool first = true, flags_done = false, seen_now = false;
	struct arena *a = f->scratch;

	if (seq == 0 || (f->changedsince && r->modseq <= f->changedsince))
		return;
	if (f->need_raw && load(c, f, r, &md) < 0)
		return;
	for (size_t i = 0; i < f->nitems; i++)
		if (f->items[i].kind == F_FLAGS)
			flags_done = true;
	if (f->sets_seen && !s->view->readonly && !(r->flags & MAIL_SEEN)) {
		struct mail_imap_flagop op = {.mode = 1, .flags = MAIL_SEEN, .keywords = ""};
		struct mail_imap_stored st;
		size_t nst;
		uint64_t ms;
		struct err err;
		if (mail_imap_store(s->mb, s->view->folder_id, &r->uid, 1, &op, 0, a, &st, &nst, &ms,
				    &err) == 0 && nst == 1) {
			*r = st.row;
			if (ms)
				imap_view_remember_own(s->view, ms);
			seen_now = true;
		}
	}
	(void)!buf_printf(&c->out, "* %u FETCH (", seq);
	if (c->uid || f->want_uid) {
		(void)!buf_printf(&c->out, "UID %u", r->uid);
		first = false;
	}
	for (size_t i = 0; i < f->nitems; i++) {
		const struct fitem *it = &f->items[i];
		if (it->kind == F_UID || it->kind == F_MODSEQ)
			continue;
		if (!first)
			(void)!buf_puts(&c->out, " ");
		first = false;
		switch (it->kind) {
		case F_FLAGS:
			imap_put_flags(&c->out, r->flags, r->keywords, r->colour, r->pinned);
			break;
		case F_INTERNALDATE: {
			char d[40];
			imap_date_time_format(r->internal_date, s->srv->lim.tz_minutes, d);
			(void)!buf_printf(&c->out, "INTERNALDATE \"%s\"", d);
			break;
		}
		case F_SIZE:
			(void)!buf_printf(&c->out, "RFC822.SIZE %lld", (long long)r->size);
			break;
		case F_ENVELOPE:
			(void)!buf_puts(&c->out, "ENVELOPE ");
			imap_put_envelope(&c->out, md.raw, md.hlen, f->scratch);
			break;
		case F_BODY:
		case F_BODYSTRUCTURE:
			(void)!buf_puts(&c->out, it->kind == F_BODY ? "BODY " : "BODYSTRUCTURE ");
			if (md.mime)
				imap_put_bodystructure(&c->out, md.raw, md.len, md.mime,
						       it->kind == F_BODYSTRUCTURE, f->scratch);
			else
				(void)!buf_printf(&c->out,
						  "(\"text\" \"plain\" NIL NIL NIL \"7bit\" %zu 0)",
						  md.len - md.hlen);
			break;
		case F_BINARY_SIZE: {
			size_t n = md.len;
			const char *d;
			if (it->part[0] && (md.mime == NULL ||
					    mime_part_content(md.raw, md.len, md.mime, it->part, f->scratch,
							      &d, &n, NULL) < 0))
				n = 0;
			(void)!buf_printf(&c->out, "%s %zu", it->name, n);
			break;
		}
		case F_SECTION:
			if (md.raw)
				put_section(c, f, it, &md);
			break;
		default:
			break;
		}
	}
	if (seen_now && !flags_done) { /* the change goes with the data (RFC 3501 6.4.5) */
		(void)!buf_puts(&c->out, first ? "" : " ");
		imap_put_flags(&c->out, r->flags, r->keywords, r->colour, r->pinned);
		first = false;
	}
	if (f->want_modseq)
		(void)!buf_printf(&c->out, "%sMODSEQ (%llu)", first ? "" : " ",
				  (unsigned long long)r->modseq);
	(void)!buf_puts(&c->out, ")\r\n");
	free(md.raw);
	arena_reset(a);
}

struct slice {
	struct imap_cmdctx *c;
	struct fetch *f;
	uint32_t last;
};

static int on_row(void *ctx, const struct mail_imap_row *r)
{
	struct slice *sl = ctx;
	struct mail_imap_row copy = *r;
	put_message(sl->c, sl->f, &copy);
	sl->last = r->uid;
	return sl->c->out.len >= IMAP_CHUNK ? 1 : 0;
}

static void fetch_vanished(struct imap_cmdctx *c, struct fetch *f)
{
	struct imap_session *s = c->s;
	uint32_t *v;
	size_t n, k = 0;
	struct imap_seqset set;
	struct err err;

	if (imap_seqset_parse(c->cmd.args[0].str, c->cmd.args[0].len, s->view->uidnext, c->a,
			      &set) < 0 ||
	    mail_imap_vanished(s->mb, s->view->folder_id, f->changedsince, c->a, &v, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool in = false;
		for (size_t j = 0; j < set.n && !in; j++)
			in = v[i] >= set.v[j].lo && v[i] <= set.v[j].hi;
		if (in && imap_view_seq(s->view, v[i]) == 0)
			v[k++] = v[i];
	}
	if (k) {
		(void)!buf_puts(&c->out, "* VANISHED (EARLIER) ");
		imap_seqset_put(&c->out, v, k);
		(void)!buf_puts(&c->out, "\r\n");
	}
}

void imap_exec_fetch(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct fetch *f = c->st;
	struct err err;

	if (f == NULL) {
		struct imap_seqset set;
		f = c->st = arena_alloc(c->a, sizeof(*f));
		f->scratch = arena_new();
		arena_defer(c->a, arena_drop, f->scratch);
		f->rows = arena_new();
		arena_defer(c->a, arena_drop, f->rows);
		if (c->cmd.nargs < 2 || c->cmd.args[0].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(c->cmd.args[0].str, c->cmd.args[0].len,
				      c->uid ? (imap_view_max_uid(s->view) ? imap_view_max_uid(s->view)
									  : 1)
					     : (s->view->count ? s->view->count : 1),
				      c->a, &set) < 0 ||
		    parse_fetch(c, f) < 0) {
			imap_tagged(c, "BAD", "Usage: %s sequence-set items [(modifiers)]", c->cmd.name);
			return;
		}
		/* room for one more item (the implied FLAGS of a \Seen change) */
		{
			struct fitem *nv = arena_alloc(c->a, (f->nitems + 1) * sizeof(*nv));
			memcpy(nv, f->items, f->nitems * sizeof(*nv));
			f->items = nv;
		}
		if (f->changedsince && !s->condstore)
			s->condstore = true; /* RFC 7162 3.1: CHANGEDSINCE enables CONDSTORE */
		if (f->want_modseq)
			s->condstore = true;
		imap_view_resolve(s->view, &set, c->uid, c->a, &f->r, &f->nr);
		if (f->vanished)
			fetch_vanished(c, f);
		f->ri = 0;
		f->next = f->nr ? f->r[0].lo : 0;
	}
	while (f->ri < f->nr) {
		struct slice sl = {.c = c, .f = f, .last = 0};
		int r = mail_imap_rows(s->mb, s->view->folder_id, f->next, f->r[f->ri].hi, f->rows,
				       on_row, &sl, &err);
		arena_reset(f->rows);
		if (r < 0) {
			imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
			return;
		}
		if (r > 0 && sl.last < f->r[f->ri].hi) {
			f->next = sl.last + 1;
			c->more = true;
			return;
		}
		f->ri++;
		if (f->ri < f->nr)
			f->next = f->r[f->ri].lo;
		if (r > 0) {
			c->more = f->ri < f->nr;
			if (c->more)
				return;
		}
	}
	if (imap_view_refresh(s, &c->out, c->uid, c->a) < 0) {
		c->close_after = true;
		return;
	}
	imap_tagged(c, "OK", "%s completed", c->cmd.name);
}
