/*
 * export_lf.c -- the Lake Formation export: what each principal may read in
 * the lake, as CreateDataCellsFilter and BatchGrantPermissions request
 * bodies, and what stays behind the gateway (`gateway_only`).
 *
 * Design: for every group with a principal ARN and every product with a
 * table port, the sources of ex_access_eval that the lake can carry are
 * the purpose-free ones (a purpose-bound grant never applies to a request
 * without a purpose, and the lake never has one), active at T:
 *   - their clear columns without a row filter (and membership) become one
 *     TableWithColumns SELECT grant with ColumnNames (never a wildcard: a
 *     wildcard would also cover columns added to the table later, which
 *     the policy has not classified);
 *   - their clear columns under a row filter inside the PartiQL subset
 *     become a data cells filter per distinct filter text (minus columns
 *     already granted on all rows) and a SELECT grant on it. Lake
 *     Formation unions the cells of a principal's grants, and the PDP
 *     returns at least those cells (SPEC 3.1 "Row filter": more grants
 *     only widen), so the lake gets no more than the gateway gives;
 *   - a describe allowed in every world becomes DESCRIBE on the Table.
 * Data cells filter names are content-addressed: meshpdp-<first 16 hex of
 * SHA-256 over database, table, filter and the sorted columns>, so a name
 * always means one definition and identical filters are shared.
 *
 * Everything else -- purpose-bound grants, masked and withheld columns,
 * filters outside the subset, products without a table port, groups
 * without a principal, grants to domains and subjects -- is listed in
 * `gateway_only` with its reason and summed up in the notes.
 *
 * Ownership: the model lives in the caller's arena; JSON values are built
 * with jansson and dumped once.
 */
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

static ex_lf_grant *add_grant(ex_lf_model *m, pdp_arena *a)
{
	if (m->ngrants == m->cap_grants) {
		uint32_t cap = m->cap_grants ? m->cap_grants * 2 : 32;
		ex_lf_grant *v = pdp_arena_array(a, cap, sizeof(*v));
		if (m->ngrants)
			memcpy(v, m->grants, m->ngrants * sizeof(*v));
		m->grants = v;
		m->cap_grants = cap;
	}
	ex_lf_grant *g = &m->grants[m->ngrants++];
	memset(g, 0, sizeof(*g));
	return g;
}

static void add_gap(ex_lf_model *m, pdp_arena *a, ex_lf_gap gap)
{
	if (m->ngaps == m->cap_gaps) {
		uint32_t cap = m->cap_gaps ? m->cap_gaps * 2 : 32;
		ex_lf_gap *v = pdp_arena_array(a, cap, sizeof(*v));
		if (m->ngaps)
			memcpy(v, m->gaps, m->ngaps * sizeof(*v));
		m->gaps = v;
		m->cap_gaps = cap;
	}
	m->gaps[m->ngaps++] = gap;
}

static bool bits_any(const uint64_t *b, uint32_t nwords)
{
	for (uint32_t w = 0; w < nwords; w++)
		if (b[w])
			return true;
	return false;
}

static uint64_t *bits_new(pdp_arena *a, const pdp_rt_product *prod)
{
	return pdp_arena_array(a, prod->nwords + 1, sizeof(uint64_t));
}

static pdp_str fmt(pdp_arena *a, const char *f, ...) __attribute__((format(printf, 2, 3)));
static pdp_str fmt(pdp_arena *a, const char *f, ...)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	va_list ap;
	va_start(ap, f);
	pdp_ignore(pdp_buf_vprintf(&b, f, ap)); /* unbounded buffer: cannot fail but on OOM */
	va_end(ap);
	pdp_str s = pdp_arena_str(a, (pdp_str){ b.data ? b.data : "", b.len });
	pdp_buf_done(&b);
	return s;
}

