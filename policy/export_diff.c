/*
 * export_diff.c -- `pdp grants diff`: who gains and who loses which access
 * between two revisions, as lines a reviewer reads in a pull request.
 *
 * Design: both revisions are flattened, at the same time T, into records
 * keyed by strings (so the two string tables never meet):
 *   - PDP access, per principal (every group, domain and subject that a
 *     grant names), product and purpose situation (each declared purpose,
 *     and none): each column's best status over the sources (clear beats
 *     masked), whether the product may be described, and the row filter a
 *     SELECT * would get (none when a source without filter or membership
 *     gives a column; else the sources' filters OR-ed in policy order), all
 *     read as export_int.h says (conservatively over the subject's domain);
 *   - lake access, from the Lake Formation model: per principal ARN, table,
 *     permission, row filter and column.
 * Records are sorted and merged; the differences are grouped, first the
 * purposes of one column's change, then the columns that changed the same
 * way for the same purposes, into one line each:
 *   + group:finance-analysts orders.order_events: read clear order_id (purposes: billing)
 *   - group:orders-analysts customer.profiles: read masked email (any purpose, or none)
 *   ~ group:x p: read email masked -> clear (purposes: fraud_investigation)
 *   ~ group:x p: rows (region = 'EU') -> all rows (no purpose)
 *   + lake arn:aws:iam::1:role/r orders_prod.order_events: SELECT event_id, region
 * then a count. Output order is sorted, so the same two bundles give the
 * same text.
 *
 * Ownership: one scratch arena, freed before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

enum kind { K_COL = 'c', K_DESCRIBE = 'd', K_ROWS = 'f', K_LAKE = 'l' };

struct rec {
	pdp_str prin, product, column, purpose, value;
	char kind;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

struct dctx {
	pdp_arena *a;
	int64_t t;
};

static void push(struct recs *r, struct rec x)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = pdp_xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] = x;
}

static pdp_str astr(pdp_arena *a, const pdp_buf *b)
{
	return pdp_arena_str(a, (pdp_str){ b->data ? b->data : "", b->len });
}

/* The row filter of SELECT * over the sources giving some column. */
static bool rows_of(const pdp_policy *p, const ex_access *acc, pdp_arena *a, pdp_str *ret)
{
	bool any = false, unfiltered = false;
	pdp_buf b;
	pdp_buf_init(&b, 0);
	for (uint32_t i = 0; i < acc->nsources; i++) {
		const ex_source *s = &acc->sources[i];
		bool gives = false;
		for (uint32_t w = 0; w < acc->prod->nwords && !gives; w++)
			gives = (s->clear[w] | s->masked[w]) != 0;
		if (!gives)
			continue;
		any = true;
		if (!s->grant || !(s->grant->flags & PDP_ENTRY_HAS_ROW_FILTER)) {
			unfiltered = true;
			continue;
		}
		pdp_str f = pdp_rt_str(p, s->grant->row_filter);
		pdp_ignore(pdp_buf_printf(&b, "%s(%.*s)", b.len ? " OR " : "", (int)f.len, f.p));
	}
	*ret = unfiltered ? PDP_STR("all rows") : astr(a, &b);
	pdp_buf_done(&b);
	return any;
}

static void access_recs(const pdp_policy *p, const ex_access *acc, pdp_str prin, pdp_str purpose,
			pdp_arena *a, struct recs *r)
{
	const pdp_rt_product *prod = acc->prod;
	pdp_str pname = pdp_rt_str(p, prod->name);
	bool describe = false;
	for (uint32_t i = 0; i < acc->nsources; i++)
		describe |= acc->sources[i].describe;
	if (describe)
		push(r, (struct rec){ prin, pname, PDP_STR(""), purpose, PDP_STR("yes"), K_DESCRIBE });
	for (uint32_t c = 0; c < prod->ncols; c++) {
		int best = 0;
		for (uint32_t i = 0; i < acc->nsources; i++) {
			const ex_source *s = &acc->sources[i];
			int st = pdp_bit(s->clear, c) ? 2 : pdp_bit(s->masked, c) ? 1 : 0;
			best = st > best ? st : best;
		}
		if (best)
			push(r, (struct rec){ prin, pname, pdp_rt_str(p, prod->cols[c].name), purpose,
					      best == 2 ? PDP_STR("clear") : PDP_STR("masked"), K_COL });
	}
	pdp_str rows;
	if (rows_of(p, acc, a, &rows))
		push(r, (struct rec){ prin, pname, PDP_STR(""), purpose, rows, K_ROWS });
}

