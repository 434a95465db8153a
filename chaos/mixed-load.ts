import type pg from 'pg';
import { WRITE_TIMELINE_SQL } from '../src/lsn.js';
import type { SplitCluster } from '../src/split/connect-split.js';
import type { WriteAck } from './invariants.js';

export const CHAOS_TABLE = 'CREATE TABLE chaos_writes (id bigint PRIMARY KEY, loop int NOT NULL)';

/** Which server committed, and on which timeline, as the server says. */
const WHO = `host(inet_server_addr()) AS server, ${WRITE_TIMELINE_SQL} AS timeline`;
/** One row; $2 is the loop that wrote it (-1: the peer's). */
export const INSERT = `INSERT INTO chaos_writes (id, loop) VALUES ($1, $2) RETURNING ${WHO}`;
const READ = 'SELECT host(inet_server_addr()) AS server, pg_is_in_recovery() AS standby, (SELECT max(id) FROM chaos_writes) AS newest';

export type OpKind = 'write' | 'transaction' | 'read';

export interface FailureCount {
  readonly key: string;
  count: number;
  readonly example: string;
}

interface Waiter {
  readonly kinds: readonly OpKind[];
  readonly since: number;
  readonly resolve: (at: number) => void;
}

interface Who {
  server: string;
  timeline: number;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What an error is filed under: its SQLSTATE or pg-split code, else its class and message. */
function failureKey(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const message = err instanceof Error ? err.message : String(err);
  return `${err instanceof Error ? err.constructor.name : typeof err}: ${message.split('\n')[0]?.slice(0, 60)}`;
}

/**
 * The chaos load: `writers` loops writing through `split.writer` (one in five
 * operations a two-row transaction on a checked-out client), `readers` loops
 * reading through `split.reader`. Every acknowledged write is recorded with
 * the server and timeline that committed it, as the server says.
 */
export class MixedLoad {
  readonly acks: WriteAck[] = [];
  readonly done: Record<OpKind, number> = { write: 0, transaction: 0, read: 0 };
  readonly failed: Record<OpKind, number> = { write: 0, transaction: 0, read: 0 };
  readonly failures = new Map<string, FailureCount>();
  /** The longest any single operation took, and what it was. */
  longest = { millis: 0, kind: 'read' as OpKind, at: 0 };
  #nextId = 1;
  #running = false;
  #loops: Array<Promise<void>> = [];
  readonly #waiters = new Set<Waiter>();

  constructor(
    private readonly split: SplitCluster,
    private readonly writers = 3,
    private readonly readers = 3,
  ) {}

  start(): void {
    this.#running = true;
    this.#loops = [
      ...Array.from({ length: this.writers }, (_, i) => this.#writeLoop(i)),
      ...Array.from({ length: this.readers }, () => this.#readLoop()),
    ];
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** The acknowledgement time of the first operation of one of `kinds` sent at or after `since`; null after `timeoutMillis`. */
  successAfter(kinds: readonly OpKind[], since: number, timeoutMillis: number): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        resolve(null);
      }, timeoutMillis);
      const waiter: Waiter = {
        kinds,
        since,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  async #timed<T>(kind: OpKind, op: () => Promise<T>): Promise<{ value: T; sentAt: number; at: number } | null> {
    const sentAt = Date.now();
    try {
      const value = await op();
      const at = Date.now();
      this.#finished(kind, sentAt, at);
      this.done[kind]++;
      for (const w of this.#waiters) {
        if (w.kinds.includes(kind) && sentAt >= w.since) {
          this.#waiters.delete(w);
          w.resolve(at);
        }
      }
      return { value, sentAt, at };
    } catch (err) {
      this.#finished(kind, sentAt, Date.now());
      this.failed[kind]++;
      const key = failureKey(err);
      const entry = this.failures.get(key);
      if (entry === undefined)
        this.failures.set(key, { key, count: 1, example: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err) });
      else entry.count++;
      return null;
    }
  }

  #finished(kind: OpKind, sentAt: number, at: number): void {
    if (at - sentAt > this.longest.millis) this.longest = { millis: at - sentAt, kind, at };
  }

  #record(ids: number[], result: { value: Who | undefined; sentAt: number; at: number } | null): void {
    if (result === null) return;
    this.acks.push({
      ids,
      sentAt: result.sentAt,
      at: result.at,
      server: result.value?.server ?? '?',
      timeline: Number(result.value?.timeline ?? -1),
    });
  }

  async #writeLoop(loop: number): Promise<void> {
    for (let n = 0; this.#running; n++) {
      if (n % 5 === 4) {
        const ids = [this.#nextId++, this.#nextId++];
        this.#record(ids, await this.#timed('transaction', () => this.#transaction(ids, loop)));
      } else {
        const id = this.#nextId++;
        this.#record([id], await this.#timed('write', async () => (await this.split.writer.query<Who>(INSERT, [id, loop])).rows[0]));
      }
      await pause(2);
    }
  }

  async #transaction(ids: readonly number[], loop: number): Promise<Who | undefined> {
    const client: pg.PoolClient = await this.split.writer.connect();
    try {
      await client.query('BEGIN');
      let who: Who | undefined;
      for (const id of ids) who = (await client.query<Who>(INSERT, [id, loop])).rows[0];
      await client.query('COMMIT');
      client.release();
      return who;
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  async #readLoop(): Promise<void> {
    while (this.#running) {
      await this.#timed('read', () => this.split.reader.query(READ));
      await pause(2);
    }
  }
}
