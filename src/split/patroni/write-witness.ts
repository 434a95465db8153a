import { PgSplitError } from '../../errors.js';
import { parseLsn } from '../../lsn.js';
import type { RoleDecision } from '../../roles/role-decision.js';

/**
 * Pure: the leader whose writes go on with witnesses: no writer is
 * confirmed, and the one read-write node on the newest timeline is
 * unconfirmed because its Patroni went silent (frozen, killed), not because
 * Patroni is demoting it (a switchover: writes wait for the new leader).
 */
export function silentLeader(decision: RoleDecision, isSilent: (hostIndex: number) => boolean): number | null {
  if (decision.writer !== null || decision.unconfirmed.length !== 1) return null;
  const [leader] = decision.unconfirmed;
  return leader !== undefined && isSilent(leader) ? leader : null;
}

/**
 * Pure: the members that must have received a write before it is
 * acknowledged: every active member but the leader. Null when Patroni lists
 * a member pg-split does not know (by `host:port`, as discovery matches
 * them): Patroni could promote it without the write, so no write is
 * witnessed.
 */
export function requiredWitnesses(patroniMembers: readonly string[], active: ReadonlyMap<string, number>, leader: number): number[] | null {
  if (patroniMembers.some((key) => !active.has(key))) return null;
  return [...active.values()].filter((i) => i !== leader).sort((a, b) => a - b);
}

/** Pure: whether every witness (at least one) has received and flushed WAL up to `target`. */
export function witnessedBy(target: bigint, received: ReadonlyMap<number, bigint>, witnesses: readonly number[]): boolean {
  return witnesses.length > 0 && witnesses.every((i) => (received.get(i) ?? -1n) >= target);
}

/** What the witness asks of the cluster. */
export interface WitnessSteps {
  /** `host:port` of every member Patroni lists, asked of a member other than `leader`; null when none answered. */
  patroniMembers(leader: number): Promise<string[] | null>;
  /** Active members' `host:port` and index. */
  activeMembers(): ReadonlyMap<string, number>;
  /** How far a standby has received and flushed WAL (`pg_last_wal_receive_lsn()`); null when it is no standby or did not answer. */
  received(hostIndex: number): Promise<string | null>;
  /** A member's name for messages. */
  name(hostIndex: number): string;
  /** Witnesses are known: writes waiting for a node look again. */
  onReady(): void;
}

interface Waiter {
  readonly target: bigint;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Between two rounds of asking the witnesses, while writes wait. */
export const POLL_MILLIS = 5;

function unconfirmed(leaderName: string, why: string): PgSplitError {
  return new PgSplitError(
    'PGSPLIT_WRITE_UNCONFIRMED',
    `pg-split: a write committed on ${leaderName}, a primary whose Patroni stopped answering, was not received by every other member before ${why}; ` +
      'the cluster may or may not keep it (treat it as a commit whose outcome is unknown)',
  );
}

/**
 * Writes to a leader whose Patroni went silent. Patroni cannot promote
 * another member before the silent leader's lock expires, and then promotes
 * a member that has replayed what it received. So a write the leader
 * committed is kept by any member Patroni may promote once every other
 * member has received and flushed it: such a write is acknowledged, and
 * writes go on until a promotion stops the streaming (instead of stopping
 * at the cut-off). One episode per silent leader; when it ends, waiting
 * writes are acknowledged if Patroni confirms that leader again, and fail
 * with PGSPLIT_WRITE_UNCONFIRMED otherwise.
 */
export class WriteWitness {
  readonly #steps: WitnessSteps;
  readonly #timeoutMillis: number;
  #leader: number | null = null;
  /** The members that must receive each write; null until Patroni's member list is known. */
  #witnesses: number[] | null = null;
  #episode = 0;
  /** Each witness's furthest position seen in this episode. */
  readonly #received = new Map<number, bigint>();
  #waiters: Waiter[] = [];
  #polling = false;
  #closed = false;

