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
	uint32_t lo = 0, hi = p->nproducts;
	while (name && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->products[mid].name == name)
			return &p->products[mid];
		if (p->products[mid].name < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
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
	uint32_t lo = 0, hi = prod->ncols;
	while (name && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		pdp_sid s = prod->col_lookup[2 * mid];
		if (s == name)
			return (int)prod->col_lookup[2 * mid + 1];
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

static bool build_columns(pdp_policy *p, pdp_rt_product *prod)
{
	prod->col_lookup = pdp_arena_array(p->arena, 2 * (size_t)prod->ncols + 2, sizeof(uint32_t));
	for (uint32_t i = 0; i < prod->ncols; i++) {
		prod->col_lookup[2 * i] = prod->cols[i].name;
		prod->col_lookup[2 * i + 1] = i;
	}
	qsort(prod->col_lookup, prod->ncols, 2 * sizeof(uint32_t), pair_cmp);
	for (uint32_t i = 1; i < prod->ncols; i++)
		if (prod->col_lookup[2 * i] == prod->col_lookup[2 * i - 2])
			return false; /* duplicate column name */
	return true;
}

static uint64_t *bitset_of(pdp_policy *p, const pdp_rt_product *prod, const uint32_t *v, uint32_t n)
{
	uint64_t *b = pdp_arena_array(p->arena, prod->nwords ? prod->nwords : 1, sizeof(uint64_t));
	for (uint32_t i = 0; i < n; i++)
		pdp_bit_set(b, v[i]);
	return b;
}

static void build_entry_bits(pdp_policy *p, const pdp_rt_product *prod, pdp_rt_entry *e)
{
	if (e->flags & PDP_ENTRY_ALL_COLUMNS) {
		e->cols = bitset_of(p, prod, NULL, 0);
		for (uint32_t i = 0; i < prod->ncols; i++)
			pdp_bit_set(e->cols, i);
	} else {
		e->cols = bitset_of(p, prod, e->col_list, e->ncol_list);
	}
	if (!e->nunmasked)
		return;
	e->clear = bitset_of(p, prod, e->unmasked_list, e->nunmasked);
	for (uint32_t w = 0; w < prod->nwords; w++)
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
	for (size_t s = 0; s < p->subject_index.cap; s++)
		if (p->subject_index.keys[s])
			p->subject_index.vals[s] = start[p->subject_index.vals[s]];
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
			build_entry_bits(p, prod, &prod->grants[j]);
		for (uint32_t j = 0; j < prod->ndenies; j++)
			build_entry_bits(p, prod, &prod->denies[j]);
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
	       p->strmap.cap * (sizeof(pdp_str) + 2 * sizeof(uint32_t)) +
	       p->subject_index.cap * (sizeof(uint64_t) + sizeof(uint32_t)) +
	       (p->ngrants_total + p->subject_index.n) * 2 * sizeof(uint32_t);
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
