/*
 * bundle_write.c -- pdp_src → canonical bundle bytes (docs/bundle-format.md).
 *
 * Design: the body is written twice by the same code. The first pass only
 * collects every string into a set; the strings are then sorted and given
 * their final ids (sid = rank, "" = 0); the second pass writes the body with
 * those ids. Everything that is a set in the policy language (products,
 * domains, groups, purposes, rules, callers, the columns of an entry, ...)
 * is written sorted; what is ordered (classifications, the columns of a
 * schema, the grants and denies of a product: their index is their id) is
 * written as given. So the body, and its SHA-256 (the revision), depends
 * only on what the policy means, not on file names, order or layout.
 *
 * Ownership: borrows src; appends to the caller's buffer.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

struct writer {
	const pdp_src *src;
	pdp_buf *out;
	bool collect;
	pdp_strmap strs;
	enum pdp_err err;
	pdp_str *purposes;       /* sorted */
	size_t npurposes;
	const pdp_src_pii_cat **pii; /* sorted by name */
	size_t npii;
	pdp_strmap cols;         /* of the product being written */
};

static void w_raw(struct writer *w, const void *p, size_t n)
{
	if (w->err == PDP_OK)
		w->err = pdp_buf_add(w->out, p, n);
}

static void w_u32(struct writer *w, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	w_raw(w, b, 4);
}

static void w_u64(struct writer *w, uint64_t v)
{
	w_u32(w, (uint32_t)v);
	w_u32(w, (uint32_t)(v >> 32));
}

static void w_f64(struct writer *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof(v));
	w_u64(w, v);
}

static pdp_sid sid_of(struct writer *w, pdp_str s)
{
	uint32_t v = 0;
	if (w->collect) {
		pdp_strmap_put(&w->strs, s, 0);
		return 0;
	}
	if (!pdp_strmap_get(&w->strs, s, &v) && w->err == PDP_OK)
		w->err = PDP_E_INVALID;
	return v;
}

static void w_str(struct writer *w, pdp_str s)
{
	w_u32(w, sid_of(w, s));
}

static void bad(struct writer *w)
{
	if (w->err == PDP_OK && !w->collect)
		w->err = PDP_E_INVALID;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Writes a sorted, de-duplicated u32 list. */
static void w_u32_set(struct writer *w, uint32_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), u32_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	w_u32(w, (uint32_t)m);
	for (size_t i = 0; i < m; i++)
		w_u32(w, v[i]);
}

static void w_str_set(struct writer *w, const pdp_strv *sv)
{
	uint32_t *v = pdp_xcalloc(sv->n, sizeof(*v));
	for (size_t i = 0; i < sv->n; i++)
		v[i] = sid_of(w, sv->v[i]);
	w_u32_set(w, v, sv->n);
	free(v);
}

static int str_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(*(const pdp_str *)a, *(const pdp_str *)b);
}

static uint32_t find_sorted(const pdp_str *v, size_t n, pdp_str s)
{
	const pdp_str *hit = bsearch(&s, v, n, sizeof(*v), str_cmp);
	return hit ? (uint32_t)(hit - v) : PDP_NONE_U32;
}

static uint32_t level_of(struct writer *w, pdp_str name)
{
	const pdp_strv *c = &w->src->mesh.classifications;
	for (size_t i = 0; i < c->n; i++)
		if (pdp_str_eq(c->v[i], name))
			return (uint32_t)i;
	bad(w);
	return PDP_NONE_U32;
}

static uint32_t purpose_of(struct writer *w, pdp_str name)
{
	uint32_t i = find_sorted(w->purposes, w->npurposes, name);
	if (i == PDP_NONE_U32)
		bad(w);
	return i;
}

static uint32_t pii_of(struct writer *w, pdp_str name)
{
	for (size_t i = 0; i < w->npii; i++)
		if (pdp_str_eq(w->pii[i]->name, name))
			return (uint32_t)i;
	bad(w);
	return PDP_NONE_U32;
}

