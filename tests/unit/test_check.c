/*
 * test_check.c -- the governance checks (policy/check.c, SPEC 2.5).
 *
 * One test per check: the base policy (policy_fixture.h: SPEC Appendix A,
 * completed so that it is valid) with one file changed so that exactly that
 * check fails, and the exact `pdp check` output asserted: message,
 * file:line:col, and that nothing else is reported. Line numbers of a
 * product built from FX_P_HEAD start at 14 for what the test appends; mesh
 * variants are made by replacing text in FX_MESH, so its line numbers (see
 * policy_fixture.h) stay.
 */
#include "policy_fixture.h"

#define P_ERR(pos, msg) FX_P ":" pos ": error: " msg "\n"
#define P_WARN(pos, msg) FX_P ":" pos ": warning: " msg "\n"

/* A grant to finance-analysts of id, with an expiry (so that
 * bounds.max_grant_days is satisfied); 5 lines. */
#define GRANT_OK                                                                     \
	"  - to: {group: finance-analysts}\n"                                        \
	"    actions: [read]\n"                                                      \
	"    columns: [id]\n"                                                        \
	"    expires: 2026-12-01\n"

/* ---- valid policies ------------------------------------------------------ */

static void valid_policy(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, NULL, "0 errors, 0 warnings\n");
}

static void valid_policy_with_everything_optional(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("slo: {freshness_minutes: 120, completeness_percent: 100}\n"
			     "output_ports:\n"
			     "  - {type: s3, location: \"s3://bucket/p/\"}\n"
			     "grants:\n"
			     "  - id: own-write\n"
			     "    to: {domain: orders}\n"
			     "    actions: [describe, read, write]\n"
			     "    columns: \"*\"\n"
			     "    purposes: [analytics, billing]\n"
			     "    unmasked: [email]\n"
			     "    not_before: 2026-01-01\n"
			     "    expires: 2027-01-01\n"
			     "  - to: {group: orders-analysts}\n"
			     "    actions: [write]\n"
			     "    columns: [id, region]\n"
			     "    row_filter: \"region = 'EU'\"\n"
			     "    expires: 2027-06-01\n"
			     "  - to: {subject: u-1842}\n"
			     "    actions: [describe]\n"
			     "    columns: []\n"
			     "    expires: 2026-07-01\n"
			     "deny:\n"
			     "  - id: no-contractors\n"
			     "    to: {domain: finance}\n"
			     "    actions: [describe, read, write]\n"
			     "    columns: \"*\"\n"
			     "    purposes: [marketing]\n"),
		  "0 errors, 0 warnings\n");
}

/* SPEC Appendix A's marketing-read grant has no expiry: legal, but the mesh
 * sets max_grant_days, so it is a warning. */
static void grant_without_expires_warns(void **state)
{
	(void)state;
	char *p = subst(FX_ORDER_EVENTS, "    expires: 2027-03-01\n", "");
	FX_EXPECT(fx_base, FILES({ "domains/orders/products/order_events.yaml", p }),
		  "domains/orders/products/order_events.yaml:28:5: warning: grant has no "
		  "expires: bounds.max_grant_days (365) does not limit it\n"
		  "0 errors, 1 warnings\n");
	free(p);
}

/* ---- product metadata -------------------------------------------------------- */

static void version_not_semver(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "domains/orders/products/a.yaml", FX_PH("a", "\"1.0\"") },
				 { "domains/orders/products/b.yaml", FX_PH("b", "01.2.3") },
				 { "domains/orders/products/c.yaml", FX_PH("c", "1.2.3-01") },
				 { "domains/orders/products/d.yaml", FX_PH("d", "1.2.3-rc.1+build.007") },
				 { "domains/orders/products/e.yaml", FX_PH("e", "1.2.3-") },
				 { "domains/orders/products/f.yaml", FX_PH("f", "v1.2.3") },
				 { "domains/orders/products/g.yaml", FX_PH("g", "1.2.3+a..b") }),
		  "domains/orders/products/a.yaml:7:12: error: version '1.0' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/b.yaml:7:12: error: version '01.2.3' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/c.yaml:7:12: error: version '1.2.3-01' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/e.yaml:7:12: error: version '1.2.3-' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/f.yaml:7:12: error: version 'v1.2.3' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/g.yaml:7:12: error: version '1.2.3+a..b' is not semver "
		  "(MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "6 errors, 0 warnings\n");
}

