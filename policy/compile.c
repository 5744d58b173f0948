/*
 * compile.c -- a policy directory to bundle bytes, and to a loaded revision.
 *
 * The one path from YAML to a decision: load → check → compile → load the
 * bytes. `pdp test` and `pdp eval` on a directory go through the bytes too,
 * so what is tested is exactly what a server would load.
 */
#include "pdp/policy.h"

enum pdp_err pdp_policy_compile_dir(const char *dir, const pdp_policy *baseline, pdp_diag *d,
				    pdp_buf *out)
{
	pdp_src *src = NULL;
	PDP_TRY(pdp_src_load_dir(dir, d, &src));
	pdp_src_check(src, baseline, d);
	enum pdp_err e = d->errors ? PDP_E_INVALID : pdp_bundle_compile(src, out);
	if (e != PDP_OK && !d->errors)
		pdp_diag_error(d, dir, 0, 0, "compiling the policy failed: %s", pdp_err_str(e));
	pdp_src_free(src);
	return e;
}

enum pdp_err pdp_policy_from_dir(const char *dir, pdp_diag *d, pdp_policy **ret)
{
	pdp_buf bundle;
	pdp_buf_init(&bundle, PDP_BUNDLE_MAX_SIZE);
	enum pdp_err e = pdp_policy_compile_dir(dir, NULL, d, &bundle);
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	if (e == PDP_OK)
		e = pdp_bundle_load((const uint8_t *)bundle.data, bundle.len, NULL, ret, &msg);
	if (e != PDP_OK && !d->errors)
		pdp_diag_error(d, dir, 0, 0, "loading the compiled bundle failed: %s",
			       msg.len ? msg.data : pdp_err_str(e));
	pdp_buf_done(&msg);
	pdp_buf_done(&bundle);
	return e;
}
