/*
 * test_audit_writer.c -- the writer thread: records come back done in
 * submission order with their seq, from several threads at once; group
 * commit in `always` mode; rotation by size with sealed, never rewritten
 * segments; checkpoints every N records, every T ms, at rotation and at
 * stop; the checkpoint text for the endpoint and the witness copy; submit
 * refusing bad records; the fsync modes.
 */
#include "audit_test_util.h"

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

/* All lines of the log, in order, as parsed records over one buffer. */
struct lines {
	char *buf;
	size_t n;
	pdp_audit_rec *rec;
	uint64_t *seg;   /* first seq of the segment holding each line */
	bool *last_in_seg;
};

static void lines_load(const struct tdir *t, struct lines *L)
{
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	pdp_buf all;
	pdp_buf_init(&all, 0);
	size_t cap = 0;
	memset(L, 0, sizeof(*L));
	size_t *starts = NULL;
	for (size_t i = 0; i < segs.n; i++) {
		char path[400];
		size_t n;
		seg_path(t, segs.first[i], path, sizeof(path));
		char *p = slurp(path, &n);
		for (size_t off = 0; off < n;) {
			const char *nl = memchr(p + off, '\n', n - off);
			assert_non_null(nl);
			if (L->n == cap) {
				cap = cap ? 2 * cap : 64;
				starts = pdp_xrealloc(starts, cap * sizeof(*starts));
				L->seg = pdp_xrealloc(L->seg, cap * sizeof(*L->seg));
				L->last_in_seg = pdp_xrealloc(L->last_in_seg, cap * sizeof(*L->last_in_seg));
			}
			starts[L->n] = all.len;
			L->seg[L->n] = segs.first[i];
			L->last_in_seg[L->n] = (size_t)(nl - p) + 1 == n;
			assert_int_equal(pdp_buf_add(&all, p + off, (size_t)(nl - p) - off + 1), PDP_OK);
			off = (size_t)(nl - p) + 1;
			L->n++;
		}
		free(p);
	}
	L->buf = pdp_buf_steal(&all, NULL);
	L->rec = calloc(L->n ? L->n : 1, sizeof(*L->rec));
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	for (size_t i = 0; i < L->n; i++) {
		const char *l = L->buf + starts[i], *why;
		const char *nl = strchr(l, '\n');
		assert_int_equal(pdp_audit_line_parse(&h, l, (size_t)(nl - l), &L->rec[i], &why), PDP_OK);
		assert_int_equal(L->rec[i].seq, i);
	}
	pdp_audit_hasher_done(&h);
	free(starts);
	pdp_audit_segs_done(&segs);
}

static void lines_done(struct lines *L)
{
	free(L->buf);
	free(L->rec);
	free(L->seg);
	free(L->last_in_seg);
}

static bool is_type(const pdp_audit_rec *r, const char *t)
{
	return pdp_str_eq_c(r->type, t);
}

static void test_order_and_seq(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	pdp_audit *a = open_ok(&c);
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(a, waiter_notify, &w);
	enum { N = 40 };
	struct result rs[N];
	memset(rs, 0, sizeof(rs));
	for (int i = 0; i < N; i++) {
		char json[100];
		snprintf(json, sizeof(json), "{\"decision_id\":\"o-%d\"}", i);
		assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[i]), PDP_OK);
	}
	pdp_audit_queue_free(q);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	close_ok(a);
	waiter_done(&w);
	for (int i = 1; i < N; i++) {
		assert_true(rs[i].done);
		assert_int_equal(rs[i].err, PDP_OK);
		assert_true(rs[i].seq > rs[i - 1].seq); /* queue order */
	}
	/* group commit: fewer fsyncs than records */
	assert_true(st.fsyncs < (uint64_t)N);
	struct lines L;
	lines_load(t, &L);
	for (int i = 0; i < N; i++) {
		char want[40];
		snprintf(want, sizeof(want), "\"decision_id\":\"o-%d\"", i);
		pdp_audit_rec *r = &L.rec[rs[i].seq];
		assert_true(is_type(r, "decision"));
		assert_true(memmem(r->members.p, r->members.len, want, strlen(want)) != NULL);
	}
	lines_done(&L);
	expect_verifies(t);
}

struct thread_arg {
	pdp_audit *a;
	int id, n;
	struct result *rs;
};

