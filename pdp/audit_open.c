/*
 * audit_open.c -- opening a log: segment files, tail verification, torn
 * line recovery, new chains, and the opening records.
 *
 * Design (systemd journal cues): never write on past corruption that has
 * not been explained. On open the writer
 *   1. reads the genesis record (first line of the first segment) and
 *      checks the log id;
 *   2. seeds the chain from the checkpoint that seals the previous segment
 *      (its compact range gives the Merkle state) and verifies every line of
 *      the last segment with the verifier state machine;
 *   3. treats bytes after the last newline as a torn write: cut off, the cut
 *      recorded (offset, length, SHA-256 of the bytes) in a `recovery`
 *      record;
 *   4. refuses a complete line that does not verify ("corruption further
 *      back"), unless new_chain is set: then the old segments are moved,
 *      unchanged, into superseded-<time>/ and a new genesis names the old
 *      chain's verified head, its last line's hash and the reason;
 *   5. writes [genesis] [recovery] start checkpoint as one unit, fdatasync'd
 *      whatever the fsync mode, and publishes the checkpoint.
 * Older segments are not re-verified here (that is `pdp audit verify`).
 *
 * Ownership: everything read here is freed before returning; the state
 * found is stored in the pdp_audit being opened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_int.h"
#include "cmd.h"

/* ---- segment names ---------------------------------------------------------- */

void pdp_audit_seg_name(uint64_t first, char ret[PDP_AUDIT_SEG_NAME_LEN + 1])
{
	snprintf(ret, PDP_AUDIT_SEG_NAME_LEN + 1, PDP_AUDIT_SEG_PREFIX "%020llu" PDP_AUDIT_SEG_SUFFIX,
		 (unsigned long long)first);
}

bool pdp_audit_seg_name_parse(const char *name, uint64_t *ret)
{
	if (strlen(name) != PDP_AUDIT_SEG_NAME_LEN || strncmp(name, PDP_AUDIT_SEG_PREFIX, 6) != 0 ||
	    strcmp(name + 26, PDP_AUDIT_SEG_SUFFIX) != 0)
		return false;
	uint64_t v = 0;
	for (int i = 6; i < 26; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

enum pdp_err pdp_audit_segs_list(int dirfd, pdp_audit_segs *ret, pdp_buf *errmsg)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "cannot list the audit directory: %s", strerror(errno)));
		PDP_BAIL(PDP_E_IO);
	}
	rewinddir(d);
	pdp_audit_segs s = { NULL, 0 };
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint64_t first;
		if (!pdp_audit_seg_name_parse(de->d_name, &first))
			continue;
		if (s.n == cap) {
			cap = cap ? 2 * cap : 16;
			s.first = pdp_xrealloc(s.first, cap * sizeof(*s.first));
		}
		s.first[s.n++] = first;
	}
	closedir(d);
	if (s.n)
		qsort(s.first, s.n, sizeof(*s.first), u64_cmp);
	*ret = s;
	return PDP_OK;
}

void pdp_audit_segs_done(pdp_audit_segs *s)
{
	free(s->first);
	s->first = NULL;
	s->n = 0;
}

/* ---- reading lines ---------------------------------------------------------- */

static enum pdp_err map_segment(pdp_audit *a, uint64_t first, struct pdp_audit_mapped *ret)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(first, name);
	return pdp_audit_map_file(a->dirfd, name, ret);
}

/* What recovery found; the reason a chain cannot continue goes to why. */
struct tail {
	pdp_buf why;
	bool corrupt;
	bool fresh;                   /* no records at all */
	uint64_t verified;            /* records verified (= next seq) */
	uint8_t verified_head[32];
	bool have_last_hash;
	char last_line_hash[65];      /* the hash field of the last complete line */
	uint64_t cut_at, cut_bytes;
	char cut_sha[65];
	uint64_t last_first;          /* the last segment */
	uint64_t last_size;           /* its size after the cut */
	bool clean_stop;
};

