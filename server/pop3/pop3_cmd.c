/* The command table, and the commands that do not touch the maildrop: CAPA (RFC 2449
 * section 5), STLS (RFC 2595 section 4), NOOP and QUIT in the AUTHORIZATION state (RFC 1939
 * sections 4 and 5). */
#include "pop3_int.h"

#include <string.h>

#include "lib/log.h"

/* The states mask is the whole sequencing policy: a keyword outside its states is refused by
 * the session code before its handler is called. APOP is not offered (it needs the plaintext
 * password on the server), so it is an unknown command. */
static const struct pop3_cmd cmds[] = {
	{.verb = "CAPA", .fn = pop3_cmd_capa, .states = ST_ANY},
	{.verb = "QUIT", .fn = pop3_cmd_quit, .states = ST_ANY},
	{.verb = "STLS", .fn = pop3_cmd_stls, .states = ST_AUTH},
	{.verb = "USER", .fn = pop3_cmd_user, .states = ST_AUTH},
	{.verb = "PASS", .fn = pop3_cmd_pass, .states = ST_AUTH},
	{.verb = "AUTH", .fn = pop3_cmd_auth, .states = ST_AUTH},
	{.verb = "STAT", .fn = pop3_cmd_stat, .states = ST_TRANS},
	{.verb = "LIST", .fn = pop3_cmd_list, .states = ST_TRANS},
	{.verb = "UIDL", .fn = pop3_cmd_uidl, .states = ST_TRANS},
	{.verb = "RETR", .fn = pop3_cmd_retr, .states = ST_TRANS},
	{.verb = "TOP", .fn = pop3_cmd_top, .states = ST_TRANS},
	{.verb = "DELE", .fn = pop3_cmd_dele, .states = ST_TRANS},
	{.verb = "RSET", .fn = pop3_cmd_rset, .states = ST_TRANS},
	{.verb = "NOOP", .fn = pop3_cmd_noop, .states = ST_TRANS},
	/* another protocol talking to us (a browser made to POST here, a proxy probe) */
	{.verb = "GET", .fn = pop3_cmd_nonpop, .states = ST_ANY},
	{.verb = "POST", .fn = pop3_cmd_nonpop, .states = ST_ANY},
	{.verb = "HEAD", .fn = pop3_cmd_nonpop, .states = ST_ANY},
	{.verb = "PUT", .fn = pop3_cmd_nonpop, .states = ST_ANY},
	{.verb = "CONNECT", .fn = pop3_cmd_nonpop, .states = ST_ANY},
};

const struct pop3_cmd *pop3_cmd_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].verb, verb) == 0)
			return &cmds[i];
	return NULL;
}

/* RFC 2449 section 5: what is available in the AUTHORIZATION state is announced in both. */
enum pop3_ret pop3_cmd_capa(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len) {
		pop3_err(s, "Syntax: CAPA");
		return POP3_NEXT;
	}
	pop3_ok(s, "Capability list follows");
	pop3_line(s, "TOP");
	pop3_line(s, "UIDL");
	pop3_line(s, "RESP-CODES");
	pop3_line(s, "AUTH-RESP-CODE");
	pop3_line(s, "PIPELINING");
	if (s->tls)
		pop3_line(s, "USER"); /* plaintext passwords only inside TLS */
	else
		pop3_line(s, "STLS");
	pop3_line(s, "SASL %s", pop3_auth_mechs(s));
	pop3_line(s, "IMPLEMENTATION Yizhan");
	pop3_line(s, ".");
	return POP3_NEXT;
}

enum pop3_ret pop3_cmd_quit(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	if (s->state == ST_TRANS)
		return pop3_update(s);
	pop3_close(s, "+OK %s POP3 server signing off", s->srv->lim.hostname);
	return POP3_STOP;
}

enum pop3_ret pop3_cmd_noop(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len) {
		pop3_err(s, "Syntax: NOOP");
		return POP3_NEXT;
	}
	pop3_line(s, "+OK");
	return POP3_NEXT;
}

enum pop3_ret pop3_cmd_stls(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	if (len) {
		pop3_err(s, "Syntax: STLS");
		return POP3_NEXT;
	}
	if (s->tls) {
		pop3_err(s, "TLS is already active");
		return POP3_NEXT;
	}
	pop3_ok(s, "Begin TLS negotiation");
	if (pop3_starttls(s) < 0) {
		log_error("pop3", "sess=%llu msg=\"cannot start TLS\"", (unsigned long long)s->id);
		pop3_close(s, "-ERR [SYS/TEMP] TLS failed, closing connection");
	}
	return POP3_STOP; /* whatever else was buffered is gone */
}

enum pop3_ret pop3_cmd_nonpop(struct pop3_session *s, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	log_info("pop3", "sess=%llu ip=%s msg=\"not a POP3 client\"", (unsigned long long)s->id,
		 s->ip);
	pop3_close(s, "-ERR This is a POP3 server; closing connection");
	return POP3_STOP;
}
