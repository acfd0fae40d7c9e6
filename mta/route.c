/* Who an address is (route.h). */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/utf8.h"
#include "lib/util.h"
#include "store/store.h"

#define EXPAND_MAX 10000
#define EXPAND_DEPTH 8

/* Reduce "user+tag@domain" to "user@domain" and lower-case; out >= 321. Returns false for an
 * address that is not a plain, safe addr-spec. */
static bool canonical(const char *in, char *out, size_t outsz)
{
	const char *at = strrchr(in, '@'), *plus;
	size_t n = strlen(in), local;

	if (n == 0 || n > 320 || n >= outsz || at == NULL || at == in || at[1] == '\0')
		return false;
	if (!utf8_valid(in, n))
		return false;
	/* source routes ("@a,@b:u@c"), the %-hack, UUCP bang paths, quoted local parts: all are
	 * ways to make a relay of a server that accepts them; none is a mailbox here */
	if (in[0] == '@' || in[0] == '"' || strpbrk(in, "%!:,\"\\ \t\r\n<>()[];") ||
	    memchr(in, '@', (size_t)(at - in)))
		return false;
	local = (size_t)(at - in);
	plus = memchr(in, '+', local);
	if (plus && plus > in)
		local = (size_t)(plus - in);
	memcpy(out, in, local);
	snprintf(out + local, outsz - local, "%s", at);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	/* domain labels: letters, digits, hyphens, dots; IDNs arrive as UTF-8 (SMTPUTF8) */
	for (const char *p = strrchr(out, '@') + 1; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x80 && !(c == '.' || c == '-' || (c >= '0' && c <= '9') ||
				  (c >= 'a' && c <= 'z')))
			return false;
	}
	return true;
}

enum mta_rcpt_kind mta_rcpt_classify(struct store *st, const char *address)
{
	char a[400];
	struct store_rcpt r;
	struct err err;
	bool hosted;

	if (!canonical(address, a, sizeof(a)))
		return MTA_RCPT_BAD;
	/* a failed lookup is no answer: as "not hosted" it would relay (or refuse as a relay)
	 * mail for our own domain, and as "nobody here" it would bounce it for good */
	if (store_domain_lookup(st, strrchr(a, '@') + 1, &hosted, &err) < 0)
		return MTA_RCPT_TEMPFAIL;
	if (!hosted)
		return MTA_RCPT_REMOTE;
	if (store_rcpt_lookup(st, a, &r, &err) < 0)
		return err.code == ERR_INVALID ? MTA_RCPT_BAD : MTA_RCPT_TEMPFAIL;
	if (r.kind == STORE_RCPT_NONE || r.disabled || r.is_admin)
		return MTA_RCPT_NOUSER; /* admin accounts have no mailbox */
	return MTA_RCPT_LOCAL;
}

/* Call fn for each field of raw's header section whose name is name (any case), with its
 * value (up to the end of its first line, leading blanks skipped); stop when fn says so. */
static void each_field(const char *raw, size_t len, const char *name,
		       bool (*fn)(void *ctx, const char *v, size_t n), void *ctx)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < len;) {
		const char *line = raw + i, *end = memchr(line, '\n', len - i);
		size_t n = end ? (size_t)(end - line) : len - i, k = nl;
		if (n == 0 || (n == 1 && line[0] == '\r'))
			return; /* the empty line: the body starts */
		if (n > nl && strncasecmp(line, name, nl) == 0) {
			while (k < n && (line[k] == ' ' || line[k] == '\t'))
				k++;
			if (k < n && line[k] == ':') {
				k++;
				while (k < n && (line[k] == ' ' || line[k] == '\t'))
					k++;
				if (!fn(ctx, line + k, n - k))
					return;
			}
		}
		i += n + 1;
	}
}

static bool count_one(void *ctx, const char *v, size_t n)
{
	(void)v, (void)n;
	++*(size_t *)ctx;
	return true;
}

size_t mta_hops(const char *raw, size_t len)
{
	size_t n = 0;
	each_field(raw, len, "Received", count_one, &n);
	return n;
}

struct named {
	const char *address;
	bool found;
};

static bool names_address(void *ctx, const char *v, size_t n)
{
	struct named *w = ctx;
	size_t al = strlen(w->address);
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= 2 && v[0] == '<' && v[n - 1] == '>')
		v++, n -= 2;
	w->found = n == al && strncasecmp(v, w->address, al) == 0;
	return !w->found;
}

