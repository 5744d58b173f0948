/*
 * audit.c -- the audit log's public face: configuration, open/close,
 * per-worker queues, submit and drain, checkpoint text and statistics.
 *
 * Design: workers submit into one pending list under the log's mutex (a
 * short critical section: append and maybe signal), so records get their
 * sequence numbers in submission order. The bound on records and bytes in
 * flight is kept with two atomics, reserved before a record is queued and
 * released when its worker drains the completion, so memory held for
 * records never exceeds the configured bound whatever the disk does. Each
 * queue counts its records not yet handed back (`outstanding`);
 * pdp_audit_queue_free waits for that to reach zero, so the writing thread
 * never touches a freed queue.
 *
 * Per record the worker does one copy (canonical input is checked in place
 * and copied without its braces), one short lock (the pending list; the
 * writer is signalled only when it sleeps) and no allocation once warm:
 * drained entries are kept on the queue for reuse. Completions come back a
 * batch per queue under one lock, with at most one notify until the owner
 * drains (q->notified). Decision ids can take their randomness from a
 * per-queue buffer filled by RAND_bytes 4 KiB at a time.
 *
 * Ownership: entries are taken by submit (from the queue's spares or
 * malloc), owned by the writing thread while queued, by the queue's done list
 * after completion, and after `done` ran by the queue's spare list (at
 * most PDP_AUDIT_SPARE_MAX, each at most PDP_AUDIT_SPARE_CAP bytes; bigger
 * ones are freed at once), which pdp_audit_queue_free frees.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_int.h"

static const char *const fsync_names[] = { "always", "interval", "none" };

bool pdp_audit_fsync_parse(const char *s, enum pdp_audit_fsync *ret)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, fsync_names[i])) {
			*ret = (enum pdp_audit_fsync)i;
			return true;
		}
	return false;
}

const char *pdp_audit_fsync_name(enum pdp_audit_fsync m)
{
	return (unsigned)m < 3 ? fsync_names[m] : "?";
}

void pdp_audit_config_init(pdp_audit_config *c)
{
	memset(c, 0, sizeof(*c));
	c->fsync = PDP_AUDIT_FSYNC_ALWAYS;
	c->fsync_interval_ms = 200;
	c->queue_max_records = 16384;
	c->queue_max_bytes = 64u << 20;
	c->record_max_bytes = 1u << 20;
	c->segment_max_bytes = 64u << 20;
	c->checkpoint_every = 10000;
	c->checkpoint_every_ms = 10000;
	c->fail_timeout_ms = 5000;
}

/* ---- open and close ---------------------------------------------------------- */

static enum pdp_err bad_config(pdp_buf *errmsg, const char *what)
{
	if (errmsg)
		pdp_ignore(pdp_buf_printf(errmsg, "audit: %s", what));
	PDP_BAIL(PDP_E_INVALID);
}

static enum pdp_err check_config(const pdp_audit_config *c, pdp_buf *errmsg)
{
	if (!c->dir || !*c->dir)
		return bad_config(errmsg, "dir is required");
	if (!c->log_id || !pdp_audit_origin_valid(c->log_id, strlen(c->log_id)))
		return bad_config(errmsg, "log_id is required: 1-255 printable ASCII characters, "
					  "no spaces and no '+' (e.g. pdp.example.com/audit)");
	if (!c->checkpoint_key)
		return bad_config(errmsg, "checkpoint_key is required (an Ed25519 PEM private key)");
	if ((unsigned)c->fsync > PDP_AUDIT_FSYNC_NONE)
		return bad_config(errmsg, "fsync must be always, interval or none");
	if (c->fsync_interval_ms < 1 || c->fsync_interval_ms > 60000)
		return bad_config(errmsg, "fsync_interval_ms must be 1..60000");
	if (c->checkpoint_every < 1 || c->checkpoint_every > 1000000000)
		return bad_config(errmsg, "checkpoint_every must be 1..1000000000 records");
	if (c->checkpoint_every_ms < 10 || c->checkpoint_every_ms > 86400000)
		return bad_config(errmsg, "checkpoint_every_ms must be 10..86400000");
	if (c->segment_max_bytes < 4096 || c->segment_max_bytes > (1ull << 40))
		return bad_config(errmsg, "segment_max_bytes must be 4096..2^40");
	if (c->record_max_bytes < 256 || c->record_max_bytes > (64u << 20))
		return bad_config(errmsg, "record_max_bytes must be 256..64 MiB");
	if (c->queue_max_records < 1 || c->queue_max_bytes < c->record_max_bytes + 4096)
		return bad_config(errmsg, "queue_max_records must be >= 1 and queue_max_bytes above record_max_bytes");
	if (c->fail_timeout_ms > 600000)
		return bad_config(errmsg, "fail_timeout_ms must be 0..600000");
	return PDP_OK;
}

