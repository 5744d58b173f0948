/*
 * audit_test_util.h -- helpers shared by the test_audit_*.c unit tests:
 * temporary directories, Ed25519 keys made with OpenSSL, opening a log,
 * submitting records and waiting for them, editing segment files.
 *
 * Everything is real: real files under a fresh mkdtemp directory, real
 * fdatasync, the real writer thread. Included (static) by each test.
 */
#ifndef AUDIT_TEST_UTIL_H
#define AUDIT_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit_int.h"
#include "pdp/audit.h"

struct tdir {
	char path[256];
	char key[300];     /* PEM private key */
	char key2[300];    /* a second (attacker's) key */
	char log[300];     /* the log directory */
	uint8_t pub[32], pub2[32];
};

static inline void write_key(const char *path, uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	size_t n = 32;
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
	EVP_PKEY_free(k);
}

static inline void tdir_make(struct tdir *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/pdp-audit-test.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	snprintf(t->key, sizeof(t->key), "%s/key.pem", t->path);
	snprintf(t->key2, sizeof(t->key2), "%s/key2.pem", t->path);
	snprintf(t->log, sizeof(t->log), "%s/log", t->path);
	write_key(t->key, t->pub);
	write_key(t->key2, t->pub2);
}

static inline void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		unlink(path);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[1024];
		if (snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= (int)sizeof(p))
			continue;
		rm_rf(p);
	}
	closedir(d);
	rmdir(path);
}

static inline void tdir_done(struct tdir *t)
{
	rm_rf(t->path);
}

static inline void cfg_init(pdp_audit_config *c, const struct tdir *t)
{
	pdp_audit_config_init(c);
	c->dir = t->log;
	c->log_id = "meshpdp.test/audit";
	c->checkpoint_key = t->key;
	c->fsync = PDP_AUDIT_FSYNC_NONE;
	c->fail_timeout_ms = 200;
}

static pdp_audit *open_ok(const pdp_audit_config *c)
{
	pdp_audit *a = NULL;
	pdp_buf err;
	pdp_buf_init(&err, 0);
	enum pdp_err e = pdp_audit_open(c, &a, &err);
	if (e != PDP_OK)
		fail_msg("pdp_audit_open: %s (%s)", err.data ? err.data : "?", pdp_err_str(e));
	pdp_buf_done(&err);
	return a;
}

/* Opens and expects failure; returns the error and copies the message. */
static inline enum pdp_err open_fails(const pdp_audit_config *c, char *msg, size_t cap)
{
	pdp_audit *a = NULL;
	pdp_buf err;
	pdp_buf_init(&err, 0);
	enum pdp_err e = pdp_audit_open(c, &a, &err);
	assert_int_not_equal(e, PDP_OK);
	assert_null(a);
	snprintf(msg, cap, "%s", err.data ? err.data : "");
	pdp_buf_done(&err);
	return e;
}

/* ---- waiting for completions ------------------------------------------- */

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool notified;
};

static inline void waiter_notify(void *arg)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->notified = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static inline void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->notified = false;
}

static inline void waiter_done(struct waiter *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
}

/* Waits for a notify, or 10 ms: a queue that got PDP_E_BUSY may have
 * nothing of its own in flight to be notified about (the server retries on
 * a timer for the same reason). */
static inline void waiter_wait(struct waiter *w)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->notified && pthread_cond_timedwait(&w->cond, &w->mu, &ts) == 0)
		;
	w->notified = false;
	pthread_mutex_unlock(&w->mu);
}

struct result {
	bool done;
	uint64_t seq;
	enum pdp_err err;
};

static inline void result_done(void *arg, uint64_t seq, enum pdp_err err)
{
	struct result *r = arg;
	assert_false(r->done); /* exactly once */
	r->done = true;
	r->seq = seq;
	r->err = err;
}

/* Submits one record and waits for its completion. */
static inline struct result submit_wait(pdp_audit_queue *q, struct waiter *w, const char *type, const char *json)
{
	struct result r = { false, 0, PDP_OK };
	enum pdp_err e = pdp_audit_submit(q, type, json, strlen(json), result_done, &r);
	assert_int_equal(e, PDP_OK);
	while (!r.done) {
		waiter_wait(w);
		pdp_audit_queue_drain(q);
	}
	return r;
}