/* Purposes of a grant as "a, b". */
static pdp_str purpose_list(const pdp_policy *p, const pdp_rt_entry *g, pdp_arena *a)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	for (uint32_t i = 0; i < p->npurposes; i++) {
		if (!((g->purposes >> i) & 1))
			continue;
		pdp_str s = pdp_rt_str(p, p->purposes[i]);
		pdp_ignore(pdp_buf_printf(&b, "%s%.*s", b.len ? ", " : "", (int)s.len, s.p));
	}
	pdp_str r = pdp_arena_str(a, (pdp_str){ b.data ? b.data : "", b.len });
	pdp_buf_done(&b);
	return r;
}

static void filter_name(const pdp_policy *p, const pdp_rt_port *port, pdp_str filter,
			const pdp_rt_product *prod, const uint64_t *cols, char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		pdp_oom();
	pdp_str parts[3] = { pdp_rt_str(p, port->database), pdp_rt_str(p, port->table), filter };
	for (int i = 0; i < 3; i++) {
		EVP_DigestUpdate(md, parts[i].p, parts[i].len);
		EVP_DigestUpdate(md, "", 1);
	}
	json_t *names = ex_json_columns(p, prod, cols);
	size_t i;
	json_t *v;
	json_array_foreach(names, i, v) {
		EVP_DigestUpdate(md, json_string_value(v), json_string_length(v));
		EVP_DigestUpdate(md, "", 1);
	}
	json_decref(names);
	unsigned char d[32];
	unsigned dl = 0;
	if (!EVP_DigestFinal_ex(md, d, &dl))
		pdp_oom();
	EVP_MD_CTX_free(md);
	int n = snprintf(out, 32, "meshpdp-");
	for (int k = 0; k < 8; k++)
		n += snprintf(out + n, (size_t)(32 - n), "%02x", d[k]);
}

struct lf_build {
	const pdp_policy *p;
	int64_t t;
	pdp_arena *a;
	ex_lf_model *m;
};

/* Records what a source does not take to the lake. */
static void source_gaps(struct lf_build *b, const ex_access *acc, const ex_source *s,
			pdp_str prin, pdp_str prod_name, pdp_str sid)
{
	const pdp_rt_product *prod = acc->prod;
	if (!s->purpose_free) {
		pdp_str pl = purpose_list(b->p, s->grant, b->a);
		pdp_str why = fmt(b->a, "purpose-bound (%.*s): the lake cannot check a request's "
				  "purpose", (int)pl.len, pl.p);
		add_gap(b->m, b->a, (ex_lf_gap){ prin, prod_name, sid, why, prod, NULL });
		return;
	}
	if (s->read && bits_any(s->masked, prod->nwords))
		add_gap(b->m, b->a, (ex_lf_gap){ prin, prod_name, sid,
			PDP_STR("masked (PII or a mesh mask rule): the lake cannot mask"), prod,
			s->masked });
	if (s->read && bits_any(s->withheld, prod->nwords))
		add_gap(b->m, b->a, (ex_lf_gap){ prin, prod_name, sid,
			PDP_STR("denied in some situation (a deny entry or mesh deny rule may apply "
				"depending on purpose or the subject's domain or id)"), prod,
			s->withheld });
}

struct fgroup {
	pdp_str filter;
	uint64_t *cols;
};

