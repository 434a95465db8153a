import type { ConnParams } from './params.js';
import { parseKeywordValue } from './parse-keyword-value.js';
import { parseUri, uriPrefixLength } from './parse-uri.js';

/**
 * Parses a connection string in either syntax, exactly as libpq's
 * `PQconninfoParse`: the result holds only what the string sets, no defaults.
 * Throws `ConnInfoError` with libpq's message for input libpq rejects.
 */
export function parseConnInfo(conninfo: string): ConnParams {
  // libpq reads a C string: anything after a NUL byte is not seen.
  const nul = conninfo.indexOf('\0');
  const text = nul < 0 ? conninfo : conninfo.slice(0, nul);
  return uriPrefixLength(text) > 0 ? parseUri(text) : parseKeywordValue(text);
}
