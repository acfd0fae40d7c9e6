/* yizhan serve: bind, drop privileges, open the stores, serve until SIGTERM; SIGHUP reloads
 * the configuration, templates, assets and TLS certificate without dropping the listener. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "http.h"
#include "lib/log.h"
#include "lib/util.h"
#include "maint.h"
#include "metrics.h"
#include "router.h"
#include "mta/deliver.h"
#include "mta/dns.h"
#include "mta/mailauth.h"
#include "search/index.h"
#include "smtp/smtp.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "store/queue.h"
#include "store/audit.h"
#include "store/mail.h"
#include "store/auth.h"
#include "store/store.h"
#include "web/web.h"

static const char serve_usage[] =
	"usage: yizhan serve --data DIR\n"
	"\n"
	"Runs in the foreground. SIGTERM or SIGINT stop it gracefully; SIGHUP reloads\n"
	"yizhan.conf, templates, assets and the TLS certificate.\n";

static enum log_level level_of(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return LOG_DEBUG;
	if (strcmp(s, "warn") == 0)
		return LOG_WARN;
	if (strcmp(s, "error") == 0)
		return LOG_ERROR;
	return LOG_INFO;
}

static struct maint *maint;

static enum mailauth_policy policy_of(const char *s)
{
	return strcmp(s, "reject") == 0       ? MAILAUTH_REJECT
	       : strcmp(s, "quarantine") == 0 ? MAILAUTH_QUARANTINE
					      : MAILAUTH_TAG;
}

/* The queue shares the mail store's blobs, so a delivered message costs no copy. */
static int open_mta(struct app *app, struct err *err)
{
	struct mta_queue_opts qo;
	struct mailauth_opts mo = {
		.authserv_id = app->cfg.hostname,
		.dmarc_reject = policy_of(app->cfg.dmarc_reject),
		.dmarc_quarantine = policy_of(app->cfg.dmarc_quarantine),
		.spf_fail = policy_of(app->cfg.spf_fail),
	};

	mta_queue_opts_default(&qo);
	qo.lifetime_s = app->cfg.queue_lifetime_hours * 3600;
	qo.delay_warn_s = app->cfg.queue_delay_warn_hours * 3600;
	qo.inflow_delay_ms = app->cfg.queue_inflow_delay_ms;
	if (mta_queue_open(app->cfg.data_dir, &qo, mail_store_blobs(app->mail), &app->queue, err) < 0 ||
	    dns_resolver_new(app->cfg.dns_servers, (int)app->cfg.dns_timeout, &app->dns, err) < 0 ||
	    mailauth_new(&mo, app->dns, &app->mailauth, err) < 0)
		return -1;
	return mta_delivery_start(app, &app->delivery, err);
}

/* Templates and assets are read before privileges drop (the install tree may not be readable
 * by the service user); databases are opened after, so every file they create is its own. */
static int open_app(struct app *app, const char *data)
{
	struct err err;
	struct mail_store_opts mo;

	cli_mail_opts(&app->cfg, &mo);
	mo.keep_parsed = true; /* this process indexes what it stores */
	if (store_open(data, false, &app->store, &err) < 0 ||
	    store_audit_open(data, &app->audit, &err) < 0 ||
	    mail_store_open(data, &mo, &app->mail, &err) < 0 ||
	    search_indexer_start(app->mail, &app->indexer, &err) < 0 ||
	    open_mta(app, &err) < 0)
		return cli_fail("%s", err.msg);
	maint = maint_start(app->mail);
	app->events = api_events_new(app->mail);
	app->auth_cache = auth_cache_new((size_t)app->cfg.auth_cache_entries,
					 app->cfg.auth_cache_seconds);
	auth_cache_set_iterations(app->auth_cache, (unsigned)app->cfg.scram_iterations);
	app->api = api_state_new();
	app->metrics = metrics_new(rt_nroutes);
	app->routes = rt_routes;
	app->nroutes = rt_nroutes;
	app->started = time_now();
	rand_bytes(app->secret, sizeof(app->secret));
	return 0;
}

static void close_app(struct app *app)
{
	api_events_free(&app->events);
	mta_delivery_stop(&app->delivery);
	mailauth_free(&app->mailauth);
	dns_resolver_free(&app->dns);
	mta_queue_close(&app->queue);
	maint_stop(&maint);
	search_indexer_stop(&app->indexer);
	mail_store_close(&app->mail);
	web_free(&app->web);
	api_state_free(&app->api);
	auth_cache_free(&app->auth_cache);
	metrics_free(&app->metrics);
	store_audit_close(&app->audit);
	store_close(&app->store);
}

#define RELOAD_DRAIN_MS 5000

struct mail_servers {
	struct smtp_server *smtp;
	struct imap_server *imap;
	struct pop3_server *pop3;
};

/* SIGHUP: load everything new first. Only if all of it is good, a new HTTPS daemon starts on
 * the same socket with the new snapshot, and the old one stops accepting and finishes what
 * it has (keep-alive connections idle past RELOAD_DRAIN_MS are closed). The mail listeners
 * take the new certificate and key for their next connections, and their new limits; their
 * ports stay until a restart. */
