/*
 * test_export.c -- the grant export (policy/export*.c, lf_filter.c):
 * the PartiQL subset check, the Lake Formation / IAM / JSON formats on a
 * small mesh built for the purpose (deny removing columns, masked columns
 * excluded, purpose-bound and expired grants left out, a group without a
 * principal skipped with a note, a filter outside the subset, more than 20
 * entries split into several requests), the compile-time warnings, the
 * diff, and a cross-check of the export of examples/mesh against the
 * evaluator: every cell granted to the lake is one the PDP returns in
 * clear to that group in every situation.
 */
#include <jansson.h>
#include <sys/stat.h>

#include "helpers.h"
#include "pdp/grants.h"
#include "policy_int.h"

#define T_2026_06_01 1780272000LL
#define CATALOG "123456789012"

/* ---- the PartiQL subset ---------------------------------------------------- */

static bool test_column(void *ctx, pdp_str name, bool quoted, pdp_str *ret_type)
{
	(void)ctx;
	static const char *const cols[][2] = {
		{ "region", "string" }, { "amount", "bigint" }, { "price", "decimal(10,2)" },
		{ "active", "boolean" }, { "created", "date" }, { "date", "string" },
		{ "code", "varchar(8)" },
	};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		pdp_str c = pdp_str_c(cols[i][0]);
		if (quoted ? pdp_str_eq(c, name) : pdp_str_eq_nocase(c, name)) {
			*ret_type = pdp_str_c(cols[i][1]);
			return true;
		}
	}
	return false;
}

static void expect_filter(const char *f, const char *reason)
{
	pdp_buf why;
	pdp_buf_init(&why, 0);
	bool ok = pdp_lf_filter_ok(pdp_str_c(f), test_column, NULL, &why);
	if (!reason && !ok)
		fail_msg("'%s' refused: %s", f, why.data);
	if (reason && ok)
		fail_msg("'%s' accepted, expected: %s", f, reason);
	if (reason && !strstr(why.data, reason))
		fail_msg("'%s': got '%s', expected '%s'", f, why.data, reason);
	pdp_buf_done(&why);
}

static void test_filter_subset_accepts(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"region = 'EU'",
		"region IN ('DE', 'FR')",
		"amount > 100000",
		"amount BETWEEN 1 AND 5 AND region <> 'US'",
		"(region = 'EU' OR region = 'US') AND NOT amount <= -3.5e2",
		"code LIKE 'A%'",
		"region NOT LIKE '%x' OR region NOT IN ('a') OR amount NOT BETWEEN 0 AND 1",
		"region IS NOT NULL AND amount IS NULL",
		"active = TRUE",
		"price >= 9.99",
		"REGION != 'it''s'",
		"\"date\" = '2026'",
		"NOT (region = 'EU')",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_filter(ok[i], NULL);
}

