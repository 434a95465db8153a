/**
 * The Patroni harness's reading of Patroni's view (`GET /cluster`), pure:
 * whether a cluster is settled by Patroni's word, and which members a heal
 * rebuilds. What the servers themselves say is in server-state.ts.
 */
import type { PatroniClusterView, PatroniMemberView } from './rest.js';

const isRunning = (v: PatroniMemberView): boolean => v.state === 'running' || v.state === 'streaming';

/** Patroni's view in one line, for an error. */
export function describeView(view: PatroniClusterView): string {
  return view.members.map((m) => `${m.name} ${m.role} ${m.state} timeline ${m.timeline ?? '?'}`).join('; ');
}

/** The members Patroni calls running (or streaming). */
export function runningNames(view: PatroniClusterView): Set<string> {
  return new Set(view.members.filter(isRunning).map((m) => m.name));
}

/**
 * The leader of a cluster settled by Patroni's word, or null: a running
 * leader (not `not`), each of `others` (the running, unfrozen members but the
 * leader) a running replica on the leader's timeline, and in
 * synchronous_mode a synchronous standby chosen (a switchover needs one).
 */
export function settledLeader(
  view: PatroniClusterView,
  others: (leader: string) => readonly string[],
  synchronousMode: boolean,
  not?: string,
): PatroniMemberView | null {
  const leader = view.members.find((m) => m.role === 'leader' && m.state === 'running');
  if (leader === undefined || leader.name === not) return null;
  const rest = others(leader.name);
  const replicasOk = rest.every((name) => view.members.some((v) => v.name === name && isRunning(v) && v.timeline === leader.timeline));
  const syncOk = !synchronousMode || rest.length === 0 || view.members.some((v) => v.role === 'sync_standby');
  return replicasOk && syncOk ? leader : null;
}

/**
 * The members a heal rebuilds from the leader: failed to start (a pg_rewind
 * that could not run), still on another timeline than the leader's after a
 * whole wait (Patroni 3.0.2 does not always rewind one that is ahead of the
 * leader), or `unfit` by their servers' word (read-write while another
 * leads, or a standby that does not stream).
 */
export function membersToRebuild(view: PatroniClusterView, unfit: readonly string[]): PatroniMemberView[] {
  const leader = view.members.find((m) => m.role === 'leader' && m.state === 'running');
  return view.members.filter(
    (m) =>
      m.role !== 'leader' &&
      (/failed|crashed|stopped/.test(m.state) ||
        unfit.includes(m.name) ||
        (leader !== undefined && m.timeline !== undefined && m.timeline !== leader.timeline)),
  );
}
