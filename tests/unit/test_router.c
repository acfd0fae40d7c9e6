/* Unit tests for server/router.h and the real route table (server/routes.c): no overlaps,
 * public routes on an explicit allow-list, policy enforced before any handler runs, one 404
 * for every unknown path, 405 with Allow, HEAD on GET routes, parameters, dot segments. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "lib/app.h"
#include "lib/util.h"
#include "server/metrics.h"
#include "server/router.h"
#include "store/audit.h"
#include "store/store.h"

/* Every route that needs no sign-in. Adding a public route means adding it here. */
static const char *const public_routes[] = {
    "POST /api/v1/session", "GET /api/v1/openapi.json", "GET /healthz",   "GET /metrics",
    "GET /login",           "GET /static/{file}",       "GET /brand.css", "GET /brand/logo",
};

static const char *const method_names[] = {"GET",    "HEAD",  "POST",   "PUT",
                                           "DELETE", "PATCH", "OPTIONS"};
#define NMETHODS 7

static unsigned first_method(unsigned methods)
{
	for (unsigned i = 0; i < NMETHODS; i++)
		if (methods & (1u << i))
			return 1u << i;
	return 0;
}

static const char *method_name(unsigned bit)
{
	for (unsigned i = 0; i < NMETHODS; i++)
		if (bit == (1u << i))
			return method_names[i];
	return "?";
}

