/* Pages (/login, /, /admin), assets (/static/...) and branding (/brand.css, /brand/logo). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "lib/log.h"
#include "lib/util.h"
#include "web.h"

#define STATIC_MAX_FILES 256
#define STATIC_MAX_BYTES (32 * 1024 * 1024)
#define PAGE_MAX_BYTES (1024 * 1024)
#define LOGO_MAX_BYTES (1024 * 1024)

struct asset {
	char name[128];
	char *data;
	size_t len;
	const char *type;
	char etag[24];
	char *gz;         /* gzip of data, for text types worth it; NULL otherwise */
	size_t gz_len;
	char gz_etag[28]; /* a different representation has its own ETag (RFC 9110 8.8.3) */
};

struct web {
	char *login_tmpl, *app_tmpl;
	size_t login_len, app_len;
	struct i18n *zh, *en;
	struct asset assets[STATIC_MAX_FILES];
	size_t nassets;
	struct asset logos[CONFIG_MAX_BRANDS]; /* same index as cfg->brands */
};

static int read_file(const char *path, size_t max, char **data_r, size_t *len_r, struct err *err)
{
	FILE *f = fopen(path, "rb");
	char *d;
	size_t n;

	if (f == NULL)
		return err_set(err, ERR_IO, "%s: cannot open", path);
	d = xmalloc(max + 1);
	n = fread(d, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(d);
		return err_set(err, ERR_LIMIT, "%s: larger than %zu bytes", path, max);
	}
	d[n] = '\0';
	*data_r = d;
	*len_r = n;
	return 0;
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".js", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"},                 {".png", "image/png"},
		{".ico", "image/x-icon"},                  {".woff2", "font/woff2"},
		{".json", "application/json"},             {".map", "application/json"},
		{".txt", "text/plain; charset=utf-8"},     {".jpg", "image/jpeg"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < ARRAY_LEN(types); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static bool safe_name(const char *n)
{
	if (n[0] == '\0' || n[0] == '.' || strlen(n) >= 128)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '.' || *n == '_' || *n == '-'))
			return false;
	return true;
}

/* gzip (RFC 1952) of a text asset, once at load: the bundle is a third of its size on the
 * wire. Kept only when it saves at least a tenth. */
static void asset_gzip(struct asset *a)
{
	z_stream z = {0};
	uLong cap;
	char *out;

	if (strncmp(a->type, "text/", 5) != 0 && strcmp(a->type, "image/svg+xml") != 0 &&
	    strcmp(a->type, "application/json") != 0)
		return;
	if (a->len < 1024 || deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	cap = deflateBound(&z, (uLong)a->len);
	out = xmalloc(cap);
	z.next_in = (Bytef *)a->data;
	z.avail_in = (uInt)a->len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out < a->len - a->len / 10) {
		a->gz = out;
		a->gz_len = z.total_out;
		snprintf(a->gz_etag, sizeof(a->gz_etag), "%.*s-gz\"", (int)strlen(a->etag) - 1, a->etag);
	} else {
		free(out);
	}
	deflateEnd(&z);
}

static void asset_fill(struct asset *a, const char *name, char *data, size_t len)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	char hex[17];
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->data = data;
	a->len = len;
	a->type = content_type(name);
	SHA256((unsigned char *)data, len, h);
	hex_encode(h, 8, hex);
	snprintf(a->etag, sizeof(a->etag), "\"%s\"", hex);
	asset_gzip(a);
}

