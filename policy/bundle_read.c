/*
 * bundle_read.c -- bundle bytes → pdp_policy, validating everything.
 *
 * Design: a bounds-checked cursor (s2n stuffer style). Every count is
 * checked against the bytes left before anything is allocated from it, so a
 * hostile length can never make us allocate more than the file's size;
 * every string id, level, purpose, category and column index is checked
 * against its table; sets must be strictly sorted (the canonical form the
 * writer produces). On the first problem the cursor turns "bad", further
 * reads return zero, and the load fails with the offset and what was being
 * read. A bundle that loads is one this code could have written.
 *
 * Then the decision structures are built (bundle_index.c).
 *
 * Ownership: the returned policy owns one arena; it does not borrow data.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_int.h"

static void rd_fail(struct rd *r, const char *what)
{
	if (r->bad)
		return;
	r->bad = true;
	r->what = what;
	r->fail_off = r->off;
}

static uint32_t rd_u32(struct rd *r, const char *what)
{
	if (r->bad || r->len - r->off < 4) {
		rd_fail(r, what);
		return 0;
	}
	const uint8_t *p = r->data + r->off;
	r->off += 4;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(struct rd *r, const char *what)
{
	uint64_t lo = rd_u32(r, what);
	return lo | (uint64_t)rd_u32(r, what) << 32;
}

static double rd_f64(struct rd *r, const char *what)
{
	uint64_t v = rd_u64(r, what);
	double d;
	memcpy(&d, &v, sizeof(d));
	if (d != d)
		rd_fail(r, what);
	return d;
}

/* A count of elements of at least `elem` bytes each. */
uint32_t rd_count(struct rd *r, size_t elem, uint32_t max, const char *what)
{
	uint32_t n = rd_u32(r, what);
	if (n > max || (size_t)n * elem > r->len - r->off)
		rd_fail(r, what);
	return r->bad ? 0 : n;
}

uint32_t rd_index(struct rd *r, uint32_t limit, const char *what)
{
	uint32_t v = rd_u32(r, what);
	if (v >= limit)
		rd_fail(r, what);
	return r->bad ? 0 : v;
}

/* An index or PDP_NONE_U32. */
static uint32_t rd_opt_index(struct rd *r, uint32_t limit, const char *what)
{
	uint32_t v = rd_u32(r, what);
	if (v != PDP_NONE_U32 && v >= limit)
		rd_fail(r, what);
	return r->bad ? 0 : v;
}

static pdp_sid rd_sid(struct rd *r, const char *what)
{
	return rd_index(r, r->pol->nstrs, what);
}

/* A strictly increasing list of indices below limit, into the arena. */
static uint32_t *rd_set(struct rd *r, uint32_t limit, uint32_t *ret_n, const char *what)
{
	uint32_t n = rd_count(r, 4, limit, what);
	uint32_t *v = pdp_arena_array(r->pol->arena, n ? n : 1, sizeof(*v));
	for (uint32_t i = 0; i < n; i++) {
		v[i] = rd_index(r, limit, what);
		if (i && v[i] <= v[i - 1])
			rd_fail(r, what);
	}
	*ret_n = r->bad ? 0 : n;
	return v;
}

/* A set of indices below limit (≤ 64) as a bit mask. */
static uint64_t rd_mask64(struct rd *r, uint32_t limit, const char *what)
{
	uint32_t n = rd_count(r, 4, limit, what);
	uint64_t m = 0;
	uint32_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = rd_index(r, limit, what);
		if ((i && v <= prev) || v >= 64)
			rd_fail(r, what);
		m |= 1ULL << (v & 63);
		prev = v;
	}
	return r->bad ? 0 : m;
}

/* A set of column indices as a bitset of the product's width (NULL for an
 * empty set when `null_if_empty`). */
static uint64_t *rd_colset(struct rd *r, const pdp_rt_product *prod, bool null_if_empty,
			   const char *what)
{
	uint32_t n = rd_count(r, 4, prod->ncols, what);
	if (n == 0 && null_if_empty)
		return NULL;
	uint64_t *b = pdp_arena_array(r->pol->arena, prod->nwords ? prod->nwords : 1, sizeof(uint64_t));
	uint32_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = rd_index(r, prod->ncols, what);
		if (i && v <= prev)
			rd_fail(r, what);
		if (!r->bad)
			pdp_bit_set(b, v);
		prev = v;
	}
	return b;
}

