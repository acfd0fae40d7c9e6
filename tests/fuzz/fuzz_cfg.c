/* fuzz_cfg: lib/cfg.h cfg_parse, lib/config.h config_load (the yizhan.conf schema), and
 * web/web.h i18n_parse, all on the same input.
 *
 * config_load() reads DATA_DIR/yizhan.conf, so the input is written to a private temporary
 * directory first: under $TMPDIR when set (scripts/fuzz.sh points it at its work dir), else
 * /dev/shm, else /tmp. It is removed at exit (not after a crash: fuzz.sh cleans up then).
 *
 * Invariants:
 * - cfg_parse hands the callback only well-formed names: the section is "" or 1..127 bytes of
 *   [A-Za-z0-9_.@-], the key 1..127 bytes of [A-Za-z0-9_.-]; the value has no newline and is
 *   at most CFG_MAX_LINE bytes; the callback runs at most once per input line. Errors name
 *   the file and carry a code.
 * - A callback failure stops the parse and comes back with the "FILE:LINE: " prefix.
 * - i18n_parse succeeds only where cfg_parse does; then every key (first definition, no
 *   sections allowed) maps to the value the tokenizer reported.
 * - config_load errors name the file; what it accepts satisfies the cross-key rules it
 *   promises (HTTPS port in range, idle <= absolute session timeout, lock after > delay after,
 *   brand colours "#rrggbb", every string NUL-terminated inside its field). */
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/cfg.h"
#include "lib/config.h"
#include "web/web.h"

#define MAX_SEEN 64

struct seen {
	size_t calls, lines;
	bool any_section;
	size_t n;
	char *key[MAX_SEEN], *value[MAX_SEEN];
	int fail_at; /* make the callback fail on this call (1-based), 0: never */
};

static bool name_ok(const char *s, bool section)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CFG_MAX_NAME)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-' ||
		      (section && *s == '@')))
			return false;
	return true;
}

static int on_key(void *ctx, const char *section, const char *key, const char *value,
		  struct err *err)
{
	struct seen *s = ctx;
	size_t vlen = strlen(value);

	s->calls++;
	FUZZ_CHECK(s->calls <= s->lines);
	FUZZ_CHECK(*section == '\0' || name_ok(section, true));
	FUZZ_CHECK(name_ok(key, false));
	FUZZ_CHECK(vlen <= CFG_MAX_LINE);
	FUZZ_CHECK(strchr(value, '\n') == NULL);
	if (*section)
		s->any_section = true;
	if (s->n < MAX_SEEN && !*section) {
		bool dup = false;
		for (size_t i = 0; i < s->n; i++)
			dup |= strcmp(s->key[i], key) == 0;
		if (!dup) {
			s->key[s->n] = strdup(key);
			s->value[s->n] = strdup(value);
			s->n++;
		}
	}
	if (s->fail_at > 0 && (size_t)s->fail_at == s->calls)
		return err_set(err, ERR_DENIED, "stop here");
	return 0;
}

static void seen_release(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->key[i]);
		free(s->value[i]);
	}
	memset(s, 0, sizeof(*s));
}

static size_t count_lines(const char *p, size_t n)
{
	size_t lines = n > 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n' && i + 1 < n)
			lines++;
	return lines;
}

static void check_error(const struct err *err, const char *fname)
{
	FUZZ_CHECK(err->code != ERR_OK);
	FUZZ_CHECK(strncmp(err->msg, fname, strlen(fname)) == 0);
	FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
}

static char tmpdir[256];
static char conf_path[300];

static void cleanup(void)
{
	if (conf_path[0])
		unlink(conf_path);
	if (tmpdir[0])
		rmdir(tmpdir);
}

static bool setup_dir(void)
{
	if (tmpdir[0])
		return true;
	const char *base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/yz-fuzz-cfg-XXXXXX", base);
	if (mkdtemp(tmpdir) == NULL) {
		tmpdir[0] = '\0';
		return false;
	}
	snprintf(conf_path, sizeof(conf_path), "%s/yizhan.conf", tmpdir);
	atexit(cleanup);
	return true;
}

