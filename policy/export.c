/*
 * export.c -- the effective-access model of the grant export, the helpers
 * the formats share, and pdp_grants_export.
 *
 * Design: see export_int.h for the reading (principals, worlds, sources).
 * Evaluating one principal on one product:
 *   1. the product's mesh rules get, per action, the set of worlds in which
 *      their `match` (and `except`) subject conditions hold: a bitmask per
 *      cross_domain value over the purposes, plus "no purpose";
 *   2. each deny entry gets the worlds in which it may apply to the
 *      principal (a group's own denies; any domain's or subject's deny
 *      unless the principal fixes the domain or the id);
 *   3. each source (a grant to the principal active at T, or membership)
 *      is decided column by column over its own worlds with plain set
 *      operations: withheld if any deny may apply in one of them, else
 *      clear or masked by the mesh mask rules that may apply and the
 *      source's `unmasked`, exactly as eval.c masks (SPEC 3.1).
 * This mirrors eval.c's rules but over sets of requests instead of one:
 * the formulas are kept side by side with eval.c's so a change of SPEC 3
 * is made in both (tests/unit/test_export.c cross-checks them by deciding
 * real requests).
 *
 * Ownership: results live in the caller's arena; nothing is global.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_int.h"

enum { ACT_READ, ACT_DESCRIBE, NACT };
static const unsigned act_bit[NACT] = { PDP_ACT_READ, PDP_ACT_DESCRIBE };

/* ---- world sets --------------------------------------------------------- */

static const ex_worlds no_worlds = { { 0, 0 }, 0 };

ex_worlds ex_worlds_all(const pdp_policy *p)
{
	uint64_t m = p->npurposes >= 64 ? ~0ULL : (1ULL << p->npurposes) - 1;
	return (ex_worlds){ { m, m }, 3 };
}

ex_worlds ex_worlds_purpose(int u)
{
	if (u < 0)
		return (ex_worlds){ { 0, 0 }, 3 };
	uint64_t b = 1ULL << u;
	return (ex_worlds){ { b, b }, 0 };
}

static ex_worlds w_and(ex_worlds a, ex_worlds b)
{
	return (ex_worlds){ { a.p[0] & b.p[0], a.p[1] & b.p[1] }, (uint8_t)(a.none & b.none) };
}

static ex_worlds w_andnot(ex_worlds a, ex_worlds b)
{
	return (ex_worlds){ { a.p[0] & ~b.p[0], a.p[1] & ~b.p[1] }, (uint8_t)(a.none & ~b.none) };
}

static bool w_empty(ex_worlds a)
{
	return !a.p[0] && !a.p[1] && !a.none;
}

static ex_worlds w_cross(ex_worlds a, int x)
{
	a.p[!x] = 0;
	a.none &= (uint8_t)(1u << x);
	return a;
}

static ex_worlds w_purposes(ex_worlds a, uint64_t set)
{
	return (ex_worlds){ { a.p[0] & set, a.p[1] & set }, 0 };
}

/* ---- one principal on one product --------------------------------------- */

struct ctx {
	const pdp_policy *p;
	const pdp_rt_product *prod;
	const ex_principal *pr;
	pdp_arena *a;
	ex_worlds base;           /* worlds the principal can be in */
	ex_worlds *match_w[NACT], *except_w[NACT]; /* per product rule */
	ex_worlds *deny_w[NACT];  /* per deny entry */
};

static bool in_domain(const pdp_policy *p, const pdp_rt_product *prod, pdp_sid group)
{
	if (prod->domain_idx < 0)
		return false;
	const pdp_rt_domain *d = &p->domains[prod->domain_idx];
	return pdp_rt_sid_in(d->members, d->nmembers, group);
}

