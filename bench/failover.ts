/**
 * Failover, repeated: on a fresh primary + 2 standbys each run, pg-split's
 * writer and postgres.js (target_session_attrs=primary) write side by side;
 * the primary is stopped, a standby promoted 500 ms later. Measured per
 * client: time from the end of the promotion to its first acknowledged write,
 * and acknowledged writes missing from the new primary.
 */
import postgres from 'postgres';
import { startCluster } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';

export interface FailoverRun {
  readonly pgSplitResumeMillis: number;
  readonly postgresJsResumeMillis: number;
  readonly pgSplitLost: number;
  readonly postgresJsLost: number;
}

type Insert = (id: number) => Promise<void>;

function load(insert: Insert, base: number): { acks: Array<{ id: number; at: number }>; stop: () => Promise<void> } {
  const acks: Array<{ id: number; at: number }> = [];
  let running = true;
  let next = base;
  const loop = async (): Promise<void> => {
    while (running) {
      const id = next++;
      try {
        await insert(id);
        acks.push({ id, at: Date.now() });
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const loops = [loop(), loop()];
  return {
    acks,
    stop: async () => {
      running = false;
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 3000))]);
    },
  };
}

async function oneFailover(): Promise<FailoverRun> {
  const cluster = await startCluster({ standbys: 2 });
  try {
    await cluster.primary.query('CREATE TABLE w (id bigint PRIMARY KEY)');
    await cluster.waitForReplication();
    const split = await connectSplit(cluster.conninfo());
    const sql = postgres({
      host: cluster.nodes.map((n) => n.host),
      port: cluster.nodes.map(() => cluster.port),
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'primary',
      max: 2,
      connect_timeout: 2,
      onnotice: () => undefined,
    } as unknown as postgres.Options<Record<string, never>>);
    const ours = load(async (id) => void (await split.writer.query('INSERT INTO w VALUES ($1)', [id])), 1);
    const theirs = load(async (id) => void (await sql`INSERT INTO w VALUES (${id})`), 1_000_000_000);
    await new Promise((r) => setTimeout(r, 500));
    await cluster.primary.stop('fast');
    await new Promise((r) => setTimeout(r, 500));
    const [next, other] = cluster.standbys;
    await next!.promote();
    const promotedAt = Date.now();
    await other!.follow(next!);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(ours.acks.some((a) => a.at > promotedAt) && theirs.acks.some((a) => a.at > promotedAt)))
      await new Promise((r) => setTimeout(r, 5));
    await Promise.all([ours.stop(), theirs.stop()]);
    const present = new Set((await next!.query<{ id: string }>('SELECT id::text FROM w')).map((r) => Number(r.id)));
    const resume = (acks: Array<{ at: number }>): number => (acks.find((a) => a.at > promotedAt)?.at ?? Number.NaN) - promotedAt;
    await split.end();
    await sql.end({ timeout: 1 }).catch(() => undefined);
    return {
      pgSplitResumeMillis: resume(ours.acks),
      postgresJsResumeMillis: resume(theirs.acks),
      pgSplitLost: ours.acks.filter((a) => !present.has(a.id)).length,
      postgresJsLost: theirs.acks.filter((a) => !present.has(a.id)).length,
    };
  } finally {
    await cluster.destroy();
  }
}

export async function measureFailovers(runs = Number(process.env['PGSPLIT_BENCH_FAILOVERS'] ?? 20)): Promise<FailoverRun[]> {
  const results: FailoverRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await oneFailover());
  return results;
}
