/*
 * cmd_audit.c -- `pdp audit verify|show|checkpoint`.
 *
 *   pdp audit verify DIR [--pubkey KEY]... [--checkpoint FILE]
 *       checks the whole chain, the checkpoints and their signatures; names
 *       the first bad record (file:line, seq, why) and exits 1.
 *   pdp audit show DIR [--since T] [--until T] [--subject ID [--hmac-key F]]
 *       [--product P] [--decision allow|deny] [--type T] [--caller C] [--json]
 *       prints records for people (or the raw lines with --json). It checks
 *       each line's own hash but not the chain: use verify for that.
 *   pdp audit checkpoint DIR
 *       prints the latest checkpoint note found in the log (to hand to a
 *       witness or keep elsewhere; verify it with --checkpoint later).
 *
 * Exit status: 0 ok, 1 a bad log, 2 usage or I/O errors.
 * Ownership: everything is freed before each command returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_int.h"
#include "cmd.h"
#include "pdp/eval.h"
#include "pdp/policy.h"

#define MAX_PUBKEYS 16

static const char usage_text[] =
	"usage: pdp audit verify DIR [--pubkey KEY]... [--checkpoint FILE]\n"
	"       pdp audit show DIR [--since T] [--until T] [--subject ID] [--hmac-key FILE]\n"
	"                          [--product P] [--decision allow|deny] [--type TYPE]\n"
	"                          [--caller C] [--json]\n"
	"       pdp audit checkpoint DIR\n"
	"\n"
	"verify checks the hash chain, every checkpoint (tree size, RFC 6962 root,\n"
	"signature) and the record rules of docs/audit-log-format.md, and names the\n"
	"first bad record. --pubkey KEY (PEM Ed25519 public or private key; may be\n"
	"repeated) is the trusted checkpoint key: without it signatures are checked\n"
	"against the key the log names itself, which proves nothing against a\n"
	"rewrite. --checkpoint FILE proves the log still holds, unchanged, every\n"
	"record that checkpoint covered (a truncated or rewritten log fails).\n"
	"show prints records; T is YYYY-MM-DD or RFC 3339.\n"
	"Exit: 0 ok, 1 bad log, 2 usage or I/O error.\n";

static int usage(FILE *f)
{
	fputs(usage_text, f);
	return 2;
}

static bool read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char *buf = pdp_xmalloc(max + 1);
	size_t n = fread(buf, 1, max + 1, f);
	bool ok = !ferror(f) && n <= max;
	fclose(f);
	if (!ok) {
		free(buf);
		return false;
	}
	*ret = buf;
	*ret_len = n;
	return true;
}

/* ---- verify ---------------------------------------------------------------- */

struct verify_args {
	const char *dir;
	uint8_t keys[MAX_PUBKEYS][32];
	size_t nkeys;
	const char *checkpoint;
};

static int parse_verify(int argc, char **argv, struct verify_args *va)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if ((!strcmp(a, "--pubkey") || !strcmp(a, "--checkpoint")) && i + 1 >= argc)
			return usage(stderr);
		if (!strcmp(a, "--pubkey")) {
			pdp_buf msg;
			pdp_buf_init(&msg, 4096);
			if (va->nkeys == MAX_PUBKEYS ||
			    pdp_key_load_public(argv[++i], va->keys[va->nkeys], &msg) != PDP_OK) {
				fprintf(stderr, "pdp audit verify: %s\n",
					msg.len ? msg.data : "too many --pubkey options");
				pdp_buf_done(&msg);
				return 2;
			}
			pdp_buf_done(&msg);
			va->nkeys++;
		} else if (!strcmp(a, "--checkpoint")) {
			va->checkpoint = argv[++i];
		} else if (a[0] == '-' || va->dir) {
			return usage(stderr);
		} else {
			va->dir = a;
		}
	}
	return va->dir ? -1 : usage(stderr);
}