static bool str_in(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

static void check_config(const struct config *c)
{
	FUZZ_CHECK(c->https_port >= 1 && c->https_port <= 65535);
	FUZZ_CHECK(c->session_idle_timeout <= c->session_absolute_timeout);
	FUZZ_CHECK(c->login_lock_after > c->login_fail_delay_after);
	FUZZ_CHECK(c->http_threads >= 1 && c->http_threads <= 256);
	FUZZ_CHECK(c->scram_iterations >= 4096);
	FUZZ_CHECK(str_in(c->hostname, sizeof(c->hostname)) &&
		   str_in(c->default_domain, sizeof(c->default_domain)) &&
		   str_in(c->user, sizeof(c->user)) && str_in(c->listen, sizeof(c->listen)) &&
		   str_in(c->log_level, sizeof(c->log_level)) &&
		   str_in(c->tls_cert, sizeof(c->tls_cert)) &&
		   str_in(c->tls_key, sizeof(c->tls_key)) &&
		   str_in(c->static_dir, sizeof(c->static_dir)) &&
		   str_in(c->templates_dir, sizeof(c->templates_dir)));
	FUZZ_CHECK(c->nbrands <= CONFIG_MAX_BRANDS);
	for (size_t i = 0; i < c->nbrands; i++) {
		const struct brand *b = &c->brands[i];
		FUZZ_CHECK(str_in(b->domain, sizeof(b->domain)) && b->domain[0] != '\0');
		FUZZ_CHECK(str_in(b->name, sizeof(b->name)) && str_in(b->logo, sizeof(b->logo)));
		FUZZ_CHECK(str_in(b->color, sizeof(b->color)));
		FUZZ_CHECK(b->color[0] == '\0' || (strlen(b->color) == 7 && b->color[0] == '#'));
		FUZZ_CHECK(config_brand(c, b->domain) == b);
	}
}

/* One config_load per input: cfg_parse_file() allocates CFG_MAX_BYTES (1 MiB) per call, which
 * under ASan costs more than everything else here together. */
static void fuzz_config_load(const char *in, size_t size)
{
	static struct config c; /* ~100 KB: not on the stack */
	struct err e = {0};
	FILE *f;

	if (!setup_dir())
		return;
	f = fopen(conf_path, "wb");
	if (f == NULL)
		return;
	if (size && fwrite(in, 1, size, f) != size) {
		fclose(f);
		return;
	}
	fclose(f);
	if (config_load(&c, tmpdir, &e) == 0)
		check_config(&c);
	else
		FUZZ_CHECK(e.code != ERR_OK && strncmp(e.msg, conf_path, strlen(conf_path)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_dup(data, size);
	struct seen s = {0};
	struct err err = {0};
	struct i18n *t = NULL;
	int r, ri;

	/* 1. the tokenizer alone */
	s.lines = count_lines(in, size);
	r = cfg_parse(in, size, "fuzz.conf", on_key, &s, &err);
	if (r < 0)
		check_error(&err, "fuzz.conf");

	/* 2. i18n tables: fail only where the tokenizer failed, or on sections and duplicates */
	err = (struct err){0};
	ri = i18n_parse(in, size, "fuzz.ini", &t, &err);
	if (ri == 0) {
		FUZZ_CHECK(r == 0 && !s.any_section);
		for (size_t i = 0; i < s.n; i++) {
			const char *v = i18n_get(t, s.key[i]);
			FUZZ_CHECK(v != NULL && strcmp(v, s.value[i]) == 0);
		}
		i18n_free(&t);
		FUZZ_CHECK(t == NULL);
	} else {
		check_error(&err, "fuzz.ini");
		FUZZ_CHECK(t == NULL);
	}

	/* 3. a callback that fails part way: the error comes back with its position */
	if (r == 0 && s.calls > 0) {
		struct seen s2 = {0};
		s2.lines = s.lines;
		s2.fail_at = (int)(s.calls + 1) / 2;
		err = (struct err){0};
		FUZZ_CHECK(cfg_parse(in, size, "fuzz.conf", on_key, &s2, &err) < 0);
		FUZZ_CHECK(s2.calls == (size_t)s2.fail_at);
		check_error(&err, "fuzz.conf:");
		FUZZ_CHECK(err.code == ERR_DENIED);
		FUZZ_CHECK(strstr(err.msg, "stop here") != NULL);
		seen_release(&s2);
	}
	seen_release(&s);

	/* 4. the yizhan.conf schema */
	fuzz_config_load(in, size);

	free(in);
	return 0;
}
