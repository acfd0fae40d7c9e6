/* placeholder: replaced by the HTML-to-text implementation */
#include "mime.h"

const char *mime_html_to_text(const char *html, size_t n, size_t max_out, struct arena *a,
			      size_t *len_r)
{
	*len_r = n;
	return arena_strndup(a, html, n);
}

const char *mime_snippet(const char *text, size_t n, size_t max_chars, struct arena *a)
{
	return arena_strndup(a, text, n < max_chars ? n : max_chars);
}
