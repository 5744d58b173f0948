/*
 * yaml.c -- libyaml events → positioned node tree; key tables; scalars.
 *
 * Design: a single pass over libyaml's event stream with an explicit stack
 * of open collections (bounded by PDP_YAML_MAX_DEPTH). Children are first
 * collected in a growable scratch vector per open collection and copied into
 * the arena when the collection ends, so the tree holds exact-size arrays.
 */
#include "pdp/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct frame {
	pdp_ynode *node;
	pdp_ynode **kids;
	size_t n, cap;
};

struct builder {
	pdp_arena *arena;
	pdp_diag *d;
	const char *file;
	struct frame stack[PDP_YAML_MAX_DEPTH];
	int depth;
	size_t nodes;
	pdp_ynode *root;
	int docs;
	bool failed;
};

static pdp_ynode *node_new(struct builder *b, enum pdp_ytype t, const yaml_mark_t *m)
{
	pdp_ynode *n = pdp_arena_zalloc(b->arena, sizeof(*n));
	n->type = t;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->file = b->file;
	return n;
}

static void frame_push_kid(struct frame *f, pdp_ynode *kid)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->kids = pdp_xrealloc(f->kids, f->cap * sizeof(*f->kids));
	}
	f->kids[f->n++] = kid;
}

static void attach(struct builder *b, pdp_ynode *n)
{
	if (b->depth == 0) {
		b->root = n;
		return;
	}
	frame_push_kid(&b->stack[b->depth - 1], n);
}

static bool is_null_plain(pdp_str s)
{
	return s.len == 0 || pdp_str_eq_c(s, "~") || pdp_str_eq_c(s, "null") ||
	       pdp_str_eq_c(s, "Null") || pdp_str_eq_c(s, "NULL");
}

static int key_cmp(const void *a, const void *b)
{
	const pdp_ynode *x = *(pdp_ynode *const *)a, *y = *(pdp_ynode *const *)b;
	int c = pdp_str_cmp(x->str, y->str);
	if (c)
		return c;
	return x->line != y->line ? (x->line < y->line ? -1 : 1) : (x->col > y->col) - (x->col < y->col);
}

static void check_duplicate_keys(struct builder *b, pdp_ynode *m)
{
	if (m->n < 2)
		return;
	pdp_ynode **keys = pdp_xmalloc(m->n * sizeof(*keys));
	for (size_t i = 0; i < m->n; i++)
		keys[i] = pdp_ymap_key(m, i);
	qsort(keys, m->n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < m->n; i++) {
		if (keys[i]->type != PDP_Y_SCALAR || keys[i - 1]->type != PDP_Y_SCALAR)
			continue;
		if (!pdp_str_eq(keys[i]->str, keys[i - 1]->str))
			continue;
		pdp_diag_error(b->d, b->file, keys[i]->line, keys[i]->col,
			       "duplicate key '%.*s' (first at line %d)",
			       (int)keys[i]->str.len, keys[i]->str.p, keys[i - 1]->line);
		b->failed = true;
	}
	free(keys);
}

static void close_collection(struct builder *b)
{
	struct frame *f = &b->stack[--b->depth];
	pdp_ynode *n = f->node;
	n->items = pdp_arena_array(b->arena, f->n, sizeof(*n->items));
	if (f->n)
		memcpy(n->items, f->kids, f->n * sizeof(*n->items));
	n->n = n->type == PDP_Y_MAP ? f->n / 2 : f->n;
	free(f->kids);
	memset(f, 0, sizeof(*f));
	if (n->type == PDP_Y_MAP)
		check_duplicate_keys(b, n);
	attach(b, n);
}

static bool fail_at(struct builder *b, const yaml_mark_t *m, const char *msg)
{
	pdp_diag_error(b->d, b->file, (int)m->line + 1, (int)m->column + 1, "%s", msg);
	b->failed = true;
	return false;
}

static bool check_tag(struct builder *b, const yaml_event_t *ev, const yaml_char_t *tag)
{
	if (!tag)
		return true;
	const char *t = (const char *)tag;
	if (!strcmp(t, "!") || !strncmp(t, "tag:yaml.org,2002:", 18))
		return true;
	return fail_at(b, &ev->start_mark, "custom YAML tags are not supported");
}

static bool open_collection(struct builder *b, const yaml_event_t *ev, enum pdp_ytype t)
{
	if (b->depth >= PDP_YAML_MAX_DEPTH)
		return fail_at(b, &ev->start_mark, "nesting too deep");
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node_new(b, t, &ev->start_mark);
	return true;
}

static bool on_scalar(struct builder *b, const yaml_event_t *ev)
{
	if (!check_tag(b, ev, ev->data.scalar.tag))
		return false;
	pdp_str s = { (const char *)ev->data.scalar.value, ev->data.scalar.length };
	bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	enum pdp_ytype t = !quoted && is_null_plain(s) ? PDP_Y_NULL : PDP_Y_SCALAR;
	pdp_ynode *n = node_new(b, t, &ev->start_mark);
	n->str = pdp_arena_str(b->arena, s);
	n->quoted = quoted;
	attach(b, n);
	return true;
}

