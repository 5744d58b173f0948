/*
 * audit_verify.c -- the audit-log verifier (docs/audit-log-format.md §8).
 *
 * Design: a streaming state machine fed one line at a time
 * (pdp_audit_vstate_line): the record must parse and hash (audit_record.c),
 * carry the next seq and the previous record's hash, and obey the record
 * rules: genesis first and only first; a checkpoint names this log, the
 * number of records before it, their RFC 6962 root and compact range, and
 * is signed by a trusted key; a start is followed by its checkpoint before
 * any counted record; never more than checkpoint_every counted records
 * between checkpoints. The state is only advanced when a line passes, so
 * the first failure names the first bad record. The writer runs the same
 * machine over the last segment when it opens a log (partial mode, where
 * signatures and the rules that need earlier segments are skipped).
 *
 * pdp_audit_verify_dir drives it over every segment file in order, with
 * mmap'd reads, and checks an external checkpoint (--checkpoint) against
 * the root computed at its size.
 *
 * Ownership: the vstate and the result own their pdp_bufs; free them with
 * their _done functions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_int.h"

void pdp_audit_vstate_init(pdp_audit_vstate *vs)
{
	memset(vs, 0, sizeof(*vs));
	pdp_audit_hasher_init(&vs->h);
	pdp_audit_mth_init(&vs->mth);
	pdp_buf_init(&vs->log_id, 4096);
	pdp_buf_init(&vs->why, 4096);
	vs->check_sigs = true;
}

void pdp_audit_vstate_done(pdp_audit_vstate *vs)
{
	pdp_audit_hasher_done(&vs->h);
	pdp_buf_done(&vs->log_id);
	pdp_buf_done(&vs->why);
}

static enum pdp_err bad(pdp_audit_vstate *vs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum pdp_err bad(pdp_audit_vstate *vs, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vs->bad_seq = vs->next_seq;
	pdp_buf_reset(&vs->why);
	pdp_ignore(pdp_buf_vprintf(&vs->why, fmt, ap));
	va_end(ap);
	PDP_BAIL(PDP_E_CORRUPT);
}

static bool type_is(const pdp_audit_rec *r, const char *t)
{
	return pdp_str_eq_c(r->type, t);
}

static enum pdp_err check_genesis(pdp_audit_vstate *vs, const pdp_audit_rec *r, pdp_buf *log_id)
{
	if (r->seq != 0 || vs->partial)
		return bad(vs, "a genesis record in the middle of a chain");
	if (pdp_audit_member_str(r->members, "log_id", log_id) != PDP_OK ||
	    !pdp_audit_origin_valid(log_id->data, log_id->len))
		return bad(vs, "genesis record without a valid log_id");
	return PDP_OK;
}

static enum pdp_err check_sig(pdp_audit_vstate *vs, const pdp_audit_note *note)
{
	pdp_str name = { vs->log_id.data, vs->log_id.len };
	if (vs->trusted) {
		for (size_t i = 0; i < vs->ntrusted; i++) {
			int v = pdp_audit_note_verify(note, name, vs->trusted[i]);
			if (v < 0)
				return bad(vs, "checkpoint signature does not verify (checkpoint forged or modified)");
			if (v > 0)
				return PDP_OK;
		}
		return bad(vs, "checkpoint is not signed by a trusted key (--pubkey)");
	}
	if (!vs->have_start_key)
		return bad(vs, "checkpoint before any start record names its key");
	int v = pdp_audit_note_verify(note, name, vs->start_key);
	if (v <= 0)
		return bad(vs, "checkpoint signature does not verify against the key in the start record");
	return PDP_OK;
}

static enum pdp_err check_checkpoint(pdp_audit_vstate *vs, const pdp_audit_rec *r)
{
	pdp_buf text;
	pdp_audit_note note;
	const char *why = NULL;
	pdp_str range;
	pdp_audit_mth m;
	uint8_t root[32];
	enum pdp_err e = PDP_OK;
	pdp_buf_init(&text, PDP_AUDIT_NOTE_MAX);
	if (pdp_audit_member_str(r->members, "note", &text) != PDP_OK)
		e = bad(vs, "checkpoint record without a note");
	else if (!pdp_audit_note_parse(text.data, text.len, &note, &why))
		e = bad(vs, "%s", why);
	else if (!pdp_str_eq(note.origin, (pdp_str){ vs->log_id.data, vs->log_id.len }))
		e = bad(vs, "checkpoint origin '%.*s' is not this log's id '%s'", (int)note.origin.len,
			note.origin.p, vs->log_id.data);
	else if (note.size != r->seq)
		e = bad(vs, "checkpoint tree size %llu, but it follows %llu records",
			(unsigned long long)note.size, (unsigned long long)r->seq);
	if (e == PDP_OK) {
		pdp_audit_mth_root(&vs->h, &vs->mth, root);
		if (CRYPTO_memcmp(root, note.root, 32) != 0)
			e = bad(vs, "checkpoint root hash does not match the records before it");
	}
	if (e == PDP_OK && (!pdp_audit_member(r->members, "range", &range) ||
			    !pdp_audit_mth_parse(range, r->seq, &m) || m.n != vs->mth.n ||
			    memcmp(m.range, vs->mth.range, 32 * (size_t)m.n) != 0))
		e = bad(vs, "checkpoint range does not match the records before it");
	if (e == PDP_OK && vs->check_sigs && !vs->partial)
		e = check_sig(vs, &note);
	pdp_buf_done(&text);
	return e;
}

static enum pdp_err check_start(pdp_audit_vstate *vs, const pdp_audit_rec *r, uint64_t *ret_every,
				uint8_t ret_key[32])
{
	pdp_buf vkey;
	pdp_buf_init(&vkey, 4096);
	enum pdp_err e = PDP_OK;
	if (!pdp_audit_member_u64(r->members, "checkpoint_every", ret_every) || *ret_every == 0)
		e = bad(vs, "start record without a valid checkpoint_every");
	else if (pdp_audit_member_str(r->members, "key", &vkey) != PDP_OK ||
		 !pdp_audit_vkey_parse((pdp_str){ vkey.data, vkey.len },
				       (pdp_str){ vs->log_id.data, vs->log_id.len }, ret_key))
		e = bad(vs, "start record without a valid key for this log id");
	pdp_buf_done(&vkey);
	return e;
}

/* The record rules (§8) on a record whose chain links already hold. */
static enum pdp_err check_rules(pdp_audit_vstate *vs, const pdp_audit_rec *r, pdp_buf *log_id,
				uint64_t *every, uint8_t key[32])
{
	if (r->seq == 0 && !type_is(r, "genesis"))
		return bad(vs, "the first record is not a genesis record");
	if (type_is(r, "genesis"))
		return check_genesis(vs, r, log_id);
	if (type_is(r, "checkpoint"))
		return check_checkpoint(vs, r);
	if (type_is(r, "start"))
		return check_start(vs, r, every, key);
	if (type_is(r, "recovery"))
		return PDP_OK;
	if (!vs->partial && !vs->cp_every)
		return bad(vs, "a record before the first start record");
	if (vs->cp_due)
		return bad(vs, "a start record is not followed by its checkpoint");
	if (vs->cp_every && vs->since_cp + 1 > vs->cp_every)
		return bad(vs, "more than %llu records since the last checkpoint (checkpoints removed?)",
			   (unsigned long long)vs->cp_every);
	return PDP_OK;
}