static void destroy(pdp_audit *a)
{
	if (a->segfd >= 0)
		close(a->segfd);
	if (a->lockfd >= 0)
		close(a->lockfd); /* releases the flock */
	if (a->dirfd >= 0)
		close(a->dirfd);
	pdp_audit_key_done(&a->key);
	OPENSSL_cleanse(a->hmac_key, sizeof(a->hmac_key));
	if (a->h.ctx)
		pdp_audit_hasher_done(&a->h);
	pdp_buf_done(&a->unit);
	pdp_buf_done(&a->note);
	pdp_buf_done(&a->checkpoint);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->pub_mu);
	free(a->cq);
	free(a->dir);
	free(a->log_id);
	free(a->witness_dir);
	free(a->vkey);
	free(a->stop_reason);
	free(a);
}

static pdp_audit *alloc_log(const pdp_audit_config *c)
{
	pdp_audit *a = pdp_xcalloc(1, sizeof(*a));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&a->pub_mu, NULL);
	a->pending_tail = &a->pending;
	a->dirfd = a->lockfd = a->segfd = -1;
	a->dir = pdp_xstrndup(c->dir, strlen(c->dir));
	a->log_id = pdp_xstrndup(c->log_id, strlen(c->log_id));
	a->witness_dir = c->witness_dir ? pdp_xstrndup(c->witness_dir, strlen(c->witness_dir)) : NULL;
	a->fsync = c->fsync;
	a->interval_ms = c->fsync_interval_ms;
	a->q_max_records = c->queue_max_records;
	a->q_max_bytes = c->queue_max_bytes;
	a->record_max = c->record_max_bytes;
	a->seg_max = c->segment_max_bytes;
	a->cp_every = c->checkpoint_every;
	a->cp_every_ms = c->checkpoint_every_ms;
	a->fail_timeout_ms = c->fail_timeout_ms;
	if (c->io)
		a->io = *c->io;
	pdp_audit_hasher_init(&a->h);
	pdp_audit_mth_init(&a->chain.mth);
	pdp_buf_init(&a->unit, 0);
	pdp_buf_init(&a->note, 0);
	pdp_buf_init(&a->checkpoint, 0);
	atomic_init(&a->inflight_records, 0);
	atomic_init(&a->inflight_bytes, 0);
	atomic_init(&a->nqueues, 0);
	atomic_init(&a->failed, false);
	return a;
}

static enum pdp_err load_secrets(pdp_audit *a, const pdp_audit_config *c, pdp_buf *errmsg)
{
	PDP_TRY(pdp_audit_key_load(c->checkpoint_key, &a->key, errmsg));
	pdp_buf v;
	pdp_buf_init(&v, 0);
	enum pdp_err e = pdp_audit_vkey(a->log_id, a->key.pub, &v);
	a->vkey = pdp_buf_steal(&v, NULL);
	PDP_TRY(e);
	if (!c->hmac_key)
		return PDP_OK;
	size_t len = 0;
	if (pdp_audit_secret_read(c->hmac_key, a->hmac_key, sizeof(a->hmac_key), &len) != PDP_OK) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: cannot read the HMAC key (at most %zu bytes)",
						  c->hmac_key, sizeof(a->hmac_key)));
		PDP_BAIL(PDP_E_IO);
	}
	if (len && a->hmac_key[len - 1] == '\n')
		len--;
	if (len < 16) {
		OPENSSL_cleanse(a->hmac_key, sizeof(a->hmac_key));
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: HMAC key shorter than 16 bytes", c->hmac_key));
		PDP_BAIL(PDP_E_INVALID);
	}
	a->hmac_len = len;
	return PDP_OK;
}

