/*
 * export_json.c -- the flat, tool-neutral list of effective grants.
 *
 * Design: one item per group with a principal ARN, product and source (a
 * grant to the group active at T, or membership of the owning domain),
 * after deny entries, mesh rules and masking as export_int.h reads them:
 * `clear_columns` are returned in clear in every situation the grant
 * applies to (its purposes, any subject domain), `masked_columns` maps the
 * columns that are returned but may be masked to the strongest mask that
 * can apply, `withheld_columns` are those a deny may remove in some
 * situation (only the gateway can decide them). `purposes`, `row_filter`,
 * `not_before` and `expires` are the grant's own, for a tool that can
 * enforce them. Sorted by group, product, then policy order (membership
 * last).
 *
 * Ownership: scratch in a local arena; the JSON is dumped into out.
 */
#include <string.h>

#include "export_int.h"

static json_t *masked_json(const pdp_policy *p, const ex_access *acc, const ex_source *s)
{
	json_t *o = json_object();
	for (uint32_t i = 0; i < acc->prod->ncols; i++)
		if (pdp_bit(s->masked, i)) {
			pdp_str name = pdp_rt_str(p, acc->prod->cols[i].name);
			json_object_setn_new(o, name.p, name.len,
					     json_string(pdp_mask_name((enum pdp_mask)s->mask[i])));
		}
	return o;
}

static json_t *purposes_json(const pdp_policy *p, const pdp_rt_entry *g)
{
	if (!g || !(g->flags & PDP_ENTRY_HAS_PURPOSES))
		return json_null();
	json_t *arr = json_array();
	for (uint32_t i = 0; i < p->npurposes; i++)
		if ((g->purposes >> i) & 1)
			json_array_append_new(arr, ex_json_sid(p, p->purposes[i]));
	return arr;
}

static json_t *date_json(int64_t t, bool has)
{
	if (!has)
		return json_null();
	char d[16];
	ex_date_str(t, d);
	return json_string(d);
}

static json_t *table_json(const pdp_policy *p, const pdp_rt_product *prod)
{
	const pdp_rt_port *port = ex_table_port(p, prod);
	if (!port)
		return json_null();
	json_t *t = json_object();
	json_object_set_new(t, "catalog", port->catalog ? ex_json_sid(p, port->catalog) : json_null());
	json_object_set_new(t, "database", ex_json_sid(p, port->database));
	json_object_set_new(t, "table", ex_json_sid(p, port->table));
	return t;
}

static bool empty_bits(const uint64_t *b, uint32_t n)
{
	for (uint32_t w = 0; w < n; w++)
		if (b[w])
			return false;
	return true;
}

static json_t *item_json(const pdp_policy *p, const ex_access *acc, const ex_source *s,
			 pdp_arena *a)
{
	const pdp_rt_entry *g = s->grant;
	json_t *o = json_object();
	json_object_set_new(o, "group", ex_json_sid(p, acc->prin.sid));
	json_object_set_new(o, "principal", ex_json_sid(p, acc->prin.arn));
	json_object_set_new(o, "product", ex_json_sid(p, acc->prod->name));
	json_object_set_new(o, "table", table_json(p, acc->prod));
	json_object_set_new(o, "source", ex_json_str(ex_source_id(p, acc->prod, g, a)));
	json_object_set_new(o, "describe", json_boolean(s->describe));
	json_object_set_new(o, "clear_columns", ex_json_columns(p, acc->prod, s->clear));
	json_object_set_new(o, "masked_columns", masked_json(p, acc, s));
	json_object_set_new(o, "withheld_columns", ex_json_columns(p, acc->prod, s->withheld));
	bool filtered = g && (g->flags & PDP_ENTRY_HAS_ROW_FILTER);
	json_object_set_new(o, "row_filter", filtered ? ex_json_sid(p, g->row_filter) : json_null());
	json_object_set_new(o, "purposes", purposes_json(p, g));
	json_object_set_new(o, "not_before", date_json(g ? g->not_before : 0,
						       g && (g->flags & PDP_ENTRY_HAS_NOT_BEFORE)));
	json_object_set_new(o, "expires", date_json(g ? g->expires : 0,
						    g && (g->flags & PDP_ENTRY_HAS_EXPIRES)));
	return o;
}

enum pdp_err ex_export_json(const pdp_policy *p, const pdp_grants_opts *o, pdp_buf *out,
			    pdp_buf *notes)
{
	pdp_arena *a = pdp_arena_new(1 << 16);
	ex_lf_model m; /* for the notes on what is skipped (same as the lake's) */
	ex_lf_build(p, o->time, false, a, notes, &m);
	ex_unmapped_notes(p, &m);
	json_t *items = json_array();
	for (uint32_t i = 0; i < m.nprin; i++) {
		const ex_principal *pr = &m.prin[i];
		for (uint32_t j = 0; pr->arn && j < p->nproducts; j++) {
			ex_access acc;
			ex_access_eval(p, o->time, pr, &p->products[j], NULL, a, &acc);
			for (uint32_t k = 0; k < acc.nsources; k++) {
				const ex_source *s = &acc.sources[k];
				uint32_t nw = acc.prod->nwords;
				if (!s->describe && empty_bits(s->clear, nw) && empty_bits(s->masked, nw) &&
				    empty_bits(s->withheld, nw))
					continue;
				json_array_append_new(items, item_json(p, &acc, s, a));
			}
		}
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "meshpdp", ex_json_header(p, "json", o));
	json_object_set_new(doc, "grants", items);
	ex_note_valid_until(p, o->time, notes);
	pdp_arena_free(a);
	return ex_json_dump(doc, out);
}
