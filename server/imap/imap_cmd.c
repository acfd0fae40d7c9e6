/* The command table, and the commands valid in any state: CAPABILITY, NOOP, LOGOUT, ID,
 * NAMESPACE (RFC 2342), ENABLE (RFC 5161), STARTTLS, IDLE (RFC 2177), CHECK. */
#include "imap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/util.h"

/* The states mask is the sequencing policy: a command outside its states is refused before
 * its handler runs. */
static const struct imap_cmd cmds[] = {
	{.name = "CAPABILITY", .fn = imap_cmd_capability, .states = ST_ANY},
	{.name = "NOOP", .fn = imap_cmd_noop_loop, .states = ST_ANY},
	{.name = "LOGOUT", .fn = imap_cmd_logout, .states = ST_ANY},
	{.name = "ID", .fn = imap_cmd_id, .states = ST_ANY},
	{.name = "STARTTLS", .fn = imap_cmd_starttls, .states = ST_NOAUTH},
	{.name = "LOGIN", .fn = imap_cmd_login, .states = ST_NOAUTH},
	{.name = "AUTHENTICATE", .fn = imap_cmd_authenticate, .states = ST_NOAUTH},
	{.name = "NAMESPACE", .fn = imap_cmd_namespace, .states = ST_AUTHED},
	{.name = "ENABLE", .exec = imap_exec_enable, .states = ST_AUTHED},
	{.name = "SELECT", .exec = imap_exec_select, .states = ST_AUTHED},
	{.name = "EXAMINE", .exec = imap_exec_select, .states = ST_AUTHED},
	{.name = "CREATE", .exec = imap_exec_create, .states = ST_AUTHED},
	{.name = "DELETE", .exec = imap_exec_delete, .states = ST_AUTHED},
	{.name = "RENAME", .exec = imap_exec_rename, .states = ST_AUTHED},
	{.name = "SUBSCRIBE", .exec = imap_exec_subscribe, .states = ST_AUTHED},
	{.name = "UNSUBSCRIBE", .exec = imap_exec_subscribe, .states = ST_AUTHED},
	{.name = "LIST", .exec = imap_exec_list, .states = ST_AUTHED},
	{.name = "LSUB", .exec = imap_exec_list, .states = ST_AUTHED},
	{.name = "STATUS", .exec = imap_exec_status, .states = ST_AUTHED},
	{.name = "APPEND", .exec = imap_exec_append, .states = ST_AUTHED},
	{.name = "IDLE", .fn = imap_cmd_idle, .states = ST_AUTHED},
	{.name = "CHECK", .exec = imap_exec_noop, .states = ST_SELECTED},
	{.name = "CLOSE", .exec = imap_exec_close, .states = ST_SELECTED},
	{.name = "UNSELECT", .exec = imap_exec_unselect, .states = ST_SELECTED},
	{.name = "EXPUNGE", .exec = imap_exec_expunge, .states = ST_SELECTED},
	{.name = "UID EXPUNGE", .exec = imap_exec_expunge, .states = ST_SELECTED},
	{.name = "SEARCH", .exec = imap_exec_search, .states = ST_SELECTED},
	{.name = "UID SEARCH", .exec = imap_exec_search, .states = ST_SELECTED},
	{.name = "SORT", .exec = imap_exec_sort, .states = ST_SELECTED},
	{.name = "UID SORT", .exec = imap_exec_sort, .states = ST_SELECTED},
	{.name = "THREAD", .exec = imap_exec_thread, .states = ST_SELECTED},
	{.name = "UID THREAD", .exec = imap_exec_thread, .states = ST_SELECTED},
	{.name = "FETCH", .exec = imap_exec_fetch, .states = ST_SELECTED},
	{.name = "UID FETCH", .exec = imap_exec_fetch, .states = ST_SELECTED},
	{.name = "STORE", .exec = imap_exec_store, .states = ST_SELECTED},
	{.name = "UID STORE", .exec = imap_exec_store, .states = ST_SELECTED},
	{.name = "COPY", .exec = imap_exec_copy, .states = ST_SELECTED},
	{.name = "UID COPY", .exec = imap_exec_copy, .states = ST_SELECTED},
	{.name = "MOVE", .exec = imap_exec_copy, .states = ST_SELECTED},
	{.name = "UID MOVE", .exec = imap_exec_copy, .states = ST_SELECTED},
};

