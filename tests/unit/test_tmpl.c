/* Unit tests for the template engine and i18n tables (web/web.h), and the real templates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/cfg.h"
#include "lib/util.h"
#include "web/web.h"

/* Render tmpl (copied to an exactly sized heap block: ASan sees over-reads). */
static int render(const char *tmpl, const struct tmpl_var *vars, size_t nvars, const struct i18n *t,
                  struct buf *out, struct err *err)
{
	size_t len = strlen(tmpl);
	char *copy = malloc(len ? len : 1);
	int ret;
	assert_non_null(copy);
	memcpy(copy, tmpl, len);
	buf_init(out, 0);
	err_clear(err);
	ret = tmpl_render(copy, len, vars, nvars, t, out, err);
	free(copy);
	return ret;
}

static struct i18n *table(const char *text)
{
	struct i18n *t;
	struct err err;
	if (i18n_parse(text, strlen(text), "t.ini", &t, &err) < 0)
		fail_msg("i18n_parse: %s", err.msg);
	return t;
}

static void test_tmpl_render_table(void **state)
{
	static const struct tmpl_var vars[] = {
	    {"name", "World"}, {"html", "&<>\"'"}, {"empty", ""},
	    {"null", NULL},    {"zh", "驿站"},     {"tag", "<script>alert('x')</script>"},
	};
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", ""},
	    {"no variables at all", "no variables at all"},
	    {"Hello {{name}}!", "Hello World!"},
	    {"{{name}}", "World"},
	    {"{{ name }}", "World"},
	    {"{{name}}{{name}}", "WorldWorld"},
	    {"[{{empty}}][{{null}}]", "[][]"},
	    {"{{html}}", "&amp;&lt;&gt;&quot;&#39;"},
	    {"<a title=\"{{tag}}\">",
	     "<a title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\">"},
	    {"{{zh}}", "驿站"},
	    {"{{t:greet}}, {{name}}", "你好 &lt;b&gt;, World"},
	    {"{{t:quoted}}", "say &quot;hi&quot; \\ bye"},
	    {"{{ t:greet }}", "你好 &lt;b&gt;"},
	    {"single { and } and }} stay", "single { and } and }} stay"},
	    {"a {{name}} b }} c", "a World b }} c"},
	};
	struct i18n *t = table("greet = 你好 <b>\nquoted = \"say \\\"hi\\\" \\\\ bye\"\n");
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf out;
		struct err err;
		if (render(cases[i].in, vars, ARRAY_LEN(vars), t, &out, &err) != 0)
			fail_msg("case %zu \"%s\": %s", i, cases[i].in, err.msg);
		assert_string_equal(buf_cstr(&out), cases[i].want);
		buf_release(&out);
	}
	i18n_free(&t);
	assert_null(t);
}

static void test_tmpl_render_errors(void **state)
{
	static const struct tmpl_var vars[] = {{"name", "World"}};
	static const struct {
		const char *in, *msg;
		enum err_code code;
	} cases[] = {
	    {"{{nope}}", "template names unknown 'nope'", ERR_INVALID},
	    {"Hello {{Name}}", "template names unknown 'Name'", ERR_INVALID},
	    {"{{names}}", "template names unknown 'names'", ERR_INVALID},
	    {"{{}}", "template names unknown ''", ERR_INVALID},
	    {"{{t:nope}}", "template names unknown 't:nope'", ERR_INVALID},
	    {"{{t:}}", "template names unknown 't:'", ERR_INVALID},
	    {"Hello {{name", "unclosed {{ in template", ERR_INVALID},
	    {"Hello {{name}", "unclosed {{ in template", ERR_INVALID},
	    {"{{name}} and {{", "unclosed {{ in template", ERR_INVALID},
	};
	struct i18n *t = table("greet = hi\n");
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf out;
		struct err err;
		if (render(cases[i].in, vars, ARRAY_LEN(vars), t, &out, &err) != -1)
			fail_msg("case %zu \"%s\" rendered \"%s\"", i, cases[i].in, buf_cstr(&out));
		assert_string_equal(err.msg, cases[i].msg);
		assert_int_equal(err.code, cases[i].code);
		buf_release(&out);
	}
	/* without a table, every {{t:...}} is unknown */
	{
		struct buf out;
		struct err err;
		assert_int_equal(render("{{t:greet}}", vars, 1, NULL, &out, &err), -1);
		buf_release(&out);
	}
	/* a page over the buffer's limit */
	{
		struct buf out;
		struct err err;
		buf_init(&out, 8);
		assert_int_equal(tmpl_render("{{name}} {{name}}", 17, vars, 1, t, &out, &err), -1);
		assert_int_equal(err.code, ERR_LIMIT);
		buf_release(&out);
	}
	i18n_free(&t);
}

