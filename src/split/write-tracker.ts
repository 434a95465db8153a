/**
 * Remembers that writes happened and turns that into a WAL position when a
 * read needs one: the primary's current insert position, fetched after the
 * last acknowledged write, is at or past every write acknowledged so far.
 * Fetched lazily (only a read that follows a write pays for it) and shared
 * by the reads that start while the fetch runs.
 */
export class WriteTracker {
  #seq = 0;
  #token: { seq: number; lsn: Promise<string> } | null = null;

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
    if (this.#token === null || this.#token.seq < this.#seq) {
      const lsn = this.fetchLsn();
      const token = { seq: this.#seq, lsn };
      lsn.catch(() => {
        if (this.#token === token) this.#token = null;
      });
      this.#token = token;
    }
    return this.#token.lsn;
  }
}