/* The subject conditions of a rule block (eval.c cond_subject), as worlds. */
static ex_worlds cond_worlds(const struct ctx *c, const pdp_rt_cond *k, unsigned act)
{
	ex_worlds w = c->base;
	if ((k->keys & PDP_K_ACTIONS) && !(k->actions & act))
		return no_worlds;
	if ((k->keys & PDP_K_PRODUCT_DOMAIN) && !pdp_rt_sid_in(k->pdomains, k->npdomains, c->prod->domain))
		return no_worlds;
	if ((k->keys & PDP_K_PRODUCT_CLASS) && c->prod->level < k->min_plevel)
		return no_worlds;
	if (k->keys & PDP_K_CROSS_DOMAIN)
		w = w_cross(w, k->cross_domain != 0);
	if ((k->keys & PDP_K_SUBJECT_GROUPS) &&
	    !(c->pr->kind == PDP_TO_GROUP && pdp_rt_sid_in(k->groups, k->ngroups, c->pr->sid)))
		return no_worlds;
	if (k->keys & PDP_K_PURPOSES)
		w = w_purposes(w, k->purposes);
	return w;
}

/* The worlds in which product rule k applies to col (eval.c rule_matches). */
static ex_worlds rule_worlds(const struct ctx *c, int act, uint32_t k, const pdp_rt_column *col)
{
	const pdp_rt_rule *r = &c->p->rules[c->prod->rules[k]];
	if (!pdp_rt_cond_column(&r->match, col))
		return no_worlds;
	ex_worlds w = c->match_w[act][k];
	if (r->has_except && pdp_rt_cond_column(&r->except, col))
		w = w_andnot(w, c->except_w[act][k]);
	return w;
}

/* The worlds in which deny entry e may apply to the principal. */
static ex_worlds deny_worlds(const struct ctx *c, const pdp_rt_entry *e, unsigned act)
{
	if (!(e->actions & act))
		return no_worlds;
	ex_worlds w = c->base;
	switch (e->to_kind) {
	case PDP_TO_GROUP:
		if (c->pr->kind != PDP_TO_GROUP || c->pr->sid != e->to)
			return no_worlds;
		break;
	case PDP_TO_DOMAIN:
		if (c->pr->kind == PDP_TO_DOMAIN && c->pr->sid != e->to)
			return no_worlds;
		if (c->pr->kind != PDP_TO_DOMAIN)
			w = w_cross(w, e->to != c->prod->domain);
		break;
	case PDP_TO_SUBJECT:
		if (c->pr->kind == PDP_TO_SUBJECT && c->pr->sid != e->to)
			return no_worlds;
		break;
	default:
		return no_worlds;
	}
	if (e->flags & PDP_ENTRY_HAS_PURPOSES)
		w = w_purposes(w, e->purposes);
	return w;
}

static void ctx_init(struct ctx *c)
{
	const pdp_rt_product *prod = c->prod;
	c->base = ex_worlds_all(c->p);
	if (c->pr->kind == PDP_TO_DOMAIN)
		c->base = w_cross(c->base, c->pr->sid != prod->domain);
	for (int act = 0; act < NACT; act++) {
		c->match_w[act] = pdp_arena_array(c->a, prod->nrules + 1, sizeof(ex_worlds));
		c->except_w[act] = pdp_arena_array(c->a, prod->nrules + 1, sizeof(ex_worlds));
		c->deny_w[act] = pdp_arena_array(c->a, prod->ndenies + 1, sizeof(ex_worlds));
		for (uint32_t k = 0; k < prod->nrules; k++) {
			const pdp_rt_rule *r = &c->p->rules[prod->rules[k]];
			c->match_w[act][k] = cond_worlds(c, &r->match, act_bit[act]);
			if (r->has_except)
				c->except_w[act][k] = cond_worlds(c, &r->except, act_bit[act]);
		}
		for (uint32_t i = 0; i < prod->ndenies; i++)
			c->deny_w[act][i] = deny_worlds(c, &prod->denies[i], act_bit[act]);
	}
}