static void print_ok(const struct verify_args *va, const pdp_audit_verify_result *r)
{
	printf("audit: %s: OK: %llu records in %llu segment(s), log id %s\n", va->dir,
	       (unsigned long long)r->records, (unsigned long long)r->segments, r->log_id.data);
	printf("  head: %s\n", r->head);
	printf("  checkpoints: %llu, signatures checked against %s\n", (unsigned long long)r->checkpoints,
	       r->keys_trusted ? "the trusted key (--pubkey)"
			       : "the key the log names itself (NOT a trust anchor: pass --pubkey)");
	printf("  signed: the first %llu records; %llu record(s) after the last checkpoint\n",
	       (unsigned long long)r->signed_size, (unsigned long long)(r->records - r->signed_size));
	if (va->checkpoint)
		printf("  --checkpoint %s: the log still holds every record it covers\n", va->checkpoint);
	printf("  last run: %s\n", r->clean_stop ? "stopped cleanly"
						 : "no clean stop (running, or crashed: the next start records a recovery)");
}

static int cmd_verify(int argc, char **argv)
{
	struct verify_args va;
	memset(&va, 0, sizeof(va));
	int rc = parse_verify(argc, argv, &va);
	if (rc >= 0)
		return rc;
	pdp_audit_verify_opts o = { va.nkeys ? (const uint8_t(*)[32])va.keys : NULL, va.nkeys, NULL, 0 };
	char *cp = NULL;
	if (va.checkpoint && !read_file(va.checkpoint, PDP_AUDIT_NOTE_MAX, &cp, &o.checkpoint_len)) {
		fprintf(stderr, "pdp audit verify: %s: cannot read (or larger than %d bytes)\n", va.checkpoint,
			PDP_AUDIT_NOTE_MAX);
		return 2;
	}
	o.checkpoint = cp;
	pdp_audit_verify_result r;
	pdp_audit_verify_result_init(&r);
	enum pdp_err e = pdp_audit_verify_dir(va.dir, &o, &r);
	if (e == PDP_OK) {
		print_ok(&va, &r);
		rc = 0;
	} else if (e == PDP_E_CORRUPT) {
		if (r.file.len && r.line)
			printf("audit: %s/%s:%llu: ", va.dir, r.file.data, (unsigned long long)r.line);
		else if (r.file.len)
			printf("audit: %s/%s: ", va.dir, r.file.data);
		else
			printf("audit: %s: ", va.dir);
		if (r.have_seq)
			printf("seq %llu: ", (unsigned long long)r.seq);
		printf("%s\naudit: %s: verification FAILED (%llu records verified before it)\n", r.why.data,
		       va.dir, (unsigned long long)r.records);
		rc = 1;
	} else {
		fprintf(stderr, "pdp audit verify: %s\n", r.why.data ? r.why.data : pdp_err_str(e));
		rc = 2;
	}
	pdp_audit_verify_result_done(&r);
	free(cp);
	return rc;
}

/* ---- show ------------------------------------------------------------------ */

struct show_args {
	const char *dir;
	char since[PDP_AUDIT_TS_LEN + 1], until[PDP_AUDIT_TS_LEN + 1];
	const char *subject, *product, *decision, *type, *caller;
	char subject_hmac[65];
	bool json;
};

static bool to_ts(const char *s, char out[PDP_AUDIT_TS_LEN + 1])
{
	int64_t t;
	struct tm tm;
	if (!pdp_parse_time(pdp_str_c(s), &t))
		return false;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	return strftime(out, PDP_AUDIT_TS_LEN + 1, "%Y-%m-%dT%H:%M:%S.000000Z", &tm) == PDP_AUDIT_TS_LEN;
}

static bool hmac_subject(const char *keyfile, const char *id, char out[65])
{
	uint8_t key[256], mac[32];
	size_t len = 0;
	unsigned int n = 0;
	if (pdp_audit_secret_read(keyfile, key, sizeof(key), &len) != PDP_OK)
		return false;
	if (len && key[len - 1] == '\n')
		len--;
	bool ok = HMAC(EVP_sha256(), key, (int)len, (const uint8_t *)id, strlen(id), mac, &n) && n == 32;
	OPENSSL_cleanse(key, sizeof(key));
	if (ok)
		pdp_audit_hex(mac, 32, out);
	return ok;
}

