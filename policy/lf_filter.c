/*
 * lf_filter.c -- is a row filter inside the Lake Formation PartiQL subset?
 *
 * Lake Formation data cell filters take a row filter expression in a
 * subset of PartiQL (AWS Lake Formation developer guide, "PartiQL support
 * in row filter expressions"): a column compared with a constant (=, <>,
 * !=, <, <=, >, >=), [NOT] IN a list of constants, [NOT] BETWEEN two
 * constants, [NOT] LIKE a string, IS [NOT] NULL, combined with AND, OR,
 * NOT and parentheses; no functions, no arithmetic, no column-to-column
 * comparisons; columns of type string/char/varchar, int/long/bigint/
 * float/double/decimal or boolean, each compared with a constant of its
 * own type; fewer than 2048 characters. A column name that is a PartiQL
 * keyword must be written in double quotes.
 *
 * Design: a small tokenizer and a recursive-descent parser that accept
 * exactly that and nothing else, so a filter we pass is one the lake
 * evaluates the way the gateway does (the text is handed on unchanged).
 * Anything we do not recognise is refused with a reason and an offset:
 * the export then leaves the grant to the gateway instead of widening it.
 *
 * Ownership: nothing is allocated; the reason is appended to `why`.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pdp/grants.h"

#define MAX_DEPTH 64

enum tok {
	T_END, T_IDENT, T_QIDENT, T_STRING, T_NUMBER, T_LPAREN, T_RPAREN, T_COMMA,
	T_CMP, T_BAD
};

enum vtype { V_NONE, V_STRING, V_NUMBER, V_BOOL };

struct lex {
	const char *s, *end;      /* the filter text */
	const char *at, *after;   /* the current token's start and end */
	enum tok tok;
	pdp_str text;             /* token text (for idents: without quotes) */
	pdp_lf_column_fn column;
	void *ctx;
	pdp_buf *why;
	int depth;
	bool failed;
};

/* PartiQL's keywords (partiql-lang grammar, PartiQLTokens.g4): a bare
 * column name must not be one of them. Sorted, upper case. */
static const char *const keywords[] = {
	"ABSOLUTE", "ACTION", "ADD", "ALL", "ALLOCATE", "ALTER", "AND", "ANY", "ARE", "AS",
	"ASC", "ASSERTION", "AT", "AUTHORIZATION", "AVG", "BAG", "BEGIN", "BETWEEN", "BIGINT",
	"BIT", "BIT_LENGTH", "BLOB", "BOOL", "BOOLEAN", "BY", "CAN_CAST", "CAN_LOSSLESS_CAST",
	"CASCADE", "CASCADED", "CASE", "CAST", "CATALOG", "CHAR", "CHARACTER",
	"CHARACTER_LENGTH", "CHAR_LENGTH", "CHECK", "CLOB", "CLOSE", "COALESCE", "COLLATE",
	"COLLATION", "COLUMN", "COMMIT", "CONFLICT", "CONNECT", "CONNECTION", "CONSTRAINT",
	"CONSTRAINTS", "CONTINUE", "CONVERT", "CORRESPONDING", "COUNT", "CREATE", "CROSS",
	"CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER",
	"CURSOR", "DATE", "DATE_ADD", "DATE_DIFF", "DEALLOCATE", "DEC", "DECIMAL", "DECLARE",
	"DEFAULT", "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DESCRIBE", "DESCRIPTOR",
	"DIAGNOSTICS", "DISCONNECT", "DISTINCT", "DO", "DOMAIN", "DOUBLE", "DROP", "ELSE",
	"END", "END-EXEC", "ESCAPE", "EXCEPT", "EXCEPTION", "EXCLUDED", "EXEC", "EXECUTE",
	"EXISTS", "EXTERNAL", "EXTRACT", "FALSE", "FETCH", "FIRST", "FLOAT", "FOR", "FOREIGN",
	"FOUND", "FROM", "FULL", "GET", "GLOBAL", "GO", "GOTO", "GRANT", "GROUP", "HAVING",
	"IDENTITY", "IMMEDIATE", "IN", "INDEX", "INDICATOR", "INITIALLY", "INNER", "INPUT",
	"INSENSITIVE", "INSERT", "INT", "INT2", "INT4", "INT8", "INTEGER", "INTEGER2",
	"INTEGER4", "INTEGER8", "INTERSECT", "INTERVAL", "INTO", "IS", "ISOLATION", "JOIN",
	"KEY", "LANGUAGE", "LAST", "LATERAL", "LEFT", "LET", "LEVEL", "LIKE", "LIMIT", "LIST",
	"LOCAL", "LOWER", "MATCH", "MAX", "MIN", "MISSING", "MODIFIED", "MODULE", "NAMES",
	"NATIONAL", "NATURAL", "NCHAR", "NEW", "NEXT", "NO", "NOT", "NOTHING", "NULL", "NULLIF",
	"NULLS", "NUMERIC", "OCTET_LENGTH", "OF", "OFFSET", "OLD", "ON", "ONLY", "OPEN",
	"OPTION", "OR", "ORDER", "OUTER", "OUTPUT", "OVERLAPS", "PAD", "PARTIAL", "PIVOT",
	"POSITION", "PRECISION", "PREPARE", "PRESERVE", "PRIMARY", "PRIOR", "PRIVILEGES",
	"PROCEDURE", "PUBLIC", "READ", "REAL", "REFERENCES", "RELATIVE", "REMOVE", "REPLACE",
	"RESTRICT", "RETURNING", "REVOKE", "RIGHT", "ROLLBACK", "ROWS", "SCHEMA", "SCROLL",
	"SECTION", "SELECT", "SESSION", "SESSION_USER", "SET", "SEXP", "SHORTEST", "SIZE",
	"SMALLINT", "SOME", "SPACE", "SQL", "SQLCODE", "SQLERROR", "SQLSTATE", "STRING",
	"STRUCT", "SUBSTRING", "SUM", "SYMBOL", "SYSTEM_USER", "TABLE", "TEMPORARY", "THEN",
	"TIME", "TIMESTAMP", "TO", "TRANSACTION", "TRANSLATE", "TRANSLATION", "TRIM", "TRUE",
	"TUPLE", "UNION", "UNIQUE", "UNKNOWN", "UNPIVOT", "UPDATE", "UPPER", "UPSERT", "USAGE",
	"USER", "USING", "VALUE", "VALUES", "VARCHAR", "VARYING", "VIEW", "WHEN", "WHENEVER",
	"WHERE", "WITH", "WORK", "WRITE", "ZONE",
};

