/* Shared helpers of the store/mime.h unit tests (mime_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/util.h"
#include "mime_fixture.h"
#include "unit_util.h"

char *slurp(const char *rel, size_t *n)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", DATA, rel);
	return read_whole(path, n);
}

/* A copy in a block of exactly n bytes, so ASan sees any read past the message. */
char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* LF line ends, or CRLF ones (from either). */
char *line_ends(const char *s, size_t n, bool crlf, size_t *out_n)
{
	char *c = malloc(2 * n + 1);
	size_t o = 0;

	assert_non_null(c);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (s[i] == '\n' && crlf)
			c[o++] = '\r';
		c[o++] = s[i];
	}
	*out_n = o;
	return c;
}

struct mime_limits deflim(void)
{
	struct mime_limits l;
	mime_limits_default(&l);
	return l;
}

struct mime_msg *parse_ok(const char *raw, size_t n, struct arena *a)
{
	struct mime_limits lim = deflim();
	struct mime_msg *m = NULL;
	struct err e = {0};
	if (mime_parse(raw, n, &lim, a, &m, &e) != 0)
		fail_msg("mime_parse: %s", e.msg);
	return m;
}

struct mime_msg *parse_str(const char *s, struct arena *a)
{
	return parse_ok(s, strlen(s), a);
}


/* "type/subtype(child,child)" for the subtree at idx. */
static void tree_at(const struct mime_msg *m, size_t idx, char *out, size_t cap)
{
	bool first = true;
	snprintf(out + strlen(out), cap - strlen(out), "%s/%s", m->parts[idx].type,
	         m->parts[idx].subtype);
	for (size_t i = idx + 1; i < m->nparts; i++) {
		if (m->parts[i].parent != (int)idx)
			continue;
		snprintf(out + strlen(out), cap - strlen(out), "%s", first ? "(" : ",");
		first = false;
		tree_at(m, i, out, cap);
	}
	if (!first)
		snprintf(out + strlen(out), cap - strlen(out), ")");
}

const char *tree(const struct mime_msg *m, struct arena *a)
{
	char *b = arena_alloc(a, 8192);
	tree_at(m, 0, b, 8192);
	return b;
}

const char *addrs(const struct mime_addr_list *l, struct arena *a)
{
	char *b = arena_alloc(a, 4096);
	for (size_t i = 0; i < l->n; i++)
		snprintf(b + strlen(b), 4096 - strlen(b), "%s%s%s%s <%s>", i ? ", " : "",
		         l->v[i].group ? l->v[i].group : "", l->v[i].group ? ": " : "",
		         l->v[i].name, l->v[i].address);
	/* names only when there is no address: "Name <>" reads as the name */
	return b;
}

const char *attachments(const struct mime_msg *m, struct arena *a)
{
	char *b = arena_alloc(a, 4096);
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].is_attachment)
			snprintf(b + strlen(b), 4096 - strlen(b), "%s%s", *b ? "|" : "",
			         m->parts[i].filename ? m->parts[i].filename : "-");
	return b;
}

static bool valid(const char *s)
{
	return s == NULL || utf8_valid(s, strlen(s));
}

/* What every parse result must satisfy, whatever the input. */
void check_invariants(const char *raw, size_t n, const struct mime_msg *m, struct arena *a)
{
	assert_true(m->nparts >= 1);
	assert_string_equal(m->parts[0].section, "");
	assert_int_equal(m->parts[0].parent, -1);
	assert_true(utf8_valid(m->subject, strlen(m->subject)));
	assert_true(utf8_valid(m->text, m->text_len) && strlen(m->text) == m->text_len);
	assert_true(m->html == NULL || utf8_valid(m->html, m->html_len));
	assert_true(utf8_valid(m->attach_text, m->attach_text_len));
	assert_true(m->header_len == m->parts[0].body_off);
	const struct mime_addr_list *ls[] = {&m->from, &m->sender, &m->reply_to,
	                                     &m->to,   &m->cc,     &m->bcc};
	for (size_t k = 0; k < ARRAY_LEN(ls); k++)
		for (size_t i = 0; i < ls[k]->n; i++)
			assert_true(valid(ls[k]->v[i].name) && valid(ls[k]->v[i].address) &&
			            valid(ls[k]->v[i].group));
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		assert_true(p->header_off <= p->body_off && p->body_off <= p->end_off &&
		            p->end_off <= n);
		assert_true(valid(p->filename) && valid(p->description) && valid(p->content_id));
		assert_true(valid(p->charset) && valid(p->boundary));
		assert_false(p->is_body && p->is_attachment);
		if (i > 0) {
			const struct mime_part *par = &m->parts[p->parent];
			assert_true(p->parent >= 0 && (size_t)p->parent < i);
			assert_int_equal(p->depth, par->depth + 1);
			assert_true(p->header_off >= par->body_off && p->end_off <= par->end_off);
			assert_true(strcmp(par->type, "multipart") == 0 ||
			            strcmp(par->type, "message") == 0);
		}
		if (strcmp(p->type, "multipart") != 0) {
			const char *d;
			size_t dl;
			struct err e = {0};
			assert_int_equal(mime_part_content(raw, n, m, p->section, a, &d, &dl, &e),
			                 0);
			if (mime_part_find(m, p->section) == (int)i)
				assert_int_equal(dl, p->decoded_size);
		}
	}
	(void)a;
}

void gen_add(struct gen *g, const char *s)
{
	size_t l = strlen(s);
	if (g->n + l + 1 > g->cap) {
		g->cap = (g->n + l + 1) * 2;
		g->p = realloc(g->p, g->cap);
		assert_non_null(g->p);
	}
	memcpy(g->p + g->n, s, l + 1);
	g->n += l;
}
