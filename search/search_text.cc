// search_text.cc: the text side of the Xapian shim (search_text.h): normalisation, CJK
// clause breaks, and the query rewriting that makes CJK matching exact. Part of the shim
// behind search/search.h, like search_xapian.cc: no exception is caught here, the shim's
// extern "C" functions turn them into struct err.
#include "search/search_text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace yz_text {

constexpr Xapian::termcount WILDCARD_MAX = 100;

// The user's field names and the term prefixes they search. to: and cc: share XT because the
// document's "to" field holds both.
const struct {
	const char *field, *prefix;
} query_fields[] = {
	{"from", "A"}, {"to", "XT"}, {"cc", "XT"}, {"subject", "S"}, {"note", "XN"}, {"file", "XA"},
};

const unsigned QP_FLAGS = Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_BOOLEAN |
			  Xapian::QueryParser::FLAG_LOVEHATE | Xapian::QueryParser::FLAG_WILDCARD |
			  Xapian::QueryParser::FLAG_PURE_NOT | Xapian::QueryParser::FLAG_CJK_NGRAM;

// ---- text normalisation, applied to indexed and query text alike ----

// Full-width ASCII (U+FF01..U+FF5E) becomes ASCII and the ideographic space U+3000 a space;
// Xapian folds case afterwards. Byte-wise is safe: these three-byte sequences cannot start
// inside another character, and invalid UTF-8 passes through untouched.
std::string normalise(const char *s, size_t n)
{
	std::string out;
	out.reserve(n);
	for (size_t i = 0; i < n; i++) {
		size_t j = i; // copy up to the next byte that may start one of the three, at once
		while (j < n && (unsigned char)s[j] != 0xEF && (unsigned char)s[j] != 0xE3)
			j++;
		out.append(s + i, j - i);
		i = j;
		if (i == n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (i + 2 < n) {
			unsigned char c1 = (unsigned char)s[i + 1], c2 = (unsigned char)s[i + 2];
			if (c == 0xEF && c1 == 0xBC && c2 >= 0x81 && c2 <= 0xBF) { // U+FF01..U+FF3F
				out += (char)(c2 - 0x60);
				i += 2;
				continue;
			}
			if (c == 0xEF && c1 == 0xBD && c2 >= 0x80 && c2 <= 0x9E) { // U+FF40..U+FF5E
				out += (char)(c2 - 0x20);
				i += 2;
				continue;
			}
			if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) { // U+3000
				out += ' ';
				i += 2;
				continue;
			}
		}
		out += (char)c;
	}
	return out;
}

// Length of s up to max bytes, not cutting a UTF-8 sequence in two.
size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

// Xapian 1.4's CJK ranges (cjk-tokenizer.cc codepoint_is_cjk), which decide what its
// TermGenerator and QueryParser split into n-grams; cjk_quote() must agree with them.
bool is_cjk(unsigned ch)
{
	static const unsigned ranges[][2] = {
		{0x0E00, 0x0E7F},   {0x1100, 0x11FF},   {0x2E80, 0x2FDF},   {0x3000, 0x9FFF},
		{0xA700, 0xA71F},   {0xA960, 0xA97F},   {0xAC00, 0xD7FF},   {0xF900, 0xFAFF},
		{0xFE30, 0xFE4F},   {0xFF00, 0xFFEF},   {0x1B000, 0x1B12F}, {0x1F200, 0x1F2FF},
		{0x20000, 0x2A6DF}, {0x2A700, 0x2EBEF}, {0x2F800, 0x2FA1F},
	};
	for (const auto &r : ranges)
		if (ch >= r[0] && ch <= r[1])
			return true;
	return false;
}

bool is_cjk_wordchar(unsigned ch)
{
	return is_cjk(ch) && Xapian::Unicode::is_wordchar(ch);
}

bool has_cjk(const std::string &s)
{
	for (Xapian::Utf8Iterator it(s); it != Xapian::Utf8Iterator(); ++it)
		if (is_cjk_wordchar(*it))
			return true;
	return false;
}

