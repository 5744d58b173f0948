/*
 * test_audit_faults.c -- fault injection into the writer's write(2) and
 * fdatasync(2) (the pdp_audit_io hook; sqlite's countdown and jq's
 * inject_errors in spirit): ENOSPC, EIO, short writes, a short write then
 * an error, failing fdatasync, a disk that fails for a while and comes
 * back, a countdown over every write call, and the fail-closed state after
 * a deferred fdatasync fails in `interval` mode.
 *
 * The invariant checked everywhere: a record reported done with PDP_OK is
 * in the log at the seq it was given; a record reported failed is not in
 * the log; the log verifies.
 */
#include "audit_test_util.h"

#include <stdatomic.h>

struct faults {
	atomic_int armed;             /* only count calls once set */
	atomic_int write_calls;
	atomic_int fail_write_from;   /* 1-based call number, 0 = never */
	atomic_int fail_write_count;  /* how many calls fail from there, -1 forever */
	atomic_int write_errno;
	atomic_int short_writes;      /* write at most 37 bytes per call */
	atomic_int short_then_fail;   /* the failing call writes half, the next fails */
	atomic_int fsync_calls;
	atomic_int fail_fsync_from;
	atomic_int fail_fsync_count;
	atomic_int fsync_errno;
};

static bool should_fail(atomic_int *calls, atomic_int *from, atomic_int *count)
{
	int n = atomic_fetch_add(calls, 1) + 1;
	int f = atomic_load(from), c = atomic_load(count);
	return f > 0 && n >= f && (c < 0 || n < f + c);
}

static ssize_t fault_write(void *ctx, int fd, const void *p, size_t n)
{
	struct faults *f = ctx;
	if (!atomic_load(&f->armed))
		return write(fd, p, n);
	if (atomic_load(&f->short_then_fail) == 1 && n > 1) {
		atomic_store(&f->short_then_fail, 2);
		return write(fd, p, n / 2);
	}
	if (atomic_load(&f->short_then_fail) == 2) {
		atomic_store(&f->short_then_fail, 0);
		errno = EIO;
		return -1;
	}
	if (should_fail(&f->write_calls, &f->fail_write_from, &f->fail_write_count)) {
		errno = atomic_load(&f->write_errno);
		return -1;
	}
	if (atomic_load(&f->short_writes) && n > 37)
		n = 37;
	return write(fd, p, n);
}

static int fault_fdatasync(void *ctx, int fd)
{
	struct faults *f = ctx;
	if (atomic_load(&f->armed) && should_fail(&f->fsync_calls, &f->fail_fsync_from, &f->fail_fsync_count)) {
		errno = atomic_load(&f->fsync_errno);
		return -1;
	}
	return fdatasync(fd);
}

struct fixture {
	struct tdir t;
	struct faults f;
	pdp_audit_io io;
	pdp_audit_config c;
	bool by_owner; /* queues write on the test's thread (pdp_audit_flush), as the server's do */
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	tdir_make(&x->t);
	x->io = (pdp_audit_io){ fault_write, fault_fdatasync, &x->f };
	cfg_init(&x->c, &x->t);
	x->c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	x->c.io = &x->io;
	x->c.fail_timeout_ms = 300;
	x->c.checkpoint_every = 5;
	x->c.segment_max_bytes = 4096;
	*state = x;
	return 0;
}

static int setup_by_owner(void **state)
{
	setup(state);
	((struct fixture *)*state)->by_owner = true;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	tdir_done(&x->t);
	free(x);
	return 0;
}

/* Submits n records (ids "<tag>-<i>") through one queue and waits; with
 * x->by_owner the first attempt at each is made here, by pdp_audit_flush. */
static void run_records(const struct fixture *x, pdp_audit *a, const char *tag, int n, struct result *rs)
{
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(a, waiter_notify, &w);
	if (x->by_owner)
		pdp_audit_queue_flush_by_owner(q);
	for (int i = 0; i < n; i++) {
		char json[100];
		snprintf(json, sizeof(json), "{\"decision_id\":\"%s-%d\"}", tag, i);
		memset(&rs[i], 0, sizeof(rs[i]));
		enum pdp_err e;
		while ((e = pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[i])) == PDP_E_BUSY) {
			if (x->by_owner)
				pdp_audit_flush(q);
			waiter_wait(&w);
			pdp_audit_queue_drain(q);
		}
		if (e != PDP_OK) { /* failed closed: never queued */
			rs[i].done = true;
			rs[i].err = e;
		} else if (x->by_owner && i % 3 == 2) {
			pdp_audit_flush(q); /* units of three, as a worker's turn */
		}
	}
	if (x->by_owner)
		pdp_audit_flush(q);
	pdp_audit_queue_free(q);
	waiter_done(&w);
	for (int i = 0; i < n; i++)
		assert_true(rs[i].done);
}

