/*
 * mask_sql.c -- ready-to-use SQL for each mask, per dialect (SPEC 4
 * `context.dialect`). Every expression takes the column as text, keeps
 * NULL as NULL (except nullify, which is always NULL) and is documented in
 * docs/masks.md; the PostgreSQL ones are executed on sample rows by the
 * integration tests.
 *
 *   mask          postgres / trino / spark (x = the column cast to text)
 *   year_only     first day of the year of the value (a date)
 *   show_first_4  first 4 characters, the rest '*' (same length)
 *   show_last_4   last 4 characters, the rest '*' (same length)
 *   email_domain  '***@' + the part after '@'
 *   hash          hex SHA-256 of (value || salt)
 *   redact        '[REDACTED]'
 *   nullify       NULL
 */
#include <string.h>

#include "pdp/eval.h"

/* The column as a quoted identifier: "x" (doubling ") or `x` (doubling `). */
static enum pdp_err ident(pdp_buf *out, enum pdp_dialect d, pdp_str col)
{
	char q = d == PDP_DIALECT_SPARK ? '`' : '"';
	PDP_TRY(pdp_buf_addc(out, q));
	for (size_t i = 0; i < col.len; i++) {
		if (col.p[i] == q)
			PDP_TRY(pdp_buf_addc(out, q));
		PDP_TRY(pdp_buf_addc(out, col.p[i]));
	}
	return pdp_buf_addc(out, q);
}

/* The column cast to text. */
static enum pdp_err text(pdp_buf *out, enum pdp_dialect d, pdp_str col)
{
	PDP_TRY(pdp_buf_adds(out, "CAST("));
	PDP_TRY(ident(out, d, col));
	return pdp_buf_adds(out, d == PDP_DIALECT_POSTGRES ? " AS text)"
				 : d == PDP_DIALECT_TRINO ? " AS varchar)" : " AS STRING)");
}

static enum pdp_err literal(pdp_buf *out, pdp_str s)
{
	PDP_TRY(pdp_buf_addc(out, '\''));
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '\'')
			PDP_TRY(pdp_buf_addc(out, '\''));
		PDP_TRY(pdp_buf_addc(out, s.p[i]));
	}
	return pdp_buf_addc(out, '\'');
}

/* Expands a template: {T} is the column as text, {C} the quoted column,
 * {S} the salt literal; everything else is copied. */
static enum pdp_err expand(pdp_buf *out, const char *tpl, enum pdp_dialect d, pdp_str col, pdp_str salt)
{
	for (const char *p = tpl; *p; p++) {
		if (p[0] == '{' && p[1] && p[2] == '}' && strchr("TCS", p[1])) {
			if (p[1] == 'T')
				PDP_TRY(text(out, d, col));
			else if (p[1] == 'C')
				PDP_TRY(ident(out, d, col));
			else
				PDP_TRY(literal(out, salt));
			p += 2;
			continue;
		}
		PDP_TRY(pdp_buf_addc(out, *p));
	}
	return PDP_OK;
}

static const char *const templates[3][PDP_MASK__COUNT] = {
	[0] = { /* postgres */
		[PDP_MASK_YEAR_ONLY] = "CAST(date_trunc('year', CAST({C} AS timestamp)) AS date)",
		[PDP_MASK_SHOW_FIRST_4] = "rpad(left({T}, 4), length({T}), '*')",
		[PDP_MASK_SHOW_LAST_4] = "lpad(right({T}, 4), length({T}), '*')",
		[PDP_MASK_EMAIL_DOMAIN] = "('***@' || split_part({T}, '@', 2))",
		[PDP_MASK_HASH] = "encode(sha256(convert_to({T} || {S}, 'UTF8')), 'hex')",
		[PDP_MASK_REDACT] = "CASE WHEN {C} IS NULL THEN NULL ELSE '[REDACTED]' END",
		[PDP_MASK_NULLIFY] = "CAST(NULL AS text)",
	},
	[1] = { /* trino */
		[PDP_MASK_YEAR_ONLY] = "date_trunc('year', CAST({C} AS date))",
		[PDP_MASK_SHOW_FIRST_4] = "rpad(substr({T}, 1, 4), length({T}), '*')",
		[PDP_MASK_SHOW_LAST_4] = "lpad(substr({T}, greatest(length({T}) - 3, 1)), length({T}), '*')",
		[PDP_MASK_EMAIL_DOMAIN] = "concat('***@', split_part({T}, '@', 2))",
		[PDP_MASK_HASH] = "lower(to_hex(sha256(to_utf8(concat({T}, {S})))))",
		[PDP_MASK_REDACT] = "CASE WHEN {C} IS NULL THEN NULL ELSE '[REDACTED]' END",
		[PDP_MASK_NULLIFY] = "CAST(NULL AS varchar)",
	},
	[2] = { /* spark */
		[PDP_MASK_YEAR_ONLY] = "trunc(CAST({C} AS date), 'year')",
		[PDP_MASK_SHOW_FIRST_4] = "rpad(substr({T}, 1, 4), length({T}), '*')",
		[PDP_MASK_SHOW_LAST_4] = "lpad(substr({T}, greatest(length({T}) - 3, 1)), length({T}), '*')",
		[PDP_MASK_EMAIL_DOMAIN] = "concat('***@', substring_index({T}, '@', -1))",
		[PDP_MASK_HASH] = "sha2(concat({T}, {S}), 256)",
		[PDP_MASK_REDACT] = "CASE WHEN {C} IS NULL THEN NULL ELSE '[REDACTED]' END",
		[PDP_MASK_NULLIFY] = "CAST(NULL AS STRING)",
	},
};

enum pdp_err pdp_mask_sql(enum pdp_mask m, enum pdp_dialect d, pdp_str column, pdp_str salt,
			  pdp_buf *out)
{
	PDP_ENSURE(d >= PDP_DIALECT_POSTGRES && d <= PDP_DIALECT_SPARK, PDP_E_INVALID);
	PDP_ENSURE(m > PDP_MASK_NONE && m < PDP_MASK__COUNT, PDP_E_INVALID);
	return expand(out, templates[d - PDP_DIALECT_POSTGRES][m], d, column, salt);
}
