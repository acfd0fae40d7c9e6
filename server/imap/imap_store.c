/* STORE, COPY, MOVE and their UID forms (RFC 3501 6.4.6-6.4.7, UIDPLUS RFC 4315 COPYUID,
 * MOVE RFC 6851, CONDSTORE RFC 7162 UNCHANGEDSINCE/MODIFIED). Colours and the pin travel as
 * keywords (imap_colour_keywords, $Pinned) and land in the store's colour and pinned columns,
 * so the web app shows them; other keywords go to the keywords column as they are. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/util.h"

#define STORE_BATCH 5000

static bool parse_set(struct imap_cmdctx *c, struct imap_seqset *set)
{
	struct imap_view *v = c->s->view;
	uint32_t star = c->uid ? (imap_view_max_uid(v) ? imap_view_max_uid(v) : 1)
			       : (v->count ? v->count : 1);
	return c->cmd.nargs >= 1 && c->cmd.args[0].type == IMAP_ARG_ATOM &&
	       imap_seqset_parse(c->cmd.args[0].str, c->cmd.args[0].len, star, c->a, set) == 0;
}

void imap_exec_store(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct imap_view *v = s->view;
	struct mail_imap_flagop op = {0};
	struct imap_seqset set;
	struct imap_range *r;
	size_t nr, nu, i = 1, nmod = 0;
	uint32_t *uids, *mod;
	uint64_t unchangedsince = 0;
	const char *item;
	bool silent;
	struct err err;

	if (!parse_set(c, &set) || c->cmd.nargs < 3)
		goto usage;
	if (c->cmd.args[i].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &c->cmd.args[i];
		int64_t x;
		if (m->n != 2 || !imap_arg_is_atom(&m->list[0], "UNCHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM || str_to_i64(m->list[1].str, 0, INT64_MAX, &x) < 0)
			goto usage;
		unchangedsince = (uint64_t)x;
		s->condstore = true;
		i++;
	}
	if (i + 1 >= c->cmd.nargs || c->cmd.args[i].type != IMAP_ARG_ATOM)
		goto usage;
	item = c->cmd.args[i].str;
	op.mode = item[0] == '+' ? 1 : item[0] == '-' ? -1 : 0;
	if (op.mode)
		item++;
	if (strcasecmp(item, "FLAGS") == 0)
		silent = false;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = true;
	else
		goto usage;
	i++;
	if (c->cmd.args[i].type == IMAP_ARG_LIST) {
		if (i + 1 != c->cmd.nargs ||
		    imap_flags_parse(c->cmd.args[i].list, c->cmd.args[i].n, c->a, &op) < 0)
			goto badflags;
	} else if (imap_flags_parse(&c->cmd.args[i], c->cmd.nargs - i, c->a, &op) < 0) {
		goto badflags;
	}
	if (v->readonly) {
		imap_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	imap_view_resolve(v, &set, c->uid, c->a, &r, &nr);
	uids = imap_view_uids(v, r, nr, c->a, &nu);
	mod = arena_alloc(c->a, (nu ? nu : 1) * sizeof(*mod));
	for (size_t k = 0; k < nu; k += STORE_BATCH) {
		size_t n = nu - k < STORE_BATCH ? nu - k : STORE_BATCH, nout;
		struct mail_imap_stored *out = arena_alloc(c->a, n * sizeof(*out));
		uint64_t modseq;
		if (mail_imap_store(s->mb, v->folder_id, uids + k, n, &op, unchangedsince, c->a, out,
				    &nout, &modseq, &err) < 0) {
			imap_tagged(c, "NO", "[CANNOT] %s", err.msg);
			return;
		}
		if (modseq)
			imap_view_remember_own(v, modseq);
		for (size_t j = 0; j < nout; j++) {
			const struct mail_imap_row *row = &out[j].row;
			uint32_t seq = imap_view_seq(v, row->uid);
			if (out[j].modified) {
				mod[nmod++] = c->uid ? row->uid : seq;
				continue;
			}
			if (silent && !(s->condstore && out[j].changed))
				continue;
			(void)!buf_printf(&c->out, "* %u FETCH (", seq);
			imap_put_flags(&c->out, row->flags, row->keywords, row->colour, row->pinned);
			if (c->uid)
				(void)!buf_printf(&c->out, " UID %u", row->uid);
			if (s->condstore)
				(void)!buf_printf(&c->out, " MODSEQ (%llu)",
						  (unsigned long long)row->modseq);
			(void)!buf_puts(&c->out, ")\r\n");
		}
	}
	if (imap_view_refresh(s, &c->out, c->uid, c->a) < 0) {
		c->close_after = true;
		return;
	}
	if (nmod) {
		(void)!buf_printf(&c->out, "%s OK [MODIFIED ", c->cmd.tag);
		imap_seqset_put(&c->out, mod, nmod);
		(void)!buf_puts(&c->out, "] Conditional STORE failed for some messages\r\n");
		return;
	}
	imap_tagged(c, "OK", "%s completed", c->cmd.name);
	return;
usage:
	imap_tagged(c, "BAD", "Usage: %s set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags)",
		    c->cmd.name);
	return;
badflags:
	imap_tagged(c, "BAD", "Bad flags (\\Recent cannot be stored)");
}

void imap_exec_copy(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct imap_view *v = s->view;
	bool move = strstr(c->cmd.name, "MOVE") != NULL;
	struct imap_seqset set;
	struct imap_range *r;
	struct mail_folder f;
	size_t nr, nu, nfound = 0, len;
	uint32_t *uids, *found, *newuids;
	int64_t *ids, dest;
	const char *name;
	struct err err;

	if (!parse_set(c, &set) || c->cmd.nargs != 2 ||
	    !imap_arg_string(&c->cmd.args[1], &name, &len)) {
		imap_tagged(c, "BAD", "Usage: %s set mailbox", c->cmd.name);
		return;
	}
	if (move && v->readonly) {
		imap_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	if (imap_mailbox_find(s, name, len, &dest, c->a, &err) < 0) {
		imap_tagged(c, "NO", "[TRYCREATE] %s", err.msg);
		return;
	}
	imap_view_resolve(v, &set, c->uid, c->a, &r, &nr);
	uids = imap_view_uids(v, r, nr, c->a, &nu);
	ids = arena_alloc(c->a, (nu ? nu : 1) * sizeof(*ids));
	found = arena_alloc(c->a, (nu ? nu : 1) * sizeof(*found));
	newuids = arena_alloc(c->a, (nu ? nu : 1) * sizeof(*newuids));
	if (mail_imap_ids(s->mb, v->folder_id, uids, nu, ids, found, &nfound, &err) < 0) {
		imap_tagged(c, "NO", "[SERVERBUG] %s", err.msg);
		return;
	}
	for (size_t k = 0; k < nfound; k += 10000) {
		size_t n = nfound - k < 10000 ? nfound - k : 10000;
		int rc = move ? mail_move(s->mb, ids + k, n, dest, newuids + k, &err)
			      : mail_copy(s->mb, ids + k, n, dest, NULL, newuids + k, &err);
		if (rc < 0) {
			imap_tagged(c, "NO", "%s%s", err.code == ERR_QUOTA ? "[OVERQUOTA] " : "",
				    err.msg);
			return;
		}
	}
	if (mail_folder_get(s->mb, dest, c->a, &f, &err) < 0)
		f.uidvalidity = 0;
	struct buf code;
	buf_init(&code, 0);
	if (nfound) {
		/* COPYUID pairs source and destination UIDs in order; write them as lists (a
		 * compact set would reorder nothing here: both are ascending) */
		(void)!buf_printf(&code, "[COPYUID %u ", f.uidvalidity);
		imap_seqset_put(&code, found, nfound);
		(void)!buf_puts(&code, " ");
		imap_seqset_put(&code, newuids, nfound);
		(void)!buf_puts(&code, "] ");
	}
	if (move) {
		if (code.len)
			imap_out(c, "* OK %sMoved", buf_cstr(&code));
		if (imap_view_refresh(s, &c->out, true, c->a) < 0) {
			buf_release(&code);
			c->close_after = true;
			return;
		}
		imap_tagged(c, "OK", "%s completed", c->cmd.name);
	} else {
		if (imap_view_refresh(s, &c->out, c->uid, c->a) < 0) {
			buf_release(&code);
			c->close_after = true;
			return;
		}
		imap_tagged(c, "OK", "%s%s completed", code.len ? buf_cstr(&code) : "", c->cmd.name);
	}
	buf_release(&code);
}
