import type { CheckKind } from './check-evidence.js';
import type { HostMonitor } from './host-monitor.js';

/** What the schedule needs of a host's monitor. */
export type Checkable = Pick<HostMonitor, 'recheck'>;

/**
 * When each host is checked: now on demand, then again on a timer of its
 * own once its check is done. A host whose check takes long (a frozen one,
 * up to checkTimeoutMillis) delays no other host's. The timers never keep
 * the process alive.
 */
export class CheckSchedule {
  readonly #timers = new Map<number, NodeJS.Timeout>();
  /** Each host's latest check asked for, until it ends. */
  readonly #latest = new Map<number, Promise<unknown>>();
  readonly #monitorOf: (hostIndex: number) => Checkable | undefined;
  readonly #writerKnown: () => boolean | null;
  readonly #delays: { readonly recheckMillis: number; readonly failoverRecheckMillis: number };

  /**
   * `monitorOf`: the host's current monitor (none: not checked);
   * `writerKnown()`: whether a writer is known (null: check nothing more, the
   * watch sleeps or is closed). A host's next check comes `recheckMillis`
   * after its last, or `failoverRecheckMillis` while no writer is known.
   */
  constructor(
    monitorOf: (hostIndex: number) => Checkable | undefined,
    writerKnown: () => boolean | null,
    delays: { readonly recheckMillis: number; readonly failoverRecheckMillis: number },
  ) {
    this.#monitorOf = monitorOf;
    this.#writerKnown = writerKnown;
    this.#delays = delays;
  }

  /**
   * Checks the host now (or right after its check running) and sets its next
   * check once that is done, whatever its outcome. Only the latest call for a
   * host sets it: a check that ends while another is queued behind it leaves
   * the next one to that, so the pause between two timed checks is never lost.
   * `kind`: why (HostMonitor.recheck); a timed check is `routine` while a
   * writer is known, else `asked`.
   */
  checkNow(hostIndex: number, kind: CheckKind = 'asked'): Promise<void> {
    this.clear(hostIndex);
    const monitor = this.#monitorOf(hostIndex);
    if (monitor === undefined) return Promise.resolve();
    const done = monitor.recheck(kind);
    this.#latest.set(hostIndex, done);
    return done
      .finally(() => {
        if (this.#latest.get(hostIndex) !== done) return;
        this.#latest.delete(hostIndex);
        if (this.#monitorOf(hostIndex) === monitor) this.#setNext(hostIndex);
      })
      .then(() => undefined);
  }

  /** Every host whose next check is set: set again with the delay that holds now. */
  retime(): void {
    for (const i of [...this.#timers.keys()]) this.#setNext(i);
  }

  clear(hostIndex: number): void {
    clearTimeout(this.#timers.get(hostIndex));
    this.#timers.delete(hostIndex);
  }

  clearAll(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #setNext(hostIndex: number): void {
    this.clear(hostIndex);
    const writerKnown = this.#writerKnown();
    if (writerKnown === null) return;
    const delay = writerKnown ? this.#delays.recheckMillis : this.#delays.failoverRecheckMillis;
    const timer = setTimeout(() => void this.checkNow(hostIndex, this.#writerKnown() === true ? 'routine' : 'asked'), delay);
    timer.unref();
    this.#timers.set(hostIndex, timer);
  }
}
