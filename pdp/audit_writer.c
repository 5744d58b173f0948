/*
 * audit_writer.c -- writing the audit log: group commit, checkpoints,
 * rotation, and failing closed.
 *
 * Design (redis bio.c style, plus combining). One thread at a time holds
 * the right to write (a->writing, under a->mu): usually a worker, which at the
 * end of its event-loop turn writes everything queued itself
 * (pdp_audit_flush), sparing the two thread wake-ups of a hand-off;
 * otherwise the writer thread, which sleeps on a condition variable until
 * records are left over or a timer is due (interval fdatasync, the
 * checkpoint period), and which alone retries a failing disk. The holder
 * takes the whole queue at once and cuts it into units: a unit is the
 * bytes for one segment file, written with ONE write(2) (looped only over
 * short writes) and, in `always` mode, made durable with ONE fdatasync.
 * Only then are the unit's records handed back to their workers' queues
 * (one lock per queue per unit) and the workers notified: once per queue
 * per unit at most, and not at all when the queue was notified before and
 * has not drained since.
 * A unit that would take the segment past segment_max_bytes ends
 * with a checkpoint, which seals the segment; the next unit opens a new one.
 * A checkpoint is also appended whenever checkpoint_every counted records
 * have passed, and at least every checkpoint_every_ms; a unit holding a
 * checkpoint is fdatasync'd (except in `none` mode) before the checkpoint
 * is published, so a published checkpoint never covers records a crash
 * could take back.
 *
 * Failure (ENOSPC, EIO, a short write that cannot finish, a failed
 * fdatasync): the segment is cut back to its size before the unit
 * (ftruncate) and the chain state restored, so the file never holds a
 * half unit the chain does not know. The unit is retried with backoff for
 * fail_timeout_ms while new records wait in the bounded queue (submitters
 * get PDP_E_BUSY); after that its records complete with PDP_E_IO and later
 * units get one attempt each until a write succeeds again. If the cut
 * itself fails, or a deferred fdatasync (interval mode) fails after records
 * were answered, the log fails closed: every record from then on completes
 * with PDP_E_IO until a restart verifies and recovers the tail. A record is
 * never reported done unless its bytes were written (and synced in
 * `always` mode).
 *
 * Ownership: the holder of the right to write owns the entries from the
 * moment it takes them off the pending list until it appends them to their
 * queue's done list (or, after a worker's failed attempt, puts them back).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_int.h"

uint64_t pdp_audit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool pdp_audit_counted(const char *type)
{
	return strcmp(type, "genesis") && strcmp(type, "start") && strcmp(type, "recovery") &&
	       strcmp(type, "checkpoint");
}

/* ---- building a unit ------------------------------------------------------ */

enum pdp_err pdp_audit_append(pdp_audit *a, const char *type, pdp_str members)
{
	struct pdp_audit_chain *c = &a->chain;
	char ts[PDP_AUDIT_TS_LEN + 1];
	uint8_t hash[32];
	pdp_audit_ts_now(ts);
	PDP_TRY(pdp_audit_line_build(&a->h, &a->unit, c->next_seq, ts, type, c->head, members, hash));
	memcpy(c->head, hash, 32);
	pdp_audit_mth_append(&a->h, &c->mth, hash);
	c->next_seq++;
	pdp_cstr_copy(c->last_type, sizeof(c->last_type), type);
	if (!pdp_audit_counted(type))
		return PDP_OK;
	if (++c->since_cp >= a->cp_every)
		return pdp_audit_append_checkpoint(a);
	return PDP_OK;
}

enum pdp_err pdp_audit_append_checkpoint(pdp_audit *a)
{
	struct pdp_audit_chain *c = &a->chain;
	uint8_t root[32];
	pdp_buf m;
	pdp_audit_mth_root(&a->h, &c->mth, root);
	pdp_buf_reset(&a->note);
	PDP_TRY(pdp_audit_note_sign(&a->key, a->log_id, c->next_seq, root, &a->note));
	pdp_buf_init(&m, 0);
	enum pdp_err e = pdp_buf_adds(&m, "\"note\":");
	if (e == PDP_OK)
		e = pdp_audit_add_str(&m, a->note.data, a->note.len);
	if (e == PDP_OK)
		e = pdp_buf_adds(&m, ",\"range\":");
	if (e == PDP_OK)
		e = pdp_audit_mth_json(&c->mth, &m);
	if (e == PDP_OK)
		e = pdp_audit_append(a, "checkpoint", (pdp_str){ m.data, m.len });
	pdp_buf_done(&m);
	PDP_TRY(e);
	c->since_cp = 0;
	a->unit_has_cp = true;
	a->last_cp_ms = pdp_audit_now_ms();
	return PDP_OK;
}