static void rd_strings(struct rd *r)
{
	pdp_policy *p = r->pol;
	uint32_t n = rd_count(r, 4, UINT32_MAX / 2, "string table");
	if (n == 0)
		rd_fail(r, "string table");
	p->strs = pdp_arena_array(p->arena, n ? n : 1, sizeof(*p->strs));
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint32_t len = rd_count(r, 1, UINT32_MAX, "string");
		if (r->bad)
			break;
		pdp_str s = { (const char *)r->data + r->off, len };
		r->off += len;
		if ((i == 0 && len != 0) || (i > 0 && pdp_str_cmp(p->strs[i - 1], s) >= 0))
			rd_fail(r, "string table order");
		p->strs[i] = pdp_arena_str(p->arena, s);
	}
	p->nstrs = r->bad ? 0 : n;
}

static void rd_cond(struct rd *r, pdp_rt_cond *c)
{
	pdp_policy *p = r->pol;
	c->keys = rd_u32(r, "rule keys");
	if (c->keys & ~0xFFu)
		rd_fail(r, "rule keys");
	c->actions = rd_u32(r, "rule actions");
	if (c->actions & ~(uint32_t)PDP_ACT_ALL)
		rd_fail(r, "rule actions");
	c->pdomains = rd_set(r, p->nstrs, &c->npdomains, "rule product_domain");
	uint32_t pl = rd_opt_index(r, p->nclasses, "rule product_classification");
	c->min_plevel = pl == PDP_NONE_U32 ? PDP_NO_LEVEL : (int32_t)pl;
	c->pii_any = rd_u32(r, "rule column_pii") != 0;
	c->pii_cats = rd_mask64(r, p->npii, "rule column_pii");
	uint32_t cl = rd_opt_index(r, p->nclasses, "rule column_classification");
	c->min_clevel = cl == PDP_NONE_U32 ? PDP_NO_LEVEL : (int32_t)cl;
	c->cross_domain = (int32_t)rd_index(r, 2, "rule cross_domain");
	c->groups = rd_set(r, p->nstrs, &c->ngroups, "rule subject_groups");
	c->purposes = rd_mask64(r, p->npurposes, "rule purposes");
}

static void rd_rules(struct rd *r)
{
	pdp_policy *p = r->pol;
	p->nrules = rd_count(r, 16, UINT32_MAX, "rules");
	p->rules = pdp_arena_array(p->arena, p->nrules ? p->nrules : 1, sizeof(*p->rules));
	for (uint32_t i = 0; i < p->nrules && !r->bad; i++) {
		pdp_rt_rule *ru = &p->rules[i];
		ru->id = rd_sid(r, "rule id");
		if (i && ru->id <= p->rules[i - 1].id)
			rd_fail(r, "rule order");
		ru->is_mask = rd_index(r, 2, "rule effect") != 0;
		ru->mask = (uint8_t)rd_index(r, PDP_MASK__COUNT, "rule mask");
		rd_cond(r, &ru->match);
		ru->has_except = rd_index(r, 2, "rule except") != 0;
		rd_cond(r, &ru->except);
	}
}

static void rd_mesh_lists(struct rd *r)
{
	pdp_policy *p = r->pol;
	p->nclasses = rd_count(r, 4, 1000, "classifications");
	p->classes = pdp_arena_array(p->arena, p->nclasses + 1, sizeof(pdp_sid));
	for (uint32_t i = 0; i < p->nclasses; i++)
		p->classes[i] = rd_sid(r, "classification");
	p->purposes = rd_set(r, p->nstrs, &p->npurposes, "purposes");
	if (p->npurposes > PDP_MAX_PURPOSES)
		rd_fail(r, "purposes");
	p->ngroups = rd_count(r, 8, UINT32_MAX, "groups");
	p->groups = pdp_arena_array(p->arena, p->ngroups + 1, sizeof(*p->groups));
	for (uint32_t i = 0; i < p->ngroups; i++) {
		p->groups[i].name = rd_sid(r, "group");
		p->groups[i].domain = rd_sid(r, "group domain");
		if (i && p->groups[i].name <= p->groups[i - 1].name)
			rd_fail(r, "group order");
	}
	p->npii = rd_count(r, 8, PDP_MAX_PII_CATS, "pii categories");
	p->pii = pdp_arena_array(p->arena, p->npii + 1, sizeof(*p->pii));
	for (uint32_t i = 0; i < p->npii; i++) {
		p->pii[i].name = rd_sid(r, "pii category");
		p->pii[i].mask = rd_index(r, PDP_MASK__COUNT, "pii mask");
		if (p->pii[i].mask == PDP_MASK_NONE || (i && p->pii[i].name <= p->pii[i - 1].name))
			rd_fail(r, "pii category");
	}
	p->detect = rd_set(r, p->nstrs, &p->ndetect, "pii detect");
}

