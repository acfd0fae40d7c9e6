/* The outbound SMTP client (smtpc.h). */
#include "smtpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/codec.h"
#include "lib/util.h"

#define REPLY_MAX 8192 /* bytes of one multi-line reply we keep */

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char in[16384];
	size_t inlen;
	int timeout_ms;
};

static int wait_fd(struct conn *c, bool write)
{
	struct pollfd p = {.fd = c->fd, .events = write ? POLLOUT : POLLIN};
	int r;
	do
		r = poll(&p, 1, c->timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

static ssize_t conn_read(struct conn *c, char *buf, size_t n)
{
	for (;;) {
		if (c->ssl) {
			int r = SSL_read(c->ssl, buf, (int)n);
			if (r > 0)
				return r;
			int e = SSL_get_error(c->ssl, r);
			if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
			    wait_fd(c, e == SSL_ERROR_WANT_WRITE) == 0)
				continue;
			return -1;
		}
		if (wait_fd(c, false) < 0)
			return -1;
		ssize_t r = recv(c->fd, buf, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0 ? r : -1;
	}
}

static int conn_write(struct conn *c, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r;
		if (c->ssl) {
			int w = SSL_write(c->ssl, buf, (int)(n > (1u << 30) ? (1u << 30) : n));
			if (w <= 0) {
				int e = SSL_get_error(c->ssl, w);
				if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
				    wait_fd(c, e == SSL_ERROR_WANT_WRITE) == 0)
					continue;
				return -1;
			}
			r = w;
		} else {
			if (wait_fd(c, true) < 0)
				return -1;
			r = send(c->fd, buf, n, MSG_NOSIGNAL);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
		}
		buf += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One reply (all lines of it): the code, the text of the last line into text, and each
 * line's text to on_line when given (EHLO's extensions). */
static int read_reply_lines(struct conn *c, int *code_r, char *text, size_t textsz,
			    void (*on_line)(void *, const char *), void *ctx, struct err *err)
{
	size_t total = 0;
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		if (nl == NULL) {
			ssize_t r;
			if (c->inlen == sizeof(c->in))
				return err_set(err, ERR_IO, "reply line too long");
			r = conn_read(c, c->in + c->inlen, sizeof(c->in) - c->inlen);
			if (r <= 0)
				return err_set(err, ERR_IO, "connection lost or timed out");
			c->inlen += (size_t)r;
			continue;
		}
		size_t len = (size_t)(nl - c->in) + 1, tl = len;
		char line[1024];
		while (tl > 0 && (c->in[tl - 1] == '\n' || c->in[tl - 1] == '\r'))
			tl--;
		if (tl < 3 || c->in[0] < '2' || c->in[0] > '5' || c->in[1] < '0' || c->in[1] > '9' ||
		    c->in[2] < '0' || c->in[2] > '9')
			return err_set(err, ERR_IO, "malformed reply");
		*code_r = (c->in[0] - '0') * 100 + (c->in[1] - '0') * 10 + (c->in[2] - '0');
		bool more = tl > 3 && c->in[3] == '-';
		snprintf(line, sizeof(line), "%.*s", (int)(tl > 4 ? tl - 4 : 0), c->in + (tl > 4 ? 4 : tl));
		if (text && snprintf(text, textsz, "%d %s", *code_r, line) < 0) /* cut: fine */
			text[0] = '\0';
		if (on_line)
			on_line(ctx, line);
		total += len;
		memmove(c->in, c->in + len, c->inlen - len);
		c->inlen -= len;
		if (total > REPLY_MAX)
			return err_set(err, ERR_IO, "reply too long");
		if (!more)
			return 0;
	}
}

static int read_reply(struct conn *c, int *code_r, char *text, size_t textsz, struct err *err)
{
	return read_reply_lines(c, code_r, text, textsz, NULL, NULL, err);
}

static int command(struct conn *c, const char *line, int *code_r, char *text, size_t textsz,
		   struct err *err)
{
	if (conn_write(c, line, strlen(line)) < 0)
		return err_set(err, ERR_IO, "connection lost while sending");
	return read_reply(c, code_r, text, textsz, err);
}