/* A concrete path for a pattern: every {param} or {param*} becomes sub. */
static void probe(const char *pattern, const char *sub, char *out, size_t outsz)
{
	size_t o = 0;
	for (const char *p = pattern; *p && o + strlen(sub) + 1 < outsz;) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			assert_non_null(close);
			memcpy(out + o, sub, strlen(sub));
			o += strlen(sub);
			p = close + 1;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

/* ---- the table itself ---- */

static void test_routes_do_not_overlap(void **state)
{
	static const char *const subs[] = {"x", "new", "export", "openapi.json", "totp"};
	(void)state;
	assert_true(rt_nroutes > 0);
	for (size_t i = 0; i < rt_nroutes; i++) {
		for (size_t j = 0; j < rt_nroutes; j++) {
			unsigned common = rt_routes[i].methods & rt_routes[j].methods;
			if (i == j || common == 0)
				continue;
			if (strcmp(rt_routes[i].pattern, rt_routes[j].pattern) == 0)
				fail_msg("pattern %s appears twice for %s", rt_routes[i].pattern,
				         method_name(first_method(common)));
			for (size_t k = 0; k < ARRAY_LEN(subs); k++) {
				char path[512];
				unsigned allowed;
				probe(rt_routes[i].pattern, subs[k], path, sizeof(path));
				if (rt_match(&rt_routes[j], 1, path, first_method(common), NULL,
				             &allowed) != NULL)
					fail_msg("%s %s (from %s) also matches %s",
					         method_name(first_method(common)), path,
					         rt_routes[i].pattern, rt_routes[j].pattern);
			}
		}
	}
}

static bool on_allow_list(const char *entry)
{
	for (size_t i = 0; i < ARRAY_LEN(public_routes); i++)
		if (strcmp(public_routes[i], entry) == 0)
			return true;
	return false;
}

static void test_public_routes_are_deliberate(void **state)
{
	(void)state;
	for (size_t i = 0; i < rt_nroutes; i++) {
		const struct route *r = &rt_routes[i];
		assert_non_null(r->fn);
		assert_true(r->methods != 0);
		if (r->flags & RT_AUTH)
			continue;
		/* flags that only mean something after authentication */
		if (r->flags & (RT_PARTIAL | RT_CSRF | RT_PAGE) || r->roles || r->scope)
			fail_msg("public route %s carries sign-in policy", r->pattern);
		for (unsigned m = 0; m < NMETHODS; m++) {
			char entry[300];
			if (!(r->methods & (1u << m)))
				continue;
			snprintf(entry, sizeof(entry), "%s %s", method_names[m], r->pattern);
			if (!on_allow_list(entry))
				fail_msg("route \"%s\" is public but not on the allow-list", entry);
		}
	}
	/* and the list names no route that is gone or now needs sign-in */
	for (size_t k = 0; k < ARRAY_LEN(public_routes); k++) {
		bool found = false;
		for (size_t i = 0; i < rt_nroutes && !found; i++)
			for (unsigned m = 0; m < NMETHODS; m++) {
				char entry[300];
				snprintf(entry, sizeof(entry), "%s %s", method_names[m],
				         rt_routes[i].pattern);
				if ((rt_routes[i].methods & (1u << m)) &&
				    !(rt_routes[i].flags & RT_AUTH) &&
				    strcmp(entry, public_routes[k]) == 0)
					found = true;
			}
		if (!found)
			fail_msg("allow-list entry \"%s\" is not a public route", public_routes[k]);
	}
}

/* Session-authenticated routes that change state take the CSRF token. */
static void test_writes_need_csrf(void **state)
{
	(void)state;
	for (size_t i = 0; i < rt_nroutes; i++) {
		const struct route *r = &rt_routes[i];
		if ((r->flags & RT_AUTH) &&
		    (r->methods & (RT_POST | RT_PUT | RT_PATCH | RT_DELETE)) &&
		    !(r->flags & RT_CSRF))
			fail_msg("%s changes state without RT_CSRF", r->pattern);
	}
}

/* ---- dispatch against a temporary store ---- */

static struct app app;
static struct route spy_routes[64];
static char dir[64];
static int spy_calls;

static int spy(struct req *rq, struct resp *rs)
{
	(void)rq;
	spy_calls++;
	rs->status = 200;
	rt_resp_text(rs, "text/plain", "spy", 3);
	return 200;
}

struct call {
	const char *cookie, *authz, *csrf, *ctype;
	int status;
	char body[1024];
	char location[64], allow[64];
	int ran;
};

static const char *get_header(struct req *rq, const char *name)
{
	const struct call *c = rq->conn;
	if (strcasecmp(name, "Authorization") == 0)
		return c->authz;
	if (strcasecmp(name, "X-CSRF-Token") == 0)
		return c->csrf;
	if (strcasecmp(name, "Content-Type") == 0)
		return c->ctype;
	return NULL;
}

static const char *get_none(struct req *rq, const char *name)
{
	(void)rq, (void)name;
	return NULL;
}

static const char *get_cookie(struct req *rq, const char *name)
{
	const struct call *c = rq->conn;
	return strcmp(name, API_SESSION_COOKIE) == 0 ? c->cookie : NULL;
}

static void dispatch(unsigned method, const char *path, struct call *c)
{
	struct req rq = {0};
	struct resp rs = {0};
	int before = spy_calls;

	rq.arena = arena_new();
	rq.app = &app;
	rq.method = method;
	rq.method_name = method_name(method);
	rq.path = path;
	rq.ip = "192.0.2.9";
	rq.body = "";
	snprintf(rq.id, sizeof(rq.id), "test");
	rq.get_header = get_header;
	rq.get_query = get_none;
	rq.get_cookie = get_cookie;
	rq.conn = c;
	buf_init(&rs.body, 0);
	c->status = rt_dispatch(&rq, &rs);
	assert_int_equal(rs.status, c->status);
	snprintf(c->body, sizeof(c->body), "%s", buf_cstr(&rs.body));
	c->location[0] = c->allow[0] = '\0';
	for (size_t i = 0; i < rs.nheaders; i++) {
		if (strcmp(rs.headers[i].name, "Location") == 0)
			snprintf(c->location, sizeof(c->location), "%s", rs.headers[i].value);
		if (strcmp(rs.headers[i].name, "Allow") == 0)
			snprintf(c->allow, sizeof(c->allow), "%s", rs.headers[i].value);
	}
	c->ran = spy_calls - before;
	buf_release(&rs.body);
	arena_free(&rq.arena);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int64_t account(const char *addr, enum role role)
{
	int64_t id;
	struct err err;
	if (store_account_add(app.store, addr, NULL, role, "long enough pw", 4096, &id, &err) < 0)
		fail_msg("account %s: %s", addr, err.msg);
	return id;
}

static int app_setup(void **state)
{
	struct err err;
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/yz-router-XXXXXX");
	if (mkdtemp(dir) == NULL || rt_nroutes > ARRAY_LEN(spy_routes))
		return -1;
	config_defaults(&app.cfg, dir, 0);
	if (store_open(dir, true, &app.store, &err) < 0 || store_audit_init(dir, &err) < 0 ||
	    store_audit_open(dir, &app.audit, &err) < 0 ||
	    store_domain_add(app.store, "example.com", NULL, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	app.metrics = metrics_new(rt_nroutes);
	app.api = api_state_new();
	/* the real table with every handler replaced by a spy that counts calls */
	memcpy(spy_routes, rt_routes, rt_nroutes * sizeof(rt_routes[0]));
	for (size_t i = 0; i < rt_nroutes; i++)
		spy_routes[i].fn = spy;
	app.routes = spy_routes;
	app.nroutes = rt_nroutes;
	return 0;
}

static int app_teardown(void **state)
{
	(void)state;
	api_state_free(&app.api);
	metrics_free(&app.metrics);
	store_audit_close(&app.audit);
	store_close(&app.store);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void expect_refused_anonymous(const struct route *r, const char *path, struct call *c,
                                     int want_page, int want_api)
{
	dispatch(first_method(r->methods), path, c);
	if (c->ran)
		fail_msg("handler of %s ran for an anonymous caller", r->pattern);
	if (c->status != ((r->flags & RT_PAGE) ? want_page : want_api))
		fail_msg("%s %s: status %d (%s)", method_name(first_method(r->methods)), path,
		         c->status, c->body);
}

static void test_anonymous_refused(void **state)
{
	char bogus[65];
	(void)state;
	memset(bogus, 'a', 64);
	bogus[64] = '\0';
	for (size_t i = 0; i < rt_nroutes; i++) {
		const struct route *r = &spy_routes[i];
		char path[512];
		struct call c = {0};
		if (!(r->flags & RT_AUTH))
			continue;
		probe(r->pattern, "x", path, sizeof(path));
		/* no credentials at all */
		expect_refused_anonymous(r, path, &c, 302, 401);
		if (r->flags & RT_PAGE)
			assert_string_equal(c.location, "/login");
		else
			assert_non_null(strstr(c.body, "\"unauthorized\""));
		/* a session cookie that names no session */
		c = (struct call){.cookie = bogus};
		expect_refused_anonymous(r, path, &c, 302, 401);
		c = (struct call){.cookie = "not-hex"};
		expect_refused_anonymous(r, path, &c, 302, 401);
		/* an API token that does not exist (answered as an API error even on pages) */
		c = (struct call){
		    .authz = "Bearer "
		             "yz_0000000000000000000000000000000000000000000000000000000000000000"};
		expect_refused_anonymous(r, path, &c, 401, 401);
	}
}

/* The same routes do run for a signed-in caller of the right role (so the refusals above
 * come from the policy, not from something else in the request). */
static void test_signed_in_runs(void **state)
{
	static const enum role roles[] = {ROLE_USER, ROLE_SYSADMIN, ROLE_SECADMIN, ROLE_AUDITOR};
	char ids[4][65], csrfs[4][65], partial_id[65], partial_csrf[65];
	struct err err;
	(void)state;

	for (int k = 0; k < 4; k++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "%s@example.com", role_name(roles[k]));
		assert_int_equal(store_session_create(app.store, account(addr, roles[k]), true,
		                                      NULL, NULL, ids[k], csrfs[k], &err),
		                 0);
	}
	assert_int_equal(store_session_create(app.store, account("partial@example.com", ROLE_USER),
	                                      false, NULL, NULL, partial_id, partial_csrf, &err),
	                 0);

	for (size_t i = 0; i < rt_nroutes; i++) {
		const struct route *r = &spy_routes[i];
		unsigned m = first_method(r->methods);
		int ok = -1, bad = -1;
		char path[512];
		struct call c;
		if (!(r->flags & RT_AUTH))
			continue;
		probe(r->pattern, "x", path, sizeof(path));
		for (int k = 0; k < 4; k++) {
			if (!r->roles || (r->roles & roles[k]))
				ok = ok < 0 ? k : ok;
			else
				bad = bad < 0 ? k : bad;
		}
		assert_true(ok >= 0);
		c = (struct call){.cookie = ids[ok], .csrf = csrfs[ok]};
		dispatch(m, path, &c);
		if (c.status != 200 || c.ran != 1)
			fail_msg("%s %s as %s: status %d, ran %d (%s)", method_name(m), path,
			         role_name(roles[ok]), c.status, c.ran, c.body);
		/* a role the route does not allow */
		if (bad >= 0) {
			c = (struct call){.cookie = ids[bad], .csrf = csrfs[bad]};
			dispatch(m, path, &c);
			assert_int_equal(c.ran, 0);
			assert_int_equal(c.status, (r->flags & RT_PAGE) ? 302 : 403);
		}
		/* a session waiting for its second factor */
		c = (struct call){.cookie = partial_id, .csrf = partial_csrf};
		dispatch(m, path, &c);
		if (r->flags & RT_PARTIAL) {
			assert_int_equal(c.ran, 1);
		} else {
			assert_int_equal(c.ran, 0);
			assert_int_equal(c.status, (r->flags & RT_PAGE) ? 302 : 403);
		}
		/* a state-changing call without, or with the wrong, CSRF token */
		if ((r->flags & RT_CSRF) && (m & (RT_POST | RT_PUT | RT_PATCH | RT_DELETE))) {
			c = (struct call){.cookie = ids[ok]};
			dispatch(m, path, &c);
			assert_int_equal(c.ran, 0);
			assert_int_equal(c.status, 403);
			assert_non_null(strstr(c.body, "\"csrf\""));
			c = (struct call){.cookie = ids[ok],
			                  .csrf = csrfs[bad >= 0 ? bad : (ok + 1) % 4]};
			dispatch(m, path, &c);
			assert_int_equal(c.ran, 0);
			assert_int_equal(c.status, 403);
		}
	}
}

static void test_unknown_paths_same_404(void **state)
{
	static const char *const paths[] = {
	    "/nope",        "/api/v1/nope",
	    "/static/../x", "//",
	    "/login/",      "/api/v1/me/extra",
	    "/api/v1",      "/api/v1/",
	    "/healthz/",    "/static/",
	    "/static//x",   "/static/a/b",
	    "/LOGIN",       "",
	    "nope",         "/api/v1/session/totp/x",
	    "/./login",     "/login/.",
	};
	char first[1024] = "";
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		for (unsigned m = RT_GET; m <= RT_DELETE; m <<= 1) {
			struct call c = {0};
			dispatch(m, paths[i], &c);
			if (c.status != 404)
				fail_msg("%s \"%s\": status %d", method_name(m), paths[i],
				         c.status);
			assert_int_equal(c.ran, 0);
			if (first[0] == '\0')
				snprintf(first, sizeof(first), "%s", c.body);
			assert_string_equal(c.body, first);
		}
	}
	assert_non_null(strstr(first, "not_found"));
}

static void test_wrong_method_405(void **state)
{
	static const struct {
		unsigned method;
		const char *path, *allow;
	} cases[] = {
	    {RT_DELETE, "/login", "GET, HEAD"},
	    {RT_POST, "/api/v1/me", "GET, HEAD, PATCH"},
	    {RT_GET, "/api/v1/session", "POST, DELETE"},
	    {RT_PUT, "/api/v1/session", "POST, DELETE"},
	    {RT_PUT, "/healthz", "GET, HEAD"},
	    {RT_POST, "/static/app.js", "GET, HEAD"},
	    {RT_OPTIONS, "/metrics", "GET, HEAD"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct call c = {0};
		dispatch(cases[i].method, cases[i].path, &c);
		assert_int_equal(c.status, 405);
		assert_int_equal(c.ran, 0);
		assert_string_equal(c.allow, cases[i].allow);
		assert_non_null(strstr(c.body, cases[i].allow));
	}
}

static void test_head_matches_get(void **state)
{
	(void)state;
	for (size_t i = 0; i < rt_nroutes; i++) {
		char path[512];
		unsigned allowed = 99;
		const struct route *r;
		probe(rt_routes[i].pattern, "x", path, sizeof(path));
		r = rt_match(rt_routes, rt_nroutes, path, RT_HEAD, NULL, &allowed);
		if (rt_routes[i].methods & RT_GET) {
			assert_ptr_equal(r, &rt_routes[i]);
		} else if (r == NULL) {
			assert_int_equal(allowed & RT_HEAD, 0);
		}
	}
	{
		struct call c = {0};
		dispatch(RT_HEAD, "/healthz", &c);
		assert_int_equal(c.status, 200);
		assert_int_equal(c.ran, 1);
	}
}

static void test_params_and_segments(void **state)
{
	static const struct route t[] = {
	    {.methods = RT_GET, .pattern = "/files/{path*}", .fn = spy},
	    {.methods = RT_GET, .pattern = "/t/{id}/x/{sub}", .fn = spy},
	};
	static const struct {
		const struct route *routes;
		size_t n;
		const char *path;
		int match;
		const char *name, *value;
	} cases[] = {
	    {rt_routes, 0, "/static/app.js", 1, "file", "app.js"},
	    {rt_routes, 0, "/static/app.8f3a.css", 1, "file", "app.8f3a.css"},
	    {rt_routes, 0, "/static/.hidden", 1, "file", ".hidden"},
	    {rt_routes, 0, "/static/", 0, NULL, NULL},
	    {rt_routes, 0, "/static/a/b", 0, NULL, NULL},
	    {rt_routes, 0, "/static/.", 0, NULL, NULL},
	    {rt_routes, 0, "/static/..", 0, NULL, NULL},
	    {rt_routes, 0, "/static/../static/app.js", 0, NULL, NULL},
	    {rt_routes, 0, "/static/./app.js", 0, NULL, NULL},
	    {rt_routes, 0, "/./static/app.js", 0, NULL, NULL},
	    {t, 2, "/files/a/b/c.txt", 1, "path", "a/b/c.txt"},
	    {t, 2, "/files/a", 1, "path", "a"},
	    {t, 2, "/files/", 0, NULL, NULL},
	    {t, 2, "/files/a/../b", 0, NULL, NULL},
	    {t, 2, "/files/a/./b", 0, NULL, NULL},
	    {t, 2, "/files/a/..", 0, NULL, NULL},
	    {t, 2, "/files/a//b", 0, NULL, NULL},
	    {t, 2, "/t/42/x/abc", 1, "id", "42"},
	    {t, 2, "/t/42/x/", 0, NULL, NULL},
	    {t, 2, "/t//x/abc", 0, NULL, NULL},
	    {t, 2, "/t/42/y/abc", 0, NULL, NULL},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct req rq = {0};
		unsigned allowed;
		size_t n = cases[i].n ? cases[i].n : rt_nroutes;
		const struct route *r;
		rq.arena = arena_new();
		r = rt_match(cases[i].routes, n, cases[i].path, RT_GET, &rq, &allowed);
		if ((r != NULL) != cases[i].match)
			fail_msg("\"%s\": match %d, want %d", cases[i].path, r != NULL,
			         cases[i].match);
		if (r) {
			assert_string_equal(rt_param(&rq, cases[i].name), cases[i].value);
			assert_null(rt_param(&rq, "nope"));
		} else {
			assert_int_equal(allowed, 0);
		}
		arena_free(&rq.arena);
	}
	{
		struct req rq = {0};
		unsigned allowed;
		rq.arena = arena_new();
		assert_ptr_equal(rt_match(t, 2, "/t/42/x/abc", RT_GET, &rq, &allowed), &t[1]);
		assert_int_equal(rq.nparams, 2);
		assert_string_equal(rt_param(&rq, "id"), "42");
		assert_string_equal(rt_param(&rq, "sub"), "abc");
		arena_free(&rq.arena);
	}
}

static void test_method_parse(void **state)
{
	(void)state;
	for (unsigned i = 0; i < NMETHODS; i++)
		assert_int_equal(rt_method_parse(method_names[i]), 1u << i);
	assert_int_equal(rt_method_parse("get"), 0);
	assert_int_equal(rt_method_parse("TRACE"), 0);
	assert_int_equal(rt_method_parse("CONNECT"), 0);
	assert_int_equal(rt_method_parse(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_do_not_overlap),
	    cmocka_unit_test(test_public_routes_are_deliberate),
	    cmocka_unit_test(test_writes_need_csrf),
	    cmocka_unit_test(test_anonymous_refused),
	    cmocka_unit_test(test_signed_in_runs),
	    cmocka_unit_test(test_unknown_paths_same_404),
	    cmocka_unit_test(test_wrong_method_405),
	    cmocka_unit_test(test_head_matches_get),
	    cmocka_unit_test(test_params_and_segments),
	    cmocka_unit_test(test_method_parse),
	};
	return cmocka_run_group_tests(tests, app_setup, app_teardown);
}
