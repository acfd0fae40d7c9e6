// placeholder: replaced by the Xapian shim
#include "search.h"

extern "C" {
int search_open(const char *dir, bool writable, struct search_db **db_r, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "search: not built yet");
}
void search_close(struct search_db **dbp) { *dbp = nullptr; }
int search_reopen(struct search_db *db, struct err *err) { return 0; }
int search_put(struct search_db *db, const struct search_doc *doc, struct err *err) { return 0; }
int search_delete(struct search_db *db, int64_t id, struct err *err) { return 0; }
int search_set_folder(struct search_db *db, int64_t id, int64_t folder_id, struct err *err) { return 0; }
int search_commit(struct search_db *db, struct err *err) { return 0; }
int64_t search_count(struct search_db *db) { return 0; }
int search_run(struct search_db *db, const struct search_query *q, struct arena *a,
	       struct search_hit **hits_r, size_t *nhits_r, size_t *total_r, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "search: not built yet");
}
}