static bool column_denied(const struct ctx *c, int act, uint32_t ci, ex_worlds ws)
{
	const pdp_rt_product *prod = c->prod;
	for (uint32_t i = 0; i < prod->ndenies; i++) {
		bool hit = ci == UINT32_MAX ? (prod->denies[i].flags & PDP_ENTRY_ALL_COLUMNS) != 0
					    : pdp_bit(prod->denies[i].cols, ci);
		if (hit && !w_empty(w_and(c->deny_w[act][i], ws)))
			return true;
	}
	const pdp_rt_column *col = ci == UINT32_MAX ? NULL : &prod->cols[ci];
	for (uint32_t k = 0; k < prod->nrules; k++) {
		if (c->p->rules[prod->rules[k]].is_mask)
			continue;
		if (!w_empty(w_and(rule_worlds(c, act, k, col), ws)))
			return true;
	}
	return false;
}

/* The strongest mask col can get in ws (eval.c mask_column over a set). */
static enum pdp_mask column_mask(const struct ctx *c, uint32_t ci, ex_worlds ws, bool clear)
{
	const pdp_rt_column *col = &c->prod->cols[ci];
	bool any_rule = false;
	enum pdp_mask rule_mask = PDP_MASK_NONE;
	for (uint32_t k = 0; k < c->prod->nrules; k++) {
		const pdp_rt_rule *r = &c->p->rules[c->prod->rules[k]];
		if (!r->is_mask || w_empty(w_and(rule_worlds(c, ACT_READ, k, col), ws)))
			continue;
		any_rule = true;
		if (pdp_mask_strength(r->mask) > pdp_mask_strength(rule_mask))
			rule_mask = r->mask;
	}
	enum pdp_mask m0 = col->pii >= 0 ? (enum pdp_mask)c->p->pii[col->pii].mask : PDP_MASK_NONE;
	if (!any_rule)
		return clear ? PDP_MASK_NONE : m0;
	return pdp_mask_strength(rule_mask) > pdp_mask_strength(m0) ? rule_mask : m0;
}

static void eval_read(const struct ctx *c, ex_source *s, ex_worlds ws)
{
	const pdp_rt_product *prod = c->prod;
	const pdp_rt_entry *g = s->grant;
	for (uint32_t ci = 0; ci < prod->ncols; ci++) {
		if (g && !pdp_bit(g->cols, ci))
			continue;
		if (column_denied(c, ACT_READ, ci, ws)) {
			pdp_bit_set(s->withheld, ci);
			continue;
		}
		bool clear = g && g->clear && pdp_bit(g->clear, ci);
		enum pdp_mask m = column_mask(c, ci, ws, clear);
		s->mask[ci] = (uint8_t)m;
		pdp_bit_set(m == PDP_MASK_NONE ? s->clear : s->masked, ci);
	}
}

static void eval_source(const struct ctx *c, ex_source *s, const pdp_rt_entry *g, ex_worlds ws)
{
	uint32_t nw = c->prod->nwords + 1;
	unsigned actions = g ? g->actions : PDP_ACT_ALL;
	s->grant = g;
	s->purpose_free = !g || !(g->flags & PDP_ENTRY_HAS_PURPOSES);
	s->read = (actions & PDP_ACT_READ) != 0;
	s->clear = pdp_arena_array(c->a, nw, sizeof(uint64_t));
	s->masked = pdp_arena_array(c->a, nw, sizeof(uint64_t));
	s->withheld = pdp_arena_array(c->a, nw, sizeof(uint64_t));
	s->mask = pdp_arena_array(c->a, c->prod->ncols + 1, 1);
	if (s->read)
		eval_read(c, s, ws);
	s->describe = (actions & PDP_ACT_DESCRIBE) && !column_denied(c, ACT_DESCRIBE, UINT32_MAX, ws);
}

bool ex_grant_active(const pdp_rt_entry *e, int64_t t)
{
	return t >= e->not_before && t < e->expires;
}