static void advance(pdp_audit_vstate *vs, const pdp_audit_rec *r, pdp_buf *log_id, uint64_t every,
		    const uint8_t key[32])
{
	if (type_is(r, "genesis")) {
		pdp_buf_reset(&vs->log_id);
		pdp_ignore(pdp_buf_add(&vs->log_id, log_id->data, log_id->len)); /* same cap */
	} else if (type_is(r, "checkpoint")) {
		vs->since_cp = 0;
		vs->cp_due = false;
		vs->checkpoints++;
		vs->signed_size = r->seq;
	} else if (type_is(r, "start")) {
		vs->cp_every = every;
		vs->cp_due = true;
		vs->have_start_key = true;
		memcpy(vs->start_key, key, 32);
	} else if (!type_is(r, "recovery")) {
		vs->since_cp++;
	}
	vs->clean_stop = type_is(r, "checkpoint") && !strcmp(vs->last_type, "stop");
	memcpy(vs->last_type, r->type.p, r->type.len);
	vs->last_type[r->type.len] = '\0';
	memcpy(vs->head, r->hash, 32);
	pdp_audit_mth_append(&vs->h, &vs->mth, r->hash);
	vs->next_seq = r->seq + 1;
}

static enum pdp_err check_want(pdp_audit_vstate *vs)
{
	if (!vs->want || vs->want_met || vs->next_seq != vs->want_size)
		return PDP_OK;
	uint8_t root[32];
	pdp_audit_mth_root(&vs->h, &vs->mth, root);
	if (CRYPTO_memcmp(root, vs->want_root, 32) != 0) {
		pdp_ignore(bad(vs, "the first %llu records differ from the --checkpoint (log rewritten)",
			       (unsigned long long)vs->want_size));
		vs->bad_seq = vs->next_seq - 1; /* the record that completed the prefix */
		PDP_BAIL(PDP_E_CORRUPT);
	}
	vs->want_met = true;
	return PDP_OK;
}

