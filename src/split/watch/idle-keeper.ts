/**
 * Puts a cluster to sleep when its pools are idle (no statement for
 * `idleAfterMillis`, or every pool let its last client go after its own
 * idleTimeoutMillis), and wakes it on the next statement. An idle application process then holds no session on any
 * server and no timer or socket: what a fleet of idle pods costs the
 * database is nothing (docs/scaling.md).
 */
export interface IdleHooks {
  /** Whether anything is under way: a checked-out or connecting client, a checkout waiting. */
  readonly busy: () => boolean;
  readonly sleep: () => void;
  readonly wake: () => void;
  /**
   * Once every pool has let its last client go (pg-pool's idleTimeoutMillis):
   * how long without a statement is idle enough; null while a pool holds a
   * client.
   */
  readonly emptyPoolsQuietMillis: () => number | null;
}

/** How often a busy cluster past its idle time is looked at again. */
const BUSY_RECHECK_MILLIS = 1000;

export class IdleKeeper {
  readonly #idleAfterMillis: number;
  readonly #hooks: IdleHooks;
  readonly #now: () => number;
  #lastUse: number;
  #asleep = false;
  #timer: NodeJS.Timeout | null = null;

  /** `idleAfterMillis` 0: never sleeps. */
  constructor(idleAfterMillis: number, hooks: IdleHooks, now: () => number = Date.now) {
    this.#idleAfterMillis = idleAfterMillis;
    this.#hooks = hooks;
    this.#now = now;
    this.#lastUse = now();
  }

  get asleep(): boolean {
    return this.#asleep;
  }

  start(): void {
    this.#lastUse = this.#now();
    this.#arm(this.#idleAfterMillis);
  }

  /** A statement or a checkout starts: wakes the cluster when it sleeps. Called on every statement: a clock read and a test. */
  touch(): void {
    this.#lastUse = this.#now();
    if (!this.#asleep) return;
    this.#asleep = false;
    this.#hooks.wake();
    this.#arm(this.#idleAfterMillis);
  }

  /**
   * The last open connection closed (the pools closed their idle clients after
   * their own idleTimeoutMillis, as a plain pg.Pool's would, after which its
   * process can exit): the cluster sleeps once no statement came for the
   * pools' quiet time (emptyPoolsQuietMillis) rather than at
   * `idleAfterMillis`.
   */
  poolsEmptied(): void {
    if (this.#asleep || this.#idleAfterMillis === 0) return;
    this.#arm(Math.max(0, this.#threshold() - (this.#now() - this.#lastUse)));
  }

  /** How long without a statement is idle: `idleAfterMillis`, or sooner once the pools let every client go. */
  #threshold(): number {
    const quiet = this.#hooks.emptyPoolsQuietMillis();
    return quiet === null ? this.#idleAfterMillis : Math.min(quiet, this.#idleAfterMillis);
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
    const idleFor = this.#now() - this.#lastUse;
    const threshold = this.#threshold();
    if (idleFor < threshold) return this.#arm(threshold - idleFor);
    if (this.#hooks.busy()) return this.#arm(Math.min(BUSY_RECHECK_MILLIS, threshold));
    this.#sleep();
  }

  #sleep(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#asleep = true;
    this.#hooks.sleep();
  }
}
