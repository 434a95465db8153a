import type pg from 'pg';

export interface Read {
  readonly at: number;
  /** The server that answered and whether it was a standby, as it reported itself. */
  readonly server: string;
  readonly standby: boolean;
}

/** A continuous read load through a pool: `concurrency` loops, each recording which server answered (as the server says), or the failure. */
export class ReadLoad {
  readonly reads: Read[] = [];
  readonly failures: Array<{ at: number; code: string | undefined; message: string }> = [];
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly concurrency = 2,
    private readonly pauseMillis = 5,
  ) {}

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.concurrency }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Servers that answered reads after `since` (ms epoch). */
  serversSince(since: number): Set<string> {
    return new Set(this.reads.filter((r) => r.at > since).map((r) => r.server));
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      try {
        const { rows } = await this.pool.query<{ server: string; standby: boolean }>(
          'SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby',
        );
        this.reads.push({ at: Date.now(), server: rows[0]?.server ?? '', standby: rows[0]?.standby === true });
      } catch (err) {
        // A statement the test's own end() cut once the load was stopped is not a failure of the run.
        if (!this.#running && (err as { code?: string }).code === 'PGSPLIT_ENDED') break;
        this.failures.push({
          at: Date.now(),
          code: (err as { code?: string }).code,
          message: err instanceof Error ? err.message : String(err),
        });
      }
      await new Promise((r) => setTimeout(r, this.pauseMillis));
    }
  }
}
