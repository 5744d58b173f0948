/*
 * audit_int.h -- internals of the audit log shared by the writer, the
 * verifier, the CLI and the tests. The byte format they implement is
 * docs/audit-log-format.md; section numbers below refer to it.
 *
 *   audit_record.c  canonical JSON (§3), record lines and hashes (§2, §4),
 *                   the RFC 6962 Merkle compact range (§6)
 *   audit_note.c    base64, Ed25519 keys, signed-note checkpoints (§7)
 *   audit_verify.c  the streaming verifier (§8) and `verify DIR`
 *   audit_open.c    segment files (§5), tail recovery and new chains (§9)
 *   audit_writer.c  the writer thread, queues, group commit, rotation
 *   audit_fields.c  payload builders for decision/refused/reload records
 */
#ifndef PDP_AUDIT_INT_H
#define PDP_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdp/audit.h"
#include "pdp/buf.h"
#include "pdp/err.h"

struct json_t;
struct evp_pkey_st;
struct evp_md_st;
struct evp_md_ctx_st;

#define PDP_AUDIT_VERSION 1
#define PDP_AUDIT_HASH 32
#define PDP_AUDIT_TS_LEN 27          /* 2025-01-31T12:34:56.123456Z */
#define PDP_AUDIT_SUFFIX_LEN 75      /* ,"hash":"<64 hex>"}  (newline not counted) */
#define PDP_AUDIT_TYPE_MAX 32
#define PDP_AUDIT_MAX_DEPTH 32       /* JSON nesting inside a payload */
#define PDP_AUDIT_NOTE_MAX 8192
#define PDP_AUDIT_NOTE_MAX_SIGS 16
#define PDP_AUDIT_LINE_MAX (16u << 20)
#define PDP_AUDIT_SEG_PREFIX "audit-"
#define PDP_AUDIT_SEG_SUFFIX ".log"
#define PDP_AUDIT_SEG_NAME_LEN 30    /* audit-<20 digits>.log */

/* ---- hashing ----------------------------------------------------------- */

/* A reusable SHA-256 context (one per thread that hashes). */
typedef struct pdp_audit_hasher {
	struct evp_md_st *md;
	struct evp_md_ctx_st *ctx;
} pdp_audit_hasher;

void pdp_audit_hasher_init(pdp_audit_hasher *h);
void pdp_audit_hasher_done(pdp_audit_hasher *h);
/* out = SHA-256(a || b); b may be NULL. */
void pdp_audit_sha256(pdp_audit_hasher *h, uint8_t out[32], const void *a, size_t alen,
		      const void *b, size_t blen);

bool pdp_audit_utf8_valid(const char *s, size_t n);
void pdp_audit_hex(const uint8_t *p, size_t n, char *out); /* writes 2n chars + NUL */
/* Strict lowercase hex of exactly 2n chars. */
bool pdp_audit_unhex(const char *s, size_t n, uint8_t *out);

/* ---- canonical JSON (§3) ----------------------------------------------- */

/* Appends s as a canonical JSON string. PDP_E_INVALID if s is not valid
 * UTF-8 or contains U+0000. */
PDP_MUST_USE enum pdp_err pdp_audit_add_str(pdp_buf *b, const char *s, size_t n);
/* Appends the canonical form of a jansson value (no reals). */
PDP_MUST_USE enum pdp_err pdp_audit_canon_json(pdp_buf *b, const struct json_t *v);
/* Checks that [p, p+n) is exactly one canonical JSON object whose top-level
 * keys are not envelope keys. On failure *why says what is wrong. */
bool pdp_audit_canon_object_check(const char *p, size_t n, const char **why);
/* Takes any JSON object text and appends its canonical members without the
 * braces (`"a":1,"b":[]`, empty for {}). Fast path when the input is
 * canonical already; otherwise parsed (duplicate keys refused) and
 * re-serialised. PDP_E_PARSE / PDP_E_INVALID with a reason in errmsg. */
PDP_MUST_USE enum pdp_err pdp_audit_canon_members(const char *json, size_t len, pdp_buf *out,
						  pdp_buf *errmsg);
