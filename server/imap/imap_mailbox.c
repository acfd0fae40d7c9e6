/* Mailbox commands (RFC 3501 6.3, 6.4.1-6.4.3; SPECIAL-USE RFC 6154, CHILDREN RFC 3348,
 * UIDPLUS RFC 4315, UNSELECT RFC 3691, CONDSTORE/QRESYNC RFC 7162): SELECT, EXAMINE, CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND, CLOSE, UNSELECT,
 * EXPUNGE. All run on the job pool.
 *
 * Names: the store's folder paths ('/'-separated UTF-8) in modified UTF-7; INBOX is the inbox
 * folder whatever its case. Subscriptions are not kept: every folder counts as subscribed
 * (LSUB = LIST), and SUBSCRIBE/UNSUBSCRIBE succeed without effect. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

static const char *mbox_arg(struct imap_cmdctx *c, size_t i, size_t *len_r)
{
	const char *s;
	if (i >= c->cmd.nargs || !imap_arg_string(&c->cmd.args[i], &s, len_r))
		return NULL;
	return s;
}

static const char *no_code(const struct err *e)
{
	switch (e->code) {
	case ERR_NOTFOUND:
		return "[NONEXISTENT] ";
	case ERR_EXISTS:
		return "[ALREADYEXISTS] ";
	case ERR_QUOTA:
		return "[OVERQUOTA] ";
	case ERR_LIMIT:
		return "[LIMIT] ";
	case ERR_DENIED:
		return "[CANNOT] ";
	case ERR_INVALID:
		return "[CANNOT] ";
	default:
		return "[SERVERBUG] ";
	}
}

static void tagged_err(struct imap_cmdctx *c, const struct err *e)
{
	imap_tagged(c, "NO", "%s%s", no_code(e), e->msg);
}

/* The untagged updates every command in the selected state ends with (expunges allowed). */
static bool end_refresh(struct imap_cmdctx *c)
{
	if (c->s->state != ST_SELECTED)
		return true;
	if (imap_view_refresh(c->s, &c->out, true, c->a) < 0) {
		c->close_after = true;
		return false;
	}
	return true;
}

static void unselect(struct imap_session *s)
{
	imap_view_free(&s->view);
	if (s->state == ST_SELECTED)
		s->state = ST_AUTH;
}

/* ---- SELECT / EXAMINE ---- */

struct qresync {
	bool on;
	uint32_t uidvalidity;
	uint64_t modseq;
	struct imap_seqset known;
	bool have_known;
};

static int select_params(struct imap_cmdctx *c, struct qresync *q)
{
	struct imap_session *s = c->s;
	const struct imap_arg *l;

	if (c->cmd.nargs == 1)
		return 0;
	if (c->cmd.nargs != 2 || c->cmd.args[1].type != IMAP_ARG_LIST)
		return -1;
	l = c->cmd.args[1].list;
	for (size_t i = 0; i < c->cmd.args[1].n; i++) {
		if (imap_arg_is_atom(&l[i], "CONDSTORE")) {
			s->condstore = true;
		} else if (imap_arg_is_atom(&l[i], "QRESYNC") && i + 1 < c->cmd.args[1].n &&
			   l[i + 1].type == IMAP_ARG_LIST && l[i + 1].n >= 2) {
			const struct imap_arg *p = l[i + 1].list;
			int64_t v, m;
			if (!s->qresync || p[0].type != IMAP_ARG_ATOM || p[1].type != IMAP_ARG_ATOM ||
			    str_to_i64(p[0].str, 1, UINT32_MAX, &v) < 0 ||
			    str_to_i64(p[1].str, 1, INT64_MAX, &m) < 0)
				return -1;
			q->on = true;
			q->uidvalidity = (uint32_t)v;
			q->modseq = (uint64_t)m;
			if (l[i + 1].n >= 3 && p[2].type == IMAP_ARG_ATOM) {
				if (imap_seqset_parse(p[2].str, p[2].len, UINT32_MAX, c->a, &q->known) < 0)
					return -1;
				q->have_known = true;
			}
			i++;
		} else {
			return -1;
		}
	}
	return 0;
}

static bool in_set(const struct imap_seqset *set, uint32_t x)
{
	for (size_t i = 0; i < set->n; i++)
		if (x >= set->v[i].lo && x <= set->v[i].hi)
			return true;
	return false;
}

