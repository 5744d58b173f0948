/*
 * server.h -- the server context: the one place where server-wide mutable
 * state lives (STYLE: no other mutable globals).
 *
 * Threads: the main thread owns the listener, the signals, the reload and
 * the file watch; N workers each run their own event_base and connections
 * (conn.c) on a dup() of the listening socket. The worker that accepts a
 * socket passes it to the worker with the fewest connections (an inbox and
 * an event); from then on the connection never changes thread.
 *
 * Policy revisions: each worker holds its own reference to the revision it
 * serves, touched only on its thread. A reload builds and verifies the new
 * revision on the main thread, then posts it to every worker
 * (event_base_once), which swaps its pointer and drops its old reference; a
 * request takes its own reference at its start, so it finishes on the
 * revision it began with. The last unref frees a revision (one arena).
 */
#ifndef PDP_SERVER_H
#define PDP_SERVER_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "conn.h"
#include "metrics.h"
#include "pdp/audit.h"
#include "pdp/arena.h"
#include "pdp/policy.h"

struct pdp_server;

typedef struct pdp_worker {
	int id;
	struct pdp_server *srv;
	pthread_t thread;
	struct event_base *base;
	pdp_conns *conns;        /* this worker's client connections */
	int listen_fd;           /* a dup() of the server's listener; -1 once closed */
	pdp_policy *policy;      /* this worker's reference (worker thread only) */
	SSL_CTX *ssl_ctx;        /* this worker's reference (worker thread only) */
	pdp_arena *scratch;      /* per-request arena, reset after each request */
	pdp_audit_queue *aq;     /* completions of this worker's records */
	struct event *audit_ev;  /* made active by the writer: drain aq */
	struct event *flush_ev;  /* made active by a submit: pdp_audit_flush at the turn's end */
	unsigned npending;       /* replies waiting for audit records (worker thread) */
	pdp_metrics metrics;
	/* sockets another worker accepted for this one (balancing) */
	pthread_mutex_t inbox_lock;
	int *inbox;              /* guarded by inbox_lock */
	size_t ninbox, inbox_cap;
	struct event *inbox_ev;  /* made active by the accepting worker */
	atomic_int inbound;      /* handed over, not yet adopted */
} pdp_worker;

typedef struct pdp_reload_status {
	char revision[72];
	double loaded_at;
	double last_attempt_at;
	int last_ok;
	char last_error[512];
	unsigned long ok, failed;
} pdp_reload_status;

typedef struct pdp_server {
	pdp_config cfg;
	uint8_t pubkey[32];
	int has_pubkey;
	int listen_fd;
	int nworkers;
	pdp_worker *workers;
	struct event_base *main_base;
	pthread_mutex_t lock;        /* guards `status` (read by /v1/status) */
	pdp_reload_status status;
	struct timespec bundle_stamp; /* mtime of the bundle last loaded */
	long long bundle_ino, bundle_size;
	pdp_audit *audit;            /* NULL when audit.dir is not set */
	pdp_audit_queue *main_aq;    /* reload records (main thread) */
	struct event *main_audit_ev;
	atomic_int draining;
	atomic_ulong tls_failures;
} pdp_server;

int pdp_server_run(pdp_server *s);
/* Loads and verifies the bundle and TLS files, then posts both to the
 * workers; on failure the old ones keep serving. Main thread only. */
int pdp_server_reload(pdp_server *s, const char *why, const char *caller);
void pdp_server_status_copy(pdp_server *s, pdp_reload_status *ret);

/* conn.c's hand_off: takes fd to the worker with the fewest connections
 * when that is not w (any worker's thread). */
bool pdp_worker_hand_off(void *w, int fd);

/* http.c */
int pdp_http_setup(pdp_worker *w, int listen_fd);
void pdp_http_send(pdp_worker *w, pdp_hreq *r, int status, bool text, const char *request_id,
		   const char *body, size_t len);

#endif
