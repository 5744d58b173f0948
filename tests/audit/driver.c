/*
 * driver.c -- drives the audit writer from several threads, standing in for
 * the server's workers: each thread owns a pdp_audit_queue, keeps a window
 * of decision records in flight (like concurrent requests), waits for its
 * notify, drains, and writes one "ack <decision_id> <seq>" line per record
 * reported done to the --ack file with write(2) -- only after `done` said
 * the record is written, exactly as the server answers only then.
 *
 * Used by `make bench-audit` (writer records/s per fsync mode) and by the
 * kill -9 test in tests/audit/test_audit.py (every acked id must be in the
 * log after a SIGKILL at a random moment and a restart).
 *
 *   audit_driver --dir D --key K [--threads 4] [--records N | --seconds S]
 *                [--fsync always|interval|none] [--window 64]
 *                [--segment-max B] [--checkpoint-every N] [--checkpoint-ms T]
 *                [--witness DIR] [--ack FILE] [--log-id ID] [--hmac-key F]
 *                [--rate R]  (records/s per thread)
 *                [--open-only]
 *
 * Prints "writer: N records in T s: R records/s (...)" and exits 0, or 1 if
 * any record failed. The figures end with the CPU time (user + system) per
 * record done: the worker threads' own (getrusage RUSAGE_THREAD: building,
 * submitting, waking and draining) and the rest of the process's (the
 * writer thread; the main thread only waits).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pdp/audit.h"
#include "pdp/eval.h"

struct opts {
	pdp_audit_config cfg;
	int threads;
	long records;      /* per thread; 0 = use seconds */
	double seconds;
	int window;
	double rate;       /* records/s per thread; 0 = as fast as possible */
	int ack_fd;
	bool open_only;
};

struct worker {
	pdp_audit *a;
	const struct opts *o;
	int id;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool notified;
	long inflight, done_ok, done_err, busy;
	char ackbuf[1 << 16];
	size_t acklen;
	int ack_fd;
	double cpu_s;       /* this thread's CPU (user + system) */
};

struct pending {
	struct worker *w;
	char id[37];
};

