/*
 * conn.c -- client connections (see conn.h).
 *
 * States: HANDSHAKE, then OPEN. In OPEN a connection is reading a request
 * (possibly pipelined behind others), or `busy` (a request was handed to
 * the handler and its reply is owed), or flushing a reply the socket could
 * not take at once. The read event is registered once, persistent; the
 * write event only while a reply is blocked; one timer per connection
 * covers the handshake, a slow request and the keep-alive idle time.
 *
 * Ownership: the worker's pdp_conns owns every connection (a doubly linked
 * list); a connection owns its SSL, socket, buffers and events. A
 * connection that failed or was hung up on while busy is kept (`dead`)
 * until its reply arrives, then freed.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"

enum { READ_CHUNK = 16384, ACCEPT_BATCH = 32, IN_SLACK = 65536 };
/* After a reply that closes: how long, and how much, unread input is taken
 * and dropped before the socket is closed (see linger). */
enum { LINGER_MS = 2000, LINGER_BYTES = 1 << 20 };

struct pdp_hconn {
	pdp_conns *cs;
	pdp_hconn *prev, *next;
	int fd;
	SSL *ssl;
	struct event rev, wev, tev;
	char *in;
	size_t in_len, in_cap;
	pdp_buf out;
	size_t out_off;
	pdp_buf chunked;          /* the decoded body of a chunked request */
	pdp_hreq req;
	size_t req_len;           /* bytes of the request in `in` */
	char *identity;
	bool handshaken, have_head, sent_continue;
	bool busy, in_dispatch, read_paused, timer_partial;
	bool eof, dead, fatal, close_after;
	bool over_limit, lingering;
	size_t lingered;          /* bytes dropped while lingering */
};

struct pdp_conns {
	struct event_base *base;
	struct event *accept_ev;
	struct event *accept_pause; /* out of descriptors: accept again later */
	SSL_CTX *ctx;
	pdp_conns_opts o;
	pdp_hreq_handler fn;
	void *arg;
	pdp_hconn *head;
	size_t in_max;
};

static void conn_after(pdp_hconn *c);
static void process_input(pdp_hconn *c);

static struct timeval tv_ms(int ms)
{
	return (struct timeval){ ms / 1000, (ms % 1000) * 1000 };
}

static void set_timer(pdp_hconn *c, int ms)
{
	struct timeval tv = tv_ms(ms);
	evtimer_add(&c->tev, &tv);
}

/* TLS close_notify, best effort, unless the session is broken. */
static void close_notify(pdp_hconn *c)
{
	if (c->handshaken && !c->fatal)
		SSL_shutdown(c->ssl);
	ERR_clear_error();
}

static void conn_free(pdp_hconn *c)
{
	pdp_conns *cs = c->cs;
	event_del(&c->rev);
	event_del(&c->wev);
	event_del(&c->tev);
	if (!c->lingering) /* lingering sent it already */
		close_notify(c);
	SSL_free(c->ssl);
	close(c->fd);
	free(c->in);
	free(c->identity);
	pdp_buf_done(&c->out);
	pdp_buf_done(&c->chunked);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub_explicit(&cs->o.metrics->open_connections, 1, memory_order_relaxed);
	free(c);
}

/* SSL_read failed. The requests read before an EOF, a bare FIN or even a
 * reset are still served, in order (a client that sends a request and
 * closes at once often resets: unread session tickets turn its FIN into an
 * RST); their replies are then written, or fail. Only a clean close_notify
 * is answered with one. */
static void read_failed(pdp_hconn *c, int rc)
{
	c->eof = true;
	c->fatal = SSL_get_error(c->ssl, rc) != SSL_ERROR_ZERO_RETURN;
	ERR_clear_error();
	event_del(&c->rev); /* level-triggered: an EOF stays readable */
}

/* ---- writing -------------------------------------------------------------- */