static int dial(const char *addr, int port, int timeout_ms, struct err *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
	char ports[8];
	int fd, r;

	snprintf(ports, sizeof(ports), "%d", port);
	if (getaddrinfo(addr, ports, &hints, &ai) != 0) {
		hints.ai_flags = 0;
		if (getaddrinfo(addr, ports, &hints, &ai) != 0)
			return err_set(err, ERR_IO, "%s: cannot resolve", addr);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return err_set(err, ERR_IO, "socket: %s", strerror(errno));
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (poll(&p, 1, timeout_ms) <= 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			close(fd);
			return err_set(err, ERR_IO, "%s:%d: %s", addr, port,
				       soerr ? strerror(soerr) : "connect timed out");
		}
	} else if (r < 0) {
		close(fd);
		return err_set(err, ERR_IO, "%s:%d: %s", addr, port, strerror(errno));
	}
	return fd;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

static int starttls(struct conn *c, const char *host, struct err *err)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return err_set(err, ERR_IO, "TLS setup failed");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* opportunistic: encrypt against passive eavesdroppers; MX names are rarely on the
	 * certificate (RFC 7435). */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return err_set(err, ERR_IO, "TLS setup failed");
	SSL_set_tlsext_host_name(c->ssl, host);
	c->inlen = 0; /* nothing read before the handshake counts (RFC 3207 4.2) */
	for (;;) {
		int r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    wait_fd(c, e == SSL_ERROR_WANT_WRITE) == 0)
			continue;
		return err_set(err, ERR_IO, "TLS handshake failed");
	}
}

struct caps {
	bool starttls, pipelining, eightbit, smtputf8, auth_plain, dsn;
};

static void on_ehlo_line(void *ctx, const char *kw)
{
	struct caps *caps = ctx;
	if (strncasecmp(kw, "STARTTLS", 8) == 0)
		caps->starttls = true;
	else if (strncasecmp(kw, "PIPELINING", 10) == 0)
		caps->pipelining = true;
	else if (strncasecmp(kw, "8BITMIME", 8) == 0)
		caps->eightbit = true;
	else if (strncasecmp(kw, "SMTPUTF8", 8) == 0)
		caps->smtputf8 = true;
	else if (strncasecmp(kw, "DSN", 3) == 0 && (kw[3] == '\0' || kw[3] == ' '))
		caps->dsn = true;
	else if (strncasecmp(kw, "AUTH", 4) == 0 && strcasestr(kw, "PLAIN"))
		caps->auth_plain = true;
}

static int ehlo(struct conn *c, const char *helo, struct caps *caps, int *code_r, char *text,
		size_t textsz, struct err *err)
{
	char line[600];

	memset(caps, 0, sizeof(*caps));
	snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
	if (conn_write(c, line, strlen(line)) < 0)
		return err_set(err, ERR_IO, "connection lost while sending");
	if (read_reply_lines(c, code_r, text, textsz, on_ehlo_line, caps, err) < 0)
		return -1;
	if (*code_r / 100 != 2) {
		/* an old server: HELO, and no extensions */
		memset(caps, 0, sizeof(*caps));
		snprintf(line, sizeof(line), "HELO %s\r\n", helo);
		return command(c, line, code_r, text, textsz, err);
	}
	return 0;
}

