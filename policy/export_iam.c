/*
 * export_iam.c -- one IAM policy document per principal: what an IAM role,
 * user or group needs, besides its Lake Formation grants, to read the
 * tables the lake export gives it.
 *
 * Design: Lake Formation decides columns and rows; IAM must still let the
 * principal call the services. From the lake model (export_lf.c), per
 * principal ARN (groups mapped to the same ARN are merged):
 *   - "LakeFormationDataAccess": lakeformation:GetDataAccess, Resource "*"
 *     (the action has no resource-level permissions), only if the
 *     principal reads some table;
 *   - "GlueCatalogRead": glue:GetDatabase and glue:GetTable on the catalog,
 *     the databases and the tables it may read or describe;
 *   - "GluePartitionsRead": glue:GetPartition(s) and BatchGetPartition on
 *     the tables it may read (and their catalog and databases, which Glue
 *     also authorises).
 * Glue ARNs are arn:<partition>:glue:<region>:<account>:..., the partition
 * from the principal's ARN, the region from the options ("*" if none) and
 * the account from the catalog id when it is one (12 digits), else "*".
 * A principal that is not an IAM role, user or group (an Identity Center
 * group, a SAML principal, an account) gets no document, with a note.
 *
 * Ownership: scratch in a local arena; the JSON is dumped into out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"

struct target {
	char partition[16], account[16], type[8];
	pdp_str name;
};

/* arn:<partition>:iam::<account>:(role|user|group)/[path/]name */
static bool parse_iam_arn(pdp_str arn, struct target *t)
{
	const char *s = arn.p, *end = arn.p + arn.len, *f[6];
	int n = 0;
	f[n++] = s;
	for (const char *p = s; p < end && n < 6; p++)
		if (*p == ':')
			f[n++] = p + 1;
	if (n != 6 || strncmp(s, "arn:", 4) != 0 || strncmp(f[2], "iam:", 4) != 0)
		return false;
	size_t pl = (size_t)(f[2] - f[1] - 1), al = (size_t)(f[5] - f[4] - 1);
	if (pl == 0 || pl >= sizeof(t->partition) || al != 12)
		return false;
	memcpy(t->partition, f[1], pl);
	t->partition[pl] = '\0';
	memcpy(t->account, f[4], al);
	t->account[al] = '\0';
	const char *res = f[5], *slash = memchr(res, '/', (size_t)(end - res));
	if (!slash)
		return false;
	size_t tl = (size_t)(slash - res);
	if (tl >= sizeof(t->type))
		return false;
	memcpy(t->type, res, tl);
	t->type[tl] = '\0';
	if (strcmp(t->type, "role") && strcmp(t->type, "user") && strcmp(t->type, "group"))
		return false;
	const char *name = end;
	while (name > slash + 1 && name[-1] != '/')
		name--;
	t->name = (pdp_str){ name, (size_t)(end - name) };
	return t->name.len > 0;
}