static void flush_out(pdp_hconn *c)
{
	while (!c->dead && c->out_off < c->out.len) {
		int n = SSL_write(c->ssl, c->out.data + c->out_off, (int)(c->out.len - c->out_off));
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			event_add(&c->wev, NULL);
			set_timer(c, c->cs->o.read_timeout_ms); /* a client that does not read */
			return;
		}
		c->dead = true; /* a failed write is the end of the connection */
		c->fatal = true;
		ERR_clear_error();
	}
	pdp_buf_reset(&c->out);
	c->out_off = 0;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static enum pdp_err add_uint(pdp_buf *o, size_t v)
{
	char d[24];
	size_t n = sizeof(d);
	do
		d[--n] = (char)('0' + v % 10);
	while (v /= 10);
	return pdp_buf_add(o, d + n, sizeof(d) - n);
}

/* The status line and headers by hand: this runs once per request. */
static enum pdp_err format_reply(pdp_buf *o, const pdp_reply *rep, bool head_only, const char *body,
				 size_t len)
{
	PDP_TRY(pdp_buf_adds(o, "HTTP/1.1 "));
	PDP_TRY(add_uint(o, (size_t)rep->status));
	PDP_TRY(pdp_buf_addc(o, ' '));
	PDP_TRY(pdp_buf_adds(o, reason_of(rep->status)));
	PDP_TRY(pdp_buf_adds(o, "\r\nContent-Type: "));
	PDP_TRY(pdp_buf_adds(o, rep->content_type ? rep->content_type : "application/json"));
	PDP_TRY(pdp_buf_adds(o, "\r\nContent-Length: "));
	PDP_TRY(add_uint(o, len + 1));
	PDP_TRY(pdp_buf_adds(o, "\r\n"));
	if (rep->request_id && rep->request_id[0]) {
		PDP_TRY(pdp_buf_adds(o, "X-Request-Id: "));
		PDP_TRY(pdp_buf_adds(o, rep->request_id));
		PDP_TRY(pdp_buf_adds(o, "\r\n"));
	}
	if (rep->retry_after)
		PDP_TRY(pdp_buf_adds(o, "Retry-After: 1\r\n"));
	PDP_TRY(pdp_buf_adds(o, rep->close ? "Connection: close\r\n\r\n" : "\r\n"));
	if (head_only)
		return PDP_OK;
	PDP_TRY(pdp_buf_add(o, body, len));
	return pdp_buf_addc(o, '\n');
}

enum pdp_err pdp_error_json(pdp_buf *out, const char *code, const char *msg)
{
	PDP_TRY(pdp_buf_adds(out, "{\"error\":{\"code\":\""));
	PDP_TRY(pdp_buf_adds(out, code));
	PDP_TRY(pdp_buf_adds(out, "\",\"message\":"));
	PDP_TRY(pdp_buf_add_json_str(out, pdp_str_c(msg)));
	return pdp_buf_adds(out, "}}");
}

/* Answers a request that never reached the handler, then closes. */
static void reply_protocol_error(pdp_hconn *c, int status, const char *why)
{
	const char *code = status == 413 || status == 431 ? "limit" : status == 408 ? "timeout" : "bad_request";
	pdp_buf body;
	pdp_buf_init(&body, 0);
	pdp_reply rep = { .status = status, .close = true };
	if (pdp_error_json(&body, code, why) == PDP_OK)
		pdp_ignore(format_reply(&c->out, &rep, false, body.data, body.len));
	pdp_buf_done(&body);
	pdp_metrics_request(c->cs->o.metrics, status, 0);
	c->close_after = true;
	flush_out(c);
}

void pdp_hreq_reply(pdp_hreq *r, const pdp_reply *rep, const char *body, size_t len)
{
	pdp_hconn *c = r->conn;
	PDP_BUG_ON(!c->busy);
	c->busy = false;
	if (rep->close || !r->head.keep_alive)
		c->close_after = true;
	if (!c->dead) {
		pdp_reply actual = *rep;
		actual.close = c->close_after;
		if (format_reply(&c->out, &actual, r->head.method == PDP_HTTP_HEAD, body, len) != PDP_OK)
			c->dead = true;
		else
			flush_out(c);
	}
	if (c->in_dispatch)
		return; /* the dispatch loop carries on */
	conn_after(c);
}

