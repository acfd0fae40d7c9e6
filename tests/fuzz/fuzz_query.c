/* fuzz_query: search_query_parse (search/query.c), the user's search syntax.
 *
 * The input is the query as a C string (cut at the first NUL, as a caller's string would be).
 * When it is at least two bytes long, the first byte also picks the time zone, so the
 * fuzzer reaches the date arithmetic at offsets other than UTC+8.
 *
 * Invariants checked on success:
 * - text is valid UTF-8, holds no control characters but spaces, no full-width ASCII and no
 *   ideographic space (all normalised), and every '"' in it is paired;
 * - folder is NULL or non-empty; is holds only known bits and never both read and unread, nor
 *   flagged and unflagged; colour is 0..7; after < before when both are set;
 * - the rebuilt text parses again to exactly itself, with no filters at all (so no filter can
 *   be smuggled through the text, and the Xapian part is stable).
 * On failure the error code is ERR_INVALID or ERR_LIMIT and the message is non-empty. */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/arena.h"
#include "lib/utf8.h"
#include "search/search.h"

static const int zones[] = {480, 0, -300, 330, 840, -720, 345, 60};

static void check_text(const char *text)
{
	size_t n = strlen(text), quotes = 0;

	FUZZ_CHECK(utf8_valid(text, n));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		FUZZ_CHECK(c >= 0x20 || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
			   c == '\v');
		FUZZ_CHECK(c != 0x7F);
		quotes += c == '"';
		if (c == 0xEF && i + 2 < n) {
			unsigned char c1 = (unsigned char)text[i + 1], c2 = (unsigned char)text[i + 2];
			FUZZ_CHECK(!(c1 == 0xBC && c2 >= 0x81));
			FUZZ_CHECK(!(c1 == 0xBD && c2 <= 0x9E));
		}
		if (c == 0xE3 && i + 2 < n)
			FUZZ_CHECK(!((unsigned char)text[i + 1] == 0x80 &&
				     (unsigned char)text[i + 2] == 0x80));
	}
	FUZZ_CHECK(quotes % 2 == 0);
}

static void check(const char *q, int tz)
{
	struct arena *a = arena_new();
	struct search_parsed p, p2;
	struct err err = {0};
	const unsigned known = SEARCH_IS_UNREAD | SEARCH_IS_READ | SEARCH_IS_PINNED |
			       SEARCH_IS_FLAGGED | SEARCH_IS_UNFLAGGED;

	if (search_query_parse(q, tz, a, &p, &err) < 0) {
		FUZZ_CHECK(err.code == ERR_INVALID || err.code == ERR_LIMIT);
		FUZZ_CHECK(err.msg[0] != '\0');
		arena_free(&a);
		return;
	}
	FUZZ_CHECK(p.text != NULL);
	check_text(p.text);
	FUZZ_CHECK(p.folder == NULL || p.folder[0] != '\0');
	FUZZ_CHECK((p.is & ~known) == 0);
	FUZZ_CHECK((p.is & (SEARCH_IS_READ | SEARCH_IS_UNREAD)) !=
		   (SEARCH_IS_READ | SEARCH_IS_UNREAD));
	FUZZ_CHECK((p.is & (SEARCH_IS_FLAGGED | SEARCH_IS_UNFLAGGED)) !=
		   (SEARCH_IS_FLAGGED | SEARCH_IS_UNFLAGGED));
	FUZZ_CHECK(p.colour >= 0 && p.colour <= 7);
	FUZZ_CHECK(p.after == 0 || p.before == 0 || p.after < p.before);

	/* Stable: the text alone parses back to itself and carries no filter. Quotes and
	 * spaces can make it longer than the 1 KiB input limit; then there is nothing to do. */
	if (strlen(p.text) <= 1024) {
		err = (struct err){0};
		int r = search_query_parse(p.text, tz, a, &p2, &err);
		if (r < 0)
			fprintf(stderr, "re-parse of \"%s\": %s\n", p.text, err.msg);
		FUZZ_CHECK(r == 0);
		if (strcmp(p.text, p2.text) != 0)
			fprintf(stderr, "unstable: \"%s\" -> \"%s\"\n", p.text, p2.text);
		FUZZ_CHECK(strcmp(p.text, p2.text) == 0);
		FUZZ_CHECK(p2.folder == NULL && p2.is == 0 && p2.colour == 0);
		FUZZ_CHECK(!p2.has_attachment && p2.after == 0 && p2.before == 0);
	}
	arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = fuzz_strdup(data, size);

	check(q, 480);
	if (size >= 2)
		check(q + 1, zones[data[0] % (sizeof(zones) / sizeof(zones[0]))]);
	free(q);
	return 0;
}
