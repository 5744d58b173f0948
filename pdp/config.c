/*
 * config.c -- pdp.yaml: one declarative table (redis static_configs style)
 * naming each key, its type, default and bounds. Unknown keys and values
 * out of bounds are errors naming file:line:col and the key; start-up stops.
 *
 * Ownership: strings in pdp_config are malloc'd and freed by
 * pdp_config_done.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdp/yaml.h"

enum ctype { C_STR, C_INT, C_SIZE, C_BOOL };

struct centry {
	const char *section; /* NULL = top level */
	const char *name;
	enum ctype type;
	size_t offset;
	const char *def_str;
	int64_t def_int, min, max;
	bool required;
};

#define OFF(f) offsetof(pdp_config, f)
static const struct centry table[] = {
	{ NULL, "listen", C_STR, OFF(listen_host), "127.0.0.1:8443", 0, 0, 0, false },
	{ "tls", "cert", C_STR, OFF(tls_cert), NULL, 0, 0, 0, true },
	{ "tls", "key", C_STR, OFF(tls_key), NULL, 0, 0, 0, true },
	{ "tls", "client_ca", C_STR, OFF(tls_ca), NULL, 0, 0, 0, true },
	{ "policy", "bundle", C_STR, OFF(bundle), NULL, 0, 0, 0, true },
	{ "policy", "pubkey", C_STR, OFF(bundle_pubkey), NULL, 0, 0, 0, false },
	{ "policy", "watch_ms", C_INT, OFF(bundle_watch_ms), NULL, 1000, 0, 3600000, false },
	{ "policy", "mask_salt", C_STR, OFF(mask_salt), "", 0, 0, 0, false },
	{ NULL, "threads", C_INT, OFF(threads), NULL, 0, 0, 256, false },
	{ "limits", "max_body_bytes", C_SIZE, OFF(max_body), NULL, 1 << 20, 64, 64 << 20, false },
	{ "limits", "max_header_bytes", C_SIZE, OFF(max_headers), NULL, 16384, 1024, 1 << 20, false },
	{ "limits", "read_timeout_ms", C_INT, OFF(read_timeout_ms), NULL, 5000, 10, 600000, false },
	{ "limits", "idle_timeout_ms", C_INT, OFF(idle_timeout_ms), NULL, 60000, 10, 3600000, false },
	{ "limits", "max_connections", C_INT, OFF(max_connections), NULL, 10000, 1, 1000000, false },
	{ "limits", "max_batch", C_INT, OFF(max_batch), NULL, 1000, 1, 1000, false },
	{ "limits", "max_json_depth", C_INT, OFF(max_depth), NULL, 16, 4, 64, false },
	{ "log", "level", C_STR, OFF(log_level), "info", 0, 0, 0, false },
	{ "audit", "dir", C_STR, OFF(audit_dir), NULL, 0, 0, 0, false },
	{ "audit", "log_id", C_STR, OFF(audit_log_id), "meshpdp.example/audit", 0, 0, 0, false },
	{ "audit", "checkpoint_key", C_STR, OFF(audit_key), NULL, 0, 0, 0, false },
	{ "audit", "fsync", C_STR, OFF(audit_fsync), "always", 0, 0, 0, false },
	{ "audit", "fsync_interval_ms", C_INT, OFF(audit_fsync_interval_ms), NULL, 200, 1, 60000, false },
	{ "audit", "segment_max_bytes", C_SIZE, OFF(audit_segment_max), NULL, 64 << 20, 4096, 1LL << 40, false },
	{ "audit", "checkpoint_every", C_SIZE, OFF(audit_checkpoint_every), NULL, 10000, 1, 1000000000, false },
	{ "audit", "new_chain", C_BOOL, OFF(audit_new_chain), NULL, 0, 0, 1, false },
	{ "audit", "checkpoint_every_ms", C_INT, OFF(audit_checkpoint_every_ms), NULL, 10000, 10, 86400000, false },
	{ "audit", "queue_max_records", C_SIZE, OFF(audit_queue_max), NULL, 16384, 16, 1 << 24, false },
	{ "audit", "wait_ms", C_INT, OFF(audit_wait_ms), NULL, 1000, 0, 60000, false },
	{ "audit", "fail_timeout_ms", C_INT, OFF(audit_fail_timeout_ms), NULL, 5000, 0, 600000, false },
	{ "audit", "witness_dir", C_STR, OFF(audit_witness_dir), NULL, 0, 0, 0, false },
	{ "audit", "hmac_key", C_STR, OFF(audit_hmac_key), NULL, 0, 0, 0, false },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static const char *const sections[] = { "tls", "policy", "limits", "log", "audit" };

static void set_default(pdp_config *c, const struct centry *e)
{
	char *base = (char *)c + e->offset;
	if (e->type == C_STR)
		*(char **)base = e->def_str ? pdp_xstrndup(e->def_str, strlen(e->def_str)) : NULL;
	else if (e->type == C_INT)
		*(int *)base = (int)e->def_int;
	else if (e->type == C_BOOL)
		*(bool *)base = e->def_int != 0;
	else
		*(size_t *)base = (size_t)e->def_int;
}

static bool set_value(pdp_config *c, const struct centry *e, const pdp_ynode *v, pdp_diag *d)
{
	char *base = (char *)c + e->offset;
	char what[64];
	snprintf(what, sizeof(what), "%s%s%s", e->section ? e->section : "", e->section ? "." : "", e->name);
	if (e->type == C_STR) {
		pdp_str s;
		if (!pdp_y_str(v, d, what, &s))
			return false;
		free(*(char **)base);
		*(char **)base = pdp_xstrndup(s.p, s.len);
		return true;
	}
	if (e->type == C_BOOL) {
		bool b;
		if (!pdp_y_bool(v, d, what, &b))
			return false;
		*(bool *)base = b;
		return true;
	}
	int64_t x;
	if (!pdp_y_int(v, d, what, e->min, e->max, &x))
		return false;
	if (e->type == C_INT)
		*(int *)base = (int)x;
	else
		*(size_t *)base = (size_t)x;
	return true;
}

static const struct centry *find_entry(const char *section, pdp_str key)
{
	for (size_t i = 0; i < NTABLE; i++) {
		bool same_section = section ? table[i].section && !strcmp(section, table[i].section)
					    : !table[i].section;
		if (same_section && pdp_str_eq_c(key, table[i].name))
			return &table[i];
	}
	return NULL;
}

static bool is_section(pdp_str key)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (pdp_str_eq_c(key, sections[i]))
			return true;
	return false;
}

