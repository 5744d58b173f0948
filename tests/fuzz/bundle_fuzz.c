/*
 * bundle_fuzz.c -- fuzz target for the bundle reader (policy/bundle_read.c,
 * bundle_index.c, bundle_sign.c). The digest in the header would stop the
 * fuzzer at the first byte, so the target re-stamps the SHA-256 of the body
 * before loading: the fuzzer then reaches the body parser with every input.
 * A bundle that loads is also evaluated once, to reach the evaluator with
 * hostile indices.
 *
 * Target functions: pdp_bundle_load, pdp_eval_decide.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pdp/eval.h"

static void restamp(uint8_t *b, size_t len)
{
	if (len < 56)
		return;
	uint64_t body = 0;
	for (int i = 7; i >= 0; i--)
		body = body << 8 | b[16 + i];
	if (body > len - 56)
		return;
	unsigned int n = 0;
	EVP_Digest(b + 56, (size_t)body, b + 24, &n, EVP_sha256(), NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	if (size)
		memcpy(b, data, size);
	restamp(b, size);
	pdp_policy *p = NULL;
	if (pdp_bundle_load(b, size, NULL, &p, NULL) == PDP_OK) {
		pdp_arena *a = pdp_arena_new(4096);
		pdp_str groups[] = { PDP_STR("g0"), PDP_STR("orders-analysts") };
		pdp_request req = { .subject_id = PDP_STR("u"), .groups = groups, .ngroups = 2,
				    .action = PDP_ACT_READ, .product = PDP_STR("orders.order_events") };
		pdp_decision dec;
		pdp_ignore(pdp_eval_decide(p, &req, a, &dec, NULL)); /* any outcome is fine */
		pdp_arena_free(a);
		pdp_policy_unref(p);
	}
	free(b);
	return 0;
}