static enum pdp_err corrupt(struct tail *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum pdp_err corrupt(struct tail *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pdp_buf_reset(&t->why);
	pdp_ignore(pdp_buf_vprintf(&t->why, fmt, ap));
	va_end(ap);
	t->corrupt = true;
	PDP_BAIL(PDP_E_CORRUPT);
}

/* The log id from the genesis record in the first segment. */
static enum pdp_err read_genesis(pdp_audit *a, const pdp_audit_segs *segs, pdp_buf *log_id,
				 struct tail *t)
{
	struct pdp_audit_mapped m;
	pdp_audit_rec r;
	const char *why = NULL;
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(segs->first[0], name);
	if (segs->first[0] != 0)
		return corrupt(t, "%s: the first segment does not start at seq 0", name);
	if (map_segment(a, 0, &m) != PDP_OK)
		return corrupt(t, "%s: cannot read: %s", name, strerror(errno));
	const char *nl = m.len ? memchr(m.p, '\n', m.len) : NULL;
	enum pdp_err e = PDP_OK;
	if (!nl)
		e = PDP_E_NOTFOUND; /* empty or torn genesis: the tail scan decides */
	else if (pdp_audit_line_parse(&a->h, m.p, (size_t)(nl - m.p), &r, &why) != PDP_OK)
		e = corrupt(t, "%s line 1: %s", name, why);
	else if (!pdp_str_eq_c(r.type, "genesis") || r.seq != 0 ||
		 pdp_audit_member_str(r.members, "log_id", log_id) != PDP_OK)
		e = corrupt(t, "%s line 1: not a genesis record", name);
	pdp_audit_unmap_file(&m);
	return e;
}

/* Seeds the verifier from the checkpoint that ends the segment before the
 * last one (its compact range is the Merkle state at that point). */
static enum pdp_err seed_from_seal(pdp_audit *a, uint64_t prev_first, uint64_t last_first,
				   pdp_audit_vstate *vs, struct tail *t)
{
	struct pdp_audit_mapped m;
	pdp_audit_rec r;
	const char *why = NULL;
	pdp_str range;
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(prev_first, name);
	if (map_segment(a, prev_first, &m) != PDP_OK)
		return corrupt(t, "%s: cannot read: %s", name, strerror(errno));
	enum pdp_err e = PDP_OK;
	const char *end = NULL, *start = NULL;
	if (m.len == 0 || m.p[m.len - 1] != '\n')
		e = corrupt(t, "%s: does not end with a complete record", name);
	else
		end = m.p + m.len, start = end - 1;
	while (e == PDP_OK && start > m.p && start[-1] != '\n')
		start--;
	if (e == PDP_OK && pdp_audit_line_parse(&a->h, start, (size_t)(end - 1 - start), &r, &why) != PDP_OK)
		e = corrupt(t, "%s: last line: %s", name, why);
	else if (e == PDP_OK && (!pdp_str_eq_c(r.type, "checkpoint") || r.seq + 1 != last_first ||
				 !pdp_audit_member(r.members, "range", &range) ||
				 !pdp_audit_mth_parse(range, r.seq, &vs->mth)))
		e = corrupt(t, "%s: does not end with the checkpoint that seals it before seq %llu", name,
			    (unsigned long long)last_first);
	if (e == PDP_OK) {
		pdp_audit_mth_append(&vs->h, &vs->mth, r.hash);
		memcpy(vs->head, r.hash, 32);
		vs->next_seq = r.seq + 1;
		memcpy(vs->last_type, "checkpoint", sizeof("checkpoint"));
	}
	pdp_audit_unmap_file(&m);
	return e;
}

static enum pdp_err cut_tail(pdp_audit *a, uint64_t first, const char *p, size_t off, size_t len,
			     struct tail *t)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	uint8_t h[32];
	pdp_audit_seg_name(first, name);
	pdp_audit_sha256(&a->h, h, p + off, len - off, NULL, 0);
	pdp_audit_hex(h, 32, t->cut_sha);
	t->cut_at = off;
	t->cut_bytes = len - off;
	int fd = openat(a->dirfd, name, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && ftruncate(fd, (off_t)off) == 0 && fdatasync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		pdp_buf_reset(&t->why);
		pdp_ignore(pdp_buf_printf(&t->why, "%s: cannot cut off the torn last line: %s", name,
					  strerror(errno)));
		PDP_BAIL(PDP_E_IO);
	}
	return PDP_OK;
}

