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
  readonly #nodes = new Map<number, { estimate: number; at: number; inFlight: number }>();

  /** `decayMillis`: the time constant of the average (and of its decay toward zero when no sample comes). */
  constructor(now: () => number = () => performance.now(), decayMillis = 10_000) {
    this.#now = now;
    this.#decayMillis = decayMillis;
  }

  #node(hostIndex: number): { estimate: number; at: number; inFlight: number } {
    let node = this.#nodes.get(hostIndex);
    if (node === undefined) this.#nodes.set(hostIndex, (node = { estimate: 0, at: this.#now(), inFlight: 0 }));
    return node;
  }

  /** The average as of now: decayed toward zero since the last sample. */
  #decayed(node: { estimate: number; at: number }, now: number): number {
    return node.estimate * Math.exp(-(now - node.at) / this.#decayMillis);
  }

  /** A statement starts on the node; call the result once it settled (it records its latency). */
  start(hostIndex: number): () => void {
    const node = this.#node(hostIndex);
    const started = this.#now();
    node.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      node.inFlight--;
      this.#observe(node, this.#now() - started);
    };
  }

  #observe(node: { estimate: number; at: number }, millis: number): void {
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
    return (this.#decayed(node, this.#now()) + FLOOR_MILLIS) * (node.inFlight + 1);
  }

  /** Forgets a node (discovery removed it). */
  forget(hostIndex: number): void {
    this.#nodes.delete(hostIndex);
  }
}

/** The latency every node is assumed to cost on top of its average: a tenth of a millisecond. */
const FLOOR_MILLIS = 0.1;