static int parse_show(int argc, char **argv, struct show_args *sa)
{
	const char *hmac_key = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = !strcmp(a, "--subject")    ? &sa->subject
				   : !strcmp(a, "--product")  ? &sa->product
				   : !strcmp(a, "--decision") ? &sa->decision
				   : !strcmp(a, "--type")     ? &sa->type
				   : !strcmp(a, "--caller")   ? &sa->caller
				   : !strcmp(a, "--hmac-key") ? &hmac_key
							      : NULL;
		bool is_time = !strcmp(a, "--since") || !strcmp(a, "--until");
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 0;
		}
		if ((dst || is_time) && i + 1 >= argc)
			return usage(stderr);
		if (dst) {
			*dst = argv[++i];
		} else if (is_time) {
			if (!to_ts(argv[i + 1], a[2] == 's' ? sa->since : sa->until)) {
				fprintf(stderr, "pdp audit show: %s: not a date or RFC 3339 time\n", argv[i + 1]);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--json")) {
			sa->json = true;
		} else if (a[0] == '-' || sa->dir) {
			return usage(stderr);
		} else {
			sa->dir = a;
		}
	}
	if (hmac_key && (!sa->subject || !hmac_subject(hmac_key, sa->subject, sa->subject_hmac))) {
		fprintf(stderr, "pdp audit show: --hmac-key needs --subject and a readable key file\n");
		return 2;
	}
	return sa->dir ? -1 : usage(stderr);
}

static const char *jstr(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);
	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

static bool eq_opt(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static bool matches(const struct show_args *sa, const pdp_audit_rec *r, json_t *o)
{
	if (sa->since[0] && memcmp(r->ts, sa->since, PDP_AUDIT_TS_LEN) < 0)
		return false;
	if (sa->until[0] && memcmp(r->ts, sa->until, PDP_AUDIT_TS_LEN) >= 0)
		return false;
	if (sa->type && !pdp_str_eq_c(r->type, sa->type))
		return false;
	if (!eq_opt(sa->product, jstr(o, "product", NULL)) || !eq_opt(sa->decision, jstr(o, "decision", NULL)) ||
	    !eq_opt(sa->caller, jstr(o, "caller", NULL)))
		return false;
	if (!sa->subject)
		return true;
	const char *id = jstr(o, "subject", "id"), *h = jstr(o, "subject", "id_hmac");
	return (id && !strcmp(id, sa->subject)) || (h && (!strcmp(h, sa->subject) ||
							  (sa->subject_hmac[0] && !strcmp(h, sa->subject_hmac))));
}

static void print_columns(json_t *cols)
{
	const char *k;
	json_t *v;
	bool first = true;
	printf(" columns=");
	json_object_foreach(cols, k, v) {
		printf("%s%s:%s", first ? "" : ",", k, json_string_value(v) ? json_string_value(v) : "?");
		first = false;
	}
}

static void print_record(const pdp_audit_rec *r, json_t *o, const pdp_str members)
{
	printf("%llu %.*s %.*s", (unsigned long long)r->seq, PDP_AUDIT_TS_LEN, r->ts, (int)r->type.len,
	       r->type.p);
	if (!pdp_str_eq_c(r->type, "decision")) {
		printf(" {%.*s}\n", (int)members.len, members.p);
		return;
	}
	const char *id = jstr(o, "subject", "id");
	printf(" %s subject=%s%s product=%s action=%s", jstr(o, "decision", NULL) ? jstr(o, "decision", NULL) : "?",
	       id ? "" : "hmac:", id ? id : (jstr(o, "subject", "id_hmac") ? jstr(o, "subject", "id_hmac") : "?"),
	       jstr(o, "product", NULL) ? jstr(o, "product", NULL) : "?",
	       jstr(o, "action", NULL) ? jstr(o, "action", NULL) : "?");
	if (jstr(o, "purpose", NULL))
		printf(" purpose=%s", jstr(o, "purpose", NULL));
	printf(" caller=%s id=%s", jstr(o, "caller", NULL) ? jstr(o, "caller", NULL) : "?",
	       jstr(o, "decision_id", NULL) ? jstr(o, "decision_id", NULL) : "?");
	print_columns(json_object_get(o, "columns"));
	json_t *reasons = json_object_get(o, "reasons");
	printf(" reasons=");
	for (size_t i = 0; i < json_array_size(reasons); i++)
		printf("%s%s", i ? "," : "", json_string_value(json_array_get(reasons, i)));
	putchar('\n');
}

static json_t *members_json(pdp_str members)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	json_t *o = NULL;
	if (pdp_buf_addc(&b, '{') == PDP_OK && pdp_buf_addstr(&b, members) == PDP_OK &&
	    pdp_buf_addc(&b, '}') == PDP_OK)
		o = json_loadb(b.data, b.len, 0, NULL);
	pdp_buf_done(&b);
	return o;
}

