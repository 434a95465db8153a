import { SingleFlight } from '../../single-flight.js';

/**
 * Remembers that writes happened and turns that into a WAL position when a
 * read needs one: the primary's current insert position, fetched after the
 * last acknowledged write, is at or past every write acknowledged so far.
 * Fetched lazily (only a read that follows a write pays for it) and shared:
 * a read reuses the last fetch if no write was acknowledged since it started;
 * otherwise, while a fetch is in flight, every read that needs a newer one
 * waits for the same next fetch (it starts when the one in flight ends, so
 * after each of those reads began). At most two fetches are ever pending,
 * however many reads there are.
 */
export class WriteTracker {
  #seq = 0;
  /** The last fetch started, and the writes acknowledged when it started. */
  #latest: { seq: number; lsn: Promise<string> } | null = null;
  /** The fetch in flight, and the one that starts when it ends, shared by the reads waiting for it. */
  readonly #fetches = new SingleFlight<string>(() => this.#fetch());

  constructor(private readonly fetchLsn: () => Promise<string>) {}

  /** A statement through the writer was acknowledged (or a writer checkout was released). */
  noteWrite(): void {
    this.#seq++;
  }

  /** Writes acknowledged so far (a counter that only grows). */
  get acknowledged(): number {
    return this.#seq;
  }

  /** The position a read must wait for, or null when nothing was written through this writer. */
  required(): Promise<string> | null {
    if (this.#seq === 0) return null;
    const latest = this.#latest;
    if (latest !== null && latest.seq >= this.#seq) return latest.lsn;
    return this.#fetches.fresh();
  }

  /** One fetch, remembered with the writes acknowledged when it started (forgotten if it fails). */
  #fetch(): Promise<string> {
    const lsn = this.fetchLsn();
    const token = { seq: this.#seq, lsn };
    this.#latest = token;
    lsn.catch(() => {
      if (this.#latest === token) this.#latest = null;
    });
    return lsn;
  }
}
