/*
 * test_audit_recovery.c -- opening an existing log: a clean restart, a torn
 * last line cut off and recorded, a crash without a stop record, a cut at
 * every position of the last records, corruption further back refused (and
 * the log left untouched), a new chain that moves the old one aside and
 * names its head, a log id mismatch, the directory lock, an empty segment
 * left by a crash during rotation, and configuration errors.
 */
#include "audit_test_util.h"

#include <openssl/sha.h>

static int setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));
	tdir_make(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tdir_done(*state);
	free(*state);
	return 0;
}

static void make_log(struct tdir *t, int n)
{
	pdp_audit_config c;
	cfg_init(&c, t);
	c.checkpoint_every = 8;
	pdp_audit *a = open_ok(&c);
	write_records(a, n, "r");
	close_ok(a);
}

static void reopen_close(struct tdir *t)
{
	pdp_audit_config c;
	cfg_init(&c, t);
	c.checkpoint_every = 8;
	close_ok(open_ok(&c));
}

static uint64_t last_seg(const struct tdir *t, char *path, size_t cap)
{
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	uint64_t last = segs.first[segs.n - 1];
	seg_path(t, last, path, cap);
	pdp_audit_segs_done(&segs);
	return last;
}

/* The members of the first record of `type` at or after seq `from`. */
static bool record_of_type(const struct tdir *t, const char *type, char *out, size_t cap)
{
	char needle[64];
	uint64_t first;
	size_t no;
	snprintf(needle, sizeof(needle), "\"type\":\"%s\"", type);
	if (!find_line(t, needle, &first, &no))
		return false;
	char path[400];
	size_t n, off = 0, len = 0;
	seg_path(t, first, path, sizeof(path));
	char *p = slurp(path, &n);
	assert_true(line_at(p, n, no, &off, &len));
	snprintf(out, cap, "%.*s", (int)len, p + off);
	free(p);
	return true;
}

static void test_clean_restart(void **state)
{
	struct tdir *t = *state;
	make_log(t, 20);
	reopen_close(t);
	char rec[4096];
	assert_false(record_of_type(t, "recovery", rec, sizeof(rec)));
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(t, true, NULL, &r), PDP_OK);
	/* two runs: genesis, start, cp, 20, stop, cp, start, cp, stop, cp (+ N-checkpoints) */
	assert_true(r.clean_stop);
	assert_true(r.records >= 30);
	pdp_audit_verify_result_done(&r);
}

static void test_torn_tail_cut(void **state)
{
	struct tdir *t = *state;
	make_log(t, 20);
	char path[400];
	last_seg(t, path, sizeof(path));
	size_t before;
	free(slurp(path, &before));
	static const char torn[] = "{\"v\":1,\"seq\":99,\"ts\":\"2025-01-01T00:0";
	FILE *f = fopen(path, "ab");
	fputs(torn, f);
	fclose(f);
	expect_bad(t, true, NULL, -1, "torn last line");
	reopen_close(t);
	expect_verifies(t);
	char rec[4096], want[200];
	assert_true(record_of_type(t, "recovery", rec, sizeof(rec)));
	uint8_t h[32];
	char hex[65];
	SHA256((const uint8_t *)torn, sizeof(torn) - 1, h);
	pdp_audit_hex(h, 32, hex);
	snprintf(want, sizeof(want), "\"truncated_at\":%zu,\"truncated_bytes\":%zu,\"truncated_sha256\":\"%s\"",
		 before, sizeof(torn) - 1, hex);
	if (!strstr(rec, want))
		fail_msg("recovery record %s lacks %s", rec, want);
	assert_non_null(strstr(rec, "\"clean_shutdown\":true")); /* it had stopped; the bytes came after */
}

static void test_crash_without_stop(void **state)
{
	struct tdir *t = *state;
	make_log(t, 20);
	char path[400];
	last_seg(t, path, sizeof(path));
	size_t n, off = 0, len = 0;
	char *p = slurp(path, &n);
	size_t lines = count_lines(p, n);
	assert_true(line_at(p, n, lines - 2, &off, &len)); /* drop stop + checkpoint */
	assert_int_equal(truncate(path, (off_t)off), 0);
	free(p);
	reopen_close(t);
	expect_verifies(t);
	char rec[4096];
	assert_true(record_of_type(t, "recovery", rec, sizeof(rec)));
	assert_non_null(strstr(rec, "\"clean_shutdown\":false"));
	assert_non_null(strstr(rec, "\"truncated_bytes\":0"));
	assert_null(strstr(rec, "truncated_sha256"));
}

