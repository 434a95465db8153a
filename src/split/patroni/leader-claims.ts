/**
 * What Patroni's answers mean for the writer, pure: whether a member's
 * Patroni confirms it as the one leader now, and how long a silent leader
 * may keep getting writes (from Patroni's `ttl` and `loop_wait`). The REST
 * API authority (patroni-authority.ts) and the etcd one (dcs-authority.ts)
 * both decide by these.
 */
import type { PatroniReport } from '../watch/leader-authority.js';

/** The staleness used before Patroni's configuration is known, and the least ever used. */
export const MIN_STALE_MILLIS = 2500;

/** Room left between pg-split's last write to a silent leader and the earliest promotion (Patroni's loop runs a little longer than `loop_wait`). */
const STALE_MARGIN_MILLIS = 1000;

/**
 * Pure: how long after the request of its last answer a silent leader may
 * keep getting writes. Patroni renews its leader key every `loop_wait`
 * seconds and the key lives `ttl` seconds, so when a leader's Patroni answered
 * a request sent at T, its key was renewed after T - loop_wait and no other
 * member can be promoted before T + ttl - loop_wait. pg-split stops writing
 * to it as usual a second before then, on a timer of its own (not at the next
 * round of requests), and only witnessed writes go on (WriteWitness). Writes
 * a frozen leader acknowledged before that are streamed to the member that
 * will be promoted, so none is lost.
 */
export function staleAfter(config: { ttl: number; loopWait: number }): number {
  return Math.max(MIN_STALE_MILLIS, (config.ttl - config.loopWait) * 1000 - STALE_MARGIN_MILLIS);
}

/** The roles Patroni's REST API gives its leader, by version. */
const LEADER_ROLES = new Set(['master', 'primary', 'leader']);

/**
 * Pure: whether a member's Patroni confirms it as the leader at `now`: its
 * last answer said leader and running, to a request sent within
 * `staleMillis`. A member whose REST API stopped answering (a frozen or
 * killed Patroni) stops being confirmed once its last answer is stale, as
 * HAProxy's `/primary` check marks it down, but before any other member can
 * have been promoted.
 */
export function confirmsLeader(report: PatroniReport | undefined, now: number, staleMillis: number): boolean {
  return report !== undefined && isFresh(report, now, staleMillis) && saysLeader(report);
}

/** Pure: whether a member's last answer was to a request sent within `staleMillis`. */
export function isFresh(report: PatroniReport | undefined, now: number, staleMillis: number): boolean {
  return report !== undefined && report.askedAt !== null && now - report.askedAt <= staleMillis;
}

/**
 * Pure: whether Patroni confirms the host as its one leader at `now`: its
 * own answer does (`confirmsLeader`) and no other member's fresh answer
 * claims the lead too. Two claimants are Patroni's own split brain (a thawed
 * old leader whose etcd3 client took the lock back while the member promoted
 * meanwhile has not yet noticed): writes to the one that loses are lost with
 * its timeline, so neither gets writes until one steps down.
 *
 * A claim does not compete when its member's Patroni now refuses connections
 * (`refused`: stopped or killed, so it can no longer renew the leader lock)
 * and the host leads on a newer timeline: Patroni has promoted the host since
 * (a maintenance stop of the leader's Patroni). A frozen Patroni does not
 * refuse, it times out: its claim competes until it is stale, as before.
 */
export function confirmsSoleLeader(
  answers: ReadonlyMap<number, PatroniReport>,
  hostIndex: number,
  now: number,
  staleMillis: number,
  refused: ReadonlySet<number> = new Set(),
): boolean {
  const own = answers.get(hostIndex);
  if (own === undefined || !confirmsLeader(own, now, staleMillis)) return false;
  for (const [other, answer] of answers) {
    if (other === hostIndex || !confirmsLeader(answer, now, staleMillis)) continue;
    if (!(refused.has(other) && isNewerTimeline(own, answer))) return false;
  }
  return true;
}

/** Pure: whether `own` claims a newer timeline than `other` (both known). */
function isNewerTimeline(own: PatroniReport, other: PatroniReport): boolean {
  return own.timeline !== null && other.timeline !== null && own.timeline > other.timeline;
}

/** Whether an answer says "the leader, running". */
export function saysLeader(report: PatroniReport): boolean {
  return report.role !== null && LEADER_ROLES.has(report.role) && report.state === 'running';
}
