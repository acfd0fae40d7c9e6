// search_xapian.cc: the Xapian shim behind search/search.h (STYLE.md section 7). Every
// extern "C" function is noexcept and turns Xapian::Error, std::exception and anything else
// thrown into struct err; out of memory aborts.
//
// The decisions, one line each (the reasons are in the comments where each one is made):
// - The Xapian docid is the message id itself: replace/delete/get are direct lookups and no
//   "Q<id>" term (one more posting list per message) is stored. Ids must fit 32 bits.
// - Text goes through one reused TermGenerator in CJK n-gram mode: Xapian 1.4 gives each CJK
//   character (unigram) a position and stores the bigrams without one.
// - An index of format 2 (every index made now) gives positions only to prefixed terms and
//   keeps each document's text instead, for phrase checks (search_text.h, search_phrase.cc);
//   format 1 (older indexes) has positions for every term and the subject and 2 KB of body as
//   document data.
// - Queries go through QueryParser, then two fix-ups make CJK matching exact (cjk_quote() and
//   cjk_exact() in search_text.cc): a run of CJK characters must occur contiguously, not
//   merely all of its n-grams somewhere in the mail.
// - No stemming: exact words match exactly, and the index stays smaller.
// - Measured with bench/store.sh on 10,000 generated mails: format 1 is 1.44x the raw mail
//   after search_compact() at about 380 mails/s, format 2 0.99x at about 500.
#include <xapian.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "search/search.h"
#include "search/search_text.h"

extern "C" {
#include "lib/log.h"
}

namespace {

constexpr Xapian::valueno SLOT_DATE = 0;
// Document data keeps the subject and this much of the body, for highlights.
constexpr size_t DATA_BODY_BYTES = 2048;
// search_snippets() looks this far into a text for a match to show.
constexpr size_t SNIPPET_TEXT_BYTES = 256 * 1024; // callers may pass less
// Each field is indexed up to this many bytes; a longer field is cut at a character boundary.
constexpr size_t MAX_FIELD_BYTES = 1024 * 1024;
// search_run refuses longer query text (search_query_parse allows 1 KiB before rewriting).
constexpr size_t MAX_QUERY_BYTES = 8192;
constexpr size_t MAX_LIMIT = 10000;
constexpr size_t MAX_OFFSET = 1000000;
// Small totals are exact: Xapian counts at least this many matches beyond the page.
constexpr Xapian::doccount COUNT_EXACT = 1000;

const char *const TERM_FOLDER = "XF";
// The index's format, in each database's metadata: absent is format 1 (positions for every
// term), FORMAT_TEXT format 2 (search_text.h).
const char *const FORMAT_KEY = "yizhan.format";
const char *const FORMAT_TEXT = "2";
const char *const TERM_HAS_ATTACHMENT = "XHA";


} // namespace

namespace {

// A document as search_put() was given it, owned, for a shard's worker to index later.
struct doc_copy {
	int64_t folder_id = 0, date = 0;
	bool has_attachment = false;
	std::string subject, from, to, body, attach_names, attach_text, note;
};

enum class job_op { PUT, DELETE, COMMIT };

struct job {
	job_op op;
	Xapian::docid did; // the shard's own docid
	std::unique_ptr<doc_copy> doc;
};

// One shard of a writer: its database, its TermGenerator and, when the index has more than
// one shard, the thread that indexes into it from a short queue.
struct shard {
	std::string dir;
	Xapian::WritableDatabase wdb;
	Xapian::TermGenerator tg;
	bool format2 = false; // bare terms without positions, phrase text in the data
	std::thread worker;
	std::mutex mu;
	std::condition_variable wake, idle; // wake: work or stop; idle: room, or nothing to do
	std::deque<job> q;
	bool busy = false, stop = false;
	struct err failed = {}; // the first failure since the last commit, read once idle
};

} // namespace

struct search_db {
	Xapian::Database db; // what queries run on: the reader, or every shard of the writer
	bool writable = false;
	bool by_text = false; // format 2: bare phrases are checked on the documents' text
	std::vector<std::unique_ptr<shard>> shards; // writers only, in the order XAPIANDB lists them
	std::string dir;
};

