/*
 * check.c -- the governance checks of SPEC 2.5 over a loaded pdp_src.
 *
 * Design: the loader (load.c) has already reported everything structural;
 * here every cross-reference and policy-as-code rule is checked over the
 * whole set, and every problem goes to the diagnostics sink at the most
 * precise node we have (the offending list item, the value, not the whole
 * document). Nothing stops at the first problem.
 *
 * Name lookups never scan: the mesh's classifications, purposes, groups and
 * pii categories, the domains and each product's columns get a sorted index
 * (struct nidx: name, node, position) that also finds duplicates as adjacent
 * entries. Products are already sorted by name, so duplicate products are
 * neighbours. The whole check is O(n log n) in the size of the policy.
 *
 * With a baseline revision (pdp compile --baseline), each product is also
 * compared with its previous version through the runtime form of
 * policy_int.h: removed or retyped columns need a new MAJOR version.
 *
 * Choices where the SPEC is silent are listed in docs/policy-language.md
 * ("Choices"); the ones that depend on time (grant length without
 * not_before, expired grants) use `now` (pdp_src_check_at), the clock by
 * default.
 *
 * Ownership: the indexes are malloc'd here and freed before returning; the
 * strings they point at belong to src.
 */
#include "pdp/model.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdp/grants.h" /* the grant export's checks */
#include "policy_int.h" /* the baseline revision's products and columns */

#define CHECK_MAX_PURPOSES 64   /* the evaluator keeps purposes in a uint64_t */
#define CHECK_MAX_COLUMNS 4096
#define DAY 86400

#define STRF(s) (int)(s).len, (s).p

struct nent {
	pdp_str name;
	const pdp_ynode *y;
	size_t idx; /* position in the array the name came from */
};

struct nidx {
	struct nent *v;
	size_t n, cap;
};

struct ctx {
	const pdp_src *src;
	const pdp_src_mesh *m;
	pdp_diag *d;
	int64_t today; /* 00:00:00Z of the day of `now` */
	bool mesh;     /* mesh.yaml was read: mesh references can be checked */
	const pdp_policy *baseline; /* --baseline revision, or NULL */
	struct nidx classes, purposes, groups, pii, domains;
};

/* ---- diagnostics ------------------------------------------------------- */

static void vdiag(struct ctx *c, enum pdp_diag_level lvl, const pdp_ynode *y,
		  const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void vdiag(struct ctx *c, enum pdp_diag_level lvl, const pdp_ynode *y,
		  const char *fmt, va_list ap)
{
	if (y)
		pdp_diag_vadd(c->d, lvl, y->file, y->line, y->col, fmt, ap);
	else
		pdp_diag_vadd(c->d, lvl, c->src->root_dir, 0, 0, fmt, ap);
}

static void err_at(struct ctx *c, const pdp_ynode *y, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct ctx *c, const pdp_ynode *y, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(c, PDP_DIAG_ERROR, y, fmt, ap);
	va_end(ap);
}

static void warn_at(struct ctx *c, const pdp_ynode *y, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warn_at(struct ctx *c, const pdp_ynode *y, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(c, PDP_DIAG_WARNING, y, fmt, ap);
	va_end(ap);
}

/* The value of `key` in mapping m, else m itself (for positions). */
static const pdp_ynode *at_key(const pdp_ynode *m, const char *key)
{
	const pdp_ynode *v = pdp_ymap_get(m, key);
	return v ? v : m;
}

/* ---- sorted name index --------------------------------------------------- */

static void nidx_add(struct nidx *x, pdp_str name, const pdp_ynode *y, size_t idx)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->v = pdp_xrealloc(x->v, x->cap * sizeof(*x->v));
	}
	x->v[x->n++] = (struct nent){ name, y, idx };
}

