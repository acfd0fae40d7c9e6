/* unit_util.h: what every unit-test fixture needs, whatever it tests. Each function fails the
 * running cmocka test on an error. */
#ifndef YZ_TEST_UNIT_UTIL_H
#define YZ_TEST_UNIT_UTIL_H

#include <stddef.h>

/* The whole file at path, NUL-terminated, malloc'd; *n its length. */
char *read_whole(const char *path, size_t *n);

#endif
