/* A deliberately tiny template engine: substitution only, always escaped. */
#include <stdlib.h>
#include <string.h>

#include "lib/cfg.h"
#include "lib/util.h"
#include "web.h"

#define I18N_MAX 2000

struct i18n {
	size_t n;
	struct {
		char *key, *value;
	} e[I18N_MAX];
};

static int on_i18n(void *ctx, const char *section, const char *key, const char *value,
		   struct err *err)
{
	struct i18n *t = ctx;
	if (*section)
		return err_set(err, ERR_INVALID, "i18n files have no sections");
	if (t->n == I18N_MAX)
		return err_set(err, ERR_LIMIT, "more than %d strings", I18N_MAX);
	if (i18n_get(t, key))
		return err_set(err, ERR_INVALID, "key '%s' defined twice", key);
	t->e[t->n].key = xstrdup(key);
	t->e[t->n].value = xstrdup(value);
	t->n++;
	return 0;
}

int i18n_parse(const char *text, size_t len, const char *fname, struct i18n **t_r,
	       struct err *err)
{
	struct i18n *t = xcalloc(1, sizeof(*t));
	if (cfg_parse(text, len, fname, on_i18n, t, err) < 0) {
		i18n_free(&t);
		return -1;
	}
	*t_r = t;
	return 0;
}

void i18n_free(struct i18n **tp)
{
	struct i18n *t = *tp;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].key);
		free(t->e[i].value);
	}
	free(t);
	*tp = NULL;
}

const char *i18n_get(const struct i18n *t, const char *key)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (strcmp(t->e[i].key, key) == 0)
			return t->e[i].value;
	return NULL;
}

static const char *lookup(const char *name, size_t n, const struct tmpl_var *vars, size_t nvars,
			  const struct i18n *t)
{
	char key[128];
	if (n >= sizeof(key))
		return NULL;
	if (n > 2 && name[0] == 't' && name[1] == ':') {
		memcpy(key, name + 2, n - 2);
		key[n - 2] = '\0';
		return i18n_get(t, key);
	}
	for (size_t i = 0; i < nvars; i++)
		if (strlen(vars[i].name) == n && memcmp(vars[i].name, name, n) == 0)
			return vars[i].value ? vars[i].value : "";
	return NULL;
}

int tmpl_render(const char *tmpl, size_t len, const struct tmpl_var *vars, size_t nvars,
		const struct i18n *t, struct buf *out, struct err *err)
{
	const char *p = tmpl, *end = tmpl + len;

	while (p < end) {
		const char *open = memmem(p, (size_t)(end - p), "{{", 2), *close, *name, *v;
		size_t n;
		if (open == NULL) {
			if (buf_append(out, p, (size_t)(end - p)) < 0)
				goto limit;
			break;
		}
		if (buf_append(out, p, (size_t)(open - p)) < 0)
			goto limit;
		close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		if (close == NULL)
			return err_set(err, ERR_INVALID, "unclosed {{ in template");
		name = open + 2;
		while (name < close && *name == ' ')
			name++;
		n = (size_t)(close - name);
		while (n > 0 && name[n - 1] == ' ')
			n--;
		v = lookup(name, n, vars, nvars, t);
		if (v == NULL)
			return err_set(err, ERR_INVALID, "template names unknown '%.*s'", (int)(n > 60 ? 60 : n),
				       name);
		if (buf_html_str(out, v, strlen(v)) < 0)
			goto limit;
		p = close + 2;
	}
	return 0;
limit:
	return err_set(err, ERR_LIMIT, "rendered page over its size limit");
}
