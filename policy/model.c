/*
 * model.c -- names of actions, masks and roles; globs; small list helpers
 * shared by the loader, the checks, the compiler and the evaluator.
 */
#include "pdp/model.h"

#include <ctype.h>
#include <string.h>

static const char *const action_names[] = { "describe", "read", "write" };

unsigned pdp_action_parse(pdp_str s)
{
	for (unsigned i = 0; i < 3; i++)
		if (pdp_str_eq_c(s, action_names[i]))
			return 1u << i;
	return 0;
}

const char *pdp_action_name(unsigned bit)
{
	for (unsigned i = 0; i < 3; i++)
		if (bit == 1u << i)
			return action_names[i];
	return "?";
}

static const char *const mask_names[PDP_MASK__COUNT] = {
	"none", "year_only", "show_first_4", "show_last_4",
	"email_domain", "hash", "redact", "nullify",
};

bool pdp_mask_parse(pdp_str s, enum pdp_mask *ret)
{
	for (int i = 1; i < PDP_MASK__COUNT; i++) {
		if (pdp_str_eq_c(s, mask_names[i])) {
			*ret = (enum pdp_mask)i;
			return true;
		}
	}
	return false;
}

const char *pdp_mask_name(enum pdp_mask m)
{
	return (unsigned)m < PDP_MASK__COUNT ? mask_names[m] : "?";
}

int pdp_mask_strength(enum pdp_mask m)
{
	static const int strength[PDP_MASK__COUNT] = { 0, 1, 2, 2, 3, 4, 5, 6 };
	return (unsigned)m < PDP_MASK__COUNT ? strength[m] : 0;
}

static const char *const role_names[] = { "decide", "admin", "grants", "audit" };

unsigned pdp_role_parse(pdp_str s)
{
	for (unsigned i = 0; i < 4; i++)
		if (pdp_str_eq_c(s, role_names[i]))
			return 1u << i;
	return 0;
}

const char *pdp_role_name(unsigned bit)
{
	for (unsigned i = 0; i < 4; i++)
		if (bit == 1u << i)
			return role_names[i];
	return "?";
}

const pdp_ynode *pdp_src_item(const pdp_strv *sv, size_t i)
{
	if (!sv->y)
		return NULL;
	if (sv->y->type == PDP_Y_SEQ && i < sv->y->n)
		return sv->y->items[i];
	return sv->y;
}

bool pdp_strv_has(const pdp_strv *sv, pdp_str s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (pdp_str_eq(sv->v[i], s))
			return true;
	return false;
}

static int fold(int c, bool nocase)
{
	return nocase ? tolower((unsigned char)c) : (unsigned char)c;
}

/* [...] class at p (after '['); returns chars consumed incl. ']' or 0 if
 * the class is not closed (then '[' is literal). */
static size_t class_match(pdp_str pat, size_t p, int c, bool nocase, bool *ret)
{
	size_t i = p;
	bool neg = i < pat.len && (pat.p[i] == '!' || pat.p[i] == '^');
	if (neg)
		i++;
	bool hit = false;
	size_t first = i;
	while (i < pat.len && (pat.p[i] != ']' || i == first)) {
		int lo = fold(pat.p[i], nocase), hi = lo;
		if (i + 2 < pat.len && pat.p[i + 1] == '-' && pat.p[i + 2] != ']') {
			hi = fold(pat.p[i + 2], nocase);
			i += 2;
		}
		if (c >= lo && c <= hi)
			hit = true;
		i++;
	}
	if (i >= pat.len)
		return 0;
	*ret = hit != neg;
	return i + 1 - p;
}

/* Iterative glob with single backtrack point for '*' (linear-ish time). */
bool pdp_glob_match(pdp_str pat, pdp_str s, bool nocase)
{
	size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;
	while (i < s.len) {
		if (p < pat.len && pat.p[p] == '*') {
			star_p = ++p;
			star_i = i;
			continue;
		}
		if (p < pat.len) {
			int c = fold(s.p[i], nocase);
			if (pat.p[p] == '?') {
				p++, i++;
				continue;
			}
			if (pat.p[p] == '[') {
				bool hit = false;
				size_t used = class_match(pat, p + 1, c, nocase, &hit);
				if (used && hit) {
					p += 1 + used, i++;
					continue;
				}
				if (!used && c == '[') {
					p++, i++;
					continue;
				}
			} else if (fold(pat.p[p], nocase) == c) {
				p++, i++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		p = star_p;
		i = ++star_i;
	}
	while (p < pat.len && pat.p[p] == '*')
		p++;
	return p == pat.len;
}

bool pdp_pii_detect_match(pdp_str pattern, pdp_str column)
{
	if (memchr(pattern.p, '*', pattern.len) || memchr(pattern.p, '?', pattern.len) ||
	    memchr(pattern.p, '[', pattern.len))
		return pdp_glob_match(pattern, column, true);
	if (pattern.len == 0 || pattern.len > column.len)
		return pattern.len == 0;
	for (size_t i = 0; i + pattern.len <= column.len; i++) {
		pdp_str w = { column.p + i, pattern.len };
		if (pdp_str_eq_nocase(w, pattern))
			return true;
	}
	return false;
}
