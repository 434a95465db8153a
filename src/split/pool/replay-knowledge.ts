import { parseLsn } from '../../lsn.js';

const ignore = (): void => undefined;

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
  readonly #running = new Map<number, Promise<string | null>>();
  readonly #next = new Map<number, Promise<string | null>>();

  /** `fromStatus` or what a check found since, whichever is further; `session`: the node's session now. */
  furthest(host: number, fromStatus: string | null, session: object | null): string | null {
    const found = this.#furthest.get(host);
    if (found === undefined || session === null || found.session !== session) return fromStatus;
    return fromStatus === null || found.position > parseLsn(fromStatus) ? found.lsn : fromStatus;
  }

  /** The check running on the node, if any. */
  running(host: number): Promise<string | null> | null {
    return this.#running.get(host) ?? null;
  }

  /**
   * A check on `host` whose answer is newer than this call: one that starts
   * now, or the one shared by every caller that starts when the running one
   * ends. `session()` names the node's session when the check starts; `ask`
   * runs the check (null: no answer).
   */
  check(host: number, session: () => object | null, ask: () => Promise<string | null>): Promise<string | null> {
    const running = this.#running.get(host);
    if (running === undefined) return this.#start(host, session, ask);
    let next = this.#next.get(host);
    if (next === undefined) {
      next = running.then(ignore, ignore).then(() => {
        this.#next.delete(host);
        return this.#start(host, session, ask);
      });
      this.#next.set(host, next);
    }
    return next;
  }

  #start(host: number, session: () => object | null, ask: () => Promise<string | null>): Promise<string | null> {
    const atStart = session();
    const check = ask().catch(() => null);
    this.#running.set(host, check);
    void check.then((lsn) => {
      if (this.#running.get(host) === check) this.#running.delete(host);
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