static void w_purpose_set(struct writer *w, const pdp_strv *sv)
{
	uint32_t *v = pdp_xcalloc(sv->n, sizeof(*v));
	for (size_t i = 0; i < sv->n; i++)
		v[i] = purpose_of(w, sv->v[i]);
	w_u32_set(w, v, sv->n);
	free(v);
}

static uint32_t min_level(struct writer *w, const pdp_strv *sv)
{
	uint32_t m = PDP_NONE_U32;
	for (size_t i = 0; i < sv->n; i++) {
		uint32_t l = level_of(w, sv->v[i]);
		if (l < m)
			m = l;
	}
	return m;
}

static void w_cond(struct writer *w, const pdp_src_cond *c)
{
	uint32_t keys = 0;
	keys |= c->actions ? PDP_K_ACTIONS : 0;
	keys |= c->product_domain.set ? PDP_K_PRODUCT_DOMAIN : 0;
	keys |= c->product_classification.set ? PDP_K_PRODUCT_CLASS : 0;
	keys |= c->column_pii.set ? PDP_K_COLUMN_PII : 0;
	keys |= c->column_classification.set ? PDP_K_COLUMN_CLASS : 0;
	keys |= c->cross_domain >= 0 ? PDP_K_CROSS_DOMAIN : 0;
	keys |= c->subject_groups.set ? PDP_K_SUBJECT_GROUPS : 0;
	keys |= c->purposes.set ? PDP_K_PURPOSES : 0;
	w_u32(w, keys);
	w_u32(w, c->actions);
	w_str_set(w, &c->product_domain);
	w_u32(w, min_level(w, &c->product_classification));
	uint32_t *cats = pdp_xcalloc(c->column_pii.n, sizeof(*cats));
	size_t ncats = 0;
	bool any = false;
	for (size_t i = 0; i < c->column_pii.n; i++) {
		if (pdp_str_eq_c(c->column_pii.v[i], "any"))
			any = true;
		else
			cats[ncats++] = pii_of(w, c->column_pii.v[i]);
	}
	w_u32(w, any);
	w_u32_set(w, cats, ncats);
	free(cats);
	w_u32(w, min_level(w, &c->column_classification));
	w_u32(w, c->cross_domain >= 0 ? (uint32_t)c->cross_domain : 0);
	w_str_set(w, &c->subject_groups);
	w_purpose_set(w, &c->purposes);
}

static int rule_cmp(const void *a, const void *b)
{
	const pdp_src_rule *x = *(const pdp_src_rule *const *)a;
	const pdp_src_rule *y = *(const pdp_src_rule *const *)b;
	return pdp_str_cmp(x->id, y->id);
}

static void w_rules(struct writer *w)
{
	const pdp_src_mesh *m = &w->src->mesh;
	const pdp_src_rule **v = pdp_xcalloc(m->nrules, sizeof(*v));
	for (size_t i = 0; i < m->nrules; i++)
		v[i] = &m->rules[i];
	qsort(v, m->nrules, sizeof(*v), rule_cmp);
	w_u32(w, (uint32_t)m->nrules);
	for (size_t i = 0; i < m->nrules; i++) {
		w_str(w, v[i]->id);
		w_u32(w, v[i]->is_mask);
		w_u32(w, v[i]->mask);
		w_cond(w, &v[i]->match);
		w_u32(w, v[i]->except.set);
		w_cond(w, &v[i]->except);
	}
	free(v);
}

/* Sorted (a, b) string pairs: groups, pii, callers, principals. */
struct pair {
	pdp_str key;
	pdp_str sval;
	uint32_t uval;
};

static int pair_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(((const struct pair *)a)->key, ((const struct pair *)b)->key);
}

static void w_pairs(struct writer *w, struct pair *v, size_t n, bool uval)
{
	qsort(v, n, sizeof(*v), pair_cmp);
	w_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		w_str(w, v[i].key);
		if (uval)
			w_u32(w, v[i].uval);
		else
			w_str(w, v[i].sval);
	}
}

