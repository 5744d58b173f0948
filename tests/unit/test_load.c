/*
 * test_load.c -- the policy loader (policy/load.c): the directory walk, the
 * apiVersion/kind of each place, the key tables of every mapping kind (unknown
 * keys, wrong types, missing keys, bad enum values, bad dates), what the
 * model holds afterwards (sorting, directory names, positions, inherited
 * classification). Problems are asserted as the exact `pdp check` output.
 */
#include <fcntl.h>

#include "policy_fixture.h"

/* ---- the directory ------------------------------------------------------- */

static void missing_policy_dir(void **state)
{
	(void)state;
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_src *src = (pdp_src *)&d; /* must stay untouched */
	assert_int_equal(pdp_src_load_dir("/nonexistent/policy", &d, &src), PDP_E_IO);
	assert_ptr_equal(src, (pdp_src *)&d);
	assert_int_equal(d.errors, 1);
	assert_string_equal(d.items[0].file, "/nonexistent/policy");
	assert_string_equal(d.items[0].msg, "cannot read policy directory: No such file or directory");
	assert_int_equal(pdp_src_load_dir("/etc/hostname", &d, &src), PDP_E_IO);
	assert_string_equal(d.items[1].msg, "not a directory");
	pdp_diag_done(&d);
}

static void missing_mesh_yaml(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", NULL }),
		  "mesh.yaml: error: cannot read: No such file or directory\n"
		  "1 errors, 0 warnings\n");
}

static void missing_domains_dir(void **state)
{
	(void)state;
	FX_EXPECT(NULL, FILES({ "mesh.yaml", "apiVersion: meshpdp/v1\nkind: Mesh\n"
					     "classifications: [public]\n" }),
		  "domains: error: cannot read directory: No such file or directory\n"
		  "1 errors, 0 warnings\n");
}

static void empty_policy_is_valid(void **state)
{
	(void)state;
	FX_EXPECT(NULL, FILES({ "mesh.yaml", "apiVersion: meshpdp/v1\nkind: Mesh\n"
					     "classifications: [public]\n" },
			      { "domains/README.md", "no domains yet\n" }),
		  "0 errors, 0 warnings\n");
}

static void only_yaml_files_are_read(void **state)
{
	(void)state;
	pdp_src *src = NULL;
	char *out = fx_check(fx_base, FILES(
		{ "domains/orders/products/README.md", "not: [yaml\n" },
		{ "domains/orders/products/.p.yaml.swp", "not: [yaml\n" },
		{ "domains/orders/products/notes.txt", "kind: Mesh\n" },
		{ "domains/orders/products/q.yml", FX_P_HEAD },
		{ "domains/orders/notes.yaml", "kind: Mesh\n" }), &src);
	assert_string_equal(out, "0 errors, 0 warnings\n");
	free(out);
	assert_int_equal(src->nproducts, 2);
	assert_string_equal(src->products[1].name.p, "orders.p");
	assert_non_null(strstr(src->products[1].file, "/domains/orders/products/q.yml"));
	pdp_src_free(src);
}

static void file_too_large(void **state)
{
	(void)state;
	char dir[64];
	fx_make(dir, sizeof(dir), fx_base, NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/" FX_P, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, ((off_t)16 << 20) + 1), 0); /* sparse */
	close(fd);
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_src *src = NULL;
	assert_int_equal(pdp_src_load_dir(dir, &d, &src), PDP_OK);
	char *out = fx_render(&d, dir);
	assert_string_equal(out, FX_P ": error: file is larger than 16 MiB\n1 errors, 0 warnings\n");
	free(out);
	assert_int_equal(src->nproducts, 1);
	pdp_src_free(src);
	pdp_diag_done(&d);
	fx_rmtree(dir);
}

/* ---- documents: kind, apiVersion, syntax --------------------------------- */

static void product_file_of_wrong_kind(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ FX_P, "apiVersion: meshpdp/v1\nkind: Mesh\nclassifications: [x]\n" }),
		  FX_P ":2:7: error: kind 'Mesh' is not allowed here: files under "
		  "domains/<domain>/products/ must be kind: DataProduct\n"
		  "1 errors, 0 warnings\n");
}

static void mesh_and_domain_of_wrong_kind(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", "apiVersion: meshpdp/v1\nkind: DataProduct\n" },
				 { "domains/risk/domain.yaml", "kind: Mesh\n" }),
		  "domains/risk/domain.yaml:1:7: error: kind 'Mesh' is not allowed here: "
		  "domains/<domain>/domain.yaml must be kind: Domain\n"
		  "mesh.yaml:2:7: error: kind 'DataProduct' is not allowed here: mesh.yaml must "
		  "be kind: Mesh\n"
		  "2 errors, 0 warnings\n");
}