static int nent_cmp(const void *a, const void *b)
{
	const struct nent *x = a, *y = b;
	int c = pdp_str_cmp(x->name, y->name);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static void nidx_sort(struct nidx *x)
{
	if (x->n > 1)
		qsort(x->v, x->n, sizeof(*x->v), nent_cmp);
}

static void nidx_done(struct nidx *x)
{
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static const struct nent *nidx_find(const struct nidx *x, pdp_str name)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pdp_str_cmp(x->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->n && pdp_str_eq(x->v[lo].name, name) ? &x->v[lo] : NULL;
}

static void report_dup(struct ctx *c, const char *what, pdp_str name,
		       const pdp_ynode *y, const pdp_ynode *first)
{
	if (first->file && y->file && !strcmp(first->file, y->file))
		err_at(c, y, "duplicate %s '%.*s' (first at line %d)", what, STRF(name),
		       first->line);
	else
		err_at(c, y, "duplicate %s '%.*s' (first at %s:%d)", what, STRF(name),
		       first->file, first->line);
}

/* Every entry equal to an earlier one is reported (the index is sorted by
 * name, then by position, so the first of a run is the earliest). */
static void nidx_dups(struct ctx *c, const struct nidx *x, const char *what)
{
	size_t first = 0;
	for (size_t i = 1; i < x->n; i++) {
		if (!pdp_str_eq(x->v[i].name, x->v[first].name)) {
			first = i;
			continue;
		}
		report_dup(c, what, x->v[i].name, x->v[i].y, x->v[first].y);
	}
}

static void index_strv(struct nidx *x, const pdp_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		nidx_add(x, sv->v[i], pdp_src_item(sv, i), i);
	nidx_sort(x);
}

/* Mesh names are checked only when mesh.yaml could be read. */
static bool known(const struct ctx *c, const struct nidx *x, pdp_str s)
{
	return !c->mesh || nidx_find(x, s) != NULL;
}

static const pdp_src_group *find_group(const struct ctx *c, pdp_str name)
{
	const struct nent *e = nidx_find(&c->groups, name);
	return e ? &c->m->groups[e->idx] : NULL;
}

static const pdp_src_domain *find_domain(const struct ctx *c, pdp_str name)
{
	const struct nent *e = nidx_find(&c->domains, name);
	return e ? &c->src->domains[e->idx] : NULL;
}

/* ---- reference checks shared by rules, domains and products ------------- */

enum ref_kind { REF_CLASS, REF_PURPOSE, REF_GROUP, REF_PII, REF_DOMAIN };

static void check_ref(struct ctx *c, enum ref_kind k, pdp_str s, const pdp_ynode *y)
{
	switch (k) {
	case REF_CLASS:
		if (!known(c, &c->classes, s))
			err_at(c, y, "unknown classification '%.*s' (not in mesh.classifications)", STRF(s));
		return;
	case REF_PURPOSE:
		if (!known(c, &c->purposes, s))
			err_at(c, y, "unknown purpose '%.*s' (not in mesh.purposes)", STRF(s));
		return;
	case REF_GROUP:
		if (!known(c, &c->groups, s))
			err_at(c, y, "unknown group '%.*s' (not in mesh.groups)", STRF(s));
		return;
	case REF_PII:
		if (!known(c, &c->pii, s))
			err_at(c, y, "unknown pii category '%.*s' (not in mesh pii.categories)", STRF(s));
		return;
	case REF_DOMAIN:
		if (!find_domain(c, s))
			err_at(c, y, "unknown domain '%.*s' (no domains/%.*s/domain.yaml)", STRF(s),
			       STRF(s));
		return;
	default:
		return;
	}
}

static void check_refs(struct ctx *c, enum ref_kind k, const pdp_strv *sv, const char *except)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!except || !pdp_str_eq_c(sv->v[i], except))
			check_ref(c, k, sv->v[i], pdp_src_item(sv, i));
}

/* ---- mesh.yaml ------------------------------------------------------------ */

static void check_groups(struct ctx *c)
{
	nidx_dups(c, &c->groups, "group");
	for (size_t i = 0; i < c->m->ngroups; i++) {
		const pdp_src_group *g = &c->m->groups[i];
		if (g->domain.len && !find_domain(c, g->domain))
			err_at(c, at_key(g->y, "domain"),
			       "group '%.*s': unknown domain '%.*s' (no domains/%.*s/domain.yaml)",
			       STRF(g->name), STRF(g->domain), STRF(g->domain));
	}
}

static void check_pii(struct ctx *c)
{
	for (size_t i = 0; i < c->m->npii_cats; i++) {
		const pdp_src_pii_cat *pc = &c->m->pii_cats[i];
		if (pdp_str_eq_c(pc->name, "none") || pdp_str_eq_c(pc->name, "any"))
			err_at(c, pc->y, "pii category name '%.*s' is reserved (pii: none, "
			       "column_pii: any)", STRF(pc->name));
	}
	const pdp_strv *det = &c->m->pii_detect;
	for (size_t i = 0; i < det->n; i++)
		if (det->v[i].len == 0)
			warn_at(c, pdp_src_item(det, i), "empty pii.detect pattern matches every column");
}

