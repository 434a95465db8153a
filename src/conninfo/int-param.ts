import { isCSpace } from './parse-keyword-value.js';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/**
 * libpq's `pqParseIntParam`: a decimal integer with optional sign, whitespace
 * allowed before and after, within a C int. Returns null when libpq would say
 * `invalid integer value "<v>" for connection option "<name>"`.
 */
export function parseIntParam(value: string): number | null {
  const match = /^[ \t\n\r\v\f]*([+-]?[0-9]+)(.*)$/s.exec(value);
  if (match === null) return null;
  const [, digits = '', rest = ''] = match;
  if ([...rest].some((ch) => !isCSpace(ch))) return null;
  const n = Number(digits);
  return n < INT_MIN || n > INT_MAX ? null : n;
}

export function invalidIntegerMessage(value: string, option: string): string {
  return `invalid integer value "${value}" for connection option "${option}"`;
}