static void *producer(void *arg)
{
	struct thread_arg *ta = arg;
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(ta->a, waiter_notify, &w);
	bool by_owner = ta->id % 2; /* half write on their own thread, as the server's workers */
	if (by_owner)
		pdp_audit_queue_flush_by_owner(q);
	for (int i = 0; i < ta->n; i++) {
		char json[100];
		snprintf(json, sizeof(json), "{\"decision_id\":\"th%d-%d\"}", ta->id, i);
		enum pdp_err e;
		while ((e = pdp_audit_submit(q, "decision", json, strlen(json), result_done, &ta->rs[i])) == PDP_E_BUSY) {
			if (by_owner)
				pdp_audit_flush(q);
			waiter_wait(&w);
			pdp_audit_queue_drain(q);
		}
		if (e != PDP_OK)
			abort();
		if (by_owner && i % 8 == 7)
			pdp_audit_flush(q);
		if (i % 16 == 15)
			pdp_audit_queue_drain(q);
	}
	pdp_audit_queue_free(q);
	waiter_done(&w);
	return NULL;
}

static void test_many_threads(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c.queue_max_records = 64;
	c.segment_max_bytes = 16384;
	c.checkpoint_every = 50;
	pdp_audit *a = open_ok(&c);
	enum { T = 4, N = 300 };
	pthread_t th[T];
	struct thread_arg ta[T];
	for (int i = 0; i < T; i++) {
		ta[i] = (struct thread_arg){ a, i, N, calloc(N, sizeof(struct result)) };
		pthread_create(&th[i], NULL, producer, &ta[i]);
	}
	for (int i = 0; i < T; i++)
		pthread_join(th[i], NULL);
	close_ok(a);
	expect_verifies(t);
	struct lines L;
	lines_load(t, &L);
	bool *seen = calloc(L.n, 1);
	for (int i = 0; i < T; i++) {
		for (int j = 0; j < N; j++) {
			struct result *r = &ta[i].rs[j];
			assert_true(r->done);
			assert_int_equal(r->err, PDP_OK);
			assert_true(r->seq < L.n);
			assert_false(seen[r->seq]);
			seen[r->seq] = true;
			char want[40];
			snprintf(want, sizeof(want), "\"decision_id\":\"th%d-%d\"", i, j);
			pdp_audit_rec *rec = &L.rec[r->seq];
			assert_true(memmem(rec->members.p, rec->members.len, want, strlen(want)) != NULL);
			if (j)
				assert_true(r->seq > ta[i].rs[j - 1].seq);
		}
		free(ta[i].rs);
	}
	free(seen);
	lines_done(&L);
}

static void test_rotation_and_checkpoints(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.segment_max_bytes = 4096;
	c.checkpoint_every = 7;
	pdp_audit *a = open_ok(&c);
	write_records(a, 60, "a");
	close_ok(a);
	/* the sealed segments, as they are now */
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs before;
	assert_int_equal(pdp_audit_segs_list(dfd, &before, NULL), PDP_OK);
	assert_true(before.n >= 3);
	char *content[64];
	size_t sizes[64];
	for (size_t i = 0; i < before.n && i < 64; i++) {
		char path[400];
		seg_path(t, before.first[i], path, sizeof(path));
		content[i] = slurp(path, &sizes[i]);
	}
	/* a second run appends; old segments never change */
	a = open_ok(&c);
	write_records(a, 60, "b");
	close_ok(a);
	for (size_t i = 0; i + 1 < before.n && i < 64; i++) {
		char path[400];
		size_t n;
		seg_path(t, before.first[i], path, sizeof(path));
		char *now = slurp(path, &n);
		assert_int_equal(n, sizes[i]);
		assert_memory_equal(now, content[i], n);
		assert_true(n >= c.segment_max_bytes);
		free(now);
	}
	for (size_t i = 0; i < before.n && i < 64; i++)
		free(content[i]);
	pdp_audit_segs_done(&before);
	close(dfd);
	expect_verifies(t);
	/* every segment but the last ends with its seal; checkpoints come
	 * exactly every 7 counted records in steady state */
	struct lines L;
	lines_load(t, &L);
	size_t counted = 0;
	for (size_t i = 0; i < L.n; i++) {
		pdp_audit_rec *r = &L.rec[i];
		if (L.last_in_seg[i] && i + 1 < L.n)
			assert_true(is_type(r, "checkpoint"));
		if (is_type(r, "checkpoint")) {
			bool after_start = i > 0 && is_type(&L.rec[i - 1], "start");
			bool after_stop = i > 0 && is_type(&L.rec[i - 1], "stop");
			bool seal = L.last_in_seg[i];
			if (!after_start && !after_stop && !seal && counted != 7)
				fail_msg("checkpoint at seq %zu after %zu counted records", i, counted);
			counted = 0;
		} else if (is_type(r, "decision") || is_type(r, "stop")) {
			counted++;
			assert_true(counted <= 7);
		}
	}
	lines_done(&L);
}