/* Verifies every line of the last segment; cuts a torn last line. */
static enum pdp_err scan_last(pdp_audit *a, uint64_t first, pdp_audit_vstate *vs, struct tail *t)
{
	struct pdp_audit_mapped m;
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(first, name);
	if (vs->next_seq != first)
		return corrupt(t, "%s: named for seq %llu, but seq %llu comes next", name,
			       (unsigned long long)first, (unsigned long long)vs->next_seq);
	if (map_segment(a, first, &m) != PDP_OK)
		return corrupt(t, "%s: cannot read: %s", name, strerror(errno));
	enum pdp_err e = PDP_OK;
	size_t off = 0;
	uint64_t lineno = 0;
	while (off < m.len) {
		const char *nl = memchr(m.p + off, '\n', m.len - off);
		if (!nl)
			break;
		lineno++;
		size_t len = (size_t)(nl - m.p) - off;
		if (len >= PDP_AUDIT_SUFFIX_LEN) { /* keep the claimed head for a new chain */
			memcpy(t->last_line_hash, m.p + off + len - 66, 64);
			t->last_line_hash[64] = '\0';
			t->have_last_hash = true;
		}
		if (pdp_audit_vstate_line(vs, m.p + off, len) != PDP_OK) {
			e = corrupt(t, "%s line %llu (seq %llu): %s", name, (unsigned long long)lineno,
				    (unsigned long long)vs->next_seq, vs->why.data);
			break;
		}
		off += len + 1;
	}
	if (e == PDP_OK && off < m.len)
		e = cut_tail(a, first, m.p, off, m.len, t);
	t->last_first = first;
	t->last_size = off;
	pdp_audit_unmap_file(&m);
	return e;
}

static enum pdp_err check_tail(pdp_audit *a, const pdp_audit_segs *segs, pdp_audit_vstate *vs,
			       struct tail *t)
{
	pdp_buf log_id;
	pdp_buf_init(&log_id, 4096);
	enum pdp_err e = read_genesis(a, segs, &log_id, t);
	if (e == PDP_OK && strcmp(log_id.data, a->log_id) != 0) {
		pdp_buf_reset(&t->why);
		pdp_ignore(pdp_buf_printf(&t->why,
					  "the audit log in %s has log id '%s', the configuration says '%s' "
					  "(use another directory for another log)",
					  a->dir, log_id.data, a->log_id));
		e = PDP_E_INVALID;
	}
	if (e == PDP_E_NOTFOUND && segs->n == 1)
		e = PDP_OK; /* only a torn or empty first line: the scan cuts it */
	else if (e == PDP_E_NOTFOUND)
		e = corrupt(t, "the first segment has no complete genesis record");
	pdp_buf_done(&log_id);
	PDP_TRY(e);
	vs->check_sigs = false;
	pdp_ignore(pdp_buf_adds(&vs->log_id, a->log_id)); /* bounded by origin_valid */
	if (segs->n > 1) {
		vs->partial = true;
		PDP_TRY(seed_from_seal(a, segs->first[segs->n - 2], segs->first[segs->n - 1], vs, t));
	}
	return scan_last(a, segs->first[segs->n - 1], vs, t);
}

/* ---- a new chain over a corrupt one --------------------------------------- */

static enum pdp_err supersede(pdp_audit *a, const pdp_audit_segs *segs, char *ret_dir, size_t cap,
			      pdp_buf *errmsg)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(ret_dir, cap, "superseded-%04d%02d%02dT%02d%02d%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	if (mkdirat(a->dirfd, ret_dir, 0700) != 0)
		goto fail;
	int sub = openat(a->dirfd, ret_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sub < 0)
		goto fail;
	for (size_t i = 0; i < segs->n; i++) {
		char name[PDP_AUDIT_SEG_NAME_LEN + 1];
		pdp_audit_seg_name(segs->first[i], name);
		if (renameat(a->dirfd, name, sub, name) != 0) {
			close(sub);
			goto fail;
		}
	}
	bool ok = fsync(sub) == 0 && fsync(a->dirfd) == 0;
	close(sub);
	if (ok)
		return PDP_OK;
fail:
	if (errmsg)
		pdp_ignore(pdp_buf_printf(errmsg, "%s: cannot move the old chain to %s: %s", a->dir,
					  ret_dir, strerror(errno)));
	PDP_BAIL(PDP_E_IO);
}