/* ---- writing -------------------------------------------------------------- */

static ssize_t io_write(pdp_audit *a, const void *p, size_t n)
{
	if (a->io.write)
		return a->io.write(a->io.ctx, a->segfd, p, n);
	return write(a->segfd, p, n);
}

static int io_fdatasync(pdp_audit *a)
{
	if (a->io.fdatasync)
		return a->io.fdatasync(a->io.ctx, a->segfd);
	return fdatasync(a->segfd);
}

static void stat_add(pdp_audit *a, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&a->pub_mu);
	*field += n;
	pthread_mutex_unlock(&a->pub_mu);
}

static int write_all(pdp_audit *a, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = io_write(a, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sync_segment(pdp_audit *a)
{
	uint64_t t0 = now_ns();
	int r = io_fdatasync(a);
	uint64_t dt = now_ns() - t0;
	pthread_mutex_lock(&a->pub_mu);
	a->stats.fsyncs++;
	a->stats.fsync_ns_total += dt;
	if (dt > a->stats.fsync_ns_max)
		a->stats.fsync_ns_max = dt;
	pthread_mutex_unlock(&a->pub_mu);
	if (r == 0) {
		a->dirty = false;
		a->last_sync_ms = pdp_audit_now_ms();
	}
	return r;
}

enum pdp_err pdp_audit_write_unit(pdp_audit *a, bool force_sync)
{
	bool sync = force_sync || a->fsync == PDP_AUDIT_FSYNC_ALWAYS ||
		    (a->unit_has_cp && a->fsync != PDP_AUDIT_FSYNC_NONE);
	int r = write_all(a, a->unit.data, a->unit.len);
	if (r == 0) {
		a->dirty = true;
		if (sync)
			r = sync_segment(a);
	}
	if (r == 0) {
		a->seg_size += a->unit.len;
		return PDP_OK;
	}
	stat_add(a, &a->stats.write_errors, 1);
	/* Cut the segment back so it holds no part of this unit. */
	while (ftruncate(a->segfd, (off_t)a->seg_size) != 0) {
		if (errno != EINTR) {
			atomic_store(&a->failed, true);
			break;
		}
	}
	PDP_BAIL(PDP_E_IO);
}

/* ---- segments and checkpoints -------------------------------------------- */

enum pdp_err pdp_audit_create_segment(pdp_audit *a, uint64_t first)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(first, name);
	int fd = openat(a->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* left by an earlier attempt whose directory sync failed */
		struct stat st;
		fd = openat(a->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_size != 0)) {
			close(fd);
			errno = EEXIST;
			fd = -1;
		}
	}
	if (fd < 0)
		PDP_BAIL(PDP_E_IO);
	if (fsync(a->dirfd) != 0) {
		close(fd);
		PDP_BAIL(PDP_E_IO);
	}
	if (a->segfd >= 0)
		close(a->segfd);
	a->segfd = fd;
	a->seg_first = first;
	a->seg_size = 0;
	a->dirty = false;
	return PDP_OK;
}

enum pdp_err pdp_audit_rotate_if_sealed(pdp_audit *a)
{
	if (a->segfd >= 0 && (a->seg_size < a->seg_max || strcmp(a->chain.last_type, "checkpoint")))
		return PDP_OK;
	PDP_TRY(pdp_audit_create_segment(a, a->chain.next_seq));
	stat_add(a, &a->stats.rotations, 1);
	return PDP_OK;
}

