/* Mail authentication: the handle, message splitting, the RFC 5322 From domain, the verdict and
 * the Authentication-Results header (RFC 8601). SPF, DKIM and DMARC proper are in
 * mailauth_spf.c, mailauth_dkim.c and mailauth_dmarc.c. */
#include "mailauth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

static const char *const result_names[] = {
    [MA_NONE] = "none",           [MA_PASS] = "pass",       [MA_FAIL] = "fail",
    [MA_SOFTFAIL] = "softfail",   [MA_NEUTRAL] = "neutral", [MA_TEMPERROR] = "temperror",
    [MA_PERMERROR] = "permerror", [MA_POLICY] = "policy",
};

const char *mailauth_result_name(enum mailauth_result r)
{
	if ((unsigned)r >= ARRAY_LEN(result_names))
		return "permerror";
	return result_names[r];
}

/* An authserv-id is a value (RFC 8601 2.2): we take host-name characters only. */
static bool is_hostish(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return false;
	return true;
}

int mailauth_new(const struct mailauth_opts *o, struct dns_resolver *dns, struct mailauth **ma_r,
                 struct err *err)
{
	struct mailauth *ma;

	if (o == NULL || dns == NULL)
		return err_set(err, ERR_INVALID, "mailauth: no options or no resolver");
	if (o->authserv_id && !is_hostish(o->authserv_id))
		return err_set(err, ERR_INVALID, "mailauth: authserv-id '%s' is not a host name",
		               o->authserv_id);
	ma = xcalloc(1, sizeof(*ma));
	ma->authserv_id = xstrdup(o->authserv_id ? o->authserv_id : "localhost");
	ma->psl_path = o->psl_path ? xstrdup(o->psl_path) : NULL;
	ma->dmarc_reject = o->dmarc_reject;
	ma->dmarc_quarantine = o->dmarc_quarantine;
	ma->spf_fail = o->spf_fail;
	ma->dns = dns;
	if (ma_dmarc_init(ma, err) < 0 || ma_spf_init(ma, err) < 0 || ma_dkim_init(ma, err) < 0) {
		mailauth_free(&ma);
		return -1;
	}
	*ma_r = ma;
	return 0;
}

void mailauth_free(struct mailauth **map)
{
	struct mailauth *ma = *map;

	if (ma == NULL)
		return;
	ma_dkim_release(ma);
	ma_spf_release(ma);
	ma_dmarc_release(ma);
	free(ma->authserv_id);
	free(ma->psl_path);
	free(ma);
	*map = NULL;
}

char *ma_lower(struct arena *a, const char *s, size_t len)
{
	char *o = arena_strndup(a, s, len);

	for (char *p = o; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return o;
}

bool ma_domain_valid(const char *d, size_t len)
{
	size_t label = 0, labels = 1;

	if (len > 0 && d[len - 1] == '.')
		len--; /* a root dot is allowed */
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c >= 0x80))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && labels >= 2;
}

/* Header and body (RFC 5322 2.1, 2.2): fields until the first empty line; a line that is
 * neither a field nor a fold also ends the header (the rest is body). */
void ma_msg_parse(const char *msg, size_t len, struct arena *a, struct ma_msg *m)
{
	size_t i = 0, cap = 32;

	memset(m, 0, sizeof(*m));
	m->h = arena_alloc(a, cap * sizeof(*m->h));
	while (i < len) {
		const char *line = msg + i, *colon, *eol;
		size_t start = i, n, nlen;
		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
			i += msg[i] == '\r' ? 2 : 1;
			m->body = msg + i;
			m->body_len = len - i;
			return;
		}
		eol = memchr(line, '\n', len - i);
		n = eol ? (size_t)(eol - line) : len - i;
		colon = memchr(line, ':', n);
		if (colon == NULL || colon == line || *line == ' ' || *line == '\t') {
			m->body = line;
			m->body_len = len - i;
			return;
		}
		/* the field runs on over continuation lines (starting with WSP) */
		i = eol ? (size_t)(eol - msg) + 1 : len;
		while (i < len && (msg[i] == ' ' || msg[i] == '\t')) {
			eol = memchr(msg + i, '\n', len - i);
			i = eol ? (size_t)(eol - msg) + 1 : len;
		}
		if (m->nh == MA_MAX_HEADERS) {
			m->too_many = true;
			continue;
		}
		if (m->nh == cap) {
			struct ma_hdr *nv = arena_alloc(a, 2 * cap * sizeof(*nv));
			memcpy(nv, m->h, cap * sizeof(*nv));
			m->h = nv;
			cap *= 2;
		}
		n = i - start;
		if (n > 0 && msg[start + n - 1] == '\n')
			n--;
		if (n > 0 && msg[start + n - 1] == '\r')
			n--;
		nlen = (size_t)(colon - line);
		while (nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'))
			nlen--; /* "From :" (RFC 5322 4.5.8, obsolete syntax) is a From field too */
		m->h[m->nh++] = (struct ma_hdr){
		    .name = line,
		    .name_len = nlen,
		    .raw = line,
		    .raw_len = n,
		};
	}
}

