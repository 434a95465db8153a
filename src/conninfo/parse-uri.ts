import { ConnInfoError } from '../errors.js';
import { isSecretKeyword, MASK } from './keywords.js';
import { storeParam } from './params.js';
import { uriDecode } from './uri-decode.js';

const URI_PREFIXES = ['postgresql://', 'postgres://'] as const;

/** Length of the URI designator the string starts with (case-sensitive), or 0. */
export function uriPrefixLength(text: string): number {
  for (const prefix of URI_PREFIXES) if (text.startsWith(prefix)) return prefix.length;
  return 0;
}

function indexOfAny(text: string, from: number, stops: string): number {
  let i = from;
  while (i < text.length && !stops.includes(text[i] as string)) i++;
  return i;
}

function storeDecoded(params: Map<string, string>, keyword: string, raw: string): void {
  if (raw !== '') storeParam(params, keyword, uriDecode(raw));
}

/** A query parameter's keyword, decoded when it can be (else as written): to tell whether its value is a secret. */
function looseKeyword(rawKey: string): string {
  try {
    return uriDecode(rawKey);
  } catch {
    return rawKey;
  }
}

/** `?a=b&password=x`: every secret parameter's value replaced by MASK. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((segment) => {
      const eq = segment.indexOf('=');
      return eq >= 0 && isSecretKeyword(looseKeyword(segment.slice(0, eq))) ? `${segment.slice(0, eq + 1)}${MASK}` : segment;
    })
    .join('&');
}

/** The URI as libpq quotes it in errors, but with every password masked (userinfo and query): pg-split never prints one. */
function redactPassword(uri: string): string {
  const start = uriPrefixLength(uri);
  const question = uri.indexOf('?', start);
  const withQuery = question < 0 ? uri : `${uri.slice(0, question + 1)}${redactQuery(uri.slice(question + 1))}`;
  const at = indexOfAny(withQuery, start, '@/');
  if (withQuery[at] !== '@') return withQuery;
  const colon = indexOfAny(withQuery, start, ':@');
  return colon < at ? `${withQuery.slice(0, colon + 1)}${MASK}${withQuery.slice(at)}` : withQuery;
}

/** uriDecode for a secret: a decoding error quotes MASK, not the value. */
function decodeSecret(raw: string): string {
  try {
    return uriDecode(raw);
  } catch (err) {
    if (err instanceof ConnInfoError) throw new ConnInfoError(err.message.replaceAll(`"${raw}"`, `"${MASK}"`));
    throw err;
  }
}

function storePassword(params: Map<string, string>, raw: string): void {
  if (raw !== '') storeParam(params, 'password', decodeSecret(raw));
}

/** `user[:password]@`: found only if an `@` comes before the first `/` (a `?` does not stop the scan). */
function parseUserInfo(uri: string, start: number, params: Map<string, string>): number {
  const at = indexOfAny(uri, start, '@/');
  if (uri[at] !== '@') return start;
  const userEnd = indexOfAny(uri, start, ':@');
  storeDecoded(params, 'user', uri.slice(start, userEnd));
  if (uri[userEnd] === ':') storePassword(params, uri.slice(userEnd + 1, at));
  return at + 1;
}

interface NetlocResult {
  readonly end: number;
  /** The character that ended the host list: `/`, `?` or `` at end of string. */
  readonly terminator: string;
}

function parseBracketedHost(uri: string, pos: number): { host: string; end: number } {
  const close = uri.indexOf(']', pos + 1);
  if (close < 0) {
    throw new ConnInfoError(`end of string reached when looking for matching "]" in IPv6 host address in URI: "${uri}"`);
  }
  if (close === pos + 1) throw new ConnInfoError(`IPv6 host address may not be empty in URI: "${uri}"`);
  const next = uri[close + 1];
  if (next !== undefined && !':/?,'.includes(next)) {
    const position = Buffer.byteLength(uri.slice(0, close + 1)) + 1;
    throw new ConnInfoError(`unexpected character "${next}" at position ${position} in URI (expected ":" or "/"): "${uri}"`);
  }
  return { host: uri.slice(pos + 1, close), end: close + 1 };
}

/** The comma-separated `host[:port]` list; host and port lists are stored whole, then decoded. */
function parseNetlocs(uri: string, start: number, params: Map<string, string>): NetlocResult {
  let hosts = '';
  let ports = '';
  let pos = start;
  for (;;) {
    let host: string;
    if (uri[pos] === '[') {
      ({ host, end: pos } = parseBracketedHost(uri, pos));
    } else {
      const end = indexOfAny(uri, pos, ':/?,');
      host = uri.slice(pos, end);
      pos = end;
    }
    hosts += host;
    if (uri[pos] === ':') {
      const end = indexOfAny(uri, pos + 1, '/?,');
      ports += uri.slice(pos + 1, end);
      pos = end;
    }
    if (uri[pos] !== ',') break;
    pos++;
    hosts += ',';
    ports += ',';
  }
  storeDecoded(params, 'host', hosts);
  storeDecoded(params, 'port', ports);
  return { end: pos, terminator: uri[pos] ?? '' };
}

/** `?a=b&c=d`: each parameter needs exactly one `=`; keyword and value are decoded; they override the netloc. */
function parseQuery(query: string, params: Map<string, string>): void {
  let pos = 0;
  while (pos < query.length) {
    const amp = query.indexOf('&', pos);
    const end = amp < 0 ? query.length : amp;
    const segment = query.slice(pos, end);
    const eq = segment.indexOf('=');
    if (eq < 0) throw new ConnInfoError(`missing key/value separator "=" in URI query parameter: "${segment}"`);
    const rawKey = segment.slice(0, eq);
    if (segment.includes('=', eq + 1)) {
      throw new ConnInfoError(`extra key/value separator "=" in URI query parameter: "${rawKey}"`);
    }
    const keyword = uriDecode(rawKey);
    const rawValue = segment.slice(eq + 1);
    storeQueryParam(params, keyword, isSecretKeyword(keyword) ? decodeSecret(rawValue) : uriDecode(rawValue));
    pos = amp < 0 ? query.length : amp + 1;
  }
}

function storeQueryParam(params: Map<string, string>, keyword: string, value: string): void {
  const isSslTrue = keyword === 'ssl' && value === 'true';
  const stored = isSslTrue ? storeParam(params, 'sslmode', 'require') : storeParam(params, keyword, value, true);
  if (!stored) throw new ConnInfoError(`invalid URI query parameter: "${keyword}"`);
}

/**
 * Parses a `postgresql://` or `postgres://` URI as libpq's
 * `conninfo_uri_parse_options` does, quirks included (see docs/connection-strings.md).
 */
export function parseUri(uri: string): Map<string, string> {
  try {
    return parseUriUnredacted(uri);
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    const redacted = redactPassword(uri);
    throw redacted === uri ? err : new ConnInfoError(err.message.replaceAll(`"${uri}"`, `"${redacted}"`));
  }
}

function parseUriUnredacted(uri: string): Map<string, string> {
  const params = new Map<string, string>();
  const afterUser = parseUserInfo(uri, uriPrefixLength(uri), params);
  const { end, terminator } = parseNetlocs(uri, afterUser, params);
  let pos = end;
  if (terminator === '/') {
    const queryStart = indexOfAny(uri, pos + 1, '?');
    storeDecoded(params, 'dbname', uri.slice(pos + 1, queryStart));
    pos = queryStart;
  }
  if (pos < uri.length) parseQuery(uri.slice(pos + 1), params);
  return params;
}
