/*
 * export_check.c -- the grant export's compile-time checks, run by `pdp
 * check` and `pdp compile` (pdp_src_check calls pdp_grants_check_src).
 *
 * Design: only grants the lake could carry are looked at -- to a group,
 * without `purposes` (a purpose-bound grant is gateway-only anyway), with
 * read or describe -- and only when the mesh declares `principals` (a mesh
 * that does not export is not nagged). Two warnings, at the offending node:
 *   - the group has no entry in mesh.principals: the export skips the
 *     grant (and says so on stderr);
 *   - the row_filter is outside the Lake Formation PartiQL subset
 *     (lf_filter.c): the export leaves the grant to the gateway rather
 *     than widen it.
 * Warnings, not errors: the policy is still right for the gateways.
 *
 * Ownership: nothing kept; diagnostics go to d.
 */
#include "pdp/grants.h"

#include <string.h>

struct src_cols {
	const pdp_src_product *p;
};

/* Same matching as the export (export.c lookup_column). */
static bool src_column(void *ctx, pdp_str name, bool quoted, pdp_str *ret_type)
{
	const pdp_src_product *p = ((const struct src_cols *)ctx)->p;
	int found = -1;
	for (size_t i = 0; i < p->ncolumns; i++) {
		pdp_str cn = p->columns[i].name;
		if (quoted ? !pdp_str_eq(cn, name) : !pdp_str_eq_nocase(cn, name))
			continue;
		if (found >= 0)
			return false;
		found = (int)i;
	}
	if (found < 0)
		return false;
	*ret_type = p->columns[found].type;
	return true;
}

static bool known_group(const pdp_src_mesh *m, pdp_str group)
{
	for (size_t i = 0; i < m->ngroups; i++)
		if (pdp_str_eq(m->groups[i].name, group))
			return true;
	return false;
}

static bool has_principal(const pdp_src_mesh *m, pdp_str group)
{
	for (size_t i = 0; i < m->nprincipals; i++)
		if (pdp_str_eq(m->principals[i].group, group))
			return true;
	return false;
}

static bool blank(pdp_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] != ' ' && s.p[i] != '\t' && s.p[i] != '\n' && s.p[i] != '\r')
			return false;
	return true;
}

static void check_grant(const pdp_src_mesh *m, const pdp_src_product *p, const pdp_src_entry *e,
			pdp_diag *d)
{
	if (!e->y || e->y->type != PDP_Y_MAP || e->to_kind != PDP_TO_GROUP || e->purposes.set ||
	    !(e->actions & (PDP_ACT_READ | PDP_ACT_DESCRIBE)) || !e->to.len)
		return;
	const pdp_ynode *y = e->to_y;
	if (y && known_group(m, e->to) && !has_principal(m, e->to)) /* unknown: an error already */
		pdp_diag_warn(d, y->file, y->line, y->col, "group '%.*s' has no principal in "
			      "mesh.principals: the grant export skips this grant",
			      (int)e->to.len, e->to.p);
	if (!e->has_row_filter || !(e->actions & PDP_ACT_READ) || blank(e->row_filter) ||
	    !e->row_filter_y)
		return;
	pdp_buf why;
	pdp_buf_init(&why, 4096);
	struct src_cols sc = { p };
	y = e->row_filter_y;
	if (!pdp_lf_filter_ok(e->row_filter, src_column, &sc, &why))
		pdp_diag_warn(d, y->file, y->line, y->col, "row_filter is outside the Lake Formation "
			      "PartiQL subset (%s): the grant export leaves this grant to the gateway",
			      why.data ? why.data : "");
	pdp_buf_done(&why);
}

void pdp_grants_check_src(const pdp_src *src, pdp_diag *d)
{
	if (!src->has_mesh || src->mesh.nprincipals == 0)
		return;
	for (size_t i = 0; i < src->nproducts; i++) {
		const pdp_src_product *p = &src->products[i];
		for (size_t j = 0; j < p->ngrants; j++)
			check_grant(&src->mesh, p, &p->grants[j], d);
	}
}
