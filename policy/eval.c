/*
 * eval.c -- one decision, exactly as SPEC 3 and its readings in 3.1 say.
 *
 * Design: a decision runs in four steps over a read-only pdp_policy:
 *   1. resolve the request's strings to ids (product, groups, purpose);
 *   2. collect the entries filed under the subject's keys (its id, its
 *      domain, each group) that match the action, purpose and time, and the
 *      product's mesh rules whose subject conditions hold;
 *   3. decide each requested column (deny entries and deny rules first, then
 *      grants and membership, then masks);
 *   4. derive the row filter, the overall decision and the sorted reasons.
 * Everything is allocated from the caller's scratch arena; nothing is
 * written outside it, so any number of threads may decide at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdp/eval.h"
#include "policy_int.h"

struct ctx {
	const pdp_policy *p;
	const pdp_request *req;
	const pdp_rt_product *prod;
	uint32_t prod_idx;
	pdp_arena *a;
	pdp_sid *groups;          /* the subject's known groups, sorted, unique */
	uint32_t ngroups;
	bool cross_domain;
	bool member;
	int purpose;              /* purpose bit, -1 for none */
	const pdp_rt_entry **grants, **denies;
	uint32_t ngrants, ndenies;
	bool *grant_used, *deny_used;
	uint8_t *rule_subj;       /* per product rule: 1 match holds, 2 except holds */
	bool *rule_used;
	bool member_used, default_deny_used;
};

/* Requests carry a handful of groups and entries: insertion sorts beat
 * qsort's call overhead by far at these sizes. */
