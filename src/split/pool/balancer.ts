import { randomInt } from 'node:crypto';

export type Balance = 'round-robin' | 'random' | 'least-busy';

/** How a balancer picks: a public Balance, or `first` (the first eligible node in host order: libpq's `target_session_attrs=any`, for pg-split/pg). */
export type BalanceRule = Balance | 'first';

/**
 * Spreads reads over the eligible nodes: in turn, at random, or to the node
 * with the fewest open connections. Holds only the turn; the nodes and their
 * connection counts are given on each call.
 */
export class Balancer {
  readonly #balance: BalanceRule;
  readonly #random: (max: number) => number;
  #turn = 0;

  constructor(balance: BalanceRule, random: (max: number) => number = randomInt) {
    this.#balance = balance;
    this.#random = random;
  }

  /** The node for the next read among `nodes` (not `avoid` when another is left), or null when there is none. */
  pick(nodes: readonly number[], openConnections: (node: number) => number, avoid: number | null = null): number | null {
    const allowed = nodes.length > 1 && avoid !== null ? nodes.filter((i) => i !== avoid) : nodes;
    if (allowed.length <= 1 || this.#balance === 'first') return allowed[0] ?? null;
    if (this.#balance === 'random') return allowed[this.#random(allowed.length)] ?? null;
    if (this.#balance === 'least-busy') return allowed.reduce((best, i) => (openConnections(i) < openConnections(best) ? i : best));
    return allowed[this.#turn++ % allowed.length] ?? null;
  }

  /** Every node, starting with the one whose turn it is (advances the turn). */
  inTurn(nodes: readonly number[]): number[] {
    if (nodes.length <= 1) return [...nodes];
    const start = this.#turn++ % nodes.length;
    return [...nodes.slice(start), ...nodes.slice(0, start)];
  }
}
