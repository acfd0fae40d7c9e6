/* bench-hello: the baseline for bench/http.sh. A minimal libmicrohttpd HTTPS server set up
 * the way server/http.c sets up the real one (GnuTLS through MHD_USE_TLS, the same priority
 * string, an internal epoll thread pool of 4, the same connection limits), answering every
 * request with {"status":"ok"}. Whatever /healthz and /api/v1/me cost beyond this is Yizhan's.
 *
 * Usage: bench-hello CERT.pem KEY.pem PORT      (listens on 127.0.0.1:PORT until SIGINT/TERM) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#define BODY "{\"status\":\"ok\"}"
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" /* as server/http.c */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *d;
	size_t n;
	if (f == NULL) {
		fprintf(stderr, "bench-hello: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	d = malloc(256 * 1024 + 1);
	n = d ? fread(d, 1, 256 * 1024, f) : 0;
	fclose(f);
	if (n == 0 || n == 256 * 1024) {
		fprintf(stderr, "bench-hello: %s: empty or larger than 256 KiB\n", path);
		free(d);
		return NULL;
	}
	d[n] = '\0';
	return d;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (*con_cls == NULL) { /* first call: headers only, as the real server's first call */
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(strlen(BODY), (void *)BODY, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct MHD_Daemon *d;
	char *cert, *key;
	sigset_t set;
	int sig, port;

	if (argc != 4 || (port = atoi(argv[3])) <= 0 || port > 65535) {
		fprintf(stderr, "usage: bench-hello CERT.pem KEY.pem PORT\n");
		return 2;
	}
	if ((cert = read_file(argv[1])) == NULL || (key = read_file(argv[2])) == NULL)
		return 1;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* block the stop signals in every thread; main waits for them below */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC |
				     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, on_request, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_HTTPS_MEM_CERT, cert,
			     MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
			     MHD_OPTION_THREAD_POOL_SIZE, 4u,
			     MHD_OPTION_CONNECTION_LIMIT, 4096u,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, 256u,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
			     MHD_OPTION_CONNECTION_TIMEOUT, 60u,
			     MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "bench-hello: cannot start on 127.0.0.1:%d\n", port);
		return 1;
	}
	fprintf(stderr, "bench-hello: listening on https://127.0.0.1:%d/\n", port);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	free(cert);
	free(key);
	return 0;
}