static enum pdp_err open_dir(pdp_audit *a, pdp_buf *errmsg)
{
	if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: cannot create: %s", a->dir, strerror(errno)));
		PDP_BAIL(PDP_E_IO);
	}
	a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd >= 0)
		a->lockfd = openat(a->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lockfd < 0) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: %s", a->dir, strerror(errno)));
		PDP_BAIL(PDP_E_IO);
	}
	if (flock(a->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: the audit log is in use by another process",
						  a->dir));
		PDP_BAIL(PDP_E_BUSY);
	}
	return PDP_OK;
}

enum pdp_err pdp_audit_open(const pdp_audit_config *c, pdp_audit **ret, pdp_buf *errmsg)
{
	PDP_TRY(check_config(c, errmsg));
	pdp_audit *a = alloc_log(c);
	enum pdp_err e = load_secrets(a, c, errmsg);
	if (e == PDP_OK)
		e = open_dir(a, errmsg);
	if (e == PDP_OK)
		e = pdp_audit_recover(a, c->new_chain, c->start_fields, errmsg);
	if (e == PDP_OK) {
		a->last_cp_ms = a->last_sync_ms = pdp_audit_now_ms();
		a->stats.writable = true;
		a->stats.next_seq = a->chain.next_seq;
		pdp_audit_hex(a->chain.head, 32, a->stats.head);
		if (pthread_create(&a->thread, NULL, pdp_audit_writer_main, a) != 0) {
			if (errmsg)
				pdp_ignore(pdp_buf_adds(errmsg, "audit: cannot start the writer thread"));
			e = PDP_E_IO;
		}
	}
	if (e != PDP_OK) {
		destroy(a);
		return e;
	}
	a->thread_started = true;
	*ret = a;
	return PDP_OK;
}

enum pdp_err pdp_audit_close(pdp_audit *a, const char *reason)
{
	if (!a)
		return PDP_OK;
	PDP_BUG_ON(atomic_load(&a->nqueues) != 0);
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	a->stop_reason = pdp_xstrndup(reason ? reason : "shutdown", strlen(reason ? reason : "shutdown"));
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	enum pdp_err e = a->close_err;
	destroy(a);
	return e;
}

/* ---- queues ------------------------------------------------------------------ */

pdp_audit_queue *pdp_audit_queue_new(pdp_audit *a, void (*notify)(void *arg), void *arg)
{
	pdp_audit_queue *q = pdp_xcalloc(1, sizeof(*q));
	q->a = a;
	q->notify = notify;
	q->arg = arg;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->done_tail = &q->done_head;
	atomic_init(&q->outstanding, 0);
	atomic_init(&q->notified, false);
	q->rnd_off = sizeof(q->rnd); /* drawn on first use */
	atomic_fetch_add(&a->nqueues, 1);
	return q;
}

void pdp_audit_queue_flush_by_owner(pdp_audit_queue *q)
{
	q->flush_by_owner = true;
}

void pdp_audit_queue_free(pdp_audit_queue *q)
{
	if (!q)
		return;
	if (q->flush_by_owner)
		pdp_audit_kick(q->a); /* records the owner did not flush */
	pthread_mutex_lock(&q->mu);
	while (atomic_load(&q->outstanding) > 0)
		pthread_cond_wait(&q->cond, &q->mu);
	pthread_mutex_unlock(&q->mu);
	pdp_audit_queue_drain(q);
	atomic_fetch_sub(&q->a->nqueues, 1);
	while (q->spare) {
		struct pdp_audit_entry *e = q->spare;
		q->spare = e->next;
		free(e);
	}
	OPENSSL_cleanse(q->rnd, sizeof(q->rnd));
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	free(q);
}

static bool writer_type(const char *type)
{
	return !pdp_audit_counted(type) || !strcmp(type, "stop");
}

static bool reserve(pdp_audit *a, size_t size)
{
	size_t r = atomic_fetch_add(&a->inflight_records, 1);
	if (r + 1 > a->q_max_records) {
		atomic_fetch_sub(&a->inflight_records, 1);
		return false;
	}
	size_t b = atomic_fetch_add(&a->inflight_bytes, size);
	if (b + size > a->q_max_bytes) {
		atomic_fetch_sub(&a->inflight_bytes, size);
		atomic_fetch_sub(&a->inflight_records, 1);
		return false;
	}
	return true;
}