/* One principal on one product with a table port. */
static void build_access(struct lf_build *b, const ex_principal *pr, const pdp_rt_product *prod,
			 const pdp_rt_port *port)
{
	ex_access acc;
	ex_access_eval(b->p, b->t, pr, prod, NULL, b->a, &acc);
	if (!acc.nsources)
		return;
	pdp_str prin = ex_principal_label(b->p, pr, b->a), pname = pdp_rt_str(b->p, prod->name);
	uint64_t *all_rows = bits_new(b->a, prod);
	struct fgroup *fg = pdp_arena_array(b->a, acc.nsources + 1, sizeof(*fg));
	uint32_t nfg = 0;
	bool describe = false;
	for (uint32_t i = 0; i < acc.nsources; i++) {
		const ex_source *s = &acc.sources[i];
		pdp_str sid = ex_source_id(b->p, prod, s->grant, b->a);
		source_gaps(b, &acc, s, prin, pname, sid);
		if (!s->purpose_free)
			continue;
		describe |= s->describe;
		if (!s->read || !bits_any(s->clear, prod->nwords))
			continue;
		if (!s->grant || !(s->grant->flags & PDP_ENTRY_HAS_ROW_FILTER)) {
			for (uint32_t w = 0; w < prod->nwords; w++)
				all_rows[w] |= s->clear[w];
			continue;
		}
		pdp_str f = pdp_rt_str(b->p, s->grant->row_filter);
		pdp_buf why;
		pdp_buf_init(&why, 4096);
		if (!ex_filter_ok(b->p, prod, f, &why)) {
			add_gap(b->m, b->a, (ex_lf_gap){ prin, pname, sid,
				fmt(b->a, "row_filter outside the Lake Formation PartiQL subset: %s",
				    why.data ? why.data : ""), prod, s->clear });
			pdp_buf_done(&why);
			continue;
		}
		pdp_buf_done(&why);
		uint32_t k = 0;
		while (k < nfg && !pdp_str_eq(fg[k].filter, f))
			k++;
		if (k == nfg)
			fg[nfg++] = (struct fgroup){ f, bits_new(b->a, prod) };
		for (uint32_t w = 0; w < prod->nwords; w++)
			fg[k].cols[w] |= s->clear[w];
	}
	if (describe) {
		ex_lf_grant *g = add_grant(b->m, b->a);
		*g = (ex_lf_grant){ .prod = prod, .port = port, .kind = EX_LF_DESCRIBE };
		g->prin = pr;
	}
	if (bits_any(all_rows, prod->nwords)) {
		ex_lf_grant *g = add_grant(b->m, b->a);
		*g = (ex_lf_grant){ .prod = prod, .port = port, .kind = EX_LF_SELECT, .cols = all_rows };
		g->prin = pr;
	}
	for (uint32_t k = 0; k < nfg; k++) {
		for (uint32_t w = 0; w < prod->nwords; w++)
			fg[k].cols[w] &= ~all_rows[w];
		if (!bits_any(fg[k].cols, prod->nwords))
			continue; /* every column already on all rows */
		ex_lf_grant *g = add_grant(b->m, b->a);
		*g = (ex_lf_grant){ .prod = prod, .port = port, .kind = EX_LF_FILTER,
				    .filter = fg[k].filter, .cols = fg[k].cols };
		g->prin = pr;
		filter_name(b->p, port, fg[k].filter, prod, fg[k].cols, g->filter_name);
	}
}

