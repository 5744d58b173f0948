/*
 * test_audit_chain.c -- logs written by the real writer verify, and every
 * kind of tampering is caught and named: a changed field (with and without
 * its own hash recomputed), a deleted, inserted, duplicated or swapped
 * record, a torn write in the middle or at the end, a deleted segment, a
 * forged checkpoint, a truncated tail (caught with an external checkpoint),
 * a whole log rewritten and re-signed with another key (caught by the
 * trusted key), checkpoints stripped from a rewritten log, and a rewrite
 * caught by an external checkpoint even without a trusted key.
 */
#include "audit_test_util.h"

#define N_RECORDS 60

struct fixture {
	struct tdir t;
	char checkpoint[PDP_AUDIT_NOTE_MAX]; /* the final checkpoint, as served */
};

/* A log of 60 decisions in several segments, checkpoint every 10. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	tdir_make(&f->t);
	pdp_audit_config c;
	cfg_init(&c, &f->t);
	c.segment_max_bytes = 6000;
	c.checkpoint_every = 10;
	pdp_audit *a = open_ok(&c);
	write_records(a, N_RECORDS, "t");
	pdp_buf cp;
	pdp_buf_init(&cp, 0);
	assert_int_equal(pdp_audit_checkpoint(a, &cp), PDP_OK);
	close_ok(a);
	snprintf(f->checkpoint, sizeof(f->checkpoint), "%.*s", (int)cp.len, cp.data);
	pdp_buf_done(&cp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tdir_done(&f->t);
	free(f);
	return 0;
}

/* Replaces line `no` of the segment starting at `first` with `text`
 * (NULL: delete it; text with a trailing "\n" inserts before it). */
static void edit_line(const struct tdir *t, uint64_t first, size_t no, const char *text, bool insert)
{
	char path[400];
	size_t n, off = 0, len = 0;
	seg_path(t, first, path, sizeof(path));
	char *p = slurp(path, &n);
	assert_true(line_at(p, n, no, &off, &len));
	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_buf_add(&b, p, off), PDP_OK);
	if (text)
		assert_int_equal(pdp_buf_adds(&b, text), PDP_OK);
	size_t rest = insert ? off : off + len + 1;
	assert_int_equal(pdp_buf_add(&b, p + rest, n - rest), PDP_OK);
	spit(path, b.data, b.len);
	pdp_buf_done(&b);
	free(p);
}

static char *get_line(const struct tdir *t, uint64_t first, size_t no)
{
	char path[400];
	size_t n, off = 0, len = 0;
	seg_path(t, first, path, sizeof(path));
	char *p = slurp(path, &n);
	assert_true(line_at(p, n, no, &off, &len));
	char *l = pdp_xstrndup(p + off, len);
	free(p);
	return l;
}

/* seq of a record line */
static uint64_t seq_of(const char *line)
{
	return strtoull(strstr(line, "\"seq\":") + 6, NULL, 10);
}

static void test_clean_log_verifies(void **state)
{
	struct fixture *f = *state;
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(&f->t, true, f->checkpoint, &r), PDP_OK);
	assert_true(r.segments > 2);
	assert_true(r.checkpoints >= N_RECORDS / 10);
	assert_true(r.clean_stop);
	assert_true(r.keys_trusted);
	assert_int_equal(r.signed_size + 1, r.records); /* ends with stop, checkpoint */
	assert_string_equal(r.log_id.data, "meshpdp.test/audit");
	pdp_audit_verify_result_done(&r);
	/* the wrong trusted key fails at the first checkpoint */
	pdp_audit_verify_opts o = { (const uint8_t(*)[32])f->t.pub2, 1, NULL, 0 };
	pdp_audit_verify_result_init(&r);
	assert_int_equal(pdp_audit_verify_dir(f->t.log, &o, &r), PDP_E_CORRUPT);
	assert_int_equal(r.seq, 2);
	assert_non_null(strstr(r.why.data, "not signed by a trusted key"));
	pdp_audit_verify_result_done(&r);
}

