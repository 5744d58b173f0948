/*
 * model.h -- the policy *source* model: what the YAML documents say.
 *
 * Pipeline: YAML files --(load.c)--> pdp_src --(check.c)--> diagnostics
 *           pdp_src --(bundle_write.c)--> bundle bytes --(bundle_read.c)-->
 *           pdp_policy (the immutable runtime revision, policy.h).
 *
 * pdp_src is plain data in one arena (pdp_src.arena), which also holds the
 * YAML node trees, so every entity keeps `y`, its node, for positions in
 * diagnostics (y->file, y->line, y->col; list items via pdp_src_item()).
 * The loader fills in what is *structurally* valid (right keys, right
 * types) and reports the rest; check.c does the governance checks over the
 * whole set. Strings are views into the arena.
 *
 * Lists are pdp_strv: `set` says whether the key was present at all (SPEC
 * 3.1: absent `purposes` matches any request, a present one needs a match).
 */
#ifndef PDP_MODEL_H
#define PDP_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/arena.h"
#include "pdp/buf.h"
#include "pdp/diag.h"
#include "pdp/yaml.h"

#define PDP_API_VERSION "meshpdp/v1"

/* Actions: a bit each. */
enum pdp_action {
	PDP_ACT_DESCRIBE = 1u << 0,
	PDP_ACT_READ = 1u << 1,
	PDP_ACT_WRITE = 1u << 2,
};
#define PDP_ACT_ALL (PDP_ACT_DESCRIBE | PDP_ACT_READ | PDP_ACT_WRITE)
/* "describe" → bit; 0 if unknown. */
unsigned pdp_action_parse(pdp_str s);
const char *pdp_action_name(unsigned bit);

/* Masks, in strength order (SPEC 3.3): show_first_4 and show_last_4 tie. */
enum pdp_mask {
	PDP_MASK_NONE = 0,
	PDP_MASK_YEAR_ONLY,
	PDP_MASK_SHOW_FIRST_4,
	PDP_MASK_SHOW_LAST_4,
	PDP_MASK_EMAIL_DOMAIN,
	PDP_MASK_HASH,
	PDP_MASK_REDACT,
	PDP_MASK_NULLIFY,
	PDP_MASK__COUNT
};
bool pdp_mask_parse(pdp_str s, enum pdp_mask *ret);
const char *pdp_mask_name(enum pdp_mask m);
int pdp_mask_strength(enum pdp_mask m); /* NONE 0, year_only 1, ..., nullify 6 */

/* API roles of callers (mesh.callers). */
enum pdp_role {
	PDP_ROLE_DECIDE = 1u << 0,
	PDP_ROLE_ADMIN = 1u << 1,
	PDP_ROLE_GRANTS = 1u << 2,
	PDP_ROLE_AUDIT = 1u << 3,
};
unsigned pdp_role_parse(pdp_str s); /* 0 if unknown */
const char *pdp_role_name(unsigned bit);

typedef struct pdp_strv {
	pdp_str *v;
	size_t n;
	bool set;            /* key present */
	const pdp_ynode *y;  /* the list (or scalar) node, NULL if absent */
} pdp_strv;

/* Node of item i of a list that was read into a pdp_strv (for positions). */
const pdp_ynode *pdp_src_item(const pdp_strv *sv, size_t i);
bool pdp_strv_has(const pdp_strv *sv, pdp_str s);

enum pdp_to_kind { PDP_TO_GROUP, PDP_TO_DOMAIN, PDP_TO_SUBJECT };

/* A grant or a deny entry of a product (SPEC 2.3). */
typedef struct pdp_src_entry {
	const pdp_ynode *y;
	pdp_str id;              /* own `id`, or empty */
	enum pdp_to_kind to_kind;
	pdp_str to;
	const pdp_ynode *to_y;
	unsigned actions;        /* pdp_action bits */
	pdp_strv actions_raw;    /* as written, for unknown-action errors */
	bool all_columns;        /* columns: "*" */
	pdp_strv columns;
	pdp_strv purposes;
	pdp_strv unmasked;       /* grants only */
	bool has_row_filter;     /* grants only */
	pdp_str row_filter;
	const pdp_ynode *row_filter_y;
	bool has_not_before, has_expires; /* grants only */
	int64_t not_before, expires;      /* epoch seconds, 00:00:00Z */
	const pdp_ynode *not_before_y, *expires_y;
} pdp_src_entry;

typedef struct pdp_src_column {
	const pdp_ynode *y;
	pdp_str name, type;
	bool has_pii;            /* `pii:` present */
	pdp_str pii;             /* a category, or "none" */
	const pdp_ynode *pii_y;
	pdp_str reason;          /* with pii: none */
	bool has_classification;
	pdp_str classification;
	const pdp_ynode *classification_y;
} pdp_src_column;

typedef struct pdp_src_port {
	const pdp_ynode *y;
	pdp_str type, catalog, database, table, location;
} pdp_src_port;

