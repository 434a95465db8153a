import { randomInt } from 'node:crypto';

export type Balance = 'round-robin' | 'random' | 'least-busy' | 'fastest';

/** How a balancer picks: a public Balance, or `first` (the first eligible node in host order: libpq's `target_session_attrs=any`, for pg-split/pg). */
export type BalanceRule = Balance | 'first';

/** What the balancer reads of each node when it picks: its open connections, its cost (LatencyBook), its weight. */
export interface NodeLoad {
  openConnections(node: number): number;
  cost(node: number): number;
  /** Each node's weight for reads, or null when every node weighs the same (the common case: nothing to weigh). */
  weights(): ((node: number) => number) | null;
}

/**
 * Spreads reads over the eligible nodes: in turn, at random, to the node
 * with the fewest open connections, or (`fastest`) to the cheaper of two
 * nodes drawn at random, by the latency pg-split observed there times the
 * statements in flight (the power of two choices over a peak EWMA, as
 * Finagle's and Linkerd's balancers). Weights scale each rule: a node of
 * weight 2 takes twice the turns (smooth weighted round-robin, as nginx's),
 * is drawn twice as often, and counts half its open connections or cost.
 * Holds only the turn (and, with weights, each node's place in the smooth
 * rotation), which starts at a random place, so processes started together
 * do not all send their first reads to the same node; the nodes and their
 * load are given on each call.
 */
export class Balancer {
  readonly #balance: BalanceRule;
  readonly #random: (max: number) => number;
  #turn: number;
  /** Smooth weighted round-robin: each node's running credit. */
  readonly #credit = new Map<number, number>();

  constructor(balance: BalanceRule, random: (max: number) => number = randomInt) {
    this.#balance = balance;
    this.#random = random;
    this.#turn = random(TURN_START_RANGE);
  }

  /** The node for the next read among `nodes` (not `avoid` when another is left), or null when there is none. */
  pick(nodes: readonly number[], load: NodeLoad, avoid: number | null = null): number | null {
    const allowed = nodes.length > 1 && avoid !== null ? nodes.filter((i) => i !== avoid) : nodes;
    if (allowed.length <= 1 || this.#balance === 'first') return allowed[0] ?? null;
    const weight = load.weights();
    switch (this.#balance) {
      case 'random':
        return weight === null ? (allowed[this.#random(allowed.length)] ?? null) : this.#weightedDraw(allowed, weight);
      case 'least-busy': {
        const busy = (i: number): number => load.openConnections(i) / (weight?.(i) ?? 1);
        return allowed.reduce((best, i) => (busy(i) < busy(best) ? i : best));
      }
      case 'fastest':
        return this.#cheaperOfTwo(allowed, load, weight);
      default:
        return weight === null ? (allowed[this.#turn++ % allowed.length] ?? null) : this.#smoothTurn(allowed, weight);
    }
  }

  /** Two distinct nodes drawn at random (every node when there are two); the one that costs less for its weight, the first on a tie. */
  #cheaperOfTwo(allowed: readonly number[], load: NodeLoad, weight: ((node: number) => number) | null): number | null {
    const first = this.#random(allowed.length);
    let second = this.#random(allowed.length - 1);
    if (second >= first) second++;
    const a = allowed[first];
    const b = allowed[second];
    if (a === undefined || b === undefined) return a ?? b ?? null;
    const cost = (i: number): number => load.cost(i) / (weight?.(i) ?? 1);
    return cost(b) < cost(a) ? b : a;
  }

  /** A node drawn with a chance in proportion to its weight. */
  #weightedDraw(allowed: readonly number[], weight: (node: number) => number): number | null {
    const total = allowed.reduce((sum, i) => sum + weight(i), 0);
    let point = (this.#random(DRAW_RANGE) / DRAW_RANGE) * total;
    for (const i of allowed) {
      point -= weight(i);
      if (point < 0) return i;
    }
    return allowed[allowed.length - 1] ?? null;
  }

  /**
   * Smooth weighted round-robin (nginx's): every node gains its weight, the
   * richest is picked and pays the total; over a round each node is picked
   * in proportion to its weight, the picks interleaved.
   */
  #smoothTurn(allowed: readonly number[], weight: (node: number) => number): number | null {
    let best: number | null = null;
    let bestCredit = -Infinity;
    let total = 0;
    for (const i of allowed) {
      const w = weight(i);
      // A node new to the rotation starts at a random place in its first round.
      const credit = (this.#credit.get(i) ?? (this.#random(DRAW_RANGE) / DRAW_RANGE) * w) + w;
      this.#credit.set(i, credit);
      total += w;
      if (credit > bestCredit) {
        best = i;
        bestCredit = credit;
      }
    }
    if (best !== null) this.#credit.set(best, bestCredit - total);
    return best;
  }

  /** Every node, starting with the one whose turn it is (advances the turn). */
  inTurn(nodes: readonly number[]): number[] {
    if (nodes.length <= 1) return [...nodes];
    const start = this.#turn++ % nodes.length;
    return [...nodes.slice(start), ...nodes.slice(0, start)];
  }

  /** Forgets a node's place in the weighted rotation (discovery removed it). */
  forget(node: number): void {
    this.#credit.delete(node);
  }
}

/** Where a rotation may start: any of this many places (taken modulo the node count). */
const TURN_START_RANGE = 1 << 20;

/** The resolution of a weighted draw: a random whole number below this, as a fraction of it. */
const DRAW_RANGE = 1 << 30;