static void name_not_domain_dot_entity(void **state)
{
	(void)state;
	char *a = subst(FX_P_HEAD, "name: orders.p", "name: orders");
	char *b = subst(FX_P_HEAD, "name: orders.p", "name: orders.p.v2");
	FX_EXPECT(fx_base, FILES({ "domains/orders/products/a.yaml", a },
				 { "domains/orders/products/b.yaml", b }),
		  "domains/orders/products/a.yaml:4:9: error: metadata.name 'orders' must be "
		  "<domain>.<entity>\n"
		  "domains/orders/products/b.yaml:4:9: error: metadata.name 'orders.p.v2' must be "
		  "<domain>.<entity>\n"
		  "2 errors, 0 warnings\n");
	free(a), free(b);
}

static void name_domain_differs_from_metadata_domain(void **state)
{
	(void)state;
	char *p = subst(FX_P_HEAD, "name: orders.p", "name: finance.p");
	FX_EXPECT(fx_base, FILES({ FX_P, p }),
		  P_ERR("4:9", "metadata.name 'finance.p' is not in its domain 'orders' "
			"(metadata.domain)")
		  "1 errors, 0 warnings\n");
	free(p);
}

static void product_in_directory_of_another_domain(void **state)
{
	(void)state;
	char *p1 = subst(FX_P_HEAD, "name: orders.p", "name: finance.p");
	char *p2 = subst(p1, "domain: orders", "domain: finance");
	FX_EXPECT(fx_base, FILES({ FX_P, p2 }),
		  P_ERR("5:11", "product of domain 'finance' is in the directory of domain "
			"'orders' (domains/orders/products/)")
		  "1 errors, 0 warnings\n");
	free(p1), free(p2);
}

static void product_domain_without_domain_yaml(void **state)
{
	(void)state;
	char *p1 = subst(FX_P_HEAD, "name: orders.p", "name: hr.p");
	char *p2 = subst(p1, "domain: orders", "domain: hr");
	FX_EXPECT(fx_base, FILES({ "domains/hr/products/p.yaml", p2 }),
		  "domains/hr/products/p.yaml:5:11: error: unknown domain 'hr' "
		  "(no domains/hr/domain.yaml)\n"
		  "1 errors, 0 warnings\n");
	free(p1), free(p2);
}

static void duplicate_product_names(void **state)
{
	(void)state;
	char *z = subst(FX_P_HEAD, "name: orders.p", "name: orders.order_events");
	FX_EXPECT(fx_base, FILES({ "domains/orders/products/z.yaml", z }),
		  "domains/orders/products/z.yaml:4:9: error: duplicate product "
		  "'orders.order_events' (first defined at "
		  "domains/orders/products/order_events.yaml:4)\n"
		  "1 errors, 0 warnings\n");
	free(z);
}

static void domain_name_differs_from_directory(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "domains/risk/domain.yaml", FX_DOMAIN("fraud", "[fraud-analysts]") }),
		  "domains/risk/domain.yaml:3:7: error: domain name 'fraud' does not match its "
		  "directory domains/risk/\n"
		  /* and so mesh.groups names a domain that no domain.yaml declares */
		  "mesh.yaml:10:36: error: group 'fraud-analysts': unknown domain 'risk' "
		  "(no domains/risk/domain.yaml)\n"
		  "2 errors, 0 warnings\n");
}

/* ---- classification, SLO ------------------------------------------------------- */

static void unknown_classifications(void **state)
{
	(void)state;
	char *p = subst(FX_P_HEAD, "classification: internal", "classification: secret");
	FX_EXPECT(fx_base, FILES({ FX_P, p },
				 { "domains/orders/products/q.yaml", FX_PH("q", "1.0.0")
				   "    - {name: notes, type: string, classification: top}\n" },
				 { "domains/finance/domain.yaml",
				   "apiVersion: meshpdp/v1\nkind: Domain\nname: finance\nowner: x\n"
				   "default_classification: Internal\n" }),
		  "domains/finance/domain.yaml:5:25: error: unknown classification 'Internal' "
		  "(not in mesh.classifications)\n"
		  P_ERR("8:17", "unknown classification 'secret' (not in mesh.classifications)")
		  "domains/orders/products/q.yaml:14:51: error: unknown classification 'top' "
		  "(not in mesh.classifications)\n"
		  /* finance-analysts is no longer a member of its domain: fine */
		  "3 errors, 0 warnings\n");
	free(p);
}

static void slo_freshness_above_bound(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("slo: {freshness_minutes: 121}\n"),
		  P_ERR("14:26", "slo.freshness_minutes 121 exceeds bounds.max_freshness_minutes 120")
		  "1 errors, 0 warnings\n");
}

