/*
 * load.c -- a policy directory (SPEC 2) → the source model pdp_src.
 *
 * Design: the coordinating functions (load_dir, load_domains, load_domain_dir)
 * walk the directory in sorted path order and hand each file to read_doc,
 * which reads it (at most 16 MiB), parses it into the src arena and checks
 * `apiVersion` and the `kind` the file's place demands. A document of the
 * wrong kind is reported once and skipped (its keys would only produce
 * noise). Everything else is read by one small reader per mapping kind, each
 * driven by a key table (pdp_ykey, in the style of redis' static_configs and
 * h2o's parse_mapping), so a reader reads like the schema in SPEC Appendix A.
 *
 * The loader reports *structural* problems -- YAML syntax, unknown keys,
 * wrong types, missing required keys, bad enum values (actions, masks,
 * roles, effect), bad dates -- and keeps going, so every problem of every
 * file is reported at once. A value with the wrong type is reported and then
 * treated as absent. Cross-references and governance rules are check.c's.
 *
 * After all files are read, domains and products are sorted by name (ties
 * by file path, so the result does not depend on readdir order), and a
 * product without `classification` inherits its domain's
 * `default_classification` (with that node, so positions still point at
 * where the value was written).
 *
 * Ownership: everything -- the model, the YAML trees, the file names -- lives
 * in src->arena; pdp_src_free releases it in one call. File contents are
 * malloc'd only while being parsed. The directory listings are malloc'd and
 * freed by the function that made them.
 */
#include "pdp/model.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOAD_MAX_FILE ((size_t)16 << 20)
#define LOAD_ARENA_BLOCK ((size_t)64 << 10)

struct loader {
	pdp_src *src;
	pdp_arena *a;
	pdp_diag *d;
	pdp_src_domain *domains; /* malloc'd while loading, then moved to a */
	size_t ndomains, cap_domains;
	pdp_src_product *products;
	size_t nproducts, cap_products;
};

/* ---- small helpers ------------------------------------------------- */

static void err_at(struct loader *l, const pdp_ynode *y, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct loader *l, const pdp_ynode *y, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pdp_diag_vadd(l->d, PDP_DIAG_ERROR, y->file, y->line, y->col, fmt, ap);
	va_end(ap);
}