static void test_filter_subset_refuses(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{ "lower(region) = 'eu'", "functions are not allowed" },
		{ "amount + 1 > 2", "arithmetic" },
		{ "amount > price", "only be compared with a constant" },
		{ "nope = 1", "unknown column 'nope'" },
		{ "created > '2026-01-01'", "type 'date'" },
		{ "date = 'x'", "PartiQL keyword" },
		{ "amount = 'x'", "a string constant for a column that takes a number" },
		{ "region = 1", "a number constant for a column that takes a string" },
		{ "amount LIKE '1%'", "LIKE needs a string column" },
		{ "region = 'EU' -- comment", "comments are not allowed" },
		{ "region = 'EU'; DROP TABLE x", "unexpected ';'" },
		{ "region IN (SELECT region FROM t)", "not the keyword 'SELECT'" },
		{ "", "empty filter" },
		{ "region = 'EU", "unterminated string" },
		{ "(region = 'EU'", "expected ')'" },
		{ "region = 'EU' region", "unexpected 'region'" },
		{ "region.sub = 'x'", "nested field" },
		{ "region = NULL", "using IS [NOT] NULL" },
		{ "region = other", "only be compared with a constant" },
		{ "region", "expected a comparison" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_filter(bad[i][0], bad[i][1]);
}

static void test_filter_length_limit(void **state)
{
	(void)state;
	/* "region = '" + x... + "'": the longest accepted is 2047 bytes */
	char f[2100];
	for (size_t len = 2047; len <= 2048; len++) {
		size_t n = (size_t)snprintf(f, sizeof(f), "region = '");
		while (n < len - 1)
			f[n++] = 'x';
		f[n++] = '\'';
		f[n] = '\0';
		expect_filter(f, len < PDP_LF_FILTER_MAX ? NULL : "fewer than 2048");
	}
	char deep[300];
	memset(deep, '(', 100);
	snprintf(deep + 100, sizeof(deep) - 100, "region = 'x'");
	expect_filter(deep, "nested deeper");
}

/* ---- a small mesh --------------------------------------------------------------- */

static const char mesh_yaml[] =
	"apiVersion: meshpdp/v1\n"
	"kind: Mesh\n"
	"classifications: [public, internal, confidential, restricted]\n"
	"purposes: [analytics, billing]\n"
	"groups:\n"
	"  - {name: analysts, domain: sales}\n"
	"  - {name: auditors, domain: sales}\n"
	"  - {name: engineers, domain: sales}\n"
	"  - {name: outsiders, domain: sales}\n"
	"pii:\n"
	"  categories: {email: hash}\n"
	"  detect: [email]\n"
	"rules:\n"
	"  - id: no-secrets-for-billing\n"
	"    effect: deny\n"
	"    match: {column_classification: restricted, purposes: [billing]}\n"
	"principals:\n"
	"  analysts: \"arn:aws:iam::123456789012:role/analysts\"\n"
	"  auditors: \"arn:aws:iam::123456789012:role/auditors\"\n"
	"  engineers: \"arn:aws:iam::123456789012:user/engineers\"\n";

static const char domain_yaml[] =
	"apiVersion: meshpdp/v1\n"
	"kind: Domain\n"
	"name: sales\n"
	"owner: sales-team\n"
	"members: [engineers]\n"
	"default_classification: internal\n";

static const char orders_yaml[] =
	"apiVersion: meshpdp/v1\n"
	"kind: DataProduct\n"
	"metadata: {name: sales.orders, domain: sales, owner: sales-team, version: 1.0.0}\n"
	"output_ports:\n"
	"  - {type: table, catalog: awsdatacatalog, database: sales_db, table: orders}\n"
	"schema:\n"
	"  columns:\n"
	"    - {name: id, type: string}\n"
	"    - {name: region, type: string}\n"
	"    - {name: amount, type: bigint}\n"
	"    - {name: email, type: string, pii: email}\n"
	"    - {name: secret, type: string, classification: restricted}\n"
	"    - {name: created, type: date}\n"
	"grants:\n"
	"  - to: {group: analysts}\n"                         /* [0] */
	"    actions: [read]\n"
	"    columns: [id, region, amount, email, secret]\n"
	"  - to: {group: analysts}\n"                         /* [1] */
	"    actions: [read]\n"
	"    columns: [created]\n"
	"    purposes: [billing]\n"
	"  - to: {group: auditors}\n"                         /* [2] */
	"    actions: [read]\n"
	"    columns: [id, amount]\n"
	"    row_filter: \"region = 'EU'\"\n"
	"  - to: {group: auditors}\n"                         /* [3] */
	"    actions: [read]\n"
	"    columns: [region]\n"
	"    row_filter: \"lower(region) = 'eu'\"\n"
	"  - to: {group: outsiders}\n"                        /* [4] */
	"    actions: [read]\n"
	"    columns: \"*\"\n"
	"  - to: {group: analysts}\n"                         /* [5] */
	"    actions: [describe]\n"
	"    columns: \"*\"\n"
	"    expires: 2026-01-01\n"
	"  - to: {group: auditors}\n"                         /* [6] */
	"    actions: [describe]\n"
	"    columns: \"*\"\n"
	"    not_before: 2026-07-01\n"
	"    expires: 2026-12-01\n"
	"deny:\n"
	"  - to: {group: analysts}\n"
	"    actions: [read]\n"
	"    columns: [amount]\n";

static char *small_mesh(const char *orders)
{
	char *dir = t_tmpdir();
	t_sh("mkdir -p '%s/domains/sales/products'", dir);
	t_write(dir, "mesh.yaml", mesh_yaml);
	t_write(dir, "domains/sales/domain.yaml", domain_yaml);
	t_write(dir, "domains/sales/products/orders.yaml", orders);
	return dir;
}

static pdp_policy *load_dir(const char *dir)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	t_compile(dir, &b);
	pdp_policy *p = NULL;
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL), PDP_OK);
	pdp_buf_done(&b);
	return p;
}

