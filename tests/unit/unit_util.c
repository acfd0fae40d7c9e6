/* What every unit-test fixture needs (unit_util.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "unit_util.h"

char *read_whole(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	long l;
	char *b;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	rewind(f);
	b = malloc((size_t)l + 1);
	assert_non_null(b);
	*n = fread(b, 1, (size_t)l, f);
	b[*n] = '\0';
	fclose(f);
	return b;
}
