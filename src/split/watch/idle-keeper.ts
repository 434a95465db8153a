/**
 * Puts a cluster to sleep when its pools are idle, and wakes it on the next
 * statement. An idle application process then holds no session on any
 * server and no timer or socket: what a fleet of idle pods costs the
 * database is nothing (docs/scaling.md).
 */
export interface IdleHooks {
  /** Whether anything is under way: a checked-out or connecting client, a checkout waiting. */
  readonly busy: () => boolean;
  readonly sleep: () => void;
  readonly wake: () => void;
}

/** How often a busy cluster past its idle time is looked at again. */
const BUSY_RECHECK_MILLIS = 1000;

export class IdleKeeper {
  readonly #idleAfterMillis: number;
  readonly #hooks: IdleHooks;
  #lastUse = Date.now();
  #asleep = false;
  #timer: NodeJS.Timeout | null = null;

  /** `idleAfterMillis` 0: never sleeps. */
  constructor(idleAfterMillis: number, hooks: IdleHooks) {
    this.#idleAfterMillis = idleAfterMillis;
    this.#hooks = hooks;
  }

  get asleep(): boolean {
    return this.#asleep;
  }

  start(): void {
    this.#lastUse = Date.now();
    this.#arm(this.#idleAfterMillis);
  }

  /** A statement or a checkout starts: wakes the cluster when it sleeps. Called on every statement: a clock read and a test. */
  touch(): void {
    this.#lastUse = Date.now();
    if (!this.#asleep) return;
    this.#asleep = false;
    this.#hooks.wake();
    this.#arm(this.#idleAfterMillis);
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #arm(delay: number): void {
    if (this.#idleAfterMillis === 0) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#look(), delay);
    this.#timer.unref();
  }

  #look(): void {
    this.#timer = null;
    const idleFor = Date.now() - this.#lastUse;
    if (idleFor < this.#idleAfterMillis) return this.#arm(this.#idleAfterMillis - idleFor);
    if (this.#hooks.busy()) return this.#arm(Math.min(BUSY_RECHECK_MILLIS, this.#idleAfterMillis));
    this.#asleep = true;
    this.#hooks.sleep();
  }
}