namespace {

using namespace yz_text;

// ---- errors ----

// Run fn, turning every exception into err. The catch clauses allocate (descriptions are
// std::string): if that throws, noexcept ends the process, which is what out of memory does
// here anyway.
template <typename F> int guarded(const char *what, struct err *err, F &&fn) noexcept
{
	try {
		return fn();
	} catch (const Xapian::QueryParserError &e) {
		return err_set(err, ERR_INVALID, "cannot understand the search query: %s",
			       e.get_msg().c_str());
	} catch (const Xapian::DatabaseLockError &) {
		return err_set(err, ERR_LIMIT, "search index is busy");
	} catch (const Xapian::DatabaseNotFoundError &e) {
		return err_set(err, ERR_NOTFOUND, "%s: no search index: %s", what,
			       e.get_description().c_str());
	} catch (const Xapian::DocNotFoundError &e) {
		return err_set(err, ERR_NOTFOUND, "%s: %s", what, e.get_description().c_str());
	} catch (const Xapian::RuntimeError &e) {
		return err_set(err, ERR_IO, "%s: %s", what, e.get_description().c_str());
	} catch (const Xapian::Error &e) {
		return err_set(err, ERR_INTERNAL, "%s: %s", what, e.get_description().c_str());
	} catch (const std::bad_alloc &) {
		fputs("search: out of memory\n", stderr);
		abort();
	} catch (const std::exception &e) {
		return err_set(err, ERR_INTERNAL, "%s: %s", what, e.what());
	} catch (...) {
		return err_set(err, ERR_INTERNAL, "%s: unknown exception", what);
	}
}


std::string folder_term(int64_t folder_id)
{
	return TERM_FOLDER + std::to_string(folder_id);
}

// Deferred phrase checks pay off for the first pages; deep pages check inside the match.
constexpr size_t DEFER_MAX_ROWS = 2000;

Xapian::Query build_query(search_db *s, const struct search_query *q, text_plan *plan)
{
	text_query(s->db, q->text ? q->text : "", q->offset + q->limit <= DEFER_MAX_ROWS, s->by_text,
		   plan);
	Xapian::Query query = plan->match;
	std::vector<Xapian::Query> filters;
	if (q->folder_id != 0)
		filters.emplace_back(folder_term(q->folder_id));
	if (q->has_attachment)
		filters.emplace_back(TERM_HAS_ATTACHMENT);
	// after <= date < before, on whole seconds: the value range is inclusive at both ends.
	if (q->after != 0 && q->before != 0)
		filters.emplace_back(Xapian::Query::OP_VALUE_RANGE, SLOT_DATE,
				     Xapian::sortable_serialise((double)q->after),
				     Xapian::sortable_serialise((double)q->before - 1));
	else if (q->after != 0)
		filters.emplace_back(Xapian::Query::OP_VALUE_GE, SLOT_DATE,
				     Xapian::sortable_serialise((double)q->after));
	else if (q->before != 0)
		filters.emplace_back(Xapian::Query::OP_VALUE_LE, SLOT_DATE,
				     Xapian::sortable_serialise((double)q->before - 1));
	if (!filters.empty())
		query = Xapian::Query(Xapian::Query::OP_FILTER, query,
				      Xapian::Query(Xapian::Query::OP_AND, filters.begin(),
						    filters.end()));
	if (q->not_folders != nullptr && q->nnot_folders > 0) {
		std::vector<Xapian::Query> nots;
		for (size_t i = 0; i < q->nnot_folders; i++)
			nots.emplace_back(folder_term(q->not_folders[i]));
		query = Xapian::Query(Xapian::Query::OP_AND_NOT, query,
				      Xapian::Query(Xapian::Query::OP_OR, nots.begin(), nots.end()));
	}
	return query;
}

// MSet::snippet() escapes for HTML; our callers escape for where the text goes, so undo it.
std::string html_unescape(const std::string &s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
	std::string out;
	out.reserve(s.size());
	for (size_t i = 0; i < s.size(); i++) {
		bool done = false;
		if (s[i] == '&')
			for (const auto &e : ents) {
				size_t l = strlen(e.ent);
				if (s.compare(i, l, e.ent) == 0) {
					out += e.c;
					i += l - 1;
					done = true;
					break;
				}
			}
		if (!done)
			out += s[i];
	}
	return out;
}

std::string highlight(const Xapian::MSet &hl, const std::string &data, size_t chars)
{
	if (data.empty())
		return data;
	// snippet() counts bytes; scale the character budget by this text's bytes per character.
	size_t nchars = 0;
	for (unsigned char c : data)
		nchars += (c & 0xC0) != 0x80;
	size_t bytes = nchars ? chars * data.size() / nchars : chars;
	// Not SNIPPET_EXHAUSTIVE: the first good window will do, and 50 hits cost 5-10 ms less.
	// Not SNIPPET_BACKGROUND_MODEL either: it looks every word of the excerpt up in the
	// index (a read each), half the search time in bench/store.sh, for a slightly better
	// choice of window.
	std::string sn = hl.snippet(data, bytes, Xapian::Stem(), Xapian::MSet::SNIPPET_CJK_NGRAM,
				    SEARCH_HL_START, SEARCH_HL_END, "\xe2\x80\xa6");
	return html_unescape(sn);
}

// Subject, a newline, and the start of the body: what highlights are made from. \x01 and \x02
// become spaces so that only real matches carry the highlight markers.
std::string doc_data(const std::string &subject, const std::string &body)
{
	std::string data(subject, 0, utf8_cut(subject.data(), subject.size(), DATA_BODY_BYTES));
	data += '\n';
	data.append(body, 0, utf8_cut(body.data(), body.size(), DATA_BODY_BYTES));
	for (char &c : data)
		if (c == '\x01' || c == '\x02')
			c = ' ';
	return data;
}

// doc_data() of a hit: kept as the document data (format 1) or made from its phrase text.
std::string hit_data(search_db *s, Xapian::docid did)
{
	if (!s->by_text)
		return s->db.get_document(did).get_data();
	std::string text;
	// no more than the subject and DATA_BODY_BYTES of the body
	auto enough = [](const std::string &t) {
		size_t at = 0;
		for (int k = 0; k < (int)TF_BODY && at != std::string::npos; k++)
			if ((at = t.find(TEXT_FIELD_END, at)) != std::string::npos)
				at++;
		return at != std::string::npos && t.size() - at > DATA_BODY_BYTES;
	};
	if (!doc_text(s->db, did, text, enough))
		return std::string();
	return doc_data(text_field(text, TF_SUBJECT), text_field(text, TF_BODY));
}

bool has_phrase(const Xapian::Database &db, Xapian::docid did, const phrase_check &ph)
{
	if (ph.by_text)
		return doc_has_phrase(db, did, ph);
	std::vector<std::vector<Xapian::termpos>> pos(ph.terms.size());
	for (size_t i = 0; i < ph.terms.size(); i++) {
		for (Xapian::PositionIterator p = db.positionlist_begin(did, ph.terms[i]);
		     p != db.positionlist_end(did, ph.terms[i]); ++p)
			pos[i].push_back(*p);
		if (pos[i].empty())
			return false;
	}
	return positions_match(pos, ph.window, ph.ordered);
}

struct hit {
	Xapian::docid did;
	double weight;
};

// The page straight from Xapian.
void run_plain(Xapian::Enquire &enq, const struct search_query *q, std::vector<hit> &page,
	       size_t &total)
{
	Xapian::MSet m = enq.get_mset((Xapian::doccount)q->offset, (Xapian::doccount)q->limit,
				      (Xapian::doccount)(q->offset + q->limit + COUNT_EXACT));
	for (Xapian::MSetIterator it = m.begin(); it != m.end(); ++it)
		page.push_back({*it, it.get_weight()});
	total = m.get_matches_estimated();
}

// Candidates in Xapian's order, each checked for plan's phrases, until the page is full. The
// total is exact when every candidate got checked (always when there are at most about
// COUNT_EXACT), otherwise Xapian's estimate scaled by the share of checked ones that passed.
void run_checked(search_db *s, Xapian::Enquire &enq, const struct search_query *q,
		 const text_plan &plan, std::vector<hit> &page, size_t &total)
{
	size_t need = q->offset + q->limit, chunk = need + need / 4 + 32;
	size_t from = 0, checked = 0, passed = 0;
	Xapian::doccount est = 0, upper = 0;
	for (;;) {
		Xapian::MSet m = enq.get_mset((Xapian::doccount)from, (Xapian::doccount)chunk,
					      (Xapian::doccount)(from + chunk + COUNT_EXACT));
		if (from == 0) {
			est = m.get_matches_estimated();
			upper = m.get_matches_upper_bound();
		}
		for (Xapian::MSetIterator it = m.begin(); it != m.end(); ++it) {
			checked++;
			bool ok = true;
			for (const auto &ph : plan.phrases)
				ok = ok && has_phrase(s->db, *it, ph);
			if (!ok)
				continue;
			if (passed >= q->offset && page.size() < q->limit)
				page.push_back({*it, it.get_weight()});
			passed++;
		}
		from += m.size();
		if (m.size() < chunk) { // every candidate checked
			total = passed;
			return;
		}
		if (page.size() >= q->limit && upper > from + COUNT_EXACT)
			break;
		if (page.size() >= q->limit) { // only counting now: take the rest in one go
			if (upper > from)
				chunk = std::max(chunk, (size_t)upper - from + 1);
		} else {
			chunk *= 2;
		}
	}
	size_t scaled = (size_t)((double)est * (double)passed / (double)checked + 0.5);
	total = scaled > passed ? scaled : passed;
}

int run(search_db *s, const struct search_query *q, struct arena *a, struct search_hit **hits_r,
	size_t *nhits_r, size_t *total_r)
{
	Xapian::Enquire enq(s->db);
	text_plan plan;
	enq.set_query(build_query(s, q, &plan));
	if (q->by_date) {
		enq.set_sort_by_value_then_relevance(SLOT_DATE, true);
		enq.set_docid_order(Xapian::Enquire::DESCENDING);
	}
	std::vector<hit> page;
	size_t total = 0;
	if (plan.phrases.empty())
		run_plain(enq, q, page, total);
	else
		run_checked(s, enq, q, plan, page, total);

	size_t n = page.size();
	struct search_hit *hits =
		(struct search_hit *)arena_alloc(a, (n ? n : 1) * sizeof(struct search_hit));
	size_t chars = q->highlight_chars ? q->highlight_chars : 160;
	Xapian::MSet hl;
	if (q->highlight && n > 0) { // an empty MSet of the highlight query, for snippet()
		Xapian::Enquire henq(s->db);
		henq.set_query(plan.hl);
		hl = henq.get_mset(0, 0);
	}
	for (size_t i = 0; i < n; i++) {
		hits[i].id = (int64_t)page[i].did;
		hits[i].score = page[i].weight;
		hits[i].highlight = nullptr;
		if (q->highlight) {
			std::string h = highlight(hl, hit_data(s, page[i].did), chars);
			hits[i].highlight = arena_strndup(a, h.data(), h.size());
		}
	}
	*hits_r = hits;
	*nhits_r = n;
	*total_r = total;
	return 0;
}

// Whether q holds a term the body's text can match: one without a field prefix (from:,
// subject:, ... terms start with upper-case letters, text terms never do).
bool body_terms(const Xapian::Query &q)
{
	for (Xapian::TermIterator t = q.get_terms_begin(); t != q.get_terms_end(); ++t) {
		const std::string &term = *t;
		if (!term.empty() && !(term[0] >= 'A' && term[0] <= 'Z'))
			return true;
	}
	return false;
}

// ---- indexing ----

// One field: under its prefix (when it has one) with positions, and bare. Format 2 gives the
// bare copy no positions and appends the field to text, the phrase text (search_text.h).
void index_field(Xapian::TermGenerator &tg, Xapian::Document &d, const std::string &text,
		 const char *prefix, std::string *ptext)
{
	size_t len = utf8_cut(text.data(), text.size(), MAX_FIELD_BYTES);
	if (ptext != nullptr)
		text_append_field(*ptext, text.data(), len);
	if (text.empty())
		return;
	std::string t = normalise(text.data(), len);
	if (prefix != nullptr)
		index_clauses(tg, t, prefix);
	if (ptext == nullptr)
		index_clauses(tg, t, std::string());
	else
		index_bare(tg, d, t);
}

Xapian::Document make_document(Xapian::TermGenerator &tg, const doc_copy &doc, bool format2)
{
	Xapian::Document d;
	std::string text, *ptext = format2 ? &text : nullptr;
	tg.set_document(d);
	tg.set_termpos(0);
	index_field(tg, d, doc.subject, "S", ptext);
	index_field(tg, d, doc.from, "A", ptext);
	index_field(tg, d, doc.to, "XT", ptext);
	index_field(tg, d, doc.body, nullptr, ptext);
	index_field(tg, d, doc.attach_names, "XA", ptext);
	index_field(tg, d, doc.attach_text, nullptr, ptext);
	index_field(tg, d, doc.note, "XN", ptext);
	d.add_boolean_term(folder_term(doc.folder_id));
	if (doc.has_attachment)
		d.add_boolean_term(TERM_HAS_ATTACHMENT);
	d.add_value(SLOT_DATE, Xapian::sortable_serialise((double)doc.date));
	if (format2)
		d.add_value(TEXT_SLOT, text_pack(text));
	else
		d.set_data(doc_data(doc.subject, doc.body));
	return d;
}

// ---- shards ----
//
// Xapian 1.4 indexes on one thread per database, and indexing is nine tenths of a bulk
// import (bench/store.sh: about 230 CJK mails/s). So an index made now is split into shards,
// each a glass database with its own writer thread. Message id m goes to shard (m-1) % n as
// docid (m-1)/n + 1; Xapian numbers the documents of databases searched together the same
// way (docid d of shard k is (d-1)*n + k + 1 of the whole), so a search over all shards still
// sees message ids as docids, and nothing above this file knows about shards.
//
// On disk, DIR/XAPIANDB is Xapian's list of databases searched together: one "auto sK" line
// per shard, K from 0, in order, so Xapian::Database(DIR) opens the whole index. An index
// made before shards is a single glass database in DIR itself and is used as one shard until
// it is thrown away (yizhan reindex).

const char *const SHARD_LIST = "XAPIANDB";
constexpr unsigned MAX_SHARDS = 8;
// Documents waiting per shard: enough to keep its thread busy while the caller reads and
// parses the next mail, few enough that memory stays small (each holds a mail's text).
constexpr size_t QUEUE_MAX = 16;

bool file_exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

// The shard directories of the index in dir, in order; empty when there is no index yet.
std::vector<std::string> shard_dirs(const std::string &dir)
{
	std::vector<std::string> out;
	if (file_exists(dir + "/iamglass")) {
		out.push_back(dir);
		return out;
	}
	FILE *f = fopen((dir + "/" + SHARD_LIST).c_str(), "r");
	if (f == nullptr) {
		if (errno != ENOENT)
			throw Xapian::DatabaseOpeningError(dir + "/" + SHARD_LIST + ": " + strerror(errno));
		return out;
	}
	char line[64];
	while (fgets(line, sizeof(line), f) != nullptr) {
		unsigned k;
		char nl;
		if (sscanf(line, "auto s%u%c", &k, &nl) != 2 || nl != '\n' || k != out.size() ||
		    k >= MAX_SHARDS) {
			fclose(f);
			throw Xapian::DatabaseCorruptError(dir + "/" + SHARD_LIST + ": not a shard list this "
							   "shim wrote");
		}
		out.push_back(dir + "/s" + std::to_string(k));
	}
	fclose(f);
	if (out.empty())
		throw Xapian::DatabaseCorruptError(dir + "/" + SHARD_LIST + ": no shards");
	return out;
}

// Write DIR/XAPIANDB for n shards: to a temporary file, flushed, then renamed into place.
void write_shard_list(const std::string &dir, unsigned n)
{
	std::string body, tmp = dir + "/" + SHARD_LIST + ".tmp";
	for (unsigned k = 0; k < n; k++)
		body += "auto s" + std::to_string(k) + "\n";
	FILE *f = fopen(tmp.c_str(), "w");
	if (f == nullptr)
		throw Xapian::DatabaseCreateError(tmp + ": " + strerror(errno));
	bool ok = fwrite(body.data(), 1, body.size(), f) == body.size();
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp.c_str(), (dir + "/" + SHARD_LIST).c_str()) < 0) {
		int e = errno;
		(void)unlink(tmp.c_str());
		throw Xapian::DatabaseCreateError(dir + "/" + SHARD_LIST + ": " + strerror(e));
	}
}

