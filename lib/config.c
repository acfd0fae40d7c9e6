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
	INT("mail", "index_shards", mail_index_shards, 1, 8),
	INT("mime", "max_bytes", mime_max_bytes, 1024, (int64_t)1 << 31),
	INT("mime", "max_header_bytes", mime_max_header_bytes, 1024, 64 << 20),
	INT("mime", "max_line", mime_max_line, 998, 64 << 20),
	INT("mime", "max_parts", mime_max_parts, 1, 1000000),
	INT("mime", "max_depth", mime_max_depth, 1, 1000),
	INT("mime", "max_text", mime_max_text, 1024, 256 << 20),
	INT("smtp", "port", smtp_port, 0, 65535),
	INT("smtp", "submission_port", submission_port, 0, 65535),
	INT("smtp", "submissions_port", submissions_port, 0, 65535),
	INT("smtp", "max_sessions", smtp_max_sessions, 1, 100000),
	INT("smtp", "max_per_ip", smtp_max_per_ip, 1, 100000),
	INT("smtp", "max_line", smtp_max_line, 512, 65536),
	INT("smtp", "max_message", smtp_max_message, 1024, (int64_t)1 << 31),
	INT("smtp", "max_recipients", smtp_max_recipients, 1, 100000),
	INT("smtp", "max_hops", smtp_max_hops, 5, 1000),
	INT("smtp", "max_errors", smtp_max_errors, 1, 1000),
	INT("smtp", "max_bad_recipients", smtp_max_bad_rcpts, 1, 1000),
	INT("smtp", "max_commands", smtp_max_commands, 10, 1000000),
	INT("smtp", "timeout", smtp_timeout, 1, 3600),
	INT("smtp", "data_timeout", smtp_data_timeout, 1, 3600),
	INT("smtp", "tarpit_ms", smtp_tarpit_ms, 0, 60000),
	INT("smtp", "messages_per_hour", smtp_msgs_per_hour, 1, 1000000),
	STR("smtp", "banner", smtp_banner),
	INT("imap", "port", imap_port, 0, 65535),
	INT("imap", "imaps_port", imaps_port, 0, 65535),
	INT("imap", "max_sessions", imap_max_sessions, 1, 1000000),
	INT("imap", "max_per_ip", imap_max_per_ip, 1, 1000000),
	INT("imap", "max_line", imap_max_line, 1024, 1 << 20),
	INT("imap", "max_literal", imap_max_literal, 1024, (int64_t)1 << 31),
	INT("imap", "max_literal_preauth", imap_max_literal_preauth, 64, 1 << 20),
	INT("imap", "max_nesting", imap_max_nesting, 2, 1000),
	INT("imap", "commands_per_second", imap_commands_per_second, 1, 1000000),
	INT("imap", "max_errors", imap_max_errors, 1, 1000),
	INT("imap", "idle_timeout", imap_idle_timeout, 60, 86400),
	INT("imap", "timeout", imap_timeout, 60, 86400),
	INT("imap", "login_timeout", imap_login_timeout, 5, 3600),
	INT("pop3", "port", pop3_port, 0, 65535),
	INT("pop3", "pop3s_port", pop3s_port, 0, 65535),
	INT("pop3", "max_sessions", pop3_max_sessions, 1, 1000000),
	INT("pop3", "max_per_ip", pop3_max_per_ip, 1, 1000000),
	INT("pop3", "max_line", pop3_max_line, 255, 65536),
	INT("pop3", "timeout", pop3_timeout, 1, 86400),
	INT("pop3", "max_errors", pop3_max_errors, 1, 1000),
	INT("queue", "workers", queue_workers, 1, 256),
	INT("queue", "lifetime_hours", queue_lifetime_hours, 1, 24 * 60),
	INT("queue", "delay_warning_hours", queue_delay_warn_hours, 1, 24 * 30),
	INT("queue", "inflow_delay_ms", queue_inflow_delay_ms, 0, 1000),
	STR("queue", "relay_host", relay_host),
	INT("queue", "relay_port", relay_port, 1, 65535),
	STR("queue", "relay_user", relay_user),
	STR("queue", "relay_password", relay_password),
	INT("queue", "remote_port", remote_port, 1, 65535),
	INT("queue", "remote_timeout", remote_timeout, 1, 3600),
	STR("dns", "servers", dns_servers),
	INT("dns", "timeout", dns_timeout, 1, 60),
	STR("mailauth", "dmarc_reject", dmarc_reject),
	STR("mailauth", "dmarc_quarantine", dmarc_quarantine),
	STR("mailauth", "spf_fail", spf_fail),
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
	c->mail_index_shards = 2;
	c->mime_max_bytes = 64 << 20;
	c->mime_max_header_bytes = 1 << 20;
	c->mime_max_line = 1 << 20;
	c->mime_max_parts = 10000;
	c->mime_max_depth = 64;
	c->mime_max_text = 4 << 20;
	c->smtp_max_sessions = 1000;
	c->smtp_max_per_ip = 50;
	c->smtp_max_line = 2048;
	c->smtp_max_message = 50 << 20;
	c->smtp_max_recipients = 500;
	c->smtp_max_hops = 50;
	c->smtp_max_errors = 10;
	c->smtp_max_bad_rcpts = 5;
	c->smtp_max_commands = 10000;
	c->smtp_timeout = 300;
	c->smtp_data_timeout = 180;
	c->smtp_tarpit_ms = 1000;
	c->smtp_msgs_per_hour = 500;
	snprintf(c->smtp_banner, sizeof(c->smtp_banner), "ESMTP Yizhan");
	c->imap_max_sessions = 20000;
	c->imap_max_per_ip = 500;
	c->imap_max_line = 64 * 1024;
	c->imap_max_literal = 64 << 20;
	c->imap_max_literal_preauth = 4096;
	c->imap_max_nesting = 32;
	c->imap_commands_per_second = 200;
	c->imap_max_errors = 20;
	c->imap_idle_timeout = 1800;
	c->imap_timeout = 1800;
	c->imap_login_timeout = 60;
	c->pop3_max_sessions = 5000;
	c->pop3_max_per_ip = 50;
	c->pop3_max_line = 2048;
	c->pop3_timeout = 600;
	c->pop3_max_errors = 10;
	c->queue_workers = 4;
	c->queue_lifetime_hours = 120;
	c->queue_delay_warn_hours = 4;
	c->queue_inflow_delay_ms = 100;
	c->relay_port = 25;
	c->remote_port = 25;
	c->remote_timeout = 60;
	c->dns_timeout = 5;
	snprintf(c->dmarc_reject, sizeof(c->dmarc_reject), "reject");
	snprintf(c->dmarc_quarantine, sizeof(c->dmarc_quarantine), "quarantine");
	snprintf(c->spf_fail, sizeof(c->spf_fail), "tag");
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
	if (c->smtp_port == 0)
		c->smtp_port = c->port_base + 25;
	if (c->imap_port == 0)
		c->imap_port = c->port_base + 143;
	if (c->imaps_port == 0)
		c->imaps_port = c->port_base + 993;
	if (c->pop3_port == 0)
		c->pop3_port = c->port_base + 110;
	if (c->pop3s_port == 0)
		c->pop3s_port = c->port_base + 995;
	if (c->submission_port == 0)
		c->submission_port = c->port_base + 587;
	if (c->submissions_port == 0)
		c->submissions_port = c->port_base + 465;
	{
		const char *pol[] = {c->dmarc_reject, c->dmarc_quarantine, c->spf_fail};
		const char *names[] = {"dmarc_reject", "dmarc_quarantine", "spf_fail"};
		for (size_t i = 0; i < 3; i++)
			if (strcmp(pol[i], "reject") != 0 && strcmp(pol[i], "quarantine") != 0 &&
			    strcmp(pol[i], "tag") != 0)
				return err_set(err, ERR_INVALID,
					       "%s: key 'mailauth.%s': expected reject, quarantine or tag",
					       c->path, names[i]);
	}
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
