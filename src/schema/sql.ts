/**
 * SQL text helpers of the schema layer: identifier quoting, literals, SQLite's keywords and a
 * small tokenizer. Every identifier the generator writes goes through {@link quoteIdent}.
 */

/**
 * `name` as a quoted SQLite identifier: wrapped in double quotes, inner double quotes doubled.
 * Safe for any name, keywords included. Names holding a NUL character are refused.
 *
 * @example
 * quoteIdent('order')   // '"order"'
 * quoteIdent('we"ird')  // '"we""ird"'
 */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new TypeError(`an SQL identifier cannot contain a NUL character (got ${JSON.stringify(name)})`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** `value` as an SQL string literal (single quotes doubled). */
export function quoteString(value: string): string {
  if (value.includes('\0')) throw new TypeError('an SQL string literal cannot contain a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * SQLite folds identifiers with ASCII case folding only: `Notes` and `notes` name the same
 * table, `É` and `é` do not.
 */
export function foldName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** The keywords of SQLite (https://sqlite.org/lang_keywords.html), upper case. */
export const SQLITE_KEYWORDS: ReadonlySet<string> = new Set(
  (
    'ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN BETWEEN BY ' +
    'CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE ' +
    'CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP ' +
    'EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM ' +
    'FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD ' +
    'INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL ' +
    'NULL NULLS OF OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE ' +
    'RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS ' +
    'SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE ' +
    'USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT'
  ).split(' '),
);

const STRING_LITERAL = /^'(?:[^']|'')*'$/;
const NUMBER_LITERAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX_LITERAL = /^[+-]?0[xX][0-9a-fA-F]+$/;
const BLOB_LITERAL = /^[xX]'(?:[0-9a-fA-F]{2})*'$/;
const KEYWORD_LITERAL = /^(?:NULL|TRUE|FALSE)$/i;
const TIME_KEYWORD = /^CURRENT_(?:TIME|DATE|TIMESTAMP)$/i;

/**
 * True when a default (as `pragma table_xinfo` reports it) is a plain literal: a string,
 * number, blob, `NULL`, `TRUE` or `FALSE`. Such a default can be written bare and is allowed by
 * `ALTER TABLE ... ADD COLUMN`.
 */
export function isLiteralDefault(sql: string): boolean {
  const s = sql.trim();
  return STRING_LITERAL.test(s) || NUMBER_LITERAL.test(s) || HEX_LITERAL.test(s) || BLOB_LITERAL.test(s) || KEYWORD_LITERAL.test(s);
}

/** The `DEFAULT ...` clause for a default expression: bare when it may be, in parentheses otherwise. */
export function defaultClause(sql: string): string {
  const s = sql.trim();
  return isLiteralDefault(s) || TIME_KEYWORD.test(s) ? `DEFAULT ${s}` : `DEFAULT (${s})`;
}

/** True when a default is `NULL` (the same as having none). */
export function isNullDefault(sql: string | undefined): boolean {
  return sql === undefined || /^null$/i.test(sql.trim());
}

/**
 * Declared column types the generator may write unquoted: words, optionally with a size, as
 * `VARCHAR(20)`, `DECIMAL(10, 2)`, `DATE TEXT`, or nothing at all.
 */
export const DECLARED_TYPE_PATTERN = /^(?:[A-Za-z_][A-Za-z0-9_]*(?: +[A-Za-z_][A-Za-z0-9_]*)*(?: *\( *[+-]?\d+(?: *, *[+-]?\d+)? *\))?)?$/;

/** A declared type in one canonical spelling: upper case, single spaces, no space before `(`. */
export function normalizeType(type: string): string {
  return type
    .trim()
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .replace(/ ?\( ?/g, '(')
    .replace(/ ?\) ?/g, ')')
    .replace(/ ?, ?/g, ',');
}

/** SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html, 3.1). */
export function affinityOf(type: string): 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC' {
  const t = type.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t.includes('BLOB') || t.trim() === '') return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

/**
 * The words of `sql` outside string literals, quoted identifiers and comments, upper-cased.
 * Enough to spot keywords (`CHECK`, `COLLATE`, ...) in a `CREATE TABLE` statement.
 */
export function sqlWords(sql: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(close, j);
        if (k === -1) {
          j = sql.length;
          break;
        }
        if (close !== ']' && sql[k + 1] === close) {
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      i = j;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      out.push(sql.slice(i, j).toUpperCase());
      i = j;
    } else {
      i++;
    }
  }
  return out;
}

/**
 * True when `sql` (a default expression from a hand-built definition) can be placed inside
 * `DEFAULT (...)` without ending it: quotes closed, parentheses balanced, no `;`.
 */
export function isEnclosableExpression(sql: string): boolean {
  let depth = 0;
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      let j = i + 1;
      let closed = false;
      while (j < sql.length) {
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        j++;
      }
      if (!closed) return false;
      i = j + 1;
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') return false;
    if (ch === '/' && sql[i + 1] === '*') return false;
    if (ch === ';' || ch === '\0') return false;
    if (ch === '(') depth++;
    if (ch === ')' && --depth < 0) return false;
    i++;
  }
  return depth === 0 && sql.trim() !== '';
}