static void test_changed_field(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-17\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	uint64_t seq = seq_of(l);
	char *d = strstr(l, "\"u-17\"");
	assert_non_null(d);
	memcpy(d + 1, "u-71", 4); /* another subject, same length, still canonical */
	char *nl = pdp_xmalloc(strlen(l) + 2);
	snprintf(nl, strlen(l) + 2, "%s\n", l);
	edit_line(&f->t, first, no, nl, false);
	expect_bad(&f->t, true, NULL, (long)seq, "hash does not match");
	free(nl);
	free(l);
}

/* The attacker also recomputes the changed record's own hash: the next
 * record's prev no longer matches. */
static void test_changed_field_rehashed(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-23\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_audit_rec r;
	const char *why;
	assert_int_equal(pdp_audit_line_parse(&h, l, strlen(l), &r, &why), PDP_OK);
	char ts[PDP_AUDIT_TS_LEN + 1];
	memcpy(ts, r.ts, PDP_AUDIT_TS_LEN);
	ts[PDP_AUDIT_TS_LEN] = '\0';
	char *m = pdp_xstrndup(r.members.p, r.members.len);
	char *u = strstr(m, "\"u-23\"");
	assert_non_null(u);
	u[3] = '9'; /* another subject */
	pdp_buf b;
	pdp_buf_init(&b, 0);
	uint8_t hash[32];
	assert_int_equal(pdp_audit_line_build(&h, &b, r.seq, ts, "decision", r.prev, pdp_str_c(m), hash), PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, '\0'), PDP_OK);
	edit_line(&f->t, first, no, b.data, false);
	expect_bad(&f->t, true, NULL, (long)r.seq + 1, "prev is not the hash");
	pdp_buf_done(&b);
	pdp_audit_hasher_done(&h);
	free(m);
	free(l);
}

static void test_deleted_record(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-31\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	uint64_t seq = seq_of(l);
	edit_line(&f->t, first, no, NULL, false);
	expect_bad(&f->t, true, NULL, (long)seq, "deleted, inserted or reordered");
	free(l);
}

static void test_inserted_record(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	/* a forged record with a correct seq, prev and hash, inserted after the
	 * first checkpoint (so no checkpoint rule trips before the seq check) */
	assert_true(find_line(&f->t, "\"type\":\"checkpoint\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_audit_rec r;
	const char *why;
	assert_int_equal(pdp_audit_line_parse(&h, l, strlen(l), &r, &why), PDP_OK);
	pdp_buf b;
	pdp_buf_init(&b, 0);
	uint8_t hash[32];
	assert_int_equal(pdp_audit_line_build(&h, &b, r.seq + 1, "2025-01-01T00:00:00.000000Z", "decision", r.hash,
					      PDP_STR("\"decision\":\"allow\",\"decision_id\":\"forged\""), hash),
			 PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, '\0'), PDP_OK);
	edit_line(&f->t, first, no + 1, b.data, true);
	/* the forged record chains; the original that follows it does not */
	expect_bad(&f->t, true, NULL, (long)r.seq + 2, "found seq");
	pdp_buf_done(&b);
	pdp_audit_hasher_done(&h);
	free(l);
}

static void test_duplicated_record(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-5\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	char *nl = pdp_xmalloc(strlen(l) + 2);
	snprintf(nl, strlen(l) + 2, "%s\n", l);
	edit_line(&f->t, first, no, nl, true);
	expect_bad(&f->t, true, NULL, (long)seq_of(l) + 1, "deleted, inserted or reordered");
	free(nl);
	free(l);
}

static void test_swapped_records(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-12\"", &first, &no));
	char *a = get_line(&f->t, first, no), *b = get_line(&f->t, first, no + 1);
	char *ab = pdp_xmalloc(strlen(a) + strlen(b) + 3);
	snprintf(ab, strlen(a) + strlen(b) + 3, "%s\n%s\n", b, a);
	edit_line(&f->t, first, no + 1, NULL, false);
	edit_line(&f->t, first, no, ab, false);
	expect_bad(&f->t, true, NULL, (long)seq_of(a), "deleted, inserted or reordered");
	free(ab);
	free(a);
	free(b);
}

