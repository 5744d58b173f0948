/*
 * policy_int.h -- the runtime form of a loaded revision (internal to
 * policy/: the evaluator, the bundle reader, the grant export, the baseline
 * check). Callers outside policy/ use policy.h.
 *
 * Design: everything hangs off one arena. Strings are interned: a sid is an
 * index into the sorted string table of the bundle (sid 0 is the empty
 * string, used as "none"), so string equality is integer equality and the
 * table order is lexicographic order. Column sets are bitsets of `nwords`
 * 64-bit words per product. Purposes and PII categories are small sets
 * (≤ 64 each) kept as uint64_t masks.
 *
 * The subject index: for product p, every grant and deny entry is filed
 * under the key (p, to_kind, to_sid) in `subject_index`, whose value is the
 * start of a run in `entry_refs` (run length first). A decision looks up only
 * the keys of its subject (its id, its domain, each of its groups), so its
 * cost follows the entries that can match it, not the size of the mesh.
 */
#ifndef PDP_POLICY_INT_H
#define PDP_POLICY_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "pdp/arena.h"
#include "pdp/model.h"
#include "pdp/policy.h"
#include "strmap.h"

typedef uint32_t pdp_sid;
#define PDP_NO_LEVEL (-1)
#define PDP_MAX_PURPOSES 64
#define PDP_MAX_PII_CATS 64
#define PDP_MAX_COLUMNS 4096

enum {
	PDP_ENTRY_ALL_COLUMNS = 1u << 0,
	PDP_ENTRY_HAS_PURPOSES = 1u << 1,
	PDP_ENTRY_HAS_ROW_FILTER = 1u << 2,
	PDP_ENTRY_HAS_NOT_BEFORE = 1u << 3,
	PDP_ENTRY_HAS_EXPIRES = 1u << 4,
};

typedef struct pdp_rt_entry {
	pdp_sid id;              /* own id, 0 if none */
	uint32_t index;          /* position in grants[] or deny[] */
	uint8_t is_deny;
	uint8_t to_kind;         /* enum pdp_to_kind */
	uint8_t actions;
	uint8_t flags;
	pdp_sid to;
	pdp_sid row_filter;
	uint64_t purposes;       /* bit i = mesh purpose i */
	uint64_t *cols;          /* nwords bitset of the columns it covers
				  * (all set for "*") */
	uint64_t *clear;         /* cols ∩ unmasked, NULL if no unmasked */
	int64_t not_before;      /* INT64_MIN if absent */
	int64_t expires;         /* INT64_MAX if absent */
} pdp_rt_entry;

typedef struct pdp_rt_column {
	pdp_sid name, type;      /* (the `reason` of pii: none is checked at
				  * load and not kept) */
	int16_t pii;             /* category index, -1 untagged, -2 `pii: none` */
	int16_t level;           /* effective classification (override or product) */
} pdp_rt_column;

typedef struct pdp_rt_port {
	pdp_sid type, catalog, database, table, location;
} pdp_rt_port;

typedef struct pdp_rt_product {
	pdp_sid name, domain, owner, oncall, version;
	int32_t domain_idx;      /* into domains[], -1 if none */
	int16_t level;
	uint8_t has_freshness, has_completeness;
	double freshness_minutes, completeness_percent;
	uint32_t nports;
	pdp_rt_port *ports;
	uint32_t ncols, nwords;
	pdp_rt_column *cols;
	pdp_sid *col_sids;       /* column names sorted (NULL for a schema
				  * small enough to scan), with ... */
	uint16_t *col_idx;       /* ... the index of each in cols[] */
	uint32_t ngrants, ndenies;
	pdp_rt_entry *grants, *denies;
	uint32_t nrules;         /* mesh rules whose product conditions can hold */
	uint32_t *rules;
} pdp_rt_product;

enum {
	PDP_K_ACTIONS = 1u << 0,
	PDP_K_PRODUCT_DOMAIN = 1u << 1,
	PDP_K_PRODUCT_CLASS = 1u << 2,
	PDP_K_COLUMN_PII = 1u << 3,
	PDP_K_COLUMN_CLASS = 1u << 4,
	PDP_K_CROSS_DOMAIN = 1u << 5,
	PDP_K_SUBJECT_GROUPS = 1u << 6,
	PDP_K_PURPOSES = 1u << 7,
};
#define PDP_K_COLUMN_KEYS (PDP_K_COLUMN_PII | PDP_K_COLUMN_CLASS)
#define PDP_K_PRODUCT_KEYS (PDP_K_PRODUCT_DOMAIN | PDP_K_PRODUCT_CLASS)

