/*
 * pending.h -- replies that wait for their audit records (SPEC 5: a
 * decision is answered only after its record is written, and fsync'd in
 * the default mode).
 *
 * A pending reply holds the response body and one audit record per
 * decision (or one `refused` record). The records are submitted to the
 * worker's audit queue; when the last completion arrives (on the worker's
 * own loop) the reply is sent, with each decision's `audit_seq`. If the
 * queue is full the submission is retried every millisecond up to
 * `audit.wait_ms`, then the request gets 503; if a record cannot be written
 * the request gets 503 too: a decision is never answered unrecorded.
 */
#ifndef PDP_PENDING_H
#define PDP_PENDING_H

#include <stdint.h>

#include "conn.h"
#include "pdp/buf.h"

struct pdp_worker;

typedef struct pdp_pending pdp_pending;

/* Starts a pending reply for req with the given status. */
pdp_pending *pdp_pending_new(struct pdp_worker *w, pdp_hreq *req, int status,
			     const char *request_id, uint64_t started_us);
/* Adds one part of the body. `record_type` and `fields` (a JSON object) make
 * the part's audit record; when `with_seq` the part is a JSON object whose
 * closing brace is replaced by `,"audit_seq":N}`. */
void pdp_pending_add(pdp_pending *p, const char *part, size_t len, int with_seq,
		     const char *record_type, const char *fields, size_t fields_len);
/* Text between parts (batch: "," and the surrounding {"decisions":[ ]}). */
void pdp_pending_set_frame(pdp_pending *p, const char *head, const char *sep, const char *tail);
/* Drops a pending reply that was never started (nothing was submitted). */
void pdp_pending_discard(pdp_pending *p);
/* Submits the records and takes over: the reply is sent later. */
void pdp_pending_start(pdp_pending *p);

#endif
