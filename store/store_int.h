/* store_int.h: shared between the store_*.c files only. */
#ifndef YZ_STORE_INT_H
#define YZ_STORE_INT_H

#include "db.h"
#include "store.h"

struct store {
	struct db *db;
};

extern const char *const store_migrations[];
extern const int store_nmigrations;

/* Run a prepared statement to completion (no rows expected). */
int store_step_done(struct store *st, sqlite3_stmt *s, const char *what, struct err *err);

#endif