bool pdp_audit_type_valid(const char *type, size_t len);

/* ---- record lines (§2, §4) --------------------------------------------- */

typedef struct pdp_audit_rec {
	uint64_t seq;
	const char *ts;               /* PDP_AUDIT_TS_LEN bytes */
	pdp_str type;
	uint8_t prev[32];
	uint8_t hash[32];             /* stored and checked against the body */
	pdp_str members;              /* payload members, `"k":v,...` or empty */
} pdp_audit_rec;

/* Parses and checks one line (without its newline): envelope, canonical
 * payload, and hash == SHA-256(body). *why is set on failure. The views in
 * *ret borrow from line. */
PDP_MUST_USE enum pdp_err pdp_audit_line_parse(pdp_audit_hasher *h, const char *line, size_t len,
					       pdp_audit_rec *ret, const char **why);
/* Appends one record line (with newline) and returns its hash. `members`
 * are canonical payload members as made by pdp_audit_canon_members. */
PDP_MUST_USE enum pdp_err pdp_audit_line_build(pdp_audit_hasher *h, pdp_buf *out, uint64_t seq,
					       const char ts[PDP_AUDIT_TS_LEN + 1],
					       const char *type, const uint8_t prev[32],
					       pdp_str members, uint8_t ret_hash[32]);
/* The current time as a record timestamp. */
void pdp_audit_ts_now(char ret[PDP_AUDIT_TS_LEN + 1]);

/* Payload accessors on checked (canonical) members. */
bool pdp_audit_member(pdp_str members, const char *key, pdp_str *ret_value);
PDP_MUST_USE enum pdp_err pdp_audit_member_str(pdp_str members, const char *key, pdp_buf *out);
bool pdp_audit_member_u64(pdp_str members, const char *key, uint64_t *ret);
/* A whole file mapped read-only (p NULL for an empty file). */
struct pdp_audit_mapped {
	const char *p;
	size_t len;
};
PDP_MUST_USE enum pdp_err pdp_audit_map_file(int dirfd, const char *name, struct pdp_audit_mapped *ret);
void pdp_audit_unmap_file(struct pdp_audit_mapped *m); /* accepts an unmapped one */

/* Decodes a canonical JSON string literal (quotes included) into out. */
PDP_MUST_USE enum pdp_err pdp_audit_unescape(pdp_str lit, pdp_buf *out);

/* ---- Merkle tree, RFC 6962 (§6) ---------------------------------------- */

typedef struct pdp_audit_mth {
	uint64_t size;                /* leaves */
	unsigned n;                   /* subtrees in the compact range */
	uint8_t range[64][32];        /* largest (leftmost) first */
} pdp_audit_mth;

void pdp_audit_mth_init(pdp_audit_mth *m);
/* Appends the leaf for a record: SHA-256(0x00 || record hash). */
void pdp_audit_mth_append(pdp_audit_hasher *h, pdp_audit_mth *m, const uint8_t rec_hash[32]);
void pdp_audit_mth_root(pdp_audit_hasher *h, const pdp_audit_mth *m, uint8_t out[32]);
/* Appends the range as a canonical JSON array of hex strings. */
PDP_MUST_USE enum pdp_err pdp_audit_mth_json(const pdp_audit_mth *m, pdp_buf *out);
/* Reads a range JSON array (canonical) for a tree of `size` leaves. */
bool pdp_audit_mth_parse(pdp_str arr, uint64_t size, pdp_audit_mth *ret);

/* ---- keys and signed notes (§7) ---------------------------------------- */

size_t pdp_audit_b64_encode(const uint8_t *p, size_t n, char *out); /* NUL-terminates */
/* Strict standard base64 with padding; returns decoded length or -1. */
long pdp_audit_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

typedef struct pdp_audit_key {
	struct evp_pkey_st *pkey;     /* private key (writer) or NULL */
	uint8_t pub[32];
} pdp_audit_key;