char *ma_hdr_crlf(const struct ma_hdr *h, struct arena *a, size_t *len_r)
{
	char *out = arena_alloc(a, 2 * h->raw_len + 1), *o = out;

	for (size_t i = 0; i < h->raw_len; i++) {
		if (h->raw[i] == '\n' && (i == 0 || h->raw[i - 1] != '\r'))
			*o++ = '\r';
		*o++ = h->raw[i];
	}
	*o = '\0';
	*len_r = (size_t)(o - out);
	return out;
}

/* The value of a field, folds removed, comments (RFC 5322 3.2.2) blanked. */
static char *field_value(const struct ma_hdr *h, struct arena *a)
{
	const char *v = memchr(h->raw, ':', h->raw_len) + 1;
	size_t n = h->raw_len - (size_t)(v - h->raw);
	char *out = arena_alloc(a, n + 1), *o = out;
	int depth = 0;
	bool quoted = false;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\' && i + 1 < n && (quoted || depth > 0)) {
			if (depth == 0) {
				*o++ = c;
				*o++ = v[i + 1];
			}
			i++;
			continue;
		}
		if (!quoted && c == '(') {
			depth++;
			continue;
		}
		if (!quoted && depth > 0 && c == ')') {
			depth--;
			*o++ = ' ';
			continue;
		}
		if (depth > 0)
			continue;
		if (c == '"')
			quoted = !quoted;
		*o++ = c;
	}
	*o = '\0';
	return out;
}

