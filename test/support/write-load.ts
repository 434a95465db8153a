import type pg from 'pg';

export interface Ack {
  readonly id: number;
  /** When the statement was sent. */
  readonly sentAt: number;
  /** When its acknowledgement was processed. */
  readonly at: number;
  /** The server that acknowledged the write, as it reported itself. */
  readonly server: string;
}

export interface Failure {
  readonly id: number;
  readonly at: number;
  readonly code: string | undefined;
  readonly message: string;
}

export const WRITES_TABLE = 'CREATE TABLE IF NOT EXISTS writes (id bigint PRIMARY KEY, server text NOT NULL)';

/** The same table under another name (one per client writing side by side). */
export function writesTable(name: string): string {
  return WRITES_TABLE.replace(' writes ', ` ${name} `);
}

/**
 * A continuous write load through a pool: `concurrency` loops, each inserting
 * one row at a time and recording which server acknowledged it (the server
 * says, with inet_server_addr()), or the failure.
 */
export class WriteLoad {
  readonly acks: Ack[] = [];
  readonly failures: Failure[] = [];
  #next = 1;
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly concurrency = 4,
    private readonly pauseMillis = 5,
    private readonly table = 'writes',
  ) {}

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.concurrency }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Resolves once `count` more writes are acknowledged (a fault then comes under load), whatever the machine's speed. */
  async progressed(count = 20, timeoutMillis = 30_000): Promise<void> {
    const target = this.acks.length + count;
    const deadline = Date.now() + timeoutMillis;
    while (this.acks.length < target) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} writes acknowledged within ${timeoutMillis} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves once a write is acknowledged after `since` (ms epoch), with its ack. */
  async firstAckAfter(since: number, timeoutMillis: number): Promise<Ack> {
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const ack = this.acks.find((a) => a.at > since);
      if (ack !== undefined) return ack;
      if (Date.now() > deadline) throw new Error(`no write acknowledged within ${timeoutMillis} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const id = this.#next++;
      const sentAt = Date.now();
      try {
        const { rows } = await this.pool.query<{ server: string }>(
          `INSERT INTO ${this.table} (id, server) VALUES ($1, host(inet_server_addr())) RETURNING server`,
          [id],
        );
        this.acks.push({ id, sentAt, at: Date.now(), server: rows[0]?.server ?? '' });
      } catch (err) {
        // A statement the test's own end() cut once the load was stopped is not a failure of the run.
        if (!this.#running && (err as { code?: string }).code === 'PGSPLIT_ENDED') break;
        this.failures.push({
          id,
          at: Date.now(),
          code: (err as { code?: string }).code,
          message: err instanceof Error ? err.message : String(err),
        });
      }
      await new Promise((r) => setTimeout(r, this.pauseMillis));
    }
  }
}

/** Acknowledged ids missing from a node's table. */
export async function missingAcks(acks: readonly Ack[], rows: ReadonlyArray<{ id: string | number }>): Promise<number[]> {
  const present = new Set(rows.map((r) => Number(r.id)));
  return acks.filter((a) => !present.has(a.id)).map((a) => a.id);
}

/** Describes acknowledged writes missing from a node, with when and where each was acknowledged relative to `marks`. */
export function describeMissing(acks: readonly Ack[], missing: readonly number[], marks: Readonly<Record<string, number>>): string {
  const byId = new Map(acks.map((a) => [a.id, a]));
  const shown = 10;
  const more = missing.length > shown ? `; and ${missing.length - shown} more` : '';
  return (
    missing
      .slice(0, shown)
      .map((id) => {
        const a = byId.get(id);
        const rel = Object.entries(marks)
          .map(([name, t]) => `${name}${(a?.at ?? 0) - t >= 0 ? '+' : ''}${(a?.at ?? 0) - t}ms`)
          .join(' ');
        return `#${id} acked by ${a?.server ?? '?'} at ${rel}`;
      })
      .join('; ') + more
  );
}
