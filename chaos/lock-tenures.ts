import type { PatroniCluster } from '@pg-split/harness';
import { clock } from './fault-loop.js';
import { TenureLog, type Tenure } from './tenure.js';

/** How often the lock is read: only a tenure shorter than this could go unseen. */
const LOCK_READ_MILLIS = 100;

/**
 * Who held Patroni's leader lock when, read from etcd itself every
 * LOCK_READ_MILLIS (every member's view of the cluster lags the DCS by up to
 * a loop_wait, and a poll of the views missed a 3 s tenure). A holder's
 * tenure begins when the last successful read before the one that found it
 * was sent (the lock moved after that) and ends when the read that found the
 * next holder answered: consecutive tenures overlap by one read, never leave
 * a gap. No holder (a frozen leader's lock expired) ends nothing: that leader
 * stays Patroni's last word until another member takes the lock. Tenures have
 * no timeline: the holder's writes count on whichever timeline it is on.
 */
export class LockTenures {
  readonly #tenures = new TenureLog();
  #holder: string | null = null;
  #lastReadSentAt = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Times the lock went from one member to another. */
  changes = 0;

  constructor(
    private readonly cluster: PatroniCluster,
    private readonly log: (line: string) => void,
  ) {}

  async read(): Promise<void> {
    const sentAt = Date.now();
    const member = await this.cluster.lockHolder().catch(() => undefined);
    const seenAt = Date.now();
    if (member === undefined) return;
    if (member !== null && member.host !== this.#holder) {
      if (this.#holder !== null) this.changes++;
      this.#tenures.end(seenAt);
      this.#tenures.begin(member.host, null, this.#lastReadSentAt);
      this.#holder = member.host;
      this.log(`Patroni's lock: held by ${member.name} (taken after ${clock(this.#lastReadSentAt)}, seen ${clock(seenAt)})`);
    }
    this.#lastReadSentAt = sentAt;
  }

  start(): void {
    const tick = (): void => {
      void this.read().finally(() => {
        if (this.#timer !== null) this.#timer = setTimeout(tick, LOCK_READ_MILLIS);
      });
    };
    this.#timer = setTimeout(tick, LOCK_READ_MILLIS);
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  list(): readonly Tenure[] {
    return this.#tenures.list();
  }
}
