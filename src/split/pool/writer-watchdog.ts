/**
 * Notices the writer's statements stalling: a primary frozen or cut off
 * stops answering, and its statements wait, before its monitor's check
 * times out (`checkTimeoutMillis`, 2 s). While the oldest statement in
 * flight on the writer has run for `limitMillis` or more, `stalls(true)`;
 * once none has, `stalls(false)`. The watch then checks every host at the
 * failover rate, so a standby's promotion is seen before the old primary,
 * should it thaw, takes another write (chaos: a primary frozen for a
 * second, replaced, thawed). One timer, armed while statements run on the
 * writer; time injected (`now`; setTimeout is Node's, mockable).
 */
export class WriterWatchdog {
  readonly #oldestInFlight: () => number | null;
  readonly #stalls: (stalled: boolean) => void;
  readonly #now: () => number;
  readonly #limitMillis: number;
  #timer: NodeJS.Timeout | null = null;
  #stalled = false;
  #closed = false;

  /** `oldestInFlight`: when the oldest statement still running on the current writer started (`now`'s clock), null when none runs. */
  constructor(oldestInFlight: () => number | null, stalls: (stalled: boolean) => void, now: () => number, limitMillis: number) {
    this.#oldestInFlight = oldestInFlight;
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
    const oldest = this.#oldestInFlight();
    const now = this.#now();
    const stalled = oldest !== null && now - oldest >= this.#limitMillis;
    if (stalled !== this.#stalled) {
      this.#stalled = stalled;
      this.#stalls(stalled);
    }
    // Statements still running: look again when the oldest reaches the limit, or a limit later while it stalls.
    if (oldest !== null) this.#arm(stalled ? this.#limitMillis : this.#limitMillis - (now - oldest));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
