/**
 * Which pooled connections to cut when the watch's decision changes, pure
 * (connect-split.ts carries it out on the registry). A stale primary: every
 * connection, so nothing more is acknowledged there. A primary whose
 * Patroni went silent: every connection, except on the silent leader itself
 * (silentLeader), where only the connections the application holds
 * (transactions) are cut and the others carry `query()`'s single
 * statements, acknowledged once witnessed (WriteWitness). A primary Patroni
 * is demoting (a switchover, its Patroni answering) only stops getting new
 * writes: nothing is cut, statements in flight finish.
 */
import { silentLeader } from '../patroni/write-witness.js';
import type { ChangeEvent } from '../watch/watch-events.js';

export interface FencePlan {
  /** Nodes whose every pooled connection is cut. */
  readonly fence: readonly number[];
  /** Nodes whose connections held by the application are cut (the silent leader). */
  readonly fenceCheckedOut: readonly number[];
  /** The silent leader single statements may still go to, witnessed; null when there is none. */
  readonly silent: number | null;
}

/** What to cut on `change`; `isSilent`: whether a node's Patroni went silent (null without a second authority). */
export function fencePlan(change: ChangeEvent, isSilent: ((hostIndex: number) => boolean) | null): FencePlan {
  const { previous, current } = change;
  const silent = isSilent === null ? null : silentLeader(current, isSilent);
  const newlySilent = isSilent === null ? [] : current.unconfirmed.filter((i) => !previous.unconfirmed.includes(i) && isSilent(i));
  return {
    fence: [...current.stalePrimaries, ...newlySilent.filter((i) => i !== silent)],
    fenceCheckedOut: newlySilent.filter((i) => i === silent),
    silent,
  };
}

/**
 * Once a witness episode ended (WriteWitness.follow: the silent leader it
 * was about, or null), that leader's connections are cut unless it is the
 * writer again (Patroni confirmed it): the node whose pooled connections
 * to cut, or null.
 */
export function fenceAfterEpisode(endedLeader: number | null, writer: number | null): number | null {
  return endedLeader !== null && endedLeader !== writer ? endedLeader : null;
}
