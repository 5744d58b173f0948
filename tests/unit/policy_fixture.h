/*
 * policy_fixture.h -- policy directories from strings, for the loader and
 * check tests (test_load.c, test_check.c).
 *
 * A test lists the files it wants (path relative to the policy dir, text);
 * fx_run writes them into a fresh temporary directory, on top of the base
 * policy unless told otherwise (a NULL text removes a base file), loads and
 * checks it at a fixed date (FX_NOW, 2026-06-01) and returns everything the
 * user of `pdp check` would see: the sorted diagnostics with the temporary
 * directory cut off the file names, and the summary line. Tests compare that
 * text exactly, so each asserts the message, the file:line:col and that
 * nothing else was reported.
 *
 * Ownership: fx_run returns a malloc'd string (free it); the temporary
 * directory is removed before it returns, unless the test asks to keep the
 * loaded source (fx_load), which must then be released with fx_done.
 */
#ifndef PDP_POLICY_FIXTURE_H
#define PDP_POLICY_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pdp/model.h"
#include "pdp/policy.h"

#define FX_NOW ((int64_t)1780272000) /* 2026-06-01T00:00:00Z */

struct fx_file {
	const char *path;
	const char *text; /* NULL: leave this base file out */
};

/* ---- the base policy: valid, zero errors, zero warnings ---------------- */

#define FX_MESH                                                                         \
	"apiVersion: meshpdp/v1\n"                                                      \
	"kind: Mesh\n"                                                                  \
	"classifications: [public, internal, confidential, restricted]\n"               \
	"purposes: [analytics, billing, customer_support, fraud_investigation, "        \
	"marketing, regulatory_reporting]\n"                                            \
	"groups:\n"                                                                     \
	"  - {name: orders-engineers, domain: orders}\n"                                \
	"  - {name: orders-analysts, domain: orders}\n"                                 \
	"  - {name: orders-contractors, domain: orders}\n"                              \
	"  - {name: finance-analysts, domain: finance}\n"                               \
	"  - {name: fraud-analysts, domain: risk}\n"                                    \
	"  - {name: marketing-analysts, domain: marketing}\n"                           \
	"pii:\n"                                                                        \
	"  categories: {email: hash, work_email: email_domain, phone: show_last_4, "    \
	"name: redact,\n"                                                               \
	"               date_of_birth: year_only, ssn: nullify}\n"                      \
	"  detect: [email, phone, name, address, ip_address, date_of_birth, ssn, "      \
	"passport, national_id, \"*_dob\"]\n"                                           \
	"rules:\n"                                                                      \
	"  - id: restricted-stays-in-domain\n"                                          \
	"    effect: deny\n"                                                            \
	"    match: {product_classification: restricted, cross_domain: true}\n"         \
	"    except: {purposes: [regulatory_reporting]}\n"                              \
	"  - id: pii-cross-domain\n"                                                    \
	"    effect: mask\n"                                                            \
	"    match: {column_pii: any, cross_domain: true}\n"                            \
	"    except: {subject_groups: [fraud-analysts], purposes: [fraud_investigation]}\n" \
	"  - id: marketing-pii-hashed\n"                                                \
	"    effect: mask\n"                                                            \
	"    mask: hash\n"                                                              \
	"    match: {purposes: [marketing], column_pii: any, "                          \
	"product_classification: confidential}\n"                                       \
	"callers:\n"                                                                    \
	"  \"spiffe://mesh.example/gateway/*\": [decide]\n"                             \
	"  \"spiffe://mesh.example/governance/*\": [admin, grants]\n"                   \
	"  \"spiffe://mesh.example/audit/*\": [audit]\n"                                \
	"bounds: {max_grant_days: 365, max_freshness_minutes: 120}\n"                   \
	"principals:\n"                                                                 \
	"  orders-analysts: \"arn:aws:iam::123456789012:role/mesh-orders-analysts\"\n"       \
	"  orders-engineers: \"arn:aws:iam::123456789012:role/mesh-orders-engineers\"\n"     \
	"  orders-contractors: \"arn:aws:iam::123456789012:role/mesh-orders-contractors\"\n" \
	"  finance-analysts: \"arn:aws:iam::123456789012:role/mesh-finance-analysts\"\n"     \
	"  fraud-analysts: \"arn:aws:iam::123456789012:role/mesh-fraud-analysts\"\n"         \
	"  marketing-analysts: \"arn:aws:iam::123456789012:role/mesh-marketing-analysts\"\n"

