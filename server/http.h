/* http.h: the HTTPS listener: libmicrohttpd with an internal epoll thread pool and GnuTLS,
 * feeding every request into rt_dispatch(). The only file that includes microhttpd.h. */
#ifndef YZ_HTTP_H
#define YZ_HTTP_H

#include "lib/app.h"
#include "lib/err.h"

struct http_server;

/* Bind a listening TCP socket (done before privileges are dropped). */
int http_listen(const char *addr, int port, int *fd_r, struct err *err) YZ_WUR;
/* Start serving on fd with the app's config (TLS files are read now). */
int http_start(struct app *app, int fd, struct http_server **s_r, struct err *err) YZ_WUR;
/* Stop accepting, finish the requests in flight, and return the listening fd so a new server
 * can take it over (reload) — or -1. */
int http_stop(struct http_server **sp, bool keep_fd);

#endif