static char *path_join(pdp_arena *a, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	char *p = pdp_arena_alloc(a, dl + 1 + nl + 1);
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

static pdp_str sval(const pdp_ynode *v)
{
	return v ? v->str : PDP_STR_NULL;
}

/* pdp_ymap_read, then drop values of the wrong type (already reported), so
 * the readers below only see what the table promised. */
static void read_map(struct loader *l, const pdp_ynode *m, const pdp_ykey *keys,
		     size_t n, const char *what, pdp_ynode **vals)
{
	if (!pdp_ymap_read(m, keys, n, what, l->d, vals)) {
		for (size_t i = 0; i < n; i++)
			if (vals[i] && keys[i].type != PDP_Y_ANY && vals[i]->type != keys[i].type)
				vals[i] = NULL;
	}
}

/* A list of strings (or, for PDP_Y_ANY keys, one string). Absent: unset. */
static void read_strv(struct loader *l, const pdp_ynode *v, const char *what,
		      pdp_strv *out)
{
	if (!v)
		return;
	out->set = true;
	out->y = v;
	pdp_str *items;
	size_t n;
	if (pdp_y_strlist(v, l->a, l->d, what, &items, &n)) {
		out->v = items;
		out->n = n;
	}
}

static unsigned read_actions(struct loader *l, const pdp_ynode *v, const char *what,
			     pdp_strv *raw)
{
	read_strv(l, v, what, raw);
	unsigned bits = 0;
	for (size_t i = 0; i < raw->n; i++) {
		unsigned b = pdp_action_parse(raw->v[i]);
		if (!b)
			err_at(l, pdp_src_item(raw, i),
			       "%s: unknown action '%.*s' (describe, read, write)", what,
			       (int)raw->v[i].len, raw->v[i].p);
		bits |= b;
	}
	return bits;
}

static bool read_mask(struct loader *l, const pdp_ynode *v, const char *what,
		      enum pdp_mask *ret)
{
	if (pdp_mask_parse(v->str, ret))
		return true;
	err_at(l, v, "%s: unknown mask '%.*s' (year_only, show_first_4, show_last_4, "
		     "email_domain, hash, redact, nullify)", what, (int)v->str.len, v->str.p);
	return false;
}

static void read_date(struct loader *l, const pdp_ynode *v, const char *what,
		      bool *has, int64_t *at, const pdp_ynode **at_y)
{
	if (!v)
		return;
	*at_y = v;
	*has = pdp_y_date(v, l->d, what, at);
}

static void read_number(struct loader *l, const pdp_ynode *v, const char *what,
			bool *has, double *x, const pdp_ynode **x_y)
{
	if (!v)
		return;
	*x_y = v;
	*has = pdp_y_number(v, l->d, what, x);
}

/* ---- documents ------------------------------------------------------- */

static void file_error(struct loader *l, const char *path, enum pdp_err e, int errnum)
{
	switch (e) {
	case PDP_E_LIMIT:
		pdp_diag_error(l->d, path, 0, 0, "file is larger than 16 MiB");
		return;
	case PDP_E_INVALID:
		pdp_diag_error(l->d, path, 0, 0, "not a regular file");
		return;
	default:
		pdp_diag_error(l->d, path, 0, 0, "cannot read: %s", strerror(errnum));
		return;
	}
}

/* The root must be a mapping of the kind this place demands; a wrong kind is
 * reported and the document skipped. A wrong apiVersion is reported and the
 * document still read (to report its other problems too). */
static bool check_header(struct loader *l, const pdp_ynode *root, const char *kind,
			 const char *place)
{
	if (root->type != PDP_Y_MAP) {
		err_at(l, root, "expected a kind: %s document (a mapping), got %s", kind,
		       root->type == PDP_Y_NULL ? "an empty document" : pdp_ytype_name(root->type));
		return false;
	}
	const pdp_ynode *k = pdp_ymap_get(root, "kind");
	if (k && k->type == PDP_Y_SCALAR && !pdp_str_eq_c(k->str, kind)) {
		err_at(l, k, "kind '%.*s' is not allowed here: %s must be kind: %s",
		       (int)k->str.len, k->str.p, place, kind);
		return false;
	}
	const pdp_ynode *v = pdp_ymap_get(root, "apiVersion");
	if (v && v->type == PDP_Y_SCALAR && !pdp_str_eq_c(v->str, PDP_API_VERSION))
		err_at(l, v, "unsupported apiVersion '%.*s' (expected %s)", (int)v->str.len,
		       v->str.p, PDP_API_VERSION);
	return true;
}

/* Reads and parses one file; NULL (reported) if it cannot be used. */
static const pdp_ynode *read_doc(struct loader *l, const char *path, const char *kind,
				 const char *place)
{
	char *data = NULL;
	size_t len = 0;
	enum pdp_err e = pdp_file_read(path, LOAD_MAX_FILE, &data, &len);
	if (e != PDP_OK) {
		file_error(l, path, e, errno);
		return NULL;
	}
	pdp_ynode *root = NULL;
	e = pdp_yaml_parse(path, data, len, l->a, l->d, &root);
	free(data);
	if (e != PDP_OK)
		return NULL;
	return check_header(l, root, kind, place) ? root : NULL;
}

/* ---- mesh.yaml --------------------------------------------------------- */

enum { G_NAME, G_DOMAIN, G__N };
static const pdp_ykey group_keys[G__N] = {
	[G_NAME] = { "name", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[G_DOMAIN] = { "domain", PDP_Y_SCALAR, PDP_YK_REQUIRED },
};

static void read_group(struct loader *l, const pdp_ynode *m, pdp_src_group *g)
{
	pdp_ynode *v[G__N];
	read_map(l, m, group_keys, G__N, "group", v);
	g->y = m;
	g->name = sval(v[G_NAME]);
	g->domain = sval(v[G_DOMAIN]);
}

enum { PII_CATEGORIES, PII_DETECT, PII__N };
static const pdp_ykey pii_keys[PII__N] = {
	[PII_CATEGORIES] = { "categories", PDP_Y_MAP, 0 },
	[PII_DETECT] = { "detect", PDP_Y_SEQ, 0 },
};

static void read_pii_cats(struct loader *l, const pdp_ynode *m, pdp_src_mesh *mesh)
{
	mesh->pii_cats = pdp_arena_array(l->a, m->n, sizeof(*mesh->pii_cats));
	for (size_t i = 0; i < m->n; i++) {
		const pdp_ynode *k = pdp_ymap_key(m, i), *v = pdp_ymap_val(m, i);
		pdp_src_pii_cat *c = &mesh->pii_cats[mesh->npii_cats];
		if (k->type != PDP_Y_SCALAR) {
			err_at(l, k, "pii.categories: keys must be category names");
			continue;
		}
		if (v->type != PDP_Y_SCALAR) {
			err_at(l, v, "pii.categories.%.*s: expected a mask name, got %s",
			       (int)k->str.len, k->str.p, pdp_ytype_name(v->type));
			continue;
		}
		c->y = k;
		c->name = k->str;
		if (read_mask(l, v, "pii.categories", &c->mask))
			mesh->npii_cats++;
	}
}

static void read_pii(struct loader *l, const pdp_ynode *m, pdp_src_mesh *mesh)
{
	pdp_ynode *v[PII__N];
	read_map(l, m, pii_keys, PII__N, "pii", v);
	if (v[PII_CATEGORIES])
		read_pii_cats(l, v[PII_CATEGORIES], mesh);
	read_strv(l, v[PII_DETECT], "pii.detect", &mesh->pii_detect);
}

enum { CD_ACTIONS, CD_PDOMAIN, CD_PCLASS, CD_CPII, CD_CCLASS, CD_CROSS, CD_SGROUPS,
       CD_PURPOSES, CD__N };
static const pdp_ykey cond_keys[CD__N] = {
	[CD_ACTIONS] = { "actions", PDP_Y_ANY, 0 },
	[CD_PDOMAIN] = { "product_domain", PDP_Y_ANY, 0 },
	[CD_PCLASS] = { "product_classification", PDP_Y_ANY, 0 },
	[CD_CPII] = { "column_pii", PDP_Y_ANY, 0 },
	[CD_CCLASS] = { "column_classification", PDP_Y_ANY, 0 },
	[CD_CROSS] = { "cross_domain", PDP_Y_SCALAR, 0 },
	[CD_SGROUPS] = { "subject_groups", PDP_Y_ANY, 0 },
	[CD_PURPOSES] = { "purposes", PDP_Y_ANY, 0 },
};

static void read_cond(struct loader *l, const pdp_ynode *m, const char *what,
		      pdp_src_cond *c)
{
	pdp_ynode *v[CD__N];
	read_map(l, m, cond_keys, CD__N, what, v);
	c->y = m;
	c->set = true;
	c->cross_domain = -1;
	c->actions = read_actions(l, v[CD_ACTIONS], what, &c->actions_raw);
	read_strv(l, v[CD_PDOMAIN], what, &c->product_domain);
	read_strv(l, v[CD_PCLASS], what, &c->product_classification);
	read_strv(l, v[CD_CPII], what, &c->column_pii);
	read_strv(l, v[CD_CCLASS], what, &c->column_classification);
	read_strv(l, v[CD_SGROUPS], what, &c->subject_groups);
	read_strv(l, v[CD_PURPOSES], what, &c->purposes);
	bool cross;
	if (v[CD_CROSS] && pdp_y_bool(v[CD_CROSS], l->d, "rule cross_domain", &cross))
		c->cross_domain = cross;
}

enum { R_ID, R_EFFECT, R_MASK, R_MATCH, R_EXCEPT, R__N };
static const pdp_ykey rule_keys[R__N] = {
	[R_ID] = { "id", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[R_EFFECT] = { "effect", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[R_MASK] = { "mask", PDP_Y_SCALAR, 0 },
	[R_MATCH] = { "match", PDP_Y_MAP, PDP_YK_REQUIRED },
	[R_EXCEPT] = { "except", PDP_Y_MAP, 0 },
};

static void read_rule(struct loader *l, const pdp_ynode *m, pdp_src_rule *r)
{
	pdp_ynode *v[R__N];
	read_map(l, m, rule_keys, R__N, "rule", v);
	r->y = m;
	r->id = sval(v[R_ID]);
	r->match.cross_domain = r->except.cross_domain = -1;
	const pdp_ynode *eff = v[R_EFFECT];
	if (eff && pdp_str_eq_c(eff->str, "mask"))
		r->is_mask = true;
	else if (eff && !pdp_str_eq_c(eff->str, "deny"))
		err_at(l, eff, "rule.effect: unknown effect '%.*s' (deny, mask)",
		       (int)eff->str.len, eff->str.p);
	if (v[R_MASK] && !read_mask(l, v[R_MASK], "rule.mask", &r->mask))
		r->mask = PDP_MASK_NONE;
	if (v[R_MATCH])
		read_cond(l, v[R_MATCH], "rule.match", &r->match);
	if (v[R_EXCEPT])
		read_cond(l, v[R_EXCEPT], "rule.except", &r->except);
}

static void read_callers(struct loader *l, const pdp_ynode *m, pdp_src_mesh *mesh)
{
	mesh->callers = pdp_arena_array(l->a, m->n, sizeof(*mesh->callers));
	for (size_t i = 0; i < m->n; i++) {
		const pdp_ynode *k = pdp_ymap_key(m, i);
		if (k->type != PDP_Y_SCALAR) {
			err_at(l, k, "callers: keys must be identity patterns");
			continue;
		}
		pdp_src_caller *c = &mesh->callers[mesh->ncallers++];
		c->y = k;
		c->pattern = k->str;
		pdp_strv roles = { 0 };
		read_strv(l, pdp_ymap_val(m, i), "callers", &roles);
		for (size_t j = 0; j < roles.n; j++) {
			unsigned b = pdp_role_parse(roles.v[j]);
			if (!b)
				err_at(l, pdp_src_item(&roles, j),
				       "callers: unknown role '%.*s' (decide, admin, grants, audit)",
				       (int)roles.v[j].len, roles.v[j].p);
			c->roles |= b;
		}
	}
}

enum { B_GRANT_DAYS, B_FRESHNESS, B_COMPLETENESS, B__N };
static const pdp_ykey bounds_keys[B__N] = {
	[B_GRANT_DAYS] = { "max_grant_days", PDP_Y_SCALAR, 0 },
	[B_FRESHNESS] = { "max_freshness_minutes", PDP_Y_SCALAR, 0 },
	[B_COMPLETENESS] = { "min_completeness_percent", PDP_Y_SCALAR, 0 },
};

static void read_bounds(struct loader *l, const pdp_ynode *m, pdp_src_mesh *mesh)
{
	pdp_ynode *v[B__N];
	read_map(l, m, bounds_keys, B__N, "bounds", v);
	if (v[B_GRANT_DAYS])
		mesh->has_max_grant_days = pdp_y_int(v[B_GRANT_DAYS], l->d,
			"bounds.max_grant_days", 1, 36500, &mesh->max_grant_days);
	if (v[B_FRESHNESS])
		mesh->has_max_freshness = pdp_y_int(v[B_FRESHNESS], l->d,
			"bounds.max_freshness_minutes", 1, INT32_MAX,
			&mesh->max_freshness_minutes);
	double pct;
	if (!v[B_COMPLETENESS] ||
	    !pdp_y_number(v[B_COMPLETENESS], l->d, "bounds.min_completeness_percent", &pct))
		return;
	if (pct < 0 || pct > 100) {
		err_at(l, v[B_COMPLETENESS], "bounds.min_completeness_percent: expected a "
		       "number from 0 to 100");
		return;
	}
	mesh->has_min_completeness = true;
	mesh->min_completeness_percent = pct;
}

static void read_principals(struct loader *l, const pdp_ynode *m, pdp_src_mesh *mesh)
{
	mesh->principals = pdp_arena_array(l->a, m->n, sizeof(*mesh->principals));
	for (size_t i = 0; i < m->n; i++) {
		const pdp_ynode *k = pdp_ymap_key(m, i), *v = pdp_ymap_val(m, i);
		if (k->type != PDP_Y_SCALAR) {
			err_at(l, k, "principals: keys must be group names");
			continue;
		}
		pdp_str arn;
		if (!pdp_y_str(v, l->d, "principals", &arn))
			continue;
		pdp_src_principal *p = &mesh->principals[mesh->nprincipals++];
		p->y = k;
		p->group = k->str;
		p->arn = arn;
	}
}

enum { M_API, M_KIND, M_CLASSES, M_PURPOSES, M_GROUPS, M_PII, M_RULES, M_CALLERS,
       M_BOUNDS, M_PRINCIPALS, M__N };
static const pdp_ykey mesh_keys[M__N] = {
	[M_API] = { "apiVersion", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[M_KIND] = { "kind", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[M_CLASSES] = { "classifications", PDP_Y_SEQ, PDP_YK_REQUIRED },
	[M_PURPOSES] = { "purposes", PDP_Y_SEQ, 0 },
	[M_GROUPS] = { "groups", PDP_Y_SEQ, 0 },
	[M_PII] = { "pii", PDP_Y_MAP, 0 },
	[M_RULES] = { "rules", PDP_Y_SEQ, 0 },
	[M_CALLERS] = { "callers", PDP_Y_MAP, 0 },
	[M_BOUNDS] = { "bounds", PDP_Y_MAP, 0 },
	[M_PRINCIPALS] = { "principals", PDP_Y_MAP, 0 },
};

static void read_mesh_lists(struct loader *l, pdp_ynode **v, pdp_src_mesh *mesh)
{
	const pdp_ynode *gs = v[M_GROUPS], *rs = v[M_RULES];
	if (gs) {
		mesh->groups = pdp_arena_array(l->a, gs->n, sizeof(*mesh->groups));
		mesh->ngroups = gs->n;
		for (size_t i = 0; i < gs->n; i++)
			read_group(l, gs->items[i], &mesh->groups[i]);
	}
	if (rs) {
		mesh->rules = pdp_arena_array(l->a, rs->n, sizeof(*mesh->rules));
		mesh->nrules = rs->n;
		for (size_t i = 0; i < rs->n; i++)
			read_rule(l, rs->items[i], &mesh->rules[i]);
	}
}

static void read_mesh(struct loader *l, const pdp_ynode *root)
{
	pdp_src_mesh *mesh = &l->src->mesh;
	pdp_ynode *v[M__N];
	read_map(l, root, mesh_keys, M__N, "mesh", v);
	mesh->y = root;
	mesh->file = root->file;
	read_strv(l, v[M_CLASSES], "mesh.classifications", &mesh->classifications);
	read_strv(l, v[M_PURPOSES], "mesh.purposes", &mesh->purposes);
	read_mesh_lists(l, v, mesh);
	if (v[M_PII])
		read_pii(l, v[M_PII], mesh);
	if (v[M_CALLERS])
		read_callers(l, v[M_CALLERS], mesh);
	if (v[M_BOUNDS])
		read_bounds(l, v[M_BOUNDS], mesh);
	if (v[M_PRINCIPALS])
		read_principals(l, v[M_PRINCIPALS], mesh);
	l->src->has_mesh = true;
}

/* ---- domain.yaml ------------------------------------------------------- */

enum { D_API, D_KIND, D_NAME, D_OWNER, D_MEMBERS, D_DEFCLASS, D__N };
static const pdp_ykey domain_keys[D__N] = {
	[D_API] = { "apiVersion", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[D_KIND] = { "kind", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[D_NAME] = { "name", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[D_OWNER] = { "owner", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[D_MEMBERS] = { "members", PDP_Y_SEQ, 0 },
	[D_DEFCLASS] = { "default_classification", PDP_Y_SCALAR, 0 },
};

static void read_domain(struct loader *l, const pdp_ynode *root, const char *dir_name,
			pdp_src_domain *dom)
{
	pdp_ynode *v[D__N];
	read_map(l, root, domain_keys, D__N, "domain", v);
	dom->y = root;
	dom->file = root->file;
	dom->dir_name = pdp_arena_str(l->a, pdp_str_c(dir_name));
	dom->name = sval(v[D_NAME]);
	dom->name_y = v[D_NAME];
	dom->owner = sval(v[D_OWNER]);
	read_strv(l, v[D_MEMBERS], "domain.members", &dom->members);
	dom->default_classification = sval(v[D_DEFCLASS]);
	dom->default_classification_y = v[D_DEFCLASS];
}

/* ---- product manifests -------------------------------------------------- */

enum { MD_NAME, MD_DOMAIN, MD_OWNER, MD_ONCALL, MD_VERSION, MD_DESC, MD__N };
static const pdp_ykey metadata_keys[MD__N] = {
	[MD_NAME] = { "name", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[MD_DOMAIN] = { "domain", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[MD_OWNER] = { "owner", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[MD_ONCALL] = { "oncall", PDP_Y_SCALAR, 0 },
	[MD_VERSION] = { "version", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[MD_DESC] = { "description", PDP_Y_SCALAR, 0 },
};

static void read_metadata(struct loader *l, const pdp_ynode *m, pdp_src_product *p)
{
	pdp_ynode *v[MD__N];
	read_map(l, m, metadata_keys, MD__N, "metadata", v);
	p->name = sval(v[MD_NAME]);
	p->name_y = v[MD_NAME];
	p->domain = sval(v[MD_DOMAIN]);
	p->domain_y = v[MD_DOMAIN];
	p->owner = sval(v[MD_OWNER]);
	p->oncall = sval(v[MD_ONCALL]);
	p->version = sval(v[MD_VERSION]);
	p->version_y = v[MD_VERSION];
}

enum { S_FRESHNESS, S_COMPLETENESS, S__N };
static const pdp_ykey slo_keys[S__N] = {
	[S_FRESHNESS] = { "freshness_minutes", PDP_Y_SCALAR, 0 },
	[S_COMPLETENESS] = { "completeness_percent", PDP_Y_SCALAR, 0 },
};

static void read_slo(struct loader *l, const pdp_ynode *m, pdp_src_product *p)
{
	pdp_ynode *v[S__N];
	read_map(l, m, slo_keys, S__N, "slo", v);
	read_number(l, v[S_FRESHNESS], "slo.freshness_minutes", &p->has_freshness,
		    &p->freshness_minutes, &p->freshness_y);
	read_number(l, v[S_COMPLETENESS], "slo.completeness_percent",
		    &p->has_completeness, &p->completeness_percent, &p->completeness_y);
}

enum { PO_TYPE, PO_CATALOG, PO_DATABASE, PO_TABLE, PO_LOCATION, PO__N };
static const pdp_ykey port_keys[PO__N] = {
	[PO_TYPE] = { "type", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[PO_CATALOG] = { "catalog", PDP_Y_SCALAR, 0 },
	[PO_DATABASE] = { "database", PDP_Y_SCALAR, 0 },
	[PO_TABLE] = { "table", PDP_Y_SCALAR, 0 },
	[PO_LOCATION] = { "location", PDP_Y_SCALAR, 0 },
};

static void read_port(struct loader *l, const pdp_ynode *m, pdp_src_port *port)
{
	pdp_ynode *v[PO__N];
	read_map(l, m, port_keys, PO__N, "output port", v);
	port->y = m;
	port->type = sval(v[PO_TYPE]);
	port->catalog = sval(v[PO_CATALOG]);
	port->database = sval(v[PO_DATABASE]);
	port->table = sval(v[PO_TABLE]);
	port->location = sval(v[PO_LOCATION]);
}

enum { C_NAME, C_TYPE, C_PII, C_REASON, C_CLASS, C_DESC, C__N };
static const pdp_ykey column_keys[C__N] = {
	[C_NAME] = { "name", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[C_TYPE] = { "type", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[C_PII] = { "pii", PDP_Y_SCALAR, 0 },
	[C_REASON] = { "reason", PDP_Y_SCALAR, 0 },
	[C_CLASS] = { "classification", PDP_Y_SCALAR, 0 },
	[C_DESC] = { "description", PDP_Y_SCALAR, 0 },
};

static void read_column(struct loader *l, const pdp_ynode *m, pdp_src_column *c)
{
	pdp_ynode *v[C__N];
	read_map(l, m, column_keys, C__N, "column", v);
	c->y = m;
	c->name = sval(v[C_NAME]);
	c->type = sval(v[C_TYPE]);
	c->has_pii = v[C_PII] != NULL;
	c->pii = sval(v[C_PII]);
	c->pii_y = v[C_PII];
	c->reason = sval(v[C_REASON]);
	c->has_classification = v[C_CLASS] != NULL;
	c->classification = sval(v[C_CLASS]);
	c->classification_y = v[C_CLASS];
}

enum { SC_COLUMNS, SC__N };
static const pdp_ykey schema_keys[SC__N] = {
	[SC_COLUMNS] = { "columns", PDP_Y_SEQ, PDP_YK_REQUIRED },
};

static void read_schema(struct loader *l, const pdp_ynode *m, pdp_src_product *p)
{
	pdp_ynode *v[SC__N];
	read_map(l, m, schema_keys, SC__N, "schema", v);
	const pdp_ynode *cols = v[SC_COLUMNS];
	if (!cols)
		return;
	p->columns = pdp_arena_array(l->a, cols->n, sizeof(*p->columns));
	p->ncolumns = cols->n;
	for (size_t i = 0; i < cols->n; i++)
		read_column(l, cols->items[i], &p->columns[i]);
}

enum { T_GROUP, T_DOMAIN, T_SUBJECT, T__N };
static const pdp_ykey to_keys[T__N] = {
	[T_GROUP] = { "group", PDP_Y_SCALAR, 0 },
	[T_DOMAIN] = { "domain", PDP_Y_SCALAR, 0 },
	[T_SUBJECT] = { "subject", PDP_Y_SCALAR, 0 },
};

static void read_to(struct loader *l, const pdp_ynode *m, const char *what,
		    pdp_src_entry *e)
{
	pdp_ynode *v[T__N];
	read_map(l, m, to_keys, T__N, what, v);
	if (m->type != PDP_Y_MAP)
		return;
	int n = 0;
	for (int i = 0; i < T__N; i++) {
		if (!pdp_ymap_get(m, to_keys[i].name))
			continue;
		n++;
		if (!v[i])
			continue;
		e->to_kind = (enum pdp_to_kind)i; /* T_* follow enum pdp_to_kind */
		e->to = v[i]->str;
		e->to_y = v[i];
	}
	if (n == 1)
		return;
	err_at(l, m, "%s: needs exactly one of group, domain, subject (found %d)", what, n);
	e->to_y = NULL;
	e->to = PDP_STR_NULL;
}

static void read_columns(struct loader *l, const pdp_ynode *v, const char *what,
			 pdp_src_entry *e)
{
	if (!v)
		return;
	if (v->type == PDP_Y_SCALAR && pdp_str_eq_c(v->str, "*")) {
		e->all_columns = true;
		e->columns.set = true;
		e->columns.y = v;
		return;
	}
	if (v->type != PDP_Y_SEQ) {
		err_at(l, v, "%s: expected a list of column names or \"*\"", what);
		return;
	}
	read_strv(l, v, what, &e->columns);
}

enum { E_ID, E_TO, E_ACTIONS, E_COLUMNS, E_PURPOSES, E_UNMASKED, E_ROW_FILTER,
       E_NOT_BEFORE, E_EXPIRES, E__N };
#define DENY_NKEYS E_UNMASKED /* a deny entry takes the first five keys only */
static const pdp_ykey entry_keys[E__N] = {
	[E_ID] = { "id", PDP_Y_SCALAR, 0 },
	[E_TO] = { "to", PDP_Y_MAP, PDP_YK_REQUIRED },
	[E_ACTIONS] = { "actions", PDP_Y_SEQ, PDP_YK_REQUIRED },
	[E_COLUMNS] = { "columns", PDP_Y_ANY, PDP_YK_REQUIRED },
	[E_PURPOSES] = { "purposes", PDP_Y_SEQ, 0 },
	[E_UNMASKED] = { "unmasked", PDP_Y_SEQ, 0 },
	[E_ROW_FILTER] = { "row_filter", PDP_Y_SCALAR, 0 },
	[E_NOT_BEFORE] = { "not_before", PDP_Y_SCALAR, 0 },
	[E_EXPIRES] = { "expires", PDP_Y_SCALAR, 0 },
};

static void read_grant_only(struct loader *l, pdp_ynode **v, pdp_src_entry *e)
{
	read_strv(l, v[E_UNMASKED], "grant.unmasked", &e->unmasked);
	if (v[E_ROW_FILTER]) {
		e->has_row_filter = true;
		e->row_filter = v[E_ROW_FILTER]->str;
		e->row_filter_y = v[E_ROW_FILTER];
	}
	read_date(l, v[E_NOT_BEFORE], "grant.not_before", &e->has_not_before,
		  &e->not_before, &e->not_before_y);
	read_date(l, v[E_EXPIRES], "grant.expires", &e->has_expires, &e->expires,
		  &e->expires_y);
}

static void read_entry(struct loader *l, const pdp_ynode *m, bool grant, pdp_src_entry *e)
{
	const char *what = grant ? "grant" : "deny";
	pdp_ynode *v[E__N];
	read_map(l, m, entry_keys, grant ? E__N : DENY_NKEYS, what, v);
	e->y = m;
	e->id = sval(v[E_ID]);
	if (v[E_TO])
		read_to(l, v[E_TO], grant ? "grant.to" : "deny.to", e);
	e->actions = read_actions(l, v[E_ACTIONS], grant ? "grant.actions" : "deny.actions",
				  &e->actions_raw);
	read_columns(l, v[E_COLUMNS], grant ? "grant.columns" : "deny.columns", e);
	read_strv(l, v[E_PURPOSES], grant ? "grant.purposes" : "deny.purposes", &e->purposes);
	if (grant)
		read_grant_only(l, v, e);
}

static pdp_src_entry *read_entries(struct loader *l, const pdp_ynode *seq, bool grant,
				   size_t *ret_n)
{
	*ret_n = 0;
	if (!seq)
		return NULL;
	pdp_src_entry *es = pdp_arena_array(l->a, seq->n, sizeof(*es));
	for (size_t i = 0; i < seq->n; i++)
		read_entry(l, seq->items[i], grant, &es[i]);
	*ret_n = seq->n;
	return es;
}

enum { P_API, P_KIND, P_METADATA, P_CLASS, P_SLO, P_PORTS, P_SCHEMA, P_GRANTS, P_DENY,
       P__N };
static const pdp_ykey product_keys[P__N] = {
	[P_API] = { "apiVersion", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[P_KIND] = { "kind", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[P_METADATA] = { "metadata", PDP_Y_MAP, PDP_YK_REQUIRED },
	[P_CLASS] = { "classification", PDP_Y_SCALAR, 0 },
	[P_SLO] = { "slo", PDP_Y_MAP, 0 },
	[P_PORTS] = { "output_ports", PDP_Y_SEQ, 0 },
	[P_SCHEMA] = { "schema", PDP_Y_MAP, PDP_YK_REQUIRED },
	[P_GRANTS] = { "grants", PDP_Y_SEQ, 0 },
	[P_DENY] = { "deny", PDP_Y_SEQ, 0 },
};

static void read_product(struct loader *l, const pdp_ynode *root, const char *dir_domain,
			 pdp_src_product *p)
{
	pdp_ynode *v[P__N];
	read_map(l, root, product_keys, P__N, "product", v);
	p->y = root;
	p->file = root->file;
	p->dir_domain = pdp_arena_str(l->a, pdp_str_c(dir_domain));
	if (v[P_METADATA])
		read_metadata(l, v[P_METADATA], p);
	p->classification = sval(v[P_CLASS]);
	p->classification_y = v[P_CLASS];
	if (v[P_SLO])
		read_slo(l, v[P_SLO], p);
	if (v[P_PORTS]) {
		p->ports = pdp_arena_array(l->a, v[P_PORTS]->n, sizeof(*p->ports));
		p->nports = v[P_PORTS]->n;
		for (size_t i = 0; i < p->nports; i++)
			read_port(l, v[P_PORTS]->items[i], &p->ports[i]);
	}
	if (v[P_SCHEMA])
		read_schema(l, v[P_SCHEMA], p);
	p->grants = read_entries(l, v[P_GRANTS], true, &p->ngrants);
	p->denies = read_entries(l, v[P_DENY], false, &p->ndenies);
}

/* ---- the directory walk -------------------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_done(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of dir, without dot files. errno set on failure. */
static bool list_dir(const char *dir, struct names *ret)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return false;
	struct names ns = { 0 };
	struct dirent *de;
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (ns.n == ns.cap) {
			ns.cap = ns.cap ? ns.cap * 2 : 16;
			ns.v = pdp_xrealloc(ns.v, ns.cap * sizeof(*ns.v));
		}
		ns.v[ns.n++] = pdp_xstrndup(de->d_name, strlen(de->d_name));
	}
	closedir(dh);
	if (ns.n)
		qsort(ns.v, ns.n, sizeof(*ns.v), name_cmp);
	*ret = ns;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && !strcmp(s + n - m, suffix);
}

static void load_product_file(struct loader *l, const char *path, const char *dir_domain)
{
	const pdp_ynode *root = read_doc(l, path, "DataProduct", "files under domains/<domain>/products/");
	if (!root)
		return;
	if (l->nproducts == l->cap_products) {
		l->cap_products = l->cap_products ? l->cap_products * 2 : 64;
		l->products = pdp_xrealloc(l->products, l->cap_products * sizeof(*l->products));
	}
	pdp_src_product *p = &l->products[l->nproducts++];
	memset(p, 0, sizeof(*p));
	read_product(l, root, dir_domain, p);
}

static void load_domain_file(struct loader *l, const char *path, const char *dir_name)
{
	const pdp_ynode *root = read_doc(l, path, "Domain", "domains/<domain>/domain.yaml");
	if (!root)
		return;
	if (l->ndomains == l->cap_domains) {
		l->cap_domains = l->cap_domains ? l->cap_domains * 2 : 16;
		l->domains = pdp_xrealloc(l->domains, l->cap_domains * sizeof(*l->domains));
	}
	pdp_src_domain *dom = &l->domains[l->ndomains++];
	memset(dom, 0, sizeof(*dom));
	read_domain(l, root, dir_name, dom);
}

static void load_products_dir(struct loader *l, const char *dir, const char *dir_domain)
{
	struct names ns;
	if (!list_dir(dir, &ns)) {
		if (errno != ENOENT)
			pdp_diag_error(l->d, dir, 0, 0, "cannot read directory: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < ns.n; i++) {
		if (!has_suffix(ns.v[i], ".yaml") && !has_suffix(ns.v[i], ".yml"))
			continue;
		load_product_file(l, path_join(l->a, dir, ns.v[i]), dir_domain);
	}
	names_done(&ns);
}

static void load_domain_dir(struct loader *l, const char *dir, const char *name)
{
	const char *dy = path_join(l->a, dir, "domain.yaml");
	struct stat st;
	if (stat(dy, &st) == 0 || errno != ENOENT)
		load_domain_file(l, dy, name);
	load_products_dir(l, path_join(l->a, dir, "products"), name);
}

static void load_domains(struct loader *l, const char *root)
{
	const char *dir = path_join(l->a, root, "domains");
	struct names ns;
	if (!list_dir(dir, &ns)) {
		pdp_diag_error(l->d, dir, 0, 0, "cannot read directory: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < ns.n; i++) {
		const char *sub = path_join(l->a, dir, ns.v[i]);
		struct stat st;
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			load_domain_dir(l, sub, ns.v[i]);
	}
	names_done(&ns);
}

static void load_mesh(struct loader *l, const char *root)
{
	const pdp_ynode *doc = read_doc(l, path_join(l->a, root, "mesh.yaml"), "Mesh", "mesh.yaml");
	if (doc)
		read_mesh(l, doc);
}

/* ---- finishing ----------------------------------------------------------- */

static int domain_cmp(const void *a, const void *b)
{
	const pdp_src_domain *x = a, *y = b;
	int c = pdp_str_cmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

static int product_cmp(const void *a, const void *b)
{
	const pdp_src_product *x = a, *y = b;
	int c = pdp_str_cmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

static int domain_key_cmp(const void *key, const void *elem)
{
	return pdp_str_cmp(*(const pdp_str *)key, ((const pdp_src_domain *)elem)->name);
}

/* A product without `classification` takes its domain's default. */
static void inherit_classification(pdp_src *src, pdp_src_product *p)
{
	if (p->classification_y)
		return;
	pdp_str dn = p->domain.len ? p->domain : p->dir_domain;
	const pdp_src_domain *dom = bsearch(&dn, src->domains, src->ndomains,
					    sizeof(*src->domains), domain_key_cmp);
	if (!dom || !dom->default_classification_y)
		return;
	p->classification = dom->default_classification;
	p->classification_y = dom->default_classification_y;
}

/* Moves the malloc'd vectors into the arena, sorted by name. */
static void finish(struct loader *l)
{
	pdp_src *src = l->src;
	src->domains = pdp_arena_array(l->a, l->ndomains, sizeof(*src->domains));
	if (l->ndomains)
		memcpy(src->domains, l->domains, l->ndomains * sizeof(*src->domains));
	src->ndomains = l->ndomains;
	src->products = pdp_arena_array(l->a, l->nproducts, sizeof(*src->products));
	if (l->nproducts)
		memcpy(src->products, l->products, l->nproducts * sizeof(*src->products));
	src->nproducts = l->nproducts;
	free(l->domains);
	free(l->products);
	l->domains = NULL;
	l->products = NULL;
	qsort(src->domains, src->ndomains, sizeof(*src->domains), domain_cmp);
	qsort(src->products, src->nproducts, sizeof(*src->products), product_cmp);
	for (size_t i = 0; i < src->nproducts; i++)
		inherit_classification(src, &src->products[i]);
}

enum pdp_err pdp_src_load_dir(const char *dir, pdp_diag *d, pdp_src **ret_src)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		pdp_diag_error(d, dir, 0, 0, "cannot read policy directory: %s", strerror(errno));
		PDP_BAIL(PDP_E_IO);
	}
	if (!S_ISDIR(st.st_mode)) {
		pdp_diag_error(d, dir, 0, 0, "not a directory");
		PDP_BAIL(PDP_E_IO);
	}
	pdp_src *src = pdp_xcalloc(1, sizeof(*src));
	src->arena = pdp_arena_new(LOAD_ARENA_BLOCK);
	src->root_dir = pdp_arena_strndup(src->arena, dir, strlen(dir));
	struct loader l = { .src = src, .a = src->arena, .d = d };
	load_mesh(&l, dir);
	load_domains(&l, dir);
	finish(&l);
	*ret_src = src;
	return PDP_OK;
}

void pdp_src_free(pdp_src *src)
{
	if (!src)
		return;
	pdp_arena_free(src->arena);
	free(src);
}
