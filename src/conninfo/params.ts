import { ConnInfoError } from '../errors.js';
import { KEYWORDS, findKeyword } from './keywords.js';

/** The keywords a connection string sets, with libpq's values (what `PQconninfoParse` returns). */
export type ConnParams = ReadonlyMap<string, string>;

/**
 * Stores one keyword as libpq's `conninfo_storeval` does: `requiressl` becomes
 * `sslmode`, an unknown keyword is an error unless `ignoreUnknown` (then the
 * caller reports it), a repeated keyword replaces the earlier value.
 * Returns false for an ignored unknown keyword.
 */
export function storeParam(params: Map<string, string>, keyword: string, value: string, ignoreUnknown = false): boolean {
  let name = keyword;
  let val = value;
  if (name === 'requiressl') {
    name = 'sslmode';
    val = val.startsWith('1') ? 'require' : 'prefer';
  }
  if (findKeyword(name) === undefined) {
    if (ignoreUnknown) return false;
    throw new ConnInfoError(`invalid connection option "${name}"`);
  }
  params.set(name, val);
  return true;
}

/** The params in the order of libpq's option table, as `PQconninfoParse` lists them. */
export function orderedParams(params: ConnParams): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const { keyword } of KEYWORDS) {
    const value = params.get(keyword);
    if (value !== undefined) out.push([keyword, value]);
  }
  return out;
}
