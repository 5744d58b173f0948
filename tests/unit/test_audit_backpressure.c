/*
 * test_audit_backpressure.c -- a disk that cannot keep up makes submitters
 * wait (PDP_E_BUSY), never drops a record, and keeps memory bounded:
 *   - a slow fdatasync (50 ms) with a small bound: BUSY at the bound, the
 *     records in flight never exceed it, every record is written;
 *   - the byte bound alone;
 *   - a real tmpfs that fills up (ENOSPC from the kernel): records wait and
 *     then fail closed, and when the file system grows again (remount) the
 *     writer recovers by itself, the waiting records are written and the log
 *     verifies. Needs root for mount(2); skipped (and said so) otherwise.
 */
#include "audit_test_util.h"

#include <stdatomic.h>
#include <sys/mount.h>
#include <time.h>

static int setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));
	tdir_make(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tdir *t = *state;
	char mnt[400];
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", t->path);
	umount2(mnt, MNT_DETACH); /* a failed test may leave it mounted; EINVAL otherwise */
	tdir_done(*state);
	free(*state);
	return 0;
}

struct slow {
	atomic_int sleep_ms;
};

static int slow_fdatasync(void *ctx, int fd)
{
	struct slow *s = ctx;
	int ms = atomic_load(&s->sleep_ms);
	if (ms)
		usleep((useconds_t)ms * 1000);
	return fdatasync(fd);
}

struct load {
	pdp_audit *a;
	int n;
	const char *tag;
	struct result *rs;
	long busy;
	size_t max_inflight;
	atomic_int stop;
};

/* One producer: submits n records as fast as it can. */
static void *produce(void *arg)
{
	struct load *l = arg;
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(l->a, waiter_notify, &w);
	for (int i = 0; i < l->n; i++) {
		char json[200];
		snprintf(json, sizeof(json), "{\"decision_id\":\"%s-%d\",\"pad\":\"%080d\"}", l->tag, i, i);
		enum pdp_err e;
		while ((e = pdp_audit_submit(q, "decision", json, strlen(json), result_done, &l->rs[i])) == PDP_E_BUSY) {
			l->busy++;
			pdp_audit_stats st;
			pdp_audit_stats_get(l->a, &st);
			if (st.inflight_records > l->max_inflight)
				l->max_inflight = st.inflight_records;
			waiter_wait(&w);
			pdp_audit_queue_drain(q);
		}
		if (e != PDP_OK) {
			l->rs[i].done = true;
			l->rs[i].err = e;
		}
	}
	pdp_audit_queue_free(q);
	waiter_done(&w);
	return NULL;
}

static void test_slow_fsync(void **state)
{
	struct tdir *t = *state;
	struct slow s;
	atomic_init(&s.sleep_ms, 50);
	pdp_audit_io io = { NULL, slow_fdatasync, &s };
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c.io = &io;
	c.queue_max_records = 16;
	pdp_audit *a = open_ok(&c);
	enum { N = 120 };
	struct load l = { a, N, "slow", calloc(N, sizeof(struct result)), 0, 0, 0 };
	pthread_t th;
	pthread_create(&th, NULL, produce, &l);
	size_t max_seen = 0;
	for (int i = 0; i < 50; i++) { /* watch the bound from outside too */
		pdp_audit_stats st;
		pdp_audit_stats_get(a, &st);
		if (st.inflight_records > max_seen)
			max_seen = st.inflight_records;
		usleep(5000);
	}
	pthread_join(th, NULL);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	close_ok(a);
	assert_true(l.busy > 0);               /* the submitter was made to wait */
	assert_true(max_seen <= 16 && l.max_inflight <= 16);
	assert_true(st.busy > 0);
	assert_true(st.batches < N / 2);        /* group commit under a slow disk */
	for (int i = 0; i < N; i++) {
		assert_true(l.rs[i].done);
		assert_int_equal(l.rs[i].err, PDP_OK); /* nothing dropped */
	}
	for (int i = 0; i < N; i += 17) {
		char needle[64];
		uint64_t first;
		size_t no;
		snprintf(needle, sizeof(needle), "\"decision_id\":\"slow-%d\"", i);
		assert_true(find_line(t, needle, &first, &no));
	}
	free(l.rs);
	expect_verifies(t);
}