const struct imap_cmd *imap_cmd_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

const char *imap_capabilities(const struct imap_session *s)
{
	static const char base[] = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE";
	static const char authed[] =
		"IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE SPECIAL-USE "
		"UNSELECT CHILDREN CONDSTORE QRESYNC BINARY SORT THREAD=ORDEREDSUBJECT "
		"THREAD=REFERENCES";
	if (s->state & ST_AUTHED)
		return authed;
	if (!s->tls)
		return s->kind == IMAP_PLAIN
			       ? "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS LOGINDISABLED "
				 "AUTH=SCRAM-SHA-256"
			       : base;
	(void)base;
	return "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN AUTH=SCRAM-SHA-256";
}

void imap_cmd_capability(struct imap_cmdctx *c)
{
	if (c->cmd.nargs) {
		imap_tagged(c, "BAD", "CAPABILITY takes no arguments");
	} else {
		imap_out(c, "* CAPABILITY %s", imap_capabilities(c->s));
		imap_tagged(c, "OK", "CAPABILITY completed");
	}
	imap_cmd_done(c);
}

void imap_exec_noop(struct imap_cmdctx *c)
{
	if (c->s->state == ST_SELECTED && imap_view_refresh(c->s, &c->out, true, c->a) < 0) {
		c->close_after = true;
		return;
	}
	imap_tagged(c, "OK", "%s completed", c->cmd.name);
}

void imap_cmd_noop_loop(struct imap_cmdctx *c)
{
	if (c->s->state == ST_SELECTED) {
		imap_run(c, imap_exec_noop);
		return;
	}
	imap_tagged(c, "OK", "NOOP completed");
	imap_cmd_done(c);
}

void imap_cmd_logout(struct imap_cmdctx *c)
{
	imap_out(c, "* BYE Logging out");
	imap_tagged(c, "OK", "LOGOUT completed");
	c->close_after = true;
	c->s->state = ST_LOGOUT;
	imap_cmd_done(c);
}

/* RFC 2971: we say who we are; what the client says is only logged. */
void imap_cmd_id(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	if (c->cmd.nargs != 1 ||
	    (c->cmd.args[0].type != IMAP_ARG_LIST && !imap_arg_is_nil(&c->cmd.args[0]))) {
		imap_tagged(c, "BAD", "ID takes a list or NIL");
		imap_cmd_done(c);
		return;
	}
	if (c->cmd.args[0].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = c->cmd.args[0].list;
		for (size_t i = 0; i + 1 < c->cmd.args[0].n && i < 60; i += 2) {
			const char *k, *v;
			size_t kl, vl;
			if (imap_arg_string(&l[i], &k, &kl) && imap_arg_string(&l[i + 1], &v, &vl) &&
			    (strcasecmp(k, "name") == 0 || strcasecmp(k, "version") == 0))
				log_info("imap", "sess=%llu %s=\"%.60s\" msg=\"client id\"",
					 (unsigned long long)s->id, strcasecmp(k, "name") == 0 ? "client" : "version",
					 v);
		}
	}
	imap_out(c, "* ID (\"name\" \"Yizhan\" \"vendor\" \"Yizhan\" \"version\" \"%s\")", YZ_VERSION);
	imap_tagged(c, "OK", "ID completed");
	imap_cmd_done(c);
}

