/*
 * metrics.c -- Prometheus text exposition (version 0.0.4) of the merged
 * per-worker counters. Checked with `promtool check metrics` in the tests.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>

const int pdp_metrics_codes[PDP_M_CODES] = { 200, 400, 401, 403, 404, 405, 408, 411, 413, 415, 417,
						  422, 429, 431, 500, 501, 503 };
const double pdp_metrics_buckets[PDP_M_BUCKETS] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
						    0.005, 0.01, 0.025, 0.05, 0.1, 0.5 };

void pdp_metrics_request(pdp_metrics *m, int status, uint64_t micros)
{
	int i = 0;
	while (i < PDP_M_CODES - 1 && pdp_metrics_codes[i] != status)
		i++;
	if (pdp_metrics_codes[i] != status) { /* anything unexpected counts as a 500 */
		pdp_metrics_request(m, 500, micros);
		return;
	}
	atomic_fetch_add_explicit(&m->requests[i], 1, memory_order_relaxed);
	int b = 0;
	while (b < PDP_M_BUCKETS && (double)micros / 1e6 > pdp_metrics_buckets[b])
		b++;
	atomic_fetch_add_explicit(&m->latency[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_sum_us, micros, memory_order_relaxed);
}

/* The sum over workers of the counter at byte offset `off`. */
static unsigned long sum_at(pdp_metrics *const *workers, int n, size_t off)
{
	unsigned long s = 0;
	for (int w = 0; w < n; w++)
		s += atomic_load_explicit((atomic_ulong *)((char *)workers[w] + off), memory_order_relaxed);
	return s;
}
#define SUM(field) sum_at(workers, n, offsetof(pdp_metrics, field))
#define SUM_AT(field, i) sum_at(workers, n, offsetof(pdp_metrics, field) + (size_t)(i) * sizeof(atomic_ulong))

static enum pdp_err render_requests(pdp_metrics *const *workers, int n, pdp_buf *out)
{
	PDP_TRY(pdp_buf_adds(out, "# HELP pdp_http_requests_total HTTP requests answered, by status code.\n"
				  "# TYPE pdp_http_requests_total counter\n"));
	for (int c = 0; c < PDP_M_CODES; c++)
		PDP_TRY(pdp_buf_printf(out, "pdp_http_requests_total{code=\"%d\"} %lu\n", pdp_metrics_codes[c],
				       SUM_AT(requests, c)));
	PDP_TRY(pdp_buf_adds(out, "# HELP pdp_decisions_total Decisions made, by result.\n"
				  "# TYPE pdp_decisions_total counter\n"));
	PDP_TRY(pdp_buf_printf(out, "pdp_decisions_total{decision=\"allow\"} %lu\n", SUM(decisions_allow)));
	return pdp_buf_printf(out, "pdp_decisions_total{decision=\"deny\"} %lu\n", SUM(decisions_deny));
}