  constructor(steps: WitnessSteps, timeoutMillis: number) {
    this.#steps = steps;
    this.#timeoutMillis = timeoutMillis;
  }

  /** The silent leader writes may go to now, once its witnesses are known; else null. */
  get ready(): number | null {
    return this.#witnesses === null ? null : this.#leader;
  }

  /** The silent leader of the episode under way (its witnesses may not be known yet); else null. */
  get leader(): number | null {
    return this.#leader;
  }

  /**
   * The decision changed: `silent` (silentLeader) and the confirmed writer.
   * Returns the leader whose episode just ended, if one did.
   */
  follow(silent: number | null, writer: number | null): number | null {
    if (silent === this.#leader || this.#closed) return null;
    const ended = this.#leader;
    if (ended !== null)
      this.#settle(
        ended === writer
          ? null
          : unconfirmed(
              this.#steps.name(ended),
              writer === null ? 'it stopped being a primary' : `${this.#steps.name(writer)} became the writer`,
            ),
      );
    this.#leader = silent;
    this.#witnesses = null;
    this.#received.clear();
    const episode = ++this.#episode;
    if (silent !== null) void this.#learnWitnesses(silent, episode);
    return ended;
  }

  async #learnWitnesses(leader: number, episode: number): Promise<void> {
    const listed = await this.#steps.patroniMembers(leader).catch(() => null);
    if (listed === null || episode !== this.#episode) return;
    const witnesses = requiredWitnesses(listed, this.#steps.activeMembers(), leader);
    if (witnesses === null || witnesses.length === 0) return;
    this.#witnesses = witnesses;
    this.#steps.onReady();
  }

  /**
   * Resolves once every witness has `lsn` (a write's position on `leader`),
   * waiting for the witnesses to be known; rejects when the episode ends
   * otherwise, or at the timeout.
   */
  confirm(leader: number, lsn: string): Promise<void> {
    if (leader !== this.#leader) return Promise.reject(unconfirmed(this.#steps.name(leader), 'Patroni named a leader'));
    const target = parseLsn(lsn);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(unconfirmed(this.#steps.name(leader), `${this.#timeoutMillis} ms passed`));
      }, this.#timeoutMillis);
      const waiter: Waiter = { target, resolve, reject, timer };
      this.#waiters.push(waiter);
      void this.#poll();
    });
  }

  /** Asks every witness how far it has received, then acknowledges the writes all have; again while writes wait. */
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      while (!this.#closed && this.#waiters.length > 0) {
        const episode = this.#episode;
        const witnesses = this.#witnesses ?? [];
        const positions = await Promise.all(witnesses.map((i) => this.#steps.received(i).catch(() => null)));
        // Positions asked in an episode that ended meanwhile say nothing of this one's writes.
        if (episode !== this.#episode) continue;
        witnesses.forEach((i, k) => this.#noteReceived(i, positions[k] ?? null));
        const done = this.#waiters.filter((w) => witnessedBy(w.target, this.#received, witnesses));
        this.#waiters = this.#waiters.filter((w) => !done.includes(w));
        for (const w of done) {
          clearTimeout(w.timer);
          w.resolve();
        }
        if (this.#waiters.length > 0) await new Promise((r) => setTimeout(r, POLL_MILLIS));
      }
    } finally {
      this.#polling = false;
    }
  }

  #noteReceived(hostIndex: number, lsn: string | null): void {
    if (lsn === null) return;
    const position = parseLsn(lsn);
    if (position > (this.#received.get(hostIndex) ?? -1n)) this.#received.set(hostIndex, position);
  }

  /** Ends the episode's waiting writes: acknowledged (null) or failed. */
  #settle(err: Error | null): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      if (err === null) w.resolve();
      else w.reject(err);
    }
  }

  close(err: Error): void {
    this.#closed = true;
    this.#settle(err);
  }
}
