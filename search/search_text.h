// search_text.h: the text side of the Xapian shim, shared by its two C++ files and seen by
// nothing else: normalising text for the index and the query, the clause breaks the indexer
// leaves at CJK punctuation, and turning the user's query text into Xapian queries that
// match CJK exactly (search_text.cc).
#ifndef YZ_SEARCH_TEXT_H
#define YZ_SEARCH_TEXT_H

#include <xapian.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace yz_text {

// Full-width ASCII to ASCII, the ideographic space to a space (index and query alike).
std::string normalise(const char *s, size_t n);
// Length of s up to max bytes, not cutting a UTF-8 sequence in two.
size_t utf8_cut(const char *s, size_t len, size_t max);
// Whether ch is in the ranges Xapian 1.4 splits into n-grams.
bool is_cjk(unsigned ch);
// A term that is PREFIX + one CJK character: sets the prefix and the character's UTF-8 bytes.
bool cjk_unigram(const std::string &term, std::string &prefix, std::string &ch);
// Whether positions pos[i] of each term i hold the terms in order (ordered) within window
// positions of the first, or all of them in one window in any order.
bool positions_match(const std::vector<std::vector<Xapian::termpos>> &pos,
		     Xapian::termpos window, bool ordered);
// Where the clause after from starts in t, or t.size() (see search_text.cc).
size_t clause_end(const std::string &t, size_t from);

// Fields are this many positions apart, so no phrase matches across two of them.
constexpr Xapian::termpos FIELD_GAP = 100;

// Index t under prefix with positions, a position between its clauses (clause_end()), and
// FIELD_GAP after it.
void index_clauses(Xapian::TermGenerator &tg, const std::string &t, const std::string &prefix);

// A phrase a candidate must hold: its terms in order within window positions (ordered), or
// in any order (NEAR). by_text: checked against the text the document keeps (an index of
// format 2, whose bare terms have no positions; search_phrase.cc), else on its positions.
struct phrase_check {
	std::vector<std::string> terms;
	Xapian::termpos window = 0;
	bool ordered = true, by_text = false;
};

// What search_run needs from the text: the query to match, the query to highlight with, and
// the phrases that are checked per candidate instead of inside the match.
struct text_plan {
	Xapian::Query match, hl;
	std::vector<phrase_check> phrases;
};

// Index normalised text t into d without positions, as tg.index_text_without_positions(t)
// would (CJK n-gram mode, no stemming, no prefix; tg's document is d): plain chunks of the
// text are counted here, term by term, the rest goes to tg (search_terms.cc). The plain
// chunks of t are lower-cased in place.
void index_bare(Xapian::TermGenerator &tg, Xapian::Document &d, std::string &t);

// The text part of a search into plan. plan->hl is the query as parsed, before the CJK
// fix-ups: its phrases are what MSet::snippet() highlights as one span. defer: phrase checks
// may move out of the match (plan->phrases), to be checked per candidate shown. by_text: the
// index is of format 2 (bare phrases are checked on the document's text).
void text_query(const Xapian::Database &db, const char *text, bool defer, bool by_text,
		text_plan *plan);

// ---- format 2: the text a document keeps for phrase checks (search_phrase.cc) ----
//
// An index of format 2 gives positions only to prefixed terms (subject:, from:, ...); the
// bare copies of every field, the body above all, are indexed without them (about half the
// index and a third of the indexing time). Phrases over bare terms are checked instead on
// the text of the fields as given (not normalised), which the document keeps in value slot
// TEXT_SLOT, compressed with zstd: every field in the order of enum text_field, each ended by
// TEXT_FIELD_END. Highlights come from it too (the document data stays empty).
constexpr Xapian::valueno TEXT_SLOT = 1;
constexpr char TEXT_FIELD_END = '\x1f';
enum text_field { TF_SUBJECT, TF_FROM, TF_TO, TF_BODY, TF_ATTACH_NAMES, TF_ATTACH_TEXT, TF_NOTE };

// Append one field (also an empty one) to a document's phrase text.
void text_append_field(std::string &text, const char *field, size_t len);
// Field f of a phrase text (empty when it has fewer).
std::string text_field(const std::string &text, enum text_field f);
// The phrase text of document did of db, unpacked (see text_unpack()); false when it has none.
bool doc_text(const Xapian::Database &db, Xapian::docid did, std::string &text,
	      const std::function<bool(const std::string &)> &enough = nullptr);
// The value to keep for a phrase text, and the text back from it (false: not one of ours).
std::string text_pack(const std::string &text);
// enough, when given, sees the text after each piece, the last one too, and may stop the
// unpacking early (true): text then holds only a beginning of it.
bool text_unpack(const std::string &value, std::string &text,
		 const std::function<bool(const std::string &)> &enough = nullptr);
// Whether document did of db holds ph in its phrase text.
bool doc_has_phrase(const Xapian::Database &db, Xapian::docid did, const phrase_check &ph);
// Whether the phrase text holds ph, with the positions index_clauses() would give it.
bool text_has_phrase(const std::string &text, const phrase_check &ph);
// A query leg matching the documents whose phrase text holds ph: a Xapian::PostingSource
// that walks the postings of ph's rarest term, for phrases the match itself must check.
Xapian::Query text_phrase_query(const phrase_check &ph);

} // namespace yz_text

#endif
