/**
 * What connectSplit holds as the cluster grows: sessions on the servers
 * (pg_stat_activity) and JavaScript heap, for 1 to 16 hosts, after a burst
 * of reads and writes; next to a plain pg.Pool on one host.
 */
import pg from 'pg';
import { startCluster } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';

export interface ScalingRow {
  readonly hosts: number;
  readonly client: string;
  readonly sessions: number;
  readonly heapKiB: number;
}

const APP = 'pgsplit-scaling';

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

async function burst(writer: pg.Pool, reader: pg.Pool): Promise<void> {
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = 0; i < 10; i++) {
        await writer.query('SELECT 1');
        await reader.query('SELECT 1');
      }
    }),
  );
}

export async function measureScaling(sizes = [1, 2, 4, 8, 16]): Promise<ScalingRow[]> {
  const cluster = await startCluster({ standbys: Math.max(...sizes) - 1 });
  const rows: ScalingRow[] = [];
  try {
    const sessions = async (): Promise<number> => {
      let n = 0;
      for (const node of cluster.nodes)
        n += Number(
          (await node.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [APP]))[0]?.n ?? 0,
        );
      return n;
    };
    const before = heap();
    const plain = new pg.Pool({
      host: cluster.primary.host,
      port: cluster.port,
      user: 'postgres',
      database: 'postgres',
      application_name: APP,
      max: 10,
    });
    await burst(plain, plain);
    rows.push({ hosts: 1, client: 'pg.Pool (one host)', sessions: await sessions(), heapKiB: Math.round((heap() - before) / 1024) });
    await plain.end();
    for (const size of sizes) {
      const start = heap();
      const split = await connectSplit(cluster.conninfo(cluster.nodes.slice(0, size), { application_name: APP }), {
        writer: { max: 10 },
        reader: { max: 10 },
      });
      await burst(split.writer, split.reader);
      rows.push({
        hosts: size,
        client: 'pg-split (writer + reader, max 10 per node)',
        sessions: await sessions(),
        heapKiB: Math.round((heap() - start) / 1024),
      });
      await split.end();
    }
    return rows;
  } finally {
    await cluster.destroy();
  }
}
