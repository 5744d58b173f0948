/*
 * policy.h -- a loaded policy revision, and the bundle that carries it.
 *
 * A pdp_policy is immutable after load and reference-counted, so any number
 * of threads may evaluate one revision at once without locks, and a reload
 * can swap in a new one while requests in flight finish on the old one: the
 * last pdp_policy_unref frees it (one arena, one free).
 *
 * Bundles (docs/bundle-format.md) are one file: header, canonical body,
 * optional Ed25519 signature. The revision is "sha256:<hex>" of the
 * canonical body, so renaming, reordering or re-indenting policy files does
 * not change it.
 */
#ifndef PDP_POLICY_H
#define PDP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/buf.h"
#include "pdp/err.h"
#include "pdp/model.h"

typedef struct pdp_policy pdp_policy;

#define PDP_BUNDLE_MAX_SIZE (512u << 20)

typedef struct pdp_bundle_opts {
	/* Raw 32-byte Ed25519 public key. When set, the bundle must carry a
	 * valid signature by it; when NULL, signatures are not checked. */
	const uint8_t *pubkey;
	size_t max_size; /* 0 = PDP_BUNDLE_MAX_SIZE */
} pdp_bundle_opts;

/* Compiles a checked source set (pdp_src_check reported no errors) into
 * bundle bytes appended to out (unsigned). */
PDP_MUST_USE enum pdp_err pdp_bundle_compile(const pdp_src *src, pdp_buf *out);

/* Validates and loads bundle bytes. On failure a one-line reason is
 * appended to errmsg (if not NULL) and *ret is not written. The policy does
 * not borrow `data`. */
PDP_MUST_USE enum pdp_err pdp_bundle_load(const uint8_t *data, size_t len,
					  const pdp_bundle_opts *opts,
					  pdp_policy **ret, pdp_buf *errmsg);
PDP_MUST_USE enum pdp_err pdp_bundle_load_file(const char *path,
					       const pdp_bundle_opts *opts,
					       pdp_policy **ret, pdp_buf *errmsg);

/* Appends an Ed25519 signature trailer made with the PEM private key at
 * key_path to an unsigned bundle (docs/bundle-format.md). */
PDP_MUST_USE enum pdp_err pdp_bundle_sign(pdp_buf *bundle, const char *key_path,
					  pdp_buf *errmsg);
/* Verifies a pure Ed25519 signature (RFC 8032) with a raw public key. */
bool pdp_ed25519_verify(const uint8_t pub[32], const uint8_t sig[64], const void *msg, size_t len);
/* Reads an Ed25519 public key (PEM public or private key file). */
PDP_MUST_USE enum pdp_err pdp_key_load_public(const char *path, uint8_t ret_pub[32],
					      pdp_buf *errmsg);

/* Load, check and compile a policy directory into bundle bytes (appended
 * to out). Diagnostics to d; PDP_E_INVALID when d has errors. */
PDP_MUST_USE enum pdp_err pdp_policy_compile_dir(const char *dir, const pdp_policy *baseline,
						 pdp_diag *d, pdp_buf *out);

/* Load a policy directory straight into a revision: load, check, compile,
 * load the bytes (the same path as compile-then-serve). Diagnostics to d. */
PDP_MUST_USE enum pdp_err pdp_policy_from_dir(const char *dir, pdp_diag *d,
					      pdp_policy **ret);

pdp_policy *pdp_policy_ref(pdp_policy *p);
void pdp_policy_unref(pdp_policy *p); /* accepts NULL */

const char *pdp_policy_revision(const pdp_policy *p); /* "sha256:<64 hex>" */
bool pdp_policy_is_signed(const pdp_policy *p);
size_t pdp_policy_memory(const pdp_policy *p); /* bytes held */
size_t pdp_policy_nproducts(const pdp_policy *p);
size_t pdp_policy_ngrants(const pdp_policy *p);

/* Roles (pdp_role bits) that mesh.callers gives to a caller identity: the
 * union over every matching glob. */
unsigned pdp_policy_caller_roles(const pdp_policy *p, pdp_str identity);

#endif