static bool is_keyword(pdp_str s)
{
	size_t lo = 0, hi = sizeof(keywords) / sizeof(keywords[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = keywords[mid];
		size_t kl = strlen(k), n = kl < s.len ? kl : s.len;
		int c = strncasecmp(k, s.p, n);
		if (c == 0)
			c = (kl > s.len) - (kl < s.len);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool word_is(const struct lex *l, const char *w)
{
	return l->tok == T_IDENT && pdp_str_eq_nocase(l->text, pdp_str_c(w));
}

static void fail(struct lex *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct lex *l, const char *fmt, ...)
{
	if (l->failed)
		return;
	l->failed = true;
	va_list ap;
	va_start(ap, fmt);
	pdp_ignore(pdp_buf_vprintf(l->why, fmt, ap)); /* a truncated reason is still a refusal */
	va_end(ap);
	pdp_ignore(pdp_buf_printf(l->why, " (at offset %zu)", (size_t)(l->at - l->s)));
}

/* A quoted token: '...' or "..." with the quote doubled inside. */
static void lex_quoted(struct lex *l, char q, enum tok kind)
{
	for (const char *p = l->at + 1; p < l->end; p++) {
		if (*p != q)
			continue;
		if (p + 1 < l->end && p[1] == q) {
			p++;
			continue;
		}
		l->tok = kind;
		l->text = (pdp_str){ l->at + 1, (size_t)(p - l->at - 1) };
		l->after = p + 1;
		return;
	}
	l->tok = T_BAD;
	l->after = l->end;
	fail(l, "unterminated %s", q == '\'' ? "string" : "quoted name");
}

/* Numbers: [-]digits[.digits][e[+-]digits] or [-].digits... */
static size_t number_len(const char *p, const char *end)
{
	const char *s = p;
	if (p < end && *p == '-')
		p++;
	const char *d = p;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if (p < end && *p == '.') {
		p++;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p == d || (p == d + 1 && *d == '.'))
		return 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *e = p + 1;
		if (e < end && (*e == '+' || *e == '-'))
			e++;
		const char *ed = e;
		while (e < end && isdigit((unsigned char)*e))
			e++;
		if (e > ed)
			p = e;
	}
	return (size_t)(p - s);
}

static size_t cmp_len(const char *p, const char *end)
{
	if (*p == '=')
		return 1;
	if (*p == '!' && p + 1 < end && p[1] == '=')
		return 2;
	if (*p == '<')
		return p + 1 < end && (p[1] == '=' || p[1] == '>') ? 2 : 1;
	if (*p == '>')
		return p + 1 < end && p[1] == '=' ? 2 : 1;
	return 0;
}

static void bad_char(struct lex *l, unsigned char c)
{
	const char *p = l->at;
	if ((c == '-' && p + 1 < l->end && p[1] == '-') || (c == '/' && p + 1 < l->end && p[1] == '*'))
		fail(l, "comments are not allowed");
	else if (c == '+' || c == '-' || c == '*' || c == '/' || c == '%' || c == '|')
		fail(l, "arithmetic and concatenation ('%c') are not allowed", c);
	else if (c == '.')
		fail(l, "nested field references are not supported");
	else if (c < 0x20 || c >= 0x7f)
		fail(l, "unexpected byte 0x%02x outside a string", c);
	else
		fail(l, "unexpected '%c'", c);
}

static void next(struct lex *l)
{
	const char *p = l->after;
	while (p < l->end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	l->at = p;
	l->text = (pdp_str){ p, 0 };
	if (p >= l->end) {
		l->tok = T_END;
		l->after = p;
		return;
	}
	unsigned char c = (unsigned char)*p;
	if (c == '\'' || c == '"') {
		lex_quoted(l, (char)c, c == '\'' ? T_STRING : T_QIDENT);
		return;
	}
	size_t n = 0;
	if (isalpha(c) || c == '_' || c == '$') {
		n = 1;
		while (p + n < l->end && (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '$'))
			n++;
		l->tok = T_IDENT;
	} else if ((n = number_len(p, l->end)) > 0) {
		l->tok = T_NUMBER;
	} else if ((n = cmp_len(p, l->end)) > 0) {
		l->tok = T_CMP;
	} else {
		n = 1;
		l->tok = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : c == ',' ? T_COMMA : T_BAD;
	}
	l->text.len = n;
	l->after = p + n;
	if (l->tok == T_BAD)
		bad_char(l, c);
}

/* Declared column type → the class of constants it compares with. */
static enum vtype type_class(pdp_str t)
{
	static const struct { const char *name; enum vtype v; bool params; } types[] = {
		{ "string", V_STRING, false }, { "char", V_STRING, true },
		{ "varchar", V_STRING, true }, { "int", V_NUMBER, false },
		{ "integer", V_NUMBER, false }, { "long", V_NUMBER, false },
		{ "bigint", V_NUMBER, false }, { "float", V_NUMBER, false },
		{ "double", V_NUMBER, false }, { "decimal", V_NUMBER, true },
		{ "boolean", V_BOOL, false },
	};
	size_t base = 0;
	while (base < t.len && t.p[base] != '(')
		base++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (!pdp_str_eq_nocase((pdp_str){ t.p, base }, pdp_str_c(types[i].name)))
			continue;
		if (base == t.len)
			return types[i].v;
		if (!types[i].params || t.p[t.len - 1] != ')')
			return V_NONE;
		for (size_t j = base + 1; j + 1 < t.len; j++)
			if (!isdigit((unsigned char)t.p[j]) && t.p[j] != ',' && t.p[j] != ' ')
				return V_NONE;
		return types[i].v;
	}
	return V_NONE;
}

static const char *vtype_name(enum vtype v)
{
	switch (v) {
	case V_STRING: return "a string";
	case V_NUMBER: return "a number";
	case V_BOOL: return "a boolean";
	default: return "an unsupported type";
	}
}

/* The column at the current token; its constant class, V_NONE on failure. */
static enum vtype column(struct lex *l)
{
	if (l->tok != T_IDENT && l->tok != T_QIDENT) {
		fail(l, "expected a column name");
		return V_NONE;
	}
	pdp_str name = l->text, type = PDP_STR_NULL;
	bool quoted = l->tok == T_QIDENT;
	if (!quoted && is_keyword(name)) {
		fail(l, "'%.*s' is a PartiQL keyword: write the column as \"%.*s\"", (int)name.len,
		     name.p, (int)name.len, name.p);
		return V_NONE;
	}
	if (quoted && memchr(name.p, '"', name.len)) {
		fail(l, "quoted column name with a double quote");
		return V_NONE;
	}
	if (!l->column(l->ctx, name, quoted, &type)) {
		fail(l, "unknown column '%.*s'", (int)name.len, name.p);
		return V_NONE;
	}
	enum vtype v = type_class(type);
	if (v == V_NONE)
		fail(l, "column '%.*s' has type '%.*s', which Lake Formation row filters do not "
		     "support", (int)name.len, name.p, (int)type.len, type.p);
	next(l);
	return v;
}

/* A constant of class want at the current token. */
static void constant(struct lex *l, enum vtype want)
{
	enum vtype got = l->tok == T_STRING ? V_STRING : l->tok == T_NUMBER ? V_NUMBER :
			 (word_is(l, "true") || word_is(l, "false")) ? V_BOOL : V_NONE;
	if (got == V_NONE) {
		if (word_is(l, "null"))
			fail(l, "compare with NULL using IS [NOT] NULL");
		else if (l->tok == T_IDENT && is_keyword(l->text))
			fail(l, "expected a constant, not the keyword '%.*s'", (int)l->text.len,
			     l->text.p);
		else if (l->tok == T_IDENT || l->tok == T_QIDENT)
			fail(l, "a column may only be compared with a constant, not with '%.*s'",
			     (int)l->text.len, l->text.p);
		else
			fail(l, "expected a constant");
		return;
	}
	if (got != want) {
		fail(l, "%s constant for a column that takes %s", vtype_name(got), vtype_name(want));
		return;
	}
	next(l);
}

static void expect(struct lex *l, enum tok t, const char *what)
{
	if (l->tok != t) {
		fail(l, "expected %s", what);
		return;
	}
	next(l);
}

static void in_list(struct lex *l, enum vtype v)
{
	expect(l, T_LPAREN, "'(' after IN");
	while (!l->failed) {
		constant(l, v);
		if (l->tok != T_COMMA)
			break;
		next(l);
	}
	expect(l, T_RPAREN, "')' to close the IN list");
}

/* column <op> constant | [NOT] IN | [NOT] BETWEEN | [NOT] LIKE | IS [NOT] NULL */
static void predicate(struct lex *l)
{
	enum vtype v = column(l);
	if (l->failed)
		return;
	if (l->tok == T_CMP) {
		next(l);
		constant(l, v);
		return;
	}
	if (word_is(l, "is")) {
		next(l);
		if (word_is(l, "not"))
			next(l);
		if (!word_is(l, "null")) {
			fail(l, "expected NULL after IS");
			return;
		}
		next(l);
		return;
	}
	if (word_is(l, "not"))
		next(l);
	if (word_is(l, "in")) {
		next(l);
		in_list(l, v);
	} else if (word_is(l, "between")) {
		next(l);
		constant(l, v);
		if (!word_is(l, "and")) {
			fail(l, "expected AND in BETWEEN");
			return;
		}
		next(l);
		constant(l, v);
	} else if (word_is(l, "like")) {
		if (v != V_STRING) {
			fail(l, "LIKE needs a string column");
			return;
		}
		next(l);
		constant(l, V_STRING);
		if (word_is(l, "escape"))
			fail(l, "LIKE ... ESCAPE is not supported");
	} else {
		fail(l, "expected a comparison, IN, BETWEEN, LIKE or IS after the column");
	}
}

static void expr(struct lex *l);

static void factor(struct lex *l)
{
	if (++l->depth > MAX_DEPTH) {
		fail(l, "nested deeper than %d", MAX_DEPTH);
		return;
	}
	if (word_is(l, "not")) {
		next(l);
		factor(l);
	} else if (l->tok == T_LPAREN) {
		next(l);
		expr(l);
		expect(l, T_RPAREN, "')'");
	} else if (l->tok == T_IDENT && l->at + l->text.len < l->end &&
		   l->at[l->text.len] == '(') {
		fail(l, "functions are not allowed ('%.*s(...)')", (int)l->text.len, l->text.p);
	} else {
		predicate(l);
	}
	l->depth--;
}

static void term(struct lex *l)
{
	factor(l);
	while (!l->failed && word_is(l, "and")) {
		next(l);
		factor(l);
	}
}

static void expr(struct lex *l)
{
	term(l);
	while (!l->failed && word_is(l, "or")) {
		next(l);
		term(l);
	}
}

bool pdp_lf_filter_ok(pdp_str f, pdp_lf_column_fn col, void *ctx, pdp_buf *why)
{
	pdp_buf scratch;
	pdp_buf_init(&scratch, 1024);
	struct lex l = { .s = f.p, .end = f.p + f.len, .at = f.p, .after = f.p, .tok = T_END,
			 .column = col, .ctx = ctx, .why = why ? why : &scratch };
	if (f.len >= PDP_LF_FILTER_MAX) {
		fail(&l, "%zu characters, Lake Formation takes fewer than %d", f.len, PDP_LF_FILTER_MAX);
	} else {
		next(&l);
		if (l.tok == T_END)
			fail(&l, "empty filter");
		if (!l.failed)
			expr(&l);
		if (!l.failed && l.tok != T_END)
			fail(&l, "unexpected '%.*s'", (int)(l.text.len ? l.text.len : 1), l.at);
	}
	pdp_buf_done(&scratch);
	return !l.failed;
}