static bool is_account(const char *s)
{
	if (!s || strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int keycmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct arns {
	const char *partition, *region, *account;
};

static json_t *glue_arn(const struct arns *x, const char *kind, pdp_str db, pdp_str table)
{
	char buf[1024];
	int n;
	if (!strcmp(kind, "catalog"))
		n = snprintf(buf, sizeof(buf), "arn:%s:glue:%s:%s:catalog", x->partition, x->region,
			     x->account);
	else if (!strcmp(kind, "database"))
		n = snprintf(buf, sizeof(buf), "arn:%s:glue:%s:%s:database/%.*s", x->partition,
			     x->region, x->account, (int)db.len, db.p);
	else
		n = snprintf(buf, sizeof(buf), "arn:%s:glue:%s:%s:table/%.*s/%.*s", x->partition,
			     x->region, x->account, (int)db.len, db.p, (int)table.len, table.p);
	return json_stringn(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Resources: the catalog, then databases, then tables, each sorted and
 * unique (a JSON object keyed by ARN sorts and dedupes them). */
static json_t *resources(const pdp_policy *p, const ex_lf_model *m, pdp_sid arn,
			 const struct arns *x, bool read_only)
{
	json_t *dbs = json_object(), *tabs = json_object();
	for (uint32_t i = 0; i < m->ngrants; i++) {
		const ex_lf_grant *g = &m->grants[i];
		if (g->prin->arn != arn || (read_only && g->kind == EX_LF_DESCRIBE))
			continue;
		pdp_str db = pdp_rt_str(p, g->port->database), tb = pdp_rt_str(p, g->port->table);
		json_t *d = glue_arn(x, "database", db, tb), *t = glue_arn(x, "table", db, tb);
		json_object_set_new(dbs, json_string_value(d), json_true());
		json_object_set_new(tabs, json_string_value(t), json_true());
		json_decref(d);
		json_decref(t);
	}
	json_t *arr = json_array();
	if (json_object_size(tabs))
		json_array_append_new(arr, glue_arn(x, "catalog", PDP_STR_NULL, PDP_STR_NULL));
	json_t *sets[2] = { dbs, tabs };
	for (int k = 0; k < 2; k++) {
		size_t n = json_object_size(sets[k]), i = 0;
		const char **keys = pdp_xcalloc(n + 1, sizeof(*keys));
		const char *key;
		json_t *v;
		json_object_foreach(sets[k], key, v)
			keys[i++] = key;
		qsort(keys, n, sizeof(*keys), keycmp);
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_string(keys[i]));
		free(keys);
	}
	json_decref(dbs);
	json_decref(tabs);
	return arr;
}

static json_t *statement(const char *sid, const char *const *actions, json_t *resource)
{
	json_t *st = json_object(), *acts = json_array();
	for (size_t i = 0; actions[i]; i++)
		json_array_append_new(acts, json_string(actions[i]));
	json_object_set_new(st, "Sid", json_string(sid));
	json_object_set_new(st, "Effect", json_string("Allow"));
	json_object_set_new(st, "Action", acts);
	json_object_set_new(st, "Resource", resource);
	return st;
}

static json_t *document(const pdp_policy *p, const ex_lf_model *m, pdp_sid arn,
			const struct arns *x)
{
	static const char *const lf[] = { "lakeformation:GetDataAccess", NULL };
	static const char *const meta[] = { "glue:GetDatabase", "glue:GetTable", NULL };
	static const char *const parts[] = { "glue:BatchGetPartition", "glue:GetPartition",
					     "glue:GetPartitions", NULL };
	json_t *all = resources(p, m, arn, x, false), *read = resources(p, m, arn, x, true);
	if (!json_array_size(all)) {
		json_decref(all);
		json_decref(read);
		return NULL;
	}
	json_t *sts = json_array();
	if (json_array_size(read))
		json_array_append_new(sts, statement("LakeFormationDataAccess", lf, json_string("*")));
	json_array_append_new(sts, statement("GlueCatalogRead", meta, all));
	if (json_array_size(read))
		json_array_append_new(sts, statement("GluePartitionsRead", parts, read));
	else
		json_decref(read);
	json_t *doc = json_object();
	json_object_set_new(doc, "Version", json_string("2012-10-17"));
	json_object_set_new(doc, "Statement", sts);
	return doc;
}

/* Groups mapped to arn, sorted (m->prin is sorted by group). */
static json_t *groups_of(const pdp_policy *p, const ex_lf_model *m, pdp_sid arn)
{
	json_t *arr = json_array();
	for (uint32_t i = 0; i < m->nprin; i++)
		if (m->prin[i].arn == arn)
			json_array_append_new(arr, ex_json_sid(p, m->prin[i].sid));
	return arr;
}

static int sidcmp(const void *a, const void *b)
{
	pdp_sid x = *(const pdp_sid *)a, y = *(const pdp_sid *)b;
	return (x > y) - (x < y);
}

static json_t *policy_item(const pdp_policy *p, const ex_lf_model *m, pdp_sid arn,
			   const pdp_grants_opts *o, pdp_buf *notes)
{
	pdp_str a = pdp_rt_str(p, arn);
	struct target t;
	if (!parse_iam_arn(a, &t)) {
		pdp_ignore(pdp_buf_printf(notes, "note: principal %.*s is not an IAM role, user or "
					  "group: no IAM policy document for it\n", (int)a.len, a.p));
		return NULL;
	}
	struct arns x = { t.partition, o->region ? o->region : "*",
			  is_account(o->catalog_id) ? o->catalog_id : "*" };
	json_t *doc = document(p, m, arn, &x);
	if (!doc)
		return NULL;
	char pname[160];
	json_t *groups = groups_of(p, m, arn);
	snprintf(pname, sizeof(pname), "meshpdp-lake-access");
	json_t *item = json_object(), *attach = json_object();
	json_object_set_new(attach, "type", json_string(t.type));
	json_object_set_new(attach, "name", ex_json_str(t.name));
	json_object_set_new(item, "principal", ex_json_str(a));
	json_object_set_new(item, "groups", groups);
	json_object_set_new(item, "attach_to", attach);
	json_object_set_new(item, "policy_name", json_string(pname));
	json_object_set_new(item, "policy_document", doc);
	return item;
}

enum pdp_err ex_export_iam(const pdp_policy *p, const pdp_grants_opts *o, pdp_buf *out,
			   pdp_buf *notes)
{
	pdp_arena *a = pdp_arena_new(1 << 16);
	ex_lf_model m;
	ex_lf_build(p, o->time, true, a, notes, &m);
	ex_unmapped_notes(p, &m);
	pdp_sid *arns = pdp_arena_array(a, m.nprin + 1, sizeof(pdp_sid));
	uint32_t n = 0;
	for (uint32_t i = 0; i < m.nprin; i++)
		if (m.prin[i].arn)
			arns[n++] = m.prin[i].arn;
	qsort(arns, n, sizeof(*arns), sidcmp);
	json_t *items = json_array();
	for (uint32_t i = 0; i < n; i++) {
		if (i && arns[i] == arns[i - 1])
			continue;
		json_t *it = policy_item(p, &m, arns[i], o, notes);
		if (it)
			json_array_append_new(items, it);
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "meshpdp", ex_json_header(p, "iam", o));
	json_object_set_new(doc, "policies", items);
	ex_note_valid_until(p, o->time, notes);
	pdp_arena_free(a);
	return ex_json_dump(doc, out);
}
