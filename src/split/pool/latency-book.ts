/**
 * What pg-split observed of each node's statements, for the `fastest`
 * balance: a peak-sensitive moving average of their latency (Finagle's and
 * Linkerd's peak EWMA) and how many are in flight. A sample above the
 * average replaces it at once (a node that turned slow is avoided from its
 * first slow answer); one below pulls it down by how long ago the last one
 * came; with no sample the average decays toward zero, so a node that was
 * slow, and so left alone, is tried again after a while and its next answer
 * says whether it recovered. Time is injected.
 */
export class LatencyBook {
  readonly #now: () => number;
  readonly #decayMillis: number;
  readonly #nodes = new Map<number, Node>();

  /** `decayMillis`: the time constant of the average (and of its decay toward zero when no sample comes). */
  constructor(now: () => number = () => performance.now(), decayMillis = 10_000) {
    this.#now = now;
    this.#decayMillis = decayMillis;
  }

  #node(hostIndex: number): Node {
    let node = this.#nodes.get(hostIndex);
    if (node === undefined) this.#nodes.set(hostIndex, (node = { estimate: 0, at: this.#now(), inFlight: new Set() }));
    return node;
  }

  /** When the oldest statement still running on the node started (this book's clock), or null when none runs. */
  oldestInFlight(hostIndex: number): number | null {
    const node = this.#nodes.get(hostIndex);
    if (node === undefined || node.inFlight.size === 0) return null;
    let oldest = Infinity;
    for (const { started } of node.inFlight) oldest = Math.min(oldest, started);
    return oldest;
  }

  /** This book's clock. */
  now(): number {
    return this.#now();
  }

  /** The average as of now: decayed toward zero since the last sample. */
  #decayed(node: Node, now: number): number {
    return node.estimate * Math.exp(-(now - node.at) / this.#decayMillis);
  }

  /** A statement starts on the node; call the result once it settled (it records its latency). */
  start(hostIndex: number): () => void {
    const node = this.#node(hostIndex);
    const statement = { started: this.#now() };
    node.inFlight.add(statement);
    return () => {
      if (!node.inFlight.delete(statement)) return;
      this.#observe(node, this.#now() - statement.started);
    };
  }

  #observe(node: Node, millis: number): void {
    const now = this.#now();
    const current = this.#decayed(node, now);
    if (millis > current) node.estimate = millis;
    else {
      const weight = Math.exp(-(now - node.at) / this.#decayMillis);
      node.estimate = current * weight + millis * (1 - weight);
    }
    node.at = now;
  }

  /**
   * The node's cost for the next statement: its average latency (a small
   * floor, so that a node never sampled still counts what is in flight)
   * times the statements in flight there plus this one.
   */
  cost(hostIndex: number): number {
    const node = this.#nodes.get(hostIndex);
    if (node === undefined) return FLOOR_MILLIS;
    return (this.#decayed(node, this.#now()) + FLOOR_MILLIS) * (node.inFlight.size + 1);
  }

  /** Forgets a node (discovery removed it). */
  forget(hostIndex: number): void {
    this.#nodes.delete(hostIndex);
  }
}

interface Node {
  /** The moving average, in milliseconds, as of `at`. */
  estimate: number;
  at: number;
  /** The statements running there, each with its start. */
  readonly inFlight: Set<{ readonly started: number }>;
}

/** The latency every node is assumed to cost on top of its average: a tenth of a millisecond. */
const FLOOR_MILLIS = 0.1;