static void slo_completeness_out_of_range(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("slo: {freshness_minutes: 0, completeness_percent: 100.5}\n"),
		  P_ERR("14:51", "slo.completeness_percent 100.5 is outside 0..100")
		  "1 errors, 0 warnings\n");
	FX_EXPECT(fx_base, P("slo: {freshness_minutes: -1, completeness_percent: -2}\n"),
		  P_ERR("14:26", "slo.freshness_minutes must not be negative")
		  P_ERR("14:52", "slo.completeness_percent -2 is outside 0..100")
		  "2 errors, 0 warnings\n");
}

static void slo_completeness_below_bound(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "max_freshness_minutes: 120}",
			"max_freshness_minutes: 120, min_completeness_percent: 99.9}");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "domains/orders/products/order_events.yaml:10:52: error: "
		  "slo.completeness_percent 99.5 is below bounds.min_completeness_percent 99.9\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

/* ---- columns ------------------------------------------------------------------- */

static void pii_column_without_tag(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("    - {name: Customer_Phone, type: string}\n"
			     "    - {name: customer_dob, type: date}\n"
			     "    - {name: dob_source, type: string}\n"),
		  P_ERR("14:14", "column 'Customer_Phone' matches pii.detect 'phone' but has no "
			"pii: tag (pii: <category>, or pii: none with a reason)")
		  P_ERR("15:14", "column 'customer_dob' matches pii.detect '*_dob' but has no "
			"pii: tag (pii: <category>, or pii: none with a reason)")
		  "2 errors, 0 warnings\n");
}

static void pii_none_without_reason(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("    - {name: product_name, type: string, pii: none}\n"
			     "    - {name: shop_name, type: string, pii: none, reason: \"\"}\n"
			     "    - {name: notes, type: string, reason: free text}\n"),
		  P_ERR("14:47", "column 'product_name': pii: none needs a reason")
		  P_ERR("15:44", "column 'shop_name': pii: none needs a reason")
		  P_WARN("16:43", "column 'notes': reason is only used with pii: none")
		  "2 errors, 1 warnings\n");
}

static void unknown_pii_category(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("    - {name: contact, type: string, pii: e-mail}\n"),
		  P_ERR("14:42", "unknown pii category 'e-mail' (not in mesh pii.categories)")
		  "1 errors, 0 warnings\n");
}

static void duplicate_column_names(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("    - {name: email, type: string, pii: email}\n"),
		  P_ERR("14:14", "duplicate column 'email' (first at line 12)")
		  "1 errors, 0 warnings\n");
}

static void too_many_columns(void **state)
{
	(void)state;
	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_buf_adds(&b, FX_P_HEAD), PDP_OK);
	for (int i = 3; i < 4096; i++)
		assert_int_equal(pdp_buf_printf(&b, "    - {name: c%d, type: int}\n", i), PDP_OK);
	FX_EXPECT(fx_base, FILES({ FX_P, b.data }), "0 errors, 0 warnings\n"); /* 4096: fine */
	assert_int_equal(pdp_buf_adds(&b, "    - {name: one_more, type: int}\n"), PDP_OK);
	FX_EXPECT(fx_base, FILES({ FX_P, b.data }),
		  P_ERR("4107:7", "too many columns (4097): at most 4096 per product")
		  "1 errors, 0 warnings\n");
	pdp_buf_done(&b);
}

/* ---- grants and denies: references --------------------------------------------- */

static void grant_to_unknown_group(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analyst}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: {group: contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"),
		  P_ERR("15:17", "unknown group 'finance-analyst' (not in mesh.groups)")
		  P_ERR("20:17", "unknown group 'contractors' (not in mesh.groups)")
		  "2 errors, 0 warnings\n");
}

static void grant_to_unknown_domain(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {domain: hr}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: {domain: Finance}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"),
		  P_ERR("15:18", "unknown domain 'hr' (no domains/hr/domain.yaml)")
		  P_ERR("20:18", "unknown domain 'Finance' (no domains/Finance/domain.yaml)")
		  "2 errors, 0 warnings\n");
}

static void grant_with_unknown_purpose(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    purposes: [billing, bill]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    purposes: [fun]\n"),
		  P_ERR("18:25", "unknown purpose 'bill' (not in mesh.purposes)")
		  P_ERR("24:16", "unknown purpose 'fun' (not in mesh.purposes)")
		  "2 errors, 0 warnings\n");
}

