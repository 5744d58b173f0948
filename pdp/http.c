/*
 * http.c -- the route table and the handlers of SPEC 4, on the
 * connections of conn.c. Every request gets exactly one pdp_hreq_reply, now
 * or later; the request's revision reference is taken at its start and
 * dropped when the handler returns (a deferred reply keeps what it needs).
 *
 * Route table: method, path, role, handler. Role 0 = any authenticated
 * caller (health, ready, metrics).
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pending.h"
#include "pdp/eval.h"
#include "pdp/grants.h"
#include "server.h"

struct call {
	pdp_worker *w;
	pdp_hreq *req;
	pdp_policy *policy;        /* the revision this request runs on */
	const char *identity;
	char request_id[129];
	const char *body;
	size_t body_len;
	pdp_buf out;
	int status;
	pdp_pending *pend;         /* the reply waits for audit records */
	bool deferred;             /* the handler replies later by itself */
	bool text;                 /* a text/plain answer */
	size_t items;              /* batch entries handled */
	uint64_t started;
};

typedef void (*handler_fn)(struct call *c);

struct route {
	enum pdp_http_method method;
	const char *path;
	unsigned role;
	handler_fn fn;
};

static void set_error(struct call *c, int status, const char *code, const char *msg)
{
	c->status = status;
	pdp_buf_reset(&c->out);
	pdp_ignore(pdp_error_json(&c->out, code, msg));
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static pdp_request_limits limits_of(const pdp_config *cfg)
{
	pdp_request_limits l = PDP_REQUEST_LIMITS_DEFAULT;
	l.max_depth = (size_t)cfg->max_depth;
	return l;
}

/* Decides one parsed request and adds it, with its audit record, to the
 * pending reply. */
static enum pdp_err decide_into(struct call *c, pdp_request *r, pdp_buf *msg)
{
	r->time = (int64_t)time(NULL); /* the server's clock only (SPEC 3.1) */
	r->has_time = false;
	r->request_id = pdp_str_c(c->request_id);
	pdp_decision d;
	PDP_TRY(pdp_eval_decide(c->policy, r, c->w->scratch, &d, msg));
	char id[37];
	if (c->w->aq)
		pdp_audit_queue_decision_id(c->w->aq, id); /* no syscall per id */
	else
		pdp_audit_decision_id(id);
	atomic_fetch_add_explicit(d.allow ? &c->w->metrics.decisions_allow : &c->w->metrics.decisions_deny,
				  1, memory_order_relaxed);
	pdp_str salt = pdp_str_c(c->w->srv->cfg.mask_salt);
	pdp_buf json, fields;
	pdp_buf_init(&json, 0);
	pdp_buf_init(&fields, 0);
	enum pdp_err e = pdp_decision_to_json(&d, r, pdp_str_c(id), -1, salt, &json);
	if (e == PDP_OK && c->w->srv->audit)
		e = pdp_audit_fields_decision(c->w->srv->audit, id, c->identity, r, &d, &fields);
	if (e == PDP_OK)
		pdp_pending_add(c->pend, json.data, json.len, 1, "decision", fields.data, fields.len);
	pdp_buf_done(&json);
	pdp_buf_done(&fields);
	return e;
}

static const char *code_of(enum pdp_err e)
{
	return e == PDP_E_PARSE ? "bad_json" : e == PDP_E_LIMIT ? "limit" : "bad_request";
}

static void h_decision(struct call *c)
{
	pdp_request r;
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_request_limits lim = limits_of(&c->w->srv->cfg);
	enum pdp_err e = pdp_request_parse(c->body, c->body_len, &lim, c->w->scratch, &r, &msg);
	if (e == PDP_OK) {
		c->pend = pdp_pending_new(c->w, c->req, 200, c->request_id, c->started);
		e = decide_into(c, &r, &msg);
	}
	if (e != PDP_OK)
		set_error(c, 400, code_of(e), msg.data ? msg.data : pdp_err_str(e));
	pdp_buf_done(&msg);
}

/* The refused record of a request turned away (or of a batch item). */
static void refused_fields(struct call *c, int status, const char *reason, const char *message,
			   pdp_buf *out)
{
	if (!c->w->srv->audit)
		return;
	pdp_ignore(pdp_audit_fields_refused(c->identity, reason, status, c->req->method, c->req->target,
					    c->request_id, message, out)); /* no record fields: none written */
}

/* One request of a batch: decided, or its error as the batch entry. */
static enum pdp_err batch_item(void *arg, enum pdp_err ie, pdp_request *r, const char *why)
{
	struct call *c = arg;
	c->items++;
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	enum pdp_err e = ie == PDP_OK ? decide_into(c, r, &msg) : ie;
	const char *text = ie == PDP_OK ? msg.data : why;
	if (e != PDP_OK) {
		pdp_buf part, fields;
		pdp_buf_init(&part, 0);
		pdp_buf_init(&fields, 0);
		e = pdp_error_json(&part, code_of(e), text ? text : "invalid request");
		refused_fields(c, 400, "bad_request", text, &fields);
		if (e == PDP_OK)
			pdp_pending_add(c->pend, part.data, part.len, 0, fields.len ? "refused" : NULL, fields.data,
					fields.len);
		pdp_buf_done(&part);
		pdp_buf_done(&fields);
	}
	pdp_buf_done(&msg);
	return e;
}

static void h_decisions(struct call *c)
{
	const pdp_config *cfg = &c->w->srv->cfg;
	pdp_request_limits lim = limits_of(cfg);
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	c->pend = pdp_pending_new(c->w, c->req, 200, c->request_id, c->started);
	pdp_pending_set_frame(c->pend, "{\"decisions\":[", ",", "]}");
	enum pdp_err e = pdp_request_parse_batch(c->body, c->body_len, &lim, (size_t)cfg->max_batch, c->w->scratch,
						 batch_item, c, &msg);
	if (e != PDP_OK && c->items == 0) /* the body as a whole was refused */
		set_error(c, 400, code_of(e), msg.data ? msg.data : pdp_err_str(e));
	else if (e != PDP_OK)
		set_error(c, 500, "internal", "could not build the response");
	pdp_buf_done(&msg);
}

static void h_health(struct call *c)
{
	pdp_ignore(pdp_buf_adds(&c->out, "{\"status\":\"ok\"}"));
}

static void h_ready(struct call *c)
{
	int ready = c->policy && !atomic_load(&c->w->srv->draining);
	if (!ready)
		return set_error(c, 503, "not_ready", "no policy loaded or draining");
	if (c->w->srv->audit) {
		pdp_audit_stats st;
		pdp_audit_stats_get(c->w->srv->audit, &st);
		if (!st.writable)
			return set_error(c, 503, "not_ready", "the audit log is not writable");
	}
	pdp_ignore(pdp_buf_printf(&c->out, "{\"ready\":true,\"policy_revision\":\"%s\"}",
				  pdp_policy_revision(c->policy)));
}

static void h_status(struct call *c)
{
	pdp_reload_status st;
	pdp_server_status_copy(c->w->srv, &st);
	pdp_buf *o = &c->out;
	enum pdp_err e = pdp_buf_printf(o, "{\"policy_revision\":\"%s\",\"loaded_at\":%.3f,"
					"\"signed\":%s,\"products\":%zu,\"grants\":%zu,"
					"\"last_reload\":{\"ok\":%s,\"at\":%.3f,\"error\":",
					pdp_policy_revision(c->policy), st.loaded_at,
					pdp_policy_is_signed(c->policy) ? "true" : "false",
					pdp_policy_nproducts(c->policy), pdp_policy_ngrants(c->policy),
					st.last_ok ? "true" : "false", st.last_attempt_at);
	if (e == PDP_OK)
		e = st.last_error[0] ? pdp_buf_add_json_str(o, pdp_str_c(st.last_error)) : pdp_buf_adds(o, "null");
	if (e == PDP_OK)
		e = pdp_buf_printf(o, "},\"reloads\":{\"success\":%lu,\"failure\":%lu},\"workers\":%d}", st.ok,
				   st.failed, c->w->srv->nworkers);
	if (e != PDP_OK)
		set_error(c, 500, "internal", "could not build the response");
}

static void h_metrics(struct call *c)
{
	pdp_server *s = c->w->srv;
	pdp_reload_status st;
	pdp_server_status_copy(s, &st);
	pdp_metrics *ms[256];
	int n = s->nworkers < 256 ? s->nworkers : 256;
	for (int i = 0; i < n; i++)
		ms[i] = &s->workers[i].metrics;
	pdp_metrics_global g = { pdp_policy_revision(c->policy), st.loaded_at, st.ok, st.failed,
				 atomic_load(&s->tls_failures), !atomic_load(&s->draining) };
	enum pdp_err e = pdp_metrics_render(ms, n, &g, &c->out);
	if (e == PDP_OK && s->audit) {
		pdp_audit_stats a;
		pdp_audit_stats_get(s->audit, &a);
		e = pdp_metrics_render_audit(&a, &c->out);
	}
	if (e != PDP_OK)
		set_error(c, 500, "internal", "could not render metrics");
	c->text = true;
}

static void h_checkpoint(struct call *c)
{
	if (!c->w->srv->audit)
		return set_error(c, 404, "not_found", "no audit log is configured");
	if (pdp_audit_checkpoint(c->w->srv->audit, &c->out) != PDP_OK)
		set_error(c, 503, "audit_unavailable", "no checkpoint yet");
	c->text = true;
}

/* ---- POST /v1/admin/reload: main thread reloads, the worker replies ---- */

struct reload_msg {
	pdp_worker *w;
	pdp_hreq *req;
	char caller[256];
	char request_id[129];
	uint64_t started;
	int ok;
	int draining;      /* the server is stopping: no reload, 503 */
	char body[1024];
};

static void reload_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct reload_msg *m = arg;
	int status = m->ok ? 200 : m->draining ? 503 : 422;
	pdp_http_send(m->w, m->req, status, false, m->request_id, m->body, strlen(m->body));
	pdp_metrics_request(&m->w->metrics, status, now_us() - m->started);
	free(m);
}

