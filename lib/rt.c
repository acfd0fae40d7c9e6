#include "rt.h"

#include <string.h>

#include "util.h"

const char *rt_header(struct req *rq, const char *name)
{
	return rq->get_header ? rq->get_header(rq, name) : NULL;
}

const char *rt_query(struct req *rq, const char *name)
{
	return rq->get_query ? rq->get_query(rq, name) : NULL;
}

const char *rt_cookie(struct req *rq, const char *name)
{
	return rq->get_cookie ? rq->get_cookie(rq, name) : NULL;
}

const char *rt_param(const struct req *rq, const char *name)
{
	for (size_t i = 0; i < rq->nparams; i++)
		if (strcmp(rq->param_names[i], name) == 0)
			return rq->param_values[i];
	return NULL;
}

void rt_resp_header(struct resp *rs, const char *name, const char *value)
{
	ASSERT(rs->nheaders < RT_MAX_RESP_HEADERS);
	rs->headers[rs->nheaders].name = name;
	rs->headers[rs->nheaders].value = value;
	rs->nheaders++;
}

void rt_resp_text(struct resp *rs, const char *content_type, const char *text, size_t len)
{
	rs->content_type = content_type;
	buf_reset(&rs->body);
	if (buf_append(&rs->body, text, len) < 0)
		ASSERT(!"response body over its limit");
}
