/* cfg.h: the INI-style configuration tokenizer used by yizhan.conf and the i18n tables.
 *
 * Syntax: "[section]" lines, "key = value" lines, blank lines, and comment lines whose first
 * non-blank character is '#' or ';'. A value is the rest of the line with surrounding blanks
 * removed; a value in double quotes may contain \" and \\. Keys are [A-Za-z0-9_.-]; section
 * names additionally allow '@'. Limits: CFG_MAX_LINE bytes per line, CFG_MAX_BYTES per file.
 * The tokenizer does no I/O; cfg_parse_file() reads a file and calls it. */
#ifndef YZ_CFG_H
#define YZ_CFG_H

#include <stddef.h>

#include "err.h"

#define CFG_MAX_LINE 4096
#define CFG_MAX_BYTES (1024 * 1024)
#define CFG_MAX_NAME 128

/* Called for each key; section is "" before the first [section]. Return 0 to go on, or -1
 * after filling err (the parser then prefixes "FILE:LINE: "). */
typedef int cfg_fn(void *ctx, const char *section, const char *key, const char *value,
		   struct err *err);

/* Parse text; fname only names the source in errors. Errors read "FILE:LINE: message". */
int cfg_parse(const char *text, size_t len, const char *fname, cfg_fn *fn, void *ctx,
	      struct err *err) YZ_WUR;
int cfg_parse_file(const char *path, cfg_fn *fn, void *ctx, struct err *err) YZ_WUR;

#endif