/* ---- the opening records ---------------------------------------------------- */

static enum pdp_err add_kv_str(json_t *o, const char *k, const char *v)
{
	PDP_ENSURE(json_object_set_new(o, k, json_string(v)) == 0, PDP_E_INVALID);
	return PDP_OK;
}

static enum pdp_err append_json(pdp_audit *a, const char *type, json_t *o)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	enum pdp_err e = pdp_audit_canon_json(&b, o);
	if (e == PDP_OK)
		e = pdp_audit_append(a, type, (pdp_str){ b.data + 1, b.len - 2 });
	pdp_buf_done(&b);
	return e;
}

static enum pdp_err append_genesis(pdp_audit *a, const struct tail *t, const char *moved_to)
{
	json_t *g = json_object(), *prev = NULL;
	enum pdp_err e = add_kv_str(g, "format", "meshpdp-audit");
	if (e == PDP_OK)
		e = add_kv_str(g, "log_id", a->log_id);
	if (e == PDP_OK && moved_to) {
		char hex[65];
		pdp_audit_hex(t->verified_head, 32, hex);
		prev = json_pack("{s:s, s:s, s:I, s:s, s:s}", "moved_to", moved_to, "reason", t->why.data,
				 "records_verified", (json_int_t)t->verified, "verified_head", hex,
				 "last_line_hash", t->have_last_hash ? t->last_line_hash : "");
		e = prev && json_object_set_new(g, "previous_chain", prev) == 0 ? PDP_OK : PDP_E_INVALID;
	}
	if (e == PDP_OK)
		e = append_json(a, "genesis", g);
	json_decref(g);
	return e;
}

static enum pdp_err append_recovery(pdp_audit *a, const struct tail *t, uint64_t since_cp)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(t->last_first, name);
	json_t *r = json_pack("{s:b, s:I, s:s, s:I, s:I}", "clean_shutdown", (int)t->clean_stop,
			      "records_after_last_checkpoint", (json_int_t)since_cp, "segment", name,
			      "truncated_at", (json_int_t)t->cut_at, "truncated_bytes",
			      (json_int_t)t->cut_bytes);
	enum pdp_err e = r ? PDP_OK : PDP_E_INVALID;
	if (e == PDP_OK && t->cut_bytes)
		e = add_kv_str(r, "truncated_sha256", t->cut_sha);
	if (e == PDP_OK)
		e = append_json(a, "recovery", r);
	json_decref(r);
	return e;
}

static enum pdp_err append_start(pdp_audit *a, const char *start_fields, pdp_buf *errmsg)
{
	json_t *s = json_pack("{s:I, s:I, s:s, s:I, s:s, s:I, s:b, s:I, s:s}", "checkpoint_every",
			      (json_int_t)a->cp_every, "checkpoint_every_ms", (json_int_t)a->cp_every_ms,
			      "fsync", pdp_audit_fsync_name(a->fsync), "fsync_interval_ms",
			      (json_int_t)a->interval_ms, "key", a->vkey, "pid", (json_int_t)getpid(),
			      "pseudonymised", a->hmac_len > 0, "segment_max_bytes",
			      (json_int_t)a->seg_max, "software", "meshpdp " PDP_VERSION);
	enum pdp_err e = s ? PDP_OK : PDP_E_INVALID;
	if (e == PDP_OK && start_fields) {
		json_error_t jerr;
		json_t *extra = json_loads(start_fields, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(extra) || json_object_update_missing(s, extra) != 0) {
			if (errmsg)
				pdp_ignore(pdp_buf_adds(errmsg, "audit start_fields: not a JSON object"));
			e = PDP_E_INVALID;
		}
		json_decref(extra);
	}
	if (e == PDP_OK)
		e = append_json(a, "start", s);
	json_decref(s);
	return e;
}