static void test_timed_checkpoint(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.checkpoint_every = 1000;
	c.checkpoint_every_ms = 50;
	pdp_audit *a = open_ok(&c);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	uint64_t cp_before = st.checkpoint_size;
	write_records(a, 3, "t");
	/* no more records: the period alone makes the next checkpoint */
	for (int i = 0; i < 200; i++) {
		pdp_audit_stats_get(a, &st);
		if (st.checkpoint_size > cp_before)
			break;
		usleep(10000);
	}
	assert_int_equal(st.checkpoint_size, cp_before + 1 + 3); /* + the opening checkpoint record */
	assert_int_equal(st.next_seq, st.checkpoint_size + 1);
	/* and nothing more while idle */
	usleep(200000);
	pdp_audit_stats st2;
	pdp_audit_stats_get(a, &st2);
	assert_int_equal(st2.next_seq, st.next_seq);
	close_ok(a);
	expect_verifies(t);
}

static void test_checkpoint_text_and_witness(void **state)
{
	struct tdir *t = *state;
	char witness[400];
	snprintf(witness, sizeof(witness), "%s/witness", t->path);
	assert_int_equal(mkdir(witness, 0700), 0);
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c.checkpoint_every = 10;
	c.witness_dir = witness;
	pdp_audit *a = open_ok(&c);
	write_records(a, 25, "w");
	pdp_buf cp;
	pdp_buf_init(&cp, 0);
	assert_int_equal(pdp_audit_checkpoint(a, &cp), PDP_OK);
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	pdp_audit_note note;
	const char *why;
	assert_true(pdp_audit_note_parse(cp.data, cp.len, &note, &why));
	assert_int_equal(note.size, st.checkpoint_size);
	assert_true(note.size >= 20);
	assert_int_equal(pdp_audit_note_verify(&note, PDP_STR("meshpdp.test/audit"), t->pub), 1);
	char wpath[500];
	snprintf(wpath, sizeof(wpath), "%s/checkpoint", witness);
	size_t n;
	char *w = slurp(wpath, &n);
	assert_int_equal(n, cp.len);
	assert_memory_equal(w, cp.data, n);
	free(w);
	close_ok(a);
	/* after stop the witness holds the final checkpoint, and it verifies */
	w = slurp(wpath, &n);
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(t, true, w, &r), PDP_OK);
	assert_int_equal(r.signed_size + 1, r.records);
	pdp_audit_verify_result_done(&r);
	assert_true(pdp_audit_note_parse(w, n, &note, &why));
	assert_true(note.size > st.checkpoint_size);
	free(w);
	pdp_buf_done(&cp);
}

static void test_submit_refuses(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.record_max_bytes = 1024;
	pdp_audit *a = open_ok(&c);
	pdp_audit_queue *q = pdp_audit_queue_new(a, NULL, NULL);
	struct result r = { false, 0, PDP_OK };
	static const char *const types[] = { "genesis", "start", "stop", "recovery", "checkpoint", "Decision",
					     "", "9x", "a-b", "a_very_long_type_name_beyond_thirty_two" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		assert_int_equal(pdp_audit_submit(q, types[i], "{}", 2, result_done, &r), PDP_E_INVALID);
	assert_int_equal(pdp_audit_submit(q, "decision", "{\"a\":", 5, result_done, &r), PDP_E_PARSE);
	assert_int_equal(pdp_audit_submit(q, "decision", "[1]", 3, result_done, &r), PDP_E_INVALID);
	assert_int_equal(pdp_audit_submit(q, "decision", "{\"a\":1.5}", 9, result_done, &r), PDP_E_INVALID);
	assert_int_equal(pdp_audit_submit(q, "decision", "{\"seq\":1}", 9, result_done, &r), PDP_E_INVALID);
	assert_int_equal(pdp_audit_submit(q, "decision", "{\"a\":1,\"a\":2}", 13, result_done, &r), PDP_E_PARSE);
	char big[2048];
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + sizeof(big) - 2, "\"}", 2);
	assert_int_equal(pdp_audit_submit(q, "decision", big, sizeof(big), result_done, &r), PDP_E_LIMIT);
	assert_false(r.done);
	/* a non-canonical but valid object is canonicalised */
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q2 = pdp_audit_queue_new(a, waiter_notify, &w);
	struct result ok = submit_wait(q2, &w, "reload", " {\"ok\" : true, \"error\":null } ");
	assert_int_equal(ok.err, PDP_OK);
	pdp_audit_queue_free(q2);
	waiter_done(&w);
	pdp_audit_queue_free(q);
	close_ok(a);
	struct lines L;
	lines_load(t, &L);
	assert_true(pdp_str_eq_c(L.rec[ok.seq].members, "\"error\":null,\"ok\":true"));
	lines_done(&L);
}