/* The invariant: OK => in the log at its seq; failed => nowhere in it. */
static void check_records(const struct tdir *t, const char *tag, int n, const struct result *rs)
{
	for (int i = 0; i < n; i++) {
		char needle[100];
		uint64_t first;
		size_t no;
		snprintf(needle, sizeof(needle), "\"decision_id\":\"%s-%d\"", tag, i);
		bool found = find_line(t, needle, &first, &no);
		if (rs[i].err != PDP_OK) {
			if (found)
				fail_msg("%s-%d failed (%s) but is in the log", tag, i, pdp_err_str(rs[i].err));
			continue;
		}
		if (!found)
			fail_msg("%s-%d reported done at seq %llu but is not in the log", tag, i,
				 (unsigned long long)rs[i].seq);
		char path[400], want[40];
		size_t len;
		seg_path(t, first, path, sizeof(path));
		char *p = slurp(path, &len);
		size_t off = 0, l = 0;
		assert_true(line_at(p, len, no, &off, &l));
		snprintf(want, sizeof(want), "{\"v\":1,\"seq\":%llu,", (unsigned long long)rs[i].seq);
		assert_memory_equal(p + off, want, strlen(want));
		free(p);
	}
}

static int count_ok(const struct result *rs, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += rs[i].err == PDP_OK;
	return k;
}

static void test_short_writes(void **state)
{
	struct fixture *x = *state;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.short_writes, 1);
	atomic_store(&x->f.armed, 1);
	struct result rs[30];
	run_records(x, a, "s", 30, rs);
	assert_int_equal(count_ok(rs, 30), 30);
	close_ok(a);
	assert_true(atomic_load(&x->f.write_calls) > 30); /* really split */
	check_records(&x->t, "s", 30, rs);
	expect_verifies(&x->t);
}

static void test_enospc_once(void **state)
{
	struct fixture *x = *state;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.write_errno, ENOSPC);
	atomic_store(&x->f.fail_write_from, 1);
	atomic_store(&x->f.fail_write_count, 1);
	atomic_store(&x->f.armed, 1);
	struct result rs[20];
	run_records(x, a, "e", 20, rs);
	assert_int_equal(count_ok(rs, 20), 20); /* retried within fail_timeout */
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	assert_int_equal(st.write_errors, 1);
	assert_true(st.writable);
	close_ok(a);
	check_records(&x->t, "e", 20, rs);
	expect_verifies(&x->t);
}

static void test_short_write_then_eio(void **state)
{
	struct fixture *x = *state;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.short_then_fail, 1);
	atomic_store(&x->f.armed, 1);
	struct result rs[10];
	run_records(x, a, "h", 10, rs);
	assert_int_equal(count_ok(rs, 10), 10);
	close_ok(a);
	/* the half written before the error was cut back: no garbage */
	check_records(&x->t, "h", 10, rs);
	expect_verifies(&x->t);
}

static void test_disk_fails_then_recovers(void **state)
{
	struct fixture *x = *state;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.write_errno, EIO);
	atomic_store(&x->f.fail_write_from, 1);
	atomic_store(&x->f.fail_write_count, -1);
	atomic_store(&x->f.armed, 1);
	struct result bad[10], good[10];
	run_records(x, a, "bad", 10, bad);
	assert_int_equal(count_ok(bad, 10), 0); /* fail closed: none reported done */
	for (int i = 0; i < 10; i++)
		assert_int_equal(bad[i].err, PDP_E_IO);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	assert_false(st.writable);
	assert_int_equal(st.failed_records, 10);
	atomic_store(&x->f.fail_write_from, 0); /* the disk is back */
	run_records(x, a, "good", 10, good);
	assert_int_equal(count_ok(good, 10), 10);
	pdp_audit_stats_get(a, &st);
	assert_true(st.writable);
	close_ok(a);
	check_records(&x->t, "bad", 10, bad);
	check_records(&x->t, "good", 10, good);
	expect_verifies(&x->t);
}

