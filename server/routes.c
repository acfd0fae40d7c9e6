/* The whole HTTP surface. Policy lives in the flags; rt_dispatch() enforces it. The same table
 * feeds /api/v1/openapi.json. Order matters only where patterns overlap, and the unit test
 * proves none do. */
#include "api/api.h"
#include "lib/util.h"
#include "metrics.h"
#include "router.h"
#include "web/web.h"

#define SMALL_JSON (16 * 1024)
#define BATCH_JSON (256 * 1024)       /* 10,000 ids and a note */
#define MAIL_UPLOAD_MAX (64u << 20)   /* mime.max_bytes default */

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

	/* mail: folders, messages, search (user accounts; admin roles have no mailbox) */
	{.methods = RT_GET, .pattern = "/api/v1/folders", .fn = api_folder_list, .flags = RT_AUTH,
	 .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "Folders with total and unread counts, and the mailbox usage", .tag = "mail"},
	{.methods = RT_POST, .pattern = "/api/v1/folders", .fn = api_folder_create,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = SMALL_JSON,
	 .scope = "mail.write", .audit = "mail.folder.create",
	 .summary = "Create a folder (nested under parent)", .tag = "mail"},
	{.methods = RT_PATCH, .pattern = "/api/v1/folders/{id}", .fn = api_folder_patch,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = SMALL_JSON,
	 .scope = "mail.write", .summary = "Rename or move a folder", .tag = "mail"},
	{.methods = RT_DELETE, .pattern = "/api/v1/folders/{id}", .fn = api_folder_delete,
	 .flags = RT_AUTH | RT_CSRF, .roles = ROLE_USER, .scope = "mail.write",
	 .audit = "mail.folder.delete",
	 .summary = "Delete a folder and its subfolders; their mail goes to Trash", .tag = "mail"},
	{.methods = RT_POST, .pattern = "/api/v1/folders/{id}/messages", .fn = api_message_upload,
	 .flags = RT_AUTH | RT_CSRF, .roles = ROLE_USER, .max_body = MAIL_UPLOAD_MAX,
	 .scope = "mail.write", .summary = "Store a message (message/rfc822 body) in a folder",
	 .tag = "mail"},
	{.methods = RT_GET, .pattern = "/api/v1/messages", .fn = api_message_list,
	 .flags = RT_AUTH, .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "One page of a folder (cursor paging; sort, order, filter)", .tag = "mail"},
	{.methods = RT_PATCH, .pattern = "/api/v1/messages", .fn = api_message_patch,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = BATCH_JSON,
	 .scope = "mail.write", .audit = "mail.change",
	 .summary = "Change messages: flags, colour, pin, note, keywords, move, copy, restore",
	 .tag = "mail"},
	{.methods = RT_DELETE, .pattern = "/api/v1/messages", .fn = api_message_delete,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = BATCH_JSON,
	 .scope = "mail.write", .audit = "mail.delete",
	 .summary = "Delete messages: to Trash, or expunge (recoverable) when in Trash",
	 .tag = "mail"},
	{.methods = RT_GET, .pattern = "/api/v1/messages/{id}", .fn = api_message_get,
	 .flags = RT_AUTH, .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "A message: decoded headers, text, HTML, attachments, note", .tag = "mail"},
	{.methods = RT_GET, .pattern = "/api/v1/messages/{id}/raw", .fn = api_message_raw,
	 .flags = RT_AUTH, .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "The message as stored (.eml)", .tag = "mail"},
	{.methods = RT_GET, .pattern = "/api/v1/messages/{id}/parts/{part}", .fn = api_message_part,
	 .flags = RT_AUTH, .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "Download one part (attachment)", .tag = "mail"},
	{.methods = RT_GET, .pattern = "/api/v1/search", .fn = api_search, .flags = RT_AUTH,
	 .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "Full-text search with the query syntax; results with highlights", .tag = "mail"},
	{.methods = RT_POST, .pattern = "/api/v1/uploads", .fn = api_upload_create,
	 .flags = RT_AUTH | RT_CSRF, .roles = ROLE_USER, .max_body = MAIL_UPLOAD_MAX,
	 .scope = "mail.send",
	 .summary = "Upload an attachment (the body is the file; ?name=FILE)", .tag = "send"},
	{.methods = RT_POST, .pattern = "/api/v1/messages/send", .fn = api_message_send,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = BATCH_JSON * 40,
	 .scope = "mail.send", .audit = "mail.send",
	 .summary = "Send: build the message, keep it in Sent, queue it (optional undo delay)",
	 .tag = "send"},
	{.methods = RT_POST, .pattern = "/api/v1/outbox/{qid}/cancel", .fn = api_send_cancel,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = SMALL_JSON,
	 .scope = "mail.send", .audit = "mail.send.undo",
	 .summary = "Undo send within its delay; the Sent copy becomes a draft", .tag = "send"},
	{.methods = RT_POST, .pattern = "/api/v1/drafts", .fn = api_draft_create,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = BATCH_JSON * 40,
	 .scope = "mail.write", .summary = "Save a draft in Drafts", .tag = "send"},
	{.methods = RT_PUT, .pattern = "/api/v1/drafts/{id}", .fn = api_draft_update,
	 .flags = RT_AUTH | RT_CSRF | RT_JSON, .roles = ROLE_USER, .max_body = BATCH_JSON * 40,
	 .scope = "mail.write", .summary = "Replace a draft (the answer names the new id)",
	 .tag = "send"},
	{.methods = RT_GET, .pattern = "/api/v1/threads/{id}", .fn = api_thread_get,
	 .flags = RT_AUTH, .roles = ROLE_USER, .scope = "mail.read",
	 .summary = "The messages of a thread, oldest first", .tag = "mail"},

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
