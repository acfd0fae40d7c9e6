// search_terms.cc: for test_search, index_bare() (search/search_terms.cc) against what it
// stands in for, TermGenerator::index_text_without_positions() in the indexer's settings:
// the same terms with the same wdf, and the same document length.
#include <xapian.h>

#include <cstdio>
#include <string>

#include "search/search_text.h"

extern "C" int test_bare_terms(const char *text, size_t len, char *why, size_t why_len);

namespace {

// t's terms as the indexer's TermGenerator settings give them (search_xapian.cc), made by
// TermGenerator itself or by index_bare().
Xapian::Document bare_doc(std::string t, bool by_index_bare)
{
	Xapian::TermGenerator tg;
	Xapian::Document d;
	tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
	tg.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
	tg.set_document(d);
	if (by_index_bare)
		yz_text::index_bare(tg, d, t);
	else
		tg.index_text_without_positions(t);
	return d;
}

std::string shown(const std::string &term)
{
	std::string out;
	for (unsigned char c : term) {
		if (c < 0x20 || c == 0x7F) {
			char hex[8];
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			out += hex;
		} else {
			out += (char)c;
		}
	}
	return out;
}

} // namespace

// 0 when both ways give text (normalised as the indexer does) the same terms and wdfs, else
// the number of terms that differ, the first of them described in why.
int test_bare_terms(const char *text, size_t len, char *why, size_t why_len)
{
	std::string t = yz_text::normalise(text, len);
	Xapian::Document a = bare_doc(t, false), b = bare_doc(t, true);
	int diff = 0;
	std::string first;
	Xapian::TermIterator i = a.termlist_begin(), j = b.termlist_begin();
	while (i != a.termlist_end() || j != b.termlist_end()) {
		std::string what;
		if (j == b.termlist_end() || (i != a.termlist_end() && *i < *j)) {
			what = "only TermGenerator has '" + shown(*i) + "'";
			++i;
		} else if (i == a.termlist_end() || *j < *i) {
			what = "only index_bare has '" + shown(*j) + "'";
			++j;
		} else {
			if (i.get_wdf() != j.get_wdf())
				what = "'" + shown(*i) + "': wdf " + std::to_string(i.get_wdf()) + " against " +
				       std::to_string(j.get_wdf());
			++i;
			++j;
		}
		if (!what.empty() && diff++ == 0)
			first = what;
	}
	if (diff == 0 && a.termlist_count() != b.termlist_count()) {
		diff = 1;
		first = "term counts differ";
	}
	snprintf(why, why_len, "%s", first.c_str());
	return diff;
}