static void qresync_report(struct imap_cmdctx *c, const struct qresync *q)
{
	struct imap_session *s = c->s;
	struct imap_view *v = s->view;
	struct mail_imap_changes ch;
	uint32_t *gone;
	size_t ng, k = 0;
	struct err err;

	if (mail_imap_vanished(s->mb, v->folder_id, q->modseq, c->a, &gone, &ng, &err) < 0)
		return;
	for (size_t i = 0; i < ng; i++)
		if ((!q->have_known || in_set(&q->known, gone[i])) && imap_view_seq(v, gone[i]) == 0)
			gone[k++] = gone[i];
	if (k) {
		(void)!buf_puts(&c->out, "* VANISHED (EARLIER) ");
		imap_seqset_put(&c->out, gone, k);
		(void)!buf_puts(&c->out, "\r\n");
	}
	if (mail_imap_changes(s->mb, v->folder_id, q->modseq, UINT64_MAX, v->uidnext, c->a, &ch,
			      &err) < 0)
		return;
	for (size_t i = 0; i < ch.nchanged; i++) {
		uint32_t seq = imap_view_seq(v, ch.changed[i].uid);
		if (seq == 0)
			continue;
		(void)!buf_printf(&c->out, "* %u FETCH (UID %u ", seq, ch.changed[i].uid);
		imap_put_flags(&c->out, ch.changed[i].flags, ch.changed[i].keywords,
			       ch.changed[i].colour, ch.changed[i].pinned);
		(void)!buf_printf(&c->out, " MODSEQ (%llu))\r\n",
				  (unsigned long long)ch.changed[i].modseq);
	}
}