static void wrong_api_version_and_missing_kind(void **state)
{
	(void)state;
	char *p = subst(FX_P_HEAD, "apiVersion: meshpdp/v1\nkind: DataProduct\n",
			"apiVersion: meshpdp/v2\n\n");
	FX_EXPECT(fx_base, FILES({ FX_P, p }),
		  FX_P ":1:1: error: product: missing required key 'kind'\n"
		  FX_P ":1:13: error: unsupported apiVersion 'meshpdp/v2' (expected meshpdp/v1)\n"
		  "2 errors, 0 warnings\n");
	free(p);
}

static void empty_and_non_mapping_documents(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ FX_P, "# nothing\n" },
				 { "domains/orders/products/q.yaml", "- a\n- b\n" }),
		  FX_P ":1:1: error: expected a kind: DataProduct document (a mapping), got an "
		  "empty document\n"
		  "domains/orders/products/q.yaml:1:1: error: expected a kind: DataProduct "
		  "document (a mapping), got list\n"
		  "2 errors, 0 warnings\n");
}

static void syntax_error_does_not_stop_the_rest(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "domains/orders/products/a.yaml", "metadata: [oops\n" },
				 { "domains/orders/products/b.yaml", "a: 1\na: 2\n" },
				 { FX_P, FX_P_HEAD "grants: 5\n" }),
		  "domains/orders/products/a.yaml:2:1: error: YAML syntax error: did not find "
		  "expected ',' or ']' while parsing a flow sequence\n"
		  "domains/orders/products/b.yaml:2:1: error: duplicate key 'a' (first at line 1)\n"
		  FX_P ":14:9: error: product.grants: expected list, got scalar\n"
		  "3 errors, 0 warnings\n");
}

/* ---- key tables ----------------------------------------------------------- */

static void unknown_keys_and_missing_keys(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    colums: [id]\n"
			     "    expires: 2026-12-01\n"
			     "owner: me\n"),
		  FX_P ":15:5: error: grant: missing required key 'columns'\n"
		  FX_P ":17:5: error: grant: unknown key 'colums'\n"
		  FX_P ":19:1: error: product: unknown key 'owner'\n"
		  "3 errors, 0 warnings\n");
}

static void missing_required_manifest_fields(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ FX_P, "apiVersion: meshpdp/v1\n"
					 "kind: DataProduct\n"
					 "metadata:\n"
					 "  name: orders.p\n"
					 "  domain: orders\n"
					 "classification: internal\n" }),
		  FX_P ":1:1: error: product: missing required key 'schema'\n"
		  FX_P ":4:3: error: metadata: missing required key 'owner'\n"
		  FX_P ":4:3: error: metadata: missing required key 'version'\n"
		  "3 errors, 0 warnings\n");
}

static void wrong_types(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("slo: {freshness_minutes: soon, completeness_percent: [1]}\n"
			     "grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: read\n"
			     "    columns: [id, [email]]\n"
			     "    row_filter: {a: 1}\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: orders-contractors\n"
			     "    actions: [read]\n"
			     "    columns: all\n"),
		  FX_P ":14:26: error: slo.freshness_minutes: expected a number\n"
		  FX_P ":14:54: error: slo.completeness_percent: expected scalar, got list\n"
		  FX_P ":17:14: error: grant.actions: expected list, got scalar\n"
		  FX_P ":18:19: error: grant.columns: expected string, got list\n"
		  FX_P ":19:17: error: grant.row_filter: expected scalar, got mapping\n"
		  FX_P ":22:9: error: deny.to: expected mapping, got scalar\n"
		  FX_P ":24:14: error: deny.columns: expected a list of column names or \"*\"\n"
		  "7 errors, 0 warnings\n");
}

static void to_needs_exactly_one(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("deny:\n"
			     "  - to: {group: orders-contractors, subject: u-1}\n"
			     "    actions: [read]\n"
			     "    columns: \"*\"\n"
			     "  - to: {}\n"
			     "    actions: [read]\n"
			     "    columns: \"*\"\n"),
		  FX_P ":15:9: error: deny.to: needs exactly one of group, domain, subject (found 2)\n"
		  FX_P ":18:9: error: deny.to: needs exactly one of group, domain, subject (found 0)\n"
		  "2 errors, 0 warnings\n");
}