static void pdp_recs(const pdp_policy *p, const struct dctx *d, struct recs *r)
{
	ex_principal *prin;
	uint32_t n = ex_principals(p, true, d->a, &prin);
	for (uint32_t i = 0; i < n; i++) {
		pdp_str label = ex_principal_label(p, &prin[i], d->a);
		for (uint32_t j = 0; j < p->nproducts; j++) {
			for (int u = -1; u < (int)p->npurposes; u++) {
				ex_worlds lim = ex_worlds_purpose(u);
				ex_access acc;
				ex_access_eval(p, d->t, &prin[i], &p->products[j], &lim, d->a, &acc);
				if (!acc.nsources)
					continue;
				pdp_str purpose = u < 0 ? PDP_STR("") : pdp_rt_str(p, p->purposes[u]);
				access_recs(p, &acc, label, purpose, d->a, r);
			}
		}
	}
}

static void lake_recs(const pdp_policy *p, const struct dctx *d, struct recs *r)
{
	ex_lf_model m;
	ex_lf_build(p, d->t, true, d->a, NULL, &m);
	for (uint32_t i = 0; i < m.ngrants; i++) {
		const ex_lf_grant *g = &m.grants[i];
		pdp_str arn = pdp_rt_str(p, g->prin->arn), db = pdp_rt_str(p, g->port->database),
			tb = pdp_rt_str(p, g->port->table);
		pdp_buf b;
		pdp_buf_init(&b, 0);
		pdp_ignore(pdp_buf_printf(&b, "%.*s.%.*s", (int)db.len, db.p, (int)tb.len, tb.p));
		pdp_str table = astr(d->a, &b);
		pdp_buf_done(&b);
		if (g->kind == EX_LF_DESCRIBE) {
			push(r, (struct rec){ arn, table, PDP_STR(""), PDP_STR("DESCRIBE"), PDP_STR(""), K_LAKE });
			continue;
		}
		pdp_str where = g->kind == EX_LF_FILTER ? g->filter : PDP_STR("");
		for (uint32_t c = 0; c < g->prod->ncols; c++)
			if (pdp_bit(g->cols, c))
				push(r, (struct rec){ arn, table, pdp_rt_str(p, g->prod->cols[c].name),
						      PDP_STR("SELECT"), where, K_LAKE });
	}
}

/* Lake records compare on all fields (presence only); the others on the
 * key, with the value as the payload. */
static int rec_key_cmp(const struct rec *a, const struct rec *b)
{
	int c = pdp_str_cmp(a->prin, b->prin);
	if (!c)
		c = pdp_str_cmp(a->product, b->product);
	if (!c)
		c = (a->kind > b->kind) - (a->kind < b->kind);
	if (!c)
		c = pdp_str_cmp(a->column, b->column);
	if (!c)
		c = pdp_str_cmp(a->purpose, b->purpose);
	if (!c && a->kind == K_LAKE)
		c = pdp_str_cmp(a->value, b->value);
	return c;
}

static int rec_cmp(const void *x, const void *y)
{
	return rec_key_cmp(x, y);
}

struct change {
	pdp_str prin, product, column, purpose, from, to; /* from/to: NULL p = absent */
	char kind;
	pdp_str plabel;                                    /* after grouping purposes */
};

struct changes {
	struct change *v;
	size_t n, cap;
};

static void add_change(struct changes *c, struct change x)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = pdp_xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = x;
}