// One job, on the shard's thread (or the caller's, with one shard). After a failure the
// shard does nothing until the failure has been reported: the jobs stay queued in mail.db.
void run_job(shard &sh, job &j)
{
	if (sh.failed.code != ERR_OK)
		return;
	switch (j.op) {
	case job_op::PUT:
		(void)guarded("search put", &sh.failed, [&]() -> int {
			sh.wdb.replace_document(j.did, make_document(sh.tg, *j.doc, sh.format2));
			return 0;
		});
		break;
	case job_op::DELETE:
		(void)guarded("search delete", &sh.failed, [&]() -> int {
			try {
				sh.wdb.delete_document(j.did);
			} catch (const Xapian::DocNotFoundError &) {
			}
			return 0;
		});
		break;
	case job_op::COMMIT:
		(void)guarded("search commit", &sh.failed, [&]() -> int {
			sh.wdb.commit();
			return 0;
		});
		break;
	}
}

void worker_main(shard *sh)
{
	std::unique_lock<std::mutex> lk(sh->mu);
	for (;;) {
		sh->wake.wait(lk, [sh] { return sh->stop || !sh->q.empty(); });
		if (sh->q.empty())
			return; // stop, and nothing left
		job j = std::move(sh->q.front());
		sh->q.pop_front();
		sh->busy = true;
		lk.unlock();
		run_job(*sh, j);
		j.doc.reset(); // free the text outside the lock
		lk.lock();
		sh->busy = false;
		sh->idle.notify_all();
	}
}