typedef struct pdp_src_product {
	const pdp_ynode *y;       /* document root */
	const char *file;
	pdp_str dir_domain;       /* <domain> of domains/<domain>/products/ */
	pdp_str name, domain, owner, oncall, version;
	const pdp_ynode *name_y, *domain_y, *version_y;
	pdp_str classification;
	const pdp_ynode *classification_y;
	bool has_freshness, has_completeness;
	double freshness_minutes, completeness_percent;
	const pdp_ynode *freshness_y, *completeness_y;
	pdp_src_port *ports;
	size_t nports;
	pdp_src_column *columns;
	size_t ncolumns;
	pdp_src_entry *grants;
	size_t ngrants;
	pdp_src_entry *denies;
	size_t ndenies;
} pdp_src_product;

typedef struct pdp_src_domain {
	const pdp_ynode *y;
	const char *file;
	pdp_str dir_name;         /* <domain> of domains/<domain>/domain.yaml */
	pdp_str name, owner;
	const pdp_ynode *name_y;
	pdp_strv members;
	pdp_str default_classification;
	const pdp_ynode *default_classification_y;
} pdp_src_domain;

/* A `match` or `except` block of a mesh rule; absent keys are unset. */
typedef struct pdp_src_cond {
	const pdp_ynode *y;
	bool set;
	unsigned actions;               /* 0 = key absent */
	pdp_strv actions_raw;
	pdp_strv product_domain;
	pdp_strv product_classification;
	pdp_strv column_pii;            /* categories, or "any" */
	pdp_strv column_classification;
	int cross_domain;               /* -1 absent, 0 false, 1 true */
	pdp_strv subject_groups;
	pdp_strv purposes;
} pdp_src_cond;

typedef struct pdp_src_rule {
	const pdp_ynode *y;
	pdp_str id;
	bool is_mask;                   /* effect: mask (else deny) */
	enum pdp_mask mask;             /* `mask:`, NONE if absent */
	pdp_src_cond match, except;
} pdp_src_rule;

typedef struct pdp_src_group {
	const pdp_ynode *y;
	pdp_str name, domain;
} pdp_src_group;

typedef struct pdp_src_pii_cat {
	const pdp_ynode *y;
	pdp_str name;
	enum pdp_mask mask;
} pdp_src_pii_cat;

typedef struct pdp_src_caller {
	const pdp_ynode *y;
	pdp_str pattern;     /* glob over the caller identity */
	unsigned roles;      /* pdp_role bits */
} pdp_src_caller;

typedef struct pdp_src_principal {
	const pdp_ynode *y;
	pdp_str group, arn;
} pdp_src_principal;

typedef struct pdp_src_mesh {
	const pdp_ynode *y;
	const char *file;
	pdp_strv classifications;  /* least to most sensitive */
	pdp_strv purposes;
	pdp_src_group *groups;
	size_t ngroups;
	pdp_src_pii_cat *pii_cats;
	size_t npii_cats;
	pdp_strv pii_detect;
	pdp_src_rule *rules;
	size_t nrules;
	pdp_src_caller *callers;
	size_t ncallers;
	bool has_max_grant_days, has_max_freshness, has_min_completeness;
	int64_t max_grant_days, max_freshness_minutes;
	double min_completeness_percent;
	pdp_src_principal *principals;
	size_t nprincipals;
} pdp_src_mesh;

typedef struct pdp_src {
	pdp_arena *arena;          /* owns everything below and the YAML trees */
	const char *root_dir;
	bool has_mesh;
	pdp_src_mesh mesh;
	pdp_src_domain *domains;   /* sorted by name */
	size_t ndomains;
	pdp_src_product *products; /* sorted by name */
	size_t nproducts;
} pdp_src;

/* Reads a policy directory (SPEC 2): mesh.yaml, domains/<d>/domain.yaml,
 * domains/<d>/products/<any>.yaml (and .yml). Files are read in sorted
 * order. Every structural problem (YAML syntax, apiVersion/kind, unknown
 * keys, wrong types, missing required keys) goes to d; *ret_src is written
 * with whatever could be read, even when d has errors (check.c then adds
 * the governance checks). Fails only when dir cannot be read at all. */
PDP_MUST_USE enum pdp_err pdp_src_load_dir(const char *dir, pdp_diag *d,
					   pdp_src **ret_src);
void pdp_src_free(pdp_src *src); /* accepts NULL */

struct pdp_policy;
/* Governance checks of SPEC 2.5 over a loaded set; all problems to d.
 * baseline (may be NULL): the previously compiled revision, for the
 * backward-compatibility check of --baseline. */
void pdp_src_check(const pdp_src *src, const struct pdp_policy *baseline,
		   pdp_diag *d);
/* The same at a given time (epoch seconds): the checks that depend on the
 * date (grant length without not_before, expired grants) use `now`;
 * pdp_src_check uses the clock. For tests and reproducible checks. */
void pdp_src_check_at(const pdp_src *src, const struct pdp_policy *baseline,
		      int64_t now, pdp_diag *d);

/* Glob as in SPEC Appendix A: `*`, `?`, `[...]`; `nocase` folds ASCII case. */
bool pdp_glob_match(pdp_str pattern, pdp_str s, bool nocase);
/* pii.detect entry match: glob if it contains * ? [, else case-insensitive
 * substring. */
bool pdp_pii_detect_match(pdp_str pattern, pdp_str column);

#endif
