/*
 * explain.c -- `pdp eval --explain`: why a decision came out as it did, for
 * people. Lists what the subject resolved to, every entry of the product
 * filed under the subject (with why it did or did not match), the mesh rules
 * that apply to the product, and each column's outcome.
 */
#include <stdio.h>
#include <string.h>

#include "pdp/eval.h"
#include "policy_int.h"

#define OUT(...) PDP_TRY(pdp_buf_printf(out, __VA_ARGS__))
#define S(s) (int)(s).len, (s).p

static const char *const to_names[] = { "group", "domain", "subject" };

static enum pdp_err explain_subject(const pdp_policy *p, const pdp_request *r,
				    const pdp_rt_product *prod, pdp_buf *out)
{
	pdp_str dom = pdp_rt_str(p, prod->domain);
	OUT("product %.*s: domain %.*s, classification %.*s, %u columns, %u grants, %u denies\n",
	    S(pdp_rt_str(p, prod->name)), S(dom), S(pdp_rt_str(p, p->classes[prod->level])),
	    prod->ncols, prod->ngrants, prod->ndenies);
	OUT("subject %.*s: domain %.*s (%s), groups:", S(r->subject_id),
	    S(r->has_domain ? r->subject_domain : PDP_STR("(none)")),
	    r->has_domain && pdp_str_eq(r->subject_domain, dom) ? "same domain" : "cross-domain");
	const pdp_rt_domain *d = prod->domain_idx >= 0 ? &p->domains[prod->domain_idx] : NULL;
	for (size_t i = 0; i < r->ngroups; i++) {
		pdp_sid g = pdp_rt_sid(p, r->groups[i]);
		bool member = d && g && pdp_rt_sid_in(d->members, d->nmembers, g);
		OUT(" %.*s%s", S(r->groups[i]), member ? " (member of the product's domain)" : "");
	}
	OUT("\naction %s, purpose %.*s, time %lld\n", pdp_action_name(r->action),
	    S(r->has_purpose ? r->purpose : PDP_STR("(none)")), (long long)r->time);
	return PDP_OK;
}

static const char *entry_miss(const pdp_request *r, const pdp_rt_entry *e, int purpose)
{
	if (!(e->actions & r->action))
		return "action not granted";
	if ((e->flags & PDP_ENTRY_HAS_PURPOSES) && (purpose < 0 || !((e->purposes >> purpose) & 1)))
		return "purpose does not match";
	if (!e->is_deny && r->time < e->not_before)
		return "not yet active (not_before)";
	if (!e->is_deny && r->time >= e->expires)
		return "expired";
	return NULL;
}

static bool subject_has_key(const pdp_policy *p, const pdp_request *r, const pdp_rt_entry *e)
{
	pdp_str to = pdp_rt_str(p, e->to);
	if (e->to_kind == PDP_TO_SUBJECT)
		return pdp_str_eq(r->subject_id, to);
	if (e->to_kind == PDP_TO_DOMAIN)
		return r->has_domain && pdp_str_eq(r->subject_domain, to);
	for (size_t i = 0; i < r->ngroups; i++)
		if (pdp_str_eq(r->groups[i], to))
			return true;
	return false;
}

static enum pdp_err explain_entries(const pdp_policy *p, const pdp_request *r,
				    const pdp_rt_product *prod, const pdp_rt_entry *v, uint32_t n,
				    int purpose, pdp_buf *out)
{
	for (uint32_t i = 0; i < n; i++) {
		const pdp_rt_entry *e = &v[i];
		if (!subject_has_key(p, r, e))
			continue;
		const char *miss = entry_miss(r, e, purpose);
		OUT("  %s %.*s#%s[%u]%s%.*s: to %s %.*s, %s\n", e->is_deny ? "deny " : "grant",
		    S(pdp_rt_str(p, prod->name)), e->is_deny ? "deny" : "grants", e->index,
		    e->id ? " id " : "", S(pdp_rt_str(p, e->id)), to_names[e->to_kind],
		    S(pdp_rt_str(p, e->to)), miss ? miss : "MATCHES");
	}
	return PDP_OK;
}

static enum pdp_err explain_rules(const pdp_policy *p, const pdp_rt_product *prod, pdp_buf *out)
{
	if (!prod->nrules)
		return pdp_buf_adds(out, "mesh rules: none applies to this product\n");
	OUT("mesh rules whose product conditions hold:");
	for (uint32_t k = 0; k < prod->nrules; k++) {
		const pdp_rt_rule *ru = &p->rules[prod->rules[k]];
		OUT(" %.*s (%s)", S(pdp_rt_str(p, ru->id)), ru->is_mask ? "mask" : "deny");
	}
	return pdp_buf_adds(out, "\n");
}

static enum pdp_err explain_columns(const pdp_policy *p, const pdp_rt_product *prod,
				    const pdp_decision *dec, pdp_buf *out)
{
	for (size_t i = 0; i < dec->ncols; i++) {
		const pdp_col_result *c = &dec->cols[i];
		OUT("  column %.*s: %s", S(c->name), pdp_access_name(c->access));
		if (c->access == PDP_ACCESS_MASK)
			OUT(" (%s)", pdp_mask_name(c->mask));
		if (c->index < 0)
			OUT(" (not a column of the product)");
		else if (prod->cols[c->index].pii >= 0)
			OUT(" [pii %.*s, default mask %s]", S(pdp_rt_str(p, p->pii[prod->cols[c->index].pii].name)),
			    pdp_mask_name((enum pdp_mask)p->pii[prod->cols[c->index].pii].mask));
		OUT("\n");
	}
	return PDP_OK;
}

enum pdp_err pdp_eval_explain(const pdp_policy *p, const pdp_request *r, const pdp_decision *dec,
			      pdp_buf *out)
{
	const pdp_rt_product *prod = pdp_rt_product_find(p, pdp_rt_sid(p, r->product));
	if (!prod) {
		OUT("product %.*s is not in revision %s: deny (unknown_product)\n", S(r->product), p->revision);
		return PDP_OK;
	}
	int purpose = -1;
	pdp_sid ps = pdp_rt_sid(p, r->purpose);
	for (uint32_t i = 0; r->has_purpose && i < p->npurposes; i++)
		if (p->purposes[i] == ps)
			purpose = (int)i;
	PDP_TRY(explain_subject(p, r, prod, out));
	OUT("entries filed under this subject:\n");
	PDP_TRY(explain_entries(p, r, prod, prod->denies, prod->ndenies, purpose, out));
	PDP_TRY(explain_entries(p, r, prod, prod->grants, prod->ngrants, purpose, out));
	PDP_TRY(explain_rules(p, prod, out));
	PDP_TRY(explain_columns(p, prod, dec, out));
	OUT("decision %s; row filter %.*s; reasons:", dec->allow ? "allow" : "deny",
	    S(dec->has_row_filter ? dec->row_filter : PDP_STR("none")));
	for (size_t i = 0; i < dec->nreasons; i++)
		OUT(" %.*s", S(dec->reasons[i]));
	return pdp_buf_adds(out, "\n");
}