static void adopt_state(pdp_audit *a, const pdp_audit_vstate *vs)
{
	a->chain.next_seq = vs->next_seq;
	memcpy(a->chain.head, vs->head, 32);
	a->chain.mth = vs->mth;
	a->chain.since_cp = vs->since_cp;
	memcpy(a->chain.last_type, vs->last_type, sizeof(a->chain.last_type));
}

static enum pdp_err open_last_segment(pdp_audit *a, const struct tail *t, pdp_buf *errmsg)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	pdp_audit_seg_name(t->last_first, name);
	a->segfd = openat(a->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (a->segfd < 0) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s/%s: %s", a->dir, name, strerror(errno)));
		PDP_BAIL(PDP_E_IO);
	}
	a->seg_first = t->last_first;
	a->seg_size = t->last_size;
	return PDP_OK;
}

static enum pdp_err write_opening(pdp_audit *a, const struct tail *t, const char *moved_to,
				  const char *start_fields, pdp_buf *errmsg)
{
	bool fresh = a->chain.next_seq == 0;
	bool unclean = (!fresh && !t->clean_stop) || t->cut_bytes > 0;
	uint64_t since_cp = a->chain.since_cp;
	enum pdp_err e = PDP_OK;
	if (fresh && a->segfd < 0)
		e = pdp_audit_create_segment(a, 0);
	if (e == PDP_OK && !fresh)
		e = pdp_audit_rotate_if_sealed(a);
	pdp_buf_reset(&a->unit);
	a->unit_has_cp = false;
	if (e == PDP_OK && fresh)
		e = append_genesis(a, t, moved_to);
	if (e == PDP_OK && unclean)
		e = append_recovery(a, t, since_cp);
	if (e == PDP_OK)
		e = append_start(a, start_fields, errmsg);
	if (e == PDP_OK)
		e = pdp_audit_append_checkpoint(a);
	if (e == PDP_OK)
		e = pdp_audit_write_unit(a, true);
	if (e != PDP_OK) {
		if (errmsg && !errmsg->len)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: cannot write the opening records: %s", a->dir,
						  strerror(errno)));
		PDP_BAIL(e == PDP_E_INVALID ? e : PDP_E_IO);
	}
	pdp_audit_publish(a);
	return PDP_OK;
}

enum pdp_err pdp_audit_recover(pdp_audit *a, bool new_chain, const char *start_fields, pdp_buf *errmsg)
{
	pdp_audit_segs segs = { NULL, 0 };
	pdp_audit_vstate vs;
	struct tail t;
	char moved[64];
	bool superseded = false;
	memset(&t, 0, sizeof(t));
	pdp_buf_init(&t.why, 8192);
	pdp_audit_vstate_init(&vs);
	enum pdp_err e = pdp_audit_segs_list(a->dirfd, &segs, errmsg);
	if (e == PDP_OK && segs.n > 0)
		e = check_tail(a, &segs, &vs, &t);
	t.verified = vs.next_seq;
	memcpy(t.verified_head, vs.head, 32);
	t.clean_stop = vs.clean_stop;
	if (e == PDP_E_CORRUPT && new_chain) {
		e = supersede(a, &segs, moved, sizeof(moved), errmsg);
		superseded = e == PDP_OK;
		pdp_audit_mth_init(&a->chain.mth);
		a->chain.next_seq = 0;
	} else if (e != PDP_OK && errmsg) {
		pdp_ignore(pdp_buf_printf(errmsg, "%s: %s", a->dir, t.why.data ? t.why.data : "unreadable"));
		if (e == PDP_E_CORRUPT)
			pdp_ignore(pdp_buf_adds(errmsg,
						"; refusing to write on past it (verify with `pdp audit verify`; "
						"audit.new_chain starts a new chain that names this one)"));
	} else if (e == PDP_OK && vs.next_seq > 0) {
		adopt_state(a, &vs);
		e = open_last_segment(a, &t, errmsg);
	}
	if (e == PDP_OK)
		e = write_opening(a, &t, superseded ? moved : NULL, start_fields, errmsg);
	pdp_audit_vstate_done(&vs);
	pdp_audit_segs_done(&segs);
	pdp_buf_done(&t.why);
	return e;
}