static double rusage_s(int who)
{
	struct rusage ru;
	if (getrusage(who, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void notify(void *arg)
{
	struct worker *w = arg;
	pthread_mutex_lock(&w->mu);
	w->notified = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static void flush_acks(struct worker *w)
{
	size_t off = 0;
	while (w->ack_fd >= 0 && off < w->acklen) {
		ssize_t n = write(w->ack_fd, w->ackbuf + off, w->acklen - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	w->acklen = 0;
}

static void done(void *arg, uint64_t seq, enum pdp_err err)
{
	struct pending *p = arg;
	struct worker *w = p->w;
	w->inflight--;
	if (err != PDP_OK) {
		w->done_err++;
	} else {
		w->done_ok++;
		if (w->ack_fd >= 0) {
			if (w->acklen + 64 > sizeof(w->ackbuf))
				flush_acks(w);
			w->acklen += (size_t)snprintf(w->ackbuf + w->acklen, sizeof(w->ackbuf) - w->acklen,
						      "ack %s %llu\n", p->id, (unsigned long long)seq);
		}
	}
	free(p);
}

/* A realistic decision: 5 columns, one masked, 2 reasons, a row filter. */
static enum pdp_err build(struct worker *w, long n, const char *id, pdp_buf *out)
{
	char subj[64], reqid[64];
	snprintf(subj, sizeof(subj), "u-%d-%ld", w->id, n);
	snprintf(reqid, sizeof(reqid), "req-%d-%ld", w->id, n);
	pdp_str groups[] = { PDP_STR("finance-analysts"), PDP_STR("all-staff") };
	pdp_str cols[] = { PDP_STR("event_id"), PDP_STR("customer_email"), PDP_STR("region"),
			   PDP_STR("order_total_cents"), PDP_STR("product_name") };
	pdp_col_result res[5];
	for (int i = 0; i < 5; i++)
		res[i] = (pdp_col_result){ cols[i], i, i == 1 ? PDP_ACCESS_MASK : PDP_ACCESS_ALLOW,
					   i == 1 ? PDP_MASK_HASH : PDP_MASK_NONE };
	pdp_str reasons[] = { PDP_STR("mesh#rules[pii-cross-domain]"),
			      PDP_STR("orders.order_events#grants[0]") };
	pdp_request req;
	memset(&req, 0, sizeof(req));
	req.subject_id = pdp_str_c(subj);
	req.has_domain = true;
	req.subject_domain = PDP_STR("finance");
	req.groups = groups;
	req.ngroups = 2;
	req.action = PDP_ACT_READ;
	req.product = PDP_STR("orders.order_events");
	req.has_columns = true;
	req.columns = cols;
	req.ncolumns = 5;
	req.has_purpose = true;
	req.purpose = PDP_STR("billing");
	req.request_id = pdp_str_c(reqid);
	pdp_decision dec = { true, res, 5, true, PDP_STR("region = 'EU'"), reasons, 2,
			     "sha256:4f1c3bd0b1f1a0d7c5e3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a098765432" };
	return pdp_audit_fields_decision(w->a, id, "spiffe://mesh.example/gateway/trino-eu", &req, &dec, out);
}

static void wait_notify(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->notified) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&w->cond, &w->mu, &ts) == ETIMEDOUT)
			break;
	}
	w->notified = false;
	pthread_mutex_unlock(&w->mu);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	pdp_audit_queue *q = pdp_audit_queue_new(w->a, notify, w);
	pdp_buf b;
	pdp_buf_init(&b, 0);
	double start = now_s(), end = start + o->seconds;
	long n = 0;
	for (;;) {
		bool more = o->records ? n < o->records : now_s() < end;
		if (!more && w->inflight == 0)
			break;
		if (o->rate > 0 && more && (double)n >= (now_s() - start) * o->rate) {
			struct timespec ts = { 0, 1000000 }; /* paced: 1 ms steps */
			nanosleep(&ts, NULL);
			pdp_audit_queue_drain(q);
			flush_acks(w);
			continue;
		}
		while (more && w->inflight < o->window && (o->rate <= 0 || (double)n < (now_s() - start) * o->rate + 1)) {
			struct pending *p = malloc(sizeof(*p));
			p->w = w;
			pdp_audit_queue_decision_id(q, p->id);
			pdp_buf_reset(&b);
			if (build(w, n, p->id, &b) != PDP_OK)
				abort();
			enum pdp_err e = pdp_audit_submit(q, "decision", b.data, b.len, done, p);
			if (e == PDP_E_BUSY) {
				free(p);
				w->busy++;
				break;
			}
			if (e != PDP_OK) {
				free(p);
				w->done_err++;
				n++;
				break;
			}
			w->inflight++;
			n++;
			more = o->records ? n < o->records : now_s() < end;
		}
		wait_notify(w);
		pdp_audit_queue_drain(q);
		flush_acks(w);
	}
	pdp_audit_queue_free(q);
	flush_acks(w);
	pdp_buf_done(&b);
	w->cpu_s = rusage_s(RUSAGE_THREAD);
	return NULL;
}

static int usage(void)
{
	fputs("usage: audit_driver --dir D --key K [--threads N] [--records N | --seconds S]\n"
	      "       [--fsync always|interval|none] [--window N] [--segment-max B]\n"
	      "       [--checkpoint-every N] [--checkpoint-ms T] [--witness DIR] [--ack FILE]\n"
	      "       [--log-id ID] [--hmac-key F] [--queue-max N] [--rate R] [--open-only]\n",
	      stderr);
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	pdp_audit_config_init(&o->cfg);
	o->cfg.log_id = "meshpdp.test/audit";
	o->threads = 4;
	o->seconds = 2;
	o->window = 64;
	o->ack_fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--open-only")) {
			o->open_only = true;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--dir")) o->cfg.dir = v;
		else if (!strcmp(a, "--key")) o->cfg.checkpoint_key = v;
		else if (!strcmp(a, "--log-id")) o->cfg.log_id = v;
		else if (!strcmp(a, "--witness")) o->cfg.witness_dir = v;
		else if (!strcmp(a, "--hmac-key")) o->cfg.hmac_key = v;
		else if (!strcmp(a, "--threads")) o->threads = atoi(v);
		else if (!strcmp(a, "--records")) o->records = atol(v);
		else if (!strcmp(a, "--seconds")) o->seconds = atof(v);
		else if (!strcmp(a, "--window")) o->window = atoi(v);
		else if (!strcmp(a, "--rate")) o->rate = atof(v);
		else if (!strcmp(a, "--segment-max")) o->cfg.segment_max_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--checkpoint-every")) o->cfg.checkpoint_every = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--checkpoint-ms")) o->cfg.checkpoint_every_ms = (unsigned)atoi(v);
		else if (!strcmp(a, "--queue-max")) o->cfg.queue_max_records = (size_t)atol(v);
		else if (!strcmp(a, "--fsync")) {
			if (!pdp_audit_fsync_parse(v, &o->cfg.fsync))
				return usage();
		} else if (!strcmp(a, "--ack")) {
			o->ack_fd = open(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (o->ack_fd < 0) {
				perror(v);
				return 2;
			}
		} else
			return usage();
	}
	if (!o->cfg.dir || !o->cfg.checkpoint_key || o->threads < 1 || o->threads > 256 || o->window < 1)
		return usage();
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	pdp_audit *a = NULL;
	pdp_buf err;
	pdp_buf_init(&err, 4096);
	if (pdp_audit_open(&o.cfg, &a, &err) != PDP_OK) {
		fprintf(stderr, "audit_driver: %s\n", err.data ? err.data : "open failed");
		pdp_buf_done(&err);
		return 2;
	}
	pdp_buf_done(&err);
	struct worker *ws = calloc((size_t)o.threads, sizeof(*ws));
	pthread_t *ts = calloc((size_t)o.threads, sizeof(*ts));
	double t0 = now_s();
	for (int i = 0; i < o.threads && !o.open_only; i++) {
		ws[i].a = a;
		ws[i].o = &o;
		ws[i].id = i;
		ws[i].ack_fd = o.ack_fd;
		pthread_mutex_init(&ws[i].mu, NULL);
		pthread_cond_init(&ws[i].cond, NULL);
		pthread_create(&ts[i], NULL, run, &ws[i]);
	}
	long ok = 0, bad = 0, busy = 0;
	double worker_cpu = 0;
	for (int i = 0; i < o.threads && !o.open_only; i++) {
		pthread_join(ts[i], NULL);
		ok += ws[i].done_ok;
		bad += ws[i].done_err;
		busy += ws[i].busy;
		worker_cpu += ws[i].cpu_s;
		pthread_mutex_destroy(&ws[i].mu);
		pthread_cond_destroy(&ws[i].cond);
	}
	double dt = now_s() - t0;
	pdp_audit_stats st;
	pdp_audit_stats_get(a, &st);
	enum pdp_err ce = pdp_audit_close(a, "driver done");
	double writer_cpu = rusage_s(RUSAGE_SELF) - worker_cpu; /* + main, which only waits */
	double per = ok > 0 ? 1e6 / (double)ok : 0;
	if (!o.open_only)
		printf("writer: %ld records in %.2f s: %.0f records/s (fsync=%s, threads=%d, window=%d; "
		       "%llu batches, %.1f records/batch, %llu fsyncs, mean fsync %.3f ms, %llu checkpoints, "
		       "%llu rotations, %ld busy, %ld failed; cpu per record: workers %.2f us, writer %.2f us)\n",
		       ok, dt, (double)ok / dt, pdp_audit_fsync_name(o.cfg.fsync), o.threads, o.window,
		       (unsigned long long)st.batches,
		       st.batches ? (double)st.records / (double)st.batches : 0.0,
		       (unsigned long long)st.fsyncs,
		       st.fsyncs ? (double)st.fsync_ns_total / (double)st.fsyncs / 1e6 : 0.0,
		       (unsigned long long)st.checkpoints, (unsigned long long)st.rotations, busy, bad,
		       worker_cpu * per, writer_cpu * per);
	free(ws);
	free(ts);
	if (o.ack_fd >= 0)
		close(o.ack_fd);
	if (ce != PDP_OK) {
		fprintf(stderr, "audit_driver: close: the stop record could not be written\n");
		return 1;
	}
	return bad ? 1 : 0;
}
