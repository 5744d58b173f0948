/*
 * metrics.h -- per-worker counters, merged on scrape into the Prometheus
 * text exposition format. Each worker writes only its own counters
 * (relaxed atomics: no locks, no shared cache lines on the hot path).
 */
#ifndef PDP_METRICS_H
#define PDP_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "pdp/audit.h"
#include "pdp/buf.h"

enum { PDP_M_CODES = 17 };
extern const int pdp_metrics_codes[PDP_M_CODES];
enum { PDP_M_BUCKETS = 12 };
extern const double pdp_metrics_buckets[PDP_M_BUCKETS]; /* seconds */

typedef struct pdp_metrics {
	atomic_ulong requests[PDP_M_CODES];   /* by status code */
	atomic_ulong decisions_allow, decisions_deny;
	atomic_ulong latency[PDP_M_BUCKETS + 1];  /* histogram, last = +Inf */
	atomic_ulong latency_sum_us;
	atomic_ulong forbidden_callers;
	atomic_int open_connections;
} __attribute__((aligned(64))) pdp_metrics;

void pdp_metrics_request(pdp_metrics *m, int status, uint64_t micros);

/* Server-wide values that are not per worker. */
typedef struct pdp_metrics_global {
	const char *revision;
	double loaded_at;
	unsigned long reload_ok, reload_failed;
	unsigned long tls_failures;
	int ready;
} pdp_metrics_global;

PDP_MUST_USE enum pdp_err pdp_metrics_render(pdp_metrics *const *workers, int n,
					     const pdp_metrics_global *g, pdp_buf *out);
/* The audit log's counters (pdp_audit_*), when a log is configured. */
PDP_MUST_USE enum pdp_err pdp_metrics_render_audit(const pdp_audit_stats *st, pdp_buf *out);

#endif