static void reload_on_main_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct reload_msg *m = arg;
	pdp_server *s = m->w->srv;
	struct timeval zero = { 0, 0 };
	if (atomic_load(&s->draining)) {
		m->draining = 1;
		snprintf(m->body, sizeof(m->body), "%s",
			 "{\"error\":{\"code\":\"draining\",\"message\":\"the server is stopping\"}}");
		if (event_base_once(m->w->base, -1, EV_TIMEOUT, reload_reply_cb, m, &zero) != 0)
			free(m);
		return;
	}
	m->ok = pdp_server_reload(s, "admin_api", m->caller) == 0;
	pdp_reload_status st;
	pdp_server_status_copy(s, &st);
	pdp_buf b;
	pdp_buf_init(&b, sizeof(m->body) - 1);
	enum pdp_err e = m->ok ? pdp_buf_printf(&b, "{\"reloaded\":true,\"policy_revision\":\"%s\"}", st.revision)
			       : pdp_buf_adds(&b, "{\"error\":{\"code\":\"reload_failed\",\"message\":");
	if (!m->ok && e == PDP_OK)
		e = pdp_buf_add_json_str(&b, pdp_str_c(st.last_error));
	if (!m->ok && e == PDP_OK)
		e = pdp_buf_printf(&b, "},\"policy_revision\":\"%s\"}", st.revision);
	snprintf(m->body, sizeof(m->body), "%s", e == PDP_OK && b.data ? b.data : "{\"error\":{\"code\":\"reload_failed\"}}");
	pdp_buf_done(&b);
	if (event_base_once(m->w->base, -1, EV_TIMEOUT, reload_reply_cb, m, &zero) != 0)
		free(m); /* the worker is gone (shutdown) */
}