static void w_mesh_tables(struct writer *w)
{
	const pdp_src_mesh *m = &w->src->mesh;
	size_t n = m->ngroups + m->npii_cats + m->ncallers + m->nprincipals + 1;
	struct pair *v = pdp_xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < m->ngroups; i++)
		v[i] = (struct pair){ m->groups[i].name, m->groups[i].domain, 0 };
	w_pairs(w, v, m->ngroups, false);
	for (size_t i = 0; i < w->npii; i++)
		v[i] = (struct pair){ w->pii[i]->name, PDP_STR_NULL, w->pii[i]->mask };
	w_pairs(w, v, w->npii, true);
	w_str_set(w, &m->pii_detect);
	w_rules(w);
	for (size_t i = 0; i < m->ncallers; i++)
		v[i] = (struct pair){ m->callers[i].pattern, PDP_STR_NULL, m->callers[i].roles };
	w_pairs(w, v, m->ncallers, true);
	for (size_t i = 0; i < m->nprincipals; i++)
		v[i] = (struct pair){ m->principals[i].group, m->principals[i].arn, 0 };
	w_pairs(w, v, m->nprincipals, false);
	free(v);
}

static void w_mesh(struct writer *w)
{
	const pdp_src_mesh *m = &w->src->mesh;
	w_u32(w, (uint32_t)m->classifications.n);
	for (size_t i = 0; i < m->classifications.n; i++)
		w_str(w, m->classifications.v[i]);
	w_u32(w, (uint32_t)w->npurposes);
	for (size_t i = 0; i < w->npurposes; i++)
		w_str(w, w->purposes[i]);
	w_mesh_tables(w);
	uint32_t flags = (m->has_max_grant_days ? 1u : 0) | (m->has_max_freshness ? 2u : 0) |
			 (m->has_min_completeness ? 4u : 0);
	w_u32(w, flags);
	w_u64(w, (uint64_t)m->max_grant_days);
	w_u64(w, (uint64_t)m->max_freshness_minutes);
	w_f64(w, m->min_completeness_percent);
}

static int domain_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(((const pdp_src_domain *)a)->name, ((const pdp_src_domain *)b)->name);
}

static void w_domains(struct writer *w)
{
	const pdp_src *s = w->src;
	pdp_src_domain *v = pdp_xcalloc(s->ndomains, sizeof(*v));
	if (s->ndomains)
		memcpy(v, s->domains, s->ndomains * sizeof(*v));
	qsort(v, s->ndomains, sizeof(*v), domain_cmp);
	w_u32(w, (uint32_t)s->ndomains);
	for (size_t i = 0; i < s->ndomains; i++) {
		w_str(w, v[i].name);
		w_str(w, v[i].owner);
		w_u32(w, v[i].default_classification.len
				 ? level_of(w, v[i].default_classification) : PDP_NONE_U32);
		w_str_set(w, &v[i].members);
	}
	free(v);
}

static uint32_t column_of(struct writer *w, pdp_str name)
{
	uint32_t i = PDP_NONE_U32;
	if (!pdp_strmap_get(&w->cols, name, &i))
		bad(w);
	return i;
}

static void w_column_set(struct writer *w, const pdp_strv *sv)
{
	uint32_t *v = pdp_xcalloc(sv->n, sizeof(*v));
	for (size_t i = 0; i < sv->n; i++)
		v[i] = column_of(w, sv->v[i]);
	w_u32_set(w, v, sv->n);
	free(v);
}