static void write_witness(pdp_audit *a)
{
	int dfd = open(a->witness_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -1 : openat(dfd, ".checkpoint.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool sync = a->fsync != PDP_AUDIT_FSYNC_NONE;
	bool ok = fd >= 0;
	for (size_t off = 0; ok && off < a->note.len;) {
		ssize_t w = write(fd, a->note.data + off, a->note.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? (size_t)w : 0;
	}
	ok = ok && (!sync || fdatasync(fd) == 0);
	if (fd >= 0)
		ok = close(fd) == 0 && ok;
	ok = ok && renameat(dfd, ".checkpoint.tmp", dfd, "checkpoint") == 0 && (!sync || fsync(dfd) == 0);
	if (dfd >= 0)
		close(dfd);
	if (!ok)
		stat_add(a, &a->stats.witness_errors, 1);
}

void pdp_audit_publish(pdp_audit *a)
{
	if (!a->unit_has_cp)
		return;
	pthread_mutex_lock(&a->pub_mu);
	pdp_buf_reset(&a->checkpoint);
	pdp_ignore(pdp_buf_add(&a->checkpoint, a->note.data, a->note.len)); /* unbounded buf */
	a->stats.checkpoints++;
	a->stats.checkpoint_size = strtoull((const char *)memchr(a->note.data, '\n', a->note.len) + 1, NULL, 10);
	pthread_mutex_unlock(&a->pub_mu);
	if (a->witness_dir)
		write_witness(a);
}

static void publish_unit_stats(pdp_audit *a, uint64_t records)
{
	pthread_mutex_lock(&a->pub_mu);
	a->stats.records += records;
	a->stats.batches++;
	a->stats.bytes += a->unit.len;
	a->stats.next_seq = a->chain.next_seq;
	pdp_audit_hex(a->chain.head, 32, a->stats.head);
	a->stats.writable = true;
	pthread_mutex_unlock(&a->pub_mu);
}

/* ---- units with retry --------------------------------------------------- */

static void set_writable(pdp_audit *a, bool w)
{
	pthread_mutex_lock(&a->pub_mu);
	a->stats.writable = w && !atomic_load(&a->failed);
	pthread_mutex_unlock(&a->pub_mu);
}

/* Waits before the next attempt; false when the unit should give up. */
static bool retry_wait(pdp_audit *a, uint64_t deadline, unsigned *backoff)
{
	set_writable(a, false);
	if (atomic_load(&a->failed) || pdp_audit_now_ms() >= deadline)
		return false;
	sleep_ms(*backoff);
	*backoff = *backoff * 2 > 1000 ? 1000 : *backoff * 2;
	return true;
}

static uint64_t unit_deadline(pdp_audit *a)
{
	return a->failing ? 0 : pdp_audit_now_ms() + a->fail_timeout_ms;
}

/* Makes sure a segment is open for the next unit. */
static enum pdp_err rotate_with_retry(pdp_audit *a, uint64_t deadline, unsigned *backoff)
{
	for (;;) {
		if (atomic_load(&a->failed))
			PDP_BAIL(PDP_E_IO);
		if (pdp_audit_rotate_if_sealed(a) == PDP_OK)
			return PDP_OK;
		stat_add(a, &a->stats.write_errors, 1);
		if (!retry_wait(a, deadline, backoff))
			PDP_BAIL(PDP_E_IO);
	}
}

static enum pdp_err write_with_retry(pdp_audit *a, bool force_sync, uint64_t deadline,
				     unsigned *backoff)
{
	for (;;) {
		if (atomic_load(&a->failed))
			PDP_BAIL(PDP_E_IO);
		if (pdp_audit_write_unit(a, force_sync) == PDP_OK)
			return PDP_OK;
		if (!retry_wait(a, deadline, backoff))
			PDP_BAIL(PDP_E_IO);
	}
}

/* ---- completions ---------------------------------------------------------- */

/* Sorts a completion list into per-queue batches (order kept); returns
 * the number of queues touched, listed in a->cq. */
static size_t gather(pdp_audit *a, struct pdp_audit_entry *list, enum pdp_err err)
{
	size_t nq = 0;
	a->batch_no++;
	while (list) {
		struct pdp_audit_entry *e = list;
		pdp_audit_queue *q = e->q;
		list = e->next;
		e->next = NULL;
		e->err = err;
		if (q->mark != a->batch_no) {
			if (nq == a->cq_cap) {
				a->cq_cap = a->cq_cap ? 2 * a->cq_cap : 16;
				a->cq = pdp_xrealloc(a->cq, a->cq_cap * sizeof(*a->cq));
			}
			q->mark = a->batch_no;
			q->batch_count = 0;
			q->batch_head = NULL;
			q->batch_tail = &q->batch_head;
			a->cq[nq++] = q;
		}
		*q->batch_tail = e;
		q->batch_tail = &e->next;
		q->batch_count++;
	}
	return nq;
}

/* Hands a list of entries back to their queues: one lock per queue to
 * append its batch, and a notify only when the worker is not already
 * known to be woken (q->notified, cleared by its drain). */
static void complete(pdp_audit *a, struct pdp_audit_entry *list, enum pdp_err err)
{
	uint64_t failed = 0;
	for (struct pdp_audit_entry *e = list; e && err != PDP_OK; e = e->next)
		failed++;
	if (failed) /* before handing back: a drained record is already counted */
		stat_add(a, &a->stats.failed_records, failed);
	size_t nq = gather(a, list, err);
	for (size_t i = 0; i < nq; i++) {
		pdp_audit_queue *q = a->cq[i];
		pthread_mutex_lock(&q->mu);
		*q->done_tail = q->batch_head;
		q->done_tail = q->batch_tail;
		pthread_mutex_unlock(&q->mu);
		if (q->notify && !atomic_exchange(&q->notified, true))
			q->notify(q->arg);
	}
	/* only now may pdp_audit_queue_free return (and the queue go away) */
	for (size_t i = 0; i < nq; i++) {
		pdp_audit_queue *q = a->cq[i];
		pthread_mutex_lock(&q->mu);
		atomic_fetch_sub(&q->outstanding, q->batch_count);
		q->batch_count = 0;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->mu);
	}
}

static void unit_reset(pdp_audit *a)
{
	pdp_buf_reset(&a->unit);
	a->unit_has_cp = false;
}

/* After a unit's bytes are written (and synced as the mode asks). */
static void unit_written(pdp_audit *a, uint64_t records)
{
	a->failing = false;
	publish_unit_stats(a, records);
	pdp_audit_publish(a);
}

/* Commits the unit built in a->unit (records `entries`), or undoes it. */
static enum pdp_err commit(pdp_audit *a, const struct pdp_audit_chain *pre, uint64_t pre_cp_ms,
			   uint64_t records, bool force_sync, uint64_t deadline, unsigned *backoff)
{
	enum pdp_err e = write_with_retry(a, force_sync, deadline, backoff);
	if (e == PDP_OK) {
		unit_written(a, records);
		return PDP_OK;
	}
	a->chain = *pre;
	a->last_cp_ms = pre_cp_ms;
	a->failing = true;
	set_writable(a, false);
	return e;
}

/* Builds the next unit in a->unit from *list (up to the segment limit,
 * sealing the segment when it gets there); assigns seq; returns where the
 * unit's records end (*cut) and their number. */
static enum pdp_err build_unit(pdp_audit *a, struct pdp_audit_entry **list,
			       struct pdp_audit_entry ***cut, uint64_t *n)
{
	enum pdp_err e = PDP_OK;
	unit_reset(a);
	*cut = list;
	*n = 0;
	while (**cut && e == PDP_OK && (*n == 0 || a->seg_size + a->unit.len < a->seg_max)) {
		(**cut)->seq = a->chain.next_seq;
		e = pdp_audit_append(a, (**cut)->type, (pdp_str){ (**cut)->data, (**cut)->len });
		*cut = &(**cut)->next;
		(*n)++;
	}
	if (e == PDP_OK && a->seg_size + a->unit.len >= a->seg_max && strcmp(a->chain.last_type, "checkpoint"))
		e = pdp_audit_append_checkpoint(a); /* seal the segment */
	return e;
}

/* Takes records from *list into one unit and commits it (with retries);
 * completes the entries of the unit. */
static void process_unit(pdp_audit *a, struct pdp_audit_entry **list)
{
	unsigned backoff = 10;
	uint64_t deadline = unit_deadline(a);
	struct pdp_audit_entry *first = *list, **cut;
	if (rotate_with_retry(a, deadline, &backoff) != PDP_OK) {
		*list = NULL;
		a->failing = true;
		complete(a, first, PDP_E_IO);
		return;
	}
	struct pdp_audit_chain pre = a->chain;
	uint64_t pre_cp_ms = a->last_cp_ms, n;
	enum pdp_err e = build_unit(a, list, &cut, &n);
	*list = *cut;
	*cut = NULL;
	if (e == PDP_OK)
		e = commit(a, &pre, pre_cp_ms, n, false, deadline, &backoff);
	else
		a->chain = pre;
	if (e == PDP_OK)
		a->run_records += n;
	complete(a, first, e);
}

/* pdp_audit_flush's units: one attempt each, no waiting; returns the
 * records not written (the writer thread takes them over, retries and all). */
static struct pdp_audit_entry *flush_units(pdp_audit *a, struct pdp_audit_entry *list)
{
	while (list && !atomic_load(&a->failed)) {
		if (pdp_audit_rotate_if_sealed(a) != PDP_OK) {
			stat_add(a, &a->stats.write_errors, 1);
			set_writable(a, false); /* as the writer's retries do, until a unit succeeds */
			break;
		}
		struct pdp_audit_chain pre = a->chain;
		uint64_t pre_cp_ms = a->last_cp_ms, n;
		struct pdp_audit_entry **cut;
		enum pdp_err e = build_unit(a, &list, &cut, &n);
		bool built = e == PDP_OK;
		if (built)
			e = pdp_audit_write_unit(a, false);
		if (e != PDP_OK) {
			a->chain = pre;
			a->last_cp_ms = pre_cp_ms;
			if (built) /* a failed write, as the writer's retries do until a unit succeeds */
				set_writable(a, false);
			break;
		}
		unit_written(a, n);
		a->run_records += n;
		struct pdp_audit_entry *first = list;
		list = *cut;
		*cut = NULL;
		complete(a, first, PDP_OK);
	}
	return list;
}

static void process(pdp_audit *a, struct pdp_audit_entry *list)
{
	while (list) {
		if (atomic_load(&a->failed)) {
			complete(a, list, PDP_E_IO);
			return;
		}
		if (a->failing)
			sleep_ms(100); /* do not hammer a failing disk */
		process_unit(a, &list);
	}
}

/* ---- timers and the final records ---------------------------------------- */

static bool sync_due(const pdp_audit *a, uint64_t now)
{
	return a->fsync == PDP_AUDIT_FSYNC_INTERVAL && a->dirty && now >= a->last_sync_ms + a->interval_ms;
}

static bool cp_due(const pdp_audit *a, uint64_t now)
{
	return a->chain.since_cp > 0 && now >= a->last_cp_ms + a->cp_every_ms;
}

static void timed_checkpoint(pdp_audit *a)
{
	struct pdp_audit_chain pre = a->chain;
	uint64_t pre_cp_ms = a->last_cp_ms;
	unsigned backoff = 10;
	uint64_t deadline = unit_deadline(a);
	if (rotate_with_retry(a, deadline, &backoff) != PDP_OK) {
		a->last_cp_ms = pdp_audit_now_ms(); /* try again next period */
		return;
	}
	unit_reset(a);
	enum pdp_err e = pdp_audit_append_checkpoint(a);
	if (e == PDP_OK)
		e = commit(a, &pre, pre_cp_ms, 0, false, deadline, &backoff);
	if (e != PDP_OK) {
		a->chain = pre;
		a->last_cp_ms = pdp_audit_now_ms();
	}
}

static void timers(pdp_audit *a)
{
	uint64_t now = pdp_audit_now_ms();
	if (sync_due(a, now) && !atomic_load(&a->failed) && sync_segment(a) != 0) {
		/* records already answered may not be durable: fail closed */
		stat_add(a, &a->stats.write_errors, 1);
		atomic_store(&a->failed, true);
		set_writable(a, false);
	}
	if (cp_due(a, now) && !atomic_load(&a->failed))
		timed_checkpoint(a);
}

static void final_records(pdp_audit *a)
{
	struct pdp_audit_chain pre = a->chain;
	unsigned backoff = 10;
	uint64_t deadline = pdp_audit_now_ms() + a->fail_timeout_ms;
	pdp_buf m;
	pdp_buf_init(&m, 0);
	enum pdp_err e = pdp_buf_adds(&m, "\"reason\":");
	if (e == PDP_OK)
		e = pdp_audit_add_str(&m, a->stop_reason, strlen(a->stop_reason));
	if (e == PDP_OK)
		e = pdp_buf_printf(&m, ",\"records_this_run\":%llu", (unsigned long long)a->run_records);
	if (e == PDP_OK && !atomic_load(&a->failed))
		e = rotate_with_retry(a, deadline, &backoff);
	unit_reset(a);
	if (e == PDP_OK && !atomic_load(&a->failed))
		e = pdp_audit_append(a, "stop", (pdp_str){ m.data, m.len });
	if (e == PDP_OK && strcmp(a->chain.last_type, "checkpoint"))
		e = pdp_audit_append_checkpoint(a);
	if (e == PDP_OK && !atomic_load(&a->failed))
		e = commit(a, &pre, a->last_cp_ms, 1, true, deadline, &backoff);
	if (e != PDP_OK || atomic_load(&a->failed))
		a->close_err = PDP_E_IO;
	pdp_buf_done(&m);
}

/* ---- the right to write, and the loop ---------------------------------- */

/* Under a->mu: wakes the writer thread if it sleeps and has work. */
static void signal_writer(pdp_audit *a)
{
	uint64_t now = pdp_audit_now_ms();
	if (a->writer_waiting && (a->pending || sync_due(a, now) || cp_due(a, now))) {
		a->writer_waiting = false;
		pthread_cond_signal(&a->cond);
	}
}

void pdp_audit_kick(pdp_audit *a)
{
	pthread_mutex_lock(&a->mu);
	if (!a->writing)
		signal_writer(a); /* else the holder hands the records on */
	pthread_mutex_unlock(&a->mu);
}

/* The combining design: the submitting worker writes the pending records
 * itself when no thread is writing, instead of waking the writer thread and
 * being woken back; whoever gives up the right to write wakes the writer
 * thread for what is left (records, a due checkpoint or interval sync). A
 * failing log is left to the writer thread, whose retries would block the
 * worker's connections. */
void pdp_audit_flush(pdp_audit_queue *q)
{
	pdp_audit *a = q->a;
	pthread_mutex_lock(&a->mu);
	if (a->writing || !a->pending) {
		pthread_mutex_unlock(&a->mu);
		return;
	}
	if (a->failing || a->stopping || atomic_load(&a->failed)) {
		signal_writer(a);
		pthread_mutex_unlock(&a->mu);
		return;
	}
	a->writing = true;
	struct pdp_audit_entry *list = a->pending;
	a->pending = NULL;
	a->pending_tail = &a->pending;
	pthread_mutex_unlock(&a->mu);
	list = flush_units(a, list);
	pthread_mutex_lock(&a->mu);
	if (list) { /* back to the front, in order, for the writer thread */
		struct pdp_audit_entry **t = &list;
		while (*t)
			t = &(*t)->next;
		*t = a->pending;
		if (!a->pending)
			a->pending_tail = t;
		a->pending = list;
	}
	a->writing = false;
	signal_writer(a);
	pthread_mutex_unlock(&a->mu);
}

/* Under a->mu: returns when there is work and no other thread writes. */
static void wait_for_work(pdp_audit *a)
{
	for (;;) {
		uint64_t now = pdp_audit_now_ms();
		if (!a->writing && (a->pending || a->stopping || sync_due(a, now) || cp_due(a, now)))
			return;
		uint64_t next = UINT64_MAX; /* while another writes: the holder signals */
		if (!a->writing && a->fsync == PDP_AUDIT_FSYNC_INTERVAL && a->dirty)
			next = a->last_sync_ms + a->interval_ms;
		if (!a->writing && a->chain.since_cp > 0 && a->last_cp_ms + a->cp_every_ms < next)
			next = a->last_cp_ms + a->cp_every_ms;
		a->writer_waiting = true; /* a submit signals only then */
		if (next == UINT64_MAX) {
			pthread_cond_wait(&a->cond, &a->mu);
			a->writer_waiting = false;
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait = next - now;
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		a->writer_waiting = false;
	}
}

void *pdp_audit_writer_main(void *arg)
{
	pdp_audit *a = arg;
	pthread_setname_np(pthread_self(), "pdp-audit"); /* top -H, perf */
	pthread_mutex_lock(&a->mu);
	for (;;) {
		wait_for_work(a);
		a->writing = true;
		struct pdp_audit_entry *list = a->pending;
		bool stopping = a->stopping;
		a->pending = NULL;
		a->pending_tail = &a->pending;
		pthread_mutex_unlock(&a->mu);
		if (list)
			process(a, list);
		else if (stopping)
			break; /* keeps the right to write: no queue is left */
		timers(a);
		pthread_mutex_lock(&a->mu);
		a->writing = false;
	}
	final_records(a);
	return NULL;
}