/* Loads a PEM Ed25519 private key; the file bytes are wiped after use. */
PDP_MUST_USE enum pdp_err pdp_audit_key_load(const char *path, pdp_audit_key *ret,
					     pdp_buf *errmsg);
void pdp_audit_key_done(pdp_audit_key *k);
/* Reads a small secret file into buf (wiped on failure). */
PDP_MUST_USE enum pdp_err pdp_audit_secret_read(const char *path, uint8_t *buf, size_t cap,
						size_t *ret_len);
/* key ID = SHA-256(name || 0x0A || 0x01 || pub)[:4] */
void pdp_audit_key_id(const char *name, size_t nlen, const uint8_t pub[32], uint8_t ret[4]);
/* The vkey string "<name>+<hex key id>+<base64(0x01 || pub)>". */
PDP_MUST_USE enum pdp_err pdp_audit_vkey(const char *name, const uint8_t pub[32], pdp_buf *out);
bool pdp_audit_vkey_parse(pdp_str vkey, pdp_str name, uint8_t ret_pub[32]);
bool pdp_audit_origin_valid(const char *s, size_t n);

/* Appends a signed checkpoint note for (origin, size, root). */
PDP_MUST_USE enum pdp_err pdp_audit_note_sign(const pdp_audit_key *k, const char *origin,
					      uint64_t size, const uint8_t root[32], pdp_buf *out);

typedef struct pdp_audit_note_sig {
	pdp_str name;
	uint8_t keyid[4];
	uint8_t sig[64];
	bool ed25519;                 /* 4 + 64 bytes */
} pdp_audit_note_sig;

typedef struct pdp_audit_note {
	pdp_str text;                 /* the signed note text (body incl. final \n) */
	pdp_str origin;
	uint64_t size;
	uint8_t root[32];
	pdp_audit_note_sig sigs[PDP_AUDIT_NOTE_MAX_SIGS];
	size_t nsigs;
} pdp_audit_note;

/* Parses a checkpoint note (views borrow from s). *why on failure. */
bool pdp_audit_note_parse(const char *s, size_t n, pdp_audit_note *ret, const char **why);
/* 1: a signature by (name, pub) verifies; 0: none by that key; -1: one by
 * that key fails to verify. */
int pdp_audit_note_verify(const pdp_audit_note *note, pdp_str name, const uint8_t pub[32]);

/* ---- the verifier (§8) -------------------------------------------------- */

typedef struct pdp_audit_vstate {
	/* configuration */
	const uint8_t (*trusted)[32]; /* --pubkey keys; NULL = the log's own key */
	size_t ntrusted;
	bool partial;                 /* starts mid-chain (the writer's tail check) */
	bool check_sigs;              /* verify checkpoint signatures */
	/* chain */
	pdp_audit_hasher h;
	uint64_t next_seq;
	uint8_t head[32];
	pdp_audit_mth mth;
	pdp_buf log_id;
	/* structure */
	uint64_t cp_every;            /* from the latest start; 0 unknown */
	bool cp_due;                  /* a start awaits its checkpoint */
	uint64_t since_cp;            /* counted records since the last checkpoint */
	bool have_start_key;
	uint8_t start_key[32];
	uint64_t checkpoints;
	uint64_t signed_size;         /* size of the latest checkpoint record */
	bool clean_stop;              /* the log ends with stop, checkpoint */
	char last_type[PDP_AUDIT_TYPE_MAX + 1];
	/* an external checkpoint to meet (--checkpoint) */
	bool want;
	uint64_t want_size;
	uint8_t want_root[32];
	bool want_met;
	/* the first failure */
	pdp_buf why;
	uint64_t bad_seq;             /* the record it is about */
} pdp_audit_vstate;

void pdp_audit_vstate_init(pdp_audit_vstate *vs);
void pdp_audit_vstate_done(pdp_audit_vstate *vs);
/* Feeds one complete line (without newline). On failure vs->why holds the
 * reason and the state is left as before the line. */
PDP_MUST_USE enum pdp_err pdp_audit_vstate_line(pdp_audit_vstate *vs, const char *line, size_t len);

