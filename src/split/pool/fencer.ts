/**
 * Cutting connections when the cluster changes under them: one fencer per
 * cluster runtime, subscribed to the watch. The decision of what to cut is
 * pure (`fencePlan`, `fenceAfterEpisode`); the Fencer carries it out on the
 * registry's pooled connections and on pg-split/pg's Clients.
 *
 * A stale primary: every connection, so nothing more is acknowledged there.
 * A primary whose Patroni went silent: every connection, except on the
 * silent leader itself (silentLeader), where only the connections the
 * application holds (transactions) are cut and the others carry `query()`'s
 * single statements, acknowledged once witnessed (WriteWitness); when that
 * episode ends, the leader's connections are cut unless it is the writer
 * again. A primary Patroni is demoting (a switchover, its Patroni answering)
 * only stops getting new writes: nothing is cut, statements in flight
 * finish. A host that stopped answering (frozen, cut off): every pooled
 * connection, so statements there fail now instead of hanging, or
 * committing later on a thawed old primary. A Client on a node that no
 * longer serves its role (demoted, stale, lagging, gone): cut, as a server
 * ending it would.
 */
import type { EventEmitter } from 'node:events';
import type { PoolRole, RoleDecision } from '../../roles/role-decision.js';
import { silentLeader, type WriteWitness } from '../patroni/write-witness.js';
import type { ChangeEvent } from '../watch/watch-events.js';
import type { ConnectionRegistry, Fenceable } from './connection-registry.js';

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

/** Whether the decision still sends `role`'s new connections to the node. */
function servesRole(decision: RoleDecision, role: PoolRole, hostIndex: number): boolean {
  return role === 'writer' ? decision.writer === hostIndex : decision.readers.includes(hostIndex);
}

/** What the fencer hears of the watch: its decision, `change` and `unresponsive`. */
export interface FencedWatch extends EventEmitter {
  readonly decision: RoleDecision;
}

/** Carries out the fence plan of every change of the watch's decision, and cuts the connections of a host that stopped answering. */
export class Fencer {
  readonly #watch: FencedWatch;
  /** pg-split/pg Clients connected on a node, each cut once its node no longer serves its role. */
  readonly #clients = new Map<Fenceable, { readonly role: PoolRole; readonly hostIndex: number }>();

  /** `isSilent`: whether a node's Patroni went silent (null without a second authority). */
  constructor(watch: FencedWatch, registry: ConnectionRegistry, witness: WriteWitness, isSilent: ((hostIndex: number) => boolean) | null) {
    this.#watch = watch;
    // A host that closed its sessions itself (a shutdown, a crash) needs no cut: its server answers or ends every statement in flight.
    watch.on('unresponsive', (hostIndex: number) => registry.fence(hostIndex));
    watch.on('change', (change: ChangeEvent) => {
      const plan = fencePlan(change, isSilent);
      plan.fence.forEach((i) => registry.fence(i));
      plan.fenceCheckedOut.forEach((i) => registry.fenceCheckedOut(i));
      const cut = fenceAfterEpisode(witness.follow(plan.silent, change.current.writer), change.current.writer);
      if (cut !== null) registry.fence(cut);
      for (const [client, { role, hostIndex }] of this.#clients) if (!servesRole(change.current, role, hostIndex)) client.fence();
    });
  }

  /** A Client connected on `hostIndex` for `role`: cut when the node no longer serves it (at once if it already does not). */
  follow(client: Fenceable, role: PoolRole, hostIndex: number): void {
    this.#clients.set(client, { role, hostIndex });
    if (!servesRole(this.#watch.decision, role, hostIndex)) client.fence();
  }

  /** The Client ended: forgotten. */
  unfollow(client: Fenceable): void {
    this.#clients.delete(client);
  }
}
