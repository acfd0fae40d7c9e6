#include "cfg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_name_char(char c, bool section)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || (section && c == '@');
}

/* Copy a name of allowed characters from [p,end) into out; returns false if invalid. */
static bool take_name(const char *p, const char *end, bool section, char *out)
{
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= CFG_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(p[i], section))
			return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Unquote a "..." value into out (same capacity as the line). */
static bool unquote(const char *p, const char *end, char *out)
{
	size_t o = 0;
	if (end - p < 2 || end[-1] != '"')
		return false;
	for (p++, end--; p < end; p++) {
		if (*p == '\\') {
			if (p + 1 >= end || (p[1] != '"' && p[1] != '\\'))
				return false;
			p++;
		} else if (*p == '"') {
			return false;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
	return true;
}

static int parse_line(const char *p, const char *end, char *section, char *valbuf,
		      cfg_fn *fn, void *ctx, struct err *err)
{
	char key[CFG_MAX_NAME];
	const char *eq, *kend, *v;

	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end || *p == '#' || *p == ';')
		return 0;
	if (memchr(p, '\0', (size_t)(end - p)) != NULL)
		return err_set(err, ERR_INVALID, "NUL byte in line");
	if (*p == '[') {
		if (end[-1] != ']' || !take_name(p + 1, end - 1, true, section))
			return err_set(err, ERR_INVALID, "bad section header (want [name])");
		return 0;
	}
	eq = memchr(p, '=', (size_t)(end - p));
	if (eq == NULL)
		return err_set(err, ERR_INVALID, "expected 'key = value'");
	for (kend = eq; kend > p && is_blank(kend[-1]); kend--)
		;
	if (!take_name(p, kend, false, key))
		return err_set(err, ERR_INVALID, "bad key name");
	for (v = eq + 1; v < end && is_blank(*v); v++)
		;
	if (v < end && *v == '"') {
		if (!unquote(v, end, valbuf))
			return err_set(err, ERR_INVALID, "key '%s': bad quoted value", key);
	} else {
		memcpy(valbuf, v, (size_t)(end - v));
		valbuf[end - v] = '\0';
	}
	return fn(ctx, section, key, valbuf, err);
}

int cfg_parse(const char *text, size_t len, const char *fname, cfg_fn *fn, void *ctx,
	      struct err *err)
{
	char section[CFG_MAX_NAME] = "";
	char valbuf[CFG_MAX_LINE + 1];
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	if (len > CFG_MAX_BYTES)
		return err_set(err, ERR_LIMIT, "%s: file larger than %d bytes", fname,
			       CFG_MAX_BYTES);
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* UTF-8 byte order mark written by some editors */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		lineno++;
		if (le - p > CFG_MAX_LINE) {
			return err_set(err, ERR_LIMIT, "%s:%u: line longer than %d bytes", fname,
				       lineno, CFG_MAX_LINE);
		}
		if (parse_line(p, le, section, valbuf, fn, ctx, err) < 0) {
			char msg[sizeof(err->msg)];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			return err_set(err, err->code ? err->code : ERR_INVALID, "%s:%u: %s",
				       fname, lineno, msg);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int cfg_parse_file(const char *path, cfg_fn *fn, void *ctx, struct err *err)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t n;
	int ret;

	if (f == NULL)
		return err_set(err, ERR_IO, "%s: cannot open", path);
	text = xmalloc(CFG_MAX_BYTES + 1);
	n = fread(text, 1, CFG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		fclose(f);
		free(text);
		return err_set(err, ERR_IO, "%s: read error", path);
	}
	fclose(f);
	ret = cfg_parse(text, n, path, fn, ctx, err);
	free(text);
	return ret;
}
