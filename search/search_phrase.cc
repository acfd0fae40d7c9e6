// search_phrase.cc: phrase checks on the text a document keeps, for indexes of format 2
// (search_text.h), where bare terms have no positions. Part of the shim behind
// search/search.h: no exception is caught here.
//
// The check must agree with what the positions of index_clauses() would have said, since
// that is what prefixed fields and older indexes still use:
// - a phrase of CJK characters alone (the common case: 季度报告, quoted or not) holds when the
//   characters follow each other with nothing but white space between them (TermGenerator
//   gives every CJK character a position and white space none; punctuation after a CJK
//   character before another one is a clause break). That is a scan of the text, a few
//   microseconds for a mail;
// - any other phrase (Latin words, a mix, a window wider than the phrase, NEAR) is checked by
//   running TermGenerator with index_clauses() over the parts of the text around each
//   occurrence of one of its words, and reading the positions it gives.
#include "search/search_text.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <new>

namespace yz_text {

namespace {

// Window of text tokenised around an occurrence of the anchor word, each side, in bytes (the
// window is widened to a place where a word cannot continue).
constexpr size_t AROUND_BYTES = 256;
constexpr size_t AROUND_PER_POSITION = 32;
constexpr size_t ALIGN_MAX = 64;
// zstd's level for the phrase text: its default, about zlib's ratio at several times the speed.
constexpr int ZSTD_LEVEL = 3;
// No phrase text unpacks to more (seven fields of at most 1 MiB each, and their ends).
constexpr size_t MAX_TEXT_BYTES = 8u << 20;
// The text is unpacked this much at a time, so a check can stop once it has its answer.
constexpr size_t UNPACK_CHUNK = 8192;

bool is_space_cp(unsigned ch)
{
	return !Xapian::Unicode::is_wordchar(ch) && Xapian::Unicode::is_whitespace(ch);
}

// Past the white space at p in s (ASCII and Unicode, as clause_end() sees it).
size_t skip_spaces(const std::string &s, size_t p)
{
	while (p < s.size()) {
		unsigned char c = (unsigned char)s[p];
		if (c < 0x80) {
			if (c != ' ' && !(c >= '\t' && c <= '\r'))
				return p;
			p++;
			continue;
		}
		Xapian::Utf8Iterator it(s.data() + p, s.size() - p);
		if (!is_space_cp(*it))
			return p;
		++it;
		p = it == Xapian::Utf8Iterator() ? s.size() : (size_t)(it.raw() - s.data());
	}
	return p;
}

// Where needle occurs in text at or after from, or npos (memmem: std::string::find() stops
// at every byte that starts a CJK character, which is most bytes of Chinese text).
size_t find_bytes(const std::string &text, const std::string &needle, size_t from)
{
	if (from > text.size())
		return std::string::npos;
	const void *p = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
	return p ? (size_t)((const char *)p - text.data()) : std::string::npos;
}

std::string joined(const std::vector<std::string> &chars)
{
	std::string whole;
	for (const auto &c : chars)
		whole += c;
	return whole;
}

// The characters in order with white space between some of them (the case without any is
// a find_bytes() of joined() and is looked for first).
bool cjk_spaced(const std::string &text, const std::vector<std::string> &chars)
{
	const std::string &c0 = chars[0];
	for (size_t at = find_bytes(text, c0, 0); at != std::string::npos;
	     at = find_bytes(text, c0, at + 1)) {
		size_t p = at + c0.size(), i = 1;
		for (; i < chars.size(); i++) {
			p = skip_spaces(text, p);
			if (text.compare(p, chars[i].size(), chars[i]) != 0)
				break;
			p += chars[i].size();
		}
		if (i == chars.size())
			return true;
	}
	return false;
}

// A phrase of CJK characters alone, each next to the one before: cjk_scan() decides it.
bool cjk_only(const phrase_check &ph)
{
	bool cjk = ph.ordered && (ph.window == 0 || ph.window == ph.terms.size());
	std::string prefix, ch;
	for (size_t i = 0; cjk && i < ph.terms.size(); i++)
		cjk = cjk_unigram(ph.terms[i], prefix, ch) && prefix.empty();
	return cjk;
}

} // namespace

// Ordered: terms at increasing positions, the last within window of the first. Otherwise
// every term somewhere in one window.
bool positions_match(const std::vector<std::vector<Xapian::termpos>> &pos, Xapian::termpos window,
		     bool ordered)
{
	for (const auto &p : pos)
		if (p.empty())
			return false;
	Xapian::termpos w = window ? window : (Xapian::termpos)pos.size();
	if (ordered) {
		for (Xapian::termpos p0 : pos[0]) {
			Xapian::termpos cur = p0;
			size_t i = 1;
			for (; i < pos.size(); i++) {
				auto it = std::upper_bound(pos[i].begin(), pos[i].end(), cur);
				if (it == pos[i].end() || *it - p0 >= w)
					break;
				cur = *it;
			}
			if (i == pos.size())
				return true;
		}
		return false;
	}
	for (const auto &starts : pos)
		for (Xapian::termpos s : starts) {
			size_t i = 0;
			for (; i < pos.size(); i++) {
				auto it = std::lower_bound(pos[i].begin(), pos[i].end(), s);
				if (it == pos[i].end() || *it - s >= w)
					break;
			}
			if (i == pos.size())
				return true;
		}
	return false;
}

namespace {

// Tokenise text[from, to) as the indexer would and check ph on its positions.
bool tokenised_match(const std::string &text, size_t from, size_t to, const phrase_check &ph)
{
	Xapian::TermGenerator tg;
	tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
	tg.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
	Xapian::Document d;
	tg.set_document(d);
	index_clauses(tg, text.substr(from, to - from), std::string());
	std::vector<std::vector<Xapian::termpos>> pos(ph.terms.size());
	for (size_t i = 0; i < ph.terms.size(); i++) {
		Xapian::TermIterator t = d.termlist_begin();
		t.skip_to(ph.terms[i]);
		if (t == d.termlist_end() || *t != ph.terms[i])
			return false;
		for (Xapian::PositionIterator p = t.positionlist_begin(); p != t.positionlist_end();
		     ++p)
			pos[i].push_back(*p);
	}
	return positions_match(pos, ph.window, ph.ordered);
}

bool is_ascii(const std::string &s)
{
	for (unsigned char c : s)
		if (c >= 0x80)
			return false;
	return !s.empty();
}

// Whether a window may start (or end) at p of field [from, to): at its ends, after white
// space, or at a CJK character (a word of its own).
bool boundary(const std::string &s, size_t p, size_t from, size_t to)
{
	if (p <= from || p >= to)
		return true;
	unsigned char b = (unsigned char)s[p - 1], c = (unsigned char)s[p];
	if (b == ' ' || (b >= '\t' && b <= '\r'))
		return true;
	if ((c & 0xC0) == 0x80 || c < 0xE0)
		return false;
	Xapian::Utf8Iterator it(s.data() + p, to - p);
	return is_cjk(*it);
}

size_t align_back(const std::string &s, size_t p, size_t from, size_t to)
{
	for (size_t n = 0; n < ALIGN_MAX && !boundary(s, p, from, to); n++)
		p--;
	return boundary(s, p, from, to) ? p : from;
}

size_t align_fwd(const std::string &s, size_t p, size_t from, size_t to)
{
	for (size_t n = 0; n < ALIGN_MAX && !boundary(s, p, from, to); n++)
		p++;
	return boundary(s, p, from, to) ? p : to;
}

// One field of the phrase text, normalised.
bool field_match(const std::string &text, const phrase_check &ph, const std::string &anchor)
{
	const size_t from = 0, to = text.size();
	if (anchor.empty())
		return tokenised_match(text, from, to, ph);
	std::string lower(text);
	for (char &c : lower)
		if (c >= 'A' && c <= 'Z')
			c = (char)(c | 0x20);
	size_t around = AROUND_BYTES + AROUND_PER_POSITION * std::max<size_t>(ph.window,
									     ph.terms.size());
	size_t pa = 0, pb = 0; // the last window tokenised
	for (size_t occ = lower.find(anchor); occ != std::string::npos;
	     occ = lower.find(anchor, occ + 1)) {
		bool start_in = occ >= pa + around || pa == from;
		bool end_in = occ + anchor.size() + around <= pb || pb == to;
		if (pb > pa && occ >= pa && start_in && end_in)
			continue; // that window held this occurrence with all the room it needs
		pa = align_back(text, occ > from + around ? occ - around : from, from, to);
		pb = align_fwd(text, std::min(to, occ + anchor.size() + around), from, to);
		if (tokenised_match(text, pa, pb, ph))
			return true;
	}
	return false;
}

} // namespace

void text_append_field(std::string &text, const char *field, size_t len)
{
	size_t at = text.size();
	text.append(field, len);
	for (size_t i = at; i < text.size(); i++)
		if (text[i] == TEXT_FIELD_END)
			text[i] = ' ';
	text += TEXT_FIELD_END;
}

std::string text_pack(const std::string &text)
{
	std::string out(ZSTD_compressBound(text.size()), '\0');
	size_t n = ZSTD_compress(&out[0], out.size(), text.data(), text.size(), ZSTD_LEVEL);
	if (ZSTD_isError(n))
		throw Xapian::InternalError(std::string("zstd: ") + ZSTD_getErrorName(n));
	out.resize(n);
	return out;
}

bool text_unpack(const std::string &value, std::string &text,
		 const std::function<bool(const std::string &)> &enough)
{
	struct dctx_free {
		void operator()(ZSTD_DCtx *c) const
		{
			ZSTD_freeDCtx(c);
		}
	};
	static thread_local std::unique_ptr<ZSTD_DCtx, dctx_free> dctx(ZSTD_createDCtx());
	if (!dctx)
		throw std::bad_alloc();
	ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_only);
	ZSTD_inBuffer in = {value.data(), value.size(), 0};
	text.clear();
	for (;;) {
		size_t at = text.size();
		if (at >= MAX_TEXT_BYTES)
			break;
		text.resize(at + UNPACK_CHUNK);
		ZSTD_outBuffer out = {&text[at], UNPACK_CHUNK, 0};
		size_t r = ZSTD_decompressStream(dctx.get(), &out, &in);
		text.resize(at + (ZSTD_isError(r) ? 0 : out.pos));
		if (ZSTD_isError(r))
			break;
		if (enough && enough(text)) // also on the last piece
			return true;
		if (r == 0) // the frame is whole
			return true;
		if (out.pos == 0 && in.pos == in.size) // cut short
			break;
	}
	text.clear();
	return false;
}

