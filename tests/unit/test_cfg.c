/* Unit tests for lib/cfg.h (the INI tokenizer) and lib/config.h (yizhan.conf). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cfg.h"
#include "lib/config.h"
#include "lib/util.h"

/* ---- the tokenizer ---- */

struct collect {
	struct buf out; /* "section|key|value\n" per call */
	int fail_at;    /* fail on this call number (1-based), 0 = never */
	int calls;
};

static int on_key(void *ctx, const char *section, const char *key, const char *value,
                  struct err *err)
{
	struct collect *c = ctx;
	c->calls++;
	if (c->fail_at == c->calls)
		return err_set(err, ERR_DENIED, "refused '%s'", key);
	if (buf_printf(&c->out, "%s|%s|%s\n", section, key, value) < 0)
		return err_set(err, ERR_LIMIT, "collector full");
	return 0;
}

/* Parse text (len bytes, copied into an exactly sized heap block so ASan sees over-reads). */
static int parse(const char *text, size_t len, struct collect *c, struct err *err)
{
	char *copy = malloc(len ? len : 1);
	int ret;
	assert_non_null(copy);
	memcpy(copy, text, len);
	buf_init(&c->out, 0);
	c->calls = 0;
	err_clear(err);
	ret = cfg_parse(copy, len, "t.conf", on_key, c, err);
	free(copy);
	return ret;
}

static void test_cfg_valid(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", ""},
	    {"a = 1\n", "|a|1\n"},
	    {"a=1", "|a|1\n"},
	    {"[s]\nk=v\n", "s|k|v\n"},
	    {"[s]\nk=v\n[t]\nk=w\nj = x\n", "s|k|v\nt|k|w\nt|j|x\n"},
	    {"# comment\n; also\n  # indented\n\t; tab\nk = v", "|k|v\n"},
	    {"k = \"a \\\"b\\\" \\\\ c\"\n", "|k|a \"b\" \\ c\n"},
	    {"k = \"  spaced  \"\n", "|k|  spaced  \n"},
	    {"k = \"\"\n", "|k|\n"},
	    {"k = \"a = b # c\"\n", "|k|a = b # c\n"},
	    {"\xEF\xBB\xBFk=v\n", "|k|v\n"},
	    {"\xEF\xBB\xBF[s]\r\nk = v\r\n", "s|k|v\n"},
	    {"[s]\r\nk = v\r\n\r\nj = w\r\n", "s|k|v\ns|j|w\n"},
	    {"\n\n  \t \n\r\nk=v\n\n", "|k|v\n"},
	    {"k =\n", "|k|\n"},
	    {"k = a=b\n", "|k|a=b\n"},
	    {"k = v # not a comment\n", "|k|v # not a comment\n"},
	    {"  k\t=\t v w \t\n", "|k|v w\n"},
	    {"[brand.example.com]\nname = X\n", "brand.example.com|name|X\n"},
	    {"[a@b_c-d.e9]\nk=v\n", "a@b_c-d.e9|k|v\n"},
	    {"a_b.c-D9 = x\n", "|a_b.c-D9|x\n"},
	    {"k = 驿站 \"quoted\" inside\n", "|k|驿站 \"quoted\" inside\n"},
	    {"  [s]  \nk=v\n", "s|k|v\n"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct collect c = {0};
		struct err err;
		if (parse(cases[i].in, strlen(cases[i].in), &c, &err) != 0)
			fail_msg("case %zu: unexpected error: %s", i, err.msg);
		assert_string_equal(buf_cstr(&c.out), cases[i].want);
		buf_release(&c.out);
	}
}