void ex_access_eval(const pdp_policy *p, int64_t t, const ex_principal *pr,
		    const pdp_rt_product *prod, const ex_worlds *limit, pdp_arena *a,
		    ex_access *ret)
{
	struct ctx c = { .p = p, .prod = prod, .pr = pr, .a = a };
	ctx_init(&c);
	ex_access acc = { .prod = prod, .prin = *pr };
	acc.sources = pdp_arena_array(a, prod->ngrants + 2, sizeof(ex_source));
	ex_worlds lim = limit ? *limit : ex_worlds_all(p);
	for (uint32_t i = 0; i < prod->ngrants; i++) {
		const pdp_rt_entry *g = &prod->grants[i];
		if (g->to_kind != pr->kind || g->to != pr->sid || !ex_grant_active(g, t) ||
		    !(g->actions & (PDP_ACT_READ | PDP_ACT_DESCRIBE)))
			continue;
		ex_worlds ws = w_and(c.base, lim);
		if (g->flags & PDP_ENTRY_HAS_PURPOSES)
			ws = w_purposes(ws, g->purposes);
		if (w_empty(ws))
			continue;
		eval_source(&c, &acc.sources[acc.nsources++], g, ws);
	}
	ex_worlds ws = w_and(c.base, lim);
	if (pr->kind == PDP_TO_GROUP && in_domain(p, prod, pr->sid) && !w_empty(ws))
		eval_source(&c, &acc.sources[acc.nsources++], NULL, ws);
	*ret = acc;
}

/* ---- principals, ports, time ---------------------------------------------- */

static pdp_sid principal_arn(const pdp_policy *p, pdp_sid group)
{
	uint32_t lo = 0, hi = p->nprincipals;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->principals[mid].group == group)
			return p->principals[mid].arn;
		if (p->principals[mid].group < group)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int sid_cmp(const void *a, const void *b)
{
	pdp_sid x = *(const pdp_sid *)a, y = *(const pdp_sid *)b;
	return (x > y) - (x < y);
}

static uint32_t subjects(const pdp_policy *p, pdp_arena *a, pdp_sid **ret)
{
	size_t n = 0;
	for (uint32_t i = 0; i < p->nproducts; i++)
		n += p->products[i].ngrants;
	pdp_sid *v = pdp_arena_array(a, n + 1, sizeof(pdp_sid));
	uint32_t m = 0;
	for (uint32_t i = 0; i < p->nproducts; i++)
		for (uint32_t j = 0; j < p->products[i].ngrants; j++)
			if (p->products[i].grants[j].to_kind == PDP_TO_SUBJECT)
				v[m++] = p->products[i].grants[j].to;
	qsort(v, m, sizeof(*v), sid_cmp);
	uint32_t u = 0;
	for (uint32_t i = 0; i < m; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*ret = v;
	return u;
}

uint32_t ex_principals(const pdp_policy *p, bool all, pdp_arena *a, ex_principal **ret)
{
	pdp_sid *subj = NULL;
	uint32_t nsubj = all ? subjects(p, a, &subj) : 0;
	uint32_t ndom = all ? p->ndomains : 0;
	ex_principal *v = pdp_arena_array(a, p->ngroups + ndom + nsubj + 1, sizeof(*v));
	uint32_t n = 0;
	for (uint32_t i = 0; i < p->ngroups; i++)
		v[n++] = (ex_principal){ PDP_TO_GROUP, p->groups[i].name,
					 principal_arn(p, p->groups[i].name) };
	for (uint32_t i = 0; i < ndom; i++)
		v[n++] = (ex_principal){ PDP_TO_DOMAIN, p->domains[i].name, 0 };
	for (uint32_t i = 0; i < nsubj; i++)
		v[n++] = (ex_principal){ PDP_TO_SUBJECT, subj[i], 0 };
	*ret = v;
	return n;
}

const pdp_rt_port *ex_table_port(const pdp_policy *p, const pdp_rt_product *prod)
{
	for (uint32_t i = 0; i < prod->nports; i++) {
		const pdp_rt_port *o = &prod->ports[i];
		if (pdp_str_eq_c(pdp_rt_str(p, o->type), "table") && o->database && o->table)
			return o;
	}
	return NULL;
}

int64_t ex_valid_until(const pdp_policy *p, int64_t t)
{
	int64_t v = INT64_MAX;
	for (uint32_t i = 0; i < p->nproducts; i++) {
		for (uint32_t j = 0; j < p->products[i].ngrants; j++) {
			const pdp_rt_entry *e = &p->products[i].grants[j];
			if (e->not_before > t && e->not_before < v)
				v = e->not_before;
			if (e->expires > t && e->expires < v)
				v = e->expires;
		}
	}
	return v;
}

void ex_note_valid_until(const pdp_policy *p, int64_t t, pdp_buf *notes)
{
	int64_t until = ex_valid_until(p, t);
	if (until == INT64_MAX || !notes)
		return;
	char vu[32];
	ex_time_str(until, vu);
	pdp_ignore(pdp_buf_printf(notes, "note: the export is valid until %s (a grant starts or "
				  "ends then): export and apply it again by then\n", vu)); /* advisory */
}

void ex_time_str(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "@%lld", (long long)t);
}