static void release(pdp_audit *a, size_t size)
{
	atomic_fetch_sub(&a->inflight_bytes, size);
	atomic_fetch_sub(&a->inflight_records, 1);
}

static enum pdp_err busy(pdp_audit *a)
{
	pthread_mutex_lock(&a->pub_mu);
	a->stats.busy++;
	pthread_mutex_unlock(&a->pub_mu);
	return PDP_E_BUSY; /* not an error site: the normal backpressure answer */
}

/* An entry for `len` payload bytes: a spare one of the queue's if it is
 * big enough, else a new one. */
static struct pdp_audit_entry *get_entry(pdp_audit_queue *q, size_t len)
{
	struct pdp_audit_entry *e = q->spare;
	if (e && e->cap >= len) {
		q->spare = e->next;
		q->nspare--;
		return e;
	}
	size_t cap = len < 1024 ? 1024 : len;
	e = pdp_xmalloc(sizeof(*e) + cap);
	e->cap = cap;
	return e;
}

/* Keeps a drained entry for the next submit, or frees it. */
static void put_entry(pdp_audit_queue *q, struct pdp_audit_entry *e)
{
	if (q->nspare >= PDP_AUDIT_SPARE_MAX || e->cap > PDP_AUDIT_SPARE_CAP) {
		free(e);
		return;
	}
	e->next = q->spare;
	q->spare = e;
	q->nspare++;
}

static struct pdp_audit_entry *new_entry(pdp_audit_queue *q, const char *type, pdp_str members,
					 void (*done)(void *, uint64_t, enum pdp_err), void *arg)
{
	struct pdp_audit_entry *e = get_entry(q, members.len);
	size_t tlen = strlen(type);
	e->next = NULL;
	e->q = q;
	e->done = done;
	e->arg = arg;
	e->seq = 0;
	e->err = PDP_OK;
	e->size = sizeof(*e) + members.len;
	memcpy(e->type, type, tlen + 1); /* checked: at most PDP_AUDIT_TYPE_MAX */
	e->len = members.len;
	if (members.len)
		memcpy(e->data, members.p, members.len);
	return e;
}

/* The entry for a record: canonical input is copied as it is (without its
 * braces, one copy); anything else is canonicalised first. */
static enum pdp_err make_entry(pdp_audit_queue *q, const char *type, const char *json, size_t len,
			       void (*done)(void *, uint64_t, enum pdp_err), void *arg,
			       struct pdp_audit_entry **ret)
{
	const char *why = NULL;
	if (pdp_audit_canon_object_check(json, len, &why)) {
		*ret = new_entry(q, type, (pdp_str){ json + 1, len - 2 }, done, arg);
		return PDP_OK;
	}
	pdp_buf m;
	pdp_buf_init(&m, q->a->record_max);
	enum pdp_err err = pdp_audit_canon_members(json, len, &m, NULL);
	if (err == PDP_OK)
		*ret = new_entry(q, type, (pdp_str){ m.data, m.len }, done, arg);
	pdp_buf_done(&m);
	return err;
}

/* Appends e to the writer's pending list; false when the log is closing. */
static bool enqueue(pdp_audit *a, struct pdp_audit_entry *e)
{
	pthread_mutex_lock(&a->mu);
	bool stopping = a->stopping;
	if (!stopping) {
		*a->pending_tail = e;
		a->pending_tail = &e->next;
		/* else the writer looks at the list before it sleeps, or the
		 * owner's pdp_audit_flush writes it */
		if (a->writer_waiting && !e->q->flush_by_owner) {
			a->writer_waiting = false;
			pthread_cond_signal(&a->cond);
		}
	}
	pthread_mutex_unlock(&a->mu);
	return !stopping;
}

