/** A pooled connection the registry can cut. */
export interface Fenceable {
  fence(): void;
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
  readonly #fenceListeners: Array<(hostIndex: number) => void> = [];

  opened(hostIndex: number, client: Fenceable): void {
    let set = this.#clients.get(hostIndex);
    if (set === undefined) {
      set = new Set();
      this.#clients.set(hostIndex, set);
    }
    set.add(client);
  }

  closed(hostIndex: number, client: Fenceable): void {
    this.#clients.get(hostIndex)?.delete(client);
  }

  /** Open pooled connections on a node. */
  openConnections(hostIndex: number): number {
    return this.#clients.get(hostIndex)?.size ?? 0;
  }

  fence(hostIndex: number): void {
    for (const client of [...(this.#clients.get(hostIndex) ?? [])]) client.fence();
    for (const listener of this.#fenceListeners) listener(hostIndex);
  }

  /** Called with every fenced node. */
  onFence(listener: (hostIndex: number) => void): void {
    this.#fenceListeners.push(listener);
  }
}