static void test_fdatasync_fails(void **state)
{
	struct fixture *x = *state;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.fsync_errno, EIO);
	atomic_store(&x->f.fail_fsync_from, 1);
	atomic_store(&x->f.fail_fsync_count, 2);
	atomic_store(&x->f.armed, 1);
	struct result rs[10];
	run_records(x, a, "y", 10, rs);
	assert_int_equal(count_ok(rs, 10), 10); /* the unit was cut back and rewritten */
	/* forever: the records fail, none is reported done */
	atomic_store(&x->f.fsync_calls, 0);
	atomic_store(&x->f.fail_fsync_count, -1);
	struct result rs2[5];
	run_records(x, a, "z", 5, rs2);
	assert_int_equal(count_ok(rs2, 5), 0);
	atomic_store(&x->f.fail_fsync_from, 0);
	close_ok(a);
	check_records(&x->t, "y", 10, rs);
	check_records(&x->t, "z", 5, rs2);
	expect_verifies(&x->t);
}

/* Fails the k-th write call (once, then forever) for every k. */
static void test_countdown(void **state)
{
	struct fixture *x = *state;
	for (int forever = 0; forever <= 1; forever++) {
		for (int k = 1; k <= 12; k++) {
			rm_rf(x->t.log);
			memset(&x->f, 0, sizeof(x->f));
			x->c.fail_timeout_ms = forever ? 50 : 300;
			pdp_audit *a = open_ok(&x->c);
			atomic_store(&x->f.write_errno, k % 2 ? ENOSPC : EIO);
			atomic_store(&x->f.fail_write_from, k);
			atomic_store(&x->f.fail_write_count, forever ? -1 : 1);
			atomic_store(&x->f.armed, 1);
			struct result rs[24];
			run_records(x, a, "c", 24, rs);
			if (!forever)
				assert_int_equal(count_ok(rs, 24), 24);
			enum pdp_err ce = pdp_audit_close(a, "test");
			/* with a permanent failure, the stop record fails once the k-th
			 * write call was reached (it may lie beyond this workload) */
			bool reached = atomic_load(&x->f.write_calls) >= k;
			assert_int_equal(ce, forever && reached ? PDP_E_IO : PDP_OK);
			check_records(&x->t, "c", 24, rs);
			expect_verifies(&x->t); /* a failed stop leaves a valid chain */
			if (forever) { /* and the next start recovers it */
				memset(&x->f, 0, sizeof(x->f));
				close_ok(open_ok(&x->c));
				expect_verifies(&x->t);
			}
		}
	}
}

static void test_interval_sync_failure_fails_closed(void **state)
{
	struct fixture *x = *state;
	x->c.fsync = PDP_AUDIT_FSYNC_INTERVAL;
	x->c.fsync_interval_ms = 20;
	x->c.checkpoint_every = 100000;
	pdp_audit *a = open_ok(&x->c);
	atomic_store(&x->f.fsync_errno, EIO);
	atomic_store(&x->f.fail_fsync_from, 1);
	atomic_store(&x->f.fail_fsync_count, -1);
	atomic_store(&x->f.armed, 1);
	struct result rs[5];
	run_records(x, a, "i", 5, rs);
	assert_int_equal(count_ok(rs, 5), 5); /* answered once written, as documented */
	pdp_audit_stats st;
	for (int i = 0; i < 100; i++) {
		pdp_audit_stats_get(a, &st);
		if (!st.writable)
			break;
		usleep(10000);
	}
	assert_false(st.writable); /* the deferred fdatasync failed: fail closed */
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(a, waiter_notify, &w);
	struct result r = { false, 0, PDP_OK };
	assert_int_equal(pdp_audit_submit(q, "decision", "{}", 2, result_done, &r), PDP_E_IO);
	pdp_audit_queue_free(q);
	waiter_done(&w);
	assert_int_equal(pdp_audit_close(a, "test"), PDP_E_IO);
	check_records(&x->t, "i", 5, rs);
	/* a restart verifies the tail and records the unclean stop */
	memset(&x->f, 0, sizeof(x->f));
	close_ok(open_ok(&x->c));
	expect_verifies(&x->t);
	uint64_t first;
	size_t no;
	assert_true(find_line(&x->t, "\"clean_shutdown\":false", &first, &no));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown), \
	cmocka_unit_test_setup_teardown(fn, setup_by_owner, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_short_writes),
		T(test_enospc_once),
		T(test_short_write_then_eio),
		T(test_disk_fails_then_recovers),
		T(test_fdatasync_fails),
		T(test_countdown),
		T(test_interval_sync_failure_fails_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
