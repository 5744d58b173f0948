/*
 * pending.c -- deferred replies that wait for their audit records (see
 * pending.h). Runs entirely on the owning worker's thread: created in the
 * request callback, completed from pdp_audit_queue_drain or the retry timer.
 *
 * Ownership: the pending reply owns copies of every part and record; it is
 * freed after the reply is sent (or handed to libevent).
 */
#include "pending.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pdp/audit.h"
#include "server.h"

struct part {
	pdp_pending *p;
	char *body;
	size_t len;
	int with_seq;
	char *type;       /* NULL: no record */
	char *fields;
	size_t flen;
	uint64_t seq;
};

struct pdp_pending {
	pdp_worker *w;
	pdp_hreq *req;
	int status;
	char request_id[129];
	uint64_t started;
	struct part *parts;
	size_t n, cap, next;
	size_t outstanding;
	int failed;
	uint64_t deadline;
	struct event *retry;
	char *head, *sep, *tail;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char *dup_or_null(const char *s)
{
	return s ? pdp_xstrndup(s, strlen(s)) : NULL;
}

pdp_pending *pdp_pending_new(pdp_worker *w, pdp_hreq *req, int status,
			     const char *request_id, uint64_t started_us)
{
	pdp_pending *p = pdp_xcalloc(1, sizeof(*p));
	w->npending++;
	p->w = w;
	p->req = req;
	p->status = status;
	p->started = started_us;
	pdp_cstr_copy(p->request_id, sizeof(p->request_id), request_id);
	return p;
}

void pdp_pending_add(pdp_pending *p, const char *part, size_t len, int with_seq,
		     const char *record_type, const char *fields, size_t fields_len)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4;
		p->parts = pdp_xrealloc(p->parts, p->cap * sizeof(*p->parts));
	}
	struct part *x = &p->parts[p->n++];
	*x = (struct part){ .p = p, .body = pdp_xstrndup(part, len), .len = len,
			    .with_seq = with_seq && len && part[len - 1] == '}' };
	if (record_type && fields) {
		x->type = dup_or_null(record_type);
		x->fields = pdp_xstrndup(fields, fields_len);
		x->flen = fields_len;
	}
}

void pdp_pending_set_frame(pdp_pending *p, const char *head, const char *sep, const char *tail)
{
	p->head = dup_or_null(head);
	p->sep = dup_or_null(sep);
	p->tail = dup_or_null(tail);
}

static void pending_free(pdp_pending *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->parts[i].body);
		free(p->parts[i].type);
		free(p->parts[i].fields);
	}
	free(p->parts);
	free(p->head);
	free(p->sep);
	free(p->tail);
	if (p->retry)
		event_free(p->retry);
	p->w->npending--;
	free(p);
}

void pdp_pending_discard(pdp_pending *p)
{
	if (p)
		pending_free(p);
}

static enum pdp_err assemble(pdp_pending *p, pdp_buf *out)
{
	if (p->head)
		PDP_TRY(pdp_buf_adds(out, p->head));
	for (size_t i = 0; i < p->n; i++) {
		const struct part *x = &p->parts[i];
		if (i && p->sep)
			PDP_TRY(pdp_buf_adds(out, p->sep));
		if (!x->with_seq || !x->type || !p->w->srv->audit) {
			PDP_TRY(pdp_buf_add(out, x->body, x->len));
			continue;
		}
		PDP_TRY(pdp_buf_add(out, x->body, x->len - 1));
		PDP_TRY(pdp_buf_adds(out, ",\"audit_seq\":"));
		PDP_TRY(pdp_buf_add_u64(out, x->seq));
		PDP_TRY(pdp_buf_addc(out, '}'));
	}
	if (p->tail)
		PDP_TRY(pdp_buf_adds(out, p->tail));
	return PDP_OK;
}

static void finish(pdp_pending *p)
{
	pdp_buf out;
	pdp_buf_init(&out, 0);
	int status = p->status;
	if (p->failed || assemble(p, &out) != PDP_OK) {
		status = 503;
		pdp_buf_reset(&out);
		pdp_ignore(pdp_error_json(&out, "audit_unavailable",
					  "the decision could not be recorded in the audit log; retry later"));
	}
	pdp_http_send(p->w, p->req, status, false, p->request_id, out.data ? out.data : "", out.len);
	pdp_metrics_request(&p->w->metrics, status, now_us() - p->started);
	pdp_buf_done(&out);
	pending_free(p);
}

static void record_done(void *arg, uint64_t seq, enum pdp_err err)
{
	struct part *x = arg;
	pdp_pending *p = x->p;
	x->seq = seq;
	if (err != PDP_OK)
		p->failed = 1;
	p->outstanding--;
	if (!p->outstanding && p->next == p->n)
		finish(p);
}

static void submit_more(pdp_pending *p);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	submit_more(arg);
}

static void submit_more(pdp_pending *p)
{
	pdp_worker *w = p->w;
	while (p->next < p->n) {
		struct part *x = &p->parts[p->next];
		/* with the log on but the worker's queue gone (the drain after
		 * shutdown freed it), a record cannot be written: 503, never an
		 * answer without its record */
		enum pdp_err e = !x->type || !w->srv->audit ? PDP_OK
			: !w->aq ? PDP_E_IO
			: pdp_audit_submit(w->aq, x->type, x->fields, x->flen, record_done, x);
		if (e == PDP_E_BUSY && now_us() < p->deadline) {
			struct timeval ms = { 0, 1000 };
			if (!p->retry)
				p->retry = evtimer_new(w->base, on_retry, p);
			evtimer_add(p->retry, &ms);
			return;
		}
		if (e != PDP_OK) {
			p->failed = 1;
			p->next = p->n;
			pdp_log(PDP_LOG_WARN, "audit_refused", NULL, "audit record not accepted (%s): answering 503",
				pdp_err_str(e));
			break;
		}
		if (x->type && w->srv->audit) {
			p->outstanding++;
			event_active(w->flush_ev, EV_TIMEOUT, 0); /* written at the turn's end */
		}
		p->next++;
	}
	if (!p->outstanding)
		finish(p);
}

void pdp_pending_start(pdp_pending *p)
{
	p->deadline = now_us() + (uint64_t)p->w->srv->cfg.audit_wait_ms * 1000u;
	submit_more(p);
}