static void rd_mesh(struct rd *r)
{
	pdp_policy *p = r->pol;
	rd_mesh_lists(r);
	rd_rules(r);
	p->ncallers = rd_count(r, 8, UINT32_MAX, "callers");
	p->callers = pdp_arena_array(p->arena, p->ncallers + 1, sizeof(*p->callers));
	for (uint32_t i = 0; i < p->ncallers; i++) {
		p->callers[i].pattern = rd_sid(r, "caller");
		p->callers[i].roles = rd_u32(r, "caller roles");
		if (p->callers[i].roles & ~0xFu || (i && p->callers[i].pattern <= p->callers[i - 1].pattern))
			rd_fail(r, "caller");
	}
	p->nprincipals = rd_count(r, 8, UINT32_MAX, "principals");
	p->principals = pdp_arena_array(p->arena, p->nprincipals + 1, sizeof(*p->principals));
	for (uint32_t i = 0; i < p->nprincipals; i++) {
		p->principals[i].group = rd_sid(r, "principal");
		p->principals[i].arn = rd_sid(r, "principal arn");
		if (i && p->principals[i].group <= p->principals[i - 1].group)
			rd_fail(r, "principal order");
	}
	p->bounds_flags = rd_u32(r, "bounds");
	if (p->bounds_flags & ~7u)
		rd_fail(r, "bounds");
	p->max_grant_days = (int64_t)rd_u64(r, "bounds");
	p->max_freshness_minutes = (int64_t)rd_u64(r, "bounds");
	p->min_completeness_percent = rd_f64(r, "bounds");
}

static void rd_domains(struct rd *r)
{
	pdp_policy *p = r->pol;
	p->ndomains = rd_count(r, 16, UINT32_MAX, "domains");
	p->domains = pdp_arena_array(p->arena, p->ndomains + 1, sizeof(*p->domains));
	for (uint32_t i = 0; i < p->ndomains && !r->bad; i++) {
		pdp_rt_domain *d = &p->domains[i];
		d->name = rd_sid(r, "domain");
		if (i && d->name <= p->domains[i - 1].name)
			rd_fail(r, "domain order");
		d->owner = rd_sid(r, "domain owner");
		uint32_t l = rd_opt_index(r, p->nclasses, "domain classification");
		d->default_level = l == PDP_NONE_U32 ? PDP_NO_LEVEL : (int32_t)l;
		d->members = rd_set(r, p->nstrs, &d->nmembers, "domain members");
	}
}

static void rd_entry(struct rd *r, const pdp_rt_product *prod, pdp_rt_entry *e)
{
	pdp_policy *p = r->pol;
	e->id = rd_sid(r, "entry id");
	e->to_kind = (uint8_t)rd_index(r, 3, "entry to");
	e->to = rd_sid(r, "entry to");
	uint32_t actions = rd_u32(r, "entry actions");
	if (actions & ~(uint32_t)PDP_ACT_ALL) /* 0 is legal: `actions: []` never matches */
		rd_fail(r, "entry actions");
	e->actions = (uint8_t)actions;
	uint32_t flags = rd_u32(r, "entry flags");
	if (flags & ~0x1Fu)
		rd_fail(r, "entry flags");
	e->flags = (uint8_t)flags;
	e->cols = rd_colset(r, prod, false, "entry columns");
	e->purposes = rd_mask64(r, p->npurposes, "entry purposes");
	e->clear = rd_colset(r, prod, true, "entry unmasked");
	e->row_filter = rd_sid(r, "entry row_filter");
	int64_t nb = (int64_t)rd_u64(r, "entry not_before");
	int64_t ex = (int64_t)rd_u64(r, "entry expires");
	e->not_before = flags & PDP_ENTRY_HAS_NOT_BEFORE ? nb : INT64_MIN;
	e->expires = flags & PDP_ENTRY_HAS_EXPIRES ? ex : INT64_MAX;
}