static void grant_with_unknown_action(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read, select]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"),
		  P_ERR("16:21", "grant.actions: unknown action 'select' (describe, read, write)")
		  "1 errors, 0 warnings\n");
}

static void grant_with_unknown_column(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id, Region, colour]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [e_mail]\n"),
		  P_ERR("17:19", "unknown column 'Region' (not in the schema of orders.p)")
		  P_ERR("17:27", "unknown column 'colour' (not in the schema of orders.p)")
		  P_ERR("22:15", "unknown column 'e_mail' (not in the schema of orders.p)")
		  "3 errors, 0 warnings\n");
}

/* SPEC 2.3: `write` only for the owning domain's groups. */
static void write_granted_outside_owning_domain(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read, write]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - to: {domain: marketing}\n"
			     "    actions: [write]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - to: {subject: u-1}\n"
			     "    actions: [write]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - to: {group: orders-engineers}\n" /* owning domain's group: fine */
			     "    actions: [write]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - to: {domain: orders}\n" /* the owning domain: fine */
			     "    actions: [write]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n" /* denying write is always fine */
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [write]\n"
			     "    columns: \"*\"\n"),
		  P_ERR("16:21", "write may only be granted to the owning domain 'orders' or its groups")
		  P_ERR("20:15", "write may only be granted to the owning domain 'orders' or its groups")
		  P_ERR("24:15", "write may only be granted to the owning domain 'orders' or its groups")
		  "3 errors, 0 warnings\n");
}

/* ---- unmasked ------------------------------------------------------------------ */

static void unmasked_without_purposes(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id, email]\n"
			     "    unmasked: [email]\n"
			     "    expires: 2026-12-01\n"),
		  P_ERR("18:15", "unmasked requires purposes on the same grant")
		  "1 errors, 0 warnings\n");
}

static void unmasked_non_pii_column(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("    - {name: label, type: string, pii: none, reason: a label}\n"
			     "grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: \"*\"\n"
			     "    purposes: [billing]\n"
			     "    unmasked: [email, region, label, nope]\n"
			     "    expires: 2026-12-01\n"),
		  P_ERR("20:23", "unmasked column 'region' is not a PII column")
		  P_ERR("20:31", "unmasked column 'label' is not a PII column")
		  P_ERR("20:38", "unknown column 'nope' (not in the schema of orders.p)")
		  "3 errors, 0 warnings\n");
}

static void unmasked_column_not_granted(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    purposes: [billing]\n"
			     "    unmasked: [email]\n"
			     "    expires: 2026-12-01\n"),
		  P_ERR("19:16", "unmasked column 'email' is not among this grant's columns")
		  "1 errors, 0 warnings\n");
}

/* ---- dates and bounds ------------------------------------------------------------ */

static void not_before_not_before_expires(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    not_before: 2026-09-01\n"
			     "    expires: 2026-09-01\n"),
		  P_ERR("19:14", "expires 2026-09-01 is not after not_before 2026-09-01")
		  "1 errors, 0 warnings\n");
}

/* Checked at 2026-06-01 (FX_NOW). Without not_before, a grant is measured
 * from the day of the check. */
static void grant_longer_than_max_days(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    not_before: 2026-01-01\n"
			     "    expires: 2027-01-02\n" /* 366 days */
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2027-06-02\n" /* 366 days from today */
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    not_before: 2030-01-01\n"
			     "    expires: 2031-01-01\n" /* 365 days: fine */
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2027-06-01\n"), /* 365 days from today: fine */
		  P_ERR("19:14", "grant lasts 366 days (from not_before), longer than "
			"bounds.max_grant_days 365")
		  P_ERR("23:14", "grant lasts 366 days (from today), longer than "
			"bounds.max_grant_days 365")
		  "2 errors, 0 warnings\n");
}

static void expired_grant_warns(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-06-01\n"),
		  P_WARN("18:14", "grant expired on 2026-06-01: it has no effect")
		  "0 errors, 1 warnings\n");
}

/* ---- ids --------------------------------------------------------------------------- */

static void duplicate_grant_and_deny_ids(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - id: analysts\n"
			     "    to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - id: analysts\n"
			     "    to: {group: finance-analysts}\n"
			     "    actions: [describe]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - id: analysts\n"
			     "    to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"),
		  P_ERR("20:9", "duplicate id 'analysts' (first at line 15)")
		  P_ERR("26:9", "duplicate id 'analysts' (first at line 15)")
		  "2 errors, 0 warnings\n");
}