/* ---- reading -------------------------------------------------------------- */

static bool grow_in(pdp_hconn *c, size_t max)
{
	if (c->in_cap - c->in_len >= READ_CHUNK / 2 || c->in_cap >= max)
		return c->in_cap > c->in_len;
	size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
	if (cap > max)
		cap = max;
	c->in = pdp_xrealloc(c->in, cap);
	c->in_cap = cap;
	return true;
}

/* Reads what the socket has, up to the buffer's limit; at the limit the
 * read event is paused until the pending request is answered. */
static void read_some(pdp_hconn *c)
{
	while (!c->eof && !c->dead) {
		if (!grow_in(c, c->cs->in_max)) {
			if (c->busy && !c->read_paused) {
				event_del(&c->rev);
				c->read_paused = true;
			}
			return;
		}
		size_t room = c->in_cap - c->in_len;
		int n = SSL_read(c->ssl, c->in + c->in_len, (int)room);
		if (n > 0) {
			c->in_len += (size_t)n;
			/* a short read with nothing left inside OpenSSL (read-ahead
			 * took what the socket had): stop here rather than pay
			 * for a read(2) that says EAGAIN; the read event is
			 * level-triggered, so more bytes wake us again */
			if ((size_t)n < room && !SSL_has_pending(c->ssl))
				return;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return;
		read_failed(c, n);
	}
}

/* Views of the head made C strings: the byte after each view is a
 * delimiter of the head (SP, CR, LF, tab), already consumed. */
static const char *terminate(pdp_str v)
{
	if (!v.p)
		return NULL;
	((char *)v.p)[v.len] = '\0';
	return v.p;
}

static void send_continue(pdp_hconn *c)
{
	if (!c->req.head.expect_continue || c->sent_continue)
		return;
	c->sent_continue = true;
	pdp_ignore(pdp_buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n"));
	flush_out(c);
}

/* 1: a whole request is in c->req; 0: incomplete; -1: refused (answered). */
static int parse_request(pdp_hconn *c)
{
	const pdp_conns_opts *o = &c->cs->o;
	int status = 0;
	const char *why = NULL;
	pdp_http_head *h = &c->req.head;
	if (!c->have_head) {
		enum pdp_http_result r = pdp_http_parse_head(c->in, c->in_len, o->max_head, h, &status, &why);
		if (r == PDP_HTTP_NEED_MORE)
			return 0;
		if (r == PDP_HTTP_BAD)
			return reply_protocol_error(c, status, why), -1;
		if (h->content_length > (int64_t)o->max_body)
			return reply_protocol_error(c, 413, "request body too large"), -1;
		c->have_head = true;
		c->sent_continue = false;
	}
	const char *b = c->in + h->head_len;
	size_t avail = c->in_len - h->head_len;
	if (h->chunked) {
		size_t used = 0;
		pdp_buf_reset(&c->chunked);
		enum pdp_http_result r = pdp_http_dechunk(b, avail, o->max_body, &c->chunked, &used, &status, &why);
		if (r == PDP_HTTP_BAD)
			return reply_protocol_error(c, status, why), -1;
		if (r == PDP_HTTP_NEED_MORE)
			return send_continue(c), 0;
		c->req.body = c->chunked.data ? c->chunked.data : "";
		c->req.body_len = c->chunked.len;
		c->req_len = h->head_len + used;
		return 1;
	}
	size_t need = h->content_length > 0 ? (size_t)h->content_length : 0;
	if (avail < need)
		return send_continue(c), 0;
	c->req.body = b;
	c->req.body_len = need;
	c->req_len = h->head_len + need;
	return 1;
}

static void dispatch(pdp_hconn *c)
{
	pdp_hreq *r = &c->req;
	r->conn = c;
	r->method = terminate(r->head.method_name);
	r->target = terminate(r->head.target);
	r->content_type = r->head.content_type.len ? terminate(r->head.content_type) : NULL;
	r->request_id = r->head.request_id.len ? terminate(r->head.request_id) : NULL;
	r->identity = c->identity;
	r->over_limit = c->over_limit;
	c->busy = true;
	c->in_dispatch = true;
	c->timer_partial = false;
	c->cs->fn(r, c->cs->arg);
	c->in_dispatch = false;
	memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
	c->in_len -= c->req_len;
	c->have_head = false;
}

/* Serves the buffered requests, one at a time, while nothing is owed. */
static void process_input(pdp_hconn *c)
{
	while (!c->busy && !c->dead && !c->close_after && c->out.len == 0) {
		int r = parse_request(c);
		if (r == 0 && c->in_len == c->cs->in_max) /* a chunked body larger than the buffer */
			reply_protocol_error(c, 413, "request too large");
		if (r <= 0)
			break;
		dispatch(c);
	}
	if (c->busy || c->dead || c->close_after || c->out.len)
		return;
	if (c->in_len && !c->timer_partial) { /* a request has begun: it must end in time */
		c->timer_partial = true;
		set_timer(c, c->cs->o.read_timeout_ms);
	} else if (!c->in_len) {
		c->timer_partial = false;
		set_timer(c, c->cs->o.idle_timeout_ms);
	}
}

/* Lingering: what the client still sends is read and dropped until it
 * closes, LINGER_BYTES have come or LINGER_MS have passed. */
static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	pdp_hconn *c = arg;
	char drop[4096];
	for (;;) {
		ssize_t n = read(fd, drop, sizeof(drop));
		if (n > 0 && (c->lingered += (size_t)n) <= LINGER_BYTES)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* the client closed, failed, or sent too much */
	}
	conn_free(c);
}

/* After a reply that closes the connection (an error such as 431 or 413,
 * or Connection: close): close_notify and FIN, then drop what the client
 * still sends. Closing a socket with unread input makes the kernel send a
 * reset, and a reset can destroy the reply in the client's receive buffer
 * before the client reads it (RFC 9112 section 9.6). Bounded in time and
 * bytes, so no client can hold a connection open this way. */
static void linger(pdp_hconn *c)
{
	close_notify(c);
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	c->timer_partial = false;
	event_del(&c->rev);
	event_del(&c->wev);
	event_assign(&c->rev, c->cs->base, c->fd, EV_READ | EV_PERSIST, on_linger, c);
	event_add(&c->rev, NULL);
	set_timer(c, LINGER_MS); /* on_timer then closes */
}

/* After any event: close, linger, free, or carry on. */
static void conn_after(pdp_hconn *c)
{
	if (c->busy)
		return; /* a reply is owed: keep the connection, dead or not */
	if (!c->dead && c->read_paused) {
		c->read_paused = false;
		event_add(&c->rev, NULL);
		read_some(c);
	}
	if (!c->dead)
		process_input(c);
	if (c->busy)
		return;
	bool flushed = c->out.len == 0;
	if (!c->dead && flushed && c->close_after && !c->eof) {
		linger(c);
		return;
	}
	if (c->dead || (flushed && (c->close_after || c->eof)))
		conn_free(c);
}

static bool handshake(pdp_hconn *c)
{
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		c->handshaken = true;
		c->identity = pdp_tls_peer_identity(c->ssl);
		return true;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ)
		return false;
	if (e == SSL_ERROR_WANT_WRITE) {
		event_add(&c->wev, NULL);
		return false;
	}
	c->dead = true;
	c->fatal = true;
	ERR_clear_error();
	return false;
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_hconn *c = arg;
	if (!c->handshaken) {
		if (handshake(c))
			set_timer(c, c->cs->o.read_timeout_ms);
		else if (!c->dead)
			return;
	}
	if (c->out.len)
		flush_out(c);
	if (!c->dead && !c->read_paused)
		read_some(c);
	conn_after(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_hconn *c = arg;
	if (c->busy)
		return; /* the reply re-arms it */
	if (c->handshaken && c->timer_partial && !c->out.len) {
		c->timer_partial = false;
		reply_protocol_error(c, 408, "the request was not received in time");
	}
	c->dead = true; /* handshake, idle, unread reply: close */
	conn_after(c);
}

/* ---- accepting ------------------------------------------------------------ */

static void conn_new(pdp_conns *cs, int fd)
{
	SSL *ssl = cs->ctx ? SSL_new(cs->ctx) : NULL;
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		return;
	}
	SSL_set_accept_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	pdp_hconn *c = pdp_xcalloc(1, sizeof(*c));
	c->cs = cs;
	c->fd = fd;
	c->ssl = ssl;
	pdp_buf_init(&c->out, 0);
	pdp_buf_init(&c->chunked, cs->o.max_body);
	c->over_limit = atomic_fetch_add_explicit(&cs->o.metrics->open_connections, 1, memory_order_relaxed) >=
			cs->o.max_open;
	event_assign(&c->rev, cs->base, fd, EV_READ | EV_PERSIST, on_io, c);
	event_assign(&c->wev, cs->base, fd, EV_WRITE, on_io, c);
	evtimer_assign(&c->tev, cs->base, on_timer, c);
	c->next = cs->head;
	if (cs->head)
		cs->head->prev = c;
	cs->head = c;
	event_add(&c->rev, NULL);
	set_timer(c, cs->o.read_timeout_ms);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	pdp_conns *cs = arg;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
				return;
			pdp_log(PDP_LOG_WARN, "accept_failed", NULL, "accept: %s; pausing accept for 100 ms",
				strerror(errno));
			struct timeval tv = tv_ms(100); /* EMFILE stays readable: do not spin */
			event_del(cs->accept_ev);
			evtimer_add(cs->accept_pause, &tv);
			return;
		}
		if (!cs->o.hand_off || !cs->o.hand_off(cs->o.hand_off_arg, fd))
			conn_new(cs, fd);
	}
}

