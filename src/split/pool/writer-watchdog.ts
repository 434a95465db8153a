/**
 * Notices the writer's statements stalling: a primary frozen or cut off
 * stops answering, and its statements wait, before its monitor's check
 * times out (`checkTimeoutMillis`, 2 s). While the writer has left a
 * statement unanswered for `limitMillis` or more, `stalls(true)`; once it
 * has not, `stalls(false)`. The watch then checks every host at the
 * failover rate, so a standby's promotion is seen before the old primary,
 * should it thaw, takes another write (chaos: a primary frozen for a
 * second, replaced, thawed). It counts from the last answer when one came
 * after the oldest statement was sent: a long statement while the writer
 * answers others is no stall. One timer, armed while statements run on the
 * writer; time injected (`now`; setTimeout is Node's, mockable).
 */
export class WriterWatchdog {
  readonly #silentSince: () => number | null;
  readonly #stalls: (stalled: boolean) => void;
  readonly #now: () => number;
  readonly #limitMillis: number;
  #timer: NodeJS.Timeout | null = null;
  #stalled = false;
  #closed = false;

  /**
   * `silentSince`: since when the current writer has left a statement
   * unanswered (`now`'s clock): the oldest running's send, or the last
   * answer after it; null when none runs.
   */
  constructor(silentSince: () => number | null, stalls: (stalled: boolean) => void, now: () => number, limitMillis: number) {
    this.#silentSince = silentSince;
    this.#stalls = stalls;
    this.#now = now;
    this.#limitMillis = limitMillis;
  }

  /** A statement started on the writer: look again once it could have stalled (a no-op while a look is due). */
  started(): void {
    if (this.#timer === null && !this.#closed) this.#arm(this.#limitMillis);
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => this.#look(), delay);
    this.#timer.unref();
  }

  #look(): void {
    this.#timer = null;
    const since = this.#silentSince();
    const now = this.#now();
    const stalled = since !== null && now - since >= this.#limitMillis;
    if (stalled !== this.#stalled) {
      this.#stalled = stalled;
      this.#stalls(stalled);
    }
    // Statements still running: look again when the silence reaches the limit, or a limit later while it stalls.
    if (since !== null) this.#arm(stalled ? this.#limitMillis : this.#limitMillis - (now - since));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
