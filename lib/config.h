/* config.h: yizhan.conf, its schema and defaults (documented in docs/CONFIG.md).
 * Every limit the daemon enforces is a named value here. Relative paths are taken relative to
 * the data directory. */
#ifndef YZ_CONFIG_H
#define YZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CONFIG_PATH_MAX 1024
#define CONFIG_MAX_BRANDS 64

struct brand {
	char domain[256];
	char name[128];
	char color[8]; /* #rrggbb */
	char logo[CONFIG_PATH_MAX]; /* file path, or "" for the default logo */
};

struct config {
	char data_dir[CONFIG_PATH_MAX];
	char path[CONFIG_PATH_MAX]; /* the file it came from */

	/* [server] */
	char hostname[256];
	char default_domain[256];
	char user[64]; /* unprivileged user to drop to when started as root */
	int64_t port_base;
	char listen[64];
	char log_level[16];
	char static_dir[CONFIG_PATH_MAX];
	char templates_dir[CONFIG_PATH_MAX];

	/* [http] */
	int64_t https_port;
	int64_t http_threads;
	int64_t http_max_connections;
	int64_t http_per_ip_connections;
	int64_t http_connection_memory;
	int64_t http_timeout;
	int64_t http_max_body;

	/* [tls] */
	char tls_cert[CONFIG_PATH_MAX];
	char tls_key[CONFIG_PATH_MAX];

	/* [auth] */
	int64_t scram_iterations;
	int64_t session_idle_timeout;
	int64_t session_absolute_timeout;
	int64_t login_ip_per_minute;
	int64_t login_fail_delay_after;
	int64_t login_lock_after;
	int64_t login_lock_seconds;
	int64_t auth_cache_seconds;
	int64_t auth_cache_entries;

	/* [mail] */
	int64_t mail_retention_days;  /* expunged mail is kept this long for restore */
	int64_t mail_cache_mailboxes; /* open mailboxes kept */
	int64_t mail_tz_minutes;      /* zone for search dates */
	int64_t mail_index_shards;    /* Xapian shards of a new search index */

	/* [mime] parser limits (store/mime.h) */
	int64_t mime_max_bytes;
	int64_t mime_max_header_bytes;
	int64_t mime_max_line;
	int64_t mime_max_parts;
	int64_t mime_max_depth;
	int64_t mime_max_text;

	/* [smtp] listeners and session limits (server/smtp/) */
	int64_t smtp_port;        /* 0: port_base + 25 */
	int64_t submission_port;  /* 0: port_base + 587 */
	int64_t submissions_port; /* 0: port_base + 465 */
	int64_t smtp_max_sessions;
	int64_t smtp_max_per_ip;
	int64_t smtp_max_line;        /* command line bytes, CRLF excluded (RFC 5321: 512) */
	int64_t smtp_max_message;     /* bytes; also SIZE in EHLO */
	int64_t smtp_max_recipients;  /* per message */
	int64_t smtp_max_hops;        /* Received: fields a message may carry (mail loops) */
	int64_t smtp_max_errors;      /* bad commands before the session is dropped */
	int64_t smtp_max_bad_rcpts;   /* unknown recipients before the session is dropped */
	int64_t smtp_max_commands;    /* per session */
	int64_t smtp_timeout;         /* seconds idle in any command state */
	int64_t smtp_data_timeout;    /* seconds between data chunks */
	int64_t smtp_tarpit_ms;       /* delay per unknown recipient, growing */
	int64_t smtp_msgs_per_hour;   /* per authenticated user (submission, web) */
	char smtp_banner[128];        /* greeting text after the host name */

	/* [imap] listeners and session limits (server/imap/) */
	int64_t imap_port;                /* 0: port_base + 143 */
	int64_t imaps_port;               /* 0: port_base + 993 */
	int64_t imap_max_sessions;
	int64_t imap_max_per_ip;
	int64_t imap_max_line;            /* command line bytes, literals excluded */
	int64_t imap_max_literal;         /* bytes of one literal (APPEND) once authenticated */
	int64_t imap_max_literal_preauth; /* ... before authentication */
	int64_t imap_max_nesting;         /* parenthesis depth */
	int64_t imap_commands_per_second; /* per session; above it reading pauses */
	int64_t imap_max_errors;          /* BAD commands before the session is dropped */
	int64_t imap_idle_timeout;        /* seconds in IDLE without traffic (RFC 2177: 30 min) */
	int64_t imap_timeout;             /* seconds idle once authenticated (RFC 3501: >= 30 min) */
	int64_t imap_login_timeout;       /* seconds idle before authentication */

	/* [pop3] listeners and session limits (server/pop3/) */
	int64_t pop3_port;         /* 0: port_base + 110 */
	int64_t pop3s_port;        /* 0: port_base + 995 */
	int64_t pop3_max_sessions;
	int64_t pop3_max_per_ip;
	int64_t pop3_max_line;     /* command line bytes, line end excluded (RFC 2449: >= 255) */
	int64_t pop3_timeout;      /* seconds idle (RFC 1939 section 3: at least 10 minutes) */
	int64_t pop3_max_errors;   /* -ERR answers before the session is dropped */

	/* [queue] */
	int64_t queue_workers;        /* delivery threads */
	int64_t queue_lifetime_hours; /* then a bounce */
	int64_t queue_delay_warn_hours;
	int64_t queue_inflow_delay_ms; /* in-flow control: at most this per accepted batch */
	char relay_host[256];         /* smarthost for all remote mail ("" = MX lookup) */
	int64_t relay_port;
	char relay_user[320];
	char relay_password[256];
	int64_t remote_port;          /* port of remote MXs (25; tests use another) */
	int64_t remote_timeout;       /* seconds per SMTP client step */

	/* [dns] */
	char dns_servers[256];        /* "127.0.0.1:5353 ..."; "" = /etc/resolv.conf */
	int64_t dns_timeout;

	/* [mailauth] */
	char dmarc_reject[16];        /* reject | quarantine | tag */
	char dmarc_quarantine[16];
	char spf_fail[16];

	/* [brand.DOMAIN] */
	struct brand brands[CONFIG_MAX_BRANDS];
	size_t nbrands;
};

/* Fill defaults (port base as given). */
void config_defaults(struct config *c, const char *data_dir, int64_t port_base);
/* Load DATA_DIR/yizhan.conf over the defaults. Errors name file, line and key. */
int config_load(struct config *c, const char *data_dir, struct err *err) YZ_WUR;
/* Resolve a config path against the data dir into out. */
void config_path(const struct config *c, const char *p, char *out, size_t outsz);
/* The brand for a domain, or NULL. */
const struct brand *config_brand(const struct config *c, const char *domain);

#endif