static bool read_map(pdp_config *c, const pdp_ynode *m, const char *section, bool *seen, pdp_diag *d)
{
	bool ok = true;
	if (m->type != PDP_Y_MAP) {
		pdp_diag_error(d, m->file, m->line, m->col, "%s: expected a mapping", section ? section : "config");
		return false;
	}
	for (size_t i = 0; i < m->n; i++) {
		const pdp_ynode *k = pdp_ymap_key(m, i), *v = pdp_ymap_val(m, i);
		if (!section && k->type == PDP_Y_SCALAR && is_section(k->str)) {
			char name[32];
			snprintf(name, sizeof(name), "%.*s", (int)k->str.len, k->str.p);
			ok &= read_map(c, v, name, seen, d);
			continue;
		}
		const struct centry *e = k->type == PDP_Y_SCALAR ? find_entry(section, k->str) : NULL;
		if (!e) {
			pdp_diag_error(d, k->file, k->line, k->col, "unknown key '%s%s%.*s'", section ? section : "",
				       section ? "." : "", (int)k->str.len, k->str.p);
			ok = false;
			continue;
		}
		seen[e - table] = true;
		ok &= set_value(c, e, v, d);
	}
	return ok;
}

static bool split_listen(pdp_config *c, pdp_diag *d, const char *file)
{
	char *colon = strrchr(c->listen_host, ':');
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || !end || *end || port < 1 || port > 65535) {
		pdp_diag_error(d, file, 0, 0, "listen: expected HOST:PORT, got '%s'", c->listen_host);
		return false;
	}
	*colon = '\0';
	c->listen_port = (int)port;
	return true;
}

bool pdp_config_load(const char *path, pdp_config *ret, pdp_diag *d)
{
	pdp_config c;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < NTABLE; i++)
		set_default(&c, &table[i]);
	char *data = NULL;
	size_t len = 0;
	if (pdp_file_read(path, 1 << 20, &data, &len) != PDP_OK) {
		pdp_diag_error(d, path, 0, 0, "cannot read the configuration file");
		pdp_config_done(&c);
		return false;
	}
	pdp_arena *a = pdp_arena_new(8192);
	pdp_ynode *root = NULL;
	bool seen[NTABLE] = { 0 };
	bool ok = pdp_yaml_parse(path, data, len, a, d, &root) == PDP_OK && read_map(&c, root, NULL, seen, d);
	for (size_t i = 0; ok && i < NTABLE; i++) {
		if (table[i].required && !seen[i]) {
			pdp_diag_error(d, path, root->line, root->col, "missing required key '%s.%s'",
				       table[i].section, table[i].name);
			ok = false;
		}
	}
	ok = ok && split_listen(&c, d, path);
	if (ok && c.audit_dir && !c.audit_key) {
		pdp_diag_error(d, path, 0, 0, "audit.checkpoint_key is required with audit.dir");
		ok = false;
	}
	pdp_arena_free(a);
	free(data);
	if (!ok) {
		pdp_config_done(&c);
		return false;
	}
	*ret = c;
	return true;
}

void pdp_config_done(pdp_config *c)
{
	if (!c)
		return;
	free(c->listen_host);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->bundle);
	free(c->bundle_pubkey);
	free(c->mask_salt);
	free(c->log_level);
	free(c->audit_dir);
	free(c->audit_log_id);
	free(c->audit_key);
	free(c->audit_fsync);
	free(c->audit_witness_dir);
	free(c->audit_hmac_key);
	memset(c, 0, sizeof(*c));
}
