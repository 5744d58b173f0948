/*
 * eval.h -- decisions (SPEC 3 and 3.1), requests and responses.
 *
 * pdp_eval_decide is pure: it reads an immutable pdp_policy and a parsed
 * request and writes a pdp_decision whose memory all comes from a scratch
 * arena supplied by the caller (reset it between requests). It takes no
 * locks and calls no malloc outside that arena.
 */
#ifndef PDP_EVAL_H
#define PDP_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/arena.h"
#include "pdp/buf.h"
#include "pdp/model.h"
#include "pdp/policy.h"

enum pdp_dialect { PDP_DIALECT_NONE, PDP_DIALECT_POSTGRES, PDP_DIALECT_TRINO, PDP_DIALECT_SPARK };
bool pdp_dialect_parse(pdp_str s, enum pdp_dialect *ret);
const char *pdp_dialect_name(enum pdp_dialect d);

typedef struct pdp_request {
	pdp_str subject_id;
	bool has_domain;
	pdp_str subject_domain;
	pdp_str *groups;
	size_t ngroups;
	unsigned action;        /* exactly one pdp_action bit */
	pdp_str product;
	bool has_columns;       /* false = all columns (SELECT *) */
	pdp_str *columns;
	size_t ncolumns;        /* ≥ 1 when has_columns */
	bool has_purpose;
	pdp_str purpose;
	enum pdp_dialect dialect;
	bool has_time;          /* context.time was given (eval/test only) */
	int64_t time;           /* epoch seconds used for the decision */
	pdp_str request_id;     /* set by the server, echoed in logs */
} pdp_request;

typedef struct pdp_request_limits {
	size_t max_depth;       /* JSON nesting; default 16 */
	size_t max_columns;     /* default 4096 */
	size_t max_groups;      /* default 256 */
	size_t max_string;      /* bytes per string; default 4096 */
} pdp_request_limits;
#define PDP_REQUEST_LIMITS_DEFAULT { 16, 4096, 256, 4096 }

/* Parses one request object (SPEC 4; 3.1 "Request shape"). The strings
 * borrow from `arena`. On a schema error returns PDP_E_INVALID (or
 * PDP_E_PARSE for bad JSON, PDP_E_LIMIT for a limit) with a message for the
 * caller in errmsg; *ret is written only on success. `time` is set to
 * context.time when present (has_time), else left 0. */
PDP_MUST_USE enum pdp_err pdp_request_parse(const char *json, size_t len,
					    const pdp_request_limits *lim,
					    pdp_arena *arena, pdp_request *ret,
					    pdp_buf *errmsg);
/* A batch body {"requests": [...]} (SPEC 4): each request, in order, is
 * handed to fn with its own result (r is NULL and msg says why when it was
 * refused); fn's error stops the walk and is returned. Errors of the whole
 * body: PDP_E_PARSE, PDP_E_LIMIT (nesting; 0 or more than max_batch
 * requests), PDP_E_INVALID (another shape). */
typedef enum pdp_err (*pdp_batch_fn)(void *arg, enum pdp_err e, pdp_request *r, const char *msg);
PDP_MUST_USE enum pdp_err pdp_request_parse_batch(const char *json, size_t len,
						  const pdp_request_limits *lim, size_t max_batch,
						  pdp_arena *a, pdp_batch_fn fn, void *arg,
						  pdp_buf *errmsg);

/* YYYY-MM-DD (00:00:00Z) or RFC 3339 with Z or an offset → epoch seconds. */
bool pdp_parse_time(pdp_str s, int64_t *ret);

enum pdp_access { PDP_ACCESS_ALLOW, PDP_ACCESS_MASK, PDP_ACCESS_DENY };
const char *pdp_access_name(enum pdp_access a);

typedef struct pdp_col_result {
	pdp_str name;
	int index;              /* column index in the product, -1 unknown */
	enum pdp_access access;
	enum pdp_mask mask;     /* when access == MASK */
} pdp_col_result;

typedef struct pdp_decision {
	bool allow;
	pdp_col_result *cols;   /* in request order (schema order for all) */
	size_t ncols;
	bool has_row_filter;
	pdp_str row_filter;
	pdp_str *reasons;       /* sorted, unique */
	size_t nreasons;
	const char *revision;   /* borrowed from the policy */
} pdp_decision;

/* Decides. Returns PDP_E_INVALID for a request the policy cannot take (an
 * undeclared purpose) with the reason in errmsg; else PDP_OK and *ret. */
PDP_MUST_USE enum pdp_err pdp_eval_decide(const pdp_policy *p, const pdp_request *req,
					  pdp_arena *scratch, pdp_decision *ret,
					  pdp_buf *errmsg);

/* Appends the SPEC 4 response object. decision_id may be empty (omitted);
 * audit_seq < 0 is omitted. With req->dialect set, masks carry "sql" and the
 * row filter is given as written (it is already SQL). mask_salt is the
 * secret mixed into hash masks (may be empty). */
PDP_MUST_USE enum pdp_err pdp_decision_to_json(const pdp_decision *dec,
					       const pdp_request *req,
					       pdp_str decision_id, int64_t audit_seq,
					       pdp_str mask_salt, pdp_buf *out);

/* Appends a human explanation of dec (for `pdp eval --explain`). */
PDP_MUST_USE enum pdp_err pdp_eval_explain(const pdp_policy *p, const pdp_request *req,
					   const pdp_decision *dec, pdp_buf *out);

/* Appends a SQL expression computing mask m over the column in dialect d
 * (mask_sql.c). The column name is quoted for the dialect. */
PDP_MUST_USE enum pdp_err pdp_mask_sql(enum pdp_mask m, enum pdp_dialect d,
				       pdp_str column, pdp_str salt, pdp_buf *out);

#endif