bool threaded(const search_db *s)
{
	return s->shards.size() > 1;
}

// Hand j to its shard; with one shard, run it here. A failure the shard already had is
// reported now rather than at the commit.
int submit(search_db *s, shard &sh, job &&j, struct err *err)
{
	if (!threaded(s)) {
		run_job(sh, j);
		if (sh.failed.code == ERR_OK)
			return 0;
		*err = sh.failed;
		sh.failed = {};
		return -1;
	}
	std::unique_lock<std::mutex> lk(sh.mu);
	sh.idle.wait(lk, [&sh] { return sh.q.size() < QUEUE_MAX; });
	if (!sh.busy && sh.failed.code != ERR_OK) { // busy: the thread may be writing it
		*err = sh.failed;
		return -1; // kept until the commit, which must fail too
	}
	sh.q.push_back(std::move(j));
	sh.wake.notify_one();
	return 0;
}

// Wait until every shard's thread has finished its queue; afterwards the caller may use the
// shards' databases itself (the mutex orders the thread's writes before what follows).
void quiesce(search_db *s)
{
	if (!threaded(s))
		return;
	for (auto &sh : s->shards) {
		std::unique_lock<std::mutex> lk(sh->mu);
		sh->idle.wait(lk, [&sh] { return sh->q.empty() && !sh->busy; });
	}
}