static void reserved_ids(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - id: \"orders.p#grants[1]\"\n"
			     "    to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - id: default_deny\n"
			     "    to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "  - id: \"\"\n"
			     "    to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"),
		  P_ERR("15:9", "id 'orders.p#grants[1]' is reserved (ids with '#' and the reasons "
			"domain_member, default_deny, unknown_product are generated)")
		  P_ERR("21:9", "id 'default_deny' is reserved (ids with '#' and the reasons "
			"domain_member, default_deny, unknown_product are generated)")
		  P_ERR("25:9", "id is empty")
		  "3 errors, 0 warnings\n");
}

/* ---- grants and denies without effect (warnings) ----------------------------------- */

static void entries_without_effect_warn(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: []\n"
			     "    columns: [id]\n"
			     "    expires: 2026-12-01\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: []\n"
			     "    purposes: []\n"
			     "    expires: 2026-12-01\n"
			     "deny:\n"
			     "  - to: {group: orders-contractors}\n"
			     "    actions: [read]\n"
			     "    columns: []\n"),
		  P_WARN("16:14", "grant has no actions: it has no effect")
		  P_WARN("21:14", "grant has an empty columns list: it allows nothing")
		  P_WARN("22:15", "grant has an empty purposes list: it never matches a request")
		  P_WARN("27:14", "deny has an empty columns list: it blocks nothing")
		  "0 errors, 4 warnings\n");
}

static void empty_row_filter(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("grants:\n"
			     "  - to: {group: finance-analysts}\n"
			     "    actions: [read]\n"
			     "    columns: [id]\n"
			     "    row_filter: \"  \"\n"
			     "    expires: 2026-12-01\n"),
		  P_ERR("18:17", "row_filter is empty")
		  "1 errors, 0 warnings\n");
}

static void output_port_without_table_warns(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, P("output_ports:\n"
			     "  - {type: table, database: orders_prod}\n"),
		  P_WARN("15:5", "output port of type table without database and table cannot "
			 "be used by the grant export")
		  "0 errors, 1 warnings\n");
}

static void odd_names_warn_empty_subject_fails(void **state)
{
	(void)state;
	char *p = subst(FX_P_HEAD, "name: orders.p", "name: \"orders.p#1\"");
	char *m = subst(FX_MESH, "detect: [email,", "detect: [\"\", email,");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m },
				 { FX_P, p }, { "domains/orders/products/q.yaml", FX_PH("q", "1.0.0")
					"deny:\n"
					"  - to: {subject: \"\"}\n"
					"    actions: [read]\n"
					"    columns: \"*\"\n" }),
		  P_WARN("4:9", "metadata.name 'orders.p#1' has characters other than letters, "
			 "digits, '_' and '-'")
		  "domains/orders/products/q.yaml:15:19: error: to.subject is empty\n"
		  "mesh.yaml:15:12: warning: empty pii.detect pattern matches every column\n"
		  "1 errors, 2 warnings\n");
	free(p), free(m);
}

/* ---- mesh.yaml ------------------------------------------------------------------------ */

static void mesh_duplicate_classifications(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "restricted]", "restricted, internal]");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:3:63: error: duplicate classification 'internal' (first at line 3)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void mesh_duplicate_purposes(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "[analytics, billing,", "[analytics, billing, analytics,");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:4:32: error: duplicate purpose 'analytics' (first at line 4)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void mesh_duplicate_groups(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "  - {name: fraud-analysts, domain: risk}\n",
			"  - {name: fraud-analysts, domain: risk}\n"
			"  - {name: orders-analysts, domain: finance}\n");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:11:12: error: duplicate group 'orders-analysts' (first at line 7)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void mesh_duplicate_rule_ids(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "id: marketing-pii-hashed", "id: pii-cross-domain");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:25:9: error: duplicate rule id 'pii-cross-domain' (first at line 21)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void group_of_unknown_domain(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "{name: fraud-analysts, domain: risk}",
			"{name: fraud-analysts, domain: fraud}");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "domains/risk/domain.yaml:5:11: warning: member 'fraud-analysts' belongs to "
		  "domain 'fraud' in mesh.groups\n"
		  "mesh.yaml:10:36: error: group 'fraud-analysts': unknown domain 'fraud' "
		  "(no domains/fraud/domain.yaml)\n"
		  "1 errors, 1 warnings\n");
	free(m);
}