static void test_fsync_modes(void **state)
{
	struct tdir *t = *state;
	static const enum pdp_audit_fsync modes[] = { PDP_AUDIT_FSYNC_ALWAYS, PDP_AUDIT_FSYNC_INTERVAL,
						      PDP_AUDIT_FSYNC_NONE };
	for (size_t m = 0; m < 3; m++) {
		rm_rf(t->log);
		pdp_audit_config c;
		cfg_init(&c, t);
		c.fsync = modes[m];
		c.fsync_interval_ms = 20;
		c.checkpoint_every = 100000;
		c.checkpoint_every_ms = 86400000;
		pdp_audit *a = open_ok(&c);
		pdp_audit_stats s0, s1;
		pdp_audit_stats_get(a, &s0);
		for (int i = 0; i < 5; i++) {
			write_records(a, 4, "f");
			usleep(30000);
		}
		pdp_audit_stats_get(a, &s1);
		uint64_t fsyncs = s1.fsyncs - s0.fsyncs;
		if (modes[m] == PDP_AUDIT_FSYNC_ALWAYS)
			assert_true(fsyncs >= 5); /* each wait was a batch of its own */
		else if (modes[m] == PDP_AUDIT_FSYNC_INTERVAL)
			assert_true(fsyncs >= 1 && fsyncs <= 6);
		else
			assert_int_equal(fsyncs, 0);
		assert_true(s1.writable);
		close_ok(a);
		expect_verifies(t);
	}
	assert_string_equal(pdp_audit_fsync_name(PDP_AUDIT_FSYNC_INTERVAL), "interval");
	enum pdp_audit_fsync f;
	assert_true(pdp_audit_fsync_parse("none", &f));
	assert_int_equal(f, PDP_AUDIT_FSYNC_NONE);
	assert_false(pdp_audit_fsync_parse("sometimes", &f));
}

static void test_start_fields(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.start_fields = "{\"config\":\"/etc/pdp.yaml\",\"pid\":1}"; /* ours win on a clash */
	close_ok(open_ok(&c));
	struct lines L;
	lines_load(t, &L);
	assert_true(is_type(&L.rec[1], "start"));
	assert_true(memmem(L.rec[1].members.p, L.rec[1].members.len, "\"config\":\"/etc/pdp.yaml\"", 24) != NULL);
	assert_null(memmem(L.rec[1].members.p, L.rec[1].members.len, "\"pid\":1,", 8));
	lines_done(&L);
	rm_rf(t->log);
	c.start_fields = "[1]";
	char msg[2048];
	assert_int_equal(open_fails(&c, msg, sizeof(msg)), PDP_E_INVALID);
	assert_non_null(strstr(msg, "start_fields"));
}

struct counter {
	atomic_int n;
};

static void count_notify(void *arg)
{
	struct counter *c = arg;
	atomic_fetch_add(&c->n, 1);
}

/* Waits (bounded) until *n reaches want; returns the value seen. */
static int wait_count(atomic_int *n, int want)
{
	for (int i = 0; i < 5000 && atomic_load(n) < want; i++)
		usleep(1000);
	return atomic_load(n);
}

static void drain_until(pdp_audit_queue *q, struct result *rs, int n)
{
	for (int i = 0; i < 5000; i++) {
		pdp_audit_queue_drain(q);
		bool all = true;
		for (int k = 0; k < n; k++)
			all = all && rs[k].done;
		if (all)
			return;
		usleep(1000);
	}
	fail_msg("completions did not arrive");
}

/* One wake-up until the worker drains: completions posted while the queue
 * is already notified add no notify; the first one after a drain does. */
