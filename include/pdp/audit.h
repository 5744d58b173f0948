/*
 * audit.h -- the audit log: an append-only, hash-chained, signed record of
 * every decision (SPEC 5; byte format in docs/audit-log-format.md).
 *
 * Design: one pdp_audit per log directory; one thread at a time writes it.
 * Worker threads each own a pdp_audit_queue. A worker submits a record
 * (non-blocking; the bytes are copied) and keeps the request pending; the
 * writing thread takes everything queued as one batch, gives the records
 * their sequence numbers in queue order, writes them with one write(2),
 * makes them durable with one fdatasync (in `always` mode) and only then
 * posts the completions to each worker's queue and calls its notify(). The
 * writing thread is the log's own writer thread, or, for a queue flushed by
 * its owner (pdp_audit_flush), a worker at the end of its event-loop turn:
 * the only places in meshpdp that block on the disk. The worker's
 * pdp_audit_queue_drain() runs the `done` callbacks, in submission order,
 * on the worker's own thread.
 *
 * Backpressure, never loss: the records in flight (submitted and not yet
 * drained) are bounded by count and by bytes. When the bound is reached
 * pdp_audit_submit returns PDP_E_BUSY at once; nothing is dropped. A record
 * is reported done with PDP_OK only once it is written (and, in `always`
 * mode, fsync'd); every other outcome is an error given to `done`.
 *
 * Ownership: pdp_audit_open returns a log the caller owns; close it with
 * pdp_audit_close after every queue is freed. A queue belongs to the thread
 * that made it; pdp_audit_queue_free blocks until that queue's records are
 * completed and runs their callbacks. Strings in the config are copied.
 */
#ifndef PDP_AUDIT_H
#define PDP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pdp/buf.h"
#include "pdp/err.h"

typedef struct pdp_audit pdp_audit;             /* the log: one writer thread */
typedef struct pdp_audit_queue pdp_audit_queue; /* one per worker thread */

enum pdp_audit_fsync {
	PDP_AUDIT_FSYNC_ALWAYS,   /* answered => on disk (default) */
	PDP_AUDIT_FSYNC_INTERVAL, /* written at once, fdatasync every interval */
	PDP_AUDIT_FSYNC_NONE,     /* written at once, the kernel flushes */
};
bool pdp_audit_fsync_parse(const char *s, enum pdp_audit_fsync *ret);
const char *pdp_audit_fsync_name(enum pdp_audit_fsync m);

/* Test hook (fault injection): replaces the system calls the writer makes
 * on segment files. NULL members mean the real call. Never set in
 * production configs. */
typedef struct pdp_audit_io {
	ssize_t (*write)(void *ctx, int fd, const void *p, size_t n);
	int (*fdatasync)(void *ctx, int fd);
	void *ctx;
} pdp_audit_io;

typedef struct pdp_audit_config {
	const char *dir;                 /* required; created (0700) if missing */
	const char *log_id;              /* origin line; required, e.g. "pdp.example/audit" */
	const char *checkpoint_key;      /* required: PEM Ed25519 private key file */
	enum pdp_audit_fsync fsync;      /* default ALWAYS */
	unsigned fsync_interval_ms;      /* INTERVAL mode; default 200 */
	size_t queue_max_records;        /* records in flight; default 16384 */
	size_t queue_max_bytes;          /* bytes in flight; default 64 MiB */
	size_t record_max_bytes;         /* one record's fields; default 1 MiB */
	uint64_t segment_max_bytes;      /* rotate at this size; default 64 MiB */
	uint64_t checkpoint_every;       /* records between checkpoints; default 10000 */
	unsigned checkpoint_every_ms;    /* and at least this often; default 10000 */
	unsigned fail_timeout_ms;        /* retry a failing write this long; default 5000 */
	const char *witness_dir;         /* optional: each checkpoint also written here */
	const char *hmac_key;            /* optional: key file for subject pseudonyms */
	bool new_chain;                  /* on a corrupt log: start a new chain */
	const char *start_fields;        /* optional JSON object merged into `start` */
	const pdp_audit_io *io;          /* test hook, NULL in production */
} pdp_audit_config;

/* Fills in the defaults above (dir, log_id and checkpoint_key stay NULL). */
void pdp_audit_config_init(pdp_audit_config *c);

/* Opens the log: locks the directory, verifies the tail of the last
 * segment, cuts off a torn last line, refuses a log corrupt further back
 * (unless new_chain), writes genesis (new log), recovery (after an unclean
 * stop), start and a checkpoint, makes them durable, and starts the writer.
 * On failure a one-line reason is appended to errmsg. */
PDP_MUST_USE enum pdp_err pdp_audit_open(const pdp_audit_config *c, pdp_audit **ret,
					 pdp_buf *errmsg);

/* Stops the log: every record already submitted is written, then `stop`
 * (with reason, may be NULL) and a checkpoint, fdatasync, and the writer is
 * joined. All queues must have been freed. Frees `a` whatever the result;
 * an error means the stop record could not be made durable. Accepts NULL. */
PDP_MUST_USE enum pdp_err pdp_audit_close(pdp_audit *a, const char *reason);

/* A completion queue for one worker thread. notify(arg) is called from the
 * writing thread (any thread) when completions are ready (the server event_active()s a
 * worker event); it must not block. It is called once, and not again until
 * the owner has called pdp_audit_queue_drain: completions posted while the
 * worker is already notified are picked up by that drain, without a
 * second wake-up. So notify must lead to a drain (as the server's event
 * does); draining more often is harmless. */
pdp_audit_queue *pdp_audit_queue_new(pdp_audit *a, void (*notify)(void *arg), void *arg);