static void check_cond(struct ctx *c, const pdp_src_cond *cd)
{
	for (size_t i = 0; i < cd->product_domain.n; i++)
		check_ref(c, REF_DOMAIN, cd->product_domain.v[i],
			  pdp_src_item(&cd->product_domain, i));
	check_refs(c, REF_CLASS, &cd->product_classification, NULL);
	check_refs(c, REF_CLASS, &cd->column_classification, NULL);
	check_refs(c, REF_PII, &cd->column_pii, "any");
	check_refs(c, REF_GROUP, &cd->subject_groups, NULL);
	check_refs(c, REF_PURPOSE, &cd->purposes, NULL);
}

static void check_rule(struct ctx *c, const pdp_src_rule *r)
{
	const pdp_ynode *mask = pdp_ymap_get(r->y, "mask");
	if (mask && !r->is_mask)
		err_at(c, mask, "rule '%.*s': mask: is only allowed on effect: mask rules",
		       STRF(r->id));
	if (r->match.set) {
		check_cond(c, &r->match);
		if (r->match.y->type == PDP_Y_MAP && r->match.y->n == 0)
			warn_at(c, r->match.y, "rule '%.*s': empty match applies to every request",
				STRF(r->id));
	}
	if (r->except.set) {
		check_cond(c, &r->except);
		if (r->except.y->type == PDP_Y_MAP && r->except.y->n == 0)
			warn_at(c, r->except.y, "rule '%.*s': empty except always holds, so the "
				"rule never applies", STRF(r->id));
	}
}

static void check_rules(struct ctx *c)
{
	struct nidx ids = { 0 };
	for (size_t i = 0; i < c->m->nrules; i++) {
		const pdp_src_rule *r = &c->m->rules[i];
		if (r->id.len)
			nidx_add(&ids, r->id, at_key(r->y, "id"), i);
		check_rule(c, r);
	}
	nidx_sort(&ids);
	nidx_dups(c, &ids, "rule id");
	nidx_done(&ids);
}

static void check_principals(struct ctx *c)
{
	for (size_t i = 0; i < c->m->nprincipals; i++) {
		const pdp_src_principal *p = &c->m->principals[i];
		if (!find_group(c, p->group))
			err_at(c, p->y, "principal for unknown group '%.*s' (not in mesh.groups)",
			       STRF(p->group));
	}
}

static void check_mesh(struct ctx *c)
{
	const pdp_src_mesh *m = c->m;
	nidx_dups(c, &c->classes, "classification");
	nidx_dups(c, &c->purposes, "purpose");
	if (m->purposes.n > CHECK_MAX_PURPOSES)
		err_at(c, pdp_src_item(&m->purposes, CHECK_MAX_PURPOSES),
		       "too many purposes (%zu): at most %d are supported", m->purposes.n,
		       CHECK_MAX_PURPOSES);
	check_groups(c);
	check_pii(c);
	check_rules(c);
	check_principals(c);
}

/* ---- domain.yaml ---------------------------------------------------------- */

static void check_domain(struct ctx *c, const pdp_src_domain *dom)
{
	if (dom->name_y && !pdp_str_eq(dom->name, dom->dir_name))
		err_at(c, dom->name_y, "domain name '%.*s' does not match its directory "
		       "domains/%.*s/", STRF(dom->name), STRF(dom->dir_name));
	for (size_t i = 0; c->mesh && i < dom->members.n; i++) {
		pdp_str g = dom->members.v[i];
		const pdp_src_group *grp = find_group(c, g);
		const pdp_ynode *y = pdp_src_item(&dom->members, i);
		if (!grp)
			err_at(c, y, "member '%.*s' is not a group in mesh.groups", STRF(g));
		else if (grp->domain.len && !pdp_str_eq(grp->domain, dom->name) &&
			 pdp_str_eq(dom->name, dom->dir_name))
			warn_at(c, y, "member '%.*s' belongs to domain '%.*s' in mesh.groups",
				STRF(g), STRF(grp->domain));
	}
	if (dom->default_classification_y)
		check_ref(c, REF_CLASS, dom->default_classification, dom->default_classification_y);
}

/* ---- product metadata, classification, SLO, ports ------------------------ */

static bool semver_core(const char **p, const char *end)
{
	const char *s = *p;
	while (*p < end && isdigit((unsigned char)**p))
		(*p)++;
	size_t n = (size_t)(*p - s);
	return n > 0 && !(n > 1 && *s == '0');
}