static void sort_sids(pdp_sid *v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		pdp_sid t = v[i];
		uint32_t j = i;
		for (; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

static void sort_entries(const pdp_rt_entry **v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		const pdp_rt_entry *t = v[i];
		uint32_t j = i;
		for (; j > 0 && v[j - 1]->index > t->index; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

static void resolve_groups(struct ctx *c)
{
	const pdp_request *r = c->req;
	c->groups = pdp_arena_array(c->a, r->ngroups + 1, sizeof(pdp_sid));
	for (size_t i = 0; i < r->ngroups; i++) {
		pdp_sid s = pdp_rt_sid(c->p, r->groups[i]);
		if (s)
			c->groups[c->ngroups++] = s;
	}
	sort_sids(c->groups, c->ngroups);
	uint32_t m = 0;
	for (uint32_t i = 0; i < c->ngroups; i++)
		if (m == 0 || c->groups[m - 1] != c->groups[i])
			c->groups[m++] = c->groups[i];
	c->ngroups = m;
}

static void resolve_membership(struct ctx *c)
{
	const pdp_policy *p = c->p;
	c->cross_domain = !c->req->has_domain ||
			  !pdp_str_eq(c->req->subject_domain, pdp_rt_str(p, c->prod->domain));
	if (c->prod->domain_idx < 0)
		return;
	const pdp_rt_domain *d = &p->domains[c->prod->domain_idx];
	for (uint32_t i = 0; i < c->ngroups && !c->member; i++)
		c->member = pdp_rt_sid_in(d->members, d->nmembers, c->groups[i]);
}

static bool resolve_purpose(struct ctx *c, pdp_buf *errmsg)
{
	c->purpose = -1;
	if (!c->req->has_purpose)
		return true;
	pdp_sid s = pdp_rt_sid(c->p, c->req->purpose);
	for (uint32_t i = 0; s && i < c->p->npurposes; i++) {
		if (c->p->purposes[i] == s) {
			c->purpose = (int)i;
			return true;
		}
	}
	if (errmsg)
		pdp_ignore(pdp_buf_printf(errmsg, "unknown purpose '%.*s' (not declared in the mesh)",
					  (int)c->req->purpose.len, c->req->purpose.p));
	return false;
}

static bool purposes_ok(const struct ctx *c, uint32_t has, uint64_t set)
{
	return !has || (c->purpose >= 0 && ((set >> c->purpose) & 1));
}

static bool entry_matches(const struct ctx *c, const pdp_rt_entry *e)
{
	if (!(e->actions & c->req->action))
		return false;
	if (!purposes_ok(c, e->flags & PDP_ENTRY_HAS_PURPOSES, e->purposes))
		return false;
	if (e->is_deny)
		return true; /* deny entries have no dates */
	return c->req->time >= e->not_before && c->req->time < e->expires;
}

static void collect_key(struct ctx *c, unsigned kind, pdp_sid sid)
{
	uint32_t at = 0;
	if (!sid || !pdp_u64map_get(&c->p->subject_index, pdp_rt_index_key(c->prod_idx, kind, sid), &at))
		return;
	const uint32_t *run = &c->p->entry_refs[at];
	for (uint32_t i = 0; i < run[0]; i++) {
		bool deny = run[1 + i] >> 31;
		uint32_t idx = run[1 + i] & 0x7FFFFFFFu;
		const pdp_rt_entry *e = deny ? &c->prod->denies[idx] : &c->prod->grants[idx];
		if (!entry_matches(c, e))
			continue;
		if (deny)
			c->denies[c->ndenies++] = e;
		else
			c->grants[c->ngrants++] = e;
	}
}

static void collect_entries(struct ctx *c)
{
	const pdp_rt_product *prod = c->prod;
	c->grants = pdp_arena_array(c->a, prod->ngrants + 1, sizeof(*c->grants));
	c->denies = pdp_arena_array(c->a, prod->ndenies + 1, sizeof(*c->denies));
	pdp_sid id = pdp_rt_sid(c->p, c->req->subject_id);
	pdp_sid dom = c->req->has_domain ? pdp_rt_sid(c->p, c->req->subject_domain) : 0;
	/* the index is large and probed at random: start every probe's load
	 * first, so the cache misses overlap instead of adding up */
	const pdp_u64map *ix = &c->p->subject_index;
	pdp_u64map_prefetch(ix, pdp_rt_index_key(c->prod_idx, PDP_TO_SUBJECT, id));
	pdp_u64map_prefetch(ix, pdp_rt_index_key(c->prod_idx, PDP_TO_DOMAIN, dom));
	for (uint32_t i = 0; i < c->ngroups; i++)
		pdp_u64map_prefetch(ix, pdp_rt_index_key(c->prod_idx, PDP_TO_GROUP, c->groups[i]));
	collect_key(c, PDP_TO_SUBJECT, id);
	collect_key(c, PDP_TO_DOMAIN, dom);
	for (uint32_t i = 0; i < c->ngroups; i++)
		collect_key(c, PDP_TO_GROUP, c->groups[i]);
	sort_entries(c->grants, c->ngrants); /* policy order */
	sort_entries(c->denies, c->ndenies);
	c->grant_used = pdp_arena_array(c->a, c->ngrants + 1, sizeof(bool));
	c->deny_used = pdp_arena_array(c->a, c->ndenies + 1, sizeof(bool));
}

/* The conditions of a rule block that do not depend on the column. */
static bool cond_subject(const struct ctx *c, const pdp_rt_cond *k)
{
	if ((k->keys & PDP_K_ACTIONS) && !(k->actions & c->req->action))
		return false;
	if ((k->keys & PDP_K_PRODUCT_DOMAIN) && !pdp_rt_sid_in(k->pdomains, k->npdomains, c->prod->domain))
		return false;
	if ((k->keys & PDP_K_PRODUCT_CLASS) && c->prod->level < k->min_plevel)
		return false;
	if ((k->keys & PDP_K_CROSS_DOMAIN) && (int32_t)c->cross_domain != k->cross_domain)
		return false;
	if (k->keys & PDP_K_SUBJECT_GROUPS) {
		bool any = false;
		for (uint32_t i = 0; i < c->ngroups && !any; i++)
			any = pdp_rt_sid_in(k->groups, k->ngroups, c->groups[i]);
		if (!any)
			return false;
	}
	return purposes_ok(c, k->keys & PDP_K_PURPOSES, k->purposes);
}

/* Column conditions; col == NULL (describe, unknown column) never matches
 * a column condition. Shared with the grant export (policy_int.h). */
bool pdp_rt_cond_column(const pdp_rt_cond *k, const pdp_rt_column *col)
{
	if (!(k->keys & PDP_K_COLUMN_KEYS))
		return true;
	if (!col)
		return false;
	if (k->keys & PDP_K_COLUMN_PII) {
		if (col->pii < 0)
			return false;
		if (!k->pii_any && !((k->pii_cats >> col->pii) & 1))
			return false;
	}
	return !(k->keys & PDP_K_COLUMN_CLASS) || col->level >= k->min_clevel;
}

static void eval_rule_subjects(struct ctx *c)
{
	const pdp_rt_product *prod = c->prod;
	c->rule_subj = pdp_arena_array(c->a, prod->nrules + 1, 1);
	c->rule_used = pdp_arena_array(c->a, prod->nrules + 1, sizeof(bool));
	for (uint32_t k = 0; k < prod->nrules; k++) {
		const pdp_rt_rule *r = &c->p->rules[prod->rules[k]];
		if (cond_subject(c, &r->match))
			c->rule_subj[k] |= 1;
		if (r->has_except && cond_subject(c, &r->except))
			c->rule_subj[k] |= 2;
	}
}

static bool rule_matches(const struct ctx *c, uint32_t k, const pdp_rt_column *col)
{
	const pdp_rt_rule *r = &c->p->rules[c->prod->rules[k]];
	if (!(c->rule_subj[k] & 1) || !pdp_rt_cond_column(&r->match, col))
		return false;
	return !((c->rule_subj[k] & 2) && pdp_rt_cond_column(&r->except, col));
}

static bool deny_column(struct ctx *c, int ci, const pdp_rt_column *col)
{
	bool denied = false;
	for (uint32_t i = 0; i < c->ndenies; i++) {
		const pdp_rt_entry *e = c->denies[i];
		bool hit = ci < 0 ? (e->flags & PDP_ENTRY_ALL_COLUMNS) != 0 : pdp_bit(e->cols, (uint32_t)ci);
		if (hit)
			denied = c->deny_used[i] = true;
	}
	for (uint32_t k = 0; k < c->prod->nrules; k++) {
		if (c->p->rules[c->prod->rules[k]].is_mask || !rule_matches(c, k, col))
			continue;
		denied = c->rule_used[k] = true;
	}
	return denied;
}

/* Masks of an allowed column (SPEC 3.3, 3.1 "Masking"). */
static enum pdp_mask mask_column(struct ctx *c, const pdp_rt_column *col, bool clear)
{
	bool any_rule = false;
	enum pdp_mask rule_mask = PDP_MASK_NONE;
	for (uint32_t k = 0; k < c->prod->nrules; k++) {
		const pdp_rt_rule *r = &c->p->rules[c->prod->rules[k]];
		if (!r->is_mask || !rule_matches(c, k, col))
			continue;
		any_rule = c->rule_used[k] = true;
		if (pdp_mask_strength(r->mask) > pdp_mask_strength(rule_mask))
			rule_mask = r->mask;
	}
	enum pdp_mask m0 = col->pii >= 0 ? (enum pdp_mask)c->p->pii[col->pii].mask : PDP_MASK_NONE;
	if (!any_rule)
		return clear ? PDP_MASK_NONE : m0;
	return pdp_mask_strength(rule_mask) > pdp_mask_strength(m0) ? rule_mask : m0;
}

static void decide_column(struct ctx *c, pdp_col_result *out)
{
	int ci = out->index;
	const pdp_rt_column *col = ci >= 0 ? &c->prod->cols[ci] : NULL;
	out->access = PDP_ACCESS_DENY;
	out->mask = PDP_MASK_NONE;
	if (!col) {
		c->default_deny_used = true; /* an unknown column */
		return;
	}
	if (deny_column(c, ci, col))
		return;
	bool allowed = false, clear = false;
	for (uint32_t i = 0; i < c->ngrants; i++) {
		const pdp_rt_entry *g = c->grants[i];
		if (!pdp_bit(g->cols, (uint32_t)ci))
			continue;
		allowed = c->grant_used[i] = true;
		clear |= g->clear && pdp_bit(g->clear, (uint32_t)ci);
	}
	if (c->member)
		allowed = c->member_used = true;
	if (!allowed) {
		c->default_deny_used = true;
		return;
	}
	out->mask = mask_column(c, col, clear);
	out->access = out->mask == PDP_MASK_NONE ? PDP_ACCESS_ALLOW : PDP_ACCESS_MASK;
}

static void decide_describe(struct ctx *c, pdp_decision *d)
{
	if (deny_column(c, -1, NULL))
		return;
	for (uint32_t i = 0; i < c->ngrants; i++)
		c->grant_used[i] = true;
	c->member_used = c->member;
	d->allow = c->ngrants > 0 || c->member;
	c->default_deny_used = !d->allow;
}

/* The columns to evaluate, de-duplicated, with their indices. */
static void plan_columns(struct ctx *c, pdp_decision *d)
{
	const pdp_request *r = c->req;
	const pdp_rt_product *prod = c->prod;
	size_t n = r->has_columns ? r->ncolumns : prod->ncols;
	d->cols = pdp_arena_array(c->a, n + 1, sizeof(*d->cols));
	uint64_t *seen = pdp_arena_array(c->a, prod->nwords + 1, sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		pdp_str name = r->has_columns ? r->columns[i] : pdp_rt_str(c->p, prod->cols[i].name);
		int ci = r->has_columns ? pdp_rt_column_find(prod, pdp_rt_sid(c->p, name)) : (int)i;
		if (ci >= 0 && pdp_bit(seen, (uint32_t)ci))
			continue;
		bool dup = false;
		for (size_t j = 0; ci < 0 && j < d->ncols && !dup; j++)
			dup = pdp_str_eq(d->cols[j].name, name);
		if (dup)
			continue;
		if (ci >= 0)
			pdp_bit_set(seen, (uint32_t)ci);
		d->cols[d->ncols++] = (pdp_col_result){ .name = name, .index = ci };
	}
}

static void row_filter(struct ctx *c, pdp_decision *d)
{
	if (c->member_used)
		return;
	size_t len = 0, nused = 0;
	for (uint32_t i = 0; i < c->ngrants; i++) {
		if (!c->grant_used[i])
			continue;
		if (!(c->grants[i]->flags & PDP_ENTRY_HAS_ROW_FILTER))
			return; /* an unfiltered grant: no filter */
		len += pdp_rt_str(c->p, c->grants[i]->row_filter).len + 6;
		nused++;
	}
	if (!nused)
		return;
	char *s = pdp_arena_alloc(c->a, len + 1), *w = s;
	for (uint32_t i = 0; i < c->ngrants; i++) {
		if (!c->grant_used[i])
			continue;
		pdp_str f = pdp_rt_str(c->p, c->grants[i]->row_filter);
		if (w != s) {
			memcpy(w, " OR ", 4);
			w += 4;
		}
		*w++ = '(';
		memcpy(w, f.p, f.len);
		w += f.len;
		*w++ = ')';
	}
	*w = '\0';
	d->has_row_filter = true;
	d->row_filter = (pdp_str){ s, (size_t)(w - s) };
}

/* Copies n bytes to p; returns the end (the reason builders' printf). */
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* "PRODUCT#grants[I]" or "PRODUCT#deny[I]", for an entry without an id. */
static pdp_str entry_reason(struct ctx *c, const pdp_rt_entry *e)
{
	if (e->id)
		return pdp_rt_str(c->p, e->id);
	pdp_str prod = pdp_rt_str(c->p, c->prod->name);
	char idx[20];
	size_t ni = pdp_dec_u64(idx, e->index);
	const char *kind = e->is_deny ? "#deny[" : "#grants[";
	char *s = pdp_arena_alloc(c->a, prod.len + 32), *p = s;
	p = put(p, prod.p, prod.len);
	p = put(p, kind, strlen(kind));
	p = put(p, idx, ni);
	p = put(p, "]", 1);
	return (pdp_str){ s, (size_t)(p - s) };
}

/* "mesh#rules[ID]". */
static pdp_str rule_reason(struct ctx *c, const pdp_rt_rule *r)
{
	pdp_str id = pdp_rt_str(c->p, r->id);
	char *s = pdp_arena_alloc(c->a, id.len + 16), *p = s;
	p = put(p, "mesh#rules[", 11);
	p = put(p, id.p, id.len);
	p = put(p, "]", 1);
	return (pdp_str){ s, (size_t)(p - s) };
}

static int str_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(*(const pdp_str *)a, *(const pdp_str *)b);
}

static void reasons(struct ctx *c, pdp_decision *d)
{
	size_t cap = c->ngrants + c->ndenies + c->prod->nrules + 2;
	pdp_str *v = pdp_arena_array(c->a, cap, sizeof(*v));
	size_t n = 0;
	for (uint32_t i = 0; i < c->ngrants; i++)
		if (c->grant_used[i])
			v[n++] = entry_reason(c, c->grants[i]);
	for (uint32_t i = 0; i < c->ndenies; i++)
		if (c->deny_used[i])
			v[n++] = entry_reason(c, c->denies[i]);
	for (uint32_t k = 0; k < c->prod->nrules; k++)
		if (c->rule_used[k])
			v[n++] = rule_reason(c, &c->p->rules[c->prod->rules[k]]);
	if (c->member_used)
		v[n++] = PDP_STR("domain_member");
	if (c->default_deny_used)
		v[n++] = PDP_STR("default_deny");
	qsort(v, n, sizeof(*v), str_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || !pdp_str_eq(v[m - 1], v[i]))
			v[m++] = v[i];
	d->reasons = v;
	d->nreasons = m;
}

static void decide_columns(struct ctx *c, pdp_decision *d)
{
	plan_columns(c, d);
	size_t allowed = 0;
	for (size_t i = 0; i < d->ncols; i++) {
		decide_column(c, &d->cols[i]);
		allowed += d->cols[i].access != PDP_ACCESS_DENY;
	}
	d->allow = c->req->has_columns ? allowed == d->ncols && d->ncols > 0 : allowed > 0;
	row_filter(c, d);
}

static void unknown_product(pdp_decision *d)
{
	static pdp_str reason = { "unknown_product", 15 };
	d->reasons = &reason;
	d->nreasons = 1;
}

enum pdp_err pdp_eval_decide(const pdp_policy *p, const pdp_request *req, pdp_arena *scratch,
			     pdp_decision *ret, pdp_buf *errmsg)
{
	struct ctx c = { .p = p, .req = req, .a = scratch };
	pdp_decision d = { .revision = p->revision };
	if (!resolve_purpose(&c, errmsg))
		PDP_BAIL(PDP_E_INVALID);
	c.prod = pdp_rt_product_find(p, pdp_rt_sid(p, req->product));
	if (!c.prod) {
		unknown_product(&d);
		*ret = d;
		return PDP_OK;
	}
	c.prod_idx = (uint32_t)(c.prod - p->products);
	__builtin_prefetch(c.prod->cols);
	__builtin_prefetch(c.prod->col_sids);
	__builtin_prefetch(c.prod->rules);
	resolve_groups(&c);
	resolve_membership(&c);
	collect_entries(&c);
	eval_rule_subjects(&c);
	if (req->action == PDP_ACT_DESCRIBE)
		decide_describe(&c, &d);
	else
		decide_columns(&c, &d);
	reasons(&c, &d);
	*ret = d;
	return PDP_OK;
}

const char *pdp_access_name(enum pdp_access a)
{
	switch (a) {
	case PDP_ACCESS_ALLOW: return "allow";
	case PDP_ACCESS_MASK: return "mask";
	default: return "deny";
	}
}