static json_t *export_json(const pdp_policy *p, enum pdp_grants_format f, const char *catalog,
			   char **ret_notes)
{
	pdp_grants_opts o = { .time = T_2026_06_01, .catalog_id = catalog };
	pdp_buf out, notes;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&notes, 0);
	assert_int_equal(pdp_grants_export(p, f, &o, &out, &notes), PDP_OK);
	json_error_t err;
	json_t *v = json_loads(out.data, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("export is not JSON: %s", err.text);
	*ret_notes = pdp_buf_steal(&notes, NULL);
	if (!*ret_notes)
		*ret_notes = strdup("");
	pdp_buf_done(&out);
	return v;
}

/* The entry with this Id in any BatchGrantPermissions request, or NULL. */
static json_t *entry(json_t *doc, const char *id)
{
	size_t i, j;
	json_t *req, *e;
	json_array_foreach(json_object_get(doc, "BatchGrantPermissions"), i, req)
		json_array_foreach(json_object_get(req, "Entries"), j, e)
			if (!strcmp(json_string_value(json_object_get(e, "Id")), id))
				return e;
	return NULL;
}

static char *columns_of(json_t *e)
{
	json_t *res = json_object_get(e, "Resource");
	json_t *twc = json_object_get(res, "TableWithColumns");
	json_t *cols = json_object_get(twc ? twc : res, "ColumnNames");
	char *s = json_dumps(cols, JSON_COMPACT);
	assert_non_null(s);
	return s;
}

static void test_lakeformation_small_mesh(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	pdp_policy *p = load_dir(dir);
	char *notes;
	json_t *doc = export_json(p, PDP_GRANTS_LAKEFORMATION, CATALOG, &notes);

	/* analysts: the deny removes amount, email is PII (masked), secret may be
	 * denied (billing); the billing-only grant and the expired describe stay out */
	json_t *e = entry(doc, "analysts/sales.orders/select");
	assert_non_null(e);
	char *cols = columns_of(e);
	assert_string_equal(cols, "[\"id\",\"region\"]");
	free(cols);
	assert_null(entry(doc, "analysts/sales.orders/describe"));
	/* engineers: membership, every clear column, describe */
	e = entry(doc, "engineers/sales.orders/select");
	assert_non_null(e);
	cols = columns_of(e);
	assert_string_equal(cols, "[\"amount\",\"created\",\"id\",\"region\"]");
	free(cols);
	assert_non_null(entry(doc, "engineers/sales.orders/describe"));
	/* auditors: one data cells filter for the filter inside the subset */
	json_t *filters = json_object_get(doc, "CreateDataCellsFilter");
	assert_int_equal(json_array_size(filters), 1);
	json_t *td = json_object_get(json_array_get(filters, 0), "TableData");
	assert_string_equal(json_string_value(json_object_get(json_object_get(td, "RowFilter"),
							      "FilterExpression")), "region = 'EU'");
	cols = json_dumps(json_object_get(td, "ColumnNames"), JSON_COMPACT);
	assert_string_equal(cols, "[\"amount\",\"id\"]");
	free(cols);
	assert_string_equal(json_string_value(json_object_get(td, "TableCatalogId")), CATALOG);
	char id[128];
	snprintf(id, sizeof(id), "auditors/sales.orders/select/%s",
		 json_string_value(json_object_get(td, "Name")));
	assert_non_null(entry(doc, id));
	assert_null(entry(doc, "auditors/sales.orders/select"));
	assert_null(entry(doc, "auditors/sales.orders/describe")); /* not yet active */
	/* outsiders have no principal */
	char *all = json_dumps(doc, 0);
	assert_null(strstr(all, "outsiders/"));
	assert_non_null(strstr(all, "row_filter outside the Lake Formation PartiQL subset: "
				    "functions are not allowed"));
	assert_non_null(strstr(all, "purpose-bound (billing)"));
	assert_non_null(strstr(all, "\"valid_until\": \"2026-07-01T00:00:00Z\""));
	free(all);
	assert_non_null(strstr(notes, "note: group:outsiders on sales.orders (sales.orders#grants[4]) "
				      "is not exported: the group has no principal in mesh.principals"));
	assert_non_null(strstr(notes, "valid until 2026-07-01T00:00:00Z"));
	free(notes);
	json_decref(doc);
	pdp_policy_unref(p);
	t_rmtree(dir);
}

