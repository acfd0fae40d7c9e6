/* The whole HTTP surface. Policy lives in the flags; rt_dispatch() enforces it. The same table
 * feeds /api/v1/openapi.json. Order matters only where patterns overlap, and the unit test
 * proves none do. */
#include "api/api.h"
#include "lib/util.h"
#include "metrics.h"
#include "router.h"
#include "web/web.h"

#define SMALL_JSON (16 * 1024)

const struct route rt_routes[] = {
	/* sign-in and session */
	{.methods = RT_POST, .pattern = "/api/v1/session", .fn = api_session_create,
	 .flags = RT_PUBLIC, .max_body = 1024, .summary = "Sign in with HTTP SCRAM-SHA-256 (RFC 7804)",
	 .tag = "session"},
	{.methods = RT_DELETE, .pattern = "/api/v1/session", .fn = api_session_delete,
	 .flags = RT_AUTH | RT_PARTIAL | RT_CSRF, .summary = "Sign out", .tag = "session"},
	{.methods = RT_POST, .pattern = "/api/v1/session/totp", .fn = api_session_totp,
	 .flags = RT_AUTH | RT_PARTIAL | RT_CSRF | RT_JSON, .max_body = SMALL_JSON,
	 .summary = "Complete sign-in with a TOTP code", .tag = "session"},
	{.methods = RT_POST, .pattern = "/api/v1/totp/enrol", .fn = api_totp_enrol,
	 .flags = RT_AUTH | RT_PARTIAL | RT_CSRF | RT_JSON, .max_body = SMALL_JSON,
	 .summary = "Start TOTP enrolment", .tag = "session"},
	{.methods = RT_POST, .pattern = "/api/v1/totp/confirm", .fn = api_totp_confirm,
	 .flags = RT_AUTH | RT_PARTIAL | RT_CSRF | RT_JSON, .max_body = SMALL_JSON,
	 .summary = "Confirm TOTP enrolment with a code", .tag = "session"},
	{.methods = RT_GET, .pattern = "/api/v1/me", .fn = api_me,
	 .flags = RT_AUTH | RT_PARTIAL, .scope = "profile.read", .summary = "The signed-in account",
	 .tag = "session"},

	/* audit: the auditor role only */
	{.methods = RT_GET, .pattern = "/api/v1/audit", .fn = api_audit_list, .flags = RT_AUTH,
	 .roles = ROLE_AUDITOR, .summary = "Audit records, newest first, paged", .tag = "audit"},
	{.methods = RT_GET, .pattern = "/api/v1/audit/export", .fn = api_audit_export,
	 .flags = RT_AUTH, .roles = ROLE_AUDITOR,
	 .summary = "Export audit records as CSV or JSON", .tag = "audit"},

	/* service */
	{.methods = RT_GET, .pattern = "/api/v1/openapi.json", .fn = api_openapi,
	 .flags = RT_PUBLIC, .summary = "This document", .tag = "meta"},
	{.methods = RT_GET, .pattern = "/healthz", .fn = api_healthz, .flags = RT_PUBLIC,
	 .summary = "Liveness", .tag = "meta"},
	{.methods = RT_GET, .pattern = "/metrics", .fn = metrics_handler, .flags = RT_PUBLIC,
	 .summary = "Prometheus metrics", .tag = "meta"},

	/* pages and assets */
	{.methods = RT_GET, .pattern = "/login", .fn = web_login_page, .flags = RT_PUBLIC,
	 .summary = "Sign-in page", .tag = "pages"},
	{.methods = RT_GET, .pattern = "/", .fn = web_app_page, .flags = RT_AUTH | RT_PAGE,
	 .summary = "Webmail app shell", .tag = "pages"},
	{.methods = RT_GET, .pattern = "/admin", .fn = web_admin_page, .flags = RT_AUTH | RT_PAGE,
	 .roles = ROLE_ADMINS, .summary = "Admin console shell", .tag = "pages"},
	{.methods = RT_GET, .pattern = "/static/{file}", .fn = web_static, .flags = RT_PUBLIC,
	 .summary = "Bundled assets", .tag = "pages"},
	{.methods = RT_GET, .pattern = "/brand.css", .fn = web_brand_css, .flags = RT_PUBLIC,
	 .summary = "Per-domain brand colours", .tag = "pages"},
	{.methods = RT_GET, .pattern = "/brand/logo", .fn = web_brand_logo, .flags = RT_PUBLIC,
	 .summary = "Per-domain logo", .tag = "pages"},
};

const size_t rt_nroutes = ARRAY_LEN(rt_routes);
