/* Unit tests for store/queue.h on a real queue.db in a mkdtemp() directory: in-flow control
 * (the committer answers later while delivery is behind). The rest of the queue is covered
 * through the daemon by the proto suites (test_smtp, test_delivery, test_smtp_crash). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "store/queue.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static const struct mta_rcpt rcpt = {.address = "bob@example.test"};
static const char msg[] = "From: a@example.test\r\nSubject: in-flow\r\n\r\nhello\r\n";

/* Milliseconds one submission took. */
static int64_t submit_src_ms(struct mta_queue *q, int64_t not_before, enum mta_source src)
{
	struct mta_envelope env = {.sender = "a@example.test", .rcpts = &rcpt, .nrcpts = 1,
				   .source = src, .not_before = not_before};
	char qid[MTA_QID_LEN];
	struct err err;
	int64_t t0 = time_now_ms();
	assert_int_equal(mta_queue_submit(q, &env, msg, sizeof(msg) - 1, qid, &err), 0);
	return time_now_ms() - t0;
}

static int64_t submit_ms(struct mta_queue *q, int64_t not_before)
{
	return submit_src_ms(q, not_before, MTA_SRC_INBOUND);
}

/* Claim what is due, as a delivery worker does; returns how many. */
static size_t claim(struct mta_queue *q)
{
	struct arena *a = arena_new();
	struct mta_job *v;
	size_t n;
	struct err err;
	assert_int_equal(mta_queue_due(q, time_now(), 32, 600, a, &v, &n, &err), 0);
	arena_free(&a);
	return n;
}

static void open_queue(char *dir, int64_t inflow_ms, struct mta_queue **q)
{
	struct mta_queue_opts o;
	struct err err;
	mta_queue_opts_default(&o);
	o.inflow_delay_ms = inflow_ms;
	strcpy(dir, "/tmp/yz-queue-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mta_queue_open(dir, &o, NULL, q, &err), 0);
}

static void close_queue(char *dir, struct mta_queue **q)
{
	mta_queue_close(q);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_inflow_control(void **state)
{
	(void)state;
	char dir[64];
	struct mta_queue *q;
	int64_t ms;

	open_queue(dir, 500, &q);
	assert_true(submit_ms(q, 0) < 250); /* nothing known about delivery: at once */
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1); /* it waited 800 ms for a worker: 600 over the lag kept */
	ms = submit_ms(q, 0);
	print_message("submission while delivery is 800 ms behind: %lld ms\n", (long long)ms);
	assert_true(ms >= 400);  /* held back, by at most inflow_delay_ms (500) */
	assert_true(ms < 2000);
	assert_int_equal(claim(q), 1); /* taken at once: delivery caught up */
	assert_true(submit_ms(q, 0) < 250);
	/* what delivery itself sends (a forward, a DSN) is never held back */
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_src_ms(q, 0, MTA_SRC_LOCAL) < 250);
	assert_true(submit_src_ms(q, 0, MTA_SRC_BOUNCE) < 250);
	assert_true(submit_ms(q, 0) >= 400);
	close_queue(dir, &q);

	/* turned off */
	open_queue(dir, 0, &q);
	assert_true(submit_ms(q, 0) < 250);
	usleep(800 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_ms(q, 0) < 250);
	close_queue(dir, &q);
}

/* A message sent with a delay (undo send) was not waiting for delivery before it was due. */
static void test_inflow_ignores_delayed_sends(void **state)
{
	(void)state;
	char dir[64];
	struct mta_queue *q;

	open_queue(dir, 500, &q);
	assert_true(submit_ms(q, time_now() + 2) < 250);
	assert_int_equal(claim(q), 0);
	usleep(3100 * 1000);
	assert_int_equal(claim(q), 1);
	assert_true(submit_ms(q, 0) < 250);
	close_queue(dir, &q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflow_control),
		cmocka_unit_test(test_inflow_ignores_delayed_sends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
