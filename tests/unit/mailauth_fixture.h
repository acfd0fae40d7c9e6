/* The mailauth unit tests' fixture (test_mailauth.c, test_dkim.c, test_dns.c): a dnsmasq on
 * 127.0.0.1 serving tests/data/mailauth/zone.conf plus the DKIM keys made at setup, resolvers
 * pointed at it and at a dead port, mailauth handles with three policies, and the helpers the
 * suites share (messages, signing, checks, files, child processes). dnsmasq dies with the test
 * (PR_SET_PDEATHSIG) and is killed in the teardown. */
#ifndef YZ_TEST_MAILAUTH_FIXTURE_H
#define YZ_TEST_MAILAUTH_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "mta/dns.h"
#include "mta/mailauth.h"
#include "mta/route.h"
#include "store/store.h"

#define DATA YZ_SOURCE_DIR "/tests/data/mailauth/"
#define PYTHON "/usr/bin/python3" /* Debian's, where python3-dkim lives */
#define AUTHSERV "mx.test.yizhan"
/* envelope senders whose SPF passes from 198.51.100.0/24, aligned with example.net / .org */
#define NET_ENV "b@other.example.net"
#define ORG_ENV "b@other.example.org"

struct mailauth_fixture {
	char dir[64];
	pid_t dnsmasq;
	int port, dead_port;
	struct dns_resolver *dns, *dead;
	struct mailauth *ma;      /* reject -> REJECT, quarantine -> QUARANTINE, spf fail -> TAG */
	struct mailauth *ma_soft; /* reject -> QUARANTINE, quarantine -> TAG, spf fail -> REJECT */
	struct mailauth *ma_tag;  /* everything TAG */
	struct mailauth *ma_dead; /* DNS that never answers */
	char *key, *txt;          /* published as s1 and py at several domains */
	char *key2, *txt2;        /* a key published nowhere */
};
extern struct mailauth_fixture T;

/* The cmocka group setup and teardown: start dnsmasq, make keys, resolvers and handles. */
int mailauth_fixture_setup(void **state);
int mailauth_fixture_teardown(void **state);

char *slurp(const char *path, size_t *n);
void spit(const char *path, const char *s, size_t n);
/* name in the test's temporary directory (a ring of 16 buffers) */
char *tmp_path(const char *name);
int free_port(void);
int run(char *const argv[], const char *out);
struct mailauth *new_ma(struct dns_resolver *dns, enum mailauth_policy rej,
                        enum mailauth_policy quar, enum mailauth_policy spf);
char *mkmsg(const char *hdrs, const char *body, bool lf, size_t *len);
char *prepend(const char *hdr, const char *msg, size_t len, size_t *out_len);
char *sign(const char *domain, const char *selector, const char *key, const char *msg,
           size_t len, size_t *out_len);

struct check {
	struct arena *a;
	struct mailauth_verdict v;
};

void check(struct mailauth *ma, const char *ip, const char *helo, const char *from,
           const char *msg, size_t len, struct check *c);
void check_done(struct check *c);

#define assert_result(got, want)                                                                   \
	assert_string_equal(mailauth_result_name(got), mailauth_result_name(want))

/* The header fields of the test messages, From: from (a thread-local buffer). */
const char *std_hdrs(const char *from);
extern const char *const BODY;

#endif
