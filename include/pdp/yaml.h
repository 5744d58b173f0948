/*
 * yaml.h -- a YAML node tree in which every node keeps file:line:col.
 *
 * Design (after h2o's yoml): libyaml's event parser builds a small DOM in a
 * caller-supplied arena. Scalars, sequences and mappings only; aliases,
 * anchors-with-aliases, custom tags, duplicate mapping keys and more than one
 * document per file are errors (each would let a policy mean something other
 * than what it shows). Depth and node count are capped.
 *
 * Ownership: every node and string lives in the arena passed to
 * pdp_yaml_parse; `file` is copied into the arena too.
 *
 * Mappings are read through key tables (pdp_ykey), in the style of redis'
 * static_configs and h2o's parse_mapping: one table per mapping naming each
 * allowed key, whether it is required and which node type it takes. Unknown
 * keys are errors, so a typo can never silently weaken a policy.
 */
#ifndef PDP_YAML_H
#define PDP_YAML_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/arena.h"
#include "pdp/buf.h"
#include "pdp/diag.h"

enum pdp_ytype { PDP_Y_NULL, PDP_Y_SCALAR, PDP_Y_SEQ, PDP_Y_MAP, PDP_Y_ANY };

typedef struct pdp_ynode pdp_ynode;
struct pdp_ynode {
	enum pdp_ytype type;  /* PDP_Y_NULL: a plain empty, `~` or `null` */
	int line, col;        /* 1-based */
	const char *file;
	pdp_str str;          /* SCALAR (and NULL: the text as written) */
	bool quoted;          /* scalar was quoted: never a bool/null/number */
	size_t n;             /* SEQ: items; MAP: pairs */
	pdp_ynode **items;    /* SEQ: n items; MAP: 2n, key then value */
};

#define PDP_YAML_MAX_DEPTH 64
#define PDP_YAML_MAX_NODES 4000000

/* Parses one document. On syntax errors adds diagnostics and fails with
 * PDP_E_PARSE; *ret_root is written only on success (an empty document gives
 * a PDP_Y_NULL root). */
PDP_MUST_USE enum pdp_err pdp_yaml_parse(const char *file, const char *data,
					 size_t len, pdp_arena *arena,
					 pdp_diag *d, pdp_ynode **ret_root);

static inline pdp_ynode *pdp_ymap_key(const pdp_ynode *m, size_t i) { return m->items[2 * i]; }
static inline pdp_ynode *pdp_ymap_val(const pdp_ynode *m, size_t i) { return m->items[2 * i + 1]; }
/* Value of `key` in mapping m, or NULL (m may be NULL or not a map). */
pdp_ynode *pdp_ymap_get(const pdp_ynode *m, const char *key);

const char *pdp_ytype_name(enum pdp_ytype t);

/* Key table entry for pdp_ymap_read. */
enum { PDP_YK_REQUIRED = 1 };
typedef struct pdp_ykey {
	const char *name;
	enum pdp_ytype type; /* PDP_Y_ANY accepts scalars, lists and maps */
	unsigned flags;
} pdp_ykey;

/* Checks that `m` is a mapping whose keys are all in `keys` (n entries), each
 * value of the named type, and every required key present; reports every
 * problem to d (`what` names the mapping in messages, e.g. "grant").
 * ret_vals[i] receives the value for keys[i] or NULL. Returns false if any
 * problem was found (ret_vals is still filled for the keys that are fine). */
bool pdp_ymap_read(const pdp_ynode *m, const pdp_ykey *keys, size_t n,
		   const char *what, pdp_diag *d, pdp_ynode **ret_vals);

/* Typed scalar readers. Each reports a positioned error and returns false on
 * a type mismatch; outputs are written only on success. */
bool pdp_y_str(const pdp_ynode *v, pdp_diag *d, const char *what, pdp_str *ret);
bool pdp_y_bool(const pdp_ynode *v, pdp_diag *d, const char *what, bool *ret);
bool pdp_y_int(const pdp_ynode *v, pdp_diag *d, const char *what, int64_t min,
	       int64_t max, int64_t *ret);
bool pdp_y_number(const pdp_ynode *v, pdp_diag *d, const char *what, double *ret);
/* YYYY-MM-DD → seconds since the epoch at 00:00:00Z of that day. */
bool pdp_y_date(const pdp_ynode *v, pdp_diag *d, const char *what, int64_t *ret);
/* Parses YYYY-MM-DD (exactly) into epoch seconds; false if invalid. */
bool pdp_parse_date(pdp_str s, int64_t *ret);
/* A scalar or a sequence of scalars → array of strings in `arena`. */
bool pdp_y_strlist(const pdp_ynode *v, pdp_arena *arena, pdp_diag *d,
		   const char *what, pdp_str **ret, size_t *ret_n);

/* Reads a whole file into a malloc'd NUL-terminated buffer, refusing files
 * larger than max bytes (PDP_E_LIMIT). */
PDP_MUST_USE enum pdp_err pdp_file_read(const char *path, size_t max,
					char **ret_data, size_t *ret_len);

#endif