static int load_static(struct web *w, const char *dir, struct err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t total = 0;

	if (d == NULL) {
		/* the server still serves the API; pages will lack their script */
		log_warn("web", "static_dir=%s msg=\"missing: run scripts/build-web.sh\"", dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char path[2048];
		struct stat st;
		char *data;
		size_t len;
		if (!safe_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (w->nassets == STATIC_MAX_FILES || total + (size_t)st.st_size > STATIC_MAX_BYTES) {
			closedir(d);
			return err_set(err, ERR_LIMIT, "%s: more than %d files or %d bytes", dir,
				       STATIC_MAX_FILES, STATIC_MAX_BYTES);
		}
		if (read_file(path, STATIC_MAX_BYTES, &data, &len, err) < 0) {
			closedir(d);
			return -1;
		}
		total += len;
		asset_fill(&w->assets[w->nassets++], de->d_name, data, len);
	}
	closedir(d);
	return 0;
}

static int load_i18n(const char *dir, const char *lang, struct i18n **t_r, struct err *err)
{
	char path[2048], *text;
	size_t len;
	int ret;
	snprintf(path, sizeof(path), "%s/i18n/%s.ini", dir, lang);
	if (read_file(path, PAGE_MAX_BYTES, &text, &len, err) < 0)
		return -1;
	ret = i18n_parse(text, len, path, t_r, err);
	free(text);
	return ret;
}

int web_open(const struct config *cfg, struct web **w_r, struct err *err)
{
	struct web *w = xcalloc(1, sizeof(*w));
	char path[2048];

	snprintf(path, sizeof(path), "%s/login.html", cfg->templates_dir);
	if (read_file(path, PAGE_MAX_BYTES, &w->login_tmpl, &w->login_len, err) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/app.html", cfg->templates_dir);
	if (read_file(path, PAGE_MAX_BYTES, &w->app_tmpl, &w->app_len, err) < 0)
		goto fail;
	if (load_i18n(cfg->templates_dir, "zh-CN", &w->zh, err) < 0 ||
	    load_i18n(cfg->templates_dir, "en", &w->en, err) < 0)
		goto fail;
	if (load_static(w, cfg->static_dir, err) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->nbrands; i++) {
		char lp[CONFIG_PATH_MAX], *data;
		size_t len;
		if (cfg->brands[i].logo[0] == '\0')
			continue;
		config_path(cfg, cfg->brands[i].logo, lp, sizeof(lp));
		if (read_file(lp, LOGO_MAX_BYTES, &data, &len, err) < 0)
			goto fail;
		asset_fill(&w->logos[i], cfg->brands[i].logo, data, len);
	}
	*w_r = w;
	return 0;
fail:
	web_free(&w);
	return -1;
}

void web_free(struct web **wp)
{
	struct web *w = *wp;
	if (w == NULL)
		return;
	free(w->login_tmpl);
	free(w->app_tmpl);
	i18n_free(&w->zh);
	i18n_free(&w->en);
	for (size_t i = 0; i < w->nassets; i++)
	{
		free(w->assets[i].data);
		free(w->assets[i].gz);
	}
	for (size_t i = 0; i < CONFIG_MAX_BRANDS; i++) {
		free(w->logos[i].data);
		free(w->logos[i].gz);
	}
	free(w);
	*wp = NULL;
}

/* "zh-CN" unless the caller asks for English (?lang=en, or English first in
 * Accept-Language). Chinese is the product's first language. */
static const char *pick_lang(struct req *rq)
{
	const char *q = rt_query(rq, "lang"), *al;
	if (q)
		return strncasecmp(q, "en", 2) == 0 ? "en" : "zh-CN";
	if (rq->caller && rq->caller->lang[0])
		return strcmp(rq->caller->lang, "en") == 0 ? "en" : "zh-CN";
	al = rt_header(rq, "Accept-Language");
	return al && strncasecmp(al, "en", 2) == 0 ? "en" : "zh-CN";
}

static bool domain_chars_ok(const char *d)
{
	if (*d == '\0' || strlen(d) > 253)
		return false;
	for (; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		      (*d >= '0' && *d <= '9') || *d == '.' || *d == '-'))
			return false;
	return true;
}

/* The mail domain a page is for: ?d=, else the Host name without a "mail."/"webmail."
 * prefix if a brand is configured for it, else the configured default domain. */
static const char *pick_domain(struct req *rq)
{
	const struct config *cfg = &rq->app->cfg;
	const char *d = rt_query(rq, "d"), *host;
	char *h, *colon;

	if (rq->caller)
		return strrchr(rq->caller->address, '@') + 1;
	if (d && domain_chars_ok(d) && config_brand(cfg, d))
		return d;
	host = rt_header(rq, "Host");
	if (host && strlen(host) < 256) {
		h = arena_strdup(rq->arena, host);
		if ((colon = strchr(h, ':')) != NULL)
			*colon = '\0';
		if (str_has_prefix(h, "mail."))
			h += 5;
		else if (str_has_prefix(h, "webmail."))
			h += 8;
		if (domain_chars_ok(h) && config_brand(cfg, h))
			return h;
	}
	return cfg->default_domain[0] ? cfg->default_domain : "localhost";
}

static int render(struct req *rq, struct resp *rs, const char *tmpl, size_t len,
		  const struct tmpl_var *vars, size_t nvars, const char *lang)
{
	const struct web *w = rq->app->web;
	struct err err;
	buf_reset(&rs->body);
	if (tmpl_render(tmpl, len, vars, nvars, strcmp(lang, "en") == 0 ? w->en : w->zh,
			&rs->body, &err) < 0) {
		log_error("web", "req=%s err=\"%s\"", rq->id, err.msg);
		buf_reset(&rs->body);
		rs->status = 500;
		rt_resp_text(rs, "text/plain; charset=utf-8", "internal error\n", 15);
		return 500;
	}
	rs->status = 200;
	rs->content_type = "text/html; charset=utf-8";
	rt_resp_header(rs, "Cache-Control", "no-store");
	return 200;
}

int web_login_page(struct req *rq, struct resp *rs)
{
	const char *lang = pick_lang(rq), *domain = pick_domain(rq);
	const struct brand *b = config_brand(&rq->app->cfg, domain);
	const struct web *w = rq->app->web;
	const struct i18n *t = strcmp(lang, "en") == 0 ? w->en : w->zh;
	const char *brand_name = b && b->name[0] ? b->name : i18n_get(t, "brand.default");
	struct tmpl_var vars[] = {
		{"lang", lang},
		{"other_lang_href", strcmp(lang, "en") == 0 ? "/login?lang=zh-CN" : "/login?lang=en"},
		{"domain", domain},
		{"brand_name", brand_name ? brand_name : "Yizhan"},
		{"logo_url", b && b->logo[0] ? arena_printf(rq->arena, "/brand/logo?d=%s", domain)
					     : "/static/logo.svg"},
	};
	return render(rq, rs, w->login_tmpl, w->login_len, vars, ARRAY_LEN(vars), lang);
}

static int shell(struct req *rq, struct resp *rs, const char *view)
{
	const struct caller *c = rq->caller;
	const char *lang = pick_lang(rq);
	struct tmpl_var vars[] = {
		{"lang", lang},         {"view", view},
		{"name", c->name[0] ? c->name : c->address},
		{"address", c->address}, {"role", role_name(c->role)},
		{"csrf", c->csrf},       {"domain", strrchr(c->address, '@') + 1},
	};
	return render(rq, rs, rq->app->web->app_tmpl, rq->app->web->app_len, vars,
		      ARRAY_LEN(vars), lang);
}

static int redirect(struct resp *rs, const char *to)
{
	rs->status = 302;
	rt_resp_header(rs, "Location", to);
	rt_resp_text(rs, "text/plain; charset=utf-8", "", 0);
	return 302;
}

int web_app_page(struct req *rq, struct resp *rs)
{
	if (role_is_admin(rq->caller->role))
		return redirect(rs, "/admin"); /* admin roles have no mailbox */
	rs->csp_mail_images = true;
	return shell(rq, rs, "mail");
}

int web_admin_page(struct req *rq, struct resp *rs)
{
	return shell(rq, rs, "admin");
}

/* Does Accept-Encoding take gzip? A token "gzip" (or "*") whose q is not 0 (RFC 9110
 * 12.5.3). */
static bool accepts_gzip(const char *ae)
{
	while (ae && *ae) {
		size_t n;
		const char *q;
		ae += strspn(ae, " \t,");
		n = strcspn(ae, " \t;,");
		if ((n == 4 && strncasecmp(ae, "gzip", 4) == 0) || (n == 1 && *ae == '*')) {
			q = ae + n;
			q += strspn(q, " \t");
			if (*q != ';')
				return true;
			q = strchr(q, '=');
			return q == NULL || strtod(q + 1, NULL) > 0.0;
		}
		ae = strchr(ae, ',');
	}
	return false;
}

static int send_asset(struct req *rq, struct resp *rs, const struct asset *a)
{
	const char *inm = rt_header(rq, "If-None-Match");
	bool gz = a->gz != NULL && accepts_gzip(rt_header(rq, "Accept-Encoding"));
	const char *etag = gz ? a->gz_etag : a->etag;

	rt_resp_header(rs, "ETag", etag);
	rt_resp_header(rs, "Cache-Control", "no-cache");
	if (a->gz)
		rt_resp_header(rs, "Vary", "Accept-Encoding");
	rs->content_type = a->type;
	if (inm && strcmp(inm, etag) == 0) {
		rs->status = 304;
		return 304;
	}
	if (gz)
		rt_resp_header(rs, "Content-Encoding", "gzip");
	rs->status = 200;
	rs->file_data = gz ? a->gz : a->data;
	rs->file_len = gz ? a->gz_len : a->len;
	return 200;
}

static int not_found(struct resp *rs);

int web_static(struct req *rq, struct resp *rs)
{
	const char *name = rt_param(rq, "file");
	const struct web *w = rq->app->web;
	for (size_t i = 0; name && i < w->nassets; i++)
		if (strcmp(w->assets[i].name, name) == 0)
			return send_asset(rq, rs, &w->assets[i]);
	return not_found(rs);
}

int web_brand_css(struct req *rq, struct resp *rs)
{
	const struct brand *b = config_brand(&rq->app->cfg, pick_domain(rq));
	const char *css = arena_printf(rq->arena, ":root{--brand:%s}\n",
				       b && b->color[0] ? b->color : "#1f6feb");
	rt_resp_header(rs, "Cache-Control", "no-cache");
	rt_resp_text(rs, "text/css; charset=utf-8", css, strlen(css));
	rs->status = 200;
	return 200;
}

int web_brand_logo(struct req *rq, struct resp *rs)
{
	const struct config *cfg = &rq->app->cfg;
	const struct brand *b = config_brand(cfg, pick_domain(rq));
	if (b && rq->app->web->logos[b - cfg->brands].data)
		return send_asset(rq, rs, &rq->app->web->logos[b - cfg->brands]);
	for (size_t i = 0; i < rq->app->web->nassets; i++)
		if (strcmp(rq->app->web->assets[i].name, "logo.svg") == 0)
			return send_asset(rq, rs, &rq->app->web->assets[i]);
	return not_found(rs);
}

/* The router's uniform 404 body (server/router.c) is the same text. */
static int not_found(struct resp *rs)
{
	static const char body[] =
		"{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\"}}";
	rs->status = 404;
	rt_resp_text(rs, "application/json; charset=utf-8", body, sizeof(body) - 1);
	return 404;
}
