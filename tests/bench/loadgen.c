/*
 * loadgen.c -- an HTTP/1.1 load generator over mutual TLS (libevent +
 * OpenSSL), for `make bench-server`.
 *
 * usage: loadgen HOST PORT CA CERT KEY BODIES.jsonl PATH CONNECTIONS SECONDS
 *
 * Opens CONNECTIONS keep-alive TLS connections with the client certificate,
 * and on each sends POST PATH with the next body of BODIES (round-robin, one
 * JSON document per line) as soon as the previous answer is complete. After
 * SECONDS it prints requests/s, the status counts and the latency p50, p99
 * and p99.9. A benchmark: it prints figures and asserts nothing.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdp/yaml.h"

struct gen {
	struct event_base *base;
	SSL_CTX *ctx;
	struct sockaddr_in addr;
	char **reqs;              /* full HTTP requests */
	size_t *req_len, nreqs, next;
	double *lat;
	size_t nlat, cap;
	unsigned long ok, bad, errors;
	int stopping;
};

struct conn {
	struct gen *g;
	struct bufferevent *bev;
	double sent_at;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void send_next(struct conn *c)
{
	struct gen *g = c->g;
	size_t i = g->next++ % g->nreqs;
	c->sent_at = now_s();
	bufferevent_write(c->bev, g->reqs[i], g->req_len[i]);
}

static void record(struct gen *g, double lat, int status)
{
	if (g->nlat == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 1 << 16;
		g->lat = pdp_xrealloc(g->lat, g->cap * sizeof(*g->lat));
	}
	g->lat[g->nlat++] = lat;
	if (status == 200)
		g->ok++;
	else
		g->bad++;
}

/* Consumes whole responses from the input buffer. */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos < 0)
			return;
		size_t hlen = (size_t)end.pos + 4;
		char *h = (char *)evbuffer_pullup(in, (ev_ssize_t)hlen);
		int status = atoi(h + 9);
		char *cl = strcasestr(h, "content-length:");
		size_t blen = cl && cl < h + hlen ? strtoul(cl + 15, NULL, 10) : 0;
		if (evbuffer_get_length(in) < hlen + blen)
			return;
		evbuffer_drain(in, hlen + blen);
		record(c->g, now_s() - c->sent_at, status);
		if (!c->g->stopping)
			send_next(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		send_next(c);
		return;
	}
	if (!c->g->stopping) {
		c->g->errors++;
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e && c->g->errors < 4)
			fprintf(stderr, "loadgen: %s\n", ERR_error_string(e, NULL));
	}
	bufferevent_free(bev);
	c->bev = NULL;
}

static int load_bodies(struct gen *g, const char *path, const char *host, const char *urlpath)
{
	char *data = NULL;
	size_t len = 0;
	if (pdp_file_read(path, 1u << 28, &data, &len) != PDP_OK)
		return -1;
	for (char *s = data; s < data + len;) {
		char *nl = memchr(s, '\n', (size_t)(data + len - s));
		size_t l = nl ? (size_t)(nl - s) : (size_t)(data + len - s);
		if (l) {
			g->reqs = pdp_xrealloc(g->reqs, (g->nreqs + 1) * sizeof(*g->reqs));
			g->req_len = pdp_xrealloc(g->req_len, (g->nreqs + 1) * sizeof(*g->req_len));
			size_t cap = l + 256;
			char *r = pdp_xmalloc(cap);
			int n = snprintf(r, cap, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\n\r\n%.*s", urlpath, host, l, (int)l, s);
			g->reqs[g->nreqs] = r;
			g->req_len[g->nreqs++] = (size_t)n;
		}
		s += l + 1;
	}
	free(data);
	return g->nreqs ? 0 : -1;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct gen *g = arg;
	g->stopping = 1;
	event_base_loopexit(g->base, NULL);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 10) {
		fputs("usage: loadgen HOST PORT CA CERT KEY BODIES.jsonl PATH CONNECTIONS SECONDS\n", stderr);
		return 2;
	}
	struct gen g = { 0 };
	g.base = event_base_new();
	g.ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER, NULL);
	if (!SSL_CTX_load_verify_locations(g.ctx, argv[3], NULL) ||
	    SSL_CTX_use_certificate_chain_file(g.ctx, argv[4]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(g.ctx, argv[5], SSL_FILETYPE_PEM) != 1 ||
	    load_bodies(&g, argv[6], argv[1], argv[7]) != 0) {
		fputs("loadgen: cannot load certificates or bodies\n", stderr);
		return 2;
	}
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &g.addr.sin_addr);
	int nconn = atoi(argv[8]);
	double secs = atof(argv[9]);
	struct conn *conns = pdp_xcalloc((size_t)nconn, sizeof(*conns));
	for (int i = 0; i < nconn; i++) {
		SSL *ssl = SSL_new(g.ctx);
		SSL_set_tlsext_host_name(ssl, "localhost");
		conns[i].g = &g;
		conns[i].bev = bufferevent_openssl_socket_new(g.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
							      BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(conns[i].bev, on_read, NULL, on_event, &conns[i]);
		bufferevent_enable(conns[i].bev, EV_READ | EV_WRITE);
		bufferevent_socket_connect(conns[i].bev, (struct sockaddr *)&g.addr, sizeof(g.addr));
	}
	struct timeval tv = { (long)secs, (long)((secs - (long)secs) * 1e6) };
	struct event *stop = evtimer_new(g.base, on_stop, &g);
	evtimer_add(stop, &tv);
	double t0 = now_s();
	event_base_dispatch(g.base);
	double el = now_s() - t0;
	qsort(g.lat, g.nlat, sizeof(*g.lat), dcmp);
	double p50 = g.nlat ? g.lat[g.nlat / 2] : 0, p99 = g.nlat ? g.lat[g.nlat * 99 / 100] : 0;
	double p999 = g.nlat ? g.lat[g.nlat * 999 / 1000] : 0;
	printf("%.0f req/s  (%lu ok, %lu non-200, %lu connection errors, %d connections, %.1f s)  "
	       "p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n",
	       (double)g.nlat / el, g.ok, g.bad, g.errors, nconn, el, p50 * 1e3, p99 * 1e3, p999 * 1e3);
	for (int i = 0; i < nconn; i++)
		if (conns[i].bev)
			bufferevent_free(conns[i].bev);
	event_free(stop);
	free(conns);
	for (size_t i = 0; i < g.nreqs; i++)
		free(g.reqs[i]);
	free(g.reqs);
	free(g.req_len);
	free(g.lat);
	SSL_CTX_free(g.ctx);
	event_base_free(g.base);
	return 0;
}
