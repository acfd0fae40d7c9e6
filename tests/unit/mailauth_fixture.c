/* The mailauth unit tests' fixture (mailauth_fixture.h). */
#include "mailauth_fixture.h"
#include "unit_util.h"

struct mailauth_fixture T;

char *slurp(const char *path, size_t *n)
{
	return read_whole(path, n);
}

void spit(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	fclose(f);
}

char *tmp_path(const char *name)
{
	static char buf[16][160]; /* a ring: a few may be in use at once */
	static int k;
	char *p = buf[k++ % 16];
	snprintf(p, sizeof(buf[0]), "%s/%s", T.dir, name);
	return p;
}

/* A port free for both UDP and TCP on 127.0.0.1. */
int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), port;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(u, (struct sockaddr *)&sa, &sl) < 0) {
			close(u);
			close(t);
			continue;
		}
		port = ntohs(sa.sin_port);
		if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(u);
			close(t);
			return port;
		}
		close(u);
		close(t);
	}
	return -1;
}

/* Run argv with stdout to out (or /dev/null); the exit status. */
int run(char *const argv[], const char *out)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void key_record(FILE *f, const char *name, const char *txt)
{
	fprintf(f, "txt-record=%s,\"%s\"\n", name, txt);
}

static void start_dnsmasq(void)
{
	size_t n;
	char *zone = slurp(DATA "zone.conf", &n), port[32], conf[200];
	FILE *f = fopen(tmp_path("zone.conf"), "w");
	const char *names[] = {
	    "s1._domainkey.example.com",        "s1._domainkey.mail.example.com",
	    "s1._domainkey.example.net",        "py._domainkey.example.net",
	    "s1._domainkey.example.co.uk",      "s1._domainkey.other.co.uk",
	    "s1._domainkey.strict.example.net",
	};

	assert_non_null(f);
	fwrite(zone, 1, n, f);
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		key_record(f, names[i], T.txt);
	/* a revoked key (RFC 6376 3.6.1: empty p=) */
	key_record(f, "revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=");
	fclose(f);
	free(zone);

	T.port = free_port();
	T.dead_port = free_port();
	assert_true(T.port > 0 && T.dead_port > 0 && T.port != T.dead_port);
	snprintf(port, sizeof(port), "--port=%d", T.port);
	snprintf(conf, sizeof(conf), "--conf-file=%s", tmp_path("zone.conf"));
	T.dnsmasq = fork();
	assert_true(T.dnsmasq >= 0);
	if (T.dnsmasq == 0) {
		char *argv[] = {"/usr/sbin/dnsmasq",
		                "--no-daemon",
		                port,
		                "--listen-address=127.0.0.1",
		                "--bind-interfaces",
		                "--no-resolv",
		                "--no-hosts",
		                "--pid-file=",
		                /* answers may be cached for a second (mta/dns.c) */
		                "--local-ttl=1",
		                conf,
		                NULL};
		int fd = open(tmp_path("dnsmasq.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
}

/* Until dnsmasq answers (a few tens of milliseconds). */
static void wait_dnsmasq(void)
{
	struct arena *a = arena_new();
	struct err e;
	const char **v;
	size_t n;
	uint64_t until = time_mono_ns() + 5000000000ull;

	for (;;) {
		/* a resolver of its own each time: T.dns would cache the failure for seconds */
		struct dns_resolver *probe;
		char servers[64];
		int st, r;
		snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.port);
		assert_int_equal(dns_resolver_new(servers, 1, &probe, &e), 0);
		r = dns_txt(probe, "pass.spf.example.com", a, &v, &n, &e);
		dns_resolver_free(&probe);
		if (r == 0)
			break;
		if (waitpid(T.dnsmasq, &st, WNOHANG) == T.dnsmasq) {
			size_t ln;
			char *log = slurp(tmp_path("dnsmasq.log"), &ln);
			fail_msg("dnsmasq exited: %s", log);
		}
		if (time_mono_ns() > until)
			fail_msg("dnsmasq does not answer: %s", e.msg);
		usleep(20000);
	}
	arena_free(&a);
}

struct mailauth *new_ma(struct dns_resolver *dns, enum mailauth_policy rej,
                               enum mailauth_policy quar, enum mailauth_policy spf)
{
	struct mailauth_opts o = {
	    .authserv_id = AUTHSERV,
	    .dmarc_reject = rej,
	    .dmarc_quarantine = quar,
	    .spf_fail = spf,
	};
	struct mailauth *ma;
	struct err e;

	if (mailauth_new(&o, dns, &ma, &e) < 0)
		fail_msg("mailauth_new: %s", e.msg);
	return ma;
}

int mailauth_fixture_setup(void **state)
{
	struct err e;
	char servers[64];

	signal(SIGPIPE, SIG_IGN);
	snprintf(T.dir, sizeof(T.dir), "/tmp/yz-mailauth-XXXXXX");
	assert_non_null(mkdtemp(T.dir));
	assert_int_equal(mailauth_dkim_keygen(&T.key, &T.txt, &e), 0);
	assert_int_equal(mailauth_dkim_keygen(&T.key2, &T.txt2, &e), 0);
	start_dnsmasq();
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.port);
	assert_int_equal(dns_resolver_new(servers, 2, &T.dns, &e), 0);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", T.dead_port);
	assert_int_equal(dns_resolver_new(servers, 1, &T.dead, &e), 0);
	wait_dnsmasq();
	T.ma = new_ma(T.dns, MAILAUTH_REJECT, MAILAUTH_QUARANTINE, MAILAUTH_TAG);
	T.ma_soft = new_ma(T.dns, MAILAUTH_QUARANTINE, MAILAUTH_TAG, MAILAUTH_REJECT);
	T.ma_tag = new_ma(T.dns, MAILAUTH_TAG, MAILAUTH_TAG, MAILAUTH_TAG);
	T.ma_dead = new_ma(T.dead, MAILAUTH_REJECT, MAILAUTH_QUARANTINE, MAILAUTH_TAG);
	return 0;
}

int mailauth_fixture_teardown(void **state)
{
	mailauth_free(&T.ma);
	mailauth_free(&T.ma_soft);
	mailauth_free(&T.ma_tag);
	mailauth_free(&T.ma_dead);
	dns_resolver_free(&T.dns);
	dns_resolver_free(&T.dead);
	if (T.dnsmasq > 0) {
		kill(T.dnsmasq, SIGTERM);
		waitpid(T.dnsmasq, NULL, 0);
	}
	free(T.key);
	free(T.txt);
	free(T.key2);
	free(T.txt2);
	const char *files[] = {"zone.conf", "dnsmasq.log", "msg.eml",
	                       "key.txt",   "key.pem",     "signed.eml"};
	for (size_t i = 0; i < ARRAY_LEN(files); i++)
		unlink(tmp_path(files[i]));
	rmdir(T.dir);
	return 0;
}

/* A message: header fields (one per line, "\n"-separated in hdrs) and body, CRLF or LF. */
char *mkmsg(const char *hdrs, const char *body, bool lf, size_t *len)
{
	size_t n = strlen(hdrs) + strlen(body) + 8; /* doubled below for CRs */
	char *out = malloc(2 * n), *o = out;

	assert_non_null(out);
	for (const char *p = hdrs; *p; p++) {
		if (*p == '\n' && !lf)
			*o++ = '\r';
		*o++ = *p;
	}
	for (int k = 0; k < 2; k++) { /* end the last field, then the empty line */
		if (!lf)
			*o++ = '\r';
		*o++ = '\n';
	}
	for (const char *p = body; *p; p++) {
		if (*p == '\n' && !lf)
			*o++ = '\r';
		*o++ = *p;
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

/* header + msg, malloc'd */
char *prepend(const char *hdr, const char *msg, size_t len, size_t *out_len)
{
	size_t h = strlen(hdr);
	char *out = malloc(h + len + 1);

	assert_non_null(out);
	memcpy(out, hdr, h);
	memcpy(out + h, msg, len);
	out[h + len] = '\0';
	*out_len = h + len;
	return out;
}

char *sign(const char *domain, const char *selector, const char *key, const char *msg,
                  size_t len, size_t *out_len)
{
	struct arena *a = arena_new();
	const char *hdr;
	struct err e;
	char *out;

	if (mailauth_dkim_sign(T.ma, domain, selector, key, msg, len, a, &hdr, &e) < 0)
		fail_msg("mailauth_dkim_sign: %s", e.msg);
	out = prepend(hdr, msg, len, out_len);
	arena_free(&a);
	return out;
}

void check(struct mailauth *ma, const char *ip, const char *helo, const char *from,
                  const char *msg, size_t len, struct check *c)
{
	struct err e;

	c->a = arena_new();
	if (mailauth_check(ma, ip, helo, from, MA_NONE, msg, len, c->a, &c->v, &e) < 0)
		fail_msg("mailauth_check: %s", e.msg);
	assert_non_null(c->v.header);
}

void check_done(struct check *c)
{
	arena_free(&c->a);
}

const char *std_hdrs(const char *from)
{
	static _Thread_local char buf[512]; /* test_threads builds messages on several threads */
	snprintf(buf, sizeof(buf),
	         "From: Alice <%s>\nTo: bob@example.net\nSubject: Quarterly numbers\n"
	         "Date: Mon, 01 Dec 2025 10:00:00 +0000\nMessage-ID: <m1@example.com>\n"
	         "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii",
	         from);
	return buf;
}

const char *const BODY = "Hello Bob,\n\nthe numbers are attached.  \n\n\n";
