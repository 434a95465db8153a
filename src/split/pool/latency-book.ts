/**
 * What pg-split observed of each node's statements, for the `fastest`
 * balance: a peak-sensitive moving average of their latency (Finagle's and
 * Linkerd's peak EWMA) and how many are in flight. A sample above the
 * average replaces it at once (a node that turned slow is avoided from its
 * first slow answer); one below pulls it down by how long ago the last one
 * came; with no sample the average decays toward zero, so a node that was
 * slow, and so left alone, is tried again after a while and its next answer
 * says whether it recovered. Time is injected. On the path of every
 * statement: a clock read and a few arithmetic operations at each end, no
 * allocation.
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
    if (node === undefined) this.#nodes.set(hostIndex, (node = { estimate: 0, at: this.#now(), inFlight: 0, answeredAt: null }));
    return node;
  }

  /** When the server last answered a statement on the node (a result or an error of its own; this book's clock), or null before it did. */
  lastAnswer(hostIndex: number): number | null {
    return this.#nodes.get(hostIndex)?.answeredAt ?? null;
  }

  /** This book's clock. */
  now(): number {
    return this.#now();
  }

  /** A statement starts on the node: returns its start, for end(). */
  begin(hostIndex: number): number {
    this.#node(hostIndex).inFlight++;
    return this.#now();
  }

  /** The statement begun at `startedAt` settled: its latency counts; `answered`: the server answered it (not a lost connection). */
  end(hostIndex: number, startedAt: number, answered = true): void {
    const node = this.#nodes.get(hostIndex);
    if (node === undefined || node.inFlight === 0) return;
    node.inFlight--;
    const now = this.#now();
    const millis = now - startedAt;
    // The weight of the past: how much of the average is left after the time since the last sample.
    const weight = Math.exp(-(now - node.at) / this.#decayMillis);
    const current = node.estimate * weight;
    node.estimate = millis > current ? millis : current + millis * (1 - weight);
    node.at = now;
    if (answered) node.answeredAt = now;
  }

  /**
   * The node's cost for the next statement: its average latency (a small
   * floor, so that a node never sampled still counts what is in flight)
   * times the statements in flight there plus this one.
   */
  cost(hostIndex: number): number {
    const node = this.#nodes.get(hostIndex);
    if (node === undefined) return FLOOR_MILLIS;
    const decayed = node.estimate * Math.exp(-(this.#now() - node.at) / this.#decayMillis);
    return (decayed + FLOOR_MILLIS) * (node.inFlight + 1);
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
  /** Statements running there. */
  inFlight: number;
  /** When the server last answered a statement there, or null before it did. */
  answeredAt: number | null;
}

/** The latency every node is assumed to cost on top of its average: a tenth of a millisecond. */
const FLOOR_MILLIS = 0.1;