/* The domain of one mailbox ("name <a@b>" or "a@b"; angle: its '<', or NULL), or NULL. */
static const char *mailbox_domain(const char *s, size_t n, const char *angle, struct arena *a)
{
	const char *end = s + n, *at = NULL;

	if (angle) {
		const char *close;
		s = angle + 1;
		close = memchr(s, '>', (size_t)(end - s));
		if (close)
			end = close;
	}
	for (const char *p = s; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return NULL;
	at++;
	while (at < end && (*at == ' ' || *at == '\t'))
		at++;
	while (end > at && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (!ma_domain_valid(at, (size_t)(end - at)))
		return NULL;
	if (end[-1] == '.')
		end--;
	return ma_lower(a, at, (size_t)(end - at));
}

enum from_state { FROM_OK, FROM_ABSENT, FROM_BAD };

/* The domains of one From field, all into *domain (which must agree). */
static enum from_state field_domains(const struct ma_hdr *h, struct arena *a, const char **domain)
{
	char *v = field_value(h, a);
	size_t start = 0;
	bool quoted = false, in_angle = false;
	const char *angle = NULL;

	for (size_t i = 0;; i++) {
		char c = v[i];
		if (c == '\\' && quoted && v[i + 1]) {
			i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		if (quoted && c != '\0')
			continue;
		if (c == '<' && !in_angle) {
			in_angle = true;
			angle = v + i;
		} else if (c == '>')
			in_angle = false;
		if (c == ':' && !in_angle) {
			/* a group's display name ends at ':' (RFC 5322 3.4) */
			start = i + 1;
			angle = NULL;
			continue;
		}
		if (c == '\0' || ((c == ',' || c == ';') && !in_angle)) {
			size_t n = i - start;
			if (strspn(v + start, " \t") < n) {
				const char *d = mailbox_domain(v + start, n, angle, a);
				if (d == NULL || (*domain && strcmp(d, *domain) != 0))
					return FROM_BAD;
				*domain = d;
			}
			start = i + 1;
			angle = NULL;
			if (c == '\0')
				return FROM_OK;
		}
	}
}

/* RFC 7489 6.6.1: the RFC5322.From domain. Several From fields or mailboxes are accepted when
 * they share one domain; differing domains or an unusable address give FROM_BAD (permerror:
 * a receiver cannot tell which one the reader will see). */
static enum from_state from_domain(const struct ma_msg *m, struct arena *a, const char **domain_r)
{
	const char *domain = NULL;
	bool seen = false;

	for (size_t i = 0; i < m->nh; i++) {
		if (m->h[i].name_len != 4 || strncasecmp(m->h[i].name, "From", 4) != 0)
			continue;
		seen = true;
		if (field_domains(&m->h[i], a, &domain) != FROM_OK)
			return FROM_BAD;
	}
	if (!seen)
		return FROM_ABSENT;
	if (domain == NULL)
		return FROM_BAD;
	*domain_r = domain;
	return FROM_OK;
}

/* What may stand in a header as an RFC 8601 pvalue without quoting. */
static bool safe_value(const char *s, bool addr)
{
	if (s == NULL || *s == '\0' || strlen(s) > 254)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_')
			continue;
		if (addr && c < 0x80 && strchr("!#$%&'*+/=?^`{|}~@", c))
			continue;
		return false;
	}
	return true;
}

struct ar {
	struct arena *a;
	char *buf;
	size_t len, cap, line; /* line: length of the current physical line */
};

static void ar_put(struct ar *ar, const char *s)
{
	size_t n = strlen(s);

	if (ar->len + n + 1 > ar->cap) {
		size_t cap = 2 * (ar->len + n + 1);
		char *nb = arena_alloc(ar->a, cap);
		if (ar->len)
			memcpy(nb, ar->buf, ar->len);
		ar->buf = nb;
		ar->cap = cap;
	}
	memcpy(ar->buf + ar->len, s, n + 1);
	ar->len += n;
	ar->line += n;
}

/* One resinfo, after "; " or, past the RFC 5322 line limit, after a fold. */
static void ar_resinfo(struct ar *ar, const char *ri)
{
	ar_put(ar, ";");
	if (ar->line + 1 + strlen(ri) > 996) {
		ar_put(ar, "\r\n\t");
		ar->line = 1;
	} else
		ar_put(ar, " ");
	ar_put(ar, ri);
}

static const char *ar_header(struct mailauth *ma, const struct mailauth_verdict *v,
                             const char *helo, const char *mail_from,
                             const struct ma_dkim_sig *sigs, size_t nsigs, struct arena *a)
{
	struct ar ar = {.a = a};
	const char *ri, *from = mail_from ? mail_from : "";

	while (*from == '<' || *from == ' ')
		from++;
	ar_put(&ar, "Authentication-Results: ");
	ar_put(&ar, ma->authserv_id);
	/* spf: the MAIL FROM address (or its domain when it would need quoting), or HELO */
	ri = arena_printf(a, "spf=%s", mailauth_result_name(v->spf));
	if (*from && *from != '>') {
		char *path = arena_strndup(a, from, strcspn(from, ">"));
		if (safe_value(path, true))
			ri = arena_printf(a, "%s smtp.mailfrom=%s", ri, path);
		else if (safe_value(v->spf_domain, false))
			ri = arena_printf(a, "%s smtp.mailfrom=%s", ri, v->spf_domain);
	} else if (safe_value(helo, false))
		ri = arena_printf(a, "%s smtp.helo=%s", ri, helo);
	ar_resinfo(&ar, ri);
	if (nsigs == 0)
		ar_resinfo(&ar, "dkim=none");
	for (size_t i = 0; i < nsigs; i++) {
		ri = arena_printf(a, "dkim=%s", mailauth_result_name(sigs[i].r));
		if (safe_value(sigs[i].domain, false))
			ri = arena_printf(a, "%s header.d=%s", ri, sigs[i].domain);
		if (safe_value(sigs[i].selector, false))
			ri = arena_printf(a, "%s header.s=%s", ri, sigs[i].selector);
		ar_resinfo(&ar, ri);
	}
	ri = arena_printf(a, "dmarc=%s", mailauth_result_name(v->dmarc));
	if (safe_value(v->from_domain, false))
		ri = arena_printf(a, "%s header.from=%s", ri, v->from_domain);
	ar_resinfo(&ar, ri);
	ar_put(&ar, "\r\n");
	return ar.buf;
}

/* The message's DKIM result: pass if any signature passed, else the most telling failure. */
static enum mailauth_result dkim_overall(const struct ma_dkim_sig *sigs, size_t n)
{
	static const enum mailauth_result order[] = {MA_PASS, MA_FAIL, MA_POLICY, MA_TEMPERROR,
	                                             MA_PERMERROR};

	if (n == 0)
		return MA_NONE;
	for (size_t k = 0; k < ARRAY_LEN(order); k++)
		for (size_t i = 0; i < n; i++)
			if (sigs[i].r == order[k])
				return order[k];
	return MA_PERMERROR;
}

/* The policy -> action mapping of mailauth_opts. */
static void decide(struct mailauth *ma, const struct ma_dmarc_out *d, struct mailauth_verdict *v,
                   struct arena *a)
{
	v->action = MAILAUTH_TAG;
	v->reason = NULL;
	if (d->r == MA_FAIL && d->policy == MA_P_REJECT) {
		v->action = ma->dmarc_reject;
		v->reason = arena_printf(a, "DMARC policy of %s says reject", d->policy_domain);
	} else if (d->r == MA_FAIL && d->policy == MA_P_QUARANTINE) {
		v->action = ma->dmarc_quarantine;
		v->reason = arena_printf(a, "DMARC policy of %s says quarantine", d->policy_domain);
	} else if (d->r != MA_PASS && v->spf == MA_FAIL) {
		/* no DMARC verdict that says otherwise (none, error, or p=none) */
		v->action = ma->spf_fail;
		v->reason = arena_printf(a, "SPF of %s does not allow this host",
		                         v->spf_domain ? v->spf_domain : "the sender");
	}
	if (v->action == MAILAUTH_TAG)
		v->reason = NULL;
}

int mailauth_spf(struct mailauth *ma, const char *client_ip, const char *helo,
                 const char *mail_from, enum mailauth_result *r, struct err *err)
{
	struct arena *a;
	const char *domain;
	int ret;

	if (ma == NULL || r == NULL)
		return err_set(err, ERR_INVALID, "mailauth_spf: missing argument");
	a = arena_new();
	ret = ma_spf_check(ma, client_ip, helo, mail_from, a, r, &domain, err);
	arena_free(&a);
	return ret;
}

int mailauth_check(struct mailauth *ma, const char *client_ip, const char *helo,
                   const char *mail_from, enum mailauth_result spf, const char *msg, size_t len,
                   struct arena *a, struct mailauth_verdict *v, struct err *err)
{
	struct mailauth_verdict out = {0};
	struct ma_msg m;
	struct ma_dkim_sig *sigs;
	struct ma_dmarc_out d = {.r = MA_NONE};
	size_t nsigs;
	enum from_state fs;

	if (ma == NULL || (msg == NULL && len > 0) || a == NULL || v == NULL)
		return err_set(err, ERR_INVALID, "mailauth_check: missing argument");
	out.spf_domain = ma_spf_identity(helo, mail_from, a);
	out.spf = spf;
	if (spf == MA_NONE && client_ip != NULL &&
	    ma_spf_check(ma, client_ip, helo, mail_from, a, &out.spf, &out.spf_domain, err) < 0)
		return -1;
	ma_msg_parse(msg ? msg : "", len, a, &m);
	ma_dkim_verify(ma, &m, a, &sigs, &nsigs);
	out.dkim = dkim_overall(sigs, nsigs);
	fs = from_domain(&m, a, &out.from_domain);
	if (fs == FROM_OK) {
		struct ma_dmarc_in in = {
		    .client_ip = client_ip,
		    .from_domain = out.from_domain,
		    .spf = out.spf,
		    .spf_domain = out.spf_domain,
		    .sigs = sigs,
		    .nsigs = nsigs,
		};
		ma_dmarc_eval(ma, &in, a, &d);
	} else if (fs == FROM_BAD)
		d.r = MA_PERMERROR;
	out.dmarc = d.r;
	/* the signature that counts: the aligned one, else the first that passed, else the first */
	out.dkim_domain = d.dkim_domain;
	for (size_t i = 0; i < nsigs && out.dkim_domain == NULL; i++)
		if (sigs[i].r == MA_PASS)
			out.dkim_domain = sigs[i].domain;
	if (out.dkim_domain == NULL && nsigs > 0)
		out.dkim_domain = sigs[0].domain;
	decide(ma, &d, &out, a);
	out.header = ar_header(ma, &out, helo, mail_from, sigs, nsigs, a);
	*v = out;
	return 0;
}