void ex_date_str(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 16, "%Y-%m-%d", &tm))
		snprintf(out, 16, "@%lld", (long long)t);
}

pdp_str ex_source_id(const pdp_policy *p, const pdp_rt_product *prod, const pdp_rt_entry *g,
		     pdp_arena *a)
{
	if (!g)
		return PDP_STR("domain_member");
	if (g->id)
		return pdp_rt_str(p, g->id);
	pdp_str name = pdp_rt_str(p, prod->name);
	size_t cap = name.len + 32;
	char *s = pdp_arena_alloc(a, cap);
	int n = snprintf(s, cap, "%.*s#grants[%u]", (int)name.len, name.p, g->index);
	return (pdp_str){ s, (size_t)n };
}

pdp_str ex_principal_label(const pdp_policy *p, const ex_principal *pr, pdp_arena *a)
{
	static const char *const kinds[] = { "group", "domain", "subject" };
	pdp_str s = pdp_rt_str(p, pr->sid);
	size_t cap = s.len + 16;
	char *v = pdp_arena_alloc(a, cap);
	int n = snprintf(v, cap, "%s:%.*s", kinds[pr->kind < 3 ? pr->kind : 0], (int)s.len, s.p);
	return (pdp_str){ v, (size_t)n };
}

struct col_lookup {
	const pdp_policy *p;
	const pdp_rt_product *prod;
};

/* Bare names match case-insensitively (PartiQL folds them), quoted ones
 * exactly; an ambiguous bare name is unknown. */
static bool lookup_column(void *ctx, pdp_str name, bool quoted, pdp_str *ret_type)
{
	const struct col_lookup *l = ctx;
	int found = -1;
	for (uint32_t i = 0; i < l->prod->ncols; i++) {
		pdp_str cn = pdp_rt_str(l->p, l->prod->cols[i].name);
		if (quoted ? !pdp_str_eq(cn, name) : !pdp_str_eq_nocase(cn, name))
			continue;
		if (found >= 0)
			return false;
		found = (int)i;
	}
	if (found < 0)
		return false;
	*ret_type = pdp_rt_str(l->p, l->prod->cols[found].type);
	return true;
}

bool ex_filter_ok(const pdp_policy *p, const pdp_rt_product *prod, pdp_str filter, pdp_buf *why)
{
	struct col_lookup l = { p, prod };
	return pdp_lf_filter_ok(filter, lookup_column, &l, why);
}

/* ---- JSON ------------------------------------------------------------------- */

json_t *ex_json_str(pdp_str s)
{
	json_t *v = json_stringn(s.p ? s.p : "", s.len);
	PDP_BUG_ON(!v); /* policy strings are valid UTF-8 (checked at load) */
	return v;
}