/* Send the message with CRLF line ends and dot-stuffing (RFC 5321 4.5.2), in chunks. */
static int send_data(struct conn *c, const char *data, size_t len)
{
	char out[32768];
	size_t o = 0;
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		char ch = data[i];
		if (o + 4 > sizeof(out)) {
			if (conn_write(c, out, o) < 0)
				return -1;
			o = 0;
		}
		if (bol && ch == '.')
			out[o++] = '.';
		if (ch == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[o++] = '\r';
		if (ch == '\r' && (i + 1 == len || data[i + 1] != '\n')) {
			/* a bare CR would be refused (smuggling defence): make it a line end */
			out[o++] = '\r';
			out[o++] = '\n';
			bol = true;
			continue;
		}
		out[o++] = ch;
		bol = ch == '\n';
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	o += 3;
	return conn_write(c, out, o);
}

static int auth_plain(struct conn *c, const char *user, const char *pass, int *code_r,
		      char *text, size_t textsz, struct err *err)
{
	size_t ul = strlen(user), pl = strlen(pass), n = ul + pl + 2;
	unsigned char *raw = xmalloc(n);
	char *b64 = xmalloc(B64_ENC_LEN(n) + 16), *line;
	int r;

	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	b64_encode(raw, n, b64);
	line = xmalloc(strlen(b64) + 32);
	sprintf(line, "AUTH PLAIN %s\r\n", b64);
	r = command(c, line, code_r, text, textsz, err);
	free(raw);
	free(b64);
	free(line);
	return r;
}

static int fail_reply(int code, const char *text, int *code_r, struct err *err)
{
	*code_r = code;
	return err_set(err, code >= 500 ? ERR_DENIED : ERR_IO, "%s", text);
}

/* One transaction on a connected socket. */
static int transact(struct conn *c, const char *host, struct smtpc_msg *m, int *code_r,
		    struct err *err)
{
	char text[512], line[1400];
	struct caps caps;
	int code, accepted = 0;

	if (read_reply(c, &code, text, sizeof(text), err) < 0)
		return -1;
	if (code != 220)
		return fail_reply(code, text, code_r, err);
	if (ehlo(c, m->helo, &caps, &code, text, sizeof(text), err) < 0)
		return -1;
	if (code / 100 != 2)
		return fail_reply(code, text, code_r, err);
	if (caps.starttls) {
		if (command(c, "STARTTLS\r\n", &code, text, sizeof(text), err) < 0)
			return -1;
		if (code == 220) {
			if (starttls(c, host, err) < 0)
				return -1;
			if (ehlo(c, m->helo, &caps, &code, text, sizeof(text), err) < 0)
				return -1;
			if (code / 100 != 2)
				return fail_reply(code, text, code_r, err);
		}
	}
	if (m->auth_user && *m->auth_user) {
		if (c->ssl == NULL)
			return err_set(err, ERR_IO, "%s offers no STARTTLS: the relay password is not"
						    " sent in the clear", host);
		if (auth_plain(c, m->auth_user, m->auth_password ? m->auth_password : "", &code, text,
			       sizeof(text), err) < 0)
			return -1;
		if (code != 235)
			return fail_reply(code, text, code_r, err);
	}
	if (m->smtputf8 && !caps.smtputf8)
		return fail_reply(553, "5.6.7 the receiving server does not support SMTPUTF8 and the"
				       " message needs it", code_r, err);
	snprintf(line, sizeof(line), "MAIL FROM:<%s>%s%s%s\r\n", m->sender,
		 m->eightbit && caps.eightbit ? " BODY=8BITMIME" : "",
		 m->smtputf8 ? " SMTPUTF8" : "", caps.dsn && m->mail_params ? m->mail_params : "");
	if (command(c, line, &code, text, sizeof(text), err) < 0)
		return -1;
	if (code != 250)
		return fail_reply(code, text, code_r, err);
	for (size_t i = 0; i < m->nrcpts; i++) {
		struct smtpc_rcpt *r = &m->rcpts[i];
		snprintf(line, sizeof(line), "RCPT TO:<%s>%s\r\n", r->address,
			 caps.dsn && r->dsn_params ? r->dsn_params : "");
		if (command(c, line, &r->code, r->text, sizeof(r->text), err) < 0)
			return -1;
		if (r->code / 100 == 2)
			accepted++;
	}
	if (accepted == 0) {
		(void)command(c, "QUIT\r\n", &code, NULL, 0, err);
		*code_r = 0;
		return 0; /* the transaction ran: each recipient has its answer */
	}
	if (command(c, "DATA\r\n", &code, text, sizeof(text), err) < 0)
		return -1;
	if (code != 354)
		return fail_reply(code, text, code_r, err);
	if (send_data(c, m->data, m->len) < 0)
		return err_set(err, ERR_IO, "connection lost while sending the message");
	if (read_reply(c, &code, text, sizeof(text), err) < 0)
		return -1;
	/* the end-of-data reply is every accepted recipient's outcome */
	for (size_t i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].code / 100 == 2) {
			m->rcpts[i].code = code;
			snprintf(m->rcpts[i].text, sizeof(m->rcpts[i].text), "%.*s",
				 (int)sizeof(m->rcpts[i].text) - 1, text);
		}
	(void)command(c, "QUIT\r\n", &code, NULL, 0, err);
	*code_r = code;
	return 0;
}

int smtpc_deliver(const char *host, const char *const *addrs, size_t naddrs, int port,
		  struct smtpc_msg *m, int *code_r, struct err *err)
{
	struct err last;
	int timeout_ms = (m->timeout_s > 0 ? m->timeout_s : 60) * 1000;

	*code_r = 0;
	err_set(&last, ERR_IO, "%s: no address to connect to", host);
	/* every address of the host in turn, until one talks to us */
	for (size_t i = 0; i < (naddrs ? naddrs : 1); i++) {
		struct conn c = {.fd = -1, .timeout_ms = timeout_ms};
		const char *addr = naddrs ? addrs[i] : host;
		int r;
		c.fd = dial(addr, port, timeout_ms, &last);
		if (c.fd < 0)
			continue;
		r = transact(&c, host, m, code_r, &last);
		conn_close(&c);
		if (r == 0)
			return 0;
		if (last.code == ERR_DENIED)
			break; /* a permanent answer does not change with the next address */
	}
	if (err)
		*err = last;
	return -1;
}