/* On the owning thread: waits until every record submitted through q is
 * completed, runs their `done` callbacks, and frees q. Accepts NULL. */
void pdp_audit_queue_free(pdp_audit_queue *q);

/* Queues one record. `type` is [a-z][a-z0-9_]{0,31} and not one the writer
 * makes itself (genesis, start, stop, recovery, checkpoint). fields_json is
 * a JSON object (its members become the record's payload; reals, duplicate
 * keys and the envelope keys v/seq/ts/type/prev/hash are refused); it is
 * copied and canonicalised. Non-blocking. Returns PDP_E_BUSY when the
 * in-flight bound is reached (retry later), PDP_E_INVALID / PDP_E_LIMIT for
 * a bad or too large record, PDP_E_IO when the log has failed closed or is
 * closing. Only on PDP_OK will done(arg, seq, err) be called, exactly once,
 * from pdp_audit_queue_drain on the queue's thread: err == PDP_OK means the
 * record is written as seq (and fsync'd in `always` mode); any other err
 * means it was not written. */
PDP_MUST_USE enum pdp_err pdp_audit_submit(pdp_audit_queue *q, const char *type,
					   const char *fields_json, size_t len,
					   void (*done)(void *arg, uint64_t seq, enum pdp_err err),
					   void *arg);

/* On the owning thread: runs `done` for completed records, in order. */
void pdp_audit_queue_drain(pdp_audit_queue *q);

/* Opts q into writing on its owner's thread: a submit through q no longer
 * wakes the writer thread; instead the owner calls pdp_audit_flush(q) after
 * a turn of submits (once per event-loop turn). Call before the first
 * submit. */
void pdp_audit_queue_flush_by_owner(pdp_audit_queue *q);

/* On the owning thread: when no other thread is writing, writes every
 * record pending (any queue's) here, one attempt, fdatasync included in
 * `always` mode, and hands the completions back; this saves the two
 * thread wake-ups of the writer thread. When another thread is writing, or
 * the attempt fails, the records stay with the writer thread, which retries
 * as usual. Blocks for a write (and fdatasync), never for retries. */
void pdp_audit_flush(pdp_audit_queue *q);

/* Appends the latest durable signed checkpoint (the note text, SPEC 5) for
 * GET /v1/audit/checkpoint. */
PDP_MUST_USE enum pdp_err pdp_audit_checkpoint(pdp_audit *a, pdp_buf *out);

/* Counters for /metrics and /v1/status. */
typedef struct pdp_audit_stats {
	uint64_t records;          /* records written since open (all types) */
	uint64_t batches;          /* write units committed */
	uint64_t fsyncs;
	uint64_t fsync_ns_total;
	uint64_t fsync_ns_max;
	uint64_t bytes;            /* bytes written since open */
	uint64_t checkpoints;
	uint64_t rotations;
	uint64_t busy;             /* submits refused with PDP_E_BUSY */
	uint64_t write_errors;     /* failed write/fdatasync attempts */
	uint64_t failed_records;   /* records completed with an error */
	uint64_t witness_errors;
	uint64_t inflight_records;
	uint64_t inflight_bytes;
	uint64_t next_seq;         /* = records in the log */
	uint64_t checkpoint_size;  /* size of the latest checkpoint */
	char head[65];             /* hex hash of the last record */
	bool writable;             /* false while writes fail or after fail-closed */
} pdp_audit_stats;
void pdp_audit_stats_get(pdp_audit *a, pdp_audit_stats *ret);

/* ---- record builders (canonical payloads for pdp_audit_submit) -------- */

struct pdp_request;
struct pdp_decision;

/* A fresh decision id: a UUIDv7 string (36 chars + NUL). Each call draws
 * from OpenSSL's RAND_bytes (about 1 us: a lock and a getpid). */
void pdp_audit_decision_id(char ret[37]);

/* The same, on q's owning thread, with the randomness drawn from
 * RAND_bytes 4 KiB at a time into q (256 ids per draw; each byte is used
 * once and wiped, the rest wiped by pdp_audit_queue_free). The ids are
 * as unpredictable as pdp_audit_decision_id's; the one caveat is fork(2):
 * a child must not use a queue its parent made (it could not anyway: the
 * writer thread is not in the child). */
void pdp_audit_queue_decision_id(pdp_audit_queue *q, char ret[37]);

/* Builds the payload of a `decision` record (docs/audit-log-format.md):
 * decision_id, request id, caller, subject (id pseudonymised when the log
 * has an HMAC key), action, product, columns asked, per-column outcome,
 * reasons, row filter, policy revision. Appends a canonical JSON object. */
PDP_MUST_USE enum pdp_err pdp_audit_fields_decision(pdp_audit *a, const char *decision_id,
						    const char *caller,
						    const struct pdp_request *req,
						    const struct pdp_decision *dec,
						    pdp_buf *out);

/* Payload of a `refused` record: a caller turned away before a decision
 * (reason e.g. "no_role", "bad_request", "no_client_cert"). Optional
 * strings may be NULL. */
PDP_MUST_USE enum pdp_err pdp_audit_fields_refused(const char *caller, const char *reason,
						   int status, const char *method,
						   const char *path, const char *request_id,
						   const char *message, pdp_buf *out);

/* Payload of a `reload` record: one reload attempt. */
PDP_MUST_USE enum pdp_err pdp_audit_fields_reload(bool ok, const char *trigger,
						  const char *caller,
						  const char *old_revision,
						  const char *new_revision,
						  const char *error, pdp_buf *out);

/* The subject pseudonym: lowercase hex HMAC-SHA256(key, id) (64 chars +
 * NUL). Returns false when the log has no HMAC key. */
bool pdp_audit_pseudonym(pdp_audit *a, const char *id, size_t len, char ret[65]);

#endif