static void test_filters_need_catalog_id(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	pdp_policy *p = load_dir(dir);
	pdp_grants_opts o = { .time = T_2026_06_01 };
	pdp_buf out, notes;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&notes, 0);
	assert_int_equal(pdp_grants_export(p, PDP_GRANTS_LAKEFORMATION, &o, &out, &notes),
			 PDP_E_INVALID);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(notes.data, "error: the export has row filters"));
	pdp_buf_reset(&notes);
	o.catalog_id = "12 34";
	assert_int_equal(pdp_grants_export(p, PDP_GRANTS_JSON, &o, &out, &notes), PDP_E_INVALID);
	assert_non_null(strstr(notes.data, "catalog id"));
	/* json and iam need no catalog id */
	o.catalog_id = NULL;
	assert_int_equal(pdp_grants_export(p, PDP_GRANTS_JSON, &o, &out, &notes), PDP_OK);
	assert_int_equal(pdp_grants_export(p, PDP_GRANTS_IAM, &o, &out, &notes), PDP_OK);
	pdp_buf_done(&out);
	pdp_buf_done(&notes);
	pdp_policy_unref(p);
	t_rmtree(dir);
}

static void test_json_and_iam_small_mesh(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	pdp_policy *p = load_dir(dir);
	char *notes;
	json_t *doc = export_json(p, PDP_GRANTS_JSON, NULL, &notes);
	char *s = json_dumps(json_object_get(doc, "grants"), JSON_COMPACT | JSON_SORT_KEYS);
	/* analysts [0]: amount withheld (deny), secret withheld (billing rule), email masked */
	assert_non_null(strstr(s, "{\"clear_columns\":[\"id\",\"region\"],\"describe\":false,"
				  "\"expires\":null,\"group\":\"analysts\",\"masked_columns\":"
				  "{\"email\":\"hash\"},\"not_before\":null,\"principal\":"
				  "\"arn:aws:iam::123456789012:role/analysts\",\"product\":\"sales.orders\","
				  "\"purposes\":null,\"row_filter\":null,\"source\":\"sales.orders#grants[0]\","
				  "\"table\":{\"catalog\":\"awsdatacatalog\",\"database\":\"sales_db\","
				  "\"table\":\"orders\"},\"withheld_columns\":[\"amount\",\"secret\"]}"));
	/* the billing grant, with its purpose */
	assert_non_null(strstr(s, "\"purposes\":[\"billing\"],\"row_filter\":null,\"source\":"
				  "\"sales.orders#grants[1]\""));
	assert_null(strstr(s, "outsiders"));
	assert_null(strstr(s, "#grants[5]")); /* expired */
	free(s);
	json_decref(doc);
	free(notes);

	doc = export_json(p, PDP_GRANTS_IAM, CATALOG, &notes);
	s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(s, "\"attach_to\":{\"name\":\"engineers\",\"type\":\"user\"}"));
	assert_non_null(strstr(s, "\"Resource\":[\"arn:aws:glue:*:123456789012:catalog\","
				  "\"arn:aws:glue:*:123456789012:database/sales_db\","
				  "\"arn:aws:glue:*:123456789012:table/sales_db/orders\"]"));
	assert_non_null(strstr(s, "\"Version\":\"2012-10-17\""));
	free(s);
	json_decref(doc);
	free(notes);
	pdp_policy_unref(p);
	t_rmtree(dir);
}