// After quiesce(): the first shard failure into err (and every shard's cleared).
int take_failure(search_db *s, struct err *err)
{
	int ret = 0;
	for (auto &sh : s->shards) {
		if (sh->failed.code != ERR_OK && ret == 0) {
			*err = sh->failed;
			ret = -1;
		}
		sh->failed = {};
	}
	return ret;
}

shard &shard_of(search_db *s, Xapian::docid id, Xapian::docid &local)
{
	Xapian::docid n = (Xapian::docid)s->shards.size();
	local = (id - 1) / n + 1;
	return *s->shards[(id - 1) % n];
}

// The writer's view for queries: every shard's database, in order.
// Whether the index s->db is of format 2 (what its first database says; all shards of an
// index are made together).
void read_format(search_db *s)
{
	s->by_text = s->db.get_metadata(FORMAT_KEY) == FORMAT_TEXT;
}

void join_shards(search_db *s)
{
	s->db = Xapian::Database();
	for (auto &sh : s->shards)
		s->db.add_database(sh->wdb);
	read_format(s);
}

void stop_workers(search_db *s)
{
	for (auto &sh : s->shards) {
		if (!sh->worker.joinable())
			continue;
		{
			std::lock_guard<std::mutex> lk(sh->mu);
			sh->stop = true;
		}
		sh->wake.notify_one();
		sh->worker.join();
	}
}

// Commit every shard (at once, each on its own thread) and report the first failure.
int commit_all(search_db *s, struct err *err)
{
	if (!threaded(s))
		return submit(s, *s->shards[0], job{job_op::COMMIT, 0, nullptr}, err);
	quiesce(s);
	if (take_failure(s, err) < 0)
		return -1;
	for (auto &sh : s->shards) {
		struct err ignored;
		(void)submit(s, *sh, job{job_op::COMMIT, 0, nullptr}, &ignored);
	}
	quiesce(s);
	return take_failure(s, err);
}

// A database directory d that is missing while d.old exists is a compaction between its two
// renames (compact_shard): in progress, its writer still holds the lock inside d.old, and
// this is "busy"; or one that died there, and d.old, still whole, goes back. Without this a
// writer would create an empty d in the gap, and the compaction would lose the shard.
void recover_compaction(const std::string &d)
{
	const std::string old = d + ".old";
	if (file_exists(d) || !file_exists(old))
		return;
	{ // DatabaseLockError while the compaction runs
		Xapian::WritableDatabase probe(old, Xapian::DB_OPEN | Xapian::DB_BACKEND_GLASS);
		probe.close();
	}
	if (rename(old.c_str(), d.c_str()) < 0 && errno != ENOENT && errno != EEXIST &&
	    errno != ENOTEMPTY)
		throw Xapian::DatabaseOpeningError(old + ": " + strerror(errno));
	log_warn("search", "dir=%s msg=\"an unfinished compaction was undone\"", d.c_str());
}