#define FX_DOMAIN(name, members)                                                        \
	"apiVersion: meshpdp/v1\n"                                                      \
	"kind: Domain\n"                                                                \
	"name: " name "\n"                                                              \
	"owner: " name "-team\n"                                                        \
	"members: " members "\n"                                                        \
	"default_classification: internal\n"

/* SPEC Appendix A's product; only `expires` on the second grant is added. */
#define FX_ORDER_EVENTS                                                                 \
	"apiVersion: meshpdp/v1\n"                                                      \
	"kind: DataProduct\n"                                                           \
	"metadata:\n"                                                                   \
	"  name: orders.order_events\n"                                                 \
	"  domain: orders\n"                                                            \
	"  owner: order-experience-squad\n"                                             \
	"  oncall: \"orders-oncall@example.com\"\n"                                     \
	"  version: 2.1.0\n"                                                            \
	"classification: confidential\n"                                                \
	"slo: {freshness_minutes: 30, completeness_percent: 99.5}\n"                    \
	"output_ports:\n"                                                               \
	"  - {type: table, catalog: awsdatacatalog, database: orders_prod, "            \
	"table: order_events}\n"                                                        \
	"schema:\n"                                                                     \
	"  columns:\n"                                                                  \
	"    - {name: event_id, type: string}\n"                                        \
	"    - {name: customer_email, type: string, pii: email}\n"                      \
	"    - {name: product_name, type: string, pii: none, "                          \
	"reason: \"catalog label, not personal data\"}\n"                               \
	"    - {name: region, type: string}\n"                                          \
	"    - {name: order_total_cents, type: bigint}\n"                               \
	"grants:\n"                                                                     \
	"  - to: {group: finance-analysts}\n"                                           \
	"    actions: [describe, read]\n"                                               \
	"    columns: [event_id, customer_email, order_total_cents]\n"                  \
	"    purposes: [billing]\n"                                                     \
	"    unmasked: [customer_email]\n"                                              \
	"    row_filter: \"region = 'EU'\"\n"                                           \
	"    expires: 2027-01-01\n"                                                     \
	"  - id: marketing-read\n"                                                      \
	"    to: {domain: marketing}\n"                                                 \
	"    actions: [read]\n"                                                         \
	"    columns: \"*\"\n"                                                          \
	"    expires: 2027-03-01\n"                                                     \
	"deny:\n"                                                                       \
	"  - to: {group: orders-contractors}\n"                                         \
	"    actions: [read]\n"                                                         \
	"    columns: [customer_email]\n"

/* The first 13 lines of a small product orders.<entity> in domain orders;
 * tests append grants/deny from line 14 on. Columns: id (line 11), email
 * (12, pii: email), region (13). */
#define FX_PH(entity, version)                                                          \
	"apiVersion: meshpdp/v1\n"                /* 1 */                               \
	"kind: DataProduct\n"                     /* 2 */                               \
	"metadata:\n"                             /* 3 */                               \
	"  name: orders." entity "\n"             /* 4 */                               \
	"  domain: orders\n"                      /* 5 */                               \
	"  owner: squad\n"                        /* 6 */                               \
	"  version: " version "\n"                /* 7 */                               \
	"classification: internal\n"              /* 8 */                               \
	"schema:\n"                               /* 9 */                               \
	"  columns:\n"                            /* 10 */                              \
	"    - {name: id, type: string}\n"        /* 11 */                              \
	"    - {name: email, type: string, pii: email}\n" /* 12 */                      \
	"    - {name: region, type: string}\n"    /* 13 */
#define FX_P_HEAD FX_PH("p", "1.0.0")

#define FX_P "domains/orders/products/p.yaml"

static const struct fx_file fx_base[] = {
	{ "mesh.yaml", FX_MESH },
	{ "domains/orders/domain.yaml",
	  FX_DOMAIN("orders", "[orders-engineers, orders-analysts, orders-contractors]") },
	{ "domains/finance/domain.yaml", FX_DOMAIN("finance", "[finance-analysts]") },
	{ "domains/risk/domain.yaml", FX_DOMAIN("risk", "[fraud-analysts]") },
	{ "domains/marketing/domain.yaml", FX_DOMAIN("marketing", "[marketing-analysts]") },
	{ "domains/orders/products/order_events.yaml", FX_ORDER_EVENTS },
	{ NULL, NULL },
};