void imap_cmd_namespace(struct imap_cmdctx *c)
{
	imap_out(c, "* NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(c, "OK", "NAMESPACE completed");
	imap_cmd_done(c);
}

void imap_exec_enable(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	struct buf en;

	if (c->cmd.nargs == 0) {
		imap_tagged(c, "BAD", "ENABLE needs capability names");
		return;
	}
	buf_init(&en, 0);
	for (size_t i = 0; i < c->cmd.nargs; i++) {
		const struct imap_arg *a = &c->cmd.args[i];
		if (imap_arg_is_atom(a, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			(void)!buf_puts(&en, " CONDSTORE");
		} else if (imap_arg_is_atom(a, "QRESYNC") && !s->qresync) {
			s->qresync = s->condstore = true;
			(void)!buf_puts(&en, " QRESYNC");
		}
	}
	imap_out(c, "* ENABLED%s", en.len ? buf_cstr(&en) : "");
	buf_release(&en);
	imap_tagged(c, "OK", "ENABLE completed");
}

void imap_cmd_starttls(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	if (c->cmd.nargs) {
		imap_tagged(c, "BAD", "STARTTLS takes no arguments");
		imap_cmd_done(c);
		return;
	}
	if (s->tls) {
		imap_tagged(c, "BAD", "TLS is already active");
		imap_cmd_done(c);
		return;
	}
	imap_reply(s, "%s OK Begin TLS negotiation now", c->cmd.tag);
	if (imap_starttls(s) < 0) {
		log_error("imap", "sess=%llu msg=\"cannot start TLS\"", (unsigned long long)s->id);
		imap_bye(s, "TLS failed");
	}
	imap_cmd_done(c); /* nothing buffered before the handshake is read afterwards */
}

/* ---- IDLE (RFC 2177) ---- */

void imap_cmd_idle(struct imap_cmdctx *c)
{
	struct imap_session *s = c->s;
	if (c->cmd.nargs) {
		imap_tagged(c, "BAD", "IDLE takes no arguments");
		imap_cmd_done(c);
		return;
	}
	free(s->idle_tag);
	s->idle_tag = xstrdup(c->cmd.tag);
	imap_out(c, "+ idling");
	s->mode = MODE_IDLE;
	s->dirty = s->state == ST_SELECTED; /* report what changed before the IDLE at once */
	imap_cmd_done(c);
}

void imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	const char *tag = s->idle_tag ? s->idle_tag : "*";
	s->mode = MODE_CMD;
	evtimer_del(s->delay);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		imap_reply(s, "%s OK IDLE terminated", tag);
	else
		imap_reply(s, "%s BAD Expected DONE", tag);
	free(s->idle_tag);
	s->idle_tag = NULL;
	imap_arm_timer(s);
}

struct refresh_job {
	struct netsvc_job job;
	struct buf out;
	bool gone;
};

static void refresh_run(struct netsvc_job *j)
{
	struct refresh_job *r = (struct refresh_job *)j;
	struct imap_session *s = j->s;
	struct arena *a = arena_new();
	if (s->state == ST_SELECTED && imap_view_refresh(s, &r->out, true, a) < 0)
		r->gone = true;
	arena_free(&a);
}

static void refresh_done(struct netsvc_job *j)
{
	struct refresh_job *r = (struct refresh_job *)j;
	struct imap_session *s = j->s;
	if (s && imap_alive(s)) {
		s->busy = false;
		if (r->out.len)
			bufferevent_write(s->bev, r->out.data, r->out.len);
		if (r->gone)
			imap_bye(s, "The selected mailbox is gone");
		else
			imap_resume(s);
	} else if (s) {
		s->busy = false;
	}
	buf_release(&r->out);
	free(r);
}

void imap_idle_refresh(struct imap_session *s)
{
	struct refresh_job *r;
	if (s->busy || !imap_alive(s))
		return;
	s->dirty = false;
	if (s->state != ST_SELECTED)
		return;
	r = xcalloc(1, sizeof(*r));
	buf_init(&r->out, 0);
	r->job.run = refresh_run;
	r->job.done = refresh_done;
	s->busy = true;
	imap_job_start(s, &r->job);
}
