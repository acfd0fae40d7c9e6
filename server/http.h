/* http.h: the HTTPS listener: libmicrohttpd with an internal epoll thread pool and GnuTLS,
 * feeding every request into rt_dispatch(). The only file that includes microhttpd.h. */
#ifndef YZ_HTTP_H
#define YZ_HTTP_H

#include <stdbool.h>

#include "lib/app.h"
#include "lib/err.h"

struct http_server;

/* Bind a listening TCP socket (done before privileges are dropped). */
int http_listen(const char *addr, int port, int *fd_r, struct err *err) YZ_WUR;
/* Start serving on fd with a snapshot of *app (TLS files are read now). Two servers may share
 * one fd: that is how a reload hands over without refusing a connection. */
int http_start(const struct app *app, int fd, struct http_server **s_r, struct err *err) YZ_WUR;
/* Stop. drain_ms == 0: close everything, the listening socket too. drain_ms > 0 (reload):
 * stop accepting, leave the socket open, let connections finish for up to drain_ms. */
void http_stop(struct http_server **sp, unsigned drain_ms);

#endif
