/**
 * One process of a fleet (bench/fleet.ts): `count` connectSplit instances,
 * started one every `startEveryMillis` as a rolling deploy starts pods, each
 * making one write and one read and then left alone. On "round" (a line on
 * stdin) every instance in turn makes one write and one read again. Each
 * answer says which server ran it, as the server reports it. Lines out are
 * JSON; nothing here decides what is right (the parent checks).
 */
import { createInterface } from 'node:readline';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';

interface Job {
  readonly url: string;
  readonly count: number;
  readonly startEveryMillis: number;
  readonly idleAfterMillis: number;
  /** More connectSplit options (JSON): `patroni`, say. */
  readonly options?: object;
}

const WHO = 'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby';

async function round(split: SplitCluster): Promise<{ write: string; read: string; readStandby: boolean; millis: number }> {
  const started = Date.now();
  const w = await split.writer.query<{ host: string }>('INSERT INTO fleet_writes (host) VALUES (host(inet_server_addr())) RETURNING host');
  const r = await split.reader.query<{ host: string; standby: boolean }>(WHO);
  return {
    write: w.rows[0]?.host ?? '',
    read: r.rows[0]?.host ?? '',
    readStandby: r.rows[0]?.standby === true,
    millis: Date.now() - started,
  };
}

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const splits: SplitCluster[] = [];
  for (let i = 0; i < job.count; i++) {
    const started = Date.now();
    const split = await connectSplit(job.url, { ...job.options, idleAfterMillis: job.idleAfterMillis });
    splits.push(split);
    send({ kind: 'started', result: await round(split) });
    await new Promise((r) => setTimeout(r, Math.max(0, job.startEveryMillis - (Date.now() - started))));
  }
  global.gc?.();
  send({ kind: 'ready', heapPerInstance: Math.round((process.memoryUsage().heapUsed - heapBefore) / Math.max(1, job.count)) });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'round') {
      // Paced as the start was: the instances woken in the last idleAfterMillis hold sessions, the others none.
      for (const split of splits) {
        const started = Date.now();
        try {
          send({ kind: 'round', result: await round(split) });
        } catch (err) {
          send({ kind: 'round', error: `${(err as { code?: string }).code ?? ''} ${err instanceof Error ? err.message : String(err)}` });
        }
        await new Promise((r) => setTimeout(r, Math.max(0, job.startEveryMillis - (Date.now() - started))));
      }
      send({ kind: 'round-done' });
    } else if (line === 'end') {
      await Promise.all(splits.map((s) => s.end()));
      send({ kind: 'ended' });
      return;
    }
  }
}

await main();