enum pdp_err pdp_audit_vstate_line(pdp_audit_vstate *vs, const char *line, size_t len)
{
	pdp_audit_rec r;
	const char *why = NULL;
	if (pdp_audit_line_parse(&vs->h, line, len, &r, &why) != PDP_OK)
		return bad(vs, "%s", why);
	if (r.seq != vs->next_seq)
		return bad(vs, "found seq %llu where seq %llu belongs (a record was deleted, inserted or reordered)",
			   (unsigned long long)r.seq, (unsigned long long)vs->next_seq);
	if (CRYPTO_memcmp(r.prev, vs->head, 32) != 0)
		return bad(vs, "prev is not the hash of record %llu (a record was replaced or the chain rewritten)",
			   (unsigned long long)(r.seq ? r.seq - 1 : 0));
	pdp_buf log_id;
	pdp_buf_init(&log_id, 4096);
	uint64_t every = 0;
	uint8_t key[32];
	enum pdp_err e = check_rules(vs, &r, &log_id, &every, key);
	if (e == PDP_OK)
		advance(vs, &r, &log_id, every, key);
	pdp_buf_done(&log_id);
	if (e == PDP_OK)
		e = check_want(vs);
	return e;
}

/* ---- verifying a directory ------------------------------------------------ */

void pdp_audit_verify_result_init(pdp_audit_verify_result *r)
{
	memset(r, 0, sizeof(*r));
	pdp_buf_init(&r->log_id, 4096);
	pdp_buf_init(&r->file, 4096);
	pdp_buf_init(&r->why, 8192);
}

void pdp_audit_verify_result_done(pdp_audit_verify_result *r)
{
	pdp_buf_done(&r->log_id);
	pdp_buf_done(&r->file);
	pdp_buf_done(&r->why);
}

static enum pdp_err fail_at(pdp_audit_verify_result *r, enum pdp_err e, const char *file,
			    uint64_t line, bool have_seq, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static enum pdp_err fail_at(pdp_audit_verify_result *r, enum pdp_err e, const char *file,
			    uint64_t line, bool have_seq, uint64_t seq, const char *fmt, ...)
{
	va_list ap;
	pdp_buf_reset(&r->file);
	pdp_buf_reset(&r->why);
	if (file)
		pdp_ignore(pdp_buf_adds(&r->file, file));
	r->line = line;
	r->have_seq = have_seq;
	r->seq = seq;
	va_start(ap, fmt);
	pdp_ignore(pdp_buf_vprintf(&r->why, fmt, ap));
	va_end(ap);
	return e;
}

enum pdp_err pdp_audit_map_file(int dirfd, const char *name, struct pdp_audit_mapped *ret)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		PDP_BAIL(PDP_E_IO);
	}
	ret->len = (size_t)st.st_size;
	ret->p = NULL;
	if (ret->len) {
		void *p = mmap(NULL, ret->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			PDP_BAIL(PDP_E_IO);
		}
		madvise(p, ret->len, MADV_SEQUENTIAL);
		ret->p = p;
	}
	close(fd);
	return PDP_OK;
}

void pdp_audit_unmap_file(struct pdp_audit_mapped *m)
{
	if (m->p)
		munmap((void *)m->p, m->len);
	m->p = NULL;
}

static enum pdp_err verify_segment(pdp_audit_vstate *vs, int dirfd, const char *name, bool last,
				   pdp_audit_verify_result *r)
{
	struct pdp_audit_mapped m;
	if (pdp_audit_map_file(dirfd, name, &m) != PDP_OK)
		return fail_at(r, PDP_E_IO, name, 0, false, 0, "cannot read: %s", strerror(errno));
	if (m.len == 0 && !last)
		return fail_at(r, PDP_E_CORRUPT, name, 0, true, vs->next_seq,
			       "empty segment before the last one");
	enum pdp_err e = PDP_OK;
	const char *p = m.p, *end = m.p + m.len;
	uint64_t lineno = 0;
	while (e == PDP_OK && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		lineno++;
		if (!nl) {
			e = fail_at(r, PDP_E_CORRUPT, name, lineno, true, vs->next_seq,
				    last ? "torn last line: %zu bytes without a newline (a crash during a write; "
					   "`pdp serve` cuts it off and records the cut on start)"
					 : "segment ends with an incomplete line (%zu bytes)",
				    (size_t)(end - p));
			break;
		}
		if (pdp_audit_vstate_line(vs, p, (size_t)(nl - p)) != PDP_OK)
			e = fail_at(r, PDP_E_CORRUPT, name, lineno, true, vs->bad_seq, "%s", vs->why.data);
		p = nl + 1;
	}
	pdp_audit_unmap_file(&m);
	return e;
}

