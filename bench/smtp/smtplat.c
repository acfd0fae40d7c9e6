/* smtplat: SMTP load client that times every end-of-DATA -> reply, for bench/smtp.sh.
 * A benchmark helper, not a test (see docs/BENCHMARKS.md). Built by bench/smtp.sh with cc.
 *
 * usage: smtplat [-s SESSIONS] [-m MESSAGES] [-l LENGTH] [-f FROM] [-t TO] [-T SECONDS]
 *                [-o ACCEPTS] HOST:PORT
 *
 * The dialogue is smtp-source's (postfix) with -d: one connection per session, EHLO once,
 * then per message MAIL FROM, RCPT TO, DATA, the message, "." and the next message on the
 * same connection; one command at a time (no PIPELINING), QUIT at the end. Sessions are
 * threads with blocking sockets and TCP_NODELAY; each takes the next message number from a
 * shared counter until MESSAGES are sent.
 *
 * The message: From, To, Subject, Date, a unique Message-ID, MIME-Version and Content-Type
 * headers, then LENGTH bytes of 7-bit text in lines of 76 characters plus CRLF (no line
 * starts with '.', so nothing is dot-stuffed).
 *
 * What is timed: the whole message except the final ".\r\n" is written first (write()
 * returns once the kernel holds the bytes); then t0 = CLOCK_MONOTONIC, write(".\r\n"), read
 * the complete reply, t1. t1 - t0 is the end-of-DATA -> reply latency. It includes the
 * server reading whatever part of the message still sat in the socket buffers, but no
 * Nagle or delayed-ACK stall (TCP_NODELAY).
 *
 * Output on stdout, one line of key=value:
 *   sent= ok= failed= elapsed_s= per_s= p50_ms= p90_ms= p99_ms= max_ms= mean_ms=
 * per_s counts 2xx replies to the final dot over the wall clock from the first connect to
 * the last reply. With -o, the CLOCK_REALTIME time of each 2xx reply is written to ACCEPTS
 * (one "%.6f" line per message, in no particular order), for the delivery-lag computation
 * of bench/smtp/measure.py. -T bounds the whole run (default 300 s: sessions give up).
 * Exit status 0 when every message got a 2xx, 1 otherwise, 2 on usage errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1", *port = "25";
static const char *from = "source@client.test", *to = "bench@bench.test";
static int nsessions = 1, nmessages = 100, timeout_s = 300;
static size_t length = 30720;
static const char *accepts_path;

static char *body; /* LENGTH bytes of text lines */
static size_t body_len;
static atomic_int next_msg;
static atomic_int n_ok, n_failed;
static double *lat_ms;   /* per message, -1 when it failed */
static double *accept_t; /* CLOCK_REALTIME of the 2xx reply, 0 when it failed */
static double deadline;  /* CLOCK_MONOTONIC */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct conn {
	int fd;
	char in[8192];
	size_t len, pos;
	char line[1024];
	int sid;
};

static void warnx(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "smtplat: session %d: ", c->sid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int write_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			warnx(c, "write: %s", strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One reply line into c->line (CRLF dropped); -1 on EOF, error or timeout. */
static int read_line(struct conn *c)
{
	size_t n = 0;
	for (;;) {
		if (c->pos == c->len) {
			ssize_t r = read(c->fd, c->in, sizeof(c->in));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				warnx(c, "read: %s", r == 0 ? "connection closed" : strerror(errno));
				return -1;
			}
			c->len = (size_t)r;
			c->pos = 0;
		}
		char ch = c->in[c->pos++];
		if (ch == '\n') {
			if (n > 0 && c->line[n - 1] == '\r')
				n--;
			c->line[n] = '\0';
			return 0;
		}
		if (n < sizeof(c->line) - 1)
			c->line[n++] = ch;
	}
}

/* A complete (possibly multi-line) reply; returns its code, -1 on error. */
static int read_reply(struct conn *c)
{
	for (;;) {
		if (read_line(c) < 0)
			return -1;
		if (strlen(c->line) < 3) {
			warnx(c, "short reply '%s'", c->line);
			return -1;
		}
		if (c->line[3] != '-')
			return atoi(c->line);
	}
}

static int command(struct conn *c, int want, const char *fmt, ...)
{
	char cmd[1200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) || write_all(c, cmd, (size_t)n) < 0)
		return -1;
	int code = read_reply(c);
	if (code < 0)
		return -1;
	if (code / 100 != want) {
		warnx(c, "%.*s -> %s", n > 2 ? n - 2 : n, cmd, c->line);
		return -1;
	}
	return code;
}