/* Writes n decision-like records through one queue, waiting for all. */
static inline void write_records(pdp_audit *a, int n, const char *tag)
{
	struct waiter w;
	waiter_init(&w);
	pdp_audit_queue *q = pdp_audit_queue_new(a, waiter_notify, &w);
	struct result *rs = calloc((size_t)n, sizeof(*rs));
	for (int i = 0; i < n; i++) {
		char json[256];
		snprintf(json, sizeof(json),
			 "{\"decision\":\"%s\",\"decision_id\":\"%s-%d\",\"product\":\"orders.order_events\","
			 "\"subject\":{\"id\":\"u-%d\"}}",
			 i % 3 ? "allow" : "deny", tag, i, i);
		enum pdp_err e;
		while ((e = pdp_audit_submit(q, "decision", json, strlen(json), result_done, &rs[i])) == PDP_E_BUSY) {
			waiter_wait(&w);
			pdp_audit_queue_drain(q);
		}
		assert_int_equal(e, PDP_OK);
	}
	pdp_audit_queue_free(q); /* waits for and runs every completion */
	for (int i = 0; i < n; i++) {
		assert_true(rs[i].done);
		assert_int_equal(rs[i].err, PDP_OK);
	}
	free(rs);
	waiter_done(&w);
}

static inline void close_ok(pdp_audit *a)
{
	assert_int_equal(pdp_audit_close(a, "test"), PDP_OK);
}

/* ---- files ------------------------------------------------------------- */

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*ret_len = (size_t)n;
	return p;
}

static inline void spit(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static inline void seg_path(const struct tdir *t, uint64_t first, char *out, size_t cap)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(first, name);
	snprintf(out, cap, "%s/%s", t->log, name);
}

/* The byte range of line `no` (0-based) in p. */
static inline bool line_at(const char *p, size_t n, size_t no, size_t *ret_off, size_t *ret_len)
{
	size_t off = 0;
	for (size_t i = 0; off < n; i++) {
		const char *nl = memchr(p + off, '\n', n - off);
		size_t len = nl ? (size_t)(nl - p) - off : n - off;
		if (i == no) {
			*ret_off = off;
			*ret_len = len;
			return true;
		}
		off += len + 1;
	}
	return false;
}

static inline size_t count_lines(const char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Verifies the log; returns the error, fills *r (caller frees). */
static inline enum pdp_err verify_log(const struct tdir *t, bool trusted, const char *cp, pdp_audit_verify_result *r)
{
	const uint8_t(*keys)[32] = (const uint8_t(*)[32])t->pub;
	pdp_audit_verify_opts o = { trusted ? keys : NULL, trusted ? 1 : 0, cp, cp ? strlen(cp) : 0 };
	pdp_audit_verify_result_init(r);
	return pdp_audit_verify_dir(t->log, &o, r);
}

static inline void expect_verifies(const struct tdir *t)
{
	pdp_audit_verify_result r;
	enum pdp_err e = verify_log(t, true, NULL, &r);
	if (e != PDP_OK)
		fail_msg("verify: %s:%llu: seq %llu: %s", r.file.data ? r.file.data : "",
			 (unsigned long long)r.line, (unsigned long long)r.seq, r.why.data ? r.why.data : "");
	pdp_audit_verify_result_done(&r);
}

/* Expects verification to fail at seq `seq` with `why` in the reason. */
static inline void expect_bad(const struct tdir *t, bool trusted, const char *cp, long seq, const char *why)
{
	pdp_audit_verify_result r;
	enum pdp_err e = verify_log(t, trusted, cp, &r);
	if (e != PDP_E_CORRUPT || (seq >= 0 && (!r.have_seq || r.seq != (uint64_t)seq)) ||
	    !strstr(r.why.data ? r.why.data : "", why))
		fail_msg("expected failure at seq %ld with '%s', got %s: seq %llu: %s", seq, why,
			 pdp_err_str(e), (unsigned long long)r.seq, r.why.data ? r.why.data : "");
	pdp_audit_verify_result_done(&r);
}

/* Finds the first line in the log whose text contains `needle`: its
 * segment first-seq and line number. */
static inline bool find_line(const struct tdir *t, const char *needle, uint64_t *ret_first, size_t *ret_no)
{
	int dfd = open(t->log, O_RDONLY | O_DIRECTORY);
	pdp_audit_segs segs;
	assert_int_equal(pdp_audit_segs_list(dfd, &segs, NULL), PDP_OK);
	close(dfd);
	bool found = false;
	for (size_t i = 0; i < segs.n && !found; i++) {
		char path[400];
		size_t n, off = 0, len = 0;
		seg_path(t, segs.first[i], path, sizeof(path));
		char *p = slurp(path, &n);
		for (size_t no = 0; !found && line_at(p, n, no, &off, &len); no++) {
			char save = p[off + len];
			p[off + len] = '\0';
			if (strstr(p + off, needle)) {
				*ret_first = segs.first[i];
				*ret_no = no;
				found = true;
			}
			p[off + len] = save;
		}
		free(p);
	}
	pdp_audit_segs_done(&segs);
	return found;
}

#endif
