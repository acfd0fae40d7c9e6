/* Composing messages with GMime (mime_build.h). */
#include "mime_build.h"

#include <stdio.h>
#include <string.h>

#include <gmime/gmime.h>

#include "lib/util.h"

static GMimeFormatOptions *format_options(void)
{
	GMimeFormatOptions *o = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(o, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_format_options_set_param_encoding_method(o, GMIME_PARAM_ENCODING_METHOD_RFC2231);
	return o;
}

static void add_addrs(GMimeMessage *m, GMimeAddressType type, const struct mime_addr *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g_mime_message_add_mailbox(m, type, v[i].name && *v[i].name ? v[i].name : NULL,
					   v[i].address);
}

/* A text part whose content is the UTF-8 text, quoted-printable (readable, 8-bit safe). */
static GMimeObject *text_part(const char *subtype, const char *text)
{
	GMimeTextPart *p = g_mime_text_part_new_with_subtype(subtype);
	g_mime_text_part_set_text(p, text);
	g_mime_text_part_set_charset(p, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(p), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	return GMIME_OBJECT(p);
}

static GMimeObject *attachment_part(const struct mime_attachment *at)
{
	const char *type = at->type && strchr(at->type, '/') ? at->type : "application/octet-stream";
	char major[128], minor[128];
	const char *slash = strchr(type, '/');
	GMimePart *p;
	GMimeStream *s;
	GMimeDataWrapper *w;

	snprintf(major, sizeof(major), "%.*s", (int)(slash - type), type);
	snprintf(minor, sizeof(minor), "%s", slash + 1);
	p = g_mime_part_new_with_type(major, minor);
	s = g_mime_stream_mem_new_with_buffer(at->data, at->len);
	w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(p, w);
	g_object_unref(w);
	g_object_unref(s);
	g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_object_set_disposition(GMIME_OBJECT(p), "attachment");
	if (at->name && *at->name)
		g_mime_part_set_filename(p, at->name);
	return GMIME_OBJECT(p);
}

int mime_build(const struct mime_compose *c, struct arena *a, const char **msg_r, size_t *len_r,
	       const char **message_id_r, struct err *err)
{
	GMimeMessage *m;
	GMimeObject *body = NULL;
	GMimeFormatOptions *fo;
	GMimeStream *out;
	GByteArray *bytes;
	GDateTime *dt;
	GTimeZone *tz;
	char tzs[16];
	const char *mid;

	mime_init();
	if (c->from.address == NULL || *c->from.address == '\0')
		return err_set(err, ERR_INVALID, "a message needs a From address");
	m = g_mime_message_new(TRUE);
	add_addrs(m, GMIME_ADDRESS_TYPE_FROM, &c->from, 1);
	add_addrs(m, GMIME_ADDRESS_TYPE_TO, c->to, c->nto);
	add_addrs(m, GMIME_ADDRESS_TYPE_CC, c->cc, c->ncc);
	if (c->reply_to)
		add_addrs(m, GMIME_ADDRESS_TYPE_REPLY_TO, c->reply_to, 1);
	g_mime_message_set_subject(m, c->subject ? c->subject : "", "utf-8");
	snprintf(tzs, sizeof(tzs), "%c%02d:%02d", c->tz_minutes < 0 ? '-' : '+',
		 abs(c->tz_minutes) / 60, abs(c->tz_minutes) % 60);
	tz = g_time_zone_new_identifier(tzs);
	if (tz == NULL)
		tz = g_time_zone_new_utc();
	{
		GDateTime *utc = g_date_time_new_from_unix_utc(c->date ? c->date : time_now());
		dt = g_date_time_to_timezone(utc, tz);
		g_date_time_unref(utc);
	}
	g_mime_message_set_date(m, dt);
	g_date_time_unref(dt);
	g_time_zone_unref(tz);
	if (c->message_id && *c->message_id) {
		mid = arena_strdup(a, c->message_id);
	} else {
		char hex[33];
		rand_hex(hex, 16);
		mid = arena_printf(a, "%s@%s", hex, c->host && *c->host ? c->host : "yizhan");
	}
	g_mime_message_set_message_id(m, mid);
	if (c->in_reply_to && *c->in_reply_to) {
		char *v = arena_printf(a, "<%s>", c->in_reply_to);
		g_mime_object_set_header(GMIME_OBJECT(m), "In-Reply-To", v, NULL);
	}
	if (c->nreferences) {
		size_t n = 0;
		for (size_t i = 0; i < c->nreferences; i++)
			n += strlen(c->references[i]) + 3;
		char *v = arena_alloc(a, n + 1), *o = v;
		for (size_t i = 0; i < c->nreferences; i++)
			o += sprintf(o, "%s<%s>", i ? " " : "", c->references[i]);
		g_mime_object_set_header(GMIME_OBJECT(m), "References", v, NULL);
	}
	if (c->user_agent)
		g_mime_object_set_header(GMIME_OBJECT(m), "User-Agent", c->user_agent, NULL);

	/* text and HTML as alternatives; text made from the HTML when only HTML is given */
	if (c->html && *c->html) {
		size_t tl;
		const char *text = c->text && *c->text
					   ? c->text
					   : mime_html_to_text(c->html, strlen(c->html), 4u << 20, a, &tl);
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *t = text_part("plain", text), *h = text_part("html", c->html);
		g_mime_multipart_add(alt, t);
		g_mime_multipart_add(alt, h);
		g_object_unref(t);
		g_object_unref(h);
		body = GMIME_OBJECT(alt);
	} else {
		body = text_part("plain", c->text ? c->text : "");
	}
	if (c->nattachments) {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
		g_mime_multipart_add(mixed, body);
		g_object_unref(body);
		for (size_t i = 0; i < c->nattachments; i++) {
			GMimeObject *p = attachment_part(&c->attachments[i]);
			g_mime_multipart_add(mixed, p);
			g_object_unref(p);
		}
		body = GMIME_OBJECT(mixed);
	}
	g_mime_message_set_mime_part(m, body);
	g_object_unref(body);

	fo = format_options();
	out = g_mime_stream_mem_new();
	if (g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, out) < 0) {
		g_object_unref(out);
		g_mime_format_options_free(fo);
		g_object_unref(m);
		return err_set(err, ERR_INTERNAL, "could not write the message");
	}
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	*msg_r = arena_strndup(a, (const char *)bytes->data, bytes->len);
	*len_r = bytes->len;
	*message_id_r = mid;
	g_object_unref(out);
	g_mime_format_options_free(fo);
	g_object_unref(m);
	return 0;
}