void pdp_conns_adopt(pdp_conns *cs, int fd)
{
	if (cs->accept_ev)
		conn_new(cs, fd);
	else
		close(fd);
}

static void on_accept_pause(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pdp_conns *cs = arg;
	if (cs->accept_ev)
		event_add(cs->accept_ev, NULL);
}

pdp_conns *pdp_conns_new(struct event_base *base, int listen_fd, const pdp_conns_opts *o,
			 pdp_hreq_handler fn, void *arg)
{
	pdp_conns *cs = pdp_xcalloc(1, sizeof(*cs));
	cs->base = base;
	cs->o = *o;
	cs->fn = fn;
	cs->arg = arg;
	cs->in_max = o->max_head + o->max_body + IN_SLACK;
	cs->accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, on_accept, cs);
	cs->accept_pause = evtimer_new(base, on_accept_pause, cs);
	if (!cs->accept_ev || !cs->accept_pause || event_add(cs->accept_ev, NULL) != 0) {
		pdp_conns_free(cs);
		return NULL;
	}
	return cs;
}

void pdp_conns_set_ctx(pdp_conns *cs, SSL_CTX *ctx)
{
	cs->ctx = ctx;
}

void pdp_conns_stop_accepting(pdp_conns *cs)
{
	if (cs && cs->accept_ev) {
		event_free(cs->accept_ev);
		cs->accept_ev = NULL;
	}
	if (cs && cs->accept_pause) {
		event_free(cs->accept_pause);
		cs->accept_pause = NULL;
	}
}

void pdp_conns_free(pdp_conns *cs)
{
	if (!cs)
		return;
	pdp_conns_stop_accepting(cs);
	while (cs->head)
		conn_free(cs->head);
	free(cs);
}
