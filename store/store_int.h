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

/* The columns store_read_account() reads, for "accounts a JOIN domains d". */
#define ACCOUNT_COLS                                                                             \
	"a.id, a.domain_id, a.address, d.name, a.name, a.role, a.disabled, a.lang, a.secret,"    \
	" a.totp_key, a.totp_last_step, a.class_id, a.created"

/* Read ACCOUNT_COLS starting at result column b. */
int store_read_account(sqlite3_stmt *s, int b, struct store_account *a, struct err *err);

#endif