static uint64_t last_segment(const struct tdir *t)
{
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	uint64_t last = segs.first[segs.n - 1];
	pdp_audit_segs_done(&segs);
	return last;
}

static void test_torn_last_line(void **state)
{
	struct fixture *f = *state;
	char path[400];
	size_t n;
	seg_path(&f->t, last_segment(&f->t), path, sizeof(path));
	char *p = slurp(path, &n);
	assert_int_equal(truncate(path, (off_t)n - 30), 0);
	expect_bad(&f->t, true, NULL, -1, "torn last line");
	free(p);
}

static void test_torn_in_the_middle(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	assert_true(find_line(&f->t, "\"decision_id\":\"t-8\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	l[strlen(l) / 2] = '\0'; /* half a record, then the rest of the log */
	char *nl = pdp_xmalloc(strlen(l) + 2);
	snprintf(nl, strlen(l) + 2, "%s\n", l);
	edit_line(&f->t, first, no, nl, false);
	expect_bad(&f->t, true, NULL, (long)seq_of(l), "");
	free(nl);
	free(l);
}

static void test_deleted_segment(void **state)
{
	struct fixture *f = *state;
	int dfd = open(f->t.log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	assert_true(segs.n >= 3);
	char path[400];
	seg_path(&f->t, segs.first[1], path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	expect_bad(&f->t, true, NULL, (long)segs.first[1], "a segment is missing");
	pdp_audit_segs_done(&segs);
}

static void test_forged_checkpoint(void **state)
{
	struct fixture *f = *state;
	uint64_t first;
	size_t no;
	/* change the signature bytes of a checkpoint note and rehash the record:
	 * the chain holds, the signature does not */
	assert_true(find_line(&f->t, "\"type\":\"checkpoint\"", &first, &no));
	char *l = get_line(&f->t, first, no);
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_audit_rec r;
	const char *why;
	assert_int_equal(pdp_audit_line_parse(&h, l, strlen(l), &r, &why), PDP_OK);
	char *m = pdp_xstrndup(r.members.p, r.members.len);
	char *sig = strstr(m, "\xe2\x80\x94 meshpdp.test/audit ");
	assert_non_null(sig);
	sig += strlen("\xe2\x80\x94 meshpdp.test/audit ") + 10;
	*sig = *sig == 'A' ? 'B' : 'A';
	char ts[PDP_AUDIT_TS_LEN + 1];
	memcpy(ts, r.ts, PDP_AUDIT_TS_LEN);
	ts[PDP_AUDIT_TS_LEN] = '\0';
	pdp_buf b;
	pdp_buf_init(&b, 0);
	uint8_t hash[32];
	assert_int_equal(pdp_audit_line_build(&h, &b, r.seq, ts, "checkpoint", r.prev, pdp_str_c(m), hash), PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, '\0'), PDP_OK);
	edit_line(&f->t, first, no, b.data, false);
	/* with or without the trusted key: the signature check runs first */
	expect_bad(&f->t, true, NULL, (long)r.seq, "signature");
	expect_bad(&f->t, false, NULL, (long)r.seq, "signature");
	pdp_buf_done(&b);
	pdp_audit_hasher_done(&h);
	free(m);
	free(l);
}

static void test_truncated_tail(void **state)
{
	struct fixture *f = *state;
	/* remove the last 25 records, whole lines, segments included */
	int dfd = open(f->t.log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(&f->t, true, NULL, &r), PDP_OK);
	uint64_t keep = r.records - 25;
	pdp_audit_verify_result_done(&r);
	for (size_t i = 0; i < segs.n; i++) {
		char path[400];
		seg_path(&f->t, segs.first[i], path, sizeof(path));
		if (segs.first[i] >= keep) {
			unlink(path);
			continue;
		}
		size_t n, off = 0, len = 0;
		char *p = slurp(path, &n);
		if (line_at(p, n, keep - segs.first[i], &off, &len))
			assert_int_equal(truncate(path, (off_t)off), 0);
		free(p);
	}
	pdp_audit_segs_done(&segs);
	/* the log alone still verifies: a cut at a record boundary is invisible */
	assert_int_equal(verify_log(&f->t, true, NULL, &r), PDP_OK);
	assert_int_equal(r.records, keep);
	pdp_audit_verify_result_done(&r);
	/* the checkpoint held elsewhere shows it */
	expect_bad(&f->t, true, f->checkpoint, -1, "log truncated");
	expect_bad(&f->t, false, f->checkpoint, -1, "log truncated");
}

/* ---- rewriting the whole log ------------------------------------------------ */

struct rewrite {
	pdp_audit_key key;        /* the attacker's key */
	bool strip_checkpoints;   /* drop every checkpoint after the first */
	const char *edit_from, *edit_to;
};

static void rewrite_log(const struct tdir *t, const struct rewrite *rw)
{
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_audit_mth mth;
	pdp_audit_mth_init(&mth);
	pdp_buf out, m, vkey, note;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&m, 0);
	pdp_buf_init(&vkey, 0);
	pdp_buf_init(&note, 0);
	assert_int_equal(pdp_audit_vkey("meshpdp.test/audit", rw->key.pub, &vkey), PDP_OK);
	uint8_t head[32] = { 0 };
	uint64_t seq = 0, cps = 0;
	for (size_t i = 0; i < segs.n; i++) {
		char path[400];
		size_t n, off = 0, len = 0;
		seg_path(t, segs.first[i], path, sizeof(path));
		char *p = slurp(path, &n);
		for (size_t no = 0; line_at(p, n, no, &off, &len) && off < n; no++) {
			pdp_audit_rec r;
			const char *why;
			assert_int_equal(pdp_audit_line_parse(&h, p + off, len, &r, &why), PDP_OK);
			char type[40], ts[PDP_AUDIT_TS_LEN + 1];
			snprintf(type, sizeof(type), "%.*s", (int)r.type.len, r.type.p);
			snprintf(ts, sizeof(ts), "%.*s", PDP_AUDIT_TS_LEN, r.ts);
			pdp_buf_reset(&m);
			if (!strcmp(type, "checkpoint")) {
				if (rw->strip_checkpoints && cps++ > 0)
					continue;
				uint8_t root[32];
				pdp_audit_mth_root(&h, &mth, root);
				pdp_buf_reset(&note);
				assert_int_equal(pdp_audit_note_sign(&rw->key, "meshpdp.test/audit", seq, root, &note), PDP_OK);
				assert_int_equal(pdp_buf_adds(&m, "\"note\":"), PDP_OK);
				assert_int_equal(pdp_audit_add_str(&m, note.data, note.len), PDP_OK);
				assert_int_equal(pdp_buf_adds(&m, ",\"range\":"), PDP_OK);
				assert_int_equal(pdp_audit_mth_json(&mth, &m), PDP_OK);
			} else {
				assert_int_equal(pdp_buf_addstr(&m, r.members), PDP_OK);
				char *k = strstr(m.data, "\"key\":\"meshpdp.test/audit+");
				if (!strcmp(type, "start") && k)
					memcpy(k + 7, vkey.data, vkey.len); /* same length */
				char *e = rw->edit_from ? strstr(m.data, rw->edit_from) : NULL;
				if (e && !strcmp(type, "decision"))
					memcpy(e, rw->edit_to, strlen(rw->edit_to));
			}
			uint8_t hash[32];
			assert_int_equal(pdp_audit_line_build(&h, &out, seq, ts, type, head,
							      (pdp_str){ m.data, m.len }, hash),
					 PDP_OK);
			memcpy(head, hash, 32);
			pdp_audit_mth_append(&h, &mth, hash);
			seq++;
		}
		free(p);
		unlink(path);
	}
	char path[400];
	seg_path(t, 0, path, sizeof(path));
	spit(path, out.data, out.len);
	pdp_buf_done(&out);
	pdp_buf_done(&m);
	pdp_buf_done(&vkey);
	pdp_buf_done(&note);
	pdp_audit_hasher_done(&h);
	pdp_audit_segs_done(&segs);
}

static void test_rewritten_log(void **state)
{
	struct fixture *f = *state;
	struct rewrite rw = { { NULL, { 0 } }, false, "\"decision\":\"deny\"", "\"decision\":\"allo\"" };
	pdp_buf err;
	pdp_buf_init(&err, 0);
	assert_int_equal(pdp_audit_key_load(f->t.key2, &rw.key, &err), PDP_OK);
	rewrite_log(&f->t, &rw);
	pdp_audit_key_done(&rw.key);
	pdp_buf_done(&err);
	/* caught by the trusted key at the first checkpoint */
	expect_bad(&f->t, true, NULL, 2, "not signed by a trusted key");
	/* self-consistent without it, and reported as such */
	pdp_audit_verify_result r;
	assert_int_equal(verify_log(&f->t, false, NULL, &r), PDP_OK);
	assert_false(r.keys_trusted);
	pdp_audit_verify_result_done(&r);
	/* an external checkpoint catches it even without the trusted key */
	expect_bad(&f->t, false, f->checkpoint, -1, "differ from the --checkpoint");
}

static void test_rewritten_log_same_key(void **state)
{
	struct fixture *f = *state;
	/* an insider holding the signing key rewrites and re-signs everything */
	struct rewrite rw = { { NULL, { 0 } }, false, "\"decision\":\"deny\"", "\"decision\":\"allo\"" };
	pdp_buf err;
	pdp_buf_init(&err, 0);
	assert_int_equal(pdp_audit_key_load(f->t.key, &rw.key, &err), PDP_OK);
	rewrite_log(&f->t, &rw);
	pdp_audit_key_done(&rw.key);
	pdp_buf_done(&err);
	expect_verifies(&f->t); /* the log alone cannot show it ... */
	expect_bad(&f->t, true, f->checkpoint, -1, "differ from the --checkpoint"); /* ... a witness can */
}

static void test_stripped_checkpoints(void **state)
{
	struct fixture *f = *state;
	struct rewrite rw = { { NULL, { 0 } }, true, NULL, NULL };
	pdp_buf err;
	pdp_buf_init(&err, 0);
	assert_int_equal(pdp_audit_key_load(f->t.key, &rw.key, &err), PDP_OK);
	rewrite_log(&f->t, &rw);
	pdp_audit_key_done(&rw.key);
	pdp_buf_done(&err);
	/* 10 records per checkpoint: the 11th counted record is refused */
	expect_bad(&f->t, true, NULL, -1, "more than 10 records since the last checkpoint");
}

static void test_renamed_segment(void **state)
{
	struct fixture *f = *state;
	uint64_t last = last_segment(&f->t);
	char from[400], to[400];
	seg_path(&f->t, last, from, sizeof(from));
	seg_path(&f->t, last + 1, to, sizeof(to));
	assert_int_equal(rename(from, to), 0);
	expect_bad(&f->t, true, NULL, (long)last, "segment starts at seq");
}

static void test_no_segments(void **state)
{
	struct fixture *f = *state;
	pdp_audit_verify_result r;
	const char *dir = f->t.path; /* holds keys, not segments */
	pdp_audit_verify_opts o = { NULL, 0, NULL, 0 };
	pdp_audit_verify_result_init(&r);
	assert_int_equal(pdp_audit_verify_dir(dir, &o, &r), PDP_E_NOTFOUND);
	pdp_audit_verify_result_done(&r);
	pdp_audit_verify_result_init(&r);
	assert_int_equal(pdp_audit_verify_dir("/nonexistent/dir", &o, &r), PDP_E_NOTFOUND);
	pdp_audit_verify_result_done(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_clean_log_verifies),
		T(test_changed_field),
		T(test_changed_field_rehashed),
		T(test_deleted_record),
		T(test_inserted_record),
		T(test_duplicated_record),
		T(test_swapped_records),
		T(test_torn_last_line),
		T(test_torn_in_the_middle),
		T(test_deleted_segment),
		T(test_forged_checkpoint),
		T(test_truncated_tail),
		T(test_rewritten_log),
		T(test_rewritten_log_same_key),
		T(test_stripped_checkpoints),
		T(test_renamed_segment),
		T(test_no_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