static int dial(struct conn *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0) {
		warnx(c, "%s:%s: %s", host, port, gai_strerror(e));
		return -1;
	}
	c->fd = -1;
	for (a = ai; a && c->fd < 0; a = a->ai_next) {
		c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (c->fd < 0) {
		warnx(c, "connect %s:%s: %s", host, port, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	double left = deadline - mono();
	struct timeval tv = {.tv_sec = left > 1 ? (time_t)left : 1};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->len = c->pos = 0;
	return 0;
}

static void *session(void *arg)
{
	struct conn c = {.sid = (int)(intptr_t)arg, .fd = -1};
	char hdr[1024];
	int m = -1;

	if (dial(&c) < 0)
		goto out;
	if (read_reply(&c) != 220) {
		warnx(&c, "greeting: %s", c.line);
		goto out;
	}
	if (command(&c, 2, "EHLO client%d.client.test\r\n", c.sid) < 0)
		goto out;
	while ((m = atomic_fetch_add(&next_msg, 1)) < nmessages) {
		if (mono() > deadline) {
			warnx(&c, "time bound reached");
			break;
		}
		if (command(&c, 2, "MAIL FROM:<%s>\r\n", from) < 0 ||
		    command(&c, 2, "RCPT TO:<%s>\r\n", to) < 0 || command(&c, 3, "DATA\r\n") < 0)
			break;
		time_t now = time(NULL);
		struct tm tm;
		char date[64];
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
		int hl = snprintf(hdr, sizeof(hdr),
				  "From: Load Source <%s>\r\nTo: <%s>\r\nSubject: smtplat message %d\r\n"
				  "Date: %s\r\nMessage-ID: <smtplat.%ld.%d.%d@client.test>\r\n"
				  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
				  from, to, m, date, (long)getpid(), c.sid, m);
		if (write_all(&c, hdr, (size_t)hl) < 0 || write_all(&c, body, body_len) < 0)
			break;
		double t0 = mono();
		if (write_all(&c, ".\r\n", 3) < 0)
			break;
		int code = read_reply(&c);
		double t1 = mono();
		if (code < 0)
			break;
		if (code / 100 == 2) {
			lat_ms[m] = (t1 - t0) * 1000;
			accept_t[m] = real();
			atomic_fetch_add(&n_ok, 1);
		} else {
			warnx(&c, "message %d: %s", m, c.line);
			atomic_fetch_add(&n_failed, 1);
			if (command(&c, 2, "RSET\r\n") < 0)
				break;
		}
		m = -1;
	}
	if (m < 0 || m >= nmessages)
		(void)command(&c, 2, "QUIT\r\n");
out:
	if (m >= 0 && m < nmessages)
		atomic_fetch_add(&n_failed, 1); /* the message in hand when the session broke */
	if (c.fd >= 0)
		close(c.fd);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static double pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t k = (size_t)((p / 100.0) * n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void usage(void)
{
	fprintf(stderr, "usage: smtplat [-s SESSIONS] [-m MESSAGES] [-l LENGTH] [-f FROM] [-t TO] "
			"[-T SECONDS] [-o ACCEPTS] HOST:PORT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "s:m:l:f:t:T:o:")) != -1) {
		switch (opt) {
		case 's': nsessions = atoi(optarg); break;
		case 'm': nmessages = atoi(optarg); break;
		case 'l': length = (size_t)atol(optarg); break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'T': timeout_s = atoi(optarg); break;
		case 'o': accepts_path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || nsessions < 1 || nmessages < 1 || timeout_s < 1)
		usage();
	char *hp = strdup(argv[optind]), *colon = strrchr(hp, ':');
	if (colon) {
		*colon = '\0';
		port = colon + 1;
	}
	host = hp;

	/* the body: lines of 76 printable characters + CRLF, LENGTH bytes in all */
	body = malloc(length + 80);
	static const char words[] = "the quick brown fox jumps over the lazy dog 0123456789 "
				    "lorem ipsum dolor sit amet consectetur adipiscing elit ";
	size_t wl = sizeof(words) - 1, wpos = 0;
	while (body_len + 2 <= length) {
		size_t n = length - body_len - 2; /* this line's characters: 76, or what is left */
		if (n > 76)
			n = 76;
		for (size_t i = 0; i < n; i++)
			body[body_len++] = words[wpos++ % wl];
		body[body_len++] = '\r';
		body[body_len++] = '\n';
		wpos += 7; /* lines differ from one another */
	}

	lat_ms = calloc((size_t)nmessages, sizeof(double));
	accept_t = calloc((size_t)nmessages, sizeof(double));
	for (int i = 0; i < nmessages; i++)
		lat_ms[i] = -1;
	deadline = mono() + timeout_s;

	pthread_t *th = calloc((size_t)nsessions, sizeof(pthread_t));
	double start = mono();
	for (int i = 0; i < nsessions; i++)
		if (pthread_create(&th[i], NULL, session, (void *)(intptr_t)i) != 0) {
			fprintf(stderr, "smtplat: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < nsessions; i++)
		pthread_join(th[i], NULL);
	double elapsed = mono() - start;

	size_t n = 0;
	double sum = 0;
	double *v = calloc((size_t)nmessages, sizeof(double));
	for (int i = 0; i < nmessages; i++)
		if (lat_ms[i] >= 0) {
			v[n++] = lat_ms[i];
			sum += lat_ms[i];
		}
	qsort(v, n, sizeof(double), cmp_double);
	if (accepts_path) {
		FILE *f = fopen(accepts_path, "w");
		if (!f) {
			perror(accepts_path);
			return 1;
		}
		for (int i = 0; i < nmessages; i++)
			if (accept_t[i] > 0)
				fprintf(f, "%.6f\n", accept_t[i]);
		fclose(f);
	}
	int ok = atomic_load(&n_ok);
	int sent = nmessages < atomic_load(&next_msg) ? nmessages : atomic_load(&next_msg);
	printf("sent=%d ok=%d failed=%d elapsed_s=%.3f per_s=%.1f p50_ms=%.3f p90_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f mean_ms=%.3f\n",
	       sent, ok, nmessages - ok, elapsed, elapsed > 0 ? ok / elapsed : 0, pct(v, n, 50),
	       pct(v, n, 90), pct(v, n, 99), n ? v[n - 1] : 0, n ? sum / n : 0);
	return ok == nmessages ? 0 : 1;
}
