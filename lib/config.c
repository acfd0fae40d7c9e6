#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "cfg.h"
#include "util.h"

#ifndef YZ_SOURCE_DIR
#define YZ_SOURCE_DIR "."
#endif

enum kind { K_INT, K_STR };

struct key {
	const char *section, *key;
	enum kind kind;
	size_t off, size;
	int64_t min, max;
};

#define INT(s, k, field, lo, hi)                                                                 \
	{ .section = s, .key = k, .kind = K_INT, .off = offsetof(struct config, field),          \
	  .min = lo, .max = hi }
#define STR(s, k, field)                                                                         \
	{ .section = s, .key = k, .kind = K_STR, .off = offsetof(struct config, field),          \
	  .size = sizeof(((struct config *)0)->field) }

static const struct key keys[] = {
	STR("server", "hostname", hostname),
	STR("server", "default_domain", default_domain),
	STR("server", "user", user),
	INT("server", "port_base", port_base, 0, 60000),
	STR("server", "listen", listen),
	STR("server", "log_level", log_level),
	STR("server", "static_dir", static_dir),
	STR("server", "templates_dir", templates_dir),
	INT("http", "port", https_port, 1, 65535),
	INT("http", "threads", http_threads, 1, 256),
	INT("http", "max_connections", http_max_connections, 1, 1000000),
	INT("http", "per_ip_connections", http_per_ip_connections, 0, 100000),
	INT("http", "connection_memory", http_connection_memory, 8192, 64 * 1024 * 1024),
	INT("http", "timeout", http_timeout, 1, 3600),
	INT("http", "max_body", http_max_body, 1024, (int64_t)1 << 32),
	STR("tls", "cert", tls_cert),
	STR("tls", "key", tls_key),
	INT("auth", "scram_iterations", scram_iterations, 4096, 10000000),
	INT("auth", "session_idle_timeout", session_idle_timeout, 60, 86400 * 30),
	INT("auth", "session_absolute_timeout", session_absolute_timeout, 300, 86400 * 365),
	INT("auth", "login_ip_per_minute", login_ip_per_minute, 1, 100000),
	INT("auth", "login_fail_delay_after", login_fail_delay_after, 1, 1000),
	INT("auth", "login_lock_after", login_lock_after, 2, 1000),
	INT("auth", "login_lock_seconds", login_lock_seconds, 1, 86400 * 7),
	INT("auth", "cache_seconds", auth_cache_seconds, 0, 86400),
	INT("auth", "cache_entries", auth_cache_entries, 0, 10000000),
	INT("mail", "retention_days", mail_retention_days, 0, 3650),
	INT("mail", "cache_mailboxes", mail_cache_mailboxes, 1, 900),
	INT("mail", "tz_minutes", mail_tz_minutes, -720, 840),
	INT("mime", "max_bytes", mime_max_bytes, 1024, (int64_t)1 << 31),
	INT("mime", "max_header_bytes", mime_max_header_bytes, 1024, 64 << 20),
	INT("mime", "max_line", mime_max_line, 998, 64 << 20),
	INT("mime", "max_parts", mime_max_parts, 1, 1000000),
	INT("mime", "max_depth", mime_max_depth, 1, 1000),
	INT("mime", "max_text", mime_max_text, 1024, 256 << 20),
};

void config_defaults(struct config *c, const char *data_dir, int64_t port_base)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", data_dir);
	snprintf(c->path, sizeof(c->path), "%s/yizhan.conf", data_dir);
	snprintf(c->hostname, sizeof(c->hostname), "localhost");
	snprintf(c->user, sizeof(c->user), "yizhan");
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->static_dir, sizeof(c->static_dir), "%s/static/dist", YZ_SOURCE_DIR);
	snprintf(c->templates_dir, sizeof(c->templates_dir), "%s/templates", YZ_SOURCE_DIR);
	c->port_base = port_base;
	c->https_port = 0; /* 0: port_base + 443 */
	c->http_threads = 4;
	c->http_max_connections = 4096;
	c->http_per_ip_connections = 256;
	c->http_connection_memory = 64 * 1024;
	c->http_timeout = 60;
	c->http_max_body = 64 * 1024 * 1024;
	snprintf(c->tls_cert, sizeof(c->tls_cert), "tls/cert.pem");
	snprintf(c->tls_key, sizeof(c->tls_key), "tls/key.pem");
	c->scram_iterations = 4096 * 4;
	c->session_idle_timeout = 2 * 3600;
	c->session_absolute_timeout = 24 * 3600;
	c->login_ip_per_minute = 60;
	c->login_fail_delay_after = 3;
	c->login_lock_after = 10;
	c->login_lock_seconds = 15 * 60;
	c->auth_cache_seconds = 600;
	c->auth_cache_entries = 100000;
	c->mail_retention_days = 30;
	c->mail_cache_mailboxes = 200;
	c->mail_tz_minutes = 480;
	c->mime_max_bytes = 64 << 20;
	c->mime_max_header_bytes = 1 << 20;
	c->mime_max_line = 1 << 20;
	c->mime_max_parts = 10000;
	c->mime_max_depth = 64;
	c->mime_max_text = 4 << 20;
}