/* Dot-separated identifiers [0-9A-Za-z-]+; in a pre-release, numeric ones
 * have no leading zero (semver.org 2.0.0, items 9 and 10). */
static bool semver_idents(const char *p, const char *end, bool pre)
{
	for (;;) {
		const char *s = p;
		bool numeric = true;
		for (; p < end && *p != '.'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '-')
				return false;
			numeric &= isdigit((unsigned char)*p) != 0;
		}
		if (p == s || (pre && numeric && p - s > 1 && *s == '0'))
			return false;
		if (p == end)
			return true;
		p++;
	}
}

static bool is_semver(pdp_str v)
{
	const char *p = v.p, *end = v.p + v.len;
	for (int i = 0; i < 3; i++) {
		if (i && (p == end || *p++ != '.'))
			return false;
		if (!semver_core(&p, end))
			return false;
	}
	const char *plus = memchr(p, '+', (size_t)(end - p));
	const char *pre_end = plus ? plus : end;
	if (p < pre_end && (*p != '-' || !semver_idents(p + 1, pre_end, true)))
		return false;
	return !plus || semver_idents(plus + 1, end, false);
}

static bool name_chars_ok(pdp_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '_' && s.p[i] != '-' && s.p[i] != '.')
			return false;
	return true;
}

static void check_product_name(struct ctx *c, const pdp_src_product *p)
{
	const char *dot = memchr(p->name.p, '.', p->name.len);
	size_t dl = dot ? (size_t)(dot - p->name.p) : 0;
	if (!dot || dl == 0 || dl + 1 == p->name.len ||
	    memchr(dot + 1, '.', p->name.len - dl - 1)) {
		err_at(c, p->name_y, "metadata.name '%.*s' must be <domain>.<entity>", STRF(p->name));
		return;
	}
	pdp_str dom = { p->name.p, dl };
	if (p->domain_y && !pdp_str_eq(dom, p->domain))
		err_at(c, p->name_y, "metadata.name '%.*s' is not in its domain '%.*s' "
		       "(metadata.domain)", STRF(p->name), STRF(p->domain));
	if (!name_chars_ok(p->name))
		warn_at(c, p->name_y, "metadata.name '%.*s' has characters other than letters, "
			"digits, '_' and '-'", STRF(p->name));
}

static void check_metadata(struct ctx *c, const pdp_src_product *p)
{
	if (p->name_y)
		check_product_name(c, p);
	if (p->domain_y) {
		if (!pdp_str_eq(p->domain, p->dir_domain))
			err_at(c, p->domain_y, "product of domain '%.*s' is in the directory of "
			       "domain '%.*s' (domains/%.*s/products/)", STRF(p->domain),
			       STRF(p->dir_domain), STRF(p->dir_domain));
		check_ref(c, REF_DOMAIN, p->domain, p->domain_y);
	}
	if (p->version_y && !is_semver(p->version))
		err_at(c, p->version_y, "version '%.*s' is not semver "
		       "(MAJOR.MINOR.PATCH[-prerelease][+build])", STRF(p->version));
}

static void check_classification(struct ctx *c, const pdp_src_product *p)
{
	if (!p->classification_y) {
		pdp_str dn = p->domain.len ? p->domain : p->dir_domain;
		err_at(c, p->y, "product has no classification and domain '%.*s' gives no "
		       "default_classification", STRF(dn));
		return;
	}
	/* inherited from domain.yaml: checked there */
	if (p->classification_y->file && strcmp(p->classification_y->file, p->file))
		return;
	check_ref(c, REF_CLASS, p->classification, p->classification_y);
}

static void check_slo(struct ctx *c, const pdp_src_product *p)
{
	const pdp_src_mesh *m = c->m;
	if (p->has_freshness && p->freshness_minutes < 0)
		err_at(c, p->freshness_y, "slo.freshness_minutes must not be negative");
	else if (p->has_freshness && m->has_max_freshness &&
		 p->freshness_minutes > (double)m->max_freshness_minutes)
		err_at(c, p->freshness_y, "slo.freshness_minutes %g exceeds "
		       "bounds.max_freshness_minutes %lld", p->freshness_minutes,
		       (long long)m->max_freshness_minutes);
	if (!p->has_completeness)
		return;
	if (p->completeness_percent < 0 || p->completeness_percent > 100)
		err_at(c, p->completeness_y, "slo.completeness_percent %g is outside 0..100",
		       p->completeness_percent);
	else if (m->has_min_completeness && p->completeness_percent < m->min_completeness_percent)
		err_at(c, p->completeness_y, "slo.completeness_percent %g is below "
		       "bounds.min_completeness_percent %g", p->completeness_percent,
		       m->min_completeness_percent);
}

