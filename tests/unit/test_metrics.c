/*
 * test_metrics.c -- the request counters (pdp/metrics.c): each status in
 * the table counts under itself, any other under 500; the rendered text
 * carries them, per-worker open connections and the audit counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(pdp_metrics *m, int n, pdp_buf *out)
{
	pdp_metrics *ms[2] = { &m[0], &m[1] };
	pdp_metrics_global g = { "sha256:abc", 1.0, 0, 0, 0, 1 };
	assert_int_equal(pdp_metrics_render(ms, n, &g, out), PDP_OK);
	assert_int_equal(pdp_buf_addc(out, '\0'), PDP_OK);
	return out->data;
}

static void test_codes(void **state)
{
	(void)state;
	static pdp_metrics m[2];
	for (int i = 0; i < PDP_M_CODES; i++) /* every code of the table, once */
		pdp_metrics_request(&m[0], pdp_metrics_codes[i], 10);
	pdp_metrics_request(&m[0], 418, 10); /* not in the table: a 500 */
	pdp_metrics_request(&m[0], 999, 10);
	pdp_buf out;
	pdp_buf_init(&out, 0);
	const char *text = render(m, 1, &out);
	assert_non_null(strstr(text, "pdp_http_requests_total{code=\"200\"} 1\n"));
	assert_non_null(strstr(text, "pdp_http_requests_total{code=\"431\"} 1\n"));
	assert_non_null(strstr(text, "pdp_http_requests_total{code=\"500\"} 3\n"));
	assert_null(strstr(text, "code=\"418\""));
	pdp_buf_done(&out);
}

static void test_worker_connections(void **state)
{
	(void)state;
	static pdp_metrics m[2];
	atomic_store(&m[0].open_connections, 3);
	atomic_store(&m[1].open_connections, 4);
	pdp_buf out;
	pdp_buf_init(&out, 0);
	const char *text = render(m, 2, &out);
	assert_non_null(strstr(text, "pdp_worker_open_connections{worker=\"0\"} 3\n"));
	assert_non_null(strstr(text, "pdp_worker_open_connections{worker=\"1\"} 4\n"));
	assert_non_null(strstr(text, "\npdp_open_connections 7\n"));
	pdp_buf_done(&out);
}

static void test_audit(void **state)
{
	(void)state;
	pdp_audit_stats st = { .records = 40, .batches = 2, .fsyncs = 2, .fsync_ns_total = 1500000,
			       .fsync_ns_max = 1000000, .writable = true };
	pdp_buf out;
	pdp_buf_init(&out, 0);
	assert_int_equal(pdp_metrics_render_audit(&st, &out), PDP_OK);
	assert_int_equal(pdp_buf_addc(&out, '\0'), PDP_OK);
	assert_non_null(strstr(out.data, "\npdp_audit_records_total 40\n"));
	assert_non_null(strstr(out.data, "\npdp_audit_batches_total 2\n"));
	assert_non_null(strstr(out.data, "\npdp_audit_fsync_seconds_total 0.001500\n"));
	assert_non_null(strstr(out.data, "\npdp_audit_fsync_seconds_max 0.001000\n"));
	assert_non_null(strstr(out.data, "\npdp_audit_writable 1\n"));
	pdp_buf_done(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_worker_connections),
		cmocka_unit_test(test_audit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