enum pdp_err pdp_audit_submit(pdp_audit_queue *q, const char *type, const char *fields_json,
			      size_t len, void (*done)(void *arg, uint64_t seq, enum pdp_err err),
			      void *arg)
{
	pdp_audit *a = q->a;
	PDP_ENSURE(done && type && fields_json, PDP_E_INVALID);
	PDP_ENSURE(!atomic_load(&a->failed), PDP_E_IO);
	PDP_ENSURE(pdp_audit_type_valid(type, strlen(type)) && !writer_type(type), PDP_E_INVALID);
	PDP_ENSURE(len <= a->record_max, PDP_E_LIMIT);
	if (atomic_load(&a->inflight_records) >= a->q_max_records)
		return busy(a);
	struct pdp_audit_entry *e = NULL;
	PDP_TRY(make_entry(q, type, fields_json, len, done, arg, &e));
	if (!reserve(a, e->size)) {
		put_entry(q, e);
		return busy(a);
	}
	atomic_fetch_add(&q->outstanding, 1); /* before the writer can see e */
	if (enqueue(a, e))
		return PDP_OK;
	pthread_mutex_lock(&q->mu);
	atomic_fetch_sub(&q->outstanding, 1);
	pthread_mutex_unlock(&q->mu);
	release(a, e->size);
	put_entry(q, e);
	PDP_BAIL(PDP_E_IO);
}

void pdp_audit_queue_drain(pdp_audit_queue *q)
{
	/* cleared before the list is taken: a completion posted after this
	 * point notifies again */
	atomic_store(&q->notified, false);
	pthread_mutex_lock(&q->mu);
	struct pdp_audit_entry *list = q->done_head;
	q->done_head = NULL;
	q->done_tail = &q->done_head;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct pdp_audit_entry *e = list;
		list = e->next;
		e->done(e->arg, e->seq, e->err);
		release(q->a, e->size);
		put_entry(q, e);
	}
}

/* ---- checkpoint, stats, pseudonyms, ids --------------------------------------- */

enum pdp_err pdp_audit_checkpoint(pdp_audit *a, pdp_buf *out)
{
	pthread_mutex_lock(&a->pub_mu);
	enum pdp_err e = a->checkpoint.len ? pdp_buf_add(out, a->checkpoint.data, a->checkpoint.len)
					   : PDP_E_NOTFOUND;
	pthread_mutex_unlock(&a->pub_mu);
	return e;
}

void pdp_audit_stats_get(pdp_audit *a, pdp_audit_stats *ret)
{
	pthread_mutex_lock(&a->pub_mu);
	*ret = a->stats;
	pthread_mutex_unlock(&a->pub_mu);
	ret->inflight_records = atomic_load(&a->inflight_records);
	ret->inflight_bytes = atomic_load(&a->inflight_bytes);
	ret->writable = ret->writable && !atomic_load(&a->failed);
}

bool pdp_audit_pseudonym(pdp_audit *a, const char *id, size_t len, char ret[65])
{
	uint8_t mac[32];
	unsigned int n = 0;
	if (!a->hmac_len)
		return false;
	PDP_BUG_ON(!HMAC(EVP_sha256(), a->hmac_key, (int)a->hmac_len, (const uint8_t *)id, len, mac, &n) ||
		   n != 32);
	pdp_audit_hex(mac, 32, ret);
	return true;
}

/* Formats a UUIDv7 from 16 random bytes and the current time. */
static void format_uuid7(uint8_t b[16], char ret[37])
{
	static const char hexd[] = "0123456789abcdef";
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0F)); /* version 7 */
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3F)); /* RFC 9562 variant */
	char *p = ret;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hexd[b[i] >> 4];
		*p++ = hexd[b[i] & 15];
	}
	*p = '\0';
}

void pdp_audit_decision_id(char ret[37])
{
	uint8_t b[16];
	PDP_BUG_ON(RAND_bytes(b, sizeof(b)) != 1);
	format_uuid7(b, ret);
}

void pdp_audit_queue_decision_id(pdp_audit_queue *q, char ret[37])
{
	uint8_t b[16];
	if (q->rnd_off + sizeof(b) > sizeof(q->rnd)) {
		PDP_BUG_ON(RAND_bytes(q->rnd, sizeof(q->rnd)) != 1);
		q->rnd_off = 0;
	}
	memcpy(b, q->rnd + q->rnd_off, sizeof(b));
	OPENSSL_cleanse(q->rnd + q->rnd_off, sizeof(b)); /* each byte is used once */
	q->rnd_off += sizeof(b);
	format_uuid7(b, ret);
}
