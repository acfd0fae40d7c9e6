/* The command table, and the commands that do not touch the envelope: EHLO, HELO, RSET, NOOP,
 * QUIT, VRFY, EXPN, HELP, STARTTLS (RFC 5321 4.1.1, RFC 3207). */
#include "smtp_int.h"

#include <string.h>

#include "lib/log.h"

/* The states mask is the whole sequencing policy: a verb outside its states gets 503 from
 * smtp_cmd_bad_sequence() before its handler is called. BDAT is allowed everywhere so that
 * its chunk is always read (and refused inside): chunk bytes must never become commands. */
static const struct smtp_cmd cmds[] = {
	{.verb = "EHLO", .fn = smtp_cmd_ehlo, .states = ST_ANY},
	{.verb = "HELO", .fn = smtp_cmd_helo, .states = ST_ANY},
	{.verb = "MAIL", .fn = smtp_cmd_mail, .states = ST_READY},
	{.verb = "RCPT", .fn = smtp_cmd_rcpt, .states = ST_MAIL | ST_RCPT},
	{.verb = "DATA", .fn = smtp_cmd_data, .states = ST_MAIL | ST_RCPT},
	{.verb = "BDAT", .fn = smtp_cmd_bdat, .states = ST_ANY},
	{.verb = "RSET", .fn = smtp_cmd_rset, .states = ST_ANY},
	{.verb = "NOOP", .fn = smtp_cmd_noop, .states = ST_ANY},
	{.verb = "QUIT", .fn = smtp_cmd_quit, .states = ST_ANY},
	{.verb = "STARTTLS", .fn = smtp_cmd_starttls, .states = ST_GREET | ST_READY},
	{.verb = "AUTH", .fn = smtp_cmd_auth, .states = ST_READY},
	{.verb = "VRFY", .fn = smtp_cmd_vrfy, .states = ST_ANY},
	{.verb = "EXPN", .fn = smtp_cmd_expn, .states = ST_ANY},
	{.verb = "HELP", .fn = smtp_cmd_help, .states = ST_ANY},
	/* another protocol talking to us (a browser made to POST here, a proxy probe) */
	{.verb = "GET", .fn = smtp_cmd_nonsmtp, .states = ST_ANY, .closes = true},
	{.verb = "POST", .fn = smtp_cmd_nonsmtp, .states = ST_ANY, .closes = true},
	{.verb = "HEAD", .fn = smtp_cmd_nonsmtp, .states = ST_ANY, .closes = true},
	{.verb = "PUT", .fn = smtp_cmd_nonsmtp, .states = ST_ANY, .closes = true},
	{.verb = "CONNECT", .fn = smtp_cmd_nonsmtp, .states = ST_ANY, .closes = true},
};

const struct smtp_cmd *smtp_cmd_find(const char *verb)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].verb, verb) == 0)
			return &cmds[i];
	return NULL;
}

void smtp_cmd_bad_sequence(struct smtp_session *s, const struct smtp_cmd *c)
{
	const char *v = c->verb;
	const char *why = "Bad sequence of commands";

	if (s->state == ST_GREET)
		why = "Send EHLO or HELO first";
	else if (s->state == ST_BDAT)
		why = "A BDAT transfer is in progress";
	else if (strcmp(v, "MAIL") == 0)
		why = "Nested MAIL command";
	else if (strcmp(v, "RCPT") == 0)
		why = "Need MAIL before RCPT";
	else if (strcmp(v, "DATA") == 0)
		why = "Need RCPT before DATA";
	else if (strcmp(v, "AUTH") == 0 || strcmp(v, "STARTTLS") == 0)
		why = "Not allowed during a mail transaction";
	smtp_fail(s, "503 5.5.1 %s", why);
}

static bool greet(struct smtp_session *s, const char *arg, size_t len, const char *verb)
{
	if (!smtp_helo_ok(arg, len)) {
		smtp_fail(s, "501 5.5.4 Syntax: %s hostname", verb);
		return false;
	}
	memcpy(s->helo, arg, len);
	s->helo[len] = '\0';
	smtp_txn_reset(s); /* RFC 5321 4.1.4: EHLO/HELO also reset the transaction */
	s->state = ST_READY;
	return true;
}

enum smtp_ret smtp_cmd_ehlo(struct smtp_session *s, const char *arg, size_t len)
{
	const char *mechs;

	if (!greet(s, arg, len, "EHLO"))
		return SMTP_NEXT;
	s->esmtp = true;
	/* RFC 2034 section 3: no enhanced codes in the EHLO response */
	smtp_reply(s, "250-%s Hello %s [%s]", s->srv->lim.hostname, s->helo, s->ip);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", s->srv->lim.max_message);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	if (!s->tls)
		smtp_reply(s, "250-STARTTLS");
	mechs = smtp_auth_mechs(s);
	if (*mechs)
		smtp_reply(s, "250-AUTH %s", mechs);
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250 CHUNKING");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_helo(struct smtp_session *s, const char *arg, size_t len)
{
	if (!greet(s, arg, len, "HELO"))
		return SMTP_NEXT;
	s->esmtp = false;
	smtp_reply(s, "250 %s", s->srv->lim.hostname);
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t len)
{
	if (len) {
		smtp_fail(s, "501 5.5.4 Syntax: RSET");
		return SMTP_NEXT;
	}
	smtp_txn_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, "250 2.0.0 Ok");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_close(s, "221 2.0.0 %s Bye", s->srv->lim.hostname);
	return SMTP_STOP;
}

/* VRFY and EXPN would answer "who is here": off (RFC 5321 3.5.3 allows 252) */
enum smtp_ret smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, "252 2.0.0 Cannot VRFY user; send mail and delivery will be attempted");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_expn(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_fail(s, "502 5.5.1 EXPN is not available");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_help(struct smtp_session *s, const char *arg, size_t len)
{
	smtp_reply(s, "214 2.0.0 EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH HELP");
	return SMTP_NEXT;
}

enum smtp_ret smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t len)
{
	if (len) {
		smtp_fail(s, "501 5.5.4 Syntax: STARTTLS");
		return SMTP_NEXT;
	}
	if (s->tls) {
		smtp_fail(s, "503 5.5.1 TLS is already active");
		return SMTP_NEXT;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (smtp_starttls(s) < 0) {
		log_error("smtp", "sess=%llu msg=\"cannot start TLS\"", (unsigned long long)s->id);
		smtp_close(s, "421 4.7.0 %s TLS failed, closing connection",
			   s->srv->lim.hostname);
	}
	return SMTP_STOP; /* whatever else was buffered is gone */
}

enum smtp_ret smtp_cmd_nonsmtp(struct smtp_session *s, const char *arg, size_t len)
{
	log_info("smtp", "sess=%llu ip=%s msg=\"not an SMTP client\"", (unsigned long long)s->id,
		 s->ip);
	smtp_close(s, "421 4.7.0 %s This is an SMTP server; closing connection",
		   s->srv->lim.hostname);
	return SMTP_STOP;
}
