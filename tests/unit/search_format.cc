// search_format.cc: for test_search, what only Xapian itself can do to an index: read its
// format and turn a new, empty index into one of format 1 (as every index made before
// format 2 is), so the same cases run on both.
#include <xapian.h>

#include <string>

extern "C" int test_index_format(const char *dir, unsigned shard);
extern "C" int test_make_format1(const char *dir, unsigned shards);

namespace {

std::string shard_dir(const char *dir, unsigned k)
{
	return std::string(dir) + "/s" + std::to_string(k);
}

} // namespace

// 1 or 2, or -1 when the shard cannot be read.
int test_index_format(const char *dir, unsigned shard)
{
	try {
		Xapian::Database db(shard_dir(dir, shard));
		return db.get_metadata("yizhan.format") == "2" ? 2 : 1;
	} catch (...) {
		return -1;
	}
}

int test_make_format1(const char *dir, unsigned shards)
{
	try {
		for (unsigned k = 0; k < shards; k++) {
			Xapian::WritableDatabase db(shard_dir(dir, k), Xapian::DB_OPEN);
			if (db.get_doccount() != 0)
				return -1;
			db.set_metadata("yizhan.format", "");
			db.commit();
		}
		return 0;
	} catch (...) {
		return -1;
	}
}
