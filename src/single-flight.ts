const ignore = (): void => undefined;

/**
 * One run of a task at a time, and at most one more queued behind it (the
 * "one running, one queued" that a status check, a replay check and a write
 * position fetch each need):
 * - `run()` joins the run in flight, or starts one;
 * - `fresh()` gives an answer that started after the call: a run starts now
 *   if none is in flight, else the one that starts when the run in flight
 *   ends, shared by every caller until it starts.
 * A run that fails settles its callers with the failure; the queued one
 * starts all the same. The task may be given per call (the caller that
 * starts a run gives the task it runs); else the constructor's.
 */
export class SingleFlight<T> {
  readonly #task: (() => Promise<T>) | null;
  #running: Promise<T> | null = null;
  #next: Promise<T> | null = null;

  constructor(task: (() => Promise<T>) | null = null) {
    this.#task = task;
  }

  /** The run in flight, or null. */
  get running(): Promise<T> | null {
    return this.#running;
  }

  run(task = this.#task): Promise<T> {
    if (this.#running !== null) return this.#running;
    if (task === null) throw new TypeError('SingleFlight: no task to run');
    const run = task();
    this.#running = run;
    const done = (): void => {
      if (this.#running === run) this.#running = null;
    };
    run.then(done, done);
    return run;
  }

  fresh(task = this.#task): Promise<T> {
    const running = this.#running;
    if (running === null) return this.run(task);
    this.#next ??= running.then(ignore, ignore).then(() => {
      this.#next = null;
      return this.run(task);
    });
    return this.#next;
  }
}
