/* placeholder: replaced by the MIME implementation */
#include "mime.h"

#include <string.h>

void mime_limits_default(struct mime_limits *l)
{
	l->max_bytes = 64u << 20;
	l->max_header_bytes = 1u << 20;
	l->max_line = 1u << 20;
	l->max_parts = 10000;
	l->max_depth = 64;
	l->max_text = 4u << 20;
}

void mime_init(void)
{
}

int mime_parse(const char *raw, size_t len, const struct mime_limits *lim, struct arena *a,
	       struct mime_msg **msg_r, struct err *err)
{
	return err_set(err, ERR_INTERNAL, "mime: not built yet");
}

int mime_part_content(const char *raw, size_t len, const struct mime_msg *msg,
		      const char *section, struct arena *a, const char **data_r, size_t *len_r,
		      struct err *err)
{
	return err_set(err, ERR_INTERNAL, "mime: not built yet");
}