std::string text_field(const std::string &text, enum text_field f)
{
	size_t from = 0;
	for (int k = 0; k < (int)f && from != std::string::npos; k++) {
		from = text.find(TEXT_FIELD_END, from);
		if (from != std::string::npos)
			from++;
	}
	if (from == std::string::npos)
		return std::string();
	size_t end = text.find(TEXT_FIELD_END, from);
	return text.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

bool doc_text(const Xapian::Database &db, Xapian::docid did, std::string &text,
	      const std::function<bool(const std::string &)> &enough)
{
	std::string value = db.get_document(did, Xapian::DOC_ASSUME_VALID).get_value(TEXT_SLOT);
	return !value.empty() && text_unpack(value, text, enough);
}

bool doc_has_phrase(const Xapian::Database &db, Xapian::docid did, const phrase_check &ph)
{
	std::string text;
	if (!cjk_only(ph))
		return doc_text(db, did, text) && text_has_phrase(text, ph);
	// a CJK phrase found in the first pieces needs no more of the text
	const std::string whole = joined(ph.terms);
	bool found = false;
	size_t seen = 0;
	auto enough = [&](const std::string &t) { // looks at each new piece once
		size_t from = seen >= whole.size() ? seen - whole.size() + 1 : 0;
		seen = t.size();
		return found = find_bytes(t, whole, from) != std::string::npos;
	};
	if (!doc_text(db, did, text, enough))
		return false;
	return found || cjk_spaced(text, ph.terms); // enough() saw all of it without a match
}

bool text_has_phrase(const std::string &text, const phrase_check &ph)
{
	if (ph.terms.empty())
		return true;
	if (cjk_only(ph)) // no field end is white space, so a match never spans two fields
		return find_bytes(text, joined(ph.terms), 0) != std::string::npos ||
		       cjk_spaced(text, ph.terms); // normalise() changes nothing these look at
	std::string anchor; // the longest ASCII word: found as bytes, case aside
	for (const auto &t : ph.terms)
		if (is_ascii(t) && t.size() > anchor.size())
			anchor = t;
	for (size_t from = 0; from < text.size();) {
		size_t end = text.find(TEXT_FIELD_END, from);
		if (end == std::string::npos)
			end = text.size();
		if (field_match(normalise(text.data() + from, end - from), ph, anchor))
			return true;
		from = end + 1;
	}
	return false;
}

namespace {

// The documents of one database whose phrase text holds ph, in docid order: the postings of
// its rarest term, each checked. check() answers for one document without moving the walk
// past it, which is what an AND with cheaper legs asks.
class text_phrase_source : public Xapian::PostingSource {
	phrase_check ph;
	Xapian::Database db;
	Xapian::PostingIterator it, end;
	Xapian::doccount freq = 0;
	Xapian::docid floor = 1; // the walk may not stop below this
	bool started = false, on = false; // on: at a document that holds the phrase

	bool holds(Xapian::docid did)
	{
		return doc_has_phrase(db, did, ph);
	}

	void settle()
	{
		if (it != end && *it < floor)
			it.skip_to(floor);
		while (it != end && !holds(*it))
			++it;
		on = it != end;
	}

      public:
	explicit text_phrase_source(const phrase_check &p) : ph(p)
	{
	}

	Xapian::PostingSource *clone() const override
	{
		return new text_phrase_source(ph);
	}

	void init(const Xapian::Database &d) override
	{
		db = d;
		std::string rarest = ph.terms[0];
		freq = db.get_termfreq(rarest);
		for (const auto &t : ph.terms) {
			Xapian::doccount f = db.get_termfreq(t);
			if (f < freq) {
				freq = f;
				rarest = t;
			}
		}
		it = db.postlist_begin(rarest);
		end = db.postlist_end(rarest);
		floor = 1;
		started = on = false;
	}

	Xapian::doccount get_termfreq_min() const override
	{
		return 0;
	}
	Xapian::doccount get_termfreq_est() const override
	{
		return freq;
	}
	Xapian::doccount get_termfreq_max() const override
	{
		return freq;
	}

	void next(double) override
	{
		if (on)
			floor = std::max(floor, *it + 1);
		started = true;
		settle();
	}

	void skip_to(Xapian::docid did, double) override
	{
		if (on && *it >= did)
			return;
		started = true;
		floor = std::max(floor, did);
		settle();
	}

	bool check(Xapian::docid did, double) override
	{
		started = true;
		on = false;
		if (it != end && *it < did)
			it.skip_to(did);
		if (it != end && *it == did && holds(did)) {
			on = true;
			return true;
		}
		floor = std::max(floor, did + 1); // indeterminate: next() and skip_to() go on from here
		return false;
	}

	bool at_end() const override
	{
		return started && it == end;
	}

	Xapian::docid get_docid() const override
	{
		return *it;
	}

	std::string get_description() const override
	{
		std::string d = "text_phrase(";
		for (const auto &t : ph.terms)
			d += t + " ";
		return d + std::to_string(ph.window) + (ph.ordered ? ")" : " near)");
	}
};

} // namespace

Xapian::Query text_phrase_query(const phrase_check &ph)
{
	return Xapian::Query((new text_phrase_source(ph))->release());
}

} // namespace yz_text