/* Cuts the last records at many byte positions: every cut recovers, the
 * records before the cut stay, and the log verifies. */
static void test_cut_everywhere(void **state)
{
	struct tdir *t = *state;
	make_log(t, 12);
	char path[400];
	last_seg(t, path, sizeof(path));
	size_t n, off = 0, len = 0;
	char *orig = slurp(path, &n);
	size_t lines = count_lines(orig, n);
	assert_true(line_at(orig, n, lines - 4, &off, &len));
	for (size_t cut = off; cut <= n; cut += 37) {
		spit(path, orig, cut);
		/* later segments the previous round created go too */
		char lpath[400];
		while (strcmp((last_seg(t, lpath, sizeof(lpath)), lpath), path) != 0)
			unlink(lpath);
		pdp_audit_verify_result r;
		enum pdp_err e = verify_log(t, true, NULL, &r);
		uint64_t had = r.records;
		pdp_audit_verify_result_done(&r);
		reopen_close(t);
		assert_int_equal(verify_log(t, true, NULL, &r), PDP_OK);
		assert_true(r.records > had);
		pdp_audit_verify_result_done(&r);
		/* the bytes before the cut are still there, unchanged */
		size_t m;
		char *now = slurp(path, &m);
		size_t keep = cut;
		if (e != PDP_OK) /* a torn line was cut back to the last newline */
			while (keep > 0 && orig[keep - 1] != '\n')
				keep--;
		assert_true(m >= keep);
		assert_memory_equal(now, orig, keep);
		free(now);
	}
	free(orig);
}

static void test_corruption_refused(void **state)
{
	struct tdir *t = *state;
	make_log(t, 20);
	uint64_t first;
	size_t no;
	assert_true(find_line(t, "\"decision_id\":\"r-15\"", &first, &no));
	char path[400];
	seg_path(t, first, path, sizeof(path));
	size_t n, off = 0, len = 0;
	char *p = slurp(path, &n);
	assert_true(line_at(p, n, no, &off, &len));
	char *u = strstr(p + off, "\"u-15\"");
	u[3] = '9';
	spit(path, p, n);
	pdp_audit_config c;
	cfg_init(&c, t);
	char msg[2048];
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_CORRUPT);
	char want[200];
	snprintf(want, sizeof(want), "line %zu (seq", no + 1);
	if (!strstr(msg, want) || !strstr(msg, "hash does not match") || !strstr(msg, "refusing"))
		fail_msg("unclear message: %s", msg);
	/* nothing was written or cut */
	size_t m;
	char *after = slurp(path, &m);
	assert_int_equal(m, n);
	assert_memory_equal(after, p, n);
	free(after);
	free(p);
}

static void test_new_chain(void **state)
{
	struct tdir *t = *state;
	make_log(t, 20);
	uint64_t first;
	size_t no;
	assert_true(find_line(t, "\"decision_id\":\"r-15\"", &first, &no));
	char path[400];
	seg_path(t, first, path, sizeof(path));
	size_t n, off = 0, len = 0;
	char *p = slurp(path, &n);
	assert_true(line_at(p, n, no, &off, &len));
	uint64_t bad_seq = strtoull(strstr(p + off, "\"seq\":") + 6, NULL, 10);
	strstr(p + off, "\"u-15\"")[3] = '9';
	spit(path, p, n);
	pdp_audit_config c;
	cfg_init(&c, t);
	c.new_chain = true;
	close_ok(open_ok(&c));
	expect_verifies(t);
	char rec[4096], want[100];
	assert_true(record_of_type(t, "genesis", rec, sizeof(rec)));
	snprintf(want, sizeof(want), "\"records_verified\":%llu", (unsigned long long)bad_seq);
	assert_non_null(strstr(rec, "\"previous_chain\":{"));
	assert_non_null(strstr(rec, want));
	assert_non_null(strstr(rec, "hash does not match"));
	/* the old chain was moved, byte for byte, and still fails on its own */
	char *moved = strstr(rec, "\"moved_to\":\"");
	assert_non_null(moved);
	char sub[200], old[600];
	snprintf(sub, sizeof(sub), "%.*s", (int)(strchr(moved + 12, '"') - moved - 12), moved + 12);
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(first, name);
	snprintf(old, sizeof(old), "%s/%s/%s", t->log, sub, name);
	size_t m;
	char *kept = slurp(old, &m);
	assert_int_equal(m, n);
	assert_memory_equal(kept, p, n);
	free(kept);
	free(p);
	struct tdir t2 = *t;
	assert_true(snprintf(t2.log, sizeof(t2.log), "%s/%s", t->log, sub) < (int)sizeof(t2.log));
	expect_bad(&t2, true, NULL, (long)bad_seq, "hash does not match");
}