typedef struct pdp_audit_verify_opts {
	const uint8_t (*pubkeys)[32]; /* trusted checkpoint keys, or NULL */
	size_t npubkeys;
	const char *checkpoint;       /* an external checkpoint note, or NULL */
	size_t checkpoint_len;
} pdp_audit_verify_opts;

typedef struct pdp_audit_verify_result {
	uint64_t records;
	uint64_t segments;
	uint64_t checkpoints;
	uint64_t signed_size;         /* records covered by the last checkpoint record */
	bool keys_trusted;            /* signatures checked against --pubkey keys */
	bool clean_stop;
	char head[65];
	pdp_buf log_id;
	/* on failure: where and why */
	pdp_buf file;                 /* segment file name ("" if not about a file) */
	uint64_t line;                /* 1-based line in that file, 0 if n/a */
	bool have_seq;
	uint64_t seq;                 /* the expected seq at the failure */
	pdp_buf why;
} pdp_audit_verify_result;

void pdp_audit_verify_result_init(pdp_audit_verify_result *r);
void pdp_audit_verify_result_done(pdp_audit_verify_result *r);
/* Verifies a whole log directory. PDP_OK, PDP_E_CORRUPT (bad log, see
 * r->why) or PDP_E_IO / PDP_E_NOTFOUND (r->why too). */
PDP_MUST_USE enum pdp_err pdp_audit_verify_dir(const char *dir, const pdp_audit_verify_opts *o,
					       pdp_audit_verify_result *r);

/* ---- segment files (§5) ------------------------------------------------- */

typedef struct pdp_audit_segs {
	uint64_t *first;              /* first seq of each segment, ascending */
	size_t n;
} pdp_audit_segs;

/* Lists DIR's segment files (other names are ignored). */
PDP_MUST_USE enum pdp_err pdp_audit_segs_list(int dirfd, pdp_audit_segs *ret, pdp_buf *errmsg);
void pdp_audit_segs_done(pdp_audit_segs *s);
void pdp_audit_seg_name(uint64_t first, char ret[PDP_AUDIT_SEG_NAME_LEN + 1]);
bool pdp_audit_seg_name_parse(const char *name, uint64_t *ret);

/* ---- the writer (audit_writer.c, audit_open.c) --------------------------- */

#include <pthread.h>
#include <stdatomic.h>

/* One queued record. `data` holds the canonical payload members. */
struct pdp_audit_entry {
	struct pdp_audit_entry *next;
	pdp_audit_queue *q;
	void (*done)(void *arg, uint64_t seq, enum pdp_err err);
	void *arg;
	uint64_t seq;
	enum pdp_err err;
	size_t size;                  /* bytes counted against the bound */
	size_t cap;                   /* bytes data[] can hold (entries are reused) */
	char type[PDP_AUDIT_TYPE_MAX + 1];
	size_t len;
	char data[];
};

#define PDP_AUDIT_SPARE_MAX 64        /* drained entries a queue keeps for reuse */
#define PDP_AUDIT_SPARE_CAP 4096      /* ... if data[] holds at most this */
#define PDP_AUDIT_RND_BYTES 4096      /* randomness a queue draws at once for ids */

struct pdp_audit_queue {
	pdp_audit *a;
	void (*notify)(void *arg);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct pdp_audit_entry *done_head, **done_tail;   /* under mu */
	/* submitted, not yet handed back + notified; the owner adds without
	 * the lock, the writer subtracts under mu (queue_free waits on it) */
	atomic_size_t outstanding;
	/* set by the writer when it calls notify, cleared by drain before it
	 * takes the done list: while set, the worker is known to be woken and
	 * a further notify is skipped */
	atomic_bool notified;
	bool flush_by_owner;           /* set before the first submit */
	/* owning thread only */
	struct pdp_audit_entry *spare; /* drained entries for reuse */
	size_t nspare;
	uint8_t rnd[PDP_AUDIT_RND_BYTES]; /* for pdp_audit_queue_decision_id */
	size_t rnd_off;
	/* the writing thread only: the completion batch being handed back */
	uint64_t mark;
	size_t batch_count;
	struct pdp_audit_entry *batch_head, **batch_tail;
};