static void merge(const struct recs *o, const struct recs *n, struct changes *out)
{
	size_t i = 0, j = 0;
	while (i < o->n || j < n->n) {
		int c = i == o->n ? 1 : j == n->n ? -1 : rec_key_cmp(&o->v[i], &n->v[j]);
		const struct rec *r = c <= 0 ? &o->v[i] : &n->v[j];
		struct change x = { r->prin, r->product, r->column, r->purpose, PDP_STR_NULL,
				    PDP_STR_NULL, r->kind, PDP_STR_NULL };
		if (c < 0) {
			x.from = o->v[i++].value;
		} else if (c > 0) {
			x.to = n->v[j++].value;
		} else {
			x.from = o->v[i++].value;
			x.to = n->v[j++].value;
			if (pdp_str_eq(x.from, x.to))
				continue;
		}
		if (x.kind == K_LAKE) { /* presence only: keep the filter as the column's detail */
			pdp_str v = x.from.p ? x.from : x.to;
			x.from = x.from.p ? PDP_STR("") : PDP_STR_NULL;
			x.to = x.to.p ? PDP_STR("") : PDP_STR_NULL;
			x.plabel = v;
		}
		add_change(out, x);
	}
}

static int opt_cmp(pdp_str a, pdp_str b)
{
	if (!a.p || !b.p)
		return (a.p != NULL) - (b.p != NULL);
	return pdp_str_cmp(a, b);
}

/* Changes of one column, same from/to, over several purposes: adjacent
 * after this order. */
static int by_column(const void *x, const void *y)
{
	const struct change *a = x, *b = y;
	int c = pdp_str_cmp(a->prin, b->prin);
	if (!c)
		c = pdp_str_cmp(a->product, b->product);
	if (!c)
		c = (a->kind > b->kind) - (a->kind < b->kind);
	if (!c)
		c = pdp_str_cmp(a->column, b->column);
	if (!c)
		c = opt_cmp(a->from, b->from);
	if (!c)
		c = opt_cmp(a->to, b->to);
	if (!c)
		c = pdp_str_cmp(a->plabel, b->plabel);
	if (!c)
		c = pdp_str_cmp(a->purpose, b->purpose);
	return c;
}

/* The same change for the same purposes over several columns. */
static int by_line(const void *x, const void *y)
{
	const struct change *a = x, *b = y;
	int c = pdp_str_cmp(a->prin, b->prin);
	if (!c)
		c = pdp_str_cmp(a->product, b->product);
	if (!c)
		c = (a->kind > b->kind) - (a->kind < b->kind);
	if (!c)
		c = opt_cmp(a->from, b->from);
	if (!c)
		c = opt_cmp(a->to, b->to);
	if (!c)
		c = pdp_str_cmp(a->plabel, b->plabel);
	if (!c)
		c = pdp_str_cmp(a->purpose, b->purpose); /* lake: the permission */
	if (!c)
		c = pdp_str_cmp(a->column, b->column);
	return c;
}

static int str_cmp_p(const void *x, const void *y)
{
	return pdp_str_cmp(*(const pdp_str *)x, *(const pdp_str *)y);
}

/* All purposes of both revisions, sorted, unique; "" (none) first. */
static size_t universe(const pdp_policy *a, const pdp_policy *b, pdp_arena *ar, pdp_str **ret)
{
	pdp_str *v = pdp_arena_array(ar, a->npurposes + b->npurposes + 2, sizeof(pdp_str));
	size_t n = 0;
	v[n++] = PDP_STR("");
	for (uint32_t i = 0; i < a->npurposes; i++)
		v[n++] = pdp_rt_str(a, a->purposes[i]);
	for (uint32_t i = 0; i < b->npurposes; i++)
		v[n++] = pdp_rt_str(b, b->purposes[i]);
	qsort(v, n, sizeof(*v), str_cmp_p);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || !pdp_str_eq(v[m - 1], v[i]))
			v[m++] = v[i];
	*ret = v;
	return m;
}

