/*
 * mask_sql.c -- SQL expressions for masks (interim: the server branch
 * replaces this file with the full, PostgreSQL-tested version).
 */
#include "pdp/eval.h"

enum pdp_err pdp_mask_sql(enum pdp_mask m, enum pdp_dialect d, pdp_str column, pdp_str salt,
			  pdp_buf *out)
{
	(void)d;
	(void)salt;
	PDP_TRY(pdp_buf_printf(out, "%s(", pdp_mask_name(m)));
	PDP_TRY(pdp_buf_add_json_str(out, column));
	return pdp_buf_addc(out, ')');
}
