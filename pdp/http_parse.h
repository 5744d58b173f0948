/*
 * http_parse.h -- the HTTP/1.1 request parser (RFC 9112), on bytes only:
 * no sockets, no allocation, so it is unit-tested and fuzzed on its own
 * (tests/fuzz/fuzz_http.c).
 *
 * What it accepts, and why it is strict where it is:
 *  - a request line `METHOD SP target SP HTTP/1.x` and header fields
 *    `name: value`, lines ending in CRLF (a bare LF is accepted too, as
 *    nginx does);
 *  - obsolete line folding, a space before the colon, a header name with a
 *    character outside the token set, a NUL in the head, are refused (400):
 *    they are the classic request-smuggling vectors;
 *  - Content-Length must be digits only; two different values, or both
 *    Content-Length and Transfer-Encoding, are refused (400, RFC 9112 6.3);
 *    Transfer-Encoding other than exactly `chunked` is refused (501);
 *  - the head (request line and headers) is bounded by the caller's max.
 * Views in the result point into the caller's buffer.
 */
#ifndef PDP_HTTP_PARSE_H
#define PDP_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdp/buf.h"

enum pdp_http_method {
	PDP_HTTP_OTHER = 0,
	PDP_HTTP_GET,
	PDP_HTTP_POST,
	PDP_HTTP_HEAD,
	PDP_HTTP_PUT,
	PDP_HTTP_DELETE,
	PDP_HTTP_PATCH,
	PDP_HTTP_OPTIONS,
};

typedef struct pdp_http_head {
	enum pdp_http_method method;
	pdp_str method_name;
	pdp_str target;           /* the request-target, query included */
	int minor;                /* HTTP/1.minor */
	int64_t content_length;   /* -1: no Content-Length */
	bool chunked;             /* Transfer-Encoding: chunked */
	bool keep_alive;          /* from the version and Connection */
	bool expect_continue;     /* Expect: 100-continue */
	pdp_str content_type;     /* empty: absent */
	pdp_str request_id;       /* X-Request-Id, empty: absent */
	size_t head_len;          /* bytes up to and including the blank line */
} pdp_http_head;

enum pdp_http_result {
	PDP_HTTP_NEED_MORE = 0,   /* incomplete: read more and call again */
	PDP_HTTP_DONE = 1,
	PDP_HTTP_BAD = -1,        /* answer `status` and close */
};

/* Parses the head at buf[0..len). On PDP_HTTP_BAD, *status is the answer
 * (400, 431 head too large, 501 unsupported transfer coding) and *why a
 * static message. */
enum pdp_http_result pdp_http_parse_head(const char *buf, size_t len, size_t max_head,
					 pdp_http_head *ret, int *status, const char **why);

/* Decodes a chunked body at buf[0..len) into out (at most max_body bytes
 * of data); on PDP_HTTP_DONE *consumed is the length of the encoding
 * (trailers included). Decodes from the start on each call: the caller
 * resets out first. */
enum pdp_http_result pdp_http_dechunk(const char *buf, size_t len, size_t max_body, pdp_buf *out,
				      size_t *consumed, int *status, const char **why);

#endif