static void h_reload(struct call *c)
{
	struct reload_msg *m = pdp_xcalloc(1, sizeof(*m));
	m->w = c->w;
	m->req = c->req;
	m->started = c->started;
	snprintf(m->caller, sizeof(m->caller), "%s", c->identity ? c->identity : "");
	snprintf(m->request_id, sizeof(m->request_id), "%s", c->request_id);
	struct timeval zero = { 0, 0 };
	if (event_base_once(c->w->srv->main_base, -1, EV_TIMEOUT, reload_on_main_cb, m, &zero) != 0) {
		free(m);
		return set_error(c, 503, "unavailable", "reload could not be started");
	}
	c->deferred = true;
}

/* ---- GET /v1/grants: the export runs on the main thread (it walks every
 * group and product: never on a worker loop), the worker replies ---------- */

struct grants_msg {
	pdp_worker *w;
	pdp_hreq *req;
	pdp_policy *policy;          /* the revision the request began on */
	enum pdp_grants_format format;
	char catalog_id[64], region[64], request_id[129];
	int64_t time;                /* grants active at (Unix seconds) */
	uint64_t started;
	int status;
	pdp_buf out;
};

static void grants_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct grants_msg *m = arg;
	pdp_http_send(m->w, m->req, m->status, false, m->request_id, m->out.data ? m->out.data : "", m->out.len);
	pdp_metrics_request(&m->w->metrics, m->status, now_us() - m->started);
	pdp_buf_done(&m->out);
	free(m);
}