static void reload(struct app *app, struct http_server **srv, int fd,
		   const struct mail_servers *mail)
{
	struct app napp = *app;
	struct http_server *nsrv;
	struct err err;

	if (config_load(&napp.cfg, app->cfg.data_dir, &err) < 0 ||
	    web_open(&napp.cfg, &napp.web, &err) < 0) {
		log_error("serve", "msg=\"reload refused, keeping the running config\" err=\"%s\"",
			  err.msg);
		return;
	}
	if (napp.cfg.https_port != app->cfg.https_port ||
	    strcmp(napp.cfg.listen, app->cfg.listen) != 0)
		log_warn("serve", "msg=\"listen address changes need a restart\"");
	napp.cfg.https_port = app->cfg.https_port;
	snprintf(napp.cfg.listen, sizeof(napp.cfg.listen), "%s", app->cfg.listen);
	if (http_start(&napp, fd, &nsrv, &err) < 0) {
		log_error("serve", "msg=\"reload refused, keeping the running config\" err=\"%s\"",
			  err.msg);
		web_free(&napp.web);
		return;
	}
	http_stop(srv, RELOAD_DRAIN_MS);
	web_free(&app->web);
	*app = napp;
	*srv = nsrv;
	log_set_level(level_of(app->cfg.log_level));
	if (smtp_server_reload(mail->smtp, &app->cfg, &err) < 0 ||
	    imap_server_reload(mail->imap, &app->cfg, &err) < 0 ||
	    pop3_server_reload(mail->pop3, &app->cfg, &err) < 0)
		log_error("serve", "msg=\"mail limits not reloaded\" err=\"%s\"", err.msg);
	if (smtp_server_reload_tls(mail->smtp, &app->cfg, &err) < 0 ||
	    imap_server_reload_tls(mail->imap, &app->cfg, &err) < 0 ||
	    pop3_server_reload_tls(mail->pop3, &app->cfg, &err) < 0)
		log_error("serve", "msg=\"mail TLS not reloaded\" err=\"%s\"", err.msg);
	log_info("serve", "msg=\"configuration reloaded\"");
}

int cli_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct app app;
	struct http_server *srv = NULL;
	struct smtp_server *smtp = NULL;
	int smtp_fds[SMTP_NKINDS] = {-1, -1, -1};
	struct imap_server *imap = NULL;
	int imap_fds[IMAP_NKINDS] = {-1, -1};
	struct pop3_server *pop3 = NULL;
	int pop3_fds[POP3_NKINDS] = {-1, -1};
	const char *data = NULL;
	struct err err;
	sigset_t set;
	int c, fd, sig;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'd')
			data = optarg;
		else if (c == 'h')
			return fputs(serve_usage, stdout), 0;
		else
			return fputs(serve_usage, stderr), 2;
	}
	if (data == NULL || optind != argc)
		return fputs(serve_usage, stderr), 2;
	memset(&app, 0, sizeof(app));
	if (config_load(&app.cfg, data, &err) < 0)
		return cli_fail("%s", err.msg);
	log_set_level(level_of(app.cfg.log_level));
	/* signals are taken synchronously by this thread; every other thread blocks them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (http_listen(app.cfg.listen, (int)app.cfg.https_port, &fd, &err) < 0)
		return cli_fail("%s", err.msg);
	{
		const int64_t ports[SMTP_NKINDS] = {app.cfg.smtp_port, app.cfg.submission_port,
						    app.cfg.submissions_port};
		for (int k = 0; k < SMTP_NKINDS; k++)
			if (http_listen(app.cfg.listen, (int)ports[k], &smtp_fds[k], &err) < 0)
				return cli_fail("%s", err.msg);
	}
	{
		const int64_t ports[IMAP_NKINDS] = {app.cfg.imap_port, app.cfg.imaps_port};
		for (int k = 0; k < IMAP_NKINDS; k++)
			if (http_listen(app.cfg.listen, (int)ports[k], &imap_fds[k], &err) < 0)
				return cli_fail("%s", err.msg);
	}
	{
		const int64_t ports[POP3_NKINDS] = {app.cfg.pop3_port, app.cfg.pop3s_port};
		for (int k = 0; k < POP3_NKINDS; k++)
			if (http_listen(app.cfg.listen, (int)ports[k], &pop3_fds[k], &err) < 0)
				return cli_fail("%s", err.msg);
	}
	if (web_open(&app.cfg, &app.web, &err) < 0)
		return cli_fail("%s", err.msg);
	if (geteuid() == 0 && cli_drop_privileges(&app.cfg) != 0)
		return 1;
	if (open_app(&app, data) != 0)
		return 1;
	if (http_start(&app, fd, &srv, &err) < 0 || smtp_server_start(&app, smtp_fds, &smtp, &err) < 0 ||
	    imap_server_start(&app, imap_fds, &imap, &err) < 0 ||
	    pop3_server_start(&app, pop3_fds, &pop3, &err) < 0) {
		imap_server_stop(&imap);
		smtp_server_stop(&smtp);
		http_stop(&srv, 0);
		close_app(&app);
		return cli_fail("%s", err.msg);
	}
	log_info("serve", "https=%s:%lld data=%s msg=\"yizhan %s ready\"", app.cfg.listen,
		 (long long)app.cfg.https_port, data, YZ_VERSION);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			struct mail_servers mail = {smtp, imap, pop3};
			reload(&app, &srv, fd, &mail);
			continue;
		}
		log_info("serve", "signal=%d msg=\"stopping\"", sig);
		break;
	}
	pop3_server_stop(&pop3);
	imap_server_stop(&imap);
	smtp_server_stop(&smtp);
	http_stop(&srv, 0);
	close_app(&app);
	log_info("serve", "msg=\"stopped\"");
	return 0;
}
