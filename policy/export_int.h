/*
 * export_int.h -- the effective-access model shared by the grant export
 * formats (export_lf.c, export_iam.c, export_json.c) and the diff
 * (export_diff.c). Internal to policy/.
 *
 * A *principal* is what a grant names: a group, a domain or a subject id.
 * The lake only knows roles, so the model asks, for a principal and a
 * product: which columns would the PDP return, and how, in *every*
 * situation the lake cannot tell apart? A situation ("world") is the
 * request's purpose (one of the mesh's, or none) and whether the subject is
 * outside the product's domain (cross_domain), the two things the PDP
 * reads that a role does not carry. The subject's groups are exactly the
 * principal's group (none for a domain or a subject principal); its id is
 * the principal's for a subject principal, else unknown; its domain is the
 * principal's for a domain principal, else unknown. An unknown id or
 * domain means: any deny entry to a subject or a domain may apply.
 *
 * Each *source* of access (a grant to the principal active at T, or
 * membership of the owning domain for a group) is evaluated over the worlds
 * it can be used in (its purposes × both cross_domain values):
 *   clear     the column is allowed and unmasked in every such world;
 *   masked    allowed in every world, masked in at least one (mask = the
 *             strongest that can apply);
 *   withheld  denied in at least one world (a deny entry or mesh deny rule
 *             may apply): only the gateway can tell;
 *   describe  the product may be described in every world.
 * A source that covers column c contributes it to the PDP's answer in each
 * of its worlds, and other sources can only add access or rows, so the
 * source's clear cells are cells the PDP returns in clear.
 *
 * Ownership: everything a model function returns lives in the caller's
 * arena; the policy is borrowed.
 */
#ifndef PDP_EXPORT_INT_H
#define PDP_EXPORT_INT_H

#include <jansson.h>

#include "pdp/grants.h"
#include "policy_int.h"

/* A set of worlds: purposes possible with cross_domain = 0 and = 1, and
 * whether "no purpose" is (bit x for cross_domain = x). */
typedef struct ex_worlds {
	uint64_t p[2];
	uint8_t none;
} ex_worlds;

typedef struct ex_principal {
	uint8_t kind;  /* enum pdp_to_kind */
	pdp_sid sid;   /* the group, domain or subject id */
	pdp_sid arn;   /* a group's mesh.principals entry, 0 if none */
} ex_principal;

typedef struct ex_source {
	const pdp_rt_entry *grant; /* NULL: membership of the owning domain */
	bool purpose_free;         /* usable without a purpose (no `purposes`) */
	bool read, describe;       /* read action; describe allowed everywhere */
	uint64_t *clear, *masked, *withheld; /* column bitsets (read) */
	uint8_t *mask;             /* per column: enum pdp_mask of a masked one */
} ex_source;

typedef struct ex_access {
	const pdp_rt_product *prod;
	ex_principal prin;
	uint32_t nsources;
	ex_source *sources;        /* grants in policy order, membership last */
} ex_access;

/* The worlds of exactly one purpose (bit u, or -1 for none), both
 * cross_domain values. */
ex_worlds ex_worlds_purpose(int u);
ex_worlds ex_worlds_all(const pdp_policy *p);

/* Evaluates principal pr on prod at time t over the worlds in limit (NULL:
 * all); a source none of whose worlds is in limit is left out. */
void ex_access_eval(const pdp_policy *p, int64_t t, const ex_principal *pr,
		    const pdp_rt_product *prod, const ex_worlds *limit, pdp_arena *a,
		    ex_access *ret);

/* Every mesh group (sorted by name, with its ARN), then, with all, every
 * domain and every subject id some grant names (sorted). */
uint32_t ex_principals(const pdp_policy *p, bool all, pdp_arena *a, ex_principal **ret);

/* The product's first table port with database and table, or NULL. */
const pdp_rt_port *ex_table_port(const pdp_policy *p, const pdp_rt_product *prod);

/* The earliest not_before or expires of any grant after t (INT64_MAX if
 * none): when the export at t stops being the policy's. */
int64_t ex_valid_until(const pdp_policy *p, int64_t t);