// Open (creating when missing) the writers of the index in s->dir.
void open_writer(search_db *s, unsigned want)
{
	recover_compaction(s->dir); // an index made before shards is compacted as a whole
	std::vector<std::string> dirs = shard_dirs(s->dir);
	bool fresh = dirs.empty();
	if (fresh) {
		if (mkdir(s->dir.c_str(), 0700) < 0 && errno != EEXIST)
			throw Xapian::DatabaseCreateError(s->dir + ": " + strerror(errno));
		for (unsigned k = 0; k < want; k++)
			dirs.push_back(s->dir + "/s" + std::to_string(k));
	}
	for (const std::string &d : dirs) {
		auto sh = std::make_unique<shard>();
		sh->dir = d;
		if (!fresh)
			recover_compaction(d);
		// a shard XAPIANDB names must be there: never made anew, empty, in its place
		sh->wdb = Xapian::WritableDatabase(d, (fresh ? Xapian::DB_CREATE_OR_OPEN
							     : Xapian::DB_OPEN) |
							      Xapian::DB_BACKEND_GLASS);
		sh->tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
		sh->tg.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
		if (fresh) { // committed now: a shard's format never changes
			sh->wdb.set_metadata(FORMAT_KEY, FORMAT_TEXT);
			sh->wdb.commit();
		}
		sh->format2 = sh->wdb.get_metadata(FORMAT_KEY) == FORMAT_TEXT;
		s->shards.push_back(std::move(sh));
	}
	if (fresh) // last, so XAPIANDB always names shards that exist
		write_shard_list(s->dir, want);
	join_shards(s);
	if (s->shards.size() < 2)
		return;
	try {
		for (auto &sh : s->shards)
			sh->worker = std::thread(worker_main, sh.get());
	} catch (...) { // no thread to be had: the ones started must end before s does
		stop_workers(s);
		throw;
	}
}

// What every search call checks first: an index, a query, and a query of sane length.
int check_query(search_db *s, const struct search_query *q, struct err *err)
{
	if (s == nullptr || q == nullptr)
		return err_set(err, ERR_INVALID, "search: no index or no query");
	if (q->text != nullptr && strlen(q->text) > MAX_QUERY_BYTES)
		return err_set(err, ERR_LIMIT, "search query is longer than %zu bytes",
			       MAX_QUERY_BYTES);
	return 0;
}

int check_writer(search_db *s, struct err *err)
{
	if (s == nullptr)
		return err_set(err, ERR_INVALID, "search: no index");
	if (!s->writable)
		return err_set(err, ERR_DENIED, "search: index %s is open read-only", s->dir.c_str());
	return 0;
}

int check_id(int64_t id, struct err *err)
{
	if (id <= 0)
		return err_set(err, ERR_INVALID, "search: message id %lld is not positive",
			       (long long)id);
	if ((uint64_t)id > (uint64_t)UINT32_MAX)
		return err_set(err, ERR_LIMIT, "search: message id %lld is above 2^32-1",
			       (long long)id);
	return 0;
}

void reopen_reader(search_db *s)
{
	if (s->writable)
		return; // a writer always sees its own state
	try {
		(void)s->db.reopen();
	} catch (const Xapian::DatabaseError &) {
		s->db = Xapian::Database(s->dir); // e.g. search_compact() swapped the files
	}
	read_format(s);
}

// Remove a Xapian database directory (glass keeps only plain files in it). Best effort.
void rm_flat(const std::string &dir)
{
	DIR *d = opendir(dir.c_str());
	if (d == nullptr)
		return;
	while (struct dirent *e = readdir(d)) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		(void)unlink((dir + "/" + e->d_name).c_str());
	}
	closedir(d);
	(void)rmdir(dir.c_str());
}

// Compact one shard into DIR.compact and swap it in, while still holding the lock on the old
// copy, so no other writer slips in.
int compact_shard(shard &sh, struct err *err)
{
	const std::string tmp = sh.dir + ".compact", old = sh.dir + ".old";
	sh.wdb.commit();
	rm_flat(tmp); // left by a compaction that died half-way
	try {
		sh.wdb.compact(tmp, Xapian::DBCOMPACT_NO_RENUMBER);
	} catch (...) { // e.g. the disk is full
		rm_flat(tmp);
		throw;
	}
	rm_flat(old);
	if (rename(sh.dir.c_str(), old.c_str()) < 0) {
		int e = errno;
		rm_flat(tmp);
		return err_set(err, ERR_IO, "search compact: rename %s: %s", sh.dir.c_str(),
			       strerror(e));
	}
	if (rename(tmp.c_str(), sh.dir.c_str()) < 0) {
		int e = errno;
		(void)rename(old.c_str(), sh.dir.c_str());
		rm_flat(tmp);
		return err_set(err, ERR_IO, "search compact: rename %s: %s", tmp.c_str(),
			       strerror(e));
	}
	Xapian::WritableDatabase fresh;
	try {
		fresh = Xapian::WritableDatabase(sh.dir, Xapian::DB_OPEN | Xapian::DB_BACKEND_GLASS);
	} catch (...) { // put the old copy back; it is still whole
		(void)rename(sh.dir.c_str(), tmp.c_str());
		(void)rename(old.c_str(), sh.dir.c_str());
		rm_flat(tmp);
		throw;
	}
	sh.wdb.close();
	sh.wdb = fresh;
	rm_flat(old);
	return 0;
}

