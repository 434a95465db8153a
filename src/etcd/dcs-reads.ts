/** The two reads of Patroni's keys in etcd besides the watch: all of them at a revision, and the leader's lease. */
import { PgSplitError } from '../errors.js';
import { b64, fromB64, prefixEnd, type EtcdClient } from './etcd-client.js';
import { stateOf, type DcsState, type GatewayKv } from './patroni-keys.js';

/** A range answer of etcd's JSON gateway. */
interface RangeAnswer {
  readonly header?: { readonly revision?: string };
  readonly kvs?: readonly GatewayKv[];
}

/** The leader key as etcd has it now: other than the watch knows it (the watch fell behind), or its holder and its lease's seconds left (-1: none). */
export type LeaseReading =
  { readonly behind: true } | { readonly behind: false; readonly holder: string | null; readonly leftSeconds: number };

/**
 * Reads the leader key under `prefix` and, when it is the one the watch
 * knows (same mod revision, or absent both times), its lease's time left.
 * Lease keep-alives are not watch events: this is how a lease is followed.
 */
export async function readLeaderLease(client: EtcdClient, prefix: string, knownModRevision: string | null): Promise<LeaseReading> {
  const answer = await client.call<RangeAnswer>('/v3/kv/range', { key: b64(`${prefix}leader`) });
  const kv = answer.kvs?.[0];
  if ((kv?.mod_revision ?? null) !== knownModRevision) return { behind: true };
  const leftSeconds =
    kv?.lease === undefined ? -1 : Number((await client.call<{ TTL?: string }>('/v3/lease/timetolive', { ID: kv.lease })).TTL ?? -1);
  return { behind: false, holder: kv?.value === undefined ? null : fromB64(kv.value), leftSeconds };
}

/** One range over the whole prefix: Patroni's state at a revision, from which a watch goes on; a coded error when no cluster is there. */
export async function readScope(client: EtcdClient, prefix: string): Promise<{ state: DcsState; revision: number }> {
  const answer = await client.call<RangeAnswer>('/v3/kv/range', { key: b64(prefix), range_end: b64(prefixEnd(prefix)) });
  const state = stateOf(prefix, answer.kvs ?? []);
  if (!state.found)
    throw new PgSplitError(
      'PGSPLIT_PATRONI_SCOPE',
      `pg-split: no Patroni cluster under ${prefix} in etcd at ${client.endpoint}: check patroni.etcd.scope (Patroni's \`scope\`) and namespace. Patroni on etcd's v2 API (\`etcd:\` in its configuration rather than \`etcd3:\`) keeps its keys where the v3 API does not see them.`,
    );
  return { state, revision: Number(answer.header?.revision ?? 0) };
}
