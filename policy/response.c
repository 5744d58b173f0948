/*
 * response.c -- a pdp_decision as the SPEC 4 response object.
 *
 * Key order is fixed (decision_id, decision, columns, row_filter, reasons,
 * policy_revision, audit_seq) and columns appear in evaluation order, so the
 * same decision always gives the same bytes (the audit log hashes them).
 * Built without printf: this runs for every decision.
 */
#include "pdp/eval.h"

static enum pdp_err column_json(const pdp_col_result *c, const pdp_request *req, pdp_str salt,
				pdp_buf *out)
{
	PDP_TRY(pdp_buf_add_json_str(out, c->name));
	PDP_TRY(pdp_buf_adds(out, ":{\"access\":\""));
	PDP_TRY(pdp_buf_adds(out, pdp_access_name(c->access)));
	PDP_TRY(pdp_buf_addc(out, '"'));
	if (c->access == PDP_ACCESS_MASK) {
		PDP_TRY(pdp_buf_adds(out, ",\"mask\":\""));
		PDP_TRY(pdp_buf_adds(out, pdp_mask_name(c->mask)));
		PDP_TRY(pdp_buf_addc(out, '"'));
		if (req->dialect != PDP_DIALECT_NONE) {
			pdp_buf sql;
			pdp_buf_init(&sql, 1 << 16);
			enum pdp_err e = pdp_mask_sql(c->mask, req->dialect, c->name, salt, &sql);
			if (e == PDP_OK)
				e = pdp_buf_adds(out, ",\"sql\":");
			if (e == PDP_OK)
				e = pdp_buf_add_json_str(out, (pdp_str){ sql.data, sql.len });
			pdp_buf_done(&sql);
			PDP_TRY(e);
		}
	}
	return pdp_buf_addc(out, '}');
}

enum pdp_err pdp_decision_to_json(const pdp_decision *dec, const pdp_request *req,
				  pdp_str decision_id, int64_t audit_seq, pdp_str mask_salt,
				  pdp_buf *out)
{
	PDP_TRY(pdp_buf_addc(out, '{'));
	if (decision_id.len) {
		PDP_TRY(pdp_buf_adds(out, "\"decision_id\":"));
		PDP_TRY(pdp_buf_add_json_str(out, decision_id));
		PDP_TRY(pdp_buf_addc(out, ','));
	}
	PDP_TRY(pdp_buf_adds(out, dec->allow ? "\"decision\":\"allow\",\"columns\":{"
					     : "\"decision\":\"deny\",\"columns\":{"));
	for (size_t i = 0; i < dec->ncols; i++) {
		if (i)
			PDP_TRY(pdp_buf_addc(out, ','));
		PDP_TRY(column_json(&dec->cols[i], req, mask_salt, out));
	}
	PDP_TRY(pdp_buf_adds(out, "},\"row_filter\":"));
	if (dec->has_row_filter)
		PDP_TRY(pdp_buf_add_json_str(out, dec->row_filter));
	else
		PDP_TRY(pdp_buf_adds(out, "null"));
	PDP_TRY(pdp_buf_adds(out, ",\"reasons\":["));
	for (size_t i = 0; i < dec->nreasons; i++) {
		if (i)
			PDP_TRY(pdp_buf_addc(out, ','));
		PDP_TRY(pdp_buf_add_json_str(out, dec->reasons[i]));
	}
	PDP_TRY(pdp_buf_adds(out, "],\"policy_revision\":"));
	PDP_TRY(pdp_buf_add_json_str(out, pdp_str_c(dec->revision)));
	if (audit_seq >= 0) {
		PDP_TRY(pdp_buf_adds(out, ",\"audit_seq\":"));
		PDP_TRY(pdp_buf_add_i64(out, audit_seq));
	}
	return pdp_buf_addc(out, '}');
}
