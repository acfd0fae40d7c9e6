// search_terms.cc: the bare terms of a field for an index of format 2 (search_text.h), made
// without Xapian's TermGenerator where the text is plain. Part of the shim behind
// search/search.h: no exception is caught here.
//
// Why: a format 2 document's bare copies (the body above all) have no positions, and
// TermGenerator spent its time there decoding every character, looking up its Unicode
// category and adding each occurrence to the document's term map (a fifth of the daemon's
// CPU in a bench/smtp.sh profile; on mail of real words most of the cost stays in Xapian's
// work per distinct term, so bench/store.sh gains little). Here the text is split at ASCII white space into chunks. A chunk made only of ASCII
// word characters, plain separators and the common CJK ideographs and punctuation is
// tokenised byte-wise, its terms counted in a hash table, and each distinct term is added
// once with its count as wdf. Any other chunk goes to TermGenerator as before, so every rule
// of Xapian's own (apostrophes, C++ and C#, AT&T, 1,000.5, acronyms, other scripts) stays
// Xapian's. White space ends every word and CJK run in TermGenerator, so chunks are
// independent. tests/unit/search_terms.cc compares both ways on the corpora, term by term
// and wdf by wdf.
#include "search/search_text.h"

#include <string_view>
#include <unordered_map>

namespace yz_text {

namespace {

// TermGenerator's default: longer words are left out, not cut.
constexpr size_t MAX_WORD_BYTES = 64;

enum cls : unsigned char {
	C_SPACE,  // ASCII white space: ends a chunk
	C_WORD,   // ASCII letter, digit, '_'
	C_SEP,    // a separator everywhere
	C_DOTLIKE, // . , ; : a separator before white space or the chunk's end only (1,000.5)
	C_OTHER,  // anything else: the chunk goes to TermGenerator
};

struct ascii_table {
	cls c[128];
	constexpr ascii_table() : c()
	{
		for (int i = 0; i < 128; i++)
			c[i] = C_OTHER; // control characters, ' & + # and anything not listed
		for (const char *s = " \t\n\r\f\v"; *s; s++)
			c[(unsigned char)*s] = C_SPACE;
		for (int i = '0'; i <= '9'; i++)
			c[i] = C_WORD;
		for (int i = 'a'; i <= 'z'; i++)
			c[i] = C_WORD;
		for (int i = 'A'; i <= 'Z'; i++)
			c[i] = C_WORD;
		c['_'] = C_WORD;
		for (const char *s = "!\"$%()*-/<=>?@[\\]^`{|}~"; *s; s++)
			c[(unsigned char)*s] = C_SEP;
		for (const char *s = ".,;:"; *s; s++)
			c[(unsigned char)*s] = C_DOTLIKE;
	}
};
constexpr ascii_table ASCII;

// The code point of the three-byte UTF-8 sequence at p (p + 2 < end), or 0.
unsigned utf8_3(const unsigned char *p)
{
	if ((p[0] & 0xF0) != 0xE0 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
		return 0;
	unsigned ch = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
	return ch >= 0x800 ? ch : 0;
}

// CJK Unified Ideographs as Unicode 1.1 assigned them: letters in every Unicode version, so
// TermGenerator makes n-grams of them whatever its tables' age.
bool plain_ideograph(unsigned ch)
{
	return ch >= 0x4E00 && ch <= 0x9FA5;
}

// Punctuation common in Chinese text that TermGenerator treats as a plain separator: 、 。
// 〈 〉 《 》 「 」 『 』 【 】 “ ” — … (U+2019 is not here: Xapian reads it as an apostrophe).
bool plain_cjk_punct(unsigned ch)
{
	return ch == 0x3001 || ch == 0x3002 || (ch >= 0x3008 && ch <= 0x3011) || ch == 0x201C ||
	       ch == 0x201D || ch == 0x2014 || ch == 0x2026;
}

using tally = std::unordered_map<std::string_view, Xapian::termcount>;

// Whether chunk [p, end) is plain: every character one this file tokenises like
// TermGenerator.
bool plain_chunk(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		if (*p < 0x80) {
			cls c = ASCII.c[*p];
			if (c == C_OTHER)
				return false;
			if (c == C_DOTLIKE && p + 1 < end)
				return false;
			p++;
			continue;
		}
		if (end - p < 3)
			return false;
		unsigned ch = utf8_3(p);
		if (!plain_ideograph(ch) && !plain_cjk_punct(ch))
			return false;
		p += 3;
	}
	return true;
}

// Count the terms of plain chunk [from, to) of base, lower-casing its ASCII in place: words
// of ASCII word characters, and for each run of ideographs every character and every two neighbours.
void count_chunk(char *base, size_t from, size_t to, tally &terms)
{
	unsigned char *s = (unsigned char *)base;
	size_t i = from;
	while (i < to) {
		unsigned char b = s[i];
		if (b < 0x80) {
			if (ASCII.c[b] != C_WORD) {
				i++;
				continue;
			}
			size_t w = i;
			for (; i < to && s[i] < 0x80 && ASCII.c[s[i]] == C_WORD; i++)
				if (s[i] >= 'A' && s[i] <= 'Z') // in place: the views point into it
					s[i] = (unsigned char)(s[i] + ('a' - 'A'));
			if (i - w <= MAX_WORD_BYTES)
				terms[std::string_view(base + w, i - w)]++;
			continue;
		}
		if (!plain_ideograph(utf8_3(s + i))) { // punctuation
			i += 3;
			continue;
		}
		size_t prev = std::string::npos;
		while (i < to && s[i] >= 0x80 && plain_ideograph(utf8_3(s + i))) {
			terms[std::string_view(base + i, 3)]++;
			if (prev != std::string::npos)
				terms[std::string_view(base + prev, 6)]++;
			prev = i;
			i += 3;
		}
	}
}

} // namespace

void index_bare(Xapian::TermGenerator &tg, Xapian::Document &d, std::string &t)
{
	tally terms;
	terms.reserve(t.size() / 8 + 16);
	unsigned char *s = (unsigned char *)&t[0];
	size_t n = t.size();
	for (size_t i = 0; i < n;) {
		while (i < n && s[i] < 0x80 && ASCII.c[s[i]] == C_SPACE)
			i++;
		size_t from = i;
		while (i < n && !(s[i] < 0x80 && ASCII.c[s[i]] == C_SPACE))
			i++;
		if (from == i)
			break;
		if (plain_chunk(s + from, s + i)) {
			count_chunk(&t[0], from, i, terms);
		} else { // TermGenerator sees the chunk as given: its acronyms need the upper case
			tg.index_text_without_positions(Xapian::Utf8Iterator(t.data() + from, i - from));
		}
	}
	for (const auto &kv : terms)
		d.add_term(std::string(kv.first), kv.second);
}

} // namespace yz_text