static void check_ports(struct ctx *c, const pdp_src_product *p)
{
	for (size_t i = 0; i < p->nports; i++) {
		const pdp_src_port *po = &p->ports[i];
		if (pdp_str_eq_c(po->type, "table") && (!po->database.len || !po->table.len))
			warn_at(c, po->y, "output port of type table without database and table "
				"cannot be used by the grant export");
	}
}

/* ---- columns --------------------------------------------------------------- */

static const pdp_str *detect_match(const struct ctx *c, pdp_str column)
{
	const pdp_strv *det = &c->m->pii_detect;
	for (size_t i = 0; i < det->n; i++)
		if (det->v[i].len && pdp_pii_detect_match(det->v[i], column))
			return &det->v[i];
	return NULL;
}

static void check_column_pii(struct ctx *c, const pdp_src_column *col)
{
	bool none = col->has_pii && pdp_str_eq_c(col->pii, "none");
	if (none && !col->reason.len)
		err_at(c, col->pii_y, "column '%.*s': pii: none needs a reason", STRF(col->name));
	else if (col->has_pii && !none)
		check_ref(c, REF_PII, col->pii, col->pii_y);
	if (col->reason.len && !none)
		warn_at(c, at_key(col->y, "reason"), "column '%.*s': reason is only used with "
			"pii: none", STRF(col->name));
	if (col->has_pii || !col->name.len)
		return;
	const pdp_str *pat = detect_match(c, col->name);
	if (pat)
		err_at(c, at_key(col->y, "name"), "column '%.*s' matches pii.detect '%.*s' but "
		       "has no pii: tag (pii: <category>, or pii: none with a reason)",
		       STRF(col->name), STRF(*pat));
}

static void check_columns(struct ctx *c, const pdp_src_product *p, struct nidx *cols)
{
	if (p->ncolumns > CHECK_MAX_COLUMNS)
		err_at(c, p->columns[CHECK_MAX_COLUMNS].y, "too many columns (%zu): at most %d "
		       "per product", p->ncolumns, CHECK_MAX_COLUMNS);
	for (size_t i = 0; i < p->ncolumns; i++) {
		const pdp_src_column *col = &p->columns[i];
		if (col->name.len)
			nidx_add(cols, col->name, at_key(col->y, "name"), i);
		check_column_pii(c, col);
		if (col->classification_y)
			check_ref(c, REF_CLASS, col->classification, col->classification_y);
	}
	nidx_sort(cols);
	nidx_dups(c, cols, "column");
}

/* ---- grants and denies ----------------------------------------------------- */

static void check_entry_id(struct ctx *c, const pdp_src_entry *e, const pdp_ynode *y)
{
	static const char *const reserved[] = { "domain_member", "default_deny",
						"unknown_product" };
	if (!e->id.len) {
		err_at(c, y, "id is empty");
		return;
	}
	bool bad = memchr(e->id.p, '#', e->id.len) != NULL;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		bad |= pdp_str_eq_c(e->id, reserved[i]);
	if (bad)
		err_at(c, y, "id '%.*s' is reserved (ids with '#' and the reasons domain_member, "
		       "default_deny, unknown_product are generated)", STRF(e->id));
}

static void check_to(struct ctx *c, const pdp_src_entry *e)
{
	if (!e->to_y)
		return;
	switch (e->to_kind) {
	case PDP_TO_GROUP:
		check_ref(c, REF_GROUP, e->to, e->to_y);
		return;
	case PDP_TO_DOMAIN:
		check_ref(c, REF_DOMAIN, e->to, e->to_y);
		return;
	case PDP_TO_SUBJECT:
		if (!e->to.len)
			err_at(c, e->to_y, "to.subject is empty");
		return;
	default:
		return;
	}
}

static void check_entry_columns(struct ctx *c, const pdp_src_product *p,
				const struct nidx *cols, const pdp_src_entry *e)
{
	const pdp_strv *sv = &e->columns;
	for (size_t i = 0; i < sv->n; i++)
		if (!nidx_find(cols, sv->v[i]))
			err_at(c, pdp_src_item(sv, i), "unknown column '%.*s' (not in the schema "
			       "of %.*s)", STRF(sv->v[i]), STRF(p->name));
}

