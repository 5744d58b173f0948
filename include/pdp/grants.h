/*
 * grants.h -- the grant export (SPEC 6): what a loaded revision allows,
 * turned into AWS Lake Formation requests, IAM policy documents or a flat
 * tool-neutral list, and the diff of two revisions for review.
 *
 * The export never grants more than the PDP would allow. The lake sees a
 * role, not a request: it cannot check a purpose, a subject's domain, a
 * date or a mask. So a column goes to the lake only when the PDP would
 * return it in clear to every subject holding the group, under every
 * purpose (and none), whatever the subject's domain; everything else stays
 * behind the gateway and is listed as such. docs/grant-export.md has the
 * full reading.
 *
 * Output is deterministic: same revision, same options, same bytes (JSON
 * with sorted keys, two-space indentation, lists sorted).
 *
 * Ownership: the functions append to caller-owned buffers and keep nothing.
 */
#ifndef PDP_GRANTS_H
#define PDP_GRANTS_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/buf.h"
#include "pdp/err.h"
#include "pdp/policy.h"

enum pdp_grants_format {
	PDP_GRANTS_LAKEFORMATION,
	PDP_GRANTS_IAM,
	PDP_GRANTS_JSON,
};

/* "lakeformation", "iam", "json" → format; false if unknown. */
bool pdp_grants_format_parse(pdp_str s, enum pdp_grants_format *ret);
const char *pdp_grants_format_name(enum pdp_grants_format f);

typedef struct pdp_grants_opts {
	int64_t time;           /* export time T (epoch seconds): grants active at T */
	const char *catalog_id; /* Lake Formation / Glue catalog id (the account
				 * id), NULL to leave it to the caller's account;
				 * row filters need it (TableCatalogId) */
	const char *region;     /* for Glue ARNs in IAM documents, NULL = "*" */
} pdp_grants_opts;

/* At most this many entries per BatchGrantPermissions request (the API's
 * limit). */
#define PDP_LF_BATCH_MAX 20
/* Lake Formation row filter expressions must be shorter than this. */
#define PDP_LF_FILTER_MAX 2048

/* Appends the export of p in format f to out (the same bytes for `pdp
 * grants export` and GET /v1/grants). Things the export leaves out (groups
 * without a principal, grants to domains or subjects, products without a
 * table port, ...) are appended to notes as lines "note: ...". Fails with
 * PDP_E_INVALID when the options do not allow an export (e.g. row filters
 * to export but no catalog_id; a bad catalog_id): the last line of notes
 * then says why and out is left as it was. */
PDP_MUST_USE enum pdp_err pdp_grants_export(const pdp_policy *p, enum pdp_grants_format f,
					    const pdp_grants_opts *opts, pdp_buf *out,
					    pdp_buf *notes);

/* Appends a readable review of who gains and who loses access from
 * old_p to new_p (both evaluated at opts->time) to out; *ret_changes is
 * the number of changed lines (0: same access). */
PDP_MUST_USE enum pdp_err pdp_grants_diff(const pdp_policy *old_p, const pdp_policy *new_p,
					  const pdp_grants_opts *opts, pdp_buf *out,
					  size_t *ret_changes);

/* The Lake Formation row-filter subset (PartiQL, docs/grant-export.md):
 * comparisons of a column with a constant, IN, BETWEEN, LIKE, IS [NOT]
 * NULL, NOT, AND, OR and parentheses; columns of supported types only;
 * shorter than PDP_LF_FILTER_MAX bytes. `column` resolves a column name
 * (as written, quotes removed; `quoted` tells whether it was quoted) to
 * its declared type, or returns false for an unknown column. Returns true
 * when filter is inside the subset, else appends the reason to why. */
typedef bool (*pdp_lf_column_fn)(void *ctx, pdp_str name, bool quoted, pdp_str *ret_type);
bool pdp_lf_filter_ok(pdp_str filter, pdp_lf_column_fn column, void *ctx, pdp_buf *why);

/* Compile-time checks for the export (called from pdp_src_check): a grant
 * the lake could carry (to a group, without purposes, read or describe)
 * whose group has no entry in mesh.principals, or whose row_filter is
 * outside the Lake Formation subset, is a warning. Only when the mesh
 * declares principals at all (a mesh that does not export is not nagged). */
void pdp_grants_check_src(const pdp_src *src, pdp_diag *d);

#endif