static void test_byte_bound(void **state)
{
	struct tdir *t = *state;
	struct slow s;
	atomic_init(&s.sleep_ms, 20);
	pdp_audit_io io = { NULL, slow_fdatasync, &s };
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c.io = &io;
	c.record_max_bytes = 256;
	c.queue_max_bytes = 256 + 4096; /* about 16 records of ~270 bytes */
	pdp_audit *a = open_ok(&c);
	enum { N = 60 };
	struct load l = { a, N, "bytes", calloc(N, sizeof(struct result)), 0, 0, 0 };
	produce(&l);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	close_ok(a);
	assert_true(l.busy > 0);
	assert_true(l.max_inflight < 64);
	for (int i = 0; i < N; i++)
		assert_int_equal(l.rs[i].err, PDP_OK);
	free(l.rs);
	expect_verifies(t);
}

static void test_full_tmpfs(void **state)
{
	struct tdir *t = *state;
	char mnt[400];
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", t->path);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
		print_message("test_full_tmpfs: SKIPPED: mount(2) needs root (%s)\n", strerror(errno));
		skip();
	}
	struct tdir tt = *t;
	assert_true(snprintf(tt.log, sizeof(tt.log), "%s/log", mnt) < (int)sizeof(tt.log));
	pdp_audit_config c;
	cfg_init(&c, &tt);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c.queue_max_records = 32;
	c.fail_timeout_ms = 400;
	pdp_audit *a = open_ok(&c);
	/* 1. fill it: ~64 KiB of ~180-byte records, then more */
	enum { N = 600 };
	struct load l1 = { a, N, "fill", calloc(N, sizeof(struct result)), 0, 0, 0 };
	produce(&l1);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	assert_true(st.write_errors > 0); /* the kernel said ENOSPC */
	assert_false(st.writable);
	int ok1 = 0, failed1 = 0;
	for (int i = 0; i < N; i++) {
		ok1 += l1.rs[i].err == PDP_OK;
		failed1 += l1.rs[i].err != PDP_OK;
	}
	assert_true(ok1 > 50 && failed1 > 0);
	/* 2. the disk grows while a producer is waiting on it */
	struct load l2 = { a, 200, "later", calloc(200, sizeof(struct result)), 0, 0, 0 };
	pthread_t th;
	pthread_create(&th, NULL, produce, &l2);
	usleep(100000);
	assert_int_equal(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=8m"), 0);
	pthread_join(th, NULL);
	/* 3. whatever the timing of (2) (valgrind is slow), records submitted
	 * after the remount all succeed and the log is writable again: it
	 * recovered by itself, with no restart */
	struct load l3 = { a, 50, "after", calloc(50, sizeof(struct result)), 0, 0, 0 };
	produce(&l3);
	pdp_audit_stats_get(a, &st);
	assert_true(st.writable);
	for (int i = 0; i < 50; i++)
		assert_int_equal(l3.rs[i].err, PDP_OK);
	free(l3.rs);
	close_ok(a);
	expect_verifies(&tt);
	/* OK => in the log, failed => not */
	for (int i = 0; i < N; i += 7) {
		char needle[64];
		uint64_t first;
		size_t no;
		snprintf(needle, sizeof(needle), "\"decision_id\":\"fill-%d\"", i);
		assert_int_equal(find_line(&tt, needle, &first, &no), l1.rs[i].err == PDP_OK);
	}
	free(l1.rs);
	free(l2.rs);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_slow_fsync),
		T(test_byte_bound),
		T(test_full_tmpfs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
