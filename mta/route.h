/* route.h: who a mail address is, for the SMTP server and the delivery workers.
 *
 * Hosted domains, accounts, aliases (also across domains), groups and distribution lists
 * live in directory.db (store/store.h). A local part is matched case-insensitively, with
 * sub-addressing: "user+tag@domain" is "user@domain". */
#ifndef YZ_MTA_ROUTE_H
#define YZ_MTA_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/err.h"

struct store;

enum mta_rcpt_kind {
	MTA_RCPT_BAD = 0, /* not a usable address (syntax, source route, %-hack, !-path) */
	MTA_RCPT_LOCAL,   /* a hosted domain, and someone there (account, alias, list) */
	MTA_RCPT_NOUSER,  /* a hosted domain, nobody of that name */
	MTA_RCPT_REMOTE,  /* not a hosted domain */
	MTA_RCPT_TEMPFAIL, /* the directory could not be read: ask again later, never refuse */
};

/* Classify a forward-path (without <>). The checks for relay tricks are here, so the SMTP
 * server and the API refuse the same things: quoted local parts holding '@', '%' or '!',
 * "@a,@b:user@c" source routes, "user%other@host", "host!user". */
enum mta_rcpt_kind mta_rcpt_classify(struct store *st, const char *address);

/* Mail loops (RFC 5321 section 6.3). The Received: fields in the header section of raw; and
 * is there a Delivered-To: field naming address (written by our forwarding, as Postfix's
 * local delivery does: a message that comes back to an account it was forwarded from)? */
size_t mta_hops(const char *raw, size_t len);
bool mta_delivered_to(const char *raw, size_t len, const char *address);

/* May this account send with this address in MAIL FROM / From:? Its own address, an alias
 * that points to it (with send-as allowed), or a list it may send as. */
bool mta_may_send_as(struct store *st, int64_t account_id, const char *address);

/* Local recipients of an address after aliases, groups and lists are expanded (recursively,
 * with loops cut and at most 10,000 members). Addresses outside our domains (list members,
 * forwarding) come back in remote. Arena-owned. */
struct mta_expansion {
	int64_t *accounts; /* account ids, each once */
	size_t naccounts;
	const char **remote;
	size_t nremote;
};
int mta_expand(struct store *st, const char *address, struct arena *a, struct mta_expansion *x,
	       struct err *err) YZ_WUR;

#endif