/* "any purpose, or none" / "any purpose" / "no purpose; purposes: a, b". */
static pdp_str purpose_label(const pdp_str *set, size_t n, size_t nu, pdp_arena *a)
{
	bool none = n && set[0].len == 0;
	if (n == nu)
		return PDP_STR("any purpose, or none");
	if (!none && n + 1 == nu)
		return PDP_STR("any purpose");
	pdp_buf b;
	pdp_buf_init(&b, 0);
	if (none)
		pdp_ignore(pdp_buf_adds(&b, n > 1 ? "no purpose; purposes: " : "no purpose"));
	else
		pdp_ignore(pdp_buf_adds(&b, n > 1 ? "purposes: " : "purpose: "));
	for (size_t i = none; i < n; i++)
		pdp_ignore(pdp_buf_printf(&b, "%s%.*s", i > (size_t)none ? ", " : "", (int)set[i].len,
					  set[i].p));
	pdp_str r = astr(a, &b);
	pdp_buf_done(&b);
	return r;
}

static bool same_column_change(const struct change *a, const struct change *b)
{
	return pdp_str_eq(a->prin, b->prin) && pdp_str_eq(a->product, b->product) &&
	       a->kind == b->kind && pdp_str_eq(a->column, b->column) && !opt_cmp(a->from, b->from) &&
	       !opt_cmp(a->to, b->to) && pdp_str_eq(a->plabel, b->plabel) &&
	       (a->kind != K_LAKE || pdp_str_eq(a->purpose, b->purpose));
}

/* Step 1: one change per column with the label of its purposes. */
static void group_purposes(struct changes *c, size_t nu, pdp_arena *a)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), by_column);
	pdp_str *set = pdp_arena_array(a, nu + 1, sizeof(pdp_str));
	size_t m = 0;
	for (size_t i = 0; i < c->n;) {
		size_t j = i, ns = 0;
		while (j < c->n && same_column_change(&c->v[i], &c->v[j])) {
			if (ns < nu)
				set[ns++] = c->v[j].purpose;
			j++;
		}
		struct change x = c->v[i];
		if (x.kind != K_LAKE) {
			x.plabel = purpose_label(set, ns, nu, a);
			x.purpose = PDP_STR("");
		}
		c->v[m++] = x;
		i = j;
	}
	c->n = m;
}

static bool same_line(const struct change *a, const struct change *b)
{
	return pdp_str_eq(a->prin, b->prin) && pdp_str_eq(a->product, b->product) &&
	       a->kind == b->kind && !opt_cmp(a->from, b->from) && !opt_cmp(a->to, b->to) &&
	       pdp_str_eq(a->plabel, b->plabel) && pdp_str_eq(a->purpose, b->purpose);
}

struct counts {
	size_t lines, gained, lost, changed;
};

static void render(pdp_buf *out, const struct change *x, const pdp_buf *cols, struct counts *n)
{
	char sign = !x->from.p ? '+' : !x->to.p ? '-' : '~';
	pdp_str what = x->from.p ? x->from : x->to;
	n->lines++;
	n->gained += sign == '+';
	n->lost += sign == '-';
	n->changed += sign == '~';
	const char *cl = cols->data ? cols->data : "";
#define S(s) (int)(s).len, (s).p
	switch (x->kind) {
	case K_LAKE:
		pdp_ignore(pdp_buf_printf(out, "%c lake %.*s %.*s: %.*s%s%s", sign, S(x->prin),
					  S(x->product), S(x->purpose), *cl ? " " : "", cl));
		if (x->plabel.len)
			pdp_ignore(pdp_buf_printf(out, " WHERE %.*s", S(x->plabel)));
		break;
	case K_DESCRIBE:
		pdp_ignore(pdp_buf_printf(out, "%c %.*s %.*s: describe (%.*s)", sign, S(x->prin),
					  S(x->product), S(x->plabel)));
		break;
	case K_ROWS:
		if (sign == '~')
			pdp_ignore(pdp_buf_printf(out, "~ %.*s %.*s: rows %.*s -> %.*s (%.*s)", S(x->prin),
						  S(x->product), S(x->from), S(x->to), S(x->plabel)));
		else
			pdp_ignore(pdp_buf_printf(out, "%c %.*s %.*s: rows %.*s (%.*s)", sign, S(x->prin),
						  S(x->product), S(what), S(x->plabel)));
		break;
	default:
		if (sign == '~')
			pdp_ignore(pdp_buf_printf(out, "~ %.*s %.*s: read %s %.*s -> %.*s (%.*s)",
						  S(x->prin), S(x->product), cl, S(x->from), S(x->to),
						  S(x->plabel)));
		else
			pdp_ignore(pdp_buf_printf(out, "%c %.*s %.*s: read %.*s %s (%.*s)", sign,
						  S(x->prin), S(x->product), S(what), cl, S(x->plabel)));
		break;
	}
#undef S
	pdp_ignore(pdp_buf_addc(out, '\n')); /* unbounded buffer */
}