static void w_entry(struct writer *w, const pdp_src_entry *e)
{
	w_str(w, e->id);
	w_u32(w, e->to_kind);
	w_str(w, e->to);
	w_u32(w, e->actions);
	uint32_t flags = (e->all_columns ? PDP_ENTRY_ALL_COLUMNS : 0) |
			 (e->purposes.set ? PDP_ENTRY_HAS_PURPOSES : 0) |
			 (e->has_row_filter ? PDP_ENTRY_HAS_ROW_FILTER : 0) |
			 (e->has_not_before ? PDP_ENTRY_HAS_NOT_BEFORE : 0) |
			 (e->has_expires ? PDP_ENTRY_HAS_EXPIRES : 0);
	w_u32(w, flags);
	if (e->all_columns)
		w_u32(w, 0);
	else
		w_column_set(w, &e->columns);
	w_purpose_set(w, &e->purposes);
	w_column_set(w, &e->unmasked);
	w_str(w, e->has_row_filter ? e->row_filter : PDP_STR(""));
	w_u64(w, (uint64_t)(e->has_not_before ? e->not_before : 0));
	w_u64(w, (uint64_t)(e->has_expires ? e->expires : 0));
}

static void w_columns(struct writer *w, const pdp_src_product *p)
{
	w_u32(w, (uint32_t)p->ncolumns);
	for (size_t i = 0; i < p->ncolumns; i++) {
		const pdp_src_column *c = &p->columns[i];
		pdp_strmap_put(&w->cols, c->name, (uint32_t)i);
		w_str(w, c->name);
		w_str(w, c->type);
		uint32_t pii = PDP_NONE_U32;
		if (c->has_pii)
			pii = pdp_str_eq_c(c->pii, "none") ? PDP_NONE_U32 - 1 : pii_of(w, c->pii);
		w_u32(w, pii);
		w_str(w, c->reason);
		w_u32(w, c->has_classification ? level_of(w, c->classification) : PDP_NONE_U32);
	}
}

static void w_product(struct writer *w, const pdp_src_product *p)
{
	w_str(w, p->name);
	w_str(w, p->domain);
	w_str(w, p->owner);
	w_str(w, p->oncall);
	w_str(w, p->version);
	w_u32(w, level_of(w, p->classification));
	w_u32(w, (p->has_freshness ? 1u : 0) | (p->has_completeness ? 2u : 0));
	w_f64(w, p->has_freshness ? p->freshness_minutes : 0);
	w_f64(w, p->has_completeness ? p->completeness_percent : 0);
	w_u32(w, (uint32_t)p->nports);
	for (size_t i = 0; i < p->nports; i++) {
		const pdp_src_port *o = &p->ports[i];
		w_str(w, o->type);
		w_str(w, o->catalog);
		w_str(w, o->database);
		w_str(w, o->table);
		w_str(w, o->location);
	}
	pdp_strmap_init(&w->cols, p->ncolumns);
	w_columns(w, p);
	w_u32(w, (uint32_t)p->ngrants);
	for (size_t i = 0; i < p->ngrants; i++)
		w_entry(w, &p->grants[i]);
	w_u32(w, (uint32_t)p->ndenies);
	for (size_t i = 0; i < p->ndenies; i++)
		w_entry(w, &p->denies[i]);
	pdp_strmap_done(&w->cols);
}

static int product_cmp(const void *a, const void *b)
{
	const pdp_src_product *x = *(const pdp_src_product *const *)a;
	const pdp_src_product *y = *(const pdp_src_product *const *)b;
	return pdp_str_cmp(x->name, y->name);
}

static void w_products(struct writer *w)
{
	const pdp_src *s = w->src;
	const pdp_src_product **v = pdp_xcalloc(s->nproducts, sizeof(*v));
	for (size_t i = 0; i < s->nproducts; i++)
		v[i] = &s->products[i];
	qsort(v, s->nproducts, sizeof(*v), product_cmp);
	w_u32(w, (uint32_t)s->nproducts);
	for (size_t i = 0; i < s->nproducts; i++)
		w_product(w, v[i]);
	free(v);
}

static void w_body(struct writer *w)
{
	w_mesh(w);
	w_domains(w);
	w_products(w);
}

static int pii_cmp(const void *a, const void *b)
{
	return pdp_str_cmp((*(const pdp_src_pii_cat *const *)a)->name,
			   (*(const pdp_src_pii_cat *const *)b)->name);
}