static void note(ex_lf_model *m, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void note(ex_lf_model *m, const char *f, ...)
{
	if (!m->notes)
		return;
	va_list ap;
	va_start(ap, f);
	pdp_ignore(pdp_buf_adds(m->notes, "note: "));
	pdp_ignore(pdp_buf_vprintf(m->notes, f, ap)); /* notes are advisory: a cap cuts them */
	pdp_ignore(pdp_buf_addc(m->notes, '\n'));
	va_end(ap);
}

/* Grants the lake cannot carry at all: to domains, subjects, groups
 * without a principal, and products without a table port. */
static void whole_gaps(struct lf_build *b)
{
	const pdp_policy *p = b->p;
	for (uint32_t i = 0; i < p->nproducts; i++) {
		const pdp_rt_product *prod = &p->products[i];
		pdp_str pname = pdp_rt_str(p, prod->name);
		bool port = ex_table_port(p, prod) != NULL;
		for (uint32_t j = 0; j < prod->ngrants; j++) {
			const pdp_rt_entry *g = &prod->grants[j];
			if (!ex_grant_active(g, b->t) || !(g->actions & (PDP_ACT_READ | PDP_ACT_DESCRIBE)))
				continue;
			ex_principal pr = { g->to_kind, g->to, 0 };
			pdp_str reason = PDP_STR_NULL;
			if (g->to_kind == PDP_TO_DOMAIN)
				reason = PDP_STR("granted to a domain: the lake cannot tell a subject's domain");
			else if (g->to_kind == PDP_TO_SUBJECT)
				reason = PDP_STR("granted to a subject: the lake has principals for groups only");
			if (g->to_kind == PDP_TO_GROUP) {
				bool mapped = false;
				for (uint32_t k = 0; k < b->m->nprin; k++)
					if (b->m->prin[k].sid == g->to)
						mapped = b->m->prin[k].arn != 0;
				if (!mapped)
					reason = PDP_STR("the group has no principal in mesh.principals");
				else if (!port && b->m->lake)
					reason = PDP_STR("the product has no table output port with database and table");
			}
			if (!reason.len)
				continue;
			pdp_str prin = ex_principal_label(p, &pr, b->a);
			pdp_str sid = ex_source_id(p, prod, g, b->a);
			add_gap(b->m, b->a, (ex_lf_gap){ prin, pname, sid, reason, prod, NULL });
			note(b->m, "%.*s on %.*s (%.*s) is not exported: %.*s", (int)prin.len, prin.p,
			     (int)pname.len, pname.p, (int)sid.len, sid.p, (int)reason.len, reason.p);
		}
	}
}

static int gap_cmp(const void *x, const void *y)
{
	const ex_lf_gap *a = x, *b = y;
	int c = pdp_str_cmp(a->principal, b->principal);
	if (!c)
		c = pdp_str_cmp(a->product, b->product);
	if (!c)
		c = pdp_str_cmp(a->source, b->source);
	if (!c)
		c = pdp_str_cmp(a->reason, b->reason);
	return c;
}

/* Grants: principal (groups sorted), product, kind, filter name. */
static int grant_cmp(const void *x, const void *y)
{
	const ex_lf_grant *a = x, *b = y;
	if (a->prin != b->prin)
		return a->prin < b->prin ? -1 : 1;
	if (a->prod != b->prod)
		return a->prod < b->prod ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->filter_name, b->filter_name);
}

void ex_lf_build(const pdp_policy *p, int64_t t, bool lake, pdp_arena *a, pdp_buf *notes,
		 ex_lf_model *ret)
{
	ex_lf_model m = { .notes = notes, .lake = lake };
	m.nprin = ex_principals(p, false, a, &m.prin);
	struct lf_build b = { p, t, a, &m };
	for (uint32_t i = 0; i < m.nprin; i++) {
		const ex_principal *pr = &m.prin[i];
		for (uint32_t j = 0; lake && pr->arn && j < p->nproducts; j++) {
			const pdp_rt_port *port = ex_table_port(p, &p->products[j]);
			if (port)
				build_access(&b, pr, &p->products[j], port);
		}
	}
	whole_gaps(&b);
	if (m.ngrants > 1)
		qsort(m.grants, m.ngrants, sizeof(*m.grants), grant_cmp);
	if (m.ngaps > 1)
		qsort(m.gaps, m.ngaps, sizeof(*m.gaps), gap_cmp);
	*ret = m;
}

/* ---- JSON rendering ------------------------------------------------------------ */

static json_t *catalog_member(json_t *o, const char *key, const pdp_grants_opts *opt)
{
	if (opt->catalog_id)
		json_object_set_new(o, key, json_string(opt->catalog_id));
	return o;
}

static json_t *entry_id(const pdp_policy *p, const ex_lf_grant *g)
{
	static const char *const kinds[] = { "describe", "select", "select" };
	pdp_str grp = pdp_rt_str(p, g->prin->sid), prod = pdp_rt_str(p, g->prod->name);
	char buf[300];
	int n = snprintf(buf, sizeof(buf), "%.*s/%.*s/%s%s%s", (int)grp.len, grp.p, (int)prod.len,
			 prod.p, kinds[g->kind], g->kind == EX_LF_FILTER ? "/" : "", g->filter_name);
	if (n > 0 && n <= 255)
		return json_stringn(buf, (size_t)n);
	/* names too long for an Id (255): a digest of the same text */
	unsigned char d[32];
	unsigned dl = 0;
	char hex[40];
	if (!EVP_Digest(buf, strlen(buf), d, &dl, EVP_sha256(), NULL))
		pdp_oom();
	for (int k = 0; k < 16; k++)
		snprintf(hex + 2 * k, 3, "%02x", d[k]);
	return json_string(hex);
}

