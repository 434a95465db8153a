/** What each member's PostgreSQL says it is, against what Patroni says: part of what "settled" means in the Patroni harness. */
import type { PatroniMember } from './member.js';

/** A member's PostgreSQL as the server says: in recovery or not, and whether its WAL receiver streams; null when it does not answer. */
async function serverState(member: PatroniMember): Promise<{ standby: boolean; streaming: boolean } | null> {
  const rows = await member
    .query<{ standby: boolean; receiver: string | null }>(
      'SELECT pg_catalog.pg_is_in_recovery() AS standby, (SELECT status FROM pg_catalog.pg_stat_wal_receiver) AS receiver',
    )
    .catch(() => null);
  const row = rows?.[0];
  return row === undefined ? null : { standby: row.standby, streaming: row.receiver === 'streaming' };
}

/**
 * What the servers say against a settled cluster: '' when the leader's
 * PostgreSQL is read-write and every other running member's is in recovery
 * and streaming (a replica Patroni calls running may not stream yet: a
 * switchover could then promote it without the leader's latest commits),
 * else each member's state as its server reports it.
 */
export async function serversDisagree(leader: PatroniMember, others: readonly PatroniMember[]): Promise<string> {
  const members = [leader, ...others];
  const states = await Promise.all(members.map(serverState));
  const [leaderState, ...othersState] = states;
  if (leaderState?.standby === false && othersState.every((s) => s?.standby === true && s.streaming)) return '';
  const said = (s: Awaited<ReturnType<typeof serverState>>): string =>
    s === null ? 'no answer' : s.standby ? `standby, ${s.streaming ? 'streaming' : 'not streaming'}` : 'read-write';
  return members.map((m, i) => `${m.name} ${said(states[i] ?? null)}`).join('; ');
}

/** Of `members`, those whose server is read-write or a standby that does not stream (a heal rebuilds them when another leads). */
export async function unfitMembers(members: readonly PatroniMember[]): Promise<string[]> {
  const states = await Promise.all(members.map(serverState));
  return members
    .filter((_, i) => {
      const state = states[i] ?? null;
      return state !== null && (!state.standby || !state.streaming);
    })
    .map((m) => m.name);
}