static void test_i18n_parse(void **state)
{
	struct i18n *t;
	struct err err;
	(void)state;

	t = table("# comment\na = one\nb.c_d = \"two \\\"2\\\"\"\n\nempty =\n");
	assert_string_equal(i18n_get(t, "a"), "one");
	assert_string_equal(i18n_get(t, "b.c_d"), "two \"2\"");
	assert_string_equal(i18n_get(t, "empty"), "");
	assert_null(i18n_get(t, "A"));
	assert_null(i18n_get(t, "missing"));
	assert_null(i18n_get(NULL, "a"));
	i18n_free(&t);

	t = (struct i18n *)0x1; /* must be left alone on failure */
	assert_int_equal(i18n_parse("a = 1\na = 2\n", 12, "t.ini", &t, &err), -1);
	assert_string_equal(err.msg, "t.ini:2: key 'a' defined twice");
	assert_ptr_equal(t, (struct i18n *)0x1);
	assert_int_equal(i18n_parse("a = 1\n[s]\nb = 2\n", 16, "t.ini", &t, &err), -1);
	assert_string_equal(err.msg, "t.ini:3: i18n files have no sections");
	assert_int_equal(i18n_parse("a = 1\nbad\n", 10, "t.ini", &t, &err), -1);
	assert_string_equal(err.msg, "t.ini:2: expected 'key = value'");
	i18n_free(&(struct i18n *){NULL}); /* freeing NULL is a no-op */
}

/* ---- the real templates ---- */

static char *slurp(const char *rel, size_t *len_r)
{
	char path[1024];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/%s", YZ_SOURCE_DIR, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return data;
}

static struct i18n *load_lang(const char *lang)
{
	char rel[64];
	size_t len;
	char *text;
	struct i18n *t;
	struct err err;

	snprintf(rel, sizeof(rel), "templates/i18n/%s.ini", lang);
	text = slurp(rel, &len);
	if (i18n_parse(text, len, rel, &t, &err) < 0)
		fail_msg("%s", err.msg);
	free(text);
	return t;
}

static int collect_key(void *ctx, const char *section, const char *key, const char *value,
                       struct err *err)
{
	struct buf *b = ctx;
	(void)section, (void)value, (void)err;
	return buf_printf(b, "%s\n", key) < 0 ? -1 : 0;
}

/* The keys of an i18n file, one per line, in file order. */
static char *keys_of(const char *lang)
{
	char rel[64];
	size_t len;
	char *text;
	struct buf b;
	struct err err;

	snprintf(rel, sizeof(rel), "templates/i18n/%s.ini", lang);
	text = slurp(rel, &len);
	buf_init(&b, 0);
	assert_int_equal(cfg_parse(text, len, rel, collect_key, &b, &err), 0);
	free(text);
	return buf_take(&b);
}