static json_t *entry_json(const pdp_policy *p, const ex_lf_grant *g, const pdp_grants_opts *o)
{
	json_t *e = json_object(), *res = json_object(), *r;
	json_object_set_new(e, "Id", entry_id(p, g));
	json_t *prin = json_object();
	json_object_set_new(prin, "DataLakePrincipalIdentifier", ex_json_sid(p, g->prin->arn));
	json_object_set_new(e, "Principal", prin);
	json_t *perm = json_array();
	json_array_append_new(perm, json_string(g->kind == EX_LF_DESCRIBE ? "DESCRIBE" : "SELECT"));
	json_object_set_new(e, "Permissions", perm);
	switch (g->kind) {
	case EX_LF_DESCRIBE:
		r = catalog_member(json_object(), "CatalogId", o);
		json_object_set_new(r, "DatabaseName", ex_json_sid(p, g->port->database));
		json_object_set_new(r, "Name", ex_json_sid(p, g->port->table));
		json_object_set_new(res, "Table", r);
		break;
	case EX_LF_SELECT:
		r = catalog_member(json_object(), "CatalogId", o);
		json_object_set_new(r, "DatabaseName", ex_json_sid(p, g->port->database));
		json_object_set_new(r, "Name", ex_json_sid(p, g->port->table));
		json_object_set_new(r, "ColumnNames", ex_json_columns(p, g->prod, g->cols));
		json_object_set_new(res, "TableWithColumns", r);
		break;
	default:
		r = catalog_member(json_object(), "TableCatalogId", o);
		json_object_set_new(r, "DatabaseName", ex_json_sid(p, g->port->database));
		json_object_set_new(r, "TableName", ex_json_sid(p, g->port->table));
		json_object_set_new(r, "Name", json_string(g->filter_name));
		json_object_set_new(res, "DataCellsFilter", r);
		break;
	}
	json_object_set_new(e, "Resource", res);
	return e;
}

static json_t *batches(const pdp_policy *p, const ex_lf_model *m, const pdp_grants_opts *o)
{
	json_t *reqs = json_array(), *entries = NULL;
	for (uint32_t i = 0; i < m->ngrants; i++) {
		if (i % PDP_LF_BATCH_MAX == 0) {
			json_t *req = catalog_member(json_object(), "CatalogId", o);
			entries = json_array();
			json_object_set_new(req, "Entries", entries);
			json_array_append_new(reqs, req);
		}
		json_array_append_new(entries, entry_json(p, &m->grants[i], o));
	}
	return reqs;
}

static json_t *filter_json(const pdp_policy *p, const ex_lf_grant *g, const pdp_grants_opts *o)
{
	json_t *td = json_object();
	json_object_set_new(td, "TableCatalogId", json_string(o->catalog_id));
	json_object_set_new(td, "DatabaseName", ex_json_sid(p, g->port->database));
	json_object_set_new(td, "TableName", ex_json_sid(p, g->port->table));
	json_object_set_new(td, "Name", json_string(g->filter_name));
	json_t *rf = json_object();
	json_object_set_new(rf, "FilterExpression", ex_json_str(g->filter));
	json_object_set_new(td, "RowFilter", rf);
	json_object_set_new(td, "ColumnNames", ex_json_columns(p, g->prod, g->cols));
	json_t *body = json_object();
	json_object_set_new(body, "TableData", td);
	return body;
}

struct fref {
	const pdp_policy *p;
	const ex_lf_grant *g;
};