typedef struct pdp_rt_cond {
	uint32_t keys;           /* PDP_K_* present */
	uint32_t actions;
	uint32_t npdomains;
	pdp_sid *pdomains;       /* sorted */
	int32_t min_plevel;
	uint8_t pii_any;
	uint64_t pii_cats;
	int32_t min_clevel;
	int32_t cross_domain;    /* 0 or 1 when present */
	uint32_t ngroups;
	pdp_sid *groups;         /* sorted */
	uint64_t purposes;
} pdp_rt_cond;

typedef struct pdp_rt_rule {
	pdp_sid id;
	uint8_t is_mask;
	uint8_t mask;            /* enum pdp_mask, NONE if absent */
	uint8_t has_except;
	pdp_rt_cond match, except;
} pdp_rt_rule;

typedef struct pdp_rt_domain {
	pdp_sid name, owner;
	int32_t default_level;
	uint32_t nmembers;
	pdp_sid *members;        /* sorted */
} pdp_rt_domain;

typedef struct pdp_rt_group { pdp_sid name, domain; } pdp_rt_group;
typedef struct pdp_rt_pii { pdp_sid name; uint32_t mask; } pdp_rt_pii;
typedef struct pdp_rt_caller { pdp_sid pattern; uint32_t roles; } pdp_rt_caller;
typedef struct pdp_rt_principal { pdp_sid group, arn; } pdp_rt_principal;

struct pdp_policy {
	atomic_uint refs;
	pdp_arena *arena;
	char revision[72];
	uint8_t digest[32];
	bool is_signed;

	uint32_t nstrs;
	pdp_str *strs;
	pdp_strmap strmap;       /* string → sid */
	uint32_t *sid_product;   /* sid → product index + 1, 0 if not a product */

	uint32_t nclasses;
	pdp_sid *classes;        /* level i */
	uint32_t npurposes;
	pdp_sid *purposes;       /* sorted; index = purpose bit */
	uint32_t ngroups;
	pdp_rt_group *groups;    /* sorted by name */
	uint32_t npii;
	pdp_rt_pii *pii;         /* sorted by name */
	uint32_t ndetect;
	pdp_sid *detect;
	uint32_t nrules;
	pdp_rt_rule *rules;      /* sorted by id */
	uint32_t ncallers;
	pdp_rt_caller *callers;
	uint32_t bounds_flags;   /* 1 max_grant_days, 2 max_freshness, 4 min_completeness */
	int64_t max_grant_days, max_freshness_minutes;
	double min_completeness_percent;
	uint32_t nprincipals;
	pdp_rt_principal *principals;
	uint32_t ndomains;
	pdp_rt_domain *domains;  /* sorted by name */
	uint32_t nproducts;
	pdp_rt_product *products; /* sorted by name (= by sid) */
	size_t ngrants_total;

	pdp_u64map subject_index; /* (product, kind, sid) → entry_refs offset */
	uint32_t *entry_refs;     /* [count, (is_deny<<31 | entry index)...] */
	size_t nentry_refs;
};

static inline pdp_str pdp_rt_str(const pdp_policy *p, pdp_sid s)
{
	return p->strs[s < p->nstrs ? s : 0];
}

/* sid of s, or 0 when the policy never mentions it. */
pdp_sid pdp_rt_sid(const pdp_policy *p, pdp_str s);
const pdp_rt_product *pdp_rt_product_find(const pdp_policy *p, pdp_sid name);
int pdp_rt_column_find(const pdp_rt_product *prod, pdp_sid name);
const pdp_rt_domain *pdp_rt_domain_find(const pdp_policy *p, pdp_sid name);
bool pdp_rt_sid_in(const pdp_sid *sorted, uint32_t n, pdp_sid s);
uint64_t pdp_rt_index_key(uint32_t product, unsigned kind, pdp_sid sid);
/* Whether a rule block's column conditions hold for col (NULL: describe or
 * an unknown column, which never matches a column condition). */
bool pdp_rt_cond_column(const pdp_rt_cond *k, const pdp_rt_column *col);

static inline bool pdp_bit(const uint64_t *bits, uint32_t i)
{
	return (bits[i >> 6] >> (i & 63)) & 1;
}
static inline void pdp_bit_set(uint64_t *bits, uint32_t i)
{
	bits[i >> 6] |= 1ULL << (i & 63);
}

/* Bundle layout constants (docs/bundle-format.md). */
#define PDP_BUNDLE_MAGIC "MESHPDP\0"
#define PDP_BUNDLE_VERSION 1u
#define PDP_BUNDLE_HEADER 56u
#define PDP_BUNDLE_SIG_MAGIC "SIG1"
#define PDP_BUNDLE_TRAILER (4u + 32u + 64u)
#define PDP_NONE_U32 0xFFFFFFFFu

#endif