static void rd_entries(struct rd *r, const pdp_rt_product *prod, pdp_rt_entry **ret,
		       uint32_t *ret_n, bool is_deny)
{
	uint32_t n = rd_count(r, 52, UINT32_MAX, "entries");
	pdp_rt_entry *v = n ? pdp_arena_array(r->pol->arena, n, sizeof(*v)) : NULL;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		rd_entry(r, prod, &v[i]);
		v[i].index = i;
		v[i].is_deny = is_deny;
	}
	*ret = v;
	*ret_n = r->bad ? 0 : n;
}

static void rd_columns(struct rd *r, pdp_rt_product *prod)
{
	pdp_policy *p = r->pol;
	prod->ncols = rd_count(r, 20, PDP_MAX_COLUMNS, "columns");
	prod->nwords = (prod->ncols + 63) / 64;
	prod->cols = pdp_arena_array(p->arena, prod->ncols + 1, sizeof(*prod->cols));
	for (uint32_t i = 0; i < prod->ncols && !r->bad; i++) {
		pdp_rt_column *c = &prod->cols[i];
		c->name = rd_sid(r, "column");
		c->type = rd_sid(r, "column type");
		uint32_t pii = rd_u32(r, "column pii");
		if (pii < p->npii)
			c->pii = (int16_t)pii;
		else if (pii == PDP_NONE_U32)
			c->pii = -1;
		else if (pii == PDP_NONE_U32 - 1)
			c->pii = -2;
		else
			rd_fail(r, "column pii");
		(void)rd_sid(r, "column reason");
		uint32_t l = rd_opt_index(r, p->nclasses, "column classification");
		c->level = l == PDP_NONE_U32 ? prod->level : (int16_t)l;
	}
}

static void rd_product(struct rd *r, pdp_rt_product *prod)
{
	pdp_policy *p = r->pol;
	prod->name = rd_sid(r, "product");
	prod->domain = rd_sid(r, "product domain");
	prod->owner = rd_sid(r, "product owner");
	prod->oncall = rd_sid(r, "product oncall");
	prod->version = rd_sid(r, "product version");
	prod->level = (int16_t)rd_index(r, p->nclasses, "product classification");
	uint32_t slo = rd_u32(r, "slo");
	prod->has_freshness = slo & 1;
	prod->has_completeness = (slo >> 1) & 1;
	prod->freshness_minutes = rd_f64(r, "slo");
	prod->completeness_percent = rd_f64(r, "slo");
	prod->nports = rd_count(r, 20, UINT32_MAX, "output ports");
	prod->ports = pdp_arena_array(p->arena, prod->nports + 1, sizeof(*prod->ports));
	for (uint32_t i = 0; i < prod->nports; i++) {
		pdp_rt_port *o = &prod->ports[i];
		o->type = rd_sid(r, "port");
		o->catalog = rd_sid(r, "port");
		o->database = rd_sid(r, "port");
		o->table = rd_sid(r, "port");
		o->location = rd_sid(r, "port");
	}
	rd_columns(r, prod);
	rd_entries(r, prod, &prod->grants, &prod->ngrants, false);
	rd_entries(r, prod, &prod->denies, &prod->ndenies, true);
}

static void rd_products(struct rd *r)
{
	pdp_policy *p = r->pol;
	p->nproducts = rd_count(r, 60, UINT32_MAX, "products");
	p->products = pdp_arena_array(p->arena, p->nproducts + 1, sizeof(*p->products));
	for (uint32_t i = 0; i < p->nproducts && !r->bad; i++) {
		rd_product(r, &p->products[i]);
		if (i && p->products[i].name <= p->products[i - 1].name)
			rd_fail(r, "product order");
		p->ngrants_total += p->products[i].ngrants;
	}
}