static void test_cfg_errors(void **state)
{
	static const struct {
		const char *in;
		size_t len; /* 0 = strlen */
		const char *want;
		enum err_code code;
		const char *seen; /* keys delivered before the error */
	} cases[] = {
	    {"k v\n", 0, "t.conf:1: expected 'key = value'", ERR_INVALID, ""},
	    {"a=1\n\n[bad section\n", 0, "t.conf:3: bad section header (want [name])", ERR_INVALID,
	     "|a|1\n"},
	    {"[]\n", 0, "t.conf:1: bad section header (want [name])", ERR_INVALID, ""},
	    {"[a b]\n", 0, "t.conf:1: bad section header (want [name])", ERR_INVALID, ""},
	    {"[a]x\n", 0, "t.conf:1: bad section header (want [name])", ERR_INVALID, ""},
	    {"[a/b]\n", 0, "t.conf:1: bad section header (want [name])", ERR_INVALID, ""},
	    {"[\n", 0, "t.conf:1: bad section header (want [name])", ERR_INVALID, ""},
	    {"k y = v\n", 0, "t.conf:1: bad key name", ERR_INVALID, ""},
	    {"= v\n", 0, "t.conf:1: bad key name", ERR_INVALID, ""},
	    {"k@ = v\n", 0, "t.conf:1: bad key name", ERR_INVALID, ""},
	    {"键 = v\n", 0, "t.conf:1: bad key name", ERR_INVALID, ""},
	    {"k = \"abc\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = \"a\"b\"\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = \"a\\n\"\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = \"a\" x\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = \"\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = \"a\\\"\n", 0, "t.conf:1: key 'k': bad quoted value", ERR_INVALID, ""},
	    {"k = a\0b\n", 8, "t.conf:1: NUL byte in line", ERR_INVALID, ""},
	    {"\0k = v\n", 7, "t.conf:1: NUL byte in line", ERR_INVALID, ""},
	    /* line numbers count CRLF lines and ignore the BOM */
	    {"\xEF\xBB\xBF# x\r\n\r\nk\r\n", 0, "t.conf:3: expected 'key = value'", ERR_INVALID,
	     ""},
	    {"a=1\r\nb=2\r\nc\r\nd=4\r\n", 0, "t.conf:3: expected 'key = value'", ERR_INVALID,
	     "|a|1\n|b|2\n"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		struct collect c = {0};
		struct err err;
		if (parse(cases[i].in, len, &c, &err) != -1)
			fail_msg("case %zu accepted", i);
		assert_string_equal(err.msg, cases[i].want);
		assert_int_equal(err.code, cases[i].code);
		assert_string_equal(buf_cstr(&c.out), cases[i].seen);
		buf_release(&c.out);
	}
}

static void test_cfg_name_length(void **state)
{
	char text[CFG_MAX_NAME + 40];
	struct collect c = {0};
	struct err err;
	(void)state;

	/* names up to CFG_MAX_NAME - 1 bytes */
	memset(text, 'k', CFG_MAX_NAME - 1);
	snprintf(text + CFG_MAX_NAME - 1, 40, " = v\n");
	assert_int_equal(parse(text, strlen(text), &c, &err), 0);
	assert_int_equal(c.calls, 1);
	buf_release(&c.out);
	memset(text, 'k', CFG_MAX_NAME);
	snprintf(text + CFG_MAX_NAME, 40, " = v\n");
	assert_int_equal(parse(text, strlen(text), &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:1: bad key name");
	buf_release(&c.out);
	text[0] = '[';
	memset(text + 1, 's', CFG_MAX_NAME);
	snprintf(text + 1 + CFG_MAX_NAME, 40, "]\n");
	assert_int_equal(parse(text, strlen(text), &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:1: bad section header (want [name])");
	buf_release(&c.out);
}

static void test_cfg_line_limit(void **state)
{
	size_t n = CFG_MAX_LINE + 10;
	char *text = malloc(n + 8);
	struct collect c = {0};
	struct err err;
	(void)state;

	/* "k = " + value filling the line to exactly CFG_MAX_LINE bytes: accepted */
	memcpy(text, "x=1\nk = ", 8);
	memset(text + 8, 'v', CFG_MAX_LINE - 4);
	text[4 + CFG_MAX_LINE] = '\n';
	assert_int_equal(parse(text, 4 + CFG_MAX_LINE + 1, &c, &err), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.out.len, strlen("|x|1\n") + strlen("|k|\n") + CFG_MAX_LINE - 4);
	buf_release(&c.out);
	/* one byte more: refused, naming the line */
	memset(text + 8, 'v', CFG_MAX_LINE - 3);
	text[5 + CFG_MAX_LINE] = '\n';
	assert_int_equal(parse(text, 5 + CFG_MAX_LINE + 1, &c, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_string_equal(err.msg, "t.conf:2: line longer than 4096 bytes");
	buf_release(&c.out);
	/* also without a final newline */
	assert_int_equal(parse(text, 5 + CFG_MAX_LINE, &c, &err), -1);
	assert_string_equal(err.msg, "t.conf:2: line longer than 4096 bytes");
	buf_release(&c.out);
	free(text);
}

static void test_cfg_file_limit(void **state)
{
	size_t n = CFG_MAX_BYTES + 1;
	char *text = malloc(n);
	struct err err;
	(void)state;
	for (size_t i = 0; i < n; i++)
		text[i] = (i % 64 == 63) ? '\n' : '#';
	assert_int_equal(cfg_parse(text, n, "big.conf", on_key, NULL, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_string_equal(err.msg, "big.conf: file larger than 1048576 bytes");
	assert_int_equal(cfg_parse(text, n - 1, "big.conf", on_key, NULL, &err), 0);
	free(text);
}

static void test_cfg_callback_error(void **state)
{
	struct collect c = {.fail_at = 2};
	struct err err;
	const char *text = "# x\na = 1\n\nb = 2\nc = 3\n";
	(void)state;
	assert_int_equal(parse(text, strlen(text), &c, &err), -1);
	assert_int_equal(err.code, ERR_DENIED); /* the callback's code is kept */
	assert_string_equal(err.msg, "t.conf:4: refused 'b'");
	assert_int_equal(c.calls, 2); /* parsing stopped at the error */
	assert_string_equal(buf_cstr(&c.out), "|a|1\n");
	buf_release(&c.out);
}

/* Every prefix of a valid file (in an exactly sized buffer) parses or fails cleanly without
 * reading past its end; a prefix that ends at a line boundary parses, and the whole text gives
 * every key. */
static void test_cfg_prefixes(void **state)
{
	const char *text = "\xEF\xBB\xBF# c\r\n[srv]\r\nhost = \"a \\\"b\\\"\"\r\nport=25\r\n\r\n"
	                   "[brand.x.org]\r\ncolor = #123456\r\n";
	size_t len = strlen(text);
	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct collect c = {0};
		struct err err;
		int ret = parse(text, n, &c, &err);
		assert_true(ret == 0 || ret == -1);
		if (n > 0 && text[n - 1] == '\n')
			assert_int_equal(ret, 0);
		if (n == len) {
			assert_int_equal(ret, 0);
			assert_string_equal(buf_cstr(&c.out), "srv|host|a \"b\"\nsrv|port|25\n"
			                                      "brand.x.org|color|#123456\n");
		}
		buf_release(&c.out);
	}
}

static void test_cfg_parse_file(void **state)
{
	char dir[] = "/tmp/yz-cfg-XXXXXX", path[64];
	struct collect c = {0};
	struct err err;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.conf", dir);
	assert_int_equal(cfg_parse_file(path, on_key, &c, &err), -1);
	assert_int_equal(err.code, ERR_IO);
	assert_non_null(strstr(err.msg, path));
	f = fopen(path, "w");
	fputs("[a]\nb = c\nbad line\n", f);
	fclose(f);
	buf_init(&c.out, 0);
	assert_int_equal(cfg_parse_file(path, on_key, &c, &err), -1);
	{
		char want[128];
		snprintf(want, sizeof(want), "%s:3: expected 'key = value'", path);
		assert_string_equal(err.msg, want);
	}
	assert_string_equal(buf_cstr(&c.out), "a|b|c\n");
	buf_release(&c.out);
	unlink(path);
	rmdir(dir);
}

/* ---- config_load ---- */

struct tmp {
	char dir[64];
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/yz-config-XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Write DIR/yizhan.conf and load it. */
static int load(struct tmp *t, const char *text, struct config *c, struct err *err)
{
	char path[128];
	FILE *f;
	snprintf(path, sizeof(path), "%s/yizhan.conf", t->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	err_clear(err);
	return config_load(c, t->dir, err);
}

static void test_config_defaults(void **state)
{
	struct tmp *t = *state;
	static struct config c;
	struct err err;
	char want[128];

	assert_int_equal(load(t, "# nothing set\n", &c, &err), 0);
	assert_string_equal(c.data_dir, t->dir);
	snprintf(want, sizeof(want), "%s/yizhan.conf", t->dir);
	assert_string_equal(c.path, want);
	assert_string_equal(c.hostname, "localhost");
	assert_string_equal(c.listen, "127.0.0.1");
	assert_string_equal(c.user, "yizhan");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.port_base, 0);
	assert_int_equal(c.https_port, 443);
	assert_int_equal(c.http_threads, 4);
	assert_int_equal(c.http_max_connections, 4096);
	assert_int_equal(c.http_timeout, 60);
	assert_int_equal(c.http_max_body, 64 * 1024 * 1024);
	assert_string_equal(c.tls_cert, "tls/cert.pem");
	assert_string_equal(c.tls_key, "tls/key.pem");
	assert_int_equal(c.scram_iterations, 16384);
	assert_int_equal(c.session_idle_timeout, 7200);
	assert_int_equal(c.session_absolute_timeout, 86400);
	assert_int_equal(c.login_ip_per_minute, 60);
	assert_int_equal(c.login_fail_delay_after, 3);
	assert_int_equal(c.login_lock_after, 10);
	assert_int_equal(c.login_lock_seconds, 900);
	assert_int_equal(c.auth_cache_seconds, 600);
	assert_int_equal(c.auth_cache_entries, 100000);
	assert_int_equal(c.nbrands, 0);
	snprintf(want, sizeof(want), "%s/templates", YZ_SOURCE_DIR);
	assert_string_equal(c.templates_dir, want);
	/* relative paths resolve against the data dir, absolute ones stay */
	config_path(&c, c.tls_cert, want, sizeof(want));
	{
		char exp[128];
		snprintf(exp, sizeof(exp), "%s/tls/cert.pem", t->dir);
		assert_string_equal(want, exp);
	}
	config_path(&c, "/etc/x.pem", want, sizeof(want));
	assert_string_equal(want, "/etc/x.pem");
}

static void test_config_values(void **state)
{
	struct tmp *t = *state;
	static struct config c;
	struct err err;
	const char *text = "[server]\n"
	                   "hostname = mail.example.com\n"
	                   "default_domain = example.com\n"
	                   "port_base = 10000\n"
	                   "listen = \"0.0.0.0\"\n"
	                   "[http]\n"
	                   "threads = 256\n"
	                   "max_body = 1024\n"
	                   "[tls]\n"
	                   "cert = /etc/ssl/a.pem\n"
	                   "[auth]\n"
	                   "scram_iterations = 4096\n"
	                   "session_idle_timeout = 3600\n"
	                   "session_absolute_timeout = 600\n"
	                   "login_fail_delay_after = 2\n"
	                   "login_lock_after = 3\n"
	                   "[brand.Example.COM]\n"
	                   "name = \"Example Mail\"\n"
	                   "color = #1F6feb\n"
	                   "logo = logo.png\n";

	assert_int_equal(load(t, text, &c, &err), 0);
	assert_string_equal(c.hostname, "mail.example.com");
	assert_string_equal(c.default_domain, "example.com");
	assert_string_equal(c.listen, "0.0.0.0");
	assert_int_equal(c.port_base, 10000);
	assert_int_equal(c.https_port, 10443); /* derived from port_base */
	assert_int_equal(c.http_threads, 256);
	assert_int_equal(c.http_max_body, 1024);
	assert_string_equal(c.tls_cert, "/etc/ssl/a.pem");
	assert_int_equal(c.scram_iterations, 4096);
	assert_int_equal(c.session_absolute_timeout, 600);
	assert_int_equal(c.session_idle_timeout, 600); /* clamped to the absolute timeout */
	assert_int_equal(c.nbrands, 1);
	assert_string_equal(c.brands[0].domain, "example.com");
	assert_string_equal(c.brands[0].name, "Example Mail");
	assert_string_equal(c.brands[0].color, "#1F6feb");
	assert_string_equal(c.brands[0].logo, "logo.png");
	assert_ptr_equal(config_brand(&c, "EXAMPLE.com"), &c.brands[0]);
	assert_null(config_brand(&c, "example.org"));

	/* an explicit [http] port wins over port_base */
	assert_int_equal(load(t, "[server]\nport_base = 10000\n[http]\nport = 8443\n", &c, &err),
	                 0);
	assert_int_equal(c.https_port, 8443);
	assert_int_equal(load(t, "[server]\nport_base = 60000\n", &c, &err), 0);
	assert_int_equal(c.https_port, 60443);
}

static void test_config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "DIR/yizhan.conf" */
	} cases[] = {
	    {"[http]\nthreads = lots\n",
	     ":2: key 'http.threads': expected an integer from 1 to 256, got 'lots'"},
	    {"[http]\nthreads = 0\n",
	     ":2: key 'http.threads': expected an integer from 1 to 256, got '0'"},
	    {"[http]\nthreads = 257\n",
	     ":2: key 'http.threads': expected an integer from 1 to 256, got '257'"},
	    {"[http]\n\n\nport = 65536\n",
	     ":4: key 'http.port': expected an integer from 1 to 65535, got '65536'"},
	    {"[server]\nport_base = 60001\n",
	     ":2: key 'server.port_base': expected an integer from 0 to 60000, got '60001'"},
	    {"[server]\nport_base = -1\n",
	     ":2: key 'server.port_base': expected an integer from 0 to 60000, got '-1'"},
	    {"[auth]\nscram_iterations = 4095\n",
	     ":2: key 'auth.scram_iterations': expected an integer from 4096 to 10000000, "
	     "got '4095'"},
	    {"[http]\nthreadz = 4\n", ":2: unknown key 'http.threadz'"},
	    {"[nosuch]\nk = v\n", ":2: unknown key 'nosuch.k'"},
	    {"hostname = x\n", ":1: unknown key 'hostname'"},
	    {"[server]\nhostname = x\n[brand.example.com]\ncolor = red\n",
	     ":4: key 'brand.example.com.color': expected a colour like #1f6feb"},
	    {"[brand.example.com]\ncolor = #12345g\n",
	     ":2: key 'brand.example.com.color': expected a colour like #1f6feb"},
	    {"[brand.example.com]\ncolor = #1234567\n",
	     ":2: key 'brand.example.com.color': expected a colour like #1f6feb"},
	    {"[brand.example.com]\nsize = 3\n",
	     ":2: unknown or too long key 'brand.example.com.size'"},
	    {"[server]\nhostname = x\nbad\n", ":3: expected 'key = value'"},
	};
	struct tmp *t = *state;
	static struct config c;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct err err;
		char want[512];
		if (load(t, cases[i].text, &c, &err) != -1)
			fail_msg("case %zu accepted", i);
		snprintf(want, sizeof(want), "%s/yizhan.conf%s", t->dir, cases[i].want);
		assert_string_equal(err.msg, want);
		assert_non_null(strstr(err.msg, "yizhan.conf:"));
	}
}

static void test_config_string_and_cross_limits(void **state)
{
	struct tmp *t = *state;
	static struct config c;
	struct err err;
	char text[600];

	memset(text, 0, sizeof(text));
	strcpy(text, "[server]\nhostname = ");
	memset(text + strlen(text), 'h', 256);
	strcat(text, "\n");
	assert_int_equal(load(t, text, &c, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_non_null(
	    strstr(err.msg, "yizhan.conf:2: key 'server.hostname': value longer than 255"));
	text[strlen(text) - 2] = '\n'; /* 255 bytes: accepted */
	text[strlen(text) - 1] = '\0';
	assert_int_equal(load(t, text, &c, &err), 0);
	assert_int_equal(strlen(c.hostname), 255);

	/* the lock must come after the waits start */
	assert_int_equal(
	    load(t, "[auth]\nlogin_fail_delay_after = 5\nlogin_lock_after = 5\n", &c, &err), -1);
	assert_non_null(strstr(err.msg, "yizhan.conf"));
	assert_non_null(strstr(err.msg, "auth.login_lock_after"));

	/* a missing file is an I/O error naming it */
	{
		char path[128];
		snprintf(path, sizeof(path), "%s/yizhan.conf", t->dir);
		unlink(path);
		err_clear(&err);
		assert_int_equal(config_load(&c, t->dir, &err), -1);
		assert_int_equal(err.code, ERR_IO);
		assert_non_null(strstr(err.msg, path));
	}
}

static void test_config_brand_limit(void **state)
{
	struct tmp *t = *state;
	static struct config c;
	struct err err;
	struct buf b;
	(void)state;

	buf_init(&b, 0);
	for (int i = 0; i <= CONFIG_MAX_BRANDS; i++)
		assert_int_equal(buf_printf(&b, "[brand.d%d.example]\nname = D%d\n", i, i), 0);
	assert_int_equal(load(t, buf_cstr(&b), &c, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_non_null(strstr(err.msg, "yizhan.conf:130: more than 64 brand sections"));
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cfg_valid),
	    cmocka_unit_test(test_cfg_errors),
	    cmocka_unit_test(test_cfg_name_length),
	    cmocka_unit_test(test_cfg_line_limit),
	    cmocka_unit_test(test_cfg_file_limit),
	    cmocka_unit_test(test_cfg_callback_error),
	    cmocka_unit_test(test_cfg_prefixes),
	    cmocka_unit_test(test_cfg_parse_file),
	    cmocka_unit_test_setup_teardown(test_config_defaults, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_config_values, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_config_string_and_cross_limits, tmp_setup,
	                                    tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_config_brand_limit, tmp_setup, tmp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