static void test_i18n_files_same_keys(void **state)
{
	static const char *const langs[2] = {"zh-CN", "en"};
	struct i18n *t[2] = {load_lang("zh-CN"), load_lang("en")};
	size_t count[2] = {0, 0};
	(void)state;

	for (int l = 0; l < 2; l++) {
		char *keys = keys_of(langs[l]), *save = NULL;
		for (char *k = strtok_r(keys, "\n", &save); k; k = strtok_r(NULL, "\n", &save)) {
			count[l]++;
			if (i18n_get(t[1 - l], k) == NULL)
				fail_msg("key '%s' of %s.ini is missing from %s.ini", k, langs[l],
				         langs[1 - l]);
			assert_true(i18n_get(t[l], k)[0] != '\0');
		}
		free(keys);
	}
	assert_int_equal(count[0], count[1]);
	assert_true(count[0] > 10);
	assert_non_null(i18n_get(t[0], "brand.default"));
	assert_string_not_equal(i18n_get(t[0], "login.title"), i18n_get(t[1], "login.title"));
	i18n_free(&t[0]);
	i18n_free(&t[1]);
}

/* Render a real page with hostile-looking values: it must succeed, leave no "{{", and show
 * every value only in escaped form. */
static void render_page(const char *rel, const struct tmpl_var *vars, size_t nvars,
                        const struct i18n *t)
{
	size_t len;
	char *tmpl = slurp(rel, &len);
	struct buf out;
	struct err err;

	buf_init(&out, 0);
	if (tmpl_render(tmpl, len, vars, nvars, t, &out, &err) < 0)
		fail_msg("%s: %s", rel, err.msg);
	assert_null(strstr(buf_cstr(&out), "{{"));
	assert_null(strstr(buf_cstr(&out), "<evil>"));
	assert_null(strstr(buf_cstr(&out), "\"quoted\""));
	assert_non_null(strstr(buf_cstr(&out), "&lt;evil&gt;"));
	assert_true(out.len > len / 2);
	buf_release(&out);
	free(tmpl);
}

/* Each variable the server passes is used: dropping any one makes the render fail. */
static void need_every_var(const char *rel, const struct tmpl_var *vars, size_t nvars,
                           const struct i18n *t)
{
	size_t len;
	char *tmpl = slurp(rel, &len);
	for (size_t drop = 0; drop < nvars; drop++) {
		struct tmpl_var fewer[16];
		size_t n = 0;
		struct buf out;
		struct err err;
		assert_true(nvars <= ARRAY_LEN(fewer));
		for (size_t k = 0; k < nvars; k++)
			if (k != drop)
				fewer[n++] = vars[k];
		buf_init(&out, 0);
		if (tmpl_render(tmpl, len, fewer, n, t, &out, &err) == 0)
			fail_msg("%s rendered without '%s'", rel, vars[drop].name);
		buf_release(&out);
	}
	free(tmpl);
}

static void test_real_templates_render(void **state)
{
	static const char *const langs[] = {"zh-CN", "en"};
	(void)state;
	for (size_t l = 0; l < ARRAY_LEN(langs); l++) {
		struct i18n *t = load_lang(langs[l]);
		const struct tmpl_var login[] = {
		    {"lang", langs[l]},
		    {"other_lang_href", l ? "/login?lang=zh-CN" : "/login?lang=en"},
		    {"domain", "example.com"},
		    {"brand_name", "Brand <evil> & \"quoted\""},
		    {"logo_url", "/brand/logo?d=example.com&x=<evil>"},
		};
		const struct tmpl_var app[] = {
		    {"lang", langs[l]},
		    {"view", "mail"},
		    {"name", "Ann <evil> O'Neil \"quoted\""},
		    {"address", "ann@example.com"},
		    {"role", "user"},
		    {"csrf", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		    {"domain", "example.com"},
		};
		render_page("templates/login.html", login, ARRAY_LEN(login), t);
		render_page("templates/app.html", app, ARRAY_LEN(app), t);
		need_every_var("templates/login.html", login, ARRAY_LEN(login), t);
		need_every_var("templates/app.html", app, ARRAY_LEN(app), t);
		i18n_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tmpl_render_table),
	    cmocka_unit_test(test_tmpl_render_errors),
	    cmocka_unit_test(test_i18n_parse),
	    cmocka_unit_test(test_i18n_files_same_keys),
	    cmocka_unit_test(test_real_templates_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
