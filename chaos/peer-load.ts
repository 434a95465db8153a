import postgres from 'postgres';
import type { Cluster } from '@pg-split/harness';
import type { WriteAck } from './invariants.js';
import { INSERT } from './mixed-load.js';

/** Where the peer's ids start, so its rows never collide with pg-split's. */
const PEER_FIRST_ID = 1_000_000_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The same write load through postgres.js with target_session_attrs=primary
 * on the same hosts: two loops, one insert at a time, each acknowledgement
 * recorded with the server and timeline that committed it.
 */
export class PeerWriteLoad {
  readonly acks: WriteAck[] = [];
  failed = 0;
  longestMillis = 0;
  readonly #sql: postgres.Sql;
  #nextId = PEER_FIRST_ID;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(cluster: Cluster) {
    const options = {
      host: cluster.nodes.map((n) => n.host),
      port: cluster.nodes.map(() => cluster.port),
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'primary',
      connect_timeout: 2,
      max: 2,
      onnotice: () => undefined,
      connection: { application_name: 'pgsplit-chaos-peer' },
    };
    this.#sql = postgres(options as unknown as postgres.Options<Record<string, never>>);
  }

  start(): void {
    this.#running = true;
    this.#loops = [this.#loop(), this.#loop()];
  }

  /** Stops the loops (a query stuck on a frozen or stale server is abandoned after 5 s) and closes the client. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.race([Promise.all(this.#loops), sleep(5000)]);
    await this.#sql.end({ timeout: 1 }).catch(() => undefined);
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const id = this.#nextId++;
      const sentAt = Date.now();
      try {
        const [row] = await this.#sql.unsafe<Array<{ server: string; timeline: number }>>(INSERT, [id, -1]);
        this.acks.push({ ids: [id], sentAt, at: Date.now(), server: row?.server ?? '?', timeline: Number(row?.timeline ?? -1) });
      } catch {
        this.failed++;
        await sleep(5);
      }
      this.longestMillis = Math.max(this.longestMillis, Date.now() - sentAt);
      await sleep(2);
    }
  }
}