json_t *ex_json_sid(const pdp_policy *p, pdp_sid s)
{
	return ex_json_str(pdp_rt_str(p, s));
}

/* Column indices of bits in name order (sids sort as their strings). */
json_t *ex_json_columns(const pdp_policy *p, const pdp_rt_product *prod, const uint64_t *bits)
{
	uint32_t n = 0;
	pdp_sid *v = pdp_xcalloc(prod->ncols + 1, sizeof(*v));
	for (uint32_t i = 0; i < prod->ncols; i++)
		if (pdp_bit(bits, i))
			v[n++] = prod->cols[i].name;
	qsort(v, n, sizeof(*v), sid_cmp);
	json_t *arr = json_array();
	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(arr, ex_json_sid(p, v[i]));
	free(v);
	return arr;
}

json_t *ex_json_header(const pdp_policy *p, const char *format, const pdp_grants_opts *o)
{
	char t[32], vu[32];
	ex_time_str(o->time, t);
	int64_t until = ex_valid_until(p, o->time);
	json_t *h = json_object();
	json_object_set_new(h, "format", json_string(format));
	json_object_set_new(h, "revision", json_string(p->revision));
	json_object_set_new(h, "time", json_string(t));
	if (until == INT64_MAX) {
		json_object_set_new(h, "valid_until", json_null());
	} else {
		ex_time_str(until, vu);
		json_object_set_new(h, "valid_until", json_string(vu));
	}
	if (o->catalog_id)
		json_object_set_new(h, "catalog_id", json_string(o->catalog_id));
	return h;
}

enum pdp_err ex_json_dump(json_t *v, pdp_buf *out)
{
	char *s = json_dumps(v, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(v);
	if (!s)
		pdp_oom();
	enum pdp_err e = pdp_buf_adds(out, s);
	if (e == PDP_OK)
		e = pdp_buf_addc(out, '\n');
	free(s);
	return e;
}

/* ---- entry point ------------------------------------------------------------- */

bool pdp_grants_format_parse(pdp_str s, enum pdp_grants_format *ret)
{
	static const char *const names[] = { "lakeformation", "iam", "json" };
	for (int i = 0; i < 3; i++) {
		if (pdp_str_eq_c(s, names[i])) {
			*ret = (enum pdp_grants_format)i;
			return true;
		}
	}
	return false;
}

const char *pdp_grants_format_name(enum pdp_grants_format f)
{
	switch (f) {
	case PDP_GRANTS_LAKEFORMATION: return "lakeformation";
	case PDP_GRANTS_IAM: return "iam";
	case PDP_GRANTS_JSON: return "json";
	default: return "?";
	}
}

/* A catalog id as Lake Formation takes it (CatalogIdString: 1-255
 * printable characters); we also refuse spaces and quotes, which no
 * account id or catalog path contains. */
static bool catalog_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"')
			return false;
	return true;
}

enum pdp_err pdp_grants_export(const pdp_policy *p, enum pdp_grants_format f,
			       const pdp_grants_opts *opts, pdp_buf *out, pdp_buf *notes)
{
	if (opts->catalog_id && !catalog_id_ok(opts->catalog_id)) {
		pdp_ignore(pdp_buf_printf(notes, "error: catalog id '%.40s' is not 1-255 printable "
					  "characters without spaces\n", opts->catalog_id));
		PDP_BAIL(PDP_E_INVALID);
	}
	size_t len = out->len;
	enum pdp_err e;
	switch (f) {
	case PDP_GRANTS_LAKEFORMATION: e = ex_export_lf(p, opts, out, notes); break;
	case PDP_GRANTS_IAM: e = ex_export_iam(p, opts, out, notes); break;
	case PDP_GRANTS_JSON: e = ex_export_json(p, opts, out, notes); break;
	default: e = PDP_E_INVALID; break;
	}
	if (e != PDP_OK)
		out->len = len;
	if (e != PDP_OK && out->data)
		out->data[len] = '\0';
	return e;
}