static void test_compile_warnings(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_policy_compile_dir(dir, NULL, &d, &b), PDP_OK);
	const pdp_diag_item *w = pdp_diag_find(&d, "outside the Lake Formation PartiQL subset "
						   "(functions are not allowed");
	assert_non_null(w);
	assert_int_equal(w->level, PDP_DIAG_WARNING);
	assert_int_equal(w->line, 29);
	assert_int_equal(w->col, 17);
	w = pdp_diag_find(&d, "group 'outsiders' has no principal in mesh.principals");
	assert_non_null(w);
	assert_int_equal(w->line, 30);
	/* the purpose-bound grant and mapped groups are not warned about */
	assert_null(pdp_diag_find(&d, "group 'analysts'"));
	pdp_diag_done(&d);
	pdp_buf_done(&b);
	t_rmtree(dir);
}

/* 12 more products × (describe + select) for analysts and for engineers
 * (members): more than 40 entries, three requests. */
static void test_batches_of_twenty(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	for (int i = 0; i < 12; i++) {
		char name[64], text[1024];
		snprintf(name, sizeof(name), "domains/sales/products/p%02d.yaml", i);
		snprintf(text, sizeof(text),
			 "apiVersion: meshpdp/v1\nkind: DataProduct\n"
			 "metadata: {name: sales.p%02d, domain: sales, owner: o, version: 1.0.0}\n"
			 "output_ports: [{type: table, database: db, table: t%02d}]\n"
			 "schema: {columns: [{name: a, type: string}]}\n"
			 "grants: [{to: {group: analysts}, actions: [describe, read], columns: \"*\"}]\n",
			 i, i);
		t_write(dir, name, text);
	}
	pdp_policy *p = load_dir(dir);
	char *notes;
	json_t *doc = export_json(p, PDP_GRANTS_LAKEFORMATION, CATALOG, &notes);
	json_t *reqs = json_object_get(doc, "BatchGrantPermissions");
	size_t total = 0, i;
	json_t *r;
	json_array_foreach(reqs, i, r) {
		size_t n = json_array_size(json_object_get(r, "Entries"));
		assert_true(n >= 1 && n <= PDP_LF_BATCH_MAX);
		assert_string_equal(json_string_value(json_object_get(r, "CatalogId")), CATALOG);
		total += n;
	}
	/* 2 × 24 for p00..p11; on sales.orders: analysts 1, engineers 2, auditors' filter 1 */
	assert_int_equal(total, 52);
	assert_int_equal(json_array_size(reqs), 3);
	assert_int_equal(json_array_size(json_object_get(json_array_get(reqs, 0), "Entries")), 20);
	assert_int_equal(json_array_size(json_object_get(json_array_get(reqs, 1), "Entries")), 20);
	assert_int_equal(json_array_size(json_object_get(json_array_get(reqs, 2), "Entries")), 12);
	free(notes);
	json_decref(doc);
	pdp_policy_unref(p);
	t_rmtree(dir);
}

static void test_deterministic(void **state)
{
	(void)state;
	char *dir = small_mesh(orders_yaml);
	pdp_policy *p = load_dir(dir);
	pdp_grants_opts o = { .time = T_2026_06_01, .catalog_id = CATALOG, .region = "eu-west-1" };
	for (int f = PDP_GRANTS_LAKEFORMATION; f <= PDP_GRANTS_JSON; f++) {
		pdp_buf a, b, n;
		pdp_buf_init(&a, 0);
		pdp_buf_init(&b, 0);
		pdp_buf_init(&n, 0);
		assert_int_equal(pdp_grants_export(p, (enum pdp_grants_format)f, &o, &a, &n), PDP_OK);
		assert_int_equal(pdp_grants_export(p, (enum pdp_grants_format)f, &o, &b, &n), PDP_OK);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		pdp_buf_done(&a);
		pdp_buf_done(&b);
		pdp_buf_done(&n);
	}
	enum pdp_grants_format f;
	assert_true(pdp_grants_format_parse(PDP_STR("iam"), &f) && f == PDP_GRANTS_IAM);
	assert_false(pdp_grants_format_parse(PDP_STR("ranger"), &f));
	pdp_policy_unref(p);
	t_rmtree(dir);
}