static void rule_conditions_with_unknown_names(void **state)
{
	(void)state;
	char *m1 = subst(FX_MESH, "{product_classification: restricted,",
			 "{product_classification: [restricted, secret],");
	char *m2 = subst(m1, "{column_pii: any, cross_domain: true}",
			 "{column_pii: [any, none], cross_domain: true, product_domain: hr}");
	char *m3 = subst(m2, "{subject_groups: [fraud-analysts], purposes: [fraud_investigation]}",
			 "{subject_groups: [fraud-team], purposes: [fraud]}");
	char *m4 = subst(m3, "purposes: [marketing], column_pii: any,",
			 "purposes: [marketing], column_pii: any, column_classification: pii,");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m4 }),
		  "mesh.yaml:19:50: error: unknown classification 'secret' (not in mesh.classifications)\n"
		  "mesh.yaml:23:31: error: unknown pii category 'none' (not in mesh pii.categories)\n"
		  "mesh.yaml:23:74: error: unknown domain 'hr' (no domains/hr/domain.yaml)\n"
		  "mesh.yaml:24:31: error: unknown group 'fraud-team' (not in mesh.groups)\n"
		  "mesh.yaml:24:55: error: unknown purpose 'fraud' (not in mesh.purposes)\n"
		  "mesh.yaml:28:76: error: unknown classification 'pii' (not in mesh.classifications)\n"
		  "6 errors, 0 warnings\n");
	free(m1), free(m2), free(m3), free(m4);
}

static void mask_on_deny_rule(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "    effect: deny\n", "    effect: deny\n    mask: redact\n");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:19:11: error: rule 'restricted-stays-in-domain': mask: is only "
		  "allowed on effect: mask rules\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void rule_with_empty_match_or_except_warns(void **state)
{
	(void)state;
	char *m1 = subst(FX_MESH, "{product_classification: restricted, cross_domain: true}", "{}");
	char *m2 = subst(m1, "{subject_groups: [fraud-analysts], purposes: [fraud_investigation]}", "{}");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m2 }),
		  "mesh.yaml:19:12: warning: rule 'restricted-stays-in-domain': empty match "
		  "applies to every request\n"
		  "mesh.yaml:24:13: warning: rule 'pii-cross-domain': empty except always holds, "
		  "so the rule never applies\n"
		  "0 errors, 2 warnings\n");
	free(m1), free(m2);
}

static void caller_with_unknown_role(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "[audit]", "[audit, superuser]");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:32:44: error: callers: unknown role 'superuser' (decide, admin, "
		  "grants, audit)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void principal_for_unknown_group(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "  orders-analysts: \"arn",
			"  order-analysts: \"arn:aws:iam::1:role/x\"\n  orders-analysts: \"arn");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:35:3: error: principal for unknown group 'order-analysts' "
		  "(not in mesh.groups)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void reserved_pii_category_names(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "ssn: nullify}", "ssn: nullify, any: redact}");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:14:56: error: pii category name 'any' is reserved (pii: none, "
		  "column_pii: any)\n"
		  "1 errors, 0 warnings\n");
	free(m);
}

static void domain_member_not_a_group(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, FILES({ "domains/finance/domain.yaml",
				   FX_DOMAIN("finance", "[finance-analysts, finance-interns, fraud-analysts]") }),
		  "domains/finance/domain.yaml:5:29: error: member 'finance-interns' is not a "
		  "group in mesh.groups\n"
		  "domains/finance/domain.yaml:5:46: warning: member 'fraud-analysts' belongs to "
		  "domain 'risk' in mesh.groups\n"
		  "1 errors, 1 warnings\n");
}

static void too_many_purposes(void **state)
{
	(void)state;
	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_buf_adds(&b, "[analytics, billing, customer_support, "
				       "fraud_investigation, marketing, regulatory_reporting"), PDP_OK);
	for (int i = 6; i < 64; i++)
		assert_int_equal(pdp_buf_printf(&b, ", p%d", i), PDP_OK);
	assert_int_equal(pdp_buf_adds(&b, "]"), PDP_OK);
	char *m = subst(FX_MESH, "[analytics, billing, customer_support, fraud_investigation, "
			"marketing, regulatory_reporting]", b.data);
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }), "0 errors, 0 warnings\n"); /* 64: fine */
	free(m);
	b.len--; /* drop ']' */
	assert_int_equal(pdp_buf_adds(&b, ", p64]"), PDP_OK);
	m = subst(FX_MESH, "[analytics, billing, customer_support, fraud_investigation, "
		  "marketing, regulatory_reporting]", b.data);
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m }),
		  "mesh.yaml:4:390: error: too many purposes (65): at most 64 are supported\n"
		  "1 errors, 0 warnings\n");
	free(m);
	pdp_buf_done(&b);
}

