import type pg from 'pg';
import type { TargetSessionAttrs } from '../conninfo/resolve.js';
import type { StartupParams } from './attempt.js';
import { untraced } from '../otel/otel-api.js';
import { needsHotStandby, needsReadOnly, type ServerState, type WalkPass } from './server-state.js';

/** The check query failed; libpq then moves to the next host with this text. */
export class CheckQueryFailed extends Error {
  constructor(query: string, options?: { cause?: unknown }) {
    super(`"${query}" failed`, options);
    this.name = 'CheckQueryFailed';
  }
}

/** `server_version_num` from the startup `server_version` ("15.18 (Debian ...)" → 150018). */
function serverVersionNumber(params: StartupParams): number {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(params.get('server_version') ?? '');
  if (match === null) return 0;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? 0);
  return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + Number(match[3] ?? 0);
}

async function firstValue(client: pg.Client, query: string): Promise<string> {
  try {
    const result = await untraced(() => client.query({ text: query, rowMode: 'array' }));
    const value: unknown = result.rows.length === 1 ? (result.rows[0] as unknown[])[0] : undefined;
    if (value === undefined) throw new Error('not exactly one row');
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch (err) {
    throw new CheckQueryFailed(query === 'SELECT pg_catalog.pg_is_in_recovery()' ? 'SELECT pg_is_in_recovery()' : query, { cause: err });
  }
}

/**
 * The server's state as libpq's check finds it: from the `in_hot_standby` and
 * `default_transaction_read_only` values a PG14+ server reports at startup (no
 * round trip); for older servers, only the query the attrs need.
 */
export async function readServerState(
  client: pg.Client,
  params: StartupParams,
  attrs: TargetSessionAttrs,
  pass: WalkPass,
): Promise<ServerState> {
  const standbyText = params.get('in_hot_standby');
  const readOnlyText = params.get('default_transaction_read_only');
  let inHotStandby = standbyText === 'on';
  let readOnly = readOnlyText === 'on';
  if (needsReadOnly(attrs) && (standbyText === undefined || readOnlyText === undefined)) {
    const on = (await firstValue(client, 'SHOW transaction_read_only')).startsWith('on');
    inHotStandby = on;
    readOnly = on;
  } else if (needsHotStandby(attrs, pass) && standbyText === undefined) {
    inHotStandby =
      serverVersionNumber(params) >= 90000 && (await firstValue(client, 'SELECT pg_catalog.pg_is_in_recovery()')).startsWith('t');
  }
  return { inHotStandby, readOnly };
}