/* ---- the diff --------------------------------------------------------------------- */

static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	assert_non_null(at);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);
	snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return r;
}

static void test_diff(void **state)
{
	(void)state;
	char *d1 = small_mesh(orders_yaml);
	char *o2 = replace(orders_yaml, "    columns: [id, region, amount, email, secret]\n",
			   "    columns: [id, amount, email, secret, created]\n");
	char *d2 = small_mesh(o2);
	pdp_policy *a = load_dir(d1), *b = load_dir(d2);
	pdp_grants_opts o = { .time = T_2026_06_01 };
	pdp_buf out;
	pdp_buf_init(&out, 0);
	size_t n = 99;
	assert_int_equal(pdp_grants_diff(a, a, &o, &out, &n), PDP_OK);
	assert_int_equal(n, 0);
	assert_non_null(strstr(out.data, "no change in access\n"));
	pdp_buf_reset(&out);
	assert_int_equal(pdp_grants_diff(a, b, &o, &out, &n), PDP_OK);
	static const char *const want[] = {
		/* the billing grant already gave created; now it is every purpose */
		"+ group:analysts sales.orders: read clear created (no purpose; purposes: analytics)\n",
		"- group:analysts sales.orders: read clear region (any purpose, or none)\n",
		"+ lake arn:aws:iam::123456789012:role/analysts sales_db.orders: SELECT created\n",
		"- lake arn:aws:iam::123456789012:role/analysts sales_db.orders: SELECT region\n",
		"4 changes (2 in decisions, 2 in the lake): 2 gained, 2 lost, 0 changed\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out.data, want[i]))
			fail_msg("expected\n%s\nin\n%s", want[i], out.data);
	assert_int_equal(n, 4);
	pdp_buf_done(&out);
	pdp_policy_unref(a);
	pdp_policy_unref(b);
	free(o2);
	t_rmtree(d1);
	t_rmtree(d2);
}

/* ---- never more than the PDP: examples/mesh against the evaluator -------------- */

struct xcheck {
	const pdp_policy *p;
	pdp_arena *a;
	size_t decisions;
};

/* Decides read (column given) or describe (column NULL) for a subject with
 * only `group`, every domain (and none) and every purpose (and none). */
static void check_cell(struct xcheck *x, const char *group, const char *product,
		       const char *column, const char *filter)
{
	const pdp_policy *p = x->p;
	for (int d = -1; d < (int)p->ndomains; d++) {
		for (int u = -1; u < (int)p->npurposes; u++) {
			char req[1024], dom[128] = "", pur[128] = "";
			if (d >= 0)
				snprintf(dom, sizeof(dom), ",\"domain\":\"%s\"", pdp_rt_str(p, p->domains[d].name).p);
			if (u >= 0)
				snprintf(pur, sizeof(pur), ",\"context\":{\"purpose\":\"%s\"}",
					 pdp_rt_str(p, p->purposes[u]).p);
			snprintf(req, sizeof(req), "{\"subject\":{\"id\":\"x\",\"groups\":[\"%s\"]%s},"
				 "\"action\":\"%s\",\"resource\":{\"product\":\"%s\"%s%s%s}%s}",
				 group, dom, column ? "read" : "describe", product,
				 column ? ",\"columns\":[\"" : "", column ? column : "", column ? "\"]" : "", pur);
			pdp_request r;
			pdp_decision dec;
			assert_int_equal(pdp_request_parse(req, strlen(req), NULL, x->a, &r, NULL), PDP_OK);
			r.time = T_2026_06_01;
			assert_int_equal(pdp_eval_decide(p, &r, x->a, &dec, NULL), PDP_OK);
			x->decisions++;
			if (!dec.allow)
				fail_msg("lake grants %s but the PDP denies: %s", column ? column : "describe", req);
			if (column && dec.cols[0].access != PDP_ACCESS_ALLOW)
				fail_msg("lake grants %s in clear but the PDP masks it: %s", column, req);
			if (column && filter && dec.has_row_filter) {
				char want[2200];
				snprintf(want, sizeof(want), "(%s)", filter);
				char *got = strndup(dec.row_filter.p, dec.row_filter.len);
				if (!strstr(got, want))
					fail_msg("lake filter %s not in the PDP's %s for %s", filter, got, req);
				free(got);
			}
			if (column && !filter && dec.has_row_filter)
				fail_msg("lake grants all rows of %s, the PDP filters: %s", column, req);
			pdp_arena_reset(x->a);
		}
	}
}

static const char *filter_of(json_t *lf, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(lf, "CreateDataCellsFilter"), i, f) {
		json_t *td = json_object_get(f, "TableData");
		if (!strcmp(json_string_value(json_object_get(td, "Name")), name))
			return json_string_value(json_object_get(json_object_get(td, "RowFilter"),
								 "FilterExpression"));
	}
	fail_msg("no data cells filter %s", name);
	return NULL;
}

