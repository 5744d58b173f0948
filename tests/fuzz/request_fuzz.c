/*
 * request_fuzz.c -- fuzz target for the decision request parser
 * (policy/request.c) and the response writer: untrusted JSON from gateways.
 *
 * Target functions: pdp_request_parse, pdp_parse_time.
 */
#include <stdint.h>

#include "pdp/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pdp_arena *a = pdp_arena_new(4096);
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_request req;
	pdp_request_limits lim = PDP_REQUEST_LIMITS_DEFAULT;
	if (pdp_request_parse((const char *)data, size, &lim, a, &req, &msg) == PDP_OK &&
	    (req.action == 0 || req.subject_id.len == 0))
		__builtin_trap(); /* the parser promised these */
	int64_t t;
	if (pdp_parse_time((pdp_str){ (const char *)data, size }, &t) && size < 10)
		__builtin_trap(); /* a time is at least YYYY-MM-DD */
	pdp_buf_done(&msg);
	pdp_arena_free(a);
	return 0;
}