/* ---- everything at once --------------------------------------------------------------- */

static void several_problems_reported_at_once(void **state)
{
	(void)state;
	char *m = subst(FX_MESH, "effect: deny", "effect: deny\n    mask: hash");
	char *o1 = subst(FX_ORDER_EVENTS, "version: 2.1.0", "version: 2.1");
	char *o2 = subst(o1, "{group: finance-analysts}", "{group: finance}");
	FX_EXPECT(fx_base, FILES({ "mesh.yaml", m },
				 { "domains/orders/products/order_events.yaml", o2 },
				 { "domains/risk/domain.yaml", FX_DOMAIN("risk", "[fraud-analysts, x]") },
				 { FX_P, FX_P_HEAD "    - {name: home_address, type: string}\n"
					     "grants:\n"
					     "  - to: {group: finance-analysts}\n"
					     "    actions: [read, write]\n"
					     "    columns: [id, nope]\n"
					     "    bogus: 1\n" }),
		  "domains/orders/products/order_events.yaml:8:12: error: version '2.1' is not "
		  "semver (MAJOR.MINOR.PATCH[-prerelease][+build])\n"
		  "domains/orders/products/order_events.yaml:21:17: error: unknown group 'finance' "
		  "(not in mesh.groups)\n"
		  P_ERR("14:14", "column 'home_address' matches pii.detect 'address' but has no "
			"pii: tag (pii: <category>, or pii: none with a reason)")
		  P_WARN("16:5", "grant has no expires: bounds.max_grant_days (365) does not limit it")
		  P_ERR("17:21", "write may only be granted to the owning domain 'orders' or its groups")
		  P_ERR("18:19", "unknown column 'nope' (not in the schema of orders.p)")
		  P_ERR("19:5", "grant: unknown key 'bogus'")
		  "domains/risk/domain.yaml:5:27: error: member 'x' is not a group in mesh.groups\n"
		  "mesh.yaml:19:11: error: rule 'restricted-stays-in-domain': mask: is only "
		  "allowed on effect: mask rules\n"
		  "8 errors, 1 warnings\n");
	free(m), free(o1), free(o2);
}

/* ---- --baseline --------------------------------------------------------------------- */

#define OE "domains/orders/products/order_events.yaml"

static void baseline_removed_or_retyped_column_needs_major(void **state)
{
	(void)state;
	pdp_policy *old = fx_policy(fx_base, NULL);
	char *o1 = subst(FX_ORDER_EVENTS, "version: 2.1.0", "version: 2.2.0");
	char *o2 = subst(o1, "    - {name: region, type: string}\n", "");
	char *o3 = subst(o2, "{name: order_total_cents, type: bigint}",
			 "{name: order_total_cents, type: numeric}");
	char *o4 = subst(o3, "{name: event_id, type: string}", "{name: event_id, type: STRING}");
	char *o5 = subst(o4, "    - {name: order_total_cents,",
			 "    - {name: currency, type: string}\n    - {name: order_total_cents,");
	char *out = fx_check_baseline(fx_base, FILES({ OE, o5 }), old, NULL);
	assert_string_equal(out,
		OE ":8:12: error: column 'region' (string) of baseline version 2.1.0 is removed "
		"without a major version bump\n"
		OE ":19:39: error: column 'order_total_cents' changes type from bigint to numeric "
		"without a major version bump (baseline version 2.1.0)\n"
		"2 errors, 0 warnings\n");
	free(out);
	/* the same change with a new major version is fine */
	char *o6 = subst(o5, "version: 2.2.0", "version: 3.0.0-rc.1");
	out = fx_check_baseline(fx_base, FILES({ OE, o6 }), old, NULL);
	assert_string_equal(out, "0 errors, 0 warnings\n");
	free(out);
	free(o1), free(o2), free(o3), free(o4), free(o5), free(o6);
	pdp_policy_unref(old);
}

static void baseline_lower_version_and_removed_product_warn(void **state)
{
	(void)state;
	pdp_policy *old = fx_policy(fx_base, P(""));
	char *o = subst(FX_ORDER_EVENTS, "version: 2.1.0", "version: 2.0.9");
	char *out = fx_check_baseline(fx_base, FILES({ OE, o }), old, NULL);
	assert_non_null(strstr(out, ": warning: product 'orders.p' (baseline version 1.0.0) is "
			       "removed\n"));
	assert_non_null(strstr(out, OE ":8:12: warning: version 2.0.9 is lower than baseline "
			       "version 2.1.0\n"));
	assert_non_null(strstr(out, "0 errors, 2 warnings\n"));
	free(out);
	/* unchanged: nothing to say */
	out = fx_check_baseline(fx_base, P(""), old, NULL);
	assert_string_equal(out, "0 errors, 0 warnings\n");
	free(out);
	free(o);
	pdp_policy_unref(old);
}