static int show_segment(const struct show_args *sa, pdp_audit_hasher *h, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "pdp audit show: %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 2;
	}
	size_t len = (size_t)st.st_size;
	char *p = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (p == MAP_FAILED)
		return 2;
	int rc = 0;
	uint64_t lineno = 0;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) - off : len - off;
		pdp_audit_rec r;
		const char *why = NULL;
		lineno++;
		if (pdp_audit_line_parse(h, p + off, n, &r, &why) != PDP_OK) {
			printf("!! %s:%llu: not a valid record: %s\n", name, (unsigned long long)lineno, why);
			rc = 1;
		} else {
			json_t *o = members_json(r.members);
			if (matches(sa, &r, o)) {
				if (sa->json)
					printf("%.*s\n", (int)n, p + off);
				else
					print_record(&r, o, r.members);
			}
			json_decref(o);
		}
		off += n + 1;
	}
	if (p)
		munmap(p, len);
	return rc;
}

static int cmd_show(int argc, char **argv)
{
	struct show_args sa;
	memset(&sa, 0, sizeof(sa));
	int rc = parse_show(argc, argv, &sa);
	if (rc >= 0)
		return rc;
	int dirfd = open(sa.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pdp_audit_segs segs = { NULL, 0 };
	if (dirfd < 0 || pdp_audit_segs_list(dirfd, &segs, NULL) != PDP_OK) {
		fprintf(stderr, "pdp audit show: %s: %s\n", sa.dir, strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return 2;
	}
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	rc = 0;
	for (size_t i = 0; i < segs.n; i++) {
		char name[PDP_AUDIT_SEG_NAME_LEN + 1];
		pdp_audit_seg_name(segs.first[i], name);
		int r = show_segment(&sa, &h, dirfd, name);
		rc = r > rc ? r : rc;
	}
	pdp_audit_hasher_done(&h);
	pdp_audit_segs_done(&segs);
	close(dirfd);
	fflush(stdout);
	return rc;
}

/* ---- checkpoint ---------------------------------------------------------------- */

/* The last checkpoint record's note in one segment, if any. */
static bool last_note_in(pdp_audit_hasher *h, int dirfd, uint64_t first, pdp_buf *out)
{
	char name[PDP_AUDIT_SEG_NAME_LEN + 1];
	struct stat st;
	pdp_audit_seg_name(first, name);
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	size_t len = (size_t)st.st_size;
	char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return false;
	bool found = false;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(p + off, '\n', len - off);
		if (!nl)
			break;
		size_t n = (size_t)(nl - p) - off;
		pdp_audit_rec r;
		const char *why;
		if (pdp_audit_line_parse(h, p + off, n, &r, &why) == PDP_OK &&
		    pdp_str_eq_c(r.type, "checkpoint")) {
			pdp_buf_reset(out);
			found = pdp_audit_member_str(r.members, "note", out) == PDP_OK;
		}
		off += n + 1;
	}
	munmap(p, len);
	return found;
}

static int cmd_checkpoint(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return usage(argc == 2 ? stdout : stderr);
	int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pdp_audit_segs segs = { NULL, 0 };
	if (dirfd < 0 || pdp_audit_segs_list(dirfd, &segs, NULL) != PDP_OK) {
		fprintf(stderr, "pdp audit checkpoint: %s: %s\n", argv[1], strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return 2;
	}
	pdp_audit_hasher h;
	pdp_buf note;
	pdp_audit_hasher_init(&h);
	pdp_buf_init(&note, PDP_AUDIT_NOTE_MAX);
	bool found = false;
	for (size_t i = segs.n; i-- > 0 && !found;)
		found = last_note_in(&h, dirfd, segs.first[i], &note);
	if (found)
		fwrite(note.data, 1, note.len, stdout);
	else
		fprintf(stderr, "pdp audit checkpoint: %s: no checkpoint record found\n", argv[1]);
	pdp_buf_done(&note);
	pdp_audit_hasher_done(&h);
	pdp_audit_segs_done(&segs);
	close(dirfd);
	return found ? 0 : 1;
}

int pdp_cmd_audit(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "checkpoint"))
		return cmd_checkpoint(argc - 1, argv + 1);
	fprintf(stderr, "pdp audit: unknown subcommand '%s'\n", argv[1]);
	return usage(stderr);
}
