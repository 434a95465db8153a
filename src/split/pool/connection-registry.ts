/** A pooled connection the registry can cut. */
export interface Fenceable {
  fence(): void;
  /** Checked out by the application (`connect()`), not running one of `query()`'s statements or idle. */
  readonly pgSplitCheckedOut: boolean;
  /** When the statement of `query()` running on it was sent, 0 while none runs (pooled clients only). */
  readonly pgSplitSentAt?: number;
  /** A pooled connection a status check may run on now (NodeClient), else absent. */
  readonly pgSplitIdle?: boolean;
}

/**
 * Every pooled connection pg-split holds, by node: counts them (for
 * least-busy and `topology()`), and fences a node: cuts each of its
 * connections, so a statement in flight there fails now (it is never
 * acknowledged) instead of hanging, or committing later on a thawed old
 * primary, and tells the pools to drop their pool for it.
 */
export class ConnectionRegistry {
  readonly #clients = new Map<number, Set<Fenceable>>();
  readonly #dropListeners: Array<(hostIndex: number) => void> = [];
  readonly #allClosedListeners: Array<() => void> = [];

  opened(hostIndex: number, client: Fenceable): void {
    let set = this.#clients.get(hostIndex);
    if (set === undefined) {
      set = new Set();
      this.#clients.set(hostIndex, set);
    }
    set.add(client);
  }

  closed(hostIndex: number, client: Fenceable): void {
    const set = this.#clients.get(hostIndex);
    if (set === undefined || !set.delete(client)) return;
    if (set.size === 0) this.#clients.delete(hostIndex);
    if (this.#clients.size === 0) for (const listener of this.#allClosedListeners) listener();
  }

  /** Calls `listener` each time the last open connection closes (pooled or a pg-split/pg Client's). */
  onAllClosed(listener: () => void): void {
    this.#allClosedListeners.push(listener);
  }

  /** Whether any connection is open, on any node. */
  get anyOpen(): boolean {
    return this.#clients.size > 0;
  }

  /** Whether the application holds an open connection (checked out and not released, or a pg-split/pg Client): the cluster is in use. */
  anyCheckedOut(): boolean {
    for (const set of this.#clients.values()) for (const client of set) if (client.pgSplitCheckedOut) return true;
    return false;
  }

  /** Open pooled connections on a node. */
  /** When the oldest statement of `query()` still running on the node was sent, or null when none runs. */
  oldestSentAt(hostIndex: number): number | null {
    let oldest: number | null = null;
    for (const client of this.#clients.get(hostIndex) ?? []) {
      const sent = client.pgSplitSentAt ?? 0;
      if (sent > 0 && (oldest === null || sent < oldest)) oldest = sent;
    }
    return oldest;
  }

  /** An idle pooled connection to the node (NodeClient.pgSplitIdle), for its monitor's checks; null when it has none. */
  idleClient(hostIndex: number): Fenceable | null {
    for (const client of this.#clients.get(hostIndex) ?? []) if (client.pgSplitIdle === true) return client;
    return null;
  }

  openConnections(hostIndex: number): number {
    return this.#clients.get(hostIndex)?.size ?? 0;
  }

  /**
   * Cuts the node's connections the application has checked out (a
   * transaction there could commit unseen); its pools and their other
   * connections stay, to carry witnessed writes to a silent leader whose
   * frozen postmaster would accept no new connection.
   */
  fenceCheckedOut(hostIndex: number): void {
    for (const client of [...(this.#clients.get(hostIndex) ?? [])]) if (client.pgSplitCheckedOut) client.fence();
  }

  fence(hostIndex: number): void {
    for (const client of [...(this.#clients.get(hostIndex) ?? [])]) client.fence();
    for (const listener of this.#dropListeners) listener(hostIndex);
  }

  /**
   * A member left (discovery): the pools drop their pool for it, whose
   * connections close as their statements finish. Nothing is cut.
   */
  drain(hostIndex: number): void {
    for (const listener of this.#dropListeners) listener(hostIndex);
  }

  /** Called with every node fenced or drained: its pools are dropped. */
  onDrop(listener: (hostIndex: number) => void): void {
    this.#dropListeners.push(listener);
  }
}