// Where the clause after from starts in t, or t.size(). Punctuation (neither word characters
// nor spaces) with a CJK character on both sides ends a clause; the indexer puts one position
// between clauses, since TermGenerator gives punctuation none and 季度，报告 would otherwise
// hold the phrase 季度报告. Spaces and line breaks do not end a clause (plain-text mail wraps
// lines inside words), and punctuation next to Latin letters or digits keeps Xapian's own
// handling (C++教程, 时间:3点, e-mail): splitting there would change the terms it makes.
size_t clause_end(const std::string &t, size_t from)
{
	const unsigned char *p = (const unsigned char *)t.data(), *end = p + t.size();
	const unsigned char *q = p + from;
	const unsigned char *r = q;
	while (r < end && *r < 0xE0) // CJK is U+0E00 up: a lead byte of three bytes or more
		r++;
	if (r == end)
		return t.size();
	bool last_cjk = false; // the last word character seen was CJK
	bool punct = false;    // punctuation since the last word character
	bool gap = false;      // ... and it came right after a CJK character
	while (q < end) {
		const unsigned char *at = q;
		unsigned ch = *q;
		bool word, space;
		if (ch < 0x80) {
			word = (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
			       ch == '_';
			space = ch == ' ' || (ch >= '\t' && ch <= '\r');
			q++;
		} else {
			Xapian::Utf8Iterator it((const char *)q, (size_t)(end - q));
			ch = *it;
			++it;
			q = it == Xapian::Utf8Iterator() ? end : (const unsigned char *)it.raw();
			word = Xapian::Unicode::is_wordchar(ch);
			space = !word && Xapian::Unicode::is_whitespace(ch);
		}
		if (word) {
			bool cjk = ch >= 0x0E00 && is_cjk(ch);
			if (punct && gap && cjk)
				return (size_t)(at - p);
			punct = false;
			last_cjk = cjk;
		} else if (!space) {
			if (!punct)
				gap = last_cjk;
			punct = true;
		}
	}
	return t.size();
}

void index_clauses(Xapian::TermGenerator &tg, const std::string &t, const std::string &prefix)
{
	for (size_t at = 0; at < t.size();) {
		size_t end = clause_end(t, at);
		tg.index_text(Xapian::Utf8Iterator(t.data() + at, end - at), 1, prefix);
		tg.increase_termpos(end < t.size() ? 1 : FIELD_GAP);
		at = end;
	}
}

// ---- the query: make CJK exact ----
//
// What Xapian 1.4.22 does on its own (measured, not assumed): the TermGenerator in n-gram mode
// gives every CJK character a position and adds the bigrams without positions. The
// QueryParser turns a bare CJK run into an AND of all its unigrams and bigrams, so 季度报告
// also matches a mail holding 季度报表 and 报告 apart (both have 季度, 度报, 报告); a quoted
// run becomes a PHRASE of its unigrams, which is exact but has to read the position lists of
// characters found in nearly every Chinese mail.
//
// So: (1) cjk_quote() quotes every bare token holding CJK text (季度报告 -> "季度报告",
// subject:季度 -> subject:"季度", iPhone手机 -> "iPhone手机"), so the parser makes phrases;
// (2) cjk_exact() walks the parsed query and, inside each phrase, adds the bigram of every
// two neighbouring characters that came from one run of the query: a two-character phrase
// becomes just its bigram (bigrams only exist for characters adjacent in the text, so this is
// exact by itself), a longer one AND(bigrams..., PHRASE(unigrams)), where the rare bigrams
// pick the candidates and the phrase check runs only on those; (3) a phrase every match
// must hold is checked after the match instead, on the candidates shown (run_checked()).
//
// Positions skip punctuation, so 季度报告 would also match a mail holding 季度，报告 and the
// bigram 度报 somewhere else; index_clauses() closes that gap with a position between
// clauses.

bool is_query_field(const std::string &name)
{
	for (const auto &f : query_fields)
		if (name == f.field)
			return true;
	return false;
}

bool is_token_end(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
	       c == '(' || c == ')' || c == '"';
}

std::string cjk_quote(const std::string &t)
{
	std::string out;
	size_t n = t.size();
	out.reserve(n + 16);
	for (size_t i = 0; i < n;) {
		char c = t[i];
		if (c == '"') { // copy a quoted part as it is
			size_t e = t.find('"', i + 1);
			e = e == std::string::npos ? n : e + 1;
			out.append(t, i, e - i);
			i = e;
			continue;
		}
		if (is_token_end(c)) {
			out += c;
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_token_end(t[j]))
			j++;
		std::string tok = t.substr(i, j - i);
		i = j;
		if (!has_cjk(tok)) {
			out += tok;
			continue;
		}
		size_t k = 0;
		while (k < tok.size() && (tok[k] == '+' || tok[k] == '-'))
			k++;
		size_t colon = tok.find(':', k);
		if (colon != std::string::npos && is_query_field(tok.substr(k, colon - k)))
			k = colon + 1;
		size_t e = tok.size();
		while (e > k && tok[e - 1] == '*') // no wildcards over n-grams: they match anyway
			e--;
		std::string value = tok.substr(k, e - k);
		if (!has_cjk(value)) {
			out += tok;
			continue;
		}
		out.append(tok, 0, k);
		out += '"';
		out += value;
		out += '"';
		if (j < n && t[j] == '"')
			out += ' '; // 季度"报告" is two phrases, not one
	}
	return out;
}

// Xapian 1.4 reads a query made only of excluded terms ("-draft", "-a -b") as if the minus
// signs were not there. Written as NOT it means what the user asked: everything but those.
std::string pure_hate(const std::string &t)
{
	std::vector<size_t> signs;
	size_t others = 0, n = t.size();
	for (size_t i = 0; i < n;) {
		char c = t[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
		    c == '(' || c == ')') {
			i++;
			continue;
		}
		size_t start = i;
		bool hate = c == '-' && i + 1 < n && !is_token_end(t[i + 1]);
		hate = hate || (c == '-' && i + 1 < n && t[i + 1] == '"');
		for (; i < n && (t[i] == '"' || !is_token_end(t[i])); i++)
			if (t[i] == '"') { // a quoted part belongs to the token
				size_t e = t.find('"', i + 1);
				i = e == std::string::npos ? n - 1 : e;
			}
		if (hate)
			signs.push_back(start);
		else if (i - start > 1 || t[start] != '-')
			others++;
	}
	if (signs.empty() || others > 0)
		return t;
	std::string out;
	size_t from = 0;
	for (size_t at : signs) {
		out.append(t, from, at - from);
		out += "NOT ";
		from = at + 1;
	}
	out.append(t, from, std::string::npos);
	return out;
}

// The query position the parser gave a leaf term. The 1.4 API has no accessor, but the
// description is "Query(TERM[#wqf][@pos])"; anything else yields 0 (unknown).
Xapian::termpos leaf_pos(const Xapian::Query &leaf, const std::string &term)
{
	std::string d = leaf.get_description();
	std::string head = "Query(" + term;
	if (d.size() <= head.size() || d.compare(0, head.size(), head) != 0)
		return 0;
	size_t p = head.size();
	if (d[p] == '#')
		for (p++; p < d.size() && d[p] >= '0' && d[p] <= '9'; p++)
			;
	Xapian::termpos pos = 0;
	if (p < d.size() && d[p] == '@')
		for (p++; p < d.size() && d[p] >= '0' && d[p] <= '9' && pos < 100000000; p++)
			pos = pos * 10 + (Xapian::termpos)(d[p] - '0');
	return p + 1 == d.size() && d[p] == ')' ? pos : 0;
}

// A term that is PREFIX + one CJK character: sets the prefix and the character's UTF-8 bytes.
bool cjk_unigram(const std::string &term, std::string &prefix, std::string &ch)
{
	size_t p = 0;
	while (p < term.size() && term[p] >= 'A' && term[p] <= 'Z')
		p++;
	Xapian::Utf8Iterator it(term.data() + p, term.size() - p);
	if (it == Xapian::Utf8Iterator() || !is_cjk_wordchar(*it))
		return false;
	const char *start = it.raw();
	++it;
	if (it != Xapian::Utf8Iterator())
		return false;
	prefix.assign(term, 0, p);
	ch.assign(start, term.data() + term.size());
	return true;
}


// The window of a phrase or NEAR; 1.4 shows it only in the description: "(a@1 PHRASE 2 b@2)".
size_t op_window(const Xapian::Query &q, const char *op)
{
	std::string d = q.get_description();
	size_t p = d.find(op), w = 0;
	if (p == std::string::npos)
		return 0;
	for (p += strlen(op); p < d.size() && d[p] >= '0' && d[p] <= '9' && w < 100000; p++)
		w = w * 10 + (size_t)(d[p] - '0');
	return w;
}

// Terms without a field prefix: the ones an index of format 2 keeps no positions for.
bool bare_terms(const std::vector<std::string> &terms)
{
	for (const auto &t : terms)
		if (t.empty() || (t[0] >= 'A' && t[0] <= 'Z'))
			return false;
	return true;
}

// What a phrase's candidates must hold: its bigrams (legs) and every term no bigram stands for.
Xapian::Query candidates(std::vector<Xapian::Query> legs, const std::vector<bool> &covered,
			 const std::vector<std::string> &terms,
			 const std::vector<Xapian::termpos> &qpos)
{
	for (size_t i = 0; i < terms.size(); i++)
		if (!covered[i])
			legs.emplace_back(terms[i], 1, qpos[i]);
	return legs.size() == 1 ? legs[0]
				: Xapian::Query(Xapian::Query::OP_AND, legs.begin(), legs.end());
}

// A phrase (ordered) or NEAR over bare terms of a format 2 index: the candidates must hold
// the bigrams of its CJK runs and every other term; the text check runs after the match
// (plan, when the phrase is required) or inside it (text_phrase_query()).
Xapian::Query text_phrase(const std::vector<Xapian::Query> &legs,
			  const std::vector<bool> &covered, const std::vector<std::string> &terms,
			  const std::vector<Xapian::termpos> &qpos, size_t window, bool ordered,
			  bool required, text_plan *plan, bool &changed)
{
	size_t n = terms.size();
	changed = true;
	if (ordered && n == 2 && legs.size() == 1 && window <= 2) // one run: the bigram is exact
		return legs[0];
	Xapian::Query cand = candidates(legs, covered, terms, qpos);
	phrase_check ph;
	ph.terms = terms;
	ph.window = (Xapian::termpos)std::max(window, n);
	ph.ordered = ordered;
	ph.by_text = true;
	if (required && plan != nullptr) {
		plan->phrases.push_back(ph);
		return cand;
	}
	return Xapian::Query(Xapian::Query::OP_FILTER, cand, text_phrase_query(ph));
}

// NEAR over bare terms of a format 2 index (the positions it needs are not there).
Xapian::Query text_near(const Xapian::Query &q, bool &changed, bool required, text_plan *plan)
{
	size_t n = q.get_num_subqueries();
	std::vector<std::string> terms;
	std::vector<Xapian::termpos> qpos;
	for (size_t i = 0; i < n; i++) {
		Xapian::Query sub = q.get_subquery(i);
		if (sub.get_type() != Xapian::Query::LEAF_TERM ||
		    sub.get_terms_begin() == sub.get_terms_end())
			return q;
		terms.push_back(*sub.get_terms_begin());
		qpos.push_back(leaf_pos(sub, terms.back()));
	}
	if (n < 2 || !bare_terms(terms))
		return q;
	return text_phrase({}, std::vector<bool>(n, false), terms, qpos, op_window(q, " NEAR "),
			   false, required, plan, changed);
}

// One phrase: add its bigrams (see above). When the phrase is required (the query cannot
// match without it) and plan is given, its position check moves out of the match into
// plan->phrases: Xapian would otherwise read the position lists of every candidate, which
// for a phrase of common characters is most of the mail (a sort by date sees all of them),
// while run_checked() reads them only for the candidates it shows.
Xapian::Query cjk_phrase(const Xapian::Query &q, bool &changed, bool required, text_plan *plan,
			 unsigned slack, bool by_text)
{
	size_t n = q.get_num_subqueries();
	std::vector<Xapian::Query> legs;
	std::vector<std::string> terms;
	std::vector<Xapian::termpos> qpos;
	std::vector<bool> covered(n, false);
	std::string pprefix, pch;
	bool have_prev = false, all_terms = true, any_cjk = false;

	for (size_t i = 0; i < n; i++) {
		Xapian::Query sub = q.get_subquery(i);
		std::string prefix, ch, term;
		bool uni = false;
		Xapian::termpos pos = 0;
		if (sub.get_type() == Xapian::Query::LEAF_TERM &&
		    sub.get_terms_begin() != sub.get_terms_end()) {
			term = *sub.get_terms_begin();
			uni = cjk_unigram(term, prefix, ch);
			pos = leaf_pos(sub, term);
		} else {
			all_terms = false;
		}
		if (uni && have_prev && pos != 0 && pos == qpos.back() && prefix == pprefix) {
			legs.emplace_back(prefix + pch + ch, 1, pos);
			covered[i - 1] = covered[i] = true;
		}
		terms.push_back(term);
		qpos.push_back(pos);
		any_cjk = any_cjk || uni;
		have_prev = uni;
		pprefix = prefix;
		pch = ch;
	}
	if (!any_cjk)
		slack = 0;
	if (by_text && all_terms && n >= 2 && bare_terms(terms))
		return text_phrase(legs, covered, terms, qpos,
				   std::max(op_window(q, " PHRASE "), n) + slack, true, required, plan,
				   changed);
	bool defer = required && plan != nullptr && all_terms && n >= 2 &&
		     op_window(q, " PHRASE ") == n;
	if (legs.empty() && !defer && slack == 0)
		return q;
	changed = true;
	if (n == 2 && legs.size() == 1) // both characters were one run: the bigram is exact
		return legs[0];
	if (slack > 0) { // the text has a position between clauses where the query had punctuation
		std::vector<Xapian::Query> subs;
		for (size_t i = 0; i < n; i++)
			subs.push_back(q.get_subquery(i));
		legs.emplace_back(Xapian::Query::OP_PHRASE, subs.begin(), subs.end(),
				  std::max(op_window(q, " PHRASE "), n) + slack);
		return legs.size() == 1 ? legs[0]
					: Xapian::Query(Xapian::Query::OP_AND, legs.begin(), legs.end());
	}
	if (!defer) {
		legs.push_back(q);
		return Xapian::Query(Xapian::Query::OP_AND, legs.begin(), legs.end());
	}
	phrase_check ph;
	ph.terms = terms;
	ph.window = (Xapian::termpos)n;
	plan->phrases.push_back(ph);
	return candidates(legs, covered, terms, qpos);
}

// Rebuild q with cjk_phrase() applied to every phrase; operators with parameters the 1.4 API
// does not expose (NEAR windows, scale factors, wildcards, ranges) are kept as they are. The
// parser never puts a phrase under those. required: every match must match q (true along
// AND and FILTER, and the first leg of AND_NOT and AND_MAYBE).
Xapian::Query cjk_exact(const Xapian::Query &q, bool &changed, unsigned depth, bool required,
			text_plan *plan, unsigned slack, bool by_text)
{
	Xapian::Query::op op = q.get_type();
	if (op == Xapian::Query::OP_PHRASE)
		return cjk_phrase(q, changed, required, plan, slack, by_text);
	if (op == Xapian::Query::OP_NEAR && by_text)
		return text_near(q, changed, required, plan);
	bool all_required = false, first_required = false;
	switch (op) {
	case Xapian::Query::OP_AND:
	case Xapian::Query::OP_FILTER:
		all_required = required;
		break;
	case Xapian::Query::OP_AND_NOT:
	case Xapian::Query::OP_AND_MAYBE:
		first_required = required;
		break;
	case Xapian::Query::OP_OR:
	case Xapian::Query::OP_XOR:
	case Xapian::Query::OP_SYNONYM:
	case Xapian::Query::OP_MAX:
		break;
	default:
		return q;
	}
	if (depth > 100)
		return q;
	std::vector<Xapian::Query> subs;
	bool any = false;
	size_t n = q.get_num_subqueries();
	subs.reserve(n);
	for (size_t i = 0; i < n; i++)
		subs.push_back(cjk_exact(q.get_subquery(i), any, depth + 1,
					 all_required || (i == 0 && first_required), plan, slack,
					 by_text));
	if (!any)
		return q;
	changed = true;
	return Xapian::Query(op, subs.begin(), subs.end());
}

// The text part of a search into plan. plan->hl is the query as parsed, before cjk_exact():
// its phrases are what MSet::snippet() highlights as one span (it does not highlight bare
// bigrams). defer: phrase checks may move to run_checked().
void text_query(const Xapian::Database &db, const char *text, bool defer, bool by_text,
		text_plan *plan)
{
	size_t len = strlen(text);
	std::string t = normalise(text, len);
	if (t.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
		plan->match = plan->hl = Xapian::Query::MatchAll;
		return;
	}
	Xapian::QueryParser qp;
	qp.set_database(db);
	qp.set_default_op(Xapian::Query::OP_AND);
	qp.set_max_expansion(WILDCARD_MAX, Xapian::Query::WILDCARD_LIMIT_MOST_FREQUENT,
			     Xapian::QueryParser::FLAG_WILDCARD);
	for (const auto &f : query_fields)
		qp.add_prefix(f.field, f.prefix);
	Xapian::Query q = qp.parse_query(pure_hate(cjk_quote(t)), QP_FLAGS);
	if (q.empty()) { // only punctuation: nothing to look for
		plan->match = plan->hl = Xapian::Query::MatchNothing;
		return;
	}
	// Punctuation touching CJK in the query: its phrases may span that many more positions,
	// as index_clauses() left one between the clauses of the text.
	// Quotes and brackets are the query's own syntax; field colons, signs and wildcards never
	// stand between two CJK characters (fields are Latin names, signs start a word).
	std::string bare = t;
	for (char &c : bare)
		if (c == '"' || c == '(' || c == ')')
			c = ' ';
	unsigned slack = 0;
	for (size_t at = clause_end(bare, 0); at < bare.size() && slack < 16;
	     at = clause_end(bare, at))
		slack++;
	plan->hl = q;
	bool changed = false;
	text_plan *deferred = nullptr;
	if (defer && (slack == 0 || by_text))
		deferred = plan;
	plan->match = cjk_exact(q, changed, 0, true, deferred, slack, by_text);
}

} // namespace yz_text
