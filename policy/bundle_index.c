/*
 * bundle_index.c -- the decision structures of a loaded revision, and the
 * small lookups the evaluator and the export use.
 *
 * Built once per load (read-only afterwards):
 *   - strmap: every string → sid, to turn request strings into ids;
 *   - per product: (sid, column) pairs sorted by sid; column bitsets for
 *     each entry (`cols`, and `clear` = cols ∩ unmasked); the mesh rules
 *     whose product conditions hold for it (`rules`);
 *   - subject_index: (product, to_kind, to_sid) → run in entry_refs.
 */
#include <stdlib.h>
#include <string.h>

#include "bundle_int.h"

uint64_t pdp_rt_index_key(uint32_t product, unsigned kind, pdp_sid sid)
{
	return (uint64_t)product << 34 | (uint64_t)kind << 32 | sid;
}

pdp_sid pdp_rt_sid(const pdp_policy *p, pdp_str s)
{
	uint32_t v = 0;
	if (s.len == 0 || !pdp_strmap_get(&p->strmap, s, &v))
		return 0;
	return v;
}

bool pdp_rt_sid_in(const pdp_sid *v, uint32_t n, pdp_sid s)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v[mid] == s)
			return true;
		if (v[mid] < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

const pdp_rt_product *pdp_rt_product_find(const pdp_policy *p, pdp_sid name)
{
	if (!name || name >= p->nstrs || !p->sid_product[name])
		return NULL;
	return &p->products[p->sid_product[name] - 1];
}

const pdp_rt_domain *pdp_rt_domain_find(const pdp_policy *p, pdp_sid name)
{
	uint32_t lo = 0, hi = p->ndomains;
	while (name && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->domains[mid].name == name)
			return &p->domains[mid];
		if (p->domains[mid].name < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int pdp_rt_column_find(const pdp_rt_product *prod, pdp_sid name)
{
	if (!prod->col_sids) { /* small schema: a scan is as fast */
		for (uint32_t i = 0; name && i < prod->ncols; i++)
			if (prod->cols[i].name == name)
				return (int)i;
		return -1;
	}
	uint32_t lo = 0, hi = prod->ncols;
	while (name && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		pdp_sid s = prod->col_sids[mid];
		if (s == name)
			return (int)prod->col_idx[mid];
		if (s < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int pair_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

#define COLUMN_SCAN_MAX 8

/* Sorted (sid, index) pairs for schemas too wide to scan; refuses duplicate
 * column names either way. */
static bool build_columns(pdp_policy *p, pdp_rt_product *prod)
{
	uint32_t *v = pdp_xcalloc(2 * (size_t)prod->ncols + 2, sizeof(uint32_t));
	for (uint32_t i = 0; i < prod->ncols; i++) {
		v[2 * i] = prod->cols[i].name;
		v[2 * i + 1] = i;
	}
	qsort(v, prod->ncols, 2 * sizeof(uint32_t), pair_cmp);
	bool ok = true;
	for (uint32_t i = 1; i < prod->ncols; i++)
		ok &= v[2 * i] != v[2 * i - 2];
	if (ok && prod->ncols > COLUMN_SCAN_MAX) {
		prod->col_sids = pdp_arena_alloc(p->arena, prod->ncols * sizeof(*prod->col_sids));
		prod->col_idx = pdp_arena_alloc(p->arena, prod->ncols * sizeof(*prod->col_idx));
		for (uint32_t i = 0; i < prod->ncols; i++) {
			prod->col_sids[i] = v[2 * i];
			prod->col_idx[i] = (uint16_t)v[2 * i + 1];
		}
	}
	free(v);
	return ok;
}

/* "*" covers every column; `clear` becomes cols ∩ unmasked. */
static void build_entry_bits(const pdp_rt_product *prod, pdp_rt_entry *e)
{
	if (e->flags & PDP_ENTRY_ALL_COLUMNS)
		for (uint32_t i = 0; i < prod->ncols; i++)
			pdp_bit_set(e->cols, i);
	for (uint32_t w = 0; e->clear && w < prod->nwords; w++)
		e->clear[w] &= e->cols[w];
}

/* The product-level conditions of a rule's `match` (domain, class). */
static bool product_conds_hold(const pdp_rt_cond *c, const pdp_rt_product *prod)
{
	if ((c->keys & PDP_K_PRODUCT_DOMAIN) && !pdp_rt_sid_in(c->pdomains, c->npdomains, prod->domain))
		return false;
	if ((c->keys & PDP_K_PRODUCT_CLASS) && prod->level < c->min_plevel)
		return false;
	return true;
}

static void build_rules(pdp_policy *p, pdp_rt_product *prod)
{
	prod->rules = pdp_arena_array(p->arena, p->nrules + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < p->nrules; i++)
		if (product_conds_hold(&p->rules[i].match, prod))
			prod->rules[prod->nrules++] = i;
}

/* Files every entry under its (product, kind, sid) key: count, then fill. */
static void build_subject_index(pdp_policy *p)
{
	size_t nentries = 0;
	for (uint32_t i = 0; i < p->nproducts; i++)
		nentries += p->products[i].ngrants + p->products[i].ndenies;
	pdp_u64map_init(&p->subject_index, nentries);
	uint32_t *counts = pdp_xcalloc(nentries + 1, sizeof(uint32_t));
	uint32_t nkeys = 0;
	for (uint32_t i = 0; i < p->nproducts; i++) {
		const pdp_rt_product *prod = &p->products[i];
		for (uint32_t j = 0; j < prod->ngrants + prod->ndenies; j++) {
			const pdp_rt_entry *e = j < prod->ngrants ? &prod->grants[j] : &prod->denies[j - prod->ngrants];
			uint32_t *slot = pdp_u64map_slot(&p->subject_index,
							 pdp_rt_index_key(i, e->to_kind, e->to), nkeys);
			if (*slot == nkeys)
				nkeys++;
			counts[*slot]++;
		}
	}
	/* offsets: run k starts with its length */
	uint32_t *start = pdp_xcalloc(nkeys + 1, sizeof(uint32_t));
	size_t off = 0;
	for (uint32_t k = 0; k < nkeys; k++) {
		start[k] = (uint32_t)off;
		off += 1 + counts[k];
	}
	p->entry_refs = pdp_xcalloc(off + 1, sizeof(uint32_t));
	p->nentry_refs = off + 1;
	for (size_t s = 0; s < p->subject_index.cap; s++)
		if (p->subject_index.slots[s].key)
			p->subject_index.slots[s].val = start[p->subject_index.slots[s].val];
	for (uint32_t i = 0; i < p->nproducts; i++) {
		const pdp_rt_product *prod = &p->products[i];
		for (uint32_t j = 0; j < prod->ngrants + prod->ndenies; j++) {
			bool deny = j >= prod->ngrants;
			const pdp_rt_entry *e = deny ? &prod->denies[j - prod->ngrants] : &prod->grants[j];
			uint32_t at = 0;
			PDP_BUG_ON(!pdp_u64map_get(&p->subject_index, pdp_rt_index_key(i, e->to_kind, e->to), &at));
			uint32_t *run = &p->entry_refs[at];
			run[1 + run[0]++] = (deny ? 1u << 31 : 0) | e->index;
		}
	}
	free(start);
	free(counts);
}

static void build_strmap(pdp_policy *p)
{
	pdp_strmap_init(&p->strmap, p->nstrs);
	for (uint32_t i = 1; i < p->nstrs; i++)
		pdp_strmap_put(&p->strmap, p->strs[i], i);
	p->sid_product = pdp_arena_array(p->arena, p->nstrs + 1, sizeof(uint32_t));
	for (uint32_t i = 0; i < p->nproducts; i++)
		p->sid_product[p->products[i].name] = i + 1;
}

enum pdp_err pdp_bundle_build_index(pdp_policy *p, pdp_buf *errmsg)
{
	build_strmap(p);
	for (uint32_t i = 0; i < p->nproducts; i++) {
		pdp_rt_product *prod = &p->products[i];
		if (!build_columns(p, prod)) {
			if (errmsg)
				pdp_ignore(pdp_buf_printf(errmsg, "corrupt bundle: duplicate column in %s",
							  pdp_rt_str(p, prod->name).p));
			PDP_BAIL(PDP_E_CORRUPT);
		}
		const pdp_rt_domain *d = pdp_rt_domain_find(p, prod->domain);
		prod->domain_idx = d ? (int32_t)(d - p->domains) : -1;
		for (uint32_t j = 0; j < prod->ngrants; j++)
			build_entry_bits(prod, &prod->grants[j]);
		for (uint32_t j = 0; j < prod->ndenies; j++)
			build_entry_bits(prod, &prod->denies[j]);
		build_rules(p, prod);
	}
	build_subject_index(p);
	return PDP_OK;
}

const char *pdp_policy_revision(const pdp_policy *p)
{
	return p->revision;
}

bool pdp_policy_is_signed(const pdp_policy *p)
{
	return p->is_signed;
}

size_t pdp_policy_memory(const pdp_policy *p)
{
	return pdp_arena_reserved(p->arena) + sizeof(*p) +
	       p->strmap.cap * sizeof(struct pdp_strmap_slot) +
	       p->subject_index.cap * sizeof(struct pdp_u64map_slot) +
	       p->nentry_refs * sizeof(uint32_t);
}

size_t pdp_policy_nproducts(const pdp_policy *p)
{
	return p->nproducts;
}

size_t pdp_policy_ngrants(const pdp_policy *p)
{
	return p->ngrants_total;
}

unsigned pdp_policy_caller_roles(const pdp_policy *p, pdp_str identity)
{
	unsigned roles = 0;
	for (uint32_t i = 0; i < p->ncallers; i++)
		if (pdp_glob_match(pdp_rt_str(p, p->callers[i].pattern), identity, false))
			roles |= p->callers[i].roles;
	return roles;
}
