import { ConnInfoError } from '../errors.js';
import { isSecretKeyword, MASK } from './keywords.js';
import { storeParam } from './params.js';

/** C's isspace() in the C locale. */
export function isCSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

interface Cursor {
  readonly text: string;
  pos: number;
}

function skipSpaces(c: Cursor): void {
  while (c.pos < c.text.length && isCSpace(c.text[c.pos])) c.pos++;
}

/**
 * libpq quotes a keyword that has no `=` whole; when that "keyword" is a
 * mistyped URI (`http://user:secret@db/x`, `postgresql:/...`, `user:secret@db`)
 * it holds a password. In the part after the last `/` before the last `@`
 * (the userinfo), everything between the first `:` and that `@` is masked: a deliberate difference from libpq (docs/connection-strings.md).
 */
export function maskUserinfo(keyword: string): string {
  const at = keyword.lastIndexOf('@');
  if (at < 0) return keyword;
  const colon = keyword.indexOf(':', keyword.lastIndexOf('/', at) + 1);
  return colon >= 0 && colon < at ? `${keyword.slice(0, colon + 1)}${MASK}${keyword.slice(at)}` : keyword;
}

/**
 * A keyword runs to `=` or whitespace; then, after optional whitespace, `=`
 * must follow. Right after a secret's value on the same line
 * (`password=hunter 2`), a word with no `=` is most likely the rest of an
 * unquoted password: it is masked whole (a deliberate difference from libpq).
 */
function readKeyword(c: Cursor, afterSecret: boolean): string {
  const start = c.pos;
  while (c.pos < c.text.length && c.text[c.pos] !== '=' && !isCSpace(c.text[c.pos])) c.pos++;
  const keyword = c.text.slice(start, c.pos);
  skipSpaces(c);
  if (c.text[c.pos] !== '=') {
    throw new ConnInfoError(`missing "=" after "${afterSecret ? MASK : maskUserinfo(keyword)}" in connection info string`);
  }
  c.pos++;
  return keyword;
}

/** An unquoted value ends at whitespace; a backslash takes the next character literally. */
function readUnquoted(c: Cursor): string {
  let value = '';
  while (c.pos < c.text.length) {
    const ch = c.text[c.pos] as string;
    if (isCSpace(ch)) {
      c.pos++;
      break;
    }
    if (ch === '\\') {
      c.pos++;
      if (c.pos < c.text.length) value += c.text[c.pos++];
    } else {
      value += ch;
      c.pos++;
    }
  }
  return value;
}

/** A quoted value runs to the next unescaped `'`; `\'` and `\\` are escapes. */
function readQuoted(c: Cursor): string {
  let value = '';
  c.pos++;
  for (;;) {
    if (c.pos >= c.text.length) throw new ConnInfoError('unterminated quoted string in connection info string');
    const ch = c.text[c.pos] as string;
    if (ch === '\\') {
      c.pos++;
      if (c.pos < c.text.length) value += c.text[c.pos++];
      continue;
    }
    c.pos++;
    if (ch === "'") return value;
    value += ch;
  }
}

/**
 * Parses libpq's keyword/value syntax (`host=a,b port=5432 dbname='my db'`),
 * as `conninfo_parse` does. Values are not trimmed; whitespace after `=` is
 * skipped, so `hostaddr= port=1` sets hostaddr to `port=1`, as in libpq.
 */
export function parseKeywordValue(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const c: Cursor = { text, pos: 0 };
  let secretEnd = -1;
  for (;;) {
    skipSpaces(c);
    if (c.pos >= text.length) return params;
    // A word on the same line right after a secret's value (no newline between) may be the rest of it.
    const afterSecret = secretEnd >= 0 && !/[\n\r]/.test(text.slice(secretEnd - 1, c.pos));
    const keyword = readKeyword(c, afterSecret);
    skipSpaces(c);
    const value = text[c.pos] === "'" ? readQuoted(c) : readUnquoted(c);
    storeParam(params, keyword, value);
    secretEnd = isSecretKeyword(keyword) ? c.pos : -1;
  }
}
