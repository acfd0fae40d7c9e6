/* web.h: server-rendered pages from templates/, the bundled assets from static/dist, and the
 * per-domain branding. Everything is read into memory by web_open() (and again on reload),
 * so requests never touch the disk. */
#ifndef YZ_WEB_H
#define YZ_WEB_H

#include "lib/app.h"
#include "lib/buf.h"
#include "lib/config.h"
#include "lib/err.h"
#include "lib/rt.h"

struct web;

int web_open(const struct config *cfg, struct web **w_r, struct err *err) YZ_WUR;
void web_free(struct web **wp);

/* Template engine: "{{name}}" is the HTML-escaped variable, "{{t:key}}" the HTML-escaped
 * string from templates/i18n/LANG.ini. An unknown name is an error (never silently empty). */
struct tmpl_var {
	const char *name, *value;
};
struct i18n;
int tmpl_render(const char *tmpl, size_t len, const struct tmpl_var *vars, size_t nvars,
		const struct i18n *t, struct buf *out, struct err *err) YZ_WUR;
/* Load an i18n table from text (cfg syntax); tmpl tests use it directly. */
int i18n_parse(const char *text, size_t len, const char *fname, struct i18n **t_r,
	       struct err *err) YZ_WUR;
void i18n_free(struct i18n **tp);
const char *i18n_get(const struct i18n *t, const char *key);

int web_login_page(struct req *rq, struct resp *rs);
int web_app_page(struct req *rq, struct resp *rs);
int web_admin_page(struct req *rq, struct resp *rs);
int web_static(struct req *rq, struct resp *rs);
int web_brand_css(struct req *rq, struct resp *rs);
int web_brand_logo(struct req *rq, struct resp *rs);

#endif