void imap_exec_select(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	bool examine = strcmp(c->cmd.name, "EXAMINE") == 0;
	struct qresync q = {0};
	struct mail_folder f;
	uint32_t *uids = NULL, unseen = 0;
	size_t n = 0, len;
	const char *name = mbox_arg(c, 0, &len);
	int64_t id;
	struct err err;

	if (name == NULL || select_params(c, &q) < 0) {
		imap_tagged(c, "BAD", "Usage: %s mailbox [(CONDSTORE | QRESYNC (...))]", c->cmd.name);
		return;
	}
	if (s->state == ST_SELECTED && s->qresync)
		imap_out(c, "* OK [CLOSED] Previous mailbox closed");
	unselect(s);
	if (imap_mailbox_find(s, name, len, &id, c->a, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (mail_imap_read_begin(s->mb, &err) < 0 || mail_folder_get(s->mb, id, c->a, &f, &err) < 0 ||
	    mail_imap_uids(s->mb, id, &uids, &n, &unseen, &err) < 0) {
		mail_imap_read_end(s->mb);
		free(uids);
		tagged_err(c, &err);
		return;
	}
	mail_imap_read_end(s->mb);
	s->view = imap_view_new(id, uids, n);
	free(uids);
	s->view->name = xstrndup(name, len);
	s->view->uidvalidity = f.uidvalidity;
	s->view->uidnext = f.uidnext;
	s->view->modseq = s->view->exp_modseq = f.highestmodseq;
	s->view->readonly = examine;
	s->state = ST_SELECTED;
	imap_out(c, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft " IMAP_PINNED_KEYWORD
		    " $label1 $label2 $label3 $label4 $label5 $label6 $label7)");
	imap_out(c, "* OK [PERMANENTFLAGS (%s)] Flags permitted",
		 examine ? ""
			 : "\\Answered \\Flagged \\Deleted \\Seen \\Draft " IMAP_PINNED_KEYWORD
			   " $label1 $label2 $label3 $label4 $label5 $label6 $label7 \\*");
	imap_out(c, "* %u EXISTS", s->view->count);
	imap_out(c, "* 0 RECENT");
	if (unseen && imap_view_seq(s->view, unseen))
		imap_out(c, "* OK [UNSEEN %u] First unseen", imap_view_seq(s->view, unseen));
	imap_out(c, "* OK [UIDVALIDITY %u] UIDs valid", f.uidvalidity);
	imap_out(c, "* OK [UIDNEXT %u] Predicted next UID", f.uidnext);
	imap_out(c, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)f.highestmodseq);
	if (q.on && q.uidvalidity == f.uidvalidity)
		qresync_report(c, &q);
	imap_tagged(c, "OK", "[%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		    c->cmd.name);
}

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ---- */

static const char *clean_path(struct imap_cmdctx *c, size_t i)
{
	size_t len;
	const char *name = mbox_arg(c, i, &len);
	char *path;
	if (name == NULL)
		return NULL;
	path = (char *)imap_mailbox_path(name, len, c->a);
	if (path == NULL)
		return NULL;
	/* a trailing delimiter only says more names will go below (RFC 3501 6.3.3) */
	for (size_t n = strlen(path); n > 0 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	return path;
}

void imap_exec_create(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	const char *path = c->cmd.nargs >= 1 ? clean_path(c, 0) : NULL;
	int64_t id;
	struct err err;

	if (path == NULL || *path == '\0' || strstr(path, "//")) {
		imap_tagged(c, "BAD", "Bad mailbox name");
		return;
	}
	if (strcasecmp(path, "INBOX") == 0 || mail_folder_by_path(s->mb, path, &id, NULL) == 0) {
		imap_tagged(c, "NO", "[ALREADYEXISTS] Mailbox exists");
		return;
	}
	if (mail_folder_ensure_path(s->mb, path, &id, &err) < 0)
		tagged_err(c, &err);
	else if (end_refresh(c))
		imap_tagged(c, "OK", "CREATE completed");
}

static bool has_children(struct imap_session *s, int64_t id, struct arena *a)
{
	struct mail_folder *v;
	size_t n;
	if (mail_folder_list(s->mb, a, &v, &n, NULL) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i].parent == id)
			return true;
	return false;
}

void imap_exec_delete(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	size_t len;
	const char *name = mbox_arg(c, 0, &len);
	int64_t id;
	struct err err;

	if (name == NULL || c->cmd.nargs != 1) {
		imap_tagged(c, "BAD", "Usage: DELETE mailbox");
		return;
	}
	if (imap_mailbox_find(s, name, len, &id, c->a, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (has_children(s, id, c->a)) {
		imap_tagged(c, "NO", "[INUSE] The mailbox has children; delete them first");
		return;
	}
	if (s->view && s->view->folder_id == id)
		unselect(s);
	if (mail_folder_delete(s->mb, id, &err) < 0)
		tagged_err(c, &err);
	else if (end_refresh(c))
		imap_tagged(c, "OK", "DELETE completed (its messages are in Trash)");
}

void imap_exec_rename(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	size_t len;
	const char *name = mbox_arg(c, 0, &len);
	const char *to = c->cmd.nargs == 2 ? clean_path(c, 1) : NULL;
	const char *slash, *leaf;
	int64_t id, parent = 0, other;
	struct err err;

	if (name == NULL || to == NULL || *to == '\0' || strstr(to, "//")) {
		imap_tagged(c, "BAD", "Usage: RENAME mailbox new-name");
		return;
	}
	if (imap_mailbox_find(s, name, len, &id, c->a, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (strcasecmp(to, "INBOX") == 0 ||
	    (mail_folder_by_path(s->mb, to, &other, NULL) == 0 && other != id)) {
		imap_tagged(c, "NO", "[ALREADYEXISTS] The new name exists");
		return;
	}
	slash = strrchr(to, '/');
	leaf = slash ? slash + 1 : to;
	if (slash) {
		char *ppath = arena_strndup(c->a, to, (size_t)(slash - to));
		if (mail_folder_ensure_path(s->mb, ppath, &parent, &err) < 0) {
			tagged_err(c, &err);
			return;
		}
	}
	if (mail_folder_rename(s->mb, id, parent, leaf, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (end_refresh(c))
		imap_tagged(c, "OK", "RENAME completed");
}

void imap_exec_subscribe(struct imap_cmdctx *c)
{
	if (c->cmd.nargs != 1) {
		imap_tagged(c, "BAD", "Usage: %s mailbox", c->cmd.name);
		return;
	}
	if (end_refresh(c))
		imap_tagged(c, "OK", "%s completed (every mailbox is subscribed)", c->cmd.name);
}

/* ---- LIST / LSUB ---- */

/* RFC 3501 6.3.8: "*" matches anything, "%" anything but the delimiter. */
static bool wild_match(const char *p, const char *n)
{
	for (; *p; p++) {
		if (*p == '*' || *p == '%') {
			bool any = *p == '*';
			while (p[1] == '*' || p[1] == '%')
				any |= *++p == '*';
			for (const char *k = n;; k++) {
				if (wild_match(p + 1, k))
					return true;
				if (*k == '\0' || (!any && *k == '/'))
					return false;
			}
		}
		if (*p != *n)
			return false;
		n++;
	}
	return *n == '\0';
}

static bool name_match(const char *pattern, const char *name)
{
	/* INBOX in any case */
	if (strncasecmp(pattern, "INBOX", 5) == 0 && strncmp(name, "INBOX", 5) == 0) {
		char *p = xstrdup(pattern);
		bool r;
		memcpy(p, "INBOX", 5);
		r = wild_match(p, name);
		free(p);
		return r;
	}
	return wild_match(pattern, name);
}

static const char *special_attr(enum mail_special sp)
{
	switch (sp) {
	case MAIL_DRAFTS:
		return " \\Drafts";
	case MAIL_SENT:
		return " \\Sent";
	case MAIL_TRASH:
		return " \\Trash";
	case MAIL_JUNK:
		return " \\Junk";
	case MAIL_ARCHIVE:
		return " \\Archive";
	default:
		return "";
	}
}

void imap_exec_list(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	bool lsub = strcmp(c->cmd.name, "LSUB") == 0;
	size_t first = 0, rl, pl;
	const char *ref, *pat;
	struct mail_folder *v;
	const char **paths;
	size_t n;
	struct err err;

	/* LIST-EXTENDED forms (selection options, RETURN) are taken and their options ignored */
	if (c->cmd.nargs >= 1 && c->cmd.args[0].type == IMAP_ARG_LIST)
		first = 1;
	if (c->cmd.nargs < first + 2 || !imap_arg_string(&c->cmd.args[first], &ref, &rl) ||
	    (c->cmd.args[first + 1].type != IMAP_ARG_LIST &&
	     !imap_arg_string(&c->cmd.args[first + 1], &pat, &pl))) {
		imap_tagged(c, "BAD", "Usage: %s reference pattern", c->cmd.name);
		return;
	}
	const struct imap_arg *pats = &c->cmd.args[first + 1];
	size_t npats = 1;
	if (pats->type == IMAP_ARG_LIST) {
		npats = pats->n;
		pats = pats->list;
	}
	if (npats == 1 && pats[0].type != IMAP_ARG_LIST && pats[0].len == 0) {
		imap_out(c, "* %s (\\Noselect) \"/\" \"\"", c->cmd.name);
		imap_tagged(c, "OK", "%s completed", c->cmd.name);
		return;
	}
	if (mail_folder_list(s->mb, c->a, &v, &n, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	paths = arena_alloc(c->a, (n ? n : 1) * sizeof(*paths));
	for (size_t i = 0; i < n; i++) {
		/* the path from the parent chain (specials first; parents come before use here by
		 * walking up each time: folder trees are small) */
		const char *p = v[i].special == MAIL_INBOX ? "INBOX" : v[i].name;
		int64_t up = v[i].parent;
		for (int d = 0; up && d <= MAIL_FOLDER_DEPTH_MAX; d++) {
			size_t k;
			for (k = 0; k < n && v[k].id != up; k++)
				;
			if (k == n)
				break;
			p = arena_printf(c->a, "%s/%s", v[k].special == MAIL_INBOX ? "INBOX" : v[k].name,
					 p);
			up = v[k].parent;
		}
		paths[i] = p;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf enc;
		bool kids = false, hit = false;
		buf_init(&enc, 0);
		if (imap_mutf7_encode(paths[i], strlen(paths[i]), &enc) < 0) {
			buf_release(&enc);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (v[k].parent == v[i].id)
				kids = true;
		for (size_t k = 0; k < npats && !hit; k++) {
			const char *pp;
			size_t ppl;
			if (!imap_arg_string(&pats[k], &pp, &ppl))
				continue;
			char *full = arena_printf(c->a, "%s%s", ref, pp);
			hit = name_match(full, buf_cstr(&enc));
		}
		if (hit) {
			(void)!buf_printf(&c->out, "* %s (%s%s) \"/\" ", c->cmd.name,
					  kids ? "\\HasChildren" : "\\HasNoChildren",
					  lsub ? "" : special_attr(v[i].special));
			imap_put_string(&c->out, enc.data, enc.len);
			(void)!buf_puts(&c->out, "\r\n");
		}
		buf_release(&enc);
	}
	if (end_refresh(c))
		imap_tagged(c, "OK", "%s completed", c->cmd.name);
}

/* ---- STATUS ---- */

void imap_exec_status(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	size_t len;
	const char *name = mbox_arg(c, 0, &len);
	struct mail_folder f;
	const struct imap_arg *items;
	int64_t id;
	struct err err;
	struct buf b;

	if (name == NULL || c->cmd.nargs != 2 || c->cmd.args[1].type != IMAP_ARG_LIST) {
		imap_tagged(c, "BAD", "Usage: STATUS mailbox (items)");
		return;
	}
	if (imap_mailbox_find(s, name, len, &id, c->a, &err) < 0 ||
	    mail_folder_get(s->mb, id, c->a, &f, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	items = c->cmd.args[1].list;
	buf_init(&b, 0);
	for (size_t i = 0; i < c->cmd.args[1].n; i++) {
		const char *it = items[i].type == IMAP_ARG_ATOM ? items[i].str : "";
		if (i)
			(void)!buf_append(&b, " ", 1);
		if (strcasecmp(it, "MESSAGES") == 0)
			(void)!buf_printf(&b, "MESSAGES %lld", (long long)f.total);
		else if (strcasecmp(it, "RECENT") == 0)
			(void)!buf_puts(&b, "RECENT 0");
		else if (strcasecmp(it, "UIDNEXT") == 0)
			(void)!buf_printf(&b, "UIDNEXT %u", f.uidnext);
		else if (strcasecmp(it, "UIDVALIDITY") == 0)
			(void)!buf_printf(&b, "UIDVALIDITY %u", f.uidvalidity);
		else if (strcasecmp(it, "UNSEEN") == 0)
			(void)!buf_printf(&b, "UNSEEN %lld", (long long)f.unread);
		else if (strcasecmp(it, "HIGHESTMODSEQ") == 0)
			(void)!buf_printf(&b, "HIGHESTMODSEQ %llu", (unsigned long long)f.highestmodseq);
		else if (strcasecmp(it, "SIZE") == 0)
			(void)!buf_printf(&b, "SIZE %lld", (long long)f.bytes);
		else {
			buf_release(&b);
			imap_tagged(c, "BAD", "Unknown STATUS item");
			return;
		}
	}
	(void)!buf_puts(&c->out, "* STATUS ");
	imap_put_string(&c->out, name, len);
	(void)!buf_printf(&c->out, " (%s)\r\n", b.len ? buf_cstr(&b) : "");
	buf_release(&b);
	if (end_refresh(c))
		imap_tagged(c, "OK", "STATUS completed");
}

/* ---- APPEND ---- */

void imap_exec_append(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct mail_imap_flagop op = {0};
	struct mail_new m = {0};
	struct mail_added added;
	struct mail_folder f;
	const struct imap_arg *msg;
	size_t len, i = 1;
	const char *name = mbox_arg(c, 0, &len);
	int64_t id, when = 0;
	struct err err;

	if (name == NULL || c->cmd.nargs < 2)
		goto usage;
	if (i < c->cmd.nargs && c->cmd.args[i].type == IMAP_ARG_LIST) {
		if (imap_flags_parse(c->cmd.args[i].list, c->cmd.args[i].n, c->a, &op) < 0) {
			imap_tagged(c, "BAD", "Bad flag list");
			return;
		}
		i++;
	}
	if (i + 1 < c->cmd.nargs && c->cmd.args[i].type == IMAP_ARG_STRING) {
		if (imap_date_time_parse(c->cmd.args[i].str, c->cmd.args[i].len, &when) < 0) {
			imap_tagged(c, "BAD", "Bad date-time");
			return;
		}
		i++;
	}
	if (i + 1 != c->cmd.nargs || c->cmd.args[i].type != IMAP_ARG_LITERAL)
		goto usage;
	msg = &c->cmd.args[i];
	if (msg->len == 0) {
		imap_tagged(c, "NO", "Empty message");
		return;
	}
	if (!msg->literal8 && memchr(msg->str, '\0', msg->len)) {
		imap_tagged(c, "NO", "[UNKNOWN-CTE] NUL bytes need a literal8 (~{n}, RFC 3516)");
		return;
	}
	if (imap_mailbox_find(s, name, len, &id, c->a, &err) < 0) {
		imap_tagged(c, "NO", "[TRYCREATE] %s", err.msg);
		return;
	}
	m.folder_id = id;
	m.raw = msg->str;
	m.len = msg->len;
	m.internal_date = when;
	m.flags = op.flags;
	m.keywords = op.keywords;
	if (mail_insert(s->mb, &m, &added, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (op.colour_mask || op.pinned) {
		struct mail_change ch = {0};
		for (int k = 1; k <= MAIL_COLOUR_MAX && op.colour_mask; k++)
			if (op.colour_mask & (1u << k)) {
				ch.set_colour = true;
				ch.colour = k;
				break;
			}
		ch.set_pinned = op.pinned;
		ch.pinned = op.pinned;
		if (mail_update(s->mb, &added.id, 1, &ch, &err) < 0)
			log_warn("imap", "sess=%llu msg=\"colour/pin after APPEND\" err=\"%s\"",
				 (unsigned long long)s->id, err.msg);
	}
	if (mail_folder_get(s->mb, id, c->a, &f, &err) < 0)
		f.uidvalidity = 0;
	if (end_refresh(c))
		imap_tagged(c, "OK", "[APPENDUID %u %u] APPEND completed", f.uidvalidity, added.uid);
	return;
usage:
	imap_tagged(c, "BAD", "Usage: APPEND mailbox [(flags)] [date-time] literal");
}

/* ---- CLOSE / UNSELECT / EXPUNGE ---- */

static int expunge_deleted(struct imap_session *s, const struct imap_range *r, size_t nr,
			   bool ranged, struct arena *a, struct err *err)
{
	int64_t *ids;
	uint32_t *uids, *lo = NULL, *hi = NULL;
	size_t n;

	if (ranged) {
		if (nr == 0)
			return 0;
		lo = arena_alloc(a, nr * sizeof(*lo));
		hi = arena_alloc(a, nr * sizeof(*hi));
		for (size_t i = 0; i < nr; i++) {
			lo[i] = r[i].lo;
			hi[i] = r[i].hi;
		}
	}
	if (mail_imap_deleted(s->mb, s->view->folder_id, lo, hi, ranged ? nr : 0, a, &ids, &uids, &n,
			      err) < 0)
		return -1;
	for (size_t i = 0; i < n; i += 10000) {
		size_t k = n - i < 10000 ? n - i : 10000;
		if (mail_expunge(s->mb, ids + i, k, err) < 0)
			return -1;
	}
	return 0;
}

void imap_exec_close(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct err err;
	if (!s->view->readonly && expunge_deleted(s, NULL, 0, false, c->a, &err) < 0)
		log_warn("imap", "sess=%llu msg=\"CLOSE expunge failed\" err=\"%s\"",
			 (unsigned long long)s->id, err.msg);
	unselect(s);
	imap_tagged(c, "OK", "CLOSE completed");
}

void imap_exec_unselect(struct imap_cmdctx *c)
{
	unselect(c->s);
	imap_tagged(c, "OK", "UNSELECT completed");
}

void imap_exec_expunge(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct imap_range *r = NULL;
	size_t nr = 0;
	struct err err;

	if (s->view->readonly) {
		imap_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	if (c->uid) {
		struct imap_seqset set;
		if (c->cmd.nargs != 1 || c->cmd.args[0].type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(c->cmd.args[0].str, c->cmd.args[0].len,
				      imap_view_max_uid(s->view), c->a, &set) < 0) {
			imap_tagged(c, "BAD", "Usage: UID EXPUNGE uid-set");
			return;
		}
		imap_view_resolve(s->view, &set, true, c->a, &r, &nr);
	} else if (c->cmd.nargs) {
		imap_tagged(c, "BAD", "EXPUNGE takes no arguments");
		return;
	}
	if (expunge_deleted(s, r, nr, c->uid, c->a, &err) < 0) {
		tagged_err(c, &err);
		return;
	}
	if (end_refresh(c))
		imap_tagged(c, "OK", "%s completed (recoverable by an administrator)", c->cmd.name);
}