int compact(search_db *s, struct err *err)
{
	quiesce(s);
	if (take_failure(s, err) < 0)
		return -1;
	int ret = 0;
	for (auto &sh : s->shards)
		if ((ret = compact_shard(*sh, err)) < 0)
			break;
	join_shards(s);
	return ret;
}

} // namespace

extern "C" {

int search_open(const char *dir, bool writable, unsigned shards, struct search_db **db_r,
		struct err *err) noexcept
{
	if (dir == nullptr || *dir == '\0')
		return err_set(err, ERR_INVALID, "search: no index directory");
	if (writable && (shards < 1 || shards > MAX_SHARDS))
		return err_set(err, ERR_INVALID, "search: %u shards (1 to %u)", shards, MAX_SHARDS);
	return guarded("search open", err, [&]() -> int {
		struct stat st;
		if (!writable && stat(dir, &st) < 0)
			return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
				       "search: no search index in %s: %s", dir, strerror(errno));
		std::unique_ptr<search_db> s(new search_db);
		s->dir = dir;
		while (s->dir.size() > 1 && s->dir.back() == '/')
			s->dir.pop_back(); // DIR.compact must not land inside DIR
		s->writable = writable;
		if (writable)
			open_writer(s.get(), shards); // a throw on shard k closes shards 0..k-1
		else if (shard_dirs(s->dir).empty()) // e.g. a writer is creating it just now
			return err_set(err, ERR_NOTFOUND, "search: no search index in %s", dir);
		else {
			s->db = Xapian::Database(s->dir);
			read_format(s.get());
		}
		*db_r = s.release();
		return 0;
	});
}

void search_close(struct search_db **dbp) noexcept
{
	if (dbp == nullptr || *dbp == nullptr)
		return;
	search_db *s = *dbp;
	*dbp = nullptr;
	struct err err = {};
	if (s->writable && commit_all(s, &err) < 0)
		log_error("search", "op=close dir=%s err=\"%s\"", s->dir.c_str(), err.msg);
	stop_workers(s);
	err = {};
	(void)guarded("search close", &err, [&]() -> int {
		for (auto &sh : s->shards)
			sh->wdb.close();
		s->db.close();
		return 0;
	});
	if (err.code != ERR_OK)
		log_error("search", "op=close dir=%s err=\"%s\"", s->dir.c_str(), err.msg);
	delete s;
}

int search_reopen(struct search_db *db, struct err *err) noexcept
{
	if (db == nullptr)
		return err_set(err, ERR_INVALID, "search: no index");
	return guarded("search reopen", err, [&]() -> int {
		reopen_reader(db);
		return 0;
	});
}

int search_put(struct search_db *db, const struct search_doc *doc, struct err *err) noexcept
{
	if (check_writer(db, err) < 0 || check_id(doc->id, err) < 0)
		return -1;
	return guarded("search put", err, [&]() -> int {
		auto c = std::make_unique<doc_copy>();
		c->folder_id = doc->folder_id;
		c->date = doc->date;
		c->has_attachment = doc->has_attachment;
		const struct {
			std::string *to;
			const char *from;
		} fields[] = {
			{&c->subject, doc->subject}, {&c->from, doc->from}, {&c->to, doc->to},
			{&c->body, doc->body}, {&c->attach_names, doc->attach_names},
			{&c->attach_text, doc->attach_text}, {&c->note, doc->note},
		};
		for (const auto &f : fields)
			if (f.from != nullptr)
				f.to->assign(f.from, utf8_cut(f.from, strlen(f.from), MAX_FIELD_BYTES));
		Xapian::docid local;
		shard &sh = shard_of(db, (Xapian::docid)doc->id, local);
		return submit(db, sh, job{job_op::PUT, local, std::move(c)}, err);
	});
}

int search_delete(struct search_db *db, int64_t id, struct err *err) noexcept
{
	if (check_writer(db, err) < 0)
		return -1;
	if (id <= 0 || (uint64_t)id > (uint64_t)UINT32_MAX)
		return 0; // cannot be in the index
	return guarded("search delete", err, [&]() -> int {
		Xapian::docid local;
		shard &sh = shard_of(db, (Xapian::docid)id, local);
		return submit(db, sh, job{job_op::DELETE, local, nullptr}, err);
	});
}

