/* replay: run a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer.
 *
 * Usage: replay-TARGET PATH...   where each PATH is a file or a directory (its regular files,
 * in name order; names starting with '.' are skipped). Each input is read into a heap buffer
 * of exactly its size, so the sanitizers catch any read past the end. A missing PATH is an
 * error, so a mistyped corpus directory cannot pass silently. Exit status 0 when every input
 * ran; a crash or a broken invariant aborts with the sanitizer's report. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;
	size_t n;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	n = (size_t)st.st_size;
	buf = malloc(n ? n : 1);
	if (buf == NULL || (n && fread(buf, 1, n, f) != n)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (getenv("REPLAY_VERBOSE"))
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Returns the number of inputs run, or -1. */
static long run_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	long count = 0;
	int n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	n = scandir(path, &ents, skip_dot, name_cmp);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char full[4096];
		snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name);
		if (count >= 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
			count = run_file(full) < 0 ? -1 : count + 1;
		free(ents[i]);
	}
	free(ents);
	return count;
}

int main(int argc, char **argv)
{
	long total = 0;
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		long n = run_path(argv[i]);
		if (n < 0) {
			failed = 1;
			continue;
		}
		printf("replay: %ld inputs from %s\n", n, argv[i]);
		total += n;
	}
	printf("replay: %ld inputs in total\n", total);
	return failed;
}
