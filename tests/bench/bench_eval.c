/*
 * bench_eval.c -- in-process evaluator benchmark (a benchmark, not a test:
 * it prints figures and asserts nothing about time).
 *
 * usage: bench_eval BUNDLE REQUESTS.jsonl [ITERATIONS]
 * Loads the bundle (timed, and its memory measured), parses every request
 * up front, then decides them round-robin on one thread, timing each
 * decision with CLOCK_MONOTONIC. Prints load time, memory per grant,
 * decisions/s, p50, p99 and p99.9 per decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdp/eval.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static size_t parse_requests(const char *path, pdp_arena *a, pdp_request **ret)
{
	char *data = NULL;
	size_t len = 0, n = 0, cap = 1024;
	if (pdp_file_read(path, 1u << 30, &data, &len) != PDP_OK)
		return 0;
	pdp_request *v = pdp_xcalloc(cap, sizeof(*v));
	for (char *s = data; s < data + len;) {
		char *nl = memchr(s, '\n', (size_t)(data + len - s));
		size_t l = nl ? (size_t)(nl - s) : (size_t)(data + len - s);
		if (n == cap)
			v = pdp_xrealloc(v, (cap *= 2) * sizeof(*v));
		if (l && pdp_request_parse(s, l, NULL, a, &v[n], NULL) == PDP_OK) {
			if (!v[n].has_time)
				v[n].time = 1780272000; /* 2026-06-01 */
			n++;
		}
		s += l + 1;
	}
	free(data);
	*ret = v;
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: bench_eval BUNDLE REQUESTS.jsonl [ITERATIONS]\n", stderr);
		return 2;
	}
	size_t iters = argc > 3 ? strtoul(argv[3], NULL, 10) : 200000;
	pdp_policy *p = NULL;
	double t0 = now_ns();
	if (pdp_bundle_load_file(argv[1], NULL, &p, NULL) != PDP_OK) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 2;
	}
	double load_ms = (now_ns() - t0) / 1e6;
	pdp_arena *ra = pdp_arena_new(1 << 20);
	pdp_request *reqs = NULL;
	size_t nreq = parse_requests(argv[2], ra, &reqs);
	if (!nreq) {
		fprintf(stderr, "no requests in %s\n", argv[2]);
		return 2;
	}
	pdp_arena *scratch = pdp_arena_new(1 << 16);
	double *lat = pdp_xcalloc(iters, sizeof(*lat));
	size_t allow = 0;
	double start = now_ns();
	for (size_t i = 0; i < iters; i++) {
		pdp_decision d;
		double a = now_ns();
		if (pdp_eval_decide(p, &reqs[i % nreq], scratch, &d, NULL) == PDP_OK)
			allow += d.allow;
		lat[i] = now_ns() - a;
		pdp_arena_reset(scratch);
	}
	double total_s = (now_ns() - start) / 1e9;
	qsort(lat, iters, sizeof(*lat), dcmp);
	size_t grants = pdp_policy_ngrants(p);
	printf("bundle %s: %zu products, %zu grants, load %.1f ms, memory %.1f MiB (%.0f bytes/grant)\n",
	       argv[1], pdp_policy_nproducts(p), grants, load_ms, pdp_policy_memory(p) / 1048576.0,
	       grants ? (double)pdp_policy_memory(p) / (double)grants : 0.0);
	printf("decisions: %zu (%zu distinct requests, %.1f%% allow) in %.2f s = %.0f decisions/s on one core\n",
	       iters, nreq, 100.0 * (double)allow / (double)iters, total_s, (double)iters / total_s);
	printf("latency per decision: p50 %.2f us, p99 %.2f us, p99.9 %.2f us\n", lat[iters / 2] / 1e3,
	       lat[iters * 99 / 100] / 1e3, lat[iters * 999 / 1000] / 1e3);
	free(lat);
	free(reqs);
	pdp_arena_free(scratch);
	pdp_arena_free(ra);
	pdp_policy_unref(p);
	return 0;
}