static enum pdp_err render_latency(pdp_metrics *const *workers, int n, pdp_buf *out)
{
	PDP_TRY(pdp_buf_adds(out, "# HELP pdp_http_request_duration_seconds Time from request to reply.\n"
				  "# TYPE pdp_http_request_duration_seconds histogram\n"));
	unsigned long cum = 0;
	for (int b = 0; b <= PDP_M_BUCKETS; b++) {
		cum += SUM_AT(latency, b);
		if (b < PDP_M_BUCKETS)
			PDP_TRY(pdp_buf_printf(out, "pdp_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
					       pdp_metrics_buckets[b], cum));
		else
			PDP_TRY(pdp_buf_printf(out, "pdp_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum));
	}
	PDP_TRY(pdp_buf_printf(out, "pdp_http_request_duration_seconds_sum %.6f\n", SUM(latency_sum_us) / 1e6));
	return pdp_buf_printf(out, "pdp_http_request_duration_seconds_count %lu\n", cum);
}

enum pdp_err pdp_metrics_render(pdp_metrics *const *workers, int n, const pdp_metrics_global *g, pdp_buf *out)
{
	PDP_TRY(render_requests(workers, n, out));
	PDP_TRY(render_latency(workers, n, out));
	PDP_TRY(pdp_buf_printf(out,
			       "# HELP pdp_forbidden_callers_total Requests refused because the caller lacks the role.\n"
			       "# TYPE pdp_forbidden_callers_total counter\npdp_forbidden_callers_total %lu\n"
			       "# HELP pdp_tls_handshake_failures_total TLS handshakes refused (no or bad client certificate, protocol).\n"
			       "# TYPE pdp_tls_handshake_failures_total counter\npdp_tls_handshake_failures_total %lu\n",
			       SUM(forbidden_callers), g->tls_failures));
	long open = 0;
	PDP_TRY(pdp_buf_adds(out, "# HELP pdp_worker_open_connections Client connections open now, by worker "
				  "(new ones go to the worker with the fewest).\n"
				  "# TYPE pdp_worker_open_connections gauge\n"));
	for (int w = 0; w < n; w++) {
		long k = atomic_load_explicit(&workers[w]->open_connections, memory_order_relaxed);
		PDP_TRY(pdp_buf_printf(out, "pdp_worker_open_connections{worker=\"%d\"} %ld\n", w, k));
		open += k;
	}
	PDP_TRY(pdp_buf_printf(out,
			       "# HELP pdp_open_connections Client connections open now.\n"
			       "# TYPE pdp_open_connections gauge\npdp_open_connections %ld\n"
			       "# HELP pdp_policy_info The policy revision being served.\n"
			       "# TYPE pdp_policy_info gauge\npdp_policy_info{revision=\"%s\"} 1\n"
			       "# HELP pdp_policy_loaded_timestamp_seconds When the serving revision was loaded.\n"
			       "# TYPE pdp_policy_loaded_timestamp_seconds gauge\npdp_policy_loaded_timestamp_seconds %.3f\n"
			       "# HELP pdp_policy_reloads_total Policy reload attempts, by result.\n"
			       "# TYPE pdp_policy_reloads_total counter\n"
			       "pdp_policy_reloads_total{result=\"success\"} %lu\npdp_policy_reloads_total{result=\"failure\"} %lu\n"
			       "# HELP pdp_ready Whether the server is ready to decide.\n"
			       "# TYPE pdp_ready gauge\npdp_ready %d\n",
			       open, g->revision, g->loaded_at, g->reload_ok, g->reload_failed, g->ready));
	return PDP_OK;
}

#define AUDIT_COUNTER(name, help) \
	"# HELP pdp_audit_" name " " help "\n# TYPE pdp_audit_" name " counter\npdp_audit_" name " %llu\n"

enum pdp_err pdp_metrics_render_audit(const pdp_audit_stats *st, pdp_buf *out)
{
	PDP_TRY(pdp_buf_printf(out,
			       AUDIT_COUNTER("records_total", "Records written since start (all types).")
			       AUDIT_COUNTER("batches_total", "Write units committed (one write, at most one fdatasync each).")
			       AUDIT_COUNTER("fsyncs_total", "fdatasync calls on segment files.")
			       AUDIT_COUNTER("bytes_total", "Bytes appended to segment files.")
			       AUDIT_COUNTER("checkpoints_total", "Signed checkpoints written.")
			       AUDIT_COUNTER("rotations_total", "Segment files started.")
			       AUDIT_COUNTER("busy_total", "Records refused for a while because the queue was full.")
			       AUDIT_COUNTER("write_errors_total", "Failed write or fdatasync attempts.")
			       AUDIT_COUNTER("failed_records_total", "Records that could not be written (their decision got 503)."),
			       (unsigned long long)st->records, (unsigned long long)st->batches,
			       (unsigned long long)st->fsyncs, (unsigned long long)st->bytes,
			       (unsigned long long)st->checkpoints, (unsigned long long)st->rotations,
			       (unsigned long long)st->busy, (unsigned long long)st->write_errors,
			       (unsigned long long)st->failed_records));
	return pdp_buf_printf(out,
			      "# HELP pdp_audit_fsync_seconds_total Time spent in fdatasync.\n"
			      "# TYPE pdp_audit_fsync_seconds_total counter\npdp_audit_fsync_seconds_total %.6f\n"
			      "# HELP pdp_audit_fsync_seconds_max The longest fdatasync since start.\n"
			      "# TYPE pdp_audit_fsync_seconds_max gauge\npdp_audit_fsync_seconds_max %.6f\n"
			      "# HELP pdp_audit_inflight_records Records submitted and not yet written.\n"
			      "# TYPE pdp_audit_inflight_records gauge\npdp_audit_inflight_records %llu\n"
			      "# HELP pdp_audit_writable Whether the audit log accepts writes.\n"
			      "# TYPE pdp_audit_writable gauge\npdp_audit_writable %d\n",
			      st->fsync_ns_total / 1e9, st->fsync_ns_max / 1e9,
			      (unsigned long long)st->inflight_records, st->writable ? 1 : 0);
}
