/*
 * bundle_int.h -- pieces shared by bundle_read.c, bundle_index.c and
 * bundle_sign.c.
 */
#ifndef PDP_BUNDLE_INT_H
#define PDP_BUNDLE_INT_H

#include "policy_int.h"

/* Bounds-checked read cursor over the bundle body. */
struct rd {
	const uint8_t *data;
	size_t len, off;
	bool bad;
	const char *what;
	size_t fail_off;
	pdp_policy *pol;
};

/* Checks the Ed25519 trailer: with pubkey set, the bundle must be signed by
 * it; without, a trailer is accepted unchecked (is_signed is reported). */
PDP_MUST_USE enum pdp_err pdp_bundle_check_signature(const uint8_t *data, size_t len,
						     size_t body_len, bool has_sig,
						     const uint8_t *pubkey, pdp_buf *errmsg);
/* Builds the lookup structures of a parsed policy (subject index, column
 * lookups, per-product rule lists) and checks cross references. */
PDP_MUST_USE enum pdp_err pdp_bundle_build_index(pdp_policy *p, pdp_buf *errmsg);

#endif