static void test_new_chain_on_healthy_log(void **state)
{
	struct tdir *t = *state;
	make_log(t, 5);
	pdp_audit_config c;
	cfg_init(&c, t);
	c.new_chain = true; /* no effect: nothing to replace */
	close_ok(open_ok(&c));
	char rec[4096];
	assert_true(record_of_type(t, "genesis", rec, sizeof(rec)));
	assert_null(strstr(rec, "previous_chain"));
	assert_non_null(strstr(rec, "\"seq\":0,"));
	expect_verifies(t);
}

static void test_log_id_mismatch(void **state)
{
	struct tdir *t = *state;
	make_log(t, 3);
	pdp_audit_config c;
	cfg_init(&c, t);
	c.log_id = "another.example/audit";
	c.new_chain = true;
	char msg[2048];
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	assert_non_null(strstr(msg, "has log id 'meshpdp.test/audit'"));
	assert_non_null(strstr(msg, "'another.example/audit'"));
}

static void test_lock(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	pdp_audit *a = open_ok(&c);
	char msg[2048];
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_BUSY);
	assert_non_null(strstr(msg, "in use by another process"));
	close_ok(a);
	close_ok(open_ok(&c));
}

static void test_empty_segment_after_rotation(void **state)
{
	struct tdir *t = *state;
	make_log(t, 10);
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(t, true, NULL, &r), PDP_OK);
	uint64_t next = r.records;
	pdp_audit_verify_result_done(&r);
	/* a crash right after the next segment file was created */
	char path[400];
	seg_path(t, next, path, sizeof(path));
	spit(path, "", 0);
	expect_verifies(t);
	reopen_close(t);
	expect_verifies(t);
	size_t n;
	char *p = slurp(path, &n);
	assert_true(n > 0); /* the run continued in it */
	free(p);
	/* an empty segment with a wrong name is refused */
	seg_path(t, next + 1000, path, sizeof(path));
	spit(path, "", 0);
	pdp_audit_config c;
	cfg_init(&c, t);
	char msg[2048];
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_CORRUPT);
	assert_non_null(strstr(msg, "does not end with the checkpoint that seals it before seq"));
}

static void test_torn_genesis(void **state)
{
	struct tdir *t = *state;
	assert_int_equal(mkdir(t->log, 0700), 0);
	char path[400];
	seg_path(t, 0, path, sizeof(path));
	spit(path, "{\"v\":1,\"seq\":0,\"ts\"", 20);
	reopen_close(t);
	expect_verifies(t);
	char rec[4096];
	assert_true(record_of_type(t, "recovery", rec, sizeof(rec)));
	assert_non_null(strstr(rec, "\"truncated_bytes\":20"));
}

static void test_config_errors(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	char msg[2048];
	cfg_init(&c, t);
	c.log_id = "has space";
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	assert_non_null(strstr(msg, "log_id"));
	cfg_init(&c, t);
	c.checkpoint_key = NULL;
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	assert_non_null(strstr(msg, "checkpoint_key is required"));
	cfg_init(&c, t);
	c.checkpoint_key = "/nonexistent.pem";
	open_fails(&c, msg, sizeof(msg));
	assert_non_null(strstr(msg, "/nonexistent.pem"));
	cfg_init(&c, t);
	char notkey[400];
	snprintf(notkey, sizeof(notkey), "%s/notkey.pem", t->path);
	spit(notkey, "hello\n", 6);
	c.checkpoint_key = notkey;
	open_fails(&c, msg, sizeof(msg));
	assert_non_null(strstr(msg, "not a PEM Ed25519 private key"));
	cfg_init(&c, t);
	c.hmac_key = notkey; /* too short */
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	assert_non_null(strstr(msg, "shorter than 16 bytes"));
	cfg_init(&c, t);
	c.checkpoint_every = 0;
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	cfg_init(&c, t);
	c.segment_max_bytes = 100;
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	cfg_init(&c, t);
	c.dir = "/proc/cannot/create/here";
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_IO);
	assert_non_null(strstr(msg, "cannot create"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_clean_restart),
		T(test_torn_tail_cut),
		T(test_crash_without_stop),
		T(test_cut_everywhere),
		T(test_corruption_refused),
		T(test_new_chain),
		T(test_new_chain_on_healthy_log),
		T(test_log_id_mismatch),
		T(test_lock),
		T(test_empty_segment_after_rotation),
		T(test_torn_genesis),
		T(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
