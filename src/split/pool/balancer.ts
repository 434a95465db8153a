import { randomInt } from 'node:crypto';

export type Balance = 'round-robin' | 'random' | 'least-busy' | 'fastest';

/** How a balancer picks: a public Balance, or `first` (the first eligible node in host order: libpq's `target_session_attrs=any`, for pg-split/pg). */
export type BalanceRule = Balance | 'first';

/** What the balancer reads of each node when it picks: its open connections, and its cost (LatencyBook). */
export interface NodeLoad {
  openConnections(node: number): number;
  cost(node: number): number;
}

/**
 * Spreads reads over the eligible nodes: in turn, at random, to the node
 * with the fewest open connections, or (`fastest`) to the cheaper of two
 * nodes drawn at random, by the latency pg-split observed there times the
 * statements in flight (the power of two choices over a peak EWMA, as
 * Finagle's and Linkerd's balancers). Holds only the turn, which starts at a
 * random place, so processes started together do not all send their first
 * reads to the same node; the nodes and their load are given on each call.
 */
export class Balancer {
  readonly #balance: BalanceRule;
  readonly #random: (max: number) => number;
  #turn: number;

  constructor(balance: BalanceRule, random: (max: number) => number = randomInt) {
    this.#balance = balance;
    this.#random = random;
    this.#turn = random(TURN_START_RANGE);
  }

  /** The node for the next read among `nodes` (not `avoid` when another is left), or null when there is none. */
  pick(nodes: readonly number[], load: NodeLoad, avoid: number | null = null): number | null {
    const allowed = nodes.length > 1 && avoid !== null ? nodes.filter((i) => i !== avoid) : nodes;
    if (allowed.length <= 1 || this.#balance === 'first') return allowed[0] ?? null;
    if (this.#balance === 'random') return allowed[this.#random(allowed.length)] ?? null;
    if (this.#balance === 'least-busy')
      return allowed.reduce((best, i) => (load.openConnections(i) < load.openConnections(best) ? i : best));
    if (this.#balance === 'fastest') return this.#cheaperOfTwo(allowed, load);
    return allowed[this.#turn++ % allowed.length] ?? null;
  }

  /** Two distinct nodes drawn at random (every node when there are two); the one that costs less, the first on a tie. */
  #cheaperOfTwo(allowed: readonly number[], load: NodeLoad): number | null {
    const first = this.#random(allowed.length);
    let second = this.#random(allowed.length - 1);
    if (second >= first) second++;
    const a = allowed[first];
    const b = allowed[second];
    if (a === undefined || b === undefined) return a ?? b ?? null;
    return load.cost(b) < load.cost(a) ? b : a;
  }

  /** Every node, starting with the one whose turn it is (advances the turn). */
  inTurn(nodes: readonly number[]): number[] {
    if (nodes.length <= 1) return [...nodes];
    const start = this.#turn++ % nodes.length;
    return [...nodes.slice(start), ...nodes.slice(0, start)];
  }
}

/** Where a rotation may start: any of this many places (taken modulo the node count). */
const TURN_START_RANGE = 1 << 20;
