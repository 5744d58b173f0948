/*
 * conn.h -- a worker's client connections: accept, the TLS handshake,
 * HTTP/1.1 keep-alive with pipelining, timeouts, replies. One per worker,
 * used on that worker's thread only.
 *
 * Why not evhttp + bufferevent_openssl: they cost four epoll_ctl calls, a
 * dozen allocations and two evbuffer copies per request; here a connection
 * is one persistent read event (registered once), one SSL_read into the
 * connection's buffer and one SSL_write of the whole reply.
 *
 * A connection serves one request at a time, in order: the handler is
 * called with a request whose views (target, headers, body) are valid only
 * during the call; it answers with pdp_hreq_reply, then or later (after the
 * audit records are durable). The connection stays allocated until its
 * reply is given, even if the client has gone: a deferred reply never
 * points at freed memory.
 */
#ifndef PDP_CONN_H
#define PDP_CONN_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "http_parse.h"
#include "metrics.h"

typedef struct pdp_hconn pdp_hconn;
typedef struct pdp_conns pdp_conns;

typedef struct pdp_hreq {
	pdp_hconn *conn;
	pdp_http_head head;
	const char *method;       /* NUL-terminated; valid during the handler call */
	const char *target;       /* NUL-terminated; valid during the handler call */
	const char *content_type; /* NUL-terminated, NULL: absent */
	const char *request_id;   /* NUL-terminated, NULL: absent */
	const char *body;
	size_t body_len;
	const char *identity;     /* the verified caller (tls.c), NULL: none */
	bool over_limit;          /* accepted beyond max_connections */
} pdp_hreq;

typedef void (*pdp_hreq_handler)(pdp_hreq *r, void *arg);

typedef struct pdp_conns_opts {
	size_t max_head, max_body;
	int read_timeout_ms;      /* handshake, and a whole request from its first byte */
	int idle_timeout_ms;      /* a keep-alive connection between requests */
	int max_open;             /* this worker's share of max_connections */
	pdp_metrics *metrics;     /* open_connections, and protocol errors by status */
	/* Asked for each accepted socket: true when it took the socket to
	 * another worker (balancing), false to serve it here. NULL: serve here. */
	bool (*hand_off)(void *arg, int fd);
	void *hand_off_arg;
} pdp_conns_opts;

typedef struct pdp_reply {
	int status;
	const char *content_type; /* NULL: application/json */
	const char *request_id;   /* echoed as X-Request-Id when non-empty */
	bool retry_after;         /* Retry-After: 1 */
	bool close;               /* Connection: close, then close */
} pdp_reply;

/* listen_fd is borrowed (the caller closes it after pdp_conns_free). */
pdp_conns *pdp_conns_new(struct event_base *base, int listen_fd, const pdp_conns_opts *o,
			 pdp_hreq_handler fn, void *arg);
/* The context new connections are made with (borrowed: the worker holds
 * the reference; each SSL takes its own). */
void pdp_conns_set_ctx(pdp_conns *cs, SSL_CTX *ctx);
void pdp_conns_stop_accepting(pdp_conns *cs);
/* Serves a socket another worker accepted (this worker's thread); closes
 * it instead once this worker has stopped accepting. */
void pdp_conns_adopt(pdp_conns *cs, int fd);
/* Closes every connection, answered or not. */
void pdp_conns_free(pdp_conns *cs);

/* Appends the error body of SPEC 4, {"error":{"code":…,"message":…}}, the
 * message JSON-escaped. Every error answer is written by this. */
PDP_MUST_USE enum pdp_err pdp_error_json(pdp_buf *out, const char *code, const char *msg);

/* Answers r with the body (a newline is added); exactly once per request. */
void pdp_hreq_reply(pdp_hreq *r, const pdp_reply *rep, const char *body, size_t len);

#endif