static void test_notify_coalesced(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	pdp_audit *a = open_ok(&c);
	struct counter cnt;
	atomic_init(&cnt.n, 0);
	pdp_audit_queue *q = pdp_audit_queue_new(a, count_notify, &cnt);
	struct result rs[3];
	memset(rs, 0, sizeof(rs));
	static const char json[] = "{\"decision_id\":\"n\"}";
	assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[0]), PDP_OK);
	assert_int_equal(wait_count(&cnt.n, 1), 1);
	pdp_audit_stats st0, st;
	pdp_audit_stats_get(a, &st0);
	assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[1]), PDP_OK);
	for (int i = 0; i < 5000; i++) { /* written: its completion follows at once */
		pdp_audit_stats_get(a, &st);
		if (st.records > st0.records)
			break;
		usleep(1000);
	}
	usleep(20000);
	assert_int_equal(atomic_load(&cnt.n), 1); /* not drained yet: no second wake */
	drain_until(q, rs, 2);
	assert_int_equal(rs[0].err, PDP_OK);
	assert_int_equal(rs[1].err, PDP_OK);
	assert_true(rs[1].seq == rs[0].seq + 1);
	assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[2]), PDP_OK);
	assert_int_equal(wait_count(&cnt.n, 2), 2); /* drained: woken again */
	pdp_audit_queue_free(q);
	assert_true(rs[2].done);
	assert_int_equal(atomic_load(&cnt.n), 2);
	close_ok(a);
	expect_verifies(t);
}

/* A queue written by its owner: pdp_audit_flush writes the records on the
 * calling thread (the completion is there when it returns, unless the
 * writer thread happened to be writing), and records the owner never
 * flushed are still written when the queue is freed. */
static void test_flush_by_owner(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	c.fsync = PDP_AUDIT_FSYNC_ALWAYS;
	pdp_audit *a = open_ok(&c);
	struct counter cnt;
	atomic_init(&cnt.n, 0);
	pdp_audit_queue *q = pdp_audit_queue_new(a, count_notify, &cnt);
	pdp_audit_queue_flush_by_owner(q);
	static const char json[] = "{\"decision_id\":\"o\"}";
	enum { N = 20 };
	struct result rs[N + 1];
	memset(rs, 0, sizeof(rs));
	int at_once = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[i]), PDP_OK);
		pdp_audit_flush(q);
		pdp_audit_queue_drain(q);
		at_once += rs[i].done;
		drain_until(q, rs, i + 1);
		assert_int_equal(rs[i].err, PDP_OK);
		if (i)
			assert_true(rs[i].seq == rs[i - 1].seq + 1);
	}
	assert_true(at_once > N / 2); /* written here, not by the writer thread */
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	assert_true(st.fsyncs >= (uint64_t)at_once); /* `always`: each one synced */
	assert_int_equal(pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[N]), PDP_OK);
	pdp_audit_queue_free(q); /* never flushed: the writer thread takes it */
	assert_true(rs[N].done);
	assert_int_equal(rs[N].err, PDP_OK);
	assert_true(rs[N].seq == rs[N - 1].seq + 1);
	close_ok(a);
	expect_verifies(t);
}

/* Ids from a queue's randomness: UUIDv7 shape, distinct across refills
 * and across queues. */
static void test_queue_decision_ids(void **state)
{
	struct tdir *t = *state;
	pdp_audit_config c;
	cfg_init(&c, t);
	pdp_audit *a = open_ok(&c);
	pdp_audit_queue *q1 = pdp_audit_queue_new(a, NULL, NULL);
	pdp_audit_queue *q2 = pdp_audit_queue_new(a, NULL, NULL);
	enum { N = 1100 }; /* > 4 refills of 256 ids */
	char (*ids)[37] = calloc(2 * N, sizeof(*ids));
	for (int i = 0; i < 2 * N; i++) {
		pdp_audit_queue_decision_id(i % 2 ? q2 : q1, ids[i]);
		const char *s = ids[i];
		assert_int_equal(strlen(s), 36);
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				assert_int_equal(s[k], '-');
			else
				assert_non_null(strchr("0123456789abcdef", s[k]));
		}
		assert_int_equal(s[14], '7');
		assert_non_null(strchr("89ab", s[19]));
	}
	/* distinct in their random bits (the first 48 bits are the time) */
	for (int i = 0; i < 2 * N; i++)
		for (int k = i + 1; k < 2 * N; k++)
			assert_true(strcmp(ids[i] + 14, ids[k] + 14) != 0);
	free(ids);
	pdp_audit_queue_free(q1);
	pdp_audit_queue_free(q2);
	close_ok(a);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order_and_seq),
		T(test_many_threads),
		T(test_rotation_and_checkpoints),
		T(test_timed_checkpoint),
		T(test_checkpoint_text_and_witness),
		T(test_submit_refuses),
		T(test_fsync_modes),
		T(test_start_fields),
		T(test_notify_coalesced),
		T(test_queue_decision_ids),
		T(test_flush_by_owner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