/* Step 2: one line per change and purpose label, columns joined. */
static void lines(const struct changes *c, pdp_buf *out, struct counts *n)
{
	pdp_buf cols;
	pdp_buf_init(&cols, 0);
	for (size_t i = 0; i < c->n;) {
		size_t j = i;
		pdp_buf_reset(&cols);
		while (j < c->n && same_line(&c->v[i], &c->v[j])) {
			if (c->v[j].column.len)
				pdp_ignore(pdp_buf_printf(&cols, "%s%.*s", cols.len ? ", " : "",
							  (int)c->v[j].column.len, c->v[j].column.p));
			j++;
		}
		render(out, &c->v[i], &cols, n);
		i = j;
	}
	pdp_buf_done(&cols);
}

static void collect(const pdp_policy *p, const struct dctx *d, struct recs *pdp, struct recs *lake)
{
	pdp_recs(p, d, pdp);
	lake_recs(p, d, lake);
	if (pdp->n > 1)
		qsort(pdp->v, pdp->n, sizeof(*pdp->v), rec_cmp);
	if (lake->n > 1)
		qsort(lake->v, lake->n, sizeof(*lake->v), rec_cmp);
}

enum pdp_err pdp_grants_diff(const pdp_policy *old_p, const pdp_policy *new_p,
			     const pdp_grants_opts *opts, pdp_buf *out, size_t *ret_changes)
{
	struct dctx d = { pdp_arena_new(1 << 16), opts->time };
	struct recs op = { 0 }, ol = { 0 }, np = { 0 }, nl = { 0 };
	collect(old_p, &d, &op, &ol);
	collect(new_p, &d, &np, &nl);
	struct changes c = { 0 }, lc = { 0 };
	merge(&op, &np, &c);
	merge(&ol, &nl, &lc);
	pdp_str *uni;
	size_t nu = universe(old_p, new_p, d.a, &uni);
	group_purposes(&c, nu, d.a);
	group_purposes(&lc, nu, d.a);
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), by_line);
	if (lc.n > 1)
		qsort(lc.v, lc.n, sizeof(*lc.v), by_line);
	char t[32];
	ex_time_str(opts->time, t);
	pdp_buf body;
	pdp_buf_init(&body, 0);
	struct counts n = { 0 };
	pdp_ignore(pdp_buf_printf(&body, "# access diff at %s\n# old %s\n# new %s\n", t,
				  old_p->revision, new_p->revision));
	lines(&c, &body, &n);
	size_t pdp_lines = n.lines;
	lines(&lc, &body, &n);
	if (n.lines)
		pdp_ignore(pdp_buf_printf(&body, "%zu changes (%zu in decisions, %zu in the lake): "
					  "%zu gained, %zu lost, %zu changed\n", n.lines, pdp_lines,
					  n.lines - pdp_lines, n.gained, n.lost, n.changed));
	else
		pdp_ignore(pdp_buf_adds(&body, "no change in access\n"));
	enum pdp_err e = pdp_buf_addstr(out, (pdp_str){ body.data ? body.data : "", body.len });
	pdp_buf_done(&body);
	free(op.v);
	free(ol.v);
	free(np.v);
	free(nl.v);
	free(c.v);
	free(lc.v);
	pdp_arena_free(d.a);
	if (e == PDP_OK)
		*ret_changes = n.lines;
	return e;
}