#define FILES(...) ((const struct fx_file[]){ __VA_ARGS__, { NULL, NULL } })

/* A product file domains/orders/products/p.yaml: FX_P_HEAD plus `rest`. */
#define P(rest) FILES({ FX_P, FX_P_HEAD rest })

/* text with the first `from` replaced by `to`; caller frees. */
static char *subst(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	if (!at)
		fail_msg("fixture text does not contain '%s'", from);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	snprintf(s, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return s;
}

/* ---- directory plumbing ------------------------------------------------- */

static void fx_mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
}

static void fx_write(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fx_mkdirs(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void fx_rmtree(const char *dir)
{
	assert_int_equal(nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static bool fx_listed(const struct fx_file *files, const char *path)
{
	for (size_t i = 0; files && files[i].path; i++)
		if (!strcmp(files[i].path, path))
			return true;
	return false;
}

/* Writes base (unless NULL; minus the paths in files) and files into a new
 * temporary directory; returns its path (static buffer of the caller). */
static void fx_make(char *dir, size_t dirlen, const struct fx_file *base,
		    const struct fx_file *files)
{
	snprintf(dir, dirlen, "/tmp/pdp-fx-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; base && base[i].path; i++)
		if (!fx_listed(files, base[i].path))
			fx_write(dir, base[i].path, base[i].text);
	for (size_t i = 0; files && files[i].path; i++)
		if (files[i].text)
			fx_write(dir, files[i].path, files[i].text);
}

/* Replaces every "dir/" in s by "" (in place). */
static void fx_strip(char *s, const char *dir)
{
	char pat[4200];
	snprintf(pat, sizeof(pat), "%s/", dir);
	size_t pl = strlen(pat);
	char *w = s;
	for (const char *r = s; *r;) {
		if (!strncmp(r, pat, pl)) {
			r += pl;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/* Everything `pdp check` would print, tmp dir stripped; caller frees. */
static char *fx_render(pdp_diag *d, const char *dir)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	pdp_diag_print(d, f);
	fprintf(f, "%zu errors, %zu warnings\n", d->errors, d->warnings);
	assert_int_equal(fclose(f), 0);
	fx_strip(out, dir);
	return out;
}

/* Load + check against a baseline revision (may be NULL); src is kept for
 * the caller when ret_src is not NULL. */
static char *fx_check_baseline(const struct fx_file *base, const struct fx_file *files,
			       const pdp_policy *baseline, pdp_src **ret_src)
{
	char dir[64];
	fx_make(dir, sizeof(dir), base, files);
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_src *src = NULL;
	assert_int_equal(pdp_src_load_dir(dir, &d, &src), PDP_OK);
	pdp_src_check_at(src, baseline, FX_NOW, &d);
	char *out = fx_render(&d, dir);
	pdp_diag_done(&d);
	fx_rmtree(dir);
	if (ret_src)
		*ret_src = src;
	else
		pdp_src_free(src);
	return out;
}

static char *fx_check(const struct fx_file *base, const struct fx_file *files,
		      pdp_src **ret_src)
{
	return fx_check_baseline(base, files, NULL, ret_src);
}

/* base+files compiled and loaded as a revision (no policy errors allowed). */
__attribute__((unused)) static pdp_policy *fx_policy(const struct fx_file *base, const struct fx_file *files)
{
	char dir[64];
	fx_make(dir, sizeof(dir), base, files);
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_policy *p = NULL;
	enum pdp_err e = pdp_policy_from_dir(dir, &d, &p);
	if (e != PDP_OK)
		pdp_diag_print(&d, stderr);
	assert_int_equal(e, PDP_OK);
	pdp_diag_done(&d);
	fx_rmtree(dir);
	return p;
}

/* The check output of base+files must be exactly `expected`. */
#define FX_EXPECT(base, files, expected)                                     \
	do {                                                                 \
		char *fx_out_ = fx_check((base), (files), NULL);             \
		assert_string_equal(fx_out_, (expected));                    \
		free(fx_out_);                                               \
	} while (0)

#endif