static bool is_hex_color(const char *v)
{
	if (strlen(v) != 7 || v[0] != '#')
		return false;
	for (int i = 1; i < 7; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
		      (v[i] >= 'A' && v[i] <= 'F')))
			return false;
	return true;
}

static int brand_key(struct config *c, const char *domain, const char *key, const char *value,
		     struct err *err)
{
	struct brand *b = (struct brand *)config_brand(c, domain);
	if (b == NULL) {
		if (c->nbrands == CONFIG_MAX_BRANDS)
			return err_set(err, ERR_LIMIT, "more than %d brand sections",
				       CONFIG_MAX_BRANDS);
		b = &c->brands[c->nbrands++];
		snprintf(b->domain, sizeof(b->domain), "%s", domain);
		str_lower(b->domain);
	}
	if (strcmp(key, "name") == 0 && strlen(value) < sizeof(b->name)) {
		snprintf(b->name, sizeof(b->name), "%s", value);
	} else if (strcmp(key, "color") == 0) {
		if (!is_hex_color(value))
			return err_set(err, ERR_INVALID,
				       "key 'brand.%s.color': expected a colour like #1f6feb", domain);
		snprintf(b->color, sizeof(b->color), "%s", value);
	} else if (strcmp(key, "logo") == 0 && strlen(value) < sizeof(b->logo)) {
		snprintf(b->logo, sizeof(b->logo), "%s", value);
	} else {
		return err_set(err, ERR_INVALID, "unknown or too long key 'brand.%s.%s'", domain,
			       key);
	}
	return 0;
}

static int on_key(void *ctx, const char *section, const char *key, const char *value,
		  struct err *err)
{
	struct config *c = ctx;

	if (str_has_prefix(section, "brand.") && section[6] != '\0')
		return brand_key(c, section + 6, key, value, err);
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->key, key) != 0)
			continue;
		if (k->kind == K_INT) {
			int64_t v;
			if (str_to_i64(value, k->min, k->max, &v) < 0)
				return err_set(err, ERR_INVALID,
					       "key '%s.%s': expected an integer from %lld to %lld, "
					       "got '%.40s'",
					       section, key, (long long)k->min, (long long)k->max,
					       value);
			*(int64_t *)((char *)c + k->off) = v;
		} else {
			if (strlen(value) >= k->size)
				return err_set(err, ERR_LIMIT, "key '%s.%s': value longer than %zu",
					       section, key, k->size - 1);
			memcpy((char *)c + k->off, value, strlen(value) + 1);
		}
		return 0;
	}
	return err_set(err, ERR_INVALID, "unknown key '%s%s%s'", section, *section ? "." : "",
		       key);
}

int config_load(struct config *c, const char *data_dir, struct err *err)
{
	config_defaults(c, data_dir, 0);
	if (cfg_parse_file(c->path, on_key, c, err) < 0)
		return -1;
	if (c->https_port == 0)
		c->https_port = c->port_base + 443;
	if (c->https_port > 65535)
		return err_set(err, ERR_INVALID, "%s: key 'server.port_base': port %lld too large",
			       c->path, (long long)c->https_port);
	if (c->session_absolute_timeout < c->session_idle_timeout)
		c->session_idle_timeout = c->session_absolute_timeout;
	if (c->login_lock_after <= c->login_fail_delay_after)
		return err_set(err, ERR_INVALID,
			       "%s: key 'auth.login_lock_after' must exceed "
			       "'auth.login_fail_delay_after'",
			       c->path);
	return 0;
}

void config_path(const struct config *c, const char *p, char *out, size_t outsz)
{
	if (p[0] == '/')
		snprintf(out, outsz, "%s", p);
	else
		snprintf(out, outsz, "%s/%s", c->data_dir, p);
}

const struct brand *config_brand(const struct config *c, const char *domain)
{
	for (size_t i = 0; i < c->nbrands; i++)
		if (strcasecmp(c->brands[i].domain, domain) == 0)
			return &c->brands[i];
	return NULL;
}