int search_set_folder(struct search_db *db, int64_t id, int64_t folder_id,
		      struct err *err) noexcept
{
	if (check_writer(db, err) < 0)
		return -1;
	if (id <= 0 || (uint64_t)id > (uint64_t)UINT32_MAX)
		return err_set(err, ERR_NOTFOUND, "search: message %lld is not indexed",
			       (long long)id);
	quiesce(db); // the document may still be in its shard's queue
	Xapian::docid local;
	shard &sh = shard_of(db, (Xapian::docid)id, local);
	if (sh.failed.code != ERR_OK) // kept for the commit, which must fail too; never "not found"
		return err_set(err, ERR_IO, "search: an earlier change failed: %s", sh.failed.msg);
	return guarded("search set folder", err, [&]() -> int {
		Xapian::Document d;
		try {
			d = sh.wdb.get_document(local);
		} catch (const Xapian::DocNotFoundError &) {
			return err_set(err, ERR_NOTFOUND, "search: message %lld is not indexed",
				       (long long)id);
		}
		// Only the boolean folder term changes; the text terms and positions stay, and
		// replacing a document read from the same database rewrites only what changed.
		std::vector<std::string> old;
		Xapian::TermIterator t = d.termlist_begin();
		for (t.skip_to(TERM_FOLDER); t != d.termlist_end(); ++t) {
			std::string term = *t;
			if (term.compare(0, 2, TERM_FOLDER) != 0)
				break;
			if (term.size() > 2 && ((term[2] >= '0' && term[2] <= '9') || term[2] == '-'))
				old.push_back(term);
		}
		std::string want = folder_term(folder_id);
		if (old.size() == 1 && old[0] == want)
			return 0;
		for (const std::string &o : old)
			d.remove_term(o);
		d.add_boolean_term(want);
		sh.wdb.replace_document(local, d);
		return 0;
	});
}

int search_compact(struct search_db *db, struct err *err) noexcept
{
	if (check_writer(db, err) < 0)
		return -1;
	return guarded("search compact", err, [&]() -> int { return compact(db, err); });
}

int search_commit(struct search_db *db, struct err *err) noexcept
{
	if (check_writer(db, err) < 0)
		return -1;
	return commit_all(db, err);
}

unsigned search_shards(struct search_db *db) noexcept
{
	if (db == nullptr)
		return 0;
	if (db->writable)
		return (unsigned)db->shards.size();
	unsigned n = 0;
	struct err err = {};
	(void)guarded("search shards", &err, [&]() -> int {
		n = (unsigned)db->db.size();
		return 0;
	});
	return n;
}

int64_t search_count(struct search_db *db) noexcept
{
	if (db == nullptr)
		return 0;
	quiesce(db);
	int64_t n = 0;
	struct err err = {};
	(void)guarded("search count", &err, [&]() -> int {
		n = (int64_t)db->db.get_doccount();
		return 0;
	});
	return n;
}

int search_snippets(struct search_db *db, const struct search_query *q,
		    const char *const *texts, size_t n, struct arena *a, const char **out,
		    struct err *err) noexcept
{
	if (check_query(db, q, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = nullptr;
	quiesce(db);
	return guarded("search snippets", err, [&]() -> int {
		text_plan plan;
		(void)build_query(db, q, &plan);
		if (!body_terms(plan.hl))
			return 0;
		Xapian::Enquire henq(db->db);
		henq.set_query(plan.hl);
		Xapian::MSet hl = henq.get_mset(0, 0);
		size_t chars = q->highlight_chars ? q->highlight_chars : 160;
		for (size_t i = 0; i < n; i++) {
			if (texts[i] == nullptr || *texts[i] == '\0')
				continue;
			size_t len = strlen(texts[i]);
			// as it is, like the document data: the excerpt shows the mail's own text
			std::string t(texts[i], utf8_cut(texts[i], len, SNIPPET_TEXT_BYTES));
			for (char &c : t)
				if (c == '\x01' || c == '\x02')
					c = ' ';
			std::string h = highlight(hl, t, chars);
			if (h.find(SEARCH_HL_START) != std::string::npos)
				out[i] = arena_strndup(a, h.data(), h.size());
		}
		return 0;
	});
}

int search_wants_text(struct search_db *db, const struct search_query *q, bool *yes_r,
		      struct err *err) noexcept
{
	*yes_r = false;
	if (db == nullptr || q == nullptr)
		return err_set(err, ERR_INVALID, "search: no index or no query");
	if (q->text == nullptr || strlen(q->text) > MAX_QUERY_BYTES)
		return 0;
	quiesce(db);
	return guarded("search snippets", err, [&]() -> int {
		text_plan plan;
		(void)build_query(db, q, &plan);
		*yes_r = body_terms(plan.hl);
		return 0;
	});
}

int search_run(struct search_db *db, const struct search_query *q, struct arena *a,
	       struct search_hit **hits_r, size_t *nhits_r, size_t *total_r,
	       struct err *err) noexcept
{
	if (check_query(db, q, err) < 0)
		return -1;
	if (q->limit > MAX_LIMIT || q->offset > MAX_OFFSET)
		return err_set(err, ERR_LIMIT, "search: at most %zu results from offset %zu",
			       MAX_LIMIT, MAX_OFFSET);
	quiesce(db); // a writer's shards must be still while they are read
	return guarded("search", err, [&]() -> int {
		try {
			return run(db, q, a, hits_r, nhits_r, total_r);
		} catch (const Xapian::DatabaseModifiedError &) {
			// A writer committed twice while we read: start again on the new revision.
			reopen_reader(db);
			return run(db, q, a, hits_r, nhits_r, total_r);
		}
	});
}

} // extern "C"
