/* fuzz_route: server/router.h rt_match over the real route table (server/routes.c).
 *
 * Input: the first byte picks the method (bit data[0] % 8 of enum rt_method; 7 gives a method
 * no route has), the rest is the path. Embedded NULs simply end the path early.
 *
 * Invariants:
 * - rt_match with and without a request answers the same route and the same allowed set.
 * - A matched route accepts the method (HEAD is served by GET routes), and the path is one
 *   path_ok() admits: starts with '/', no empty, "." or ".." segment, at most 2048 bytes.
 * - Every captured param is a non-empty substring of the path named by a {name} or {name*} in
 *   the pattern; a {name} value holds no '/'. Substituting the values into the pattern
 *   rebuilds the path exactly.
 * - No match: allowed never contains the method asked for, and is non-zero only if some route
 *   pattern matches the path (checked by re-asking with each method in allowed). */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/arena.h"
#include "server/router.h"

static const unsigned all_methods[] = {RT_GET, RT_HEAD, RT_POST, RT_PUT, RT_DELETE, RT_PATCH,
				       RT_OPTIONS};

static bool path_is_clean(const char *p)
{
	if (p[0] != '/' || strlen(p) > 2048)
		return false;
	for (const char *s = p; (s = strchr(s, '/')) != NULL; s++) {
		const char *e = strchrnul(s + 1, '/');
		size_t n = (size_t)(e - s - 1);
		if (n == 0 && *e == '/')
			return false; /* "//" */
		if ((n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.'))
			return false;
	}
	return true;
}

/* Rebuild the path from the pattern and the captured params, check each param on the way. */
static void check_params(const struct route *r, const char *path, const struct req *rq)
{
	const char *pat = r->pattern;
	size_t cap = strlen(pat) + strlen(path) + 1, o = 0, k = 0;
	char *re = malloc(cap);

	FUZZ_CHECK(re != NULL);
	FUZZ_CHECK(rq->nparams <= RT_MAX_PARAMS);
	for (size_t i = 0; i < rq->nparams; i++) {
		FUZZ_CHECK(rq->param_names[i] != NULL && rq->param_values[i] != NULL);
		FUZZ_CHECK(rq->param_values[i][0] != '\0');
		FUZZ_CHECK(strstr(path, rq->param_values[i]) != NULL);
	}
	while (*pat) {
		if (*pat != '{') {
			re[o++] = *pat++;
			continue;
		}
		const char *close = strchr(pat, '}');
		FUZZ_CHECK(close != NULL);
		bool rest = close[-1] == '*';
		size_t nl = (size_t)(close - pat - 1) - (rest ? 1 : 0);
		if (k == rq->nparams) {
			free(re); /* more placeholders than RT_MAX_PARAMS: nothing to rebuild */
			FUZZ_CHECK(k == RT_MAX_PARAMS);
			return;
		}
		FUZZ_CHECK(strlen(rq->param_names[k]) == nl);
		FUZZ_CHECK(memcmp(rq->param_names[k], pat + 1, nl) == 0);
		if (!rest)
			FUZZ_CHECK(strchr(rq->param_values[k], '/') == NULL);
		size_t vl = strlen(rq->param_values[k]);
		FUZZ_CHECK(o + vl < cap);
		memcpy(re + o, rq->param_values[k], vl);
		o += vl;
		k++;
		pat = close + 1;
	}
	re[o] = '\0';
	FUZZ_CHECK(k == rq->nparams);
	FUZZ_CHECK(strcmp(re, path) == 0);
	free(re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned method, allowed = 0, allowed2 = 0, want;
	struct arena *a;
	struct req rq;
	const struct route *r, *r2;
	char *path;

	if (size == 0)
		return 0;
	method = (data[0] % 8) == 7 ? 0 : 1u << (data[0] % 8);
	want = method == RT_HEAD ? (RT_HEAD | RT_GET) : method;
	path = fuzz_strdup(data + 1, size - 1); /* exactly size bytes */
	a = arena_new();
	memset(&rq, 0, sizeof(rq));
	rq.arena = a;
	rq.path = path;

	r = rt_match(rt_routes, rt_nroutes, path, method, &rq, &allowed);
	r2 = rt_match(rt_routes, rt_nroutes, path, method, NULL, &allowed2);
	FUZZ_CHECK(r == r2);
	FUZZ_CHECK(allowed == allowed2);
	if (r != NULL) {
		FUZZ_CHECK(r >= rt_routes && r < rt_routes + rt_nroutes);
		FUZZ_CHECK(r->methods & want);
		FUZZ_CHECK(allowed == 0);
		FUZZ_CHECK(path_is_clean(path));
		check_params(r, path, &rq);
	} else {
		FUZZ_CHECK((allowed & want) == 0);
		FUZZ_CHECK(rq.nparams == 0);
		if (allowed != 0) {
			FUZZ_CHECK(path_is_clean(path));
			/* every method in allowed must find a route for this path */
			for (size_t i = 0; i < sizeof(all_methods) / sizeof(all_methods[0]); i++) {
				unsigned al;
				if (!(allowed & all_methods[i]))
					continue;
				FUZZ_CHECK(rt_match(rt_routes, rt_nroutes, path, all_methods[i],
						    NULL, &al) != NULL);
			}
		}
	}
	FUZZ_CHECK(rt_method_parse(path) == 0 || (rt_method_parse(path) & (rt_method_parse(path) - 1)) == 0);

	arena_free(&a);
	free(path);
	return 0;
}