static json_t *filter_columns(json_t *lf, const char *name)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(lf, "CreateDataCellsFilter"), i, f) {
		json_t *td = json_object_get(f, "TableData");
		if (!strcmp(json_string_value(json_object_get(td, "Name")), name))
			return json_object_get(td, "ColumnNames");
	}
	return NULL;
}

static void check_entry(struct xcheck *x, json_t *lf, json_t *e)
{
	char id[512];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(e, "Id")));
	char *group = id, *product = strchr(id, '/');
	assert_non_null(product);
	*product++ = '\0';
	char *kind = strchr(product, '/');
	*kind++ = '\0';
	json_t *res = json_object_get(e, "Resource");
	if (json_object_get(res, "Table")) {
		check_cell(x, group, product, NULL, NULL);
		return;
	}
	json_t *cols = json_object_get(json_object_get(res, "TableWithColumns"), "ColumnNames");
	const char *filter = NULL;
	json_t *dcf = json_object_get(res, "DataCellsFilter");
	if (dcf) {
		const char *name = json_string_value(json_object_get(dcf, "Name"));
		filter = filter_of(lf, name);
		cols = filter_columns(lf, name);
	}
	assert_true(json_array_size(cols) > 0);
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c)
		check_cell(x, group, product, json_string_value(c), filter);
}

static void test_examples_never_more_than_pdp(void **state)
{
	(void)state;
	pdp_policy *p = load_dir("examples/mesh");
	char *notes;
	json_t *lf = export_json(p, PDP_GRANTS_LAKEFORMATION, CATALOG, &notes);
	struct xcheck x = { p, pdp_arena_new(1 << 16), 0 };
	size_t i, j, nentries = 0;
	json_t *req, *e;
	json_array_foreach(json_object_get(lf, "BatchGrantPermissions"), i, req) {
		json_array_foreach(json_object_get(req, "Entries"), j, e) {
			check_entry(&x, lf, e);
			nentries++;
		}
	}
	assert_true(nentries >= 20); /* the sample mesh exports a fair amount */
	assert_true(x.decisions > 1000);
	pdp_arena_free(x.a);
	free(notes);
	json_decref(lf);
	pdp_policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_subset_accepts),
		cmocka_unit_test(test_filter_subset_refuses),
		cmocka_unit_test(test_filter_length_limit),
		cmocka_unit_test(test_lakeformation_small_mesh),
		cmocka_unit_test(test_filters_need_catalog_id),
		cmocka_unit_test(test_json_and_iam_small_mesh),
		cmocka_unit_test(test_compile_warnings),
		cmocka_unit_test(test_batches_of_twenty),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_examples_never_more_than_pdp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
