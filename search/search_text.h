// search_text.h: the text side of the Xapian shim, shared by its two C++ files and seen by
// nothing else: normalising text for the index and the query, the clause breaks the indexer
// leaves at CJK punctuation, and turning the user's query text into Xapian queries that
// match CJK exactly (search_text.cc).
#ifndef YZ_SEARCH_TEXT_H
#define YZ_SEARCH_TEXT_H

#include <xapian.h>

#include <cstddef>
#include <string>
#include <vector>

namespace yz_text {

// Full-width ASCII to ASCII, the ideographic space to a space (index and query alike).
std::string normalise(const char *s, size_t n);
// Length of s up to max bytes, not cutting a UTF-8 sequence in two.
size_t utf8_cut(const char *s, size_t len, size_t max);
// Where the clause after from starts in t, or t.size() (see search_text.cc).
size_t clause_end(const std::string &t, size_t from);

// What search_run needs from the text: the query to match, the query to highlight with, and
// the phrases whose positions are checked per candidate instead of inside the match.
struct text_plan {
	Xapian::Query match, hl;
	std::vector<std::vector<std::string>> phrases; // for has_phrase()
};

// The text part of a search into plan. plan->hl is the query as parsed, before the CJK
// fix-ups: its phrases are what MSet::snippet() highlights as one span. defer: phrase checks
// may move out of the match (plan->phrases), to be checked per candidate shown.
void text_query(const Xapian::Database &db, const char *text, bool defer, text_plan *plan);

} // namespace yz_text

#endif