bool mta_delivered_to(const char *raw, size_t len, const char *address)
{
	struct named w = {.address = address};
	each_field(raw, len, "Delivered-To", names_address, &w);
	return w.found;
}

bool mta_may_send_as(struct store *st, int64_t account_id, const char *address)
{
	char a[400];
	struct store_account acct;

	if (!canonical(address, a, sizeof(a)))
		return false;
	if (store_account_get_id(st, account_id, &acct, NULL) == 0) {
		char own[400];
		if (canonical(acct.address, own, sizeof(own)) && strcmp(own, a) == 0)
			return true;
	}
	return store_alias_can_send(st, a, account_id);
}

struct expand {
	struct store *st;
	struct arena *a;
	struct mta_expansion *x;
	size_t cap_acc, cap_rem, seen_n, seen_cap, total;
	const char **seen; /* lists already expanded: loops stop here */
	int depth;
	struct err *err;
};

static void add_account(struct expand *e, int64_t id)
{
	struct mta_expansion *x = e->x;
	for (size_t i = 0; i < x->naccounts; i++)
		if (x->accounts[i] == id)
			return;
	if (x->naccounts == e->cap_acc) {
		int64_t *nv;
		e->cap_acc = e->cap_acc ? e->cap_acc * 2 : 8;
		nv = arena_alloc(e->a, e->cap_acc * sizeof(*nv));
		if (x->naccounts)
			memcpy(nv, x->accounts, x->naccounts * sizeof(*nv));
		x->accounts = nv;
	}
	x->accounts[x->naccounts++] = id;
}

static void add_remote(struct expand *e, const char *addr)
{
	struct mta_expansion *x = e->x;
	for (size_t i = 0; i < x->nremote; i++)
		if (strcmp(x->remote[i], addr) == 0)
			return;
	if (x->nremote == e->cap_rem) {
		const char **nv;
		e->cap_rem = e->cap_rem ? e->cap_rem * 2 : 8;
		nv = arena_alloc(e->a, e->cap_rem * sizeof(*nv));
		if (x->nremote)
			memcpy(nv, x->remote, x->nremote * sizeof(*nv));
		x->remote = nv;
	}
	x->remote[x->nremote++] = arena_strdup(e->a, addr);
}

static int expand_one(struct expand *e, const char *address);

static int on_member(void *ctx, const char *member)
{
	struct expand *e = ctx;
	return expand_one(e, member) < 0 ? -1 : 0;
}

static int expand_one(struct expand *e, const char *address)
{
	char a[400];
	struct store_rcpt r;
	bool hosted;

	if (++e->total > EXPAND_MAX)
		return err_set(e->err, ERR_LIMIT, "more than %d recipients after expansion",
			       EXPAND_MAX);
	if (!canonical(address, a, sizeof(a)))
		return 0; /* a bad member address is skipped, not fatal for the rest */
	if (store_domain_lookup(e->st, strrchr(a, '@') + 1, &hosted, e->err) < 0)
		return -1; /* not "remote": that would send our own domain's mail away */
	if (!hosted) {
		add_remote(e, a);
		return 0;
	}
	if (store_rcpt_lookup(e->st, a, &r, e->err) < 0)
		return -1;
	switch (r.kind) {
	case STORE_RCPT_ACCOUNT:
	case STORE_RCPT_ALIAS:
		if (!r.disabled && !r.is_admin)
			add_account(e, r.id);
		return 0;
	case STORE_RCPT_LIST:
		for (size_t i = 0; i < e->seen_n; i++)
			if (strcmp(e->seen[i], a) == 0)
				return 0; /* a list that contains itself, directly or not */
		if (e->depth >= EXPAND_DEPTH)
			return 0;
		if (e->seen_n == e->seen_cap) {
			const char **nv;
			e->seen_cap = e->seen_cap ? e->seen_cap * 2 : 8;
			nv = arena_alloc(e->a, e->seen_cap * sizeof(*nv));
			if (e->seen_n)
				memcpy(nv, e->seen, e->seen_n * sizeof(*nv));
			e->seen = nv;
		}
		e->seen[e->seen_n++] = arena_strdup(e->a, a);
		e->depth++;
		if (store_list_members(e->st, a, on_member, e, e->err) < 0) {
			e->depth--;
			return -1;
		}
		e->depth--;
		return 0;
	default:
		return 0;
	}
}

int mta_expand(struct store *st, const char *address, struct arena *a, struct mta_expansion *x,
	       struct err *err)
{
	struct expand e = {.st = st, .a = a, .x = x, .err = err};
	memset(x, 0, sizeof(*x));
	return expand_one(&e, address);
}