static void writer_init(struct writer *w, const pdp_src *src)
{
	memset(w, 0, sizeof(*w));
	w->src = src;
	const pdp_src_mesh *m = &src->mesh;
	w->npurposes = m->purposes.n;
	w->purposes = pdp_xcalloc(w->npurposes, sizeof(*w->purposes));
	if (w->npurposes)
		memcpy(w->purposes, m->purposes.v, w->npurposes * sizeof(*w->purposes));
	qsort(w->purposes, w->npurposes, sizeof(*w->purposes), str_cmp);
	w->npii = m->npii_cats;
	w->pii = pdp_xcalloc(w->npii, sizeof(*w->pii));
	for (size_t i = 0; i < w->npii; i++)
		w->pii[i] = &m->pii_cats[i];
	qsort(w->pii, w->npii, sizeof(*w->pii), pii_cmp);
	pdp_strmap_init(&w->strs, 1024);
}

static void writer_done(struct writer *w)
{
	free(w->purposes);
	free(w->pii);
	pdp_strmap_done(&w->strs);
}

/* After the collect pass: sort the strings, give each its rank, and write
 * the string table. */
static void w_string_table(struct writer *w)
{
	size_t n = 0;
	pdp_str *v = pdp_xcalloc(w->strs.n + 1, sizeof(*v));
	v[n++] = PDP_STR("");
	for (size_t i = 0; i < w->strs.cap; i++)
		if (w->strs.slots[i].p && w->strs.slots[i].len)
			v[n++] = (pdp_str){ w->strs.slots[i].p, w->strs.slots[i].len };
	qsort(v + 1, n - 1, sizeof(*v), str_cmp);
	pdp_strmap_done(&w->strs);
	pdp_strmap_init(&w->strs, n);
	w_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		pdp_strmap_put(&w->strs, v[i], (uint32_t)i);
		w_u32(w, (uint32_t)v[i].len);
		w_raw(w, v[i].p, v[i].len);
	}
	free(v);
}

static enum pdp_err write_body(const pdp_src *src, pdp_buf *body)
{
	struct writer w;
	writer_init(&w, src);
	pdp_buf scratch;
	pdp_buf_init(&scratch, 0);
	w.collect = true;
	w.out = &scratch;
	w_body(&w);
	pdp_buf_done(&scratch);
	w.collect = false;
	w.out = body;
	w_string_table(&w);
	w_body(&w);
	enum pdp_err e = w.err;
	writer_done(&w);
	return e;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

enum pdp_err pdp_bundle_compile(const pdp_src *src, pdp_buf *out)
{
	PDP_ENSURE(src->has_mesh, PDP_E_INVALID);
	PDP_ENSURE(src->mesh.purposes.n <= PDP_MAX_PURPOSES, PDP_E_LIMIT);
	PDP_ENSURE(src->mesh.npii_cats <= PDP_MAX_PII_CATS, PDP_E_LIMIT);
	pdp_buf body;
	pdp_buf_init(&body, PDP_BUNDLE_MAX_SIZE);
	enum pdp_err e = write_body(src, &body);
	if (e != PDP_OK) {
		pdp_buf_done(&body);
		return e;
	}
	unsigned char hdr[PDP_BUNDLE_HEADER] = { 0 };
	memcpy(hdr, PDP_BUNDLE_MAGIC, 8);
	put_u32(hdr + 8, PDP_BUNDLE_VERSION);
	put_u32(hdr + 12, 0);
	put_u32(hdr + 16, (uint32_t)body.len);
	put_u32(hdr + 20, (uint32_t)((uint64_t)body.len >> 32));
	unsigned int dlen = 0;
	if (!EVP_Digest(body.data, body.len, hdr + 24, &dlen, EVP_sha256(), NULL))
		e = PDP_E_INVALID;
	if (e == PDP_OK)
		e = pdp_buf_add(out, hdr, sizeof(hdr));
	if (e == PDP_OK)
		e = pdp_buf_add(out, body.data, body.len);
	pdp_buf_done(&body);
	return e;
}