/* A list written as [] (not one that failed to load). */
static bool empty_list(const pdp_strv *sv)
{
	return sv->y && sv->y->type == PDP_Y_SEQ && sv->y->n == 0;
}

/* Warnings for entries that are legal but can never take effect. */
static void check_entry_effect(struct ctx *c, const pdp_src_entry *e, bool grant)
{
	const char *what = grant ? "grant" : "deny";
	if (empty_list(&e->actions_raw))
		warn_at(c, e->actions_raw.y, "%s has no actions: it has no effect", what);
	if (empty_list(&e->purposes))
		warn_at(c, e->purposes.y, "%s has an empty purposes list: it never matches a "
			"request", what);
	if (!empty_list(&e->columns))
		return;
	if (!grant)
		warn_at(c, e->columns.y, "deny has an empty columns list: it blocks nothing");
	else if (!(e->actions & PDP_ACT_DESCRIBE))
		warn_at(c, e->columns.y, "grant has an empty columns list: it allows nothing");
}

static bool owning_party(const struct ctx *c, const pdp_src_product *p, const pdp_src_entry *e)
{
	if (e->to_kind == PDP_TO_DOMAIN)
		return pdp_str_eq(e->to, p->domain);
	if (e->to_kind != PDP_TO_GROUP)
		return false;
	const pdp_src_group *g = find_group(c, e->to);
	if (g && pdp_str_eq(g->domain, p->domain))
		return true;
	const pdp_src_domain *dom = find_domain(c, p->domain);
	return dom && pdp_strv_has(&dom->members, e->to);
}

static void check_write(struct ctx *c, const pdp_src_product *p, const pdp_src_entry *e)
{
	if (!(e->actions & PDP_ACT_WRITE) || !e->to_y || !p->domain.len || owning_party(c, p, e))
		return;
	const pdp_strv *raw = &e->actions_raw;
	size_t i = 0;
	while (i + 1 < raw->n && !pdp_str_eq_c(raw->v[i], "write"))
		i++;
	err_at(c, pdp_src_item(raw, i), "write may only be granted to the owning domain "
	       "'%.*s' or its groups", STRF(p->domain));
}

static void check_unmasked(struct ctx *c, const pdp_src_product *p, const struct nidx *cols,
			   const pdp_src_entry *e)
{
	const pdp_strv *um = &e->unmasked;
	if (!um->set)
		return;
	if (!e->purposes.set)
		err_at(c, um->y, "unmasked requires purposes on the same grant");
	for (size_t i = 0; i < um->n; i++) {
		pdp_str u = um->v[i];
		const pdp_ynode *y = pdp_src_item(um, i);
		const struct nent *ce = nidx_find(cols, u);
		if (!ce) {
			err_at(c, y, "unknown column '%.*s' (not in the schema of %.*s)", STRF(u),
			       STRF(p->name));
			continue;
		}
		const pdp_src_column *col = &p->columns[ce->idx];
		if (!col->has_pii || pdp_str_eq_c(col->pii, "none"))
			err_at(c, y, "unmasked column '%.*s' is not a PII column", STRF(u));
		else if (!e->all_columns && !pdp_strv_has(&e->columns, u))
			err_at(c, y, "unmasked column '%.*s' is not among this grant's columns", STRF(u));
	}
}

static void check_grant_length(struct ctx *c, const pdp_src_entry *e)
{
	int64_t max = c->m->max_grant_days;
	if (!e->expires_y) {
		warn_at(c, e->y, "grant has no expires: bounds.max_grant_days (%lld) does not "
			"limit it", (long long)max);
		return;
	}
	if (!e->has_expires || (e->not_before_y && !e->has_not_before))
		return; /* a bad date, reported by the loader */
	int64_t start = e->has_not_before ? e->not_before : c->today;
	int64_t days = (e->expires - start) / DAY;
	if (days > max)
		err_at(c, e->expires_y, "grant lasts %lld days (from %s), longer than "
		       "bounds.max_grant_days %lld", (long long)days,
		       e->has_not_before ? "not_before" : "today", (long long)max);
}

static void check_dates(struct ctx *c, const pdp_src_entry *e)
{
	if (e->has_not_before && e->has_expires && e->not_before >= e->expires) {
		err_at(c, e->expires_y, "expires %.*s is not after not_before %.*s",
		       STRF(e->expires_y->str), STRF(e->not_before_y->str));
		return;
	}
	if (e->has_expires && e->expires <= c->today)
		warn_at(c, e->expires_y, "grant expired on %.*s: it has no effect",
			STRF(e->expires_y->str));
	if (c->mesh && c->m->has_max_grant_days)
		check_grant_length(c, e);
}