bool ex_grant_active(const pdp_rt_entry *e, int64_t t);
/* Appends the "valid until" note when a grant starts or ends after t. */
void ex_note_valid_until(const pdp_policy *p, int64_t t, pdp_buf *notes);

/* "product#grants[i]" or the grant's id; "domain_member" for NULL. */
pdp_str ex_source_id(const pdp_policy *p, const pdp_rt_product *prod, const pdp_rt_entry *g,
		     pdp_arena *a);
/* "group:x", "domain:x", "subject:x" (arena). */
pdp_str ex_principal_label(const pdp_policy *p, const ex_principal *pr, pdp_arena *a);

/* RFC 3339 (2026-06-01T00:00:00Z) and date (2026-06-01) forms. */
void ex_time_str(int64_t t, char out[32]);
void ex_date_str(int64_t t, char out[16]);

/* Is the source's row filter inside the Lake Formation subset? (why may
 * be NULL) */
bool ex_filter_ok(const pdp_policy *p, const pdp_rt_product *prod, pdp_str filter, pdp_buf *why);

/* jansson helpers: a string of the policy, a pdp_str, column names of a
 * bitset (sorted by name), the "meshpdp" header object. */
json_t *ex_json_sid(const pdp_policy *p, pdp_sid s);
json_t *ex_json_str(pdp_str s);
json_t *ex_json_columns(const pdp_policy *p, const pdp_rt_product *prod, const uint64_t *bits);
json_t *ex_json_header(const pdp_policy *p, const char *format, const pdp_grants_opts *o);
/* Dumps v (sorted keys, 2-space indent, trailing newline) into out;
 * consumes v. */
PDP_MUST_USE enum pdp_err ex_json_dump(json_t *v, pdp_buf *out);

/* ---- the Lake Formation model (export_lf.c), also read by the IAM format
 * and the diff ---- */

enum ex_lf_kind { EX_LF_DESCRIBE, EX_LF_SELECT, EX_LF_FILTER };

typedef struct ex_lf_grant {
	const ex_principal *prin;
	const pdp_rt_product *prod;
	const pdp_rt_port *port;
	enum ex_lf_kind kind;
	pdp_str filter;            /* EX_LF_FILTER: the expression */
	char filter_name[32];      /* EX_LF_FILTER: meshpdp-<16 hex> */
	uint64_t *cols;            /* SELECT / FILTER columns */
} ex_lf_grant;

typedef struct ex_lf_gap {        /* something the lake does not get */
	pdp_str principal, product, source, reason;
	const pdp_rt_product *prod;
	uint64_t *cols;            /* NULL: the whole source */
} ex_lf_gap;

typedef struct ex_lf_model {
	uint32_t nprin;
	ex_principal *prin;
	uint32_t ngrants, cap_grants;
	ex_lf_grant *grants;       /* sorted: group, product, kind, filter */
	uint32_t ngaps, cap_gaps;
	ex_lf_gap *gaps;
	pdp_buf *notes;
	bool lake;
} ex_lf_model;

/* Builds the lake model at t. Notes (may be NULL) get a line for every
 * active grant that no format can carry (to a domain, a subject, a group
 * without a principal) and, with lake, for a product without table port. */
void ex_lf_build(const pdp_policy *p, int64_t t, bool lake, pdp_arena *a, pdp_buf *notes,
		 ex_lf_model *ret);

/* Notes for groups that are domain members but have no principal. */
void ex_unmapped_notes(const pdp_policy *p, ex_lf_model *m);

PDP_MUST_USE enum pdp_err ex_export_lf(const pdp_policy *p, const pdp_grants_opts *o,
				       pdp_buf *out, pdp_buf *notes);
PDP_MUST_USE enum pdp_err ex_export_iam(const pdp_policy *p, const pdp_grants_opts *o,
					pdp_buf *out, pdp_buf *notes);
PDP_MUST_USE enum pdp_err ex_export_json(const pdp_policy *p, const pdp_grants_opts *o,
					 pdp_buf *out, pdp_buf *notes);

#endif