static void bad_enum_values(void **state)
{
	(void)state;
	char *m1 = subst(FX_MESH, "phone: show_last_4", "phone: last_4");
	char *m2 = subst(m1, "effect: deny", "effect: forbid");
	char *m3 = subst(m2, "mask: hash", "mask: scramble");
	char *m4 = subst(m3, "[admin, grants]", "[admin, grant]");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m4 },
				 { FX_P, FX_P_HEAD "deny:\n"
					     "  - to: {group: orders-contractors}\n"
					     "    actions: [read, delete]\n"
					     "    columns: \"*\"\n" }),
		  FX_P ":16:21: error: deny.actions: unknown action 'delete' (describe, read, write)\n"
		  "mesh.yaml:13:62: error: pii.categories: unknown mask 'last_4' (year_only, "
		  "show_first_4, show_last_4, email_domain, hash, redact, nullify)\n"
		  "mesh.yaml:18:13: error: rule.effect: unknown effect 'forbid' (deny, mask)\n"
		  "mesh.yaml:27:11: error: rule.mask: unknown mask 'scramble' (year_only, "
		  "show_first_4, show_last_4, email_domain, hash, redact, nullify)\n"
		  "mesh.yaml:31:49: error: callers: unknown role 'grant' (decide, admin, grants, audit)\n"
		  "5 errors, 0 warnings\n");
	free(m1), free(m2), free(m3), free(m4);
}

static void bad_dates(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    not_before: 2026-02-30\n"
			     "    expires: 1.1.2027\n"
			     "deny:\n"
			     "  - to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2027-01-01\n"),
		  FX_P ":18:17: error: grant.not_before: expected a date YYYY-MM-DD\n"
		  FX_P ":19:14: error: grant.expires: expected a date YYYY-MM-DD\n"
		  FX_P ":24:5: error: deny: unknown key 'expires'\n"
		  "3 errors, 0 warnings\n");
}

static void bad_bounds_and_booleans(void **state)
{
	(void)state;
	char *m1 = subst(FX_MESH, "max_grant_days: 365", "max_grant_days: 0");
	char *m2 = subst(m1, "max_freshness_minutes: 120",
			 "max_freshness_minutes: 2h, min_completeness_percent: 120");
	char *m3 = subst(m2, "cross_domain: true}\n    except: {purposes",
			 "cross_domain: yes}\n    except: {purposes");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m3 }),
		  "mesh.yaml:19:63: error: rule cross_domain: expected true or false\n"
		  "mesh.yaml:33:26: error: bounds.max_grant_days: expected an integer from 1 to 36500\n"
		  "mesh.yaml:33:52: error: bounds.max_freshness_minutes: expected an integer from "
		  "1 to 2147483647\n"
		  "mesh.yaml:33:82: error: bounds.min_completeness_percent: expected a number from "
		  "0 to 100\n"
		  "4 errors, 0 warnings\n");
	free(m1), free(m2), free(m3);
}

/* ---- the model after loading ------------------------------------------------ */