static int fref_cmp(const void *x, const void *y)
{
	const struct fref *a = x, *b = y;
	int c = pdp_str_cmp(pdp_rt_str(a->p, a->g->port->database), pdp_rt_str(b->p, b->g->port->database));
	if (!c)
		c = pdp_str_cmp(pdp_rt_str(a->p, a->g->port->table), pdp_rt_str(b->p, b->g->port->table));
	return c ? c : strcmp(a->g->filter_name, b->g->filter_name);
}

/* One CreateDataCellsFilter body per distinct (table, name), sorted. */
static json_t *filters(const pdp_policy *p, const ex_lf_model *m, const pdp_grants_opts *o)
{
	struct fref *v = pdp_xcalloc(m->ngrants + 1, sizeof(*v));
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->ngrants; i++)
		if (m->grants[i].kind == EX_LF_FILTER)
			v[n++] = (struct fref){ p, &m->grants[i] };
	qsort(v, n, sizeof(*v), fref_cmp);
	json_t *arr = json_array();
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || fref_cmp(&v[i - 1], &v[i]) != 0)
			json_array_append_new(arr, filter_json(p, v[i].g, o));
	free(v);
	return arr;
}

static json_t *gaps_json(const pdp_policy *p, const ex_lf_model *m)
{
	json_t *arr = json_array();
	for (uint32_t i = 0; i < m->ngaps; i++) {
		const ex_lf_gap *g = &m->gaps[i];
		json_t *o = json_object();
		json_object_set_new(o, "principal", ex_json_str(g->principal));
		json_object_set_new(o, "product", ex_json_str(g->product));
		json_object_set_new(o, "source", ex_json_str(g->source));
		json_object_set_new(o, "reason", ex_json_str(g->reason));
		json_object_set_new(o, "columns", g->cols ? ex_json_columns(p, g->prod, g->cols) : json_null());
		json_array_append_new(arr, o);
	}
	return arr;
}

void ex_unmapped_notes(const pdp_policy *p, ex_lf_model *m)
{
	for (uint32_t i = 0; i < m->nprin; i++) {
		if (m->prin[i].arn)
			continue;
		bool member = false;
		for (uint32_t j = 0; j < p->ndomains && !member; j++)
			member = pdp_rt_sid_in(p->domains[j].members, p->domains[j].nmembers, m->prin[i].sid);
		if (!member)
			continue; /* its grants are noted one by one */
		pdp_str g = pdp_rt_str(p, m->prin[i].sid);
		note(m, "group:%.*s is a domain member but has no principal in mesh.principals: "
		     "its membership is not exported", (int)g.len, g.p);
	}
}

enum pdp_err ex_export_lf(const pdp_policy *p, const pdp_grants_opts *o, pdp_buf *out,
			  pdp_buf *notes)
{
	pdp_arena *a = pdp_arena_new(1 << 16);
	ex_lf_model m;
	ex_lf_build(p, o->time, true, a, notes, &m);
	ex_unmapped_notes(p, &m);
	bool has_filter = false;
	for (uint32_t i = 0; i < m.ngrants; i++)
		has_filter |= m.grants[i].kind == EX_LF_FILTER;
	if (has_filter && !o->catalog_id) {
		pdp_ignore(pdp_buf_adds(notes, "error: the export has row filters: data cells filters "
					"need the catalog id (--catalog-id, the account id)\n"));
		pdp_arena_free(a);
		PDP_BAIL(PDP_E_INVALID);
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "meshpdp", ex_json_header(p, "lakeformation", o));
	json_object_set_new(doc, "CreateDataCellsFilter", filters(p, &m, o));
	json_object_set_new(doc, "BatchGrantPermissions", batches(p, &m, o));
	json_object_set_new(doc, "gateway_only", gaps_json(p, &m));
	ex_note_valid_until(p, o->time, notes);
	pdp_arena_free(a);
	return ex_json_dump(doc, out);
}
