/**
 * A write that committed on a leader whose Patroni went silent: whether it
 * must be witnessed before it is acknowledged, and the step that asks the
 * leader for its WAL insert position, releases the client and waits until
 * every other member has received that far (split/patroni/write-witness.ts).
 */
import { PgSplitError } from '../../errors.js';
import { untraced } from '../../otel/otel-api.js';
import type { PooledNodeClient } from './checkouts.js';
import type { NodeChoice, NodeReports, WitnessPort } from './router.js';

/** What a witnessed write uses of the router: whether the node is the writer, the witness, and the release. */
type WitnessRouter = WitnessPort & Pick<NodeChoice, 'isWriter'> & Pick<NodeReports, 'release'>;

/** A position at or past the end of every commit made so far on the session's node (what a witnessed write waits for). */
const INSERT_POSITION_QUERY = 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn';

/**
 * Whether a write that committed on `host` is acknowledged only once
 * witnessed: sent to a silent leader, while Patroni has not confirmed it
 * again; sent to the writer, when the node went silent meanwhile
 * (Router.mustWitness).
 */
export function witnessNeeded(router: WitnessRouter, host: number, sentToSilentLeader: boolean): boolean {
  return sentToSilentLeader ? !router.isWriter(host) : router.mustWitness(host);
}

/** Releases a client whose write committed on a silent leader, once every other member has received the write. */
export async function acknowledgeWitnessed(router: WitnessRouter, client: PooledNodeClient): Promise<void> {
  let lsn: string | undefined;
  try {
    lsn = (await untraced(() => client.query<{ lsn: string }>(INSERT_POSITION_QUERY))).rows[0]?.lsn;
    router.release(client);
  } catch (err) {
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  if (lsn === undefined)
    throw new PgSplitError('PGSPLIT_WRITE_UNCONFIRMED', 'pg-split: the silent leader returned no WAL position for a write');
  await router.confirmWitnessed(client.pgSplitHost, lsn);
}