static void grants_on_main_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct grants_msg *m = arg;
	pdp_grants_opts o = { .time = m->time, .catalog_id = m->catalog_id[0] ? m->catalog_id : NULL,
			      .region = m->region[0] ? m->region : NULL };
	pdp_buf notes;
	pdp_buf_init(&notes, 1 << 20);
	pdp_buf_init(&m->out, 0);
	m->status = 200;
	if (atomic_load(&m->w->srv->draining)) { /* stopping: no export */
		m->status = 503;
		pdp_ignore(pdp_error_json(&m->out, "draining", "the server is stopping"));
	} else if (pdp_grants_export(m->policy, m->format, &o, &m->out, &notes) != PDP_OK) {
		const char *last = notes.data ? notes.data : "export failed";
		for (const char *q = last; notes.data && *q; q++)
			if (*q == '\n' && q[1])
				last = q + 1;
		m->status = 400;
		pdp_buf_reset(&m->out);
		pdp_ignore(pdp_error_json(&m->out, "bad_request", last));
	}
	pdp_buf_done(&notes);
	pdp_policy_unref(m->policy);
	m->policy = NULL;
	struct timeval zero = { 0, 0 };
	if (event_base_once(m->w->base, -1, EV_TIMEOUT, grants_reply_cb, m, &zero) != 0) {
		pdp_buf_done(&m->out);
		free(m);
	}
}

static void copy_param(struct evkeyvalq *q, const char *key, char *dst, size_t n)
{
	const char *v = evhttp_find_header(q, key);
	snprintf(dst, n, "%s", v ? v : "");
}

static void h_grants(struct call *c)
{
	struct evkeyvalq q;
	const char *query = strchr(c->req->target, '?');
	if (evhttp_parse_query_str(query ? query + 1 : "", &q) != 0)
		return set_error(c, 400, "bad_request", "malformed query string");
	const char *f = evhttp_find_header(&q, "format");
	struct grants_msg *m = pdp_xcalloc(1, sizeof(*m));
	if (!f || !pdp_grants_format_parse(pdp_str_c(f), &m->format)) {
		evhttp_clear_headers(&q);
		free(m);
		return set_error(c, 400, "bad_request", "format must be lakeformation, iam or json");
	}
	copy_param(&q, "catalog_id", m->catalog_id, sizeof(m->catalog_id));
	copy_param(&q, "region", m->region, sizeof(m->region));
	const char *t = evhttp_find_header(&q, "time");
	m->time = (int64_t)time(NULL);
	if (t && !pdp_parse_time(pdp_str_c(t), &m->time)) {
		evhttp_clear_headers(&q);
		free(m);
		return set_error(c, 400, "bad_request", "time must be RFC 3339 or YYYY-MM-DD");
	}
	evhttp_clear_headers(&q);
	m->w = c->w;
	m->req = c->req;
	m->policy = pdp_policy_ref(c->policy);
	m->started = c->started;
	snprintf(m->request_id, sizeof(m->request_id), "%s", c->request_id);
	struct timeval zero = { 0, 0 };
	if (event_base_once(c->w->srv->main_base, -1, EV_TIMEOUT, grants_on_main_cb, m, &zero) != 0) {
		pdp_policy_unref(m->policy);
		free(m);
		return set_error(c, 503, "unavailable", "export could not be started");
	}
	c->deferred = true;
}

