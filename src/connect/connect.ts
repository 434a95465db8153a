import type pg from 'pg';
import { invalidIntegerMessage, parseIntParam } from '../conninfo/int-param.js';
import { resolveContextKeys, targetOf, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import { functionOption, optionsObject } from '../input.js';
import { systemLookup, type Lookup } from './endpoints.js';
import { cryptoRandomInt, type RandomInt } from './shuffle.js';
import { loadOtel } from '../otel/otel-api.js';
import { walkHosts, type Connected } from './walk.js';

export interface ConnectOptions extends ResolveContext {
  /** Host-name resolution (default: the system resolver, every address in getaddrinfo order). */
  readonly lookup?: Lookup;
  /** Random source for load_balance_hosts=random (default: crypto). */
  readonly random?: RandomInt;
}

/** connect_timeout in milliseconds as libpq 17+ reads it: whole seconds, 0 or less waits forever. */
export function connectTimeoutMillis(target: ConnectionTarget): number {
  const text = target.option('connect_timeout');
  if (text === undefined || text === '') return 0;
  const seconds = parseIntParam(text);
  if (seconds === null) throw new ConnInfoError(invalidIntegerMessage(text, 'connect_timeout'));
  return seconds > 0 ? seconds * 1000 : 0;
}

/** Like `connect`, but also says which host answered and what it reported. */
export async function connectDetailed(conninfo: string | ConnectionTarget, options: ConnectOptions = {}): Promise<Connected> {
  const checked = optionsObject('options', options, [...resolveContextKeys, 'lookup', 'random']);
  const target = targetOf(conninfo, checked);
  const settings = {
    target,
    timeoutMillis: connectTimeoutMillis(target),
    lookup: functionOption<Lookup>('lookup', checked['lookup']) ?? systemLookup,
    random: functionOption<RandomInt>('random', checked['random']) ?? cryptoRandomInt,
  };
  await loadOtel();
  return walkHosts(settings);
}

/**
 * Opens one `pg.Client` on the server libpq would choose for this connection
 * string: same host order, same target_session_attrs check, same
 * load_balance_hosts shuffle, same connect_timeout per address, same rules
 * for which failures move on to the next host. Rejects with `ConnectError`
 * (libpq's accumulated message) or `ConnInfoError` (a string libpq rejects).
 */
export async function connect(conninfo: string | ConnectionTarget, options: ConnectOptions = {}): Promise<pg.Client> {
  return (await connectDetailed(conninfo, options)).client;
}
