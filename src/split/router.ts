import { randomInt } from 'node:crypto';
import type { ClientConfig } from 'pg';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { clientConfigFor } from '../connect/client-config.js';
import type { ClusterWatch } from './cluster-watch.js';
import type { FailoverSignal } from './sqlstate.js';
import type { RoleDecision } from './topology.js';

export type PoolRole = 'writer' | 'reader';
export type Balance = 'round-robin' | 'random' | 'least-busy';

/** Picks the node for each new pooled connection from the watch's current decision. */
export class Router {
  readonly #target: ConnectionTarget;
  readonly #watch: ClusterWatch;
  readonly #balance: Balance;
  readonly #open = new Map<number, number>();
  readonly #clients = new Map<number, Set<{ fence(): void }>>();
  readonly #fenceListeners: Array<(hostIndex: number) => void> = [];
  #turn = 0;

  constructor(target: ConnectionTarget, watch: ClusterWatch, balance: Balance) {
    this.#target = target;
    this.#watch = watch;
    this.#balance = balance;
  }

  get decision(): RoleDecision {
    return this.#watch.decision;
  }

  candidates(role: PoolRole): readonly number[] {
    const d = this.#watch.decision;
    return role === 'writer' ? (d.writer === null ? [] : [d.writer]) : d.readers;
  }

  eligible(role: PoolRole, hostIndex: number | null): boolean {
    if (hostIndex === null || !this.#reachable(hostIndex)) return false;
    const d = this.#watch.decision;
    return role === 'writer' ? d.writer === hostIndex : d.readers.includes(hostIndex);
  }

  /** Whether the host's monitor holds a live session (so a known way in). */
  #reachable(hostIndex: number): boolean {
    return this.#watch.monitors[hostIndex]?.session != null;
  }

  /** The eligible nodes for a role that have a live monitoring session (so a known way in). */
  #usable(role: PoolRole): number[] {
    return this.candidates(role).filter((i) => this.#reachable(i));
  }

  /** The node for the next checkout, or null when the role has none; `avoid` is skipped when another node is eligible. */
  pick(role: PoolRole, avoid: number | null = null): number | null {
    if (role === 'writer') {
      // The hot path of every write: no array built.
      const writer = this.#watch.decision.writer;
      return writer !== null && this.#reachable(writer) ? writer : null;
    }
    const usable = this.#usable(role);
    const nodes = usable.length > 1 ? usable.filter((i) => i !== avoid) : usable;
    if (nodes.length <= 1) return nodes[0] ?? null;
    if (this.#balance === 'random') return nodes[randomInt(nodes.length)] ?? null;
    if (this.#balance === 'least-busy') {
      return nodes.reduce((best, i) => ((this.#open.get(i) ?? 0) < (this.#open.get(best) ?? 0) ? i : best));
    }
    return nodes[this.#turn++ % nodes.length] ?? null;
  }

  /** The eligible nodes for a role, starting with the one whose turn it is (advances the turn). */
  inTurn(role: PoolRole): number[] {
    const nodes = this.#usable(role);
    if (nodes.length <= 1) return nodes;
    const start = this.#turn++ % nodes.length;
    return [...nodes.slice(start), ...nodes.slice(0, start)];
  }

  isWriter(hostIndex: number): boolean {
    return this.#watch.decision.writer === hostIndex;
  }

  /** A standby's replay position at its last check (null for a primary or an unknown node). */
  knownReplay(hostIndex: number): string | null {
    const status = this.#watch.monitors[hostIndex]?.status;
    return status?.role === 'standby' ? status.lsn : null;
  }

  /** Connection settings for a node: the way its monitor reached it (address, TLS or not). */
  configFor(hostIndex: number): ClientConfig | null {
    const session = this.#watch.monitors[hostIndex]?.session;
    return session ? clientConfigFor(this.#target, hostIndex, session.endpoint, session.useTls) : null;
  }

  /** A pooled client opened on a node; `fence()` must cut its connection. */
  opened(hostIndex: number, client: { fence(): void }): void {
    this.#open.set(hostIndex, (this.#open.get(hostIndex) ?? 0) + 1);
    const set = this.#clients.get(hostIndex) ?? new Set();
    set.add(client);
    this.#clients.set(hostIndex, set);
  }

  closed(hostIndex: number, client: { fence(): void }): void {
    this.#open.set(hostIndex, Math.max(0, (this.#open.get(hostIndex) ?? 0) - 1));
    this.#clients.get(hostIndex)?.delete(client);
  }

  /**
   * Cuts every pooled connection to a node found down or stale: a statement in
   * flight there fails now (it is never acknowledged) instead of hanging, or
   * committing later on a thawed old primary; idle ones leave the pools.
   */
  fence(hostIndex: number): void {
    for (const client of [...(this.#clients.get(hostIndex) ?? [])]) client.fence();
    for (const listener of this.#fenceListeners) listener(hostIndex);
  }

  /** Called with every fenced node (the pools drop their pool for it). */
  onFence(listener: (hostIndex: number) => void): void {
    this.#fenceListeners.push(listener);
  }

  /** Open pooled connections per node (what least-busy balances). */
  openConnections(hostIndex: number): number {
    return this.#open.get(hostIndex) ?? 0;
  }

  /** A pooled connection saw an error that may mean the cluster changed. */
  report(hostIndex: number, signal: FailoverSignal): void {
    if (signal !== null) this.#watch.suspect(hostIndex);
  }

  /** The server reported a role change on a pooled connection. */
  roleReported(): void {
    void this.#watch.checkAll();
  }

  waitFor(role: PoolRole, deadline: number, onTimeout: () => Error): Promise<void> {
    return this.#watch.waitFor(() => this.#usable(role).length > 0, deadline, onTimeout);
  }
}