static const struct route routes[] = {
	{ PDP_HTTP_GET, "/v1/grants", PDP_ROLE_GRANTS, h_grants },
	{ PDP_HTTP_POST, "/v1/admin/reload", PDP_ROLE_ADMIN, h_reload },
	{ PDP_HTTP_GET, "/v1/audit/checkpoint", PDP_ROLE_AUDIT, h_checkpoint },
	{ PDP_HTTP_POST, "/v1/decision", PDP_ROLE_DECIDE, h_decision },
	{ PDP_HTTP_POST, "/v1/decisions", PDP_ROLE_DECIDE, h_decisions },
	{ PDP_HTTP_GET, "/v1/health", 0, h_health },
	{ PDP_HTTP_GET, "/v1/ready", 0, h_ready },
	{ PDP_HTTP_GET, "/v1/status", PDP_ROLE_ADMIN, h_status },
	{ PDP_HTTP_GET, "/metrics", 0, h_metrics },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Finds the route; sets 404/405 when there is none. */
static const struct route *route_of(struct call *c)
{
	const char *uri = c->req->target;
	size_t len = strcspn(uri, "?#");
	bool path_known = false;
	for (size_t i = 0; i < NROUTES; i++) {
		if (strlen(routes[i].path) != len || strncmp(routes[i].path, uri, len))
			continue;
		path_known = true;
		if (c->req->head.method == routes[i].method)
			return &routes[i];
	}
	if (path_known)
		set_error(c, 405, "method_not_allowed", "method not allowed for this path");
	else
		set_error(c, 404, "not_found", "no such endpoint");
	return NULL;
}

/* Authentication, authorisation and the body checks. */
static bool admit(struct call *c, const struct route *r)
{
	if (c->req->over_limit) {
		set_error(c, 503, "overloaded", "too many connections");
		return false;
	}
	c->identity = c->req->identity;
	if (!c->identity) {
		set_error(c, 401, "unauthenticated", "a verified client certificate is required");
		return false;
	}
	if (r->role && !(pdp_policy_caller_roles(c->policy, pdp_str_c(c->identity)) & r->role)) {
		atomic_fetch_add_explicit(&c->w->metrics.forbidden_callers, 1, memory_order_relaxed);
		char msg[300];
		snprintf(msg, sizeof(msg), "caller lacks the '%s' role", pdp_role_name(r->role));
		set_error(c, 403, "forbidden", msg);
		return false;
	}
	if (r->method != PDP_HTTP_POST)
		return true;
	const char *ct = c->req->content_type;
	if (c->req->head.content_length < 0 && !c->req->head.chunked) {
		set_error(c, 411, "length_required", "a request body with Content-Length is required");
		return false;
	}
	if (!ct || strncmp(ct, "application/json", 16) != 0) {
		set_error(c, 415, "unsupported_media_type", "Content-Type must be application/json");
		return false;
	}
	c->body_len = c->req->body_len;
	c->body = c->req->body;
	if (!c->body_len) {
		set_error(c, 400, "bad_request", "empty request body");
		return false;
	}
	return true;
}

static void read_request_id(struct call *c)
{
	const char *rid = c->req->request_id;
	if (!rid)
		return;
	size_t n = strlen(rid);
	if (n >= sizeof(c->request_id))
		n = sizeof(c->request_id) - 1;
	for (size_t i = 0; i < n; i++) /* printable ASCII only: it is echoed and logged */
		c->request_id[i] = rid[i] > 0x20 && rid[i] < 0x7f ? rid[i] : '_';
	c->request_id[n] = '\0';
}

static void log_refused(struct call *c)
{
	if (!pdp_log_enabled(PDP_LOG_INFO))
		return;
	char fields[512];
	snprintf(fields, sizeof(fields), "\"status\":%d,\"caller\":\"%s\",\"request_id\":\"%s\"", c->status,
		 c->identity ? c->identity : "", c->request_id);
	pdp_log(PDP_LOG_INFO, "request_refused", fields, "%s %s", c->req->method, c->req->target);
}

static const char *refusal_reason(int status)
{
	switch (status) {
	case 401: return "no_client_cert";
	case 403: return "no_role";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 503: return "overloaded";
	default: return "bad_request";
	}
}

/* Sends the reply now, or hands it to a pending reply that waits for the
 * audit records (decisions; refused requests when the log is on). */
static void finish(struct call *c)
{
	if (c->deferred && c->status < 400)
		return;
	if (c->status >= 400) {
		log_refused(c);
		pdp_pending_discard(PDP_TAKE_PTR(c->pend)); /* nothing was submitted */
		pdp_buf fields;
		pdp_buf_init(&fields, 0);
		refused_fields(c, c->status, refusal_reason(c->status), NULL, &fields);
		if (fields.len) {
			pdp_pending *p = pdp_pending_new(c->w, c->req, c->status, c->request_id, c->started);
			pdp_pending_add(p, c->out.data, c->out.len, 0, "refused", fields.data, fields.len);
			pdp_buf_done(&fields);
			pdp_pending_start(p);
			return;
		}
		pdp_buf_done(&fields);
	}
	if (c->pend) {
		pdp_pending_start(PDP_TAKE_PTR(c->pend));
		return;
	}
	pdp_http_send(c->w, c->req, c->status, c->text && c->status < 400, c->request_id,
		      c->out.data ? c->out.data : "", c->out.len);
	pdp_metrics_request(&c->w->metrics, c->status, now_us() - c->started);
}

static void on_request(pdp_hreq *req, void *arg)
{
	pdp_worker *w = arg;
	struct call c = { .w = w, .req = req, .status = 200, .started = now_us() };
	pdp_buf_init(&c.out, 64u << 20);
	c.policy = pdp_policy_ref(w->policy);
	read_request_id(&c);
	const struct route *r = route_of(&c);
	if (r && admit(&c, r))
		r->fn(&c);
	finish(&c);
	pdp_buf_done(&c.out);
	pdp_policy_unref(c.policy);
	pdp_arena_reset(w->scratch);
}

/* Every reply goes out here: a 503, or any reply while the server drains,
 * closes the connection (the client retries elsewhere: Retry-After). */
void pdp_http_send(pdp_worker *w, pdp_hreq *r, int status, bool text, const char *request_id,
		   const char *body, size_t len)
{
	pdp_reply rep = { .status = status, .request_id = request_id, .retry_after = status == 503,
			  .close = status == 503 || atomic_load_explicit(&w->srv->draining, memory_order_relaxed),
			  .content_type = text ? "text/plain; charset=utf-8; version=0.0.4" : NULL };
	pdp_hreq_reply(r, &rep, body, len);
}

int pdp_http_setup(pdp_worker *w, int listen_fd)
{
	const pdp_config *cfg = &w->srv->cfg;
	int n = w->srv->nworkers ? w->srv->nworkers : 1;
	pdp_conns_opts o = {
		.max_head = cfg->max_headers, .max_body = cfg->max_body,
		.read_timeout_ms = cfg->read_timeout_ms, .idle_timeout_ms = cfg->idle_timeout_ms,
		/* the cap is shared out per worker (a connection never changes
		 * worker), rounding up so that no worker gets a cap of zero */
		.max_open = (cfg->max_connections + n - 1) / n,
		.metrics = &w->metrics,
		.hand_off = pdp_worker_hand_off, .hand_off_arg = w,
	};
	w->conns = pdp_conns_new(w->base, listen_fd, &o, on_request, w);
	if (!w->conns)
		return -1;
	pdp_conns_set_ctx(w->conns, w->ssl_ctx);
	return 0;
}