static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Header, digest and (optional) signature; *ret_body_len on success. */
static enum pdp_err check_envelope(const uint8_t *data, size_t len, const pdp_bundle_opts *opts,
				   size_t *ret_body_len, bool *ret_signed, pdp_buf *errmsg)
{
	size_t max = opts && opts->max_size ? opts->max_size : PDP_BUNDLE_MAX_SIZE;
	if (len > max) {
		pdp_buf_errf(errmsg, "bundle larger than %zu bytes", max);
		PDP_BAIL(PDP_E_LIMIT);
	}
	if (len < PDP_BUNDLE_HEADER || memcmp(data, PDP_BUNDLE_MAGIC, 8) != 0) {
		pdp_buf_errf(errmsg, "not a meshpdp bundle (bad magic)");
		PDP_BAIL(PDP_E_CORRUPT);
	}
	if (get_u32(data + 8) != PDP_BUNDLE_VERSION || get_u32(data + 12) != 0) {
		pdp_buf_errf(errmsg, "unsupported bundle format version %u flags %u", get_u32(data + 8),
		     get_u32(data + 12));
		PDP_BAIL(PDP_E_CORRUPT);
	}
	uint64_t body_len = get_u64(data + 16);
	size_t rest = len - PDP_BUNDLE_HEADER;
	bool has_sig = rest >= PDP_BUNDLE_TRAILER && body_len == rest - PDP_BUNDLE_TRAILER;
	if (body_len != rest && !has_sig) {
		pdp_buf_errf(errmsg, "bundle truncated or has trailing bytes (body %llu bytes, file has %zu)",
		     (unsigned long long)body_len, rest);
		PDP_BAIL(PDP_E_CORRUPT);
	}
	uint8_t digest[32];
	unsigned int dlen = 0;
	if (!EVP_Digest(data + PDP_BUNDLE_HEADER, (size_t)body_len, digest, &dlen, EVP_sha256(), NULL) ||
	    CRYPTO_memcmp(digest, data + 24, 32) != 0) {
		pdp_buf_errf(errmsg, "bundle body does not match its revision digest (corrupt)");
		PDP_BAIL(PDP_E_CORRUPT);
	}
	PDP_TRY(pdp_bundle_check_signature(data, len, (size_t)body_len, has_sig,
					   opts ? opts->pubkey : NULL, errmsg));
	*ret_body_len = (size_t)body_len;
	*ret_signed = has_sig;
	return PDP_OK;
}

static void set_revision(pdp_policy *p, const uint8_t *digest)
{
	static const char hex[] = "0123456789abcdef";
	memcpy(p->digest, digest, 32);
	memcpy(p->revision, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		p->revision[7 + 2 * i] = hex[digest[i] >> 4];
		p->revision[8 + 2 * i] = hex[digest[i] & 15];
	}
	p->revision[71] = '\0';
}

static enum pdp_err parse_body(struct rd *r, pdp_buf *errmsg)
{
	rd_strings(r);
	rd_mesh(r);
	rd_domains(r);
	rd_products(r);
	if (!r->bad && r->off != r->len)
		rd_fail(r, "trailing bytes");
	if (r->bad) {
		pdp_buf_errf(errmsg, "corrupt bundle body at offset %zu (reading %s)",
		     r->fail_off + PDP_BUNDLE_HEADER, r->what);
		PDP_BAIL(PDP_E_CORRUPT);
	}
	return PDP_OK;
}

enum pdp_err pdp_bundle_load(const uint8_t *data, size_t len, const pdp_bundle_opts *opts,
			     pdp_policy **ret, pdp_buf *errmsg)
{
	size_t body_len = 0;
	bool is_signed = false;
	PDP_TRY(check_envelope(data, len, opts, &body_len, &is_signed, errmsg));
	pdp_policy *p = pdp_xcalloc(1, sizeof(*p));
	atomic_init(&p->refs, 1);
	p->arena = pdp_arena_new(1 << 16);
	p->is_signed = is_signed;
	set_revision(p, data + 24);
	struct rd r = { .data = data + PDP_BUNDLE_HEADER, .len = body_len, .pol = p };
	enum pdp_err e = parse_body(&r, errmsg);
	if (e == PDP_OK)
		e = pdp_bundle_build_index(p, errmsg);
	if (e != PDP_OK) {
		pdp_policy_unref(p);
		return e;
	}
	*ret = p;
	return PDP_OK;
}

enum pdp_err pdp_bundle_load_file(const char *path, const pdp_bundle_opts *opts,
				  pdp_policy **ret, pdp_buf *errmsg)
{
	size_t max = opts && opts->max_size ? opts->max_size : PDP_BUNDLE_MAX_SIZE;
	char *data = NULL;
	size_t len = 0;
	enum pdp_err e = pdp_file_read(path, max, &data, &len);
	if (e != PDP_OK) {
		pdp_buf_errf(errmsg, "cannot read bundle %s: %s", path,
		     e == PDP_E_LIMIT ? "too large" : "cannot open or read the file");
		return e;
	}
	e = pdp_bundle_load((const uint8_t *)data, len, opts, ret, errmsg);
	free(data);
	return e;
}

pdp_policy *pdp_policy_ref(pdp_policy *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void pdp_policy_unref(pdp_policy *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	pdp_strmap_done(&p->strmap);
	pdp_u64map_done(&p->subject_index);
	free(p->entry_refs);
	pdp_arena_free(p->arena);
	free(p);
}