/* Chain state; the writer snapshots it before a unit and restores it if
 * the unit cannot be written. */
struct pdp_audit_chain {
	uint64_t next_seq;
	uint8_t head[32];
	pdp_audit_mth mth;
	uint64_t since_cp;            /* counted records since the last checkpoint */
	char last_type[PDP_AUDIT_TYPE_MAX + 1];
};

struct pdp_audit {
	/* configuration (owned copies) */
	char *dir;
	char *log_id;
	char *witness_dir;
	enum pdp_audit_fsync fsync;
	unsigned interval_ms;
	size_t q_max_records, q_max_bytes, record_max;
	uint64_t seg_max, cp_every;
	unsigned cp_every_ms, fail_timeout_ms;
	pdp_audit_io io;
	pdp_audit_key key;
	char *vkey;
	uint8_t hmac_key[256];
	size_t hmac_len;
	/* files; after open only the holder of the right to write (`writing`) touches these */
	int dirfd, lockfd, segfd;
	uint64_t seg_first, seg_size;
	pdp_audit_hasher h;
	struct pdp_audit_chain chain;
	pdp_buf unit;                 /* the bytes of the unit being built */
	pdp_buf note;                 /* its latest checkpoint note, if any */
	bool unit_has_cp;
	uint64_t last_cp_ms, last_sync_ms, batch_no;
	bool dirty;                   /* written since the last fdatasync */
	bool failing;                 /* the last unit failed; one attempt per unit */
	uint64_t run_records;
	pdp_audit_queue **cq;         /* queues touched by a completion batch */
	size_t cq_cap;
	/* the queue to the writer */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct pdp_audit_entry *pending, **pending_tail;
	bool writer_waiting;          /* in cond_wait: a submit must signal */
	/* a thread holds the right to write (the writer thread, or a worker in
	 * pdp_audit_flush); the files, chain, unit and completion batches are
	 * touched only by the holder */
	bool writing;
	bool stopping;
	char *stop_reason;
	enum pdp_err close_err;
	pthread_t thread;
	bool thread_started;
	atomic_size_t inflight_records, inflight_bytes;
	atomic_int nqueues;
	atomic_bool failed;           /* failed closed: restart required */
	/* published to other threads under pub_mu */
	pthread_mutex_t pub_mu;
	pdp_buf checkpoint;
	pdp_audit_stats stats;
};

uint64_t pdp_audit_now_ms(void);  /* CLOCK_MONOTONIC */
/* Wakes the writer thread if records wait and no thread is writing. */
void pdp_audit_kick(pdp_audit *a);
/* Appends one record to the unit being built and advances the chain. A
 * counted record that reaches checkpoint_every appends a checkpoint. */
PDP_MUST_USE enum pdp_err pdp_audit_append(pdp_audit *a, const char *type, pdp_str members);
PDP_MUST_USE enum pdp_err pdp_audit_append_checkpoint(pdp_audit *a);
/* Writes the unit (one write, fdatasync per mode or when force_sync); on
 * failure the segment is cut back to its size before the unit. */
PDP_MUST_USE enum pdp_err pdp_audit_write_unit(pdp_audit *a, bool force_sync);
/* After a durable unit: publishes its checkpoint (memory, witness dir). */
void pdp_audit_publish(pdp_audit *a);
/* Opens the next segment file when the current one is sealed. */
PDP_MUST_USE enum pdp_err pdp_audit_rotate_if_sealed(pdp_audit *a);
PDP_MUST_USE enum pdp_err pdp_audit_create_segment(pdp_audit *a, uint64_t first);
bool pdp_audit_counted(const char *type);

/* audit_open.c: recovery and the opening records, on the opening thread. */
PDP_MUST_USE enum pdp_err pdp_audit_recover(pdp_audit *a, bool new_chain, const char *start_fields,
					    pdp_buf *errmsg);
void *pdp_audit_writer_main(void *arg);

#endif