static void check_row_filter(struct ctx *c, const pdp_src_entry *e)
{
	if (!e->has_row_filter)
		return;
	for (size_t i = 0; i < e->row_filter.len; i++)
		if (!isspace((unsigned char)e->row_filter.p[i]))
			return;
	err_at(c, e->row_filter_y, "row_filter is empty");
}

static void check_entry(struct ctx *c, const pdp_src_product *p, const struct nidx *cols,
			const pdp_src_entry *e, bool grant, struct nidx *ids, size_t idx)
{
	if (e->y->type != PDP_Y_MAP)
		return; /* reported by the loader; nothing else to check */
	const pdp_ynode *idy = pdp_ymap_get(e->y, "id");
	if (idy && idy->type == PDP_Y_SCALAR) {
		check_entry_id(c, e, idy);
		nidx_add(ids, e->id, idy, idx);
	}
	check_to(c, e);
	check_refs(c, REF_PURPOSE, &e->purposes, NULL);
	check_entry_columns(c, p, cols, e);
	check_entry_effect(c, e, grant);
	if (!grant)
		return;
	check_write(c, p, e);
	check_unmasked(c, p, cols, e);
	check_dates(c, e);
	check_row_filter(c, e);
}

static void check_entries(struct ctx *c, const pdp_src_product *p, const struct nidx *cols)
{
	struct nidx ids = { 0 };
	for (size_t i = 0; i < p->ngrants; i++)
		check_entry(c, p, cols, &p->grants[i], true, &ids, i);
	for (size_t i = 0; i < p->ndenies; i++)
		check_entry(c, p, cols, &p->denies[i], false, &ids, p->ngrants + i);
	nidx_sort(&ids);
	nidx_dups(c, &ids, "id");
	nidx_done(&ids);
}

/* ---- --baseline: backward compatibility (SPEC 2.5) ---------------------------
 *
 * Against the previously compiled revision: a column of a product that is
 * removed, or whose type changes (compared ignoring ASCII case), needs a new
 * MAJOR version. Added columns are compatible. Where the new version is not
 * semver the comparison waits (the version is an error already). A product
 * that disappears, or a version lower than the baseline's, is a warning. */

/* MAJOR, MINOR, PATCH of a valid semver string. */
static void semver_core3(pdp_str v, pdp_str out[3])
{
	const char *p = v.p, *end = v.p + v.len;
	for (int i = 0; i < 3; i++) {
		const char *s = p;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		out[i] = (pdp_str){ s, (size_t)(p - s) };
		p++;
	}
}

/* Numeric strings without leading zeros: longer is larger. */
static int num_cmp(pdp_str a, pdp_str b)
{
	if (a.len != b.len)
		return a.len < b.len ? -1 : 1;
	return pdp_str_cmp(a, b);
}

static void check_baseline_columns(struct ctx *c, const pdp_src_product *p,
				   const struct nidx *cols, const pdp_rt_product *op,
				   pdp_str old_version)
{
	const pdp_policy *old = c->baseline;
	for (uint32_t i = 0; i < op->ncols; i++) {
		pdp_str name = pdp_rt_str(old, op->cols[i].name);
		pdp_str type = pdp_rt_str(old, op->cols[i].type);
		const struct nent *ne = nidx_find(cols, name);
		if (!ne) {
			err_at(c, p->version_y, "column '%.*s' (%.*s) of baseline version %.*s is "
			       "removed without a major version bump", STRF(name), STRF(type),
			       STRF(old_version));
			continue;
		}
		const pdp_src_column *nc = &p->columns[ne->idx];
		if (nc->type.len && !pdp_str_eq_nocase(nc->type, type))
			err_at(c, at_key(nc->y, "type"), "column '%.*s' changes type from %.*s to "
			       "%.*s without a major version bump (baseline version %.*s)",
			       STRF(name), STRF(type), STRF(nc->type), STRF(old_version));
	}
}