/* pdp_src_check (the clock) agrees with pdp_src_check_at on a policy whose
 * dates are far from today. */
static void check_uses_the_clock(void **state)
{
	(void)state;
	char dir[64];
	fx_make(dir, sizeof(dir), fx_base, P("grants:\n"
					     "  - to: {group: finance-analysts}\n"
					     "    actions: [read]\n"
					     "    columns: [id]\n"
					     "    expires: 2999-01-01\n"));
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_src *src = NULL;
	assert_int_equal(pdp_src_load_dir(dir, &d, &src), PDP_OK);
	pdp_src_check(src, NULL, &d);
	char *out = fx_render(&d, dir);
	assert_non_null(strstr(out, "(from today), longer than bounds.max_grant_days 365\n"));
	assert_int_equal(d.errors, 1);
	free(out);
	pdp_src_free(src);
	pdp_diag_done(&d);
	fx_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_policy),
		cmocka_unit_test(valid_policy_with_everything_optional),
		cmocka_unit_test(grant_without_expires_warns),
		cmocka_unit_test(version_not_semver),
		cmocka_unit_test(name_not_domain_dot_entity),
		cmocka_unit_test(name_domain_differs_from_metadata_domain),
		cmocka_unit_test(product_in_directory_of_another_domain),
		cmocka_unit_test(product_domain_without_domain_yaml),
		cmocka_unit_test(duplicate_product_names),
		cmocka_unit_test(domain_name_differs_from_directory),
		cmocka_unit_test(unknown_classifications),
		cmocka_unit_test(slo_freshness_above_bound),
		cmocka_unit_test(slo_completeness_out_of_range),
		cmocka_unit_test(slo_completeness_below_bound),
		cmocka_unit_test(pii_column_without_tag),
		cmocka_unit_test(pii_none_without_reason),
		cmocka_unit_test(unknown_pii_category),
		cmocka_unit_test(duplicate_column_names),
		cmocka_unit_test(too_many_columns),
		cmocka_unit_test(grant_to_unknown_group),
		cmocka_unit_test(grant_to_unknown_domain),
		cmocka_unit_test(grant_with_unknown_purpose),
		cmocka_unit_test(grant_with_unknown_action),
		cmocka_unit_test(grant_with_unknown_column),
		cmocka_unit_test(write_granted_outside_owning_domain),
		cmocka_unit_test(unmasked_without_purposes),
		cmocka_unit_test(unmasked_non_pii_column),
		cmocka_unit_test(unmasked_column_not_granted),
		cmocka_unit_test(not_before_not_before_expires),
		cmocka_unit_test(grant_longer_than_max_days),
		cmocka_unit_test(expired_grant_warns),
		cmocka_unit_test(duplicate_grant_and_deny_ids),
		cmocka_unit_test(reserved_ids),
		cmocka_unit_test(entries_without_effect_warn),
		cmocka_unit_test(empty_row_filter),
		cmocka_unit_test(output_port_without_table_warns),
		cmocka_unit_test(odd_names_warn_empty_subject_fails),
		cmocka_unit_test(mesh_duplicate_classifications),
		cmocka_unit_test(mesh_duplicate_purposes),
		cmocka_unit_test(mesh_duplicate_groups),
		cmocka_unit_test(mesh_duplicate_rule_ids),
		cmocka_unit_test(group_of_unknown_domain),
		cmocka_unit_test(rule_conditions_with_unknown_names),
		cmocka_unit_test(mask_on_deny_rule),
		cmocka_unit_test(rule_with_empty_match_or_except_warns),
		cmocka_unit_test(caller_with_unknown_role),
		cmocka_unit_test(principal_for_unknown_group),
		cmocka_unit_test(reserved_pii_category_names),
		cmocka_unit_test(domain_member_not_a_group),
		cmocka_unit_test(too_many_purposes),
		cmocka_unit_test(several_problems_reported_at_once),
		cmocka_unit_test(baseline_removed_or_retyped_column_needs_major),
		cmocka_unit_test(baseline_lower_version_and_removed_product_warn),
		cmocka_unit_test(check_uses_the_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