/* Returns false to stop the event loop. */
static bool on_event(struct builder *b, const yaml_event_t *ev)
{
	if (++b->nodes > PDP_YAML_MAX_NODES)
		return fail_at(b, &ev->start_mark, "document too large");
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1)
			return fail_at(b, &ev->start_mark, "only one YAML document per file");
		return true;
	case YAML_ALIAS_EVENT:
		return fail_at(b, &ev->start_mark, "YAML aliases are not supported");
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return check_tag(b, ev, ev->data.sequence_start.tag) &&
		       open_collection(b, ev, PDP_Y_SEQ);
	case YAML_MAPPING_START_EVENT:
		return check_tag(b, ev, ev->data.mapping_start.tag) &&
		       open_collection(b, ev, PDP_Y_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		close_collection(b);
		return true;
	default:
		return true;
	}
}

static void builder_done(struct builder *b)
{
	while (b->depth > 0)
		free(b->stack[--b->depth].kids);
}

enum pdp_err pdp_yaml_parse(const char *file, const char *data, size_t len,
			    pdp_arena *arena, pdp_diag *d, pdp_ynode **ret_root)
{
	struct builder b = { .arena = arena, .d = d };
	b.file = pdp_arena_strndup(arena, file, strlen(file));
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		pdp_oom();
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	bool done = false;
	while (!done && !b.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			const yaml_mark_t *m = p.problem_mark.line || p.problem_mark.column
						       ? &p.problem_mark : &p.context_mark;
			pdp_diag_error(d, b.file, (int)m->line + 1, (int)m->column + 1,
				       "YAML syntax error: %s%s%s",
				       p.problem ? p.problem : "unknown",
				       p.context ? " " : "", p.context ? p.context : "");
			b.failed = true;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		if (!on_event(&b, &ev))
			b.failed = true;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	builder_done(&b);
	if (b.failed)
		return PDP_E_PARSE;
	if (!b.root) {
		static const yaml_mark_t origin = { 0, 0, 0 };
		b.root = node_new(&b, PDP_Y_NULL, &origin);
	}
	*ret_root = b.root;
	return PDP_OK;
}

pdp_ynode *pdp_ymap_get(const pdp_ynode *m, const char *key)
{
	if (!m || m->type != PDP_Y_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		pdp_ynode *k = pdp_ymap_key(m, i);
		if (k->type == PDP_Y_SCALAR && pdp_str_eq_c(k->str, key))
			return pdp_ymap_val(m, i);
	}
	return NULL;
}

const char *pdp_ytype_name(enum pdp_ytype t)
{
	switch (t) {
	case PDP_Y_NULL: return "null";
	case PDP_Y_SCALAR: return "scalar";
	case PDP_Y_SEQ: return "list";
	case PDP_Y_MAP: return "mapping";
	default: return "value";
	}
}

static void type_error(pdp_diag *d, const pdp_ynode *v, const char *what, const char *want)
{
	pdp_diag_error(d, v->file, v->line, v->col, "%s: expected %s, got %s", what,
		       want, pdp_ytype_name(v->type));
}

static int key_index(const pdp_ykey *keys, size_t n, pdp_str name)
{
	for (size_t i = 0; i < n; i++)
		if (pdp_str_eq_c(name, keys[i].name))
			return (int)i;
	return -1;
}

static bool read_pair(const pdp_ynode *k, const pdp_ynode *v, const pdp_ykey *keys,
		      size_t n, const char *what, pdp_diag *d, pdp_ynode **ret_vals)
{
	if (k->type != PDP_Y_SCALAR) {
		pdp_diag_error(d, k->file, k->line, k->col, "%s: keys must be plain strings", what);
		return false;
	}
	int i = key_index(keys, n, k->str);
	if (i < 0) {
		pdp_diag_error(d, k->file, k->line, k->col, "%s: unknown key '%.*s'", what,
			       (int)k->str.len, k->str.p);
		return false;
	}
	ret_vals[i] = (pdp_ynode *)v;
	if (keys[i].type == PDP_Y_ANY || v->type == keys[i].type)
		return true;
	char ctx[160];
	snprintf(ctx, sizeof(ctx), "%s.%s", what, keys[i].name);
	type_error(d, v, ctx, pdp_ytype_name(keys[i].type));
	return false;
}

bool pdp_ymap_read(const pdp_ynode *m, const pdp_ykey *keys, size_t n,
		   const char *what, pdp_diag *d, pdp_ynode **ret_vals)
{
	for (size_t i = 0; i < n; i++)
		ret_vals[i] = NULL;
	if (m->type != PDP_Y_MAP) {
		type_error(d, m, what, "mapping");
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < m->n; i++)
		ok &= read_pair(pdp_ymap_key(m, i), pdp_ymap_val(m, i), keys, n, what, d, ret_vals);
	for (size_t i = 0; i < n; i++) {
		if (!(keys[i].flags & PDP_YK_REQUIRED) || ret_vals[i])
			continue;
		pdp_diag_error(d, m->file, m->line, m->col, "%s: missing required key '%s'",
			       what, keys[i].name);
		ok = false;
	}
	return ok;
}

bool pdp_y_str(const pdp_ynode *v, pdp_diag *d, const char *what, pdp_str *ret)
{
	if (v->type != PDP_Y_SCALAR) {
		type_error(d, v, what, "string");
		return false;
	}
	*ret = v->str;
	return true;
}

bool pdp_y_bool(const pdp_ynode *v, pdp_diag *d, const char *what, bool *ret)
{
	if (v->type == PDP_Y_SCALAR && !v->quoted) {
		if (pdp_str_eq_c(v->str, "true")) {
			*ret = true;
			return true;
		}
		if (pdp_str_eq_c(v->str, "false")) {
			*ret = false;
			return true;
		}
	}
	pdp_diag_error(d, v->file, v->line, v->col, "%s: expected true or false", what);
	return false;
}

bool pdp_y_int(const pdp_ynode *v, pdp_diag *d, const char *what, int64_t min,
	       int64_t max, int64_t *ret)
{
	if (v->type == PDP_Y_SCALAR && !v->quoted && v->str.len > 0 && v->str.len < 24) {
		char tmp[24];
		memcpy(tmp, v->str.p, v->str.len);
		tmp[v->str.len] = '\0';
		char *end;
		errno = 0;
		long long x = strtoll(tmp, &end, 10);
		if (!errno && *end == '\0' && x >= min && x <= max) {
			*ret = x;
			return true;
		}
	}
	pdp_diag_error(d, v->file, v->line, v->col,
		       "%s: expected an integer from %lld to %lld", what,
		       (long long)min, (long long)max);
	return false;
}

bool pdp_y_number(const pdp_ynode *v, pdp_diag *d, const char *what, double *ret)
{
	if (v->type == PDP_Y_SCALAR && !v->quoted && v->str.len > 0 && v->str.len < 40) {
		char tmp[40];
		memcpy(tmp, v->str.p, v->str.len);
		tmp[v->str.len] = '\0';
		char *end;
		errno = 0;
		double x = strtod(tmp, &end);
		if (!errno && *end == '\0' && isfinite(x)) {
			*ret = x;
			return true;
		}
	}
	pdp_diag_error(d, v->file, v->line, v->col, "%s: expected a number", what);
	return false;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned dd)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *p, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

bool pdp_parse_date(pdp_str s, int64_t *ret)
{
	if (s.len != 10 || s.p[4] != '-' || s.p[7] != '-')
		return false;
	int y = digits(s.p, 4), m = digits(s.p + 5, 2), dd = digits(s.p + 8, 2);
	if (y < 1970 || m < 1 || m > 12 || dd < 1)
		return false;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	int maxd = mdays[m - 1] + (m == 2 && leap);
	if (dd > maxd)
		return false;
	*ret = days_from_civil(y, (unsigned)m, (unsigned)dd) * 86400;
	return true;
}

bool pdp_y_date(const pdp_ynode *v, pdp_diag *d, const char *what, int64_t *ret)
{
	if (v->type == PDP_Y_SCALAR && pdp_parse_date(v->str, ret))
		return true;
	pdp_diag_error(d, v->file, v->line, v->col, "%s: expected a date YYYY-MM-DD", what);
	return false;
}

bool pdp_y_strlist(const pdp_ynode *v, pdp_arena *arena, pdp_diag *d,
		   const char *what, pdp_str **ret, size_t *ret_n)
{
	if (v->type == PDP_Y_SCALAR) {
		pdp_str *one = pdp_arena_alloc(arena, sizeof(*one));
		*one = v->str;
		*ret = one;
		*ret_n = 1;
		return true;
	}
	if (v->type != PDP_Y_SEQ) {
		type_error(d, v, what, "list of strings");
		return false;
	}
	pdp_str *out = pdp_arena_array(arena, v->n, sizeof(*out));
	bool ok = true;
	for (size_t i = 0; i < v->n; i++)
		ok &= pdp_y_str(v->items[i], d, what, &out[i]);
	if (!ok)
		return false;
	*ret = out;
	*ret_n = v->n;
	return true;
}

enum pdp_err pdp_file_read(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	PDP_ENSURE(fd >= 0, PDP_E_IO);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		PDP_BAIL(PDP_E_IO);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		PDP_BAIL(PDP_E_INVALID);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		PDP_BAIL(PDP_E_LIMIT);
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = pdp_xmalloc(cap);
	for (;;) {
		if (len + 1 == cap) {
			/* full: grow, but never past max + 1 bytes of data (one
			 * byte more than allowed tells a too-long file) */
			if (len > max) {
				free(buf);
				close(fd);
				PDP_BAIL(PDP_E_LIMIT);
			}
			cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
			buf = pdp_xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			PDP_BAIL(PDP_E_IO);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > max) { /* the file grew after fstat */
		free(buf);
		PDP_BAIL(PDP_E_LIMIT);
	}
	buf[len] = '\0';
	*ret_data = buf;
	*ret_len = len;
	return PDP_OK;
}