static void check_baseline_product(struct ctx *c, const pdp_src_product *p,
				   const struct nidx *cols)
{
	const pdp_policy *old = c->baseline;
	const pdp_rt_product *op = pdp_rt_product_find(old, pdp_rt_sid(old, p->name));
	if (!op || !p->version_y || !is_semver(p->version))
		return;
	pdp_str ov = pdp_rt_str(old, op->version);
	if (!is_semver(ov))
		return;
	pdp_str o3[3], n3[3];
	semver_core3(ov, o3);
	semver_core3(p->version, n3);
	int cmp = num_cmp(n3[0], o3[0]);
	if (cmp > 0)
		return;
	for (int i = 1; cmp == 0 && i < 3; i++)
		cmp = num_cmp(n3[i], o3[i]);
	if (cmp < 0)
		warn_at(c, p->version_y, "version %.*s is lower than baseline version %.*s",
			STRF(p->version), STRF(ov));
	check_baseline_columns(c, p, cols, op, ov);
}

static int product_key_cmp(const void *key, const void *elem)
{
	return pdp_str_cmp(*(const pdp_str *)key, ((const pdp_src_product *)elem)->name);
}

static void check_baseline_removed(struct ctx *c)
{
	const pdp_policy *old = c->baseline;
	for (uint32_t i = 0; i < old->nproducts; i++) {
		pdp_str name = pdp_rt_str(old, old->products[i].name);
		if (bsearch(&name, c->src->products, c->src->nproducts,
			    sizeof(*c->src->products), product_key_cmp))
			continue;
		pdp_str ov = pdp_rt_str(old, old->products[i].version);
		warn_at(c, NULL, "product '%.*s' (baseline version %.*s) is removed",
			STRF(name), STRF(ov));
	}
}

/* ---- products ---------------------------------------------------------------- */

static void check_product(struct ctx *c, const pdp_src_product *p)
{
	check_metadata(c, p);
	check_classification(c, p);
	check_slo(c, p);
	check_ports(c, p);
	struct nidx cols = { 0 };
	check_columns(c, p, &cols);
	check_entries(c, p, &cols);
	if (c->baseline)
		check_baseline_product(c, p, &cols);
	nidx_done(&cols);
}

/* Products are sorted by name (then file), so duplicates are neighbours. */
static void check_products(struct ctx *c)
{
	const pdp_src *src = c->src;
	size_t first = 0;
	for (size_t i = 0; i < src->nproducts; i++) {
		const pdp_src_product *p = &src->products[i], *f = &src->products[first];
		if (i && p->name_y && f->name_y && pdp_str_eq(p->name, f->name))
			err_at(c, p->name_y, "duplicate product '%.*s' (first defined at %s:%d)",
			       STRF(p->name), f->file, f->name_y->line);
		else
			first = i;
		check_product(c, p);
	}
}

/* ---- driver ---------------------------------------------------------------- */

static void build_indexes(struct ctx *c)
{
	const pdp_src_mesh *m = c->m;
	index_strv(&c->classes, &m->classifications);
	index_strv(&c->purposes, &m->purposes);
	for (size_t i = 0; i < m->ngroups; i++)
		if (m->groups[i].name.len)
			nidx_add(&c->groups, m->groups[i].name, at_key(m->groups[i].y, "name"), i);
	nidx_sort(&c->groups);
	for (size_t i = 0; i < m->npii_cats; i++)
		nidx_add(&c->pii, m->pii_cats[i].name, m->pii_cats[i].y, i);
	nidx_sort(&c->pii);
	for (size_t i = 0; i < c->src->ndomains; i++)
		if (c->src->domains[i].name_y)
			nidx_add(&c->domains, c->src->domains[i].name, c->src->domains[i].name_y, i);
	nidx_sort(&c->domains);
}

static void ctx_done(struct ctx *c)
{
	nidx_done(&c->classes);
	nidx_done(&c->purposes);
	nidx_done(&c->groups);
	nidx_done(&c->pii);
	nidx_done(&c->domains);
}

void pdp_src_check_at(const pdp_src *src, const struct pdp_policy *baseline, int64_t now,
		      pdp_diag *d)
{
	struct ctx c = { .src = src, .m = &src->mesh, .d = d, .mesh = src->has_mesh,
			 .baseline = baseline };
	c.today = now - ((now % DAY) + DAY) % DAY;
	build_indexes(&c);
	if (c.mesh)
		check_mesh(&c);
	nidx_dups(&c, &c.domains, "domain");
	for (size_t i = 0; i < src->ndomains; i++)
		check_domain(&c, &src->domains[i]);
	check_products(&c);
	pdp_grants_check_src(src, d);
	if (baseline)
		check_baseline_removed(&c);
	ctx_done(&c);
}

void pdp_src_check(const pdp_src *src, const struct pdp_policy *baseline, pdp_diag *d)
{
	pdp_src_check_at(src, baseline, (int64_t)time(NULL), d);
}
