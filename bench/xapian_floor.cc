// bench/xapian_floor.cc: what Xapian alone costs to write the documents of an index.
// A benchmark tool, not a test. See "The indexing floor" in docs/BENCHMARKS.md.
//
// Usage: xapian_floor SRC DST THREADS BATCH
//   SRC      an index (a glass database, or a XAPIANDB shard list such as yizhan writes)
//   DST      a directory to create; THREADS glass databases are made under it (t0, t1, ...)
//   THREADS  writer threads, one database each (as yizhan's index shards)
//   BATCH    documents per commit, per database
//
// Thread k of THREADS reads documents k, k + THREADS, ... of SRC, rebuilds each in memory
// (its terms with their wdf, its positions, values and data) and writes it into its own new
// glass database with replace_document (as yizhan does), committing every BATCH documents
// and once at the end. The reading and rebuilding is timed on its own (thread CPU time) and
// taken out: what is left, write_cpu, is Xapian's replace_document and commit work for exactly
// these documents on this machine. Nothing of yizhan is in it, so it is the floor under
// yizhan's own indexer, which does that work and more (parsing, text, Document::add_term).
#include <xapian.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

double cpu_seconds()
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

double thread_cpu_seconds()
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double now()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

Xapian::Document rebuild(const Xapian::Database &db, Xapian::docid did, size_t *terms)
{
	Xapian::Document src = db.get_document(did);
	Xapian::Document d;
	for (Xapian::TermIterator t = src.termlist_begin(); t != src.termlist_end(); ++t) {
		const std::string &term = *t;
		if (t.positionlist_count() == 0) {
			d.add_term(term, t.get_wdf());
		} else {
			for (Xapian::PositionIterator p = t.positionlist_begin();
			     p != t.positionlist_end(); ++p)
				d.add_posting(term, *p, 0);
			if (t.get_wdf() > t.positionlist_count())
				d.add_term(term, t.get_wdf() - t.positionlist_count());
		}
		++*terms;
	}
	for (Xapian::ValueIterator v = src.values_begin(); v != src.values_end(); ++v)
		d.add_value(v.get_valueno(), *v);
	d.set_data(src.get_data());
	return d;
}

struct worker {
	size_t docs = 0, postings = 0;
	double rebuild_cpu = 0;
	std::string error;
};

// Thread k: documents k, k + n, k + 2n, ... of src (in docid order) into a new database.
void write_part(const std::string &src, const std::string &dst, unsigned k, unsigned n,
		unsigned batch, worker *out)
{
	try {
		Xapian::Database db(src);
		Xapian::WritableDatabase w(dst, Xapian::DB_CREATE | Xapian::DB_BACKEND_GLASS);
		Xapian::docid did = 0;
		size_t i = 0;
		for (Xapian::PostingIterator p = db.postlist_begin(""); p != db.postlist_end("");
		     ++p, ++i) {
			if (i % n != k)
				continue;
			double c = thread_cpu_seconds();
			Xapian::Document d = rebuild(db, *p, &out->postings);
			out->rebuild_cpu += thread_cpu_seconds() - c;
			w.replace_document(++did, d);
			if (did % batch == 0)
				w.commit();
		}
		w.commit();
		out->docs = did;
	} catch (const Xapian::Error &e) {
		out->error = e.get_description();
	}
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: xapian_floor SRC DST THREADS BATCH\n");
		return 2;
	}
	unsigned threads = (unsigned)atoi(argv[3]);
	unsigned batch = (unsigned)atoi(argv[4]);
	if (threads < 1 || threads > 8 || batch < 1) {
		fprintf(stderr, "xapian_floor: THREADS 1..8, BATCH >= 1\n");
		return 2;
	}
	if (mkdir(argv[2], 0755) < 0) {
		perror(argv[2]);
		return 1;
	}
	const std::string src = argv[1], dst = argv[2];
	std::vector<worker> w(threads);
	double t0 = now(), c0 = cpu_seconds();
	std::vector<std::thread> pool;
	for (unsigned k = 0; k < threads; k++)
		pool.emplace_back(write_part, std::cref(src), dst + "/t" + std::to_string(k), k,
				  threads, batch, &w[k]);
	for (std::thread &t : pool)
		t.join();
	double wall = now() - t0, cpu = cpu_seconds() - c0, rebuild = 0;
	size_t n = 0, postings = 0;
	for (const worker &x : w) {
		if (!x.error.empty()) {
			fprintf(stderr, "xapian_floor: %s\n", x.error.c_str());
			return 1;
		}
		n += x.docs;
		postings += x.postings;
		rebuild += x.rebuild_cpu;
	}
	if (n == 0) {
		fprintf(stderr, "xapian_floor: %s holds no documents\n", argv[1]);
		return 1;
	}
	double write = cpu - rebuild;
	printf("documents=%zu terms_per_doc=%.0f threads=%u batch=%u wall_s=%.2f cpu_s=%.2f\n", n,
	       (double)postings / n, threads, batch, wall, cpu);
	printf("rebuild_cpu_s=%.2f rebuild_cpu_us_per_doc=%.0f\n", rebuild, rebuild * 1e6 / n);
	printf("write_cpu_s=%.2f write_cpu_us_per_doc=%.0f write_cpu_ns_per_term=%.0f\n", write,
	       write * 1e6 / n, write * 1e9 / postings);
	printf("docs_per_s=%.0f write_only_docs_per_s_on_%u_cores=%.0f\n", n / wall, threads,
	       write > 0 ? n * threads / write : 0.0);
	return 0;
}