static void sorted_by_name_with_positions(void **state)
{
	(void)state;
	pdp_src *src = NULL;
	char *zname = subst(FX_P_HEAD, "orders.p", "orders.a_first");
	char *out = fx_check(fx_base, FILES({ "domains/orders/products/zzz.yaml", zname }), &src);
	assert_string_equal(out, "0 errors, 0 warnings\n");
	free(out);
	free(zname);
	assert_true(src->has_mesh);
	assert_int_equal(src->ndomains, 4);
	const char *want[] = { "finance", "marketing", "orders", "risk" };
	for (size_t i = 0; i < 4; i++) {
		assert_true(pdp_str_eq_c(src->domains[i].name, want[i]));
		assert_true(pdp_str_eq_c(src->domains[i].dir_name, want[i]));
		assert_int_equal(src->domains[i].name_y->line, 3);
	}
	assert_int_equal(src->nproducts, 2);
	const pdp_src_product *a = &src->products[0], *b = &src->products[1];
	assert_true(pdp_str_eq_c(a->name, "orders.a_first"));
	assert_true(pdp_str_eq_c(a->dir_domain, "orders"));
	assert_non_null(strstr(a->file, "zzz.yaml"));
	assert_true(pdp_str_eq_c(b->name, "orders.order_events"));
	assert_int_equal(b->name_y->line, 4);
	assert_int_equal(b->name_y->col, 9);
	assert_int_equal(b->ncolumns, 5);
	assert_int_equal(b->ngrants, 2);
	assert_int_equal(b->ndenies, 1);
	const pdp_src_entry *g0 = &b->grants[0], *g1 = &b->grants[1];
	assert_int_equal(g0->to_kind, PDP_TO_GROUP);
	assert_true(pdp_str_eq_c(g0->to, "finance-analysts"));
	assert_int_equal(g0->actions, PDP_ACT_DESCRIBE | PDP_ACT_READ);
	assert_int_equal(g0->columns.n, 3);
	assert_true(g0->purposes.set);
	assert_true(g0->has_row_filter);
	assert_true(g0->has_expires);
	assert_false(g0->has_not_before);
	assert_int_equal(g0->expires, 1798761600);
	assert_int_equal(pdp_src_item(&g0->columns, 2)->line, 23);
	assert_true(pdp_str_eq_c(g1->id, "marketing-read"));
	assert_true(g1->all_columns);
	assert_false(g1->purposes.set);
	assert_true(b->has_completeness);
	assert_true(b->completeness_percent == 99.5);
	assert_true(pdp_str_eq_c(b->ports[0].table, "order_events"));
	assert_true(pdp_str_eq_c(b->columns[2].reason, "catalog label, not personal data"));
	const pdp_src_mesh *m = &src->mesh;
	assert_int_equal(m->classifications.n, 4);
	assert_int_equal(m->ngroups, 6);
	assert_int_equal(m->npii_cats, 6);
	assert_int_equal(m->pii_cats[1].mask, PDP_MASK_EMAIL_DOMAIN);
	assert_int_equal(m->nrules, 3);
	assert_false(m->rules[0].is_mask);
	assert_int_equal(m->rules[0].match.cross_domain, 1);
	assert_int_equal(m->rules[0].except.cross_domain, -1);
	assert_true(m->rules[1].is_mask);
	assert_int_equal(m->rules[2].mask, PDP_MASK_HASH);
	assert_int_equal(m->ncallers, 3);
	assert_int_equal(m->callers[1].roles, PDP_ROLE_ADMIN | PDP_ROLE_GRANTS);
	assert_int_equal(m->max_grant_days, 365);
	assert_false(m->has_min_completeness);
	assert_int_equal(m->nprincipals, 6);
	pdp_src_free(src);
}

static void classification_inherited_from_domain(void **state)
{
	(void)state;
	pdp_src *src = NULL;
	char *p = subst(FX_P_HEAD, "classification: internal\n", "");
	char *out = fx_check(fx_base, FILES({ FX_P, p }), &src);
	assert_string_equal(out, "0 errors, 0 warnings\n");
	free(out);
	const pdp_src_product *q = &src->products[1];
	assert_true(pdp_str_eq_c(q->name, "orders.p"));
	assert_true(pdp_str_eq_c(q->classification, "internal"));
	assert_non_null(strstr(q->classification_y->file, "domains/orders/domain.yaml"));
	assert_int_equal(q->classification_y->line, 6);
	pdp_src_free(src);
	char *dom = subst(FX_DOMAIN("orders", "[orders-engineers, orders-analysts, orders-contractors]"),
			  "default_classification: internal\n", "");
	FX_EXPECT(fx_base, FILES({ FX_P, p }, { "domains/orders/domain.yaml", dom }),
		  FX_P ":1:1: error: product has no classification and domain 'orders' gives "
		  "no default_classification\n"
		  "1 errors, 0 warnings\n");
	free(dom);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_policy_dir),
		cmocka_unit_test(missing_mesh_yaml),
		cmocka_unit_test(missing_domains_dir),
		cmocka_unit_test(empty_policy_is_valid),
		cmocka_unit_test(only_yaml_files_are_read),
		cmocka_unit_test(file_too_large),
		cmocka_unit_test(product_file_of_wrong_kind),
		cmocka_unit_test(mesh_and_domain_of_wrong_kind),
		cmocka_unit_test(wrong_api_version_and_missing_kind),
		cmocka_unit_test(empty_and_non_mapping_documents),
		cmocka_unit_test(syntax_error_does_not_stop_the_rest),
		cmocka_unit_test(unknown_keys_and_missing_keys),
		cmocka_unit_test(missing_required_manifest_fields),
		cmocka_unit_test(wrong_types),
		cmocka_unit_test(to_needs_exactly_one),
		cmocka_unit_test(bad_enum_values),
		cmocka_unit_test(bad_dates),
		cmocka_unit_test(bad_bounds_and_booleans),
		cmocka_unit_test(sorted_by_name_with_positions),
		cmocka_unit_test(classification_inherited_from_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