static enum pdp_err want_checkpoint(pdp_audit_vstate *vs, const pdp_audit_verify_opts *o,
				    pdp_audit_note *note, pdp_audit_verify_result *r)
{
	const char *why = NULL;
	if (!pdp_audit_note_parse(o->checkpoint, o->checkpoint_len, note, &why))
		return fail_at(r, PDP_E_CORRUPT, NULL, 0, false, 0, "--checkpoint: %s", why);
	if (o->npubkeys) {
		int ok = 0;
		for (size_t i = 0; i < o->npubkeys && ok == 0; i++)
			ok = pdp_audit_note_verify(note, note->origin, o->pubkeys[i]);
		if (ok <= 0)
			return fail_at(r, PDP_E_CORRUPT, NULL, 0, false, 0,
				       "--checkpoint: not validly signed by a trusted key (--pubkey)");
	}
	vs->want = true;
	vs->want_size = note->size;
	memcpy(vs->want_root, note->root, 32);
	return PDP_OK;
}

/* After the walk: the external checkpoint's origin, size and, without
 * --pubkey, its signature by the log's own key. */
static enum pdp_err want_final(pdp_audit_vstate *vs, const pdp_audit_verify_opts *o,
			       const pdp_audit_note *note, pdp_audit_verify_result *r)
{
	pdp_str id = { vs->log_id.data, vs->log_id.len };
	if (!pdp_str_eq(note->origin, id))
		return fail_at(r, PDP_E_CORRUPT, NULL, 0, false, 0,
			       "--checkpoint is for log '%.*s', this log is '%s'", (int)note->origin.len,
			       note->origin.p, vs->log_id.data);
	if (!o->npubkeys && (!vs->have_start_key || pdp_audit_note_verify(note, id, vs->start_key) <= 0))
		return fail_at(r, PDP_E_CORRUPT, NULL, 0, false, 0,
			       "--checkpoint is not signed by this log's key");
	if (!vs->want_met)
		return fail_at(r, PDP_E_CORRUPT, NULL, 0, true, vs->next_seq,
			       "log truncated: the --checkpoint covers %llu records, the log has only %llu",
			       (unsigned long long)note->size, (unsigned long long)vs->next_seq);
	return PDP_OK;
}

static enum pdp_err walk(pdp_audit_vstate *vs, int dirfd, const pdp_audit_segs *segs,
			 pdp_audit_verify_result *r)
{
	for (size_t i = 0; i < segs->n; i++) {
		char name[PDP_AUDIT_SEG_NAME_LEN + 1];
		pdp_audit_seg_name(segs->first[i], name);
		if (segs->first[i] != vs->next_seq)
			return fail_at(r, PDP_E_CORRUPT, name, 0, true, vs->next_seq,
				       "segment starts at seq %llu, but seq %llu comes next "
				       "(a segment is missing or was added)",
				       (unsigned long long)segs->first[i], (unsigned long long)vs->next_seq);
		PDP_TRY(verify_segment(vs, dirfd, name, i + 1 == segs->n, r));
		r->segments++;
	}
	return PDP_OK;
}

enum pdp_err pdp_audit_verify_dir(const char *dir, const pdp_audit_verify_opts *o,
				  pdp_audit_verify_result *r)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return fail_at(r, PDP_E_NOTFOUND, NULL, 0, false, 0, "%s: %s", dir, strerror(errno));
	pdp_audit_segs segs = { NULL, 0 };
	pdp_audit_vstate vs;
	pdp_audit_note note;
	pdp_audit_vstate_init(&vs);
	vs.trusted = o->npubkeys ? o->pubkeys : NULL;
	vs.ntrusted = o->npubkeys;
	enum pdp_err e = pdp_audit_segs_list(dirfd, &segs, &r->why);
	if (e == PDP_OK && segs.n == 0)
		e = fail_at(r, PDP_E_NOTFOUND, NULL, 0, false, 0, "%s: no audit segments (audit-*.log)", dir);
	if (e == PDP_OK && o->checkpoint)
		e = want_checkpoint(&vs, o, &note, r);
	if (e == PDP_OK)
		e = walk(&vs, dirfd, &segs, r);
	if (e == PDP_OK && o->checkpoint)
		e = want_final(&vs, o, &note, r);
	r->records = vs.next_seq;
	r->checkpoints = vs.checkpoints;
	r->signed_size = vs.signed_size;
	r->keys_trusted = o->npubkeys > 0;
	r->clean_stop = vs.clean_stop;
	pdp_audit_hex(vs.head, 32, r->head);
	pdp_ignore(pdp_buf_add(&r->log_id, vs.log_id.data ? vs.log_id.data : "", vs.log_id.len));
	pdp_audit_vstate_done(&vs);
	pdp_audit_segs_done(&segs);
	close(dirfd);
	return e;
}
