import { parseLsn } from '../../lsn.js';
import { SingleFlight } from '../../single-flight.js';

/**
 * What reads learnt of the standbys' replay positions, shared between them:
 * the furthest position a replay check found on each node, and the checks
 * running on it. One check runs per node at a time; reads that need a newer
 * answer than the one running share the next check, which starts when it
 * ends (so its answer is newer than each of them). A position stays known
 * only while the node's monitoring session that was current at the check
 * lasts (replay only moves forward on a running server; a restart, or a
 * rewind, which needs one, forgets it).
 */
export class ReplayKnowledge {
  readonly #furthest = new Map<number, { session: object; lsn: string; position: bigint }>();
  /** Per node: the check running, and the one queued behind it. */
  readonly #checks = new Map<number, SingleFlight<string | null>>();

  /** `fromStatus` or what a check found since, whichever is further; `session`: the node's session now. */
  furthest(host: number, fromStatus: string | null, session: object | null): string | null {
    const found = this.#furthest.get(host);
    if (found === undefined || session === null || found.session !== session) return fromStatus;
    return fromStatus === null || found.position > parseLsn(fromStatus) ? found.lsn : fromStatus;
  }

  /** The check running on the node, if any. */
  running(host: number): Promise<string | null> | null {
    return this.#checks.get(host)?.running ?? null;
  }

  /**
   * A check on `host` whose answer is newer than this call: one that starts
   * now, or the one shared by every caller that starts when the running one
   * ends. `session()` names the node's session when the check starts; `ask`
   * runs the check (null: no answer).
   */
  check(host: number, session: () => object | null, ask: () => Promise<string | null>): Promise<string | null> {
    let checks = this.#checks.get(host);
    if (checks === undefined) this.#checks.set(host, (checks = new SingleFlight()));
    return checks.fresh(() => this.#start(host, session, ask));
  }

  /** One check: its answer is remembered against the session the node had when it started. */
  #start(host: number, session: () => object | null, ask: () => Promise<string | null>): Promise<string | null> {
    const atStart = session();
    const check = ask().catch(() => null);
    void check.then((lsn) => {
      if (lsn !== null && atStart !== null) this.#remember(host, atStart, lsn);
    });
    return check;
  }

  forget(host: number): void {
    this.#furthest.delete(host);
  }

  #remember(host: number, session: object, lsn: string): void {
    const position = parseLsn(lsn);
    const found = this.#furthest.get(host);
    if (found === undefined || found.session !== session || position > found.position) this.#furthest.set(host, { session, lsn, position });
  }
}
