/**
 * One process of a fleet (bench/fleet.ts): `count` connectSplit instances,
 * started one every `startEveryMillis` as a rolling deploy starts pods, each
 * making one write and one read and then left alone. On "round" (a line on
 * stdin) every instance in turn makes one write and one read again. On
 * "soak <millis>" every instance makes a write and a read at random times, a
 * mean of `millis` apart (a light load on a fleet), until "stop". Each
 * answer says which server ran it, as the server reports it, and when. Lines
 * out are JSON; nothing here decides what is right (the parent checks).
 * With `haproxy`, an instance is what an application without pg-split runs
 * behind HAProxy: a plain pg.Pool for writes and one for reads, on one of
 * the HAProxy instances (the instances take them in turn). Each `failover`
 * an instance decides is a line too (when, to which host), and "stopped"
 * says how late the process's event loop ran timers during the soak and how
 * much CPU it used: what tells pg-split's decision from a busy client.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { connectSplit } from '../src/split/connect-split.js';
import type { Round } from './fleet.js';

/** What an instance writes and reads through: a SplitCluster, or two plain pools behind HAProxy. */
interface Instance {
  readonly writer: Pick<pg.Pool, 'query'>;
  readonly reader: Pick<pg.Pool, 'query'>;
  end(): Promise<void>;
}

interface Job {
  readonly url: string;
  readonly count: number;
  readonly startEveryMillis: number;
  readonly idleAfterMillis: number;
  /** More connectSplit options (JSON): `patroni`, say. */
  readonly options?: object;
  /** Instead of connectSplit: plain pg.Pools on these HAProxy listeners (connection strings), instance i on entry i % length. */
  readonly haproxy?: ReadonlyArray<{ readonly writer: string; readonly reader: string }>;
}

const WHO = 'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby';

let writes = 0;

async function round(split: Instance, instance: number): Promise<Round> {
  const started = Date.now();
  const token = `${process.pid}-${instance}-${writes++}`;
  const w = await split.writer.query<{ host: string }>(
    'INSERT INTO fleet_writes (host, token) VALUES (host(inet_server_addr()), $1) RETURNING host',
    [token],
  );
  const writeAt = Date.now();
  const r = await split.reader.query<{ host: string; standby: boolean }>(WHO);
  return {
    write: w.rows[0]?.host ?? '',
    token,
    writeSentAt: started,
    writeAt,
    read: r.rows[0]?.host ?? '',
    readStandby: r.rows[0]?.standby === true,
    millis: Date.now() - started,
  };
}

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const errorText = (err: unknown): string => `${(err as { code?: string }).code ?? ''} ${err instanceof Error ? err.message : String(err)}`;

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

/** One instance's light load: a round at random times, `meanMillis` apart on average (the first within one mean), until `running()` is false. */
async function soak(split: Instance, instance: number, meanMillis: number, running: () => boolean): Promise<void> {
  let wait = Math.random() * meanMillis;
  while (running()) {
    await sleep(Math.min(wait, 1000));
    wait -= 1000;
    if (wait > 0) continue;
    try {
      send({ kind: 'soak', instance, result: await round(split, instance) });
    } catch (err) {
      send({ kind: 'soak', instance, error: errorText(err), at: Date.now() });
    }
    wait = -Math.log(1 - Math.random()) * meanMillis;
  }
}

/** Two plain pools on one HAProxy instance, closing connections idle for `idleTimeoutMillis` as connectSplit's sleep does (0: never). */
function behindHaproxy(listeners: { readonly writer: string; readonly reader: string }, idleTimeoutMillis: number): Instance {
  const writer = new pg.Pool({ connectionString: listeners.writer, idleTimeoutMillis, max: 10 });
  const reader = new pg.Pool({ connectionString: listeners.reader, idleTimeoutMillis, max: 10 });
  // A session HAProxy shuts down (its server marked down) is an error on an idle client: the pool drops it.
  writer.on('error', () => undefined);
  reader.on('error', () => undefined);
  return { writer, reader, end: async () => void (await Promise.all([writer.end(), reader.end()])) };
}

async function openInstance(job: Job, i: number): Promise<Instance> {
  const listeners = job.haproxy?.[i % job.haproxy.length];
  if (listeners !== undefined) return behindHaproxy(listeners, job.idleAfterMillis);
  const split = await connectSplit(job.url, { ...job.options, idleAfterMillis: job.idleAfterMillis });
  split.on('failover', (event) => send({ kind: 'failover', instance: i, host: event.host, at: Date.now() }));
  return split;
}

/** How late timers ran (event-loop delay, p99 and worst, ms) and the CPU used (ms), from `soak` to `stop`. */
function loadMeter(): () => { loopDelayP99Millis: number; loopDelayMaxMillis: number; cpuMillis: number } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu = process.cpuUsage();
  return () => {
    delay.disable();
    const used = process.cpuUsage(cpu);
    return {
      loopDelayP99Millis: Math.round(delay.percentile(99) / 1e5) / 10,
      loopDelayMaxMillis: Math.round(delay.max / 1e5) / 10,
      cpuMillis: Math.round((used.user + used.system) / 1000),
    };
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const splits: Instance[] = [];
  for (let i = 0; i < job.count; i++) {
    const started = Date.now();
    const split = await openInstance(job, i);
    splits.push(split);
    try {
      send({ kind: 'started', result: await round(split, i) });
    } catch (err) {
      send({ kind: 'started', error: errorText(err) });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, job.startEveryMillis - (Date.now() - started))));
  }
  global.gc?.();
  send({ kind: 'ready', heapPerInstance: Math.round((process.memoryUsage().heapUsed - heapBefore) / Math.max(1, job.count)) });
  let soaking: Promise<void[]> | null = null;
  let running = false;
  let load: ReturnType<typeof loadMeter> | null = null;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.startsWith('soak ')) {
      running = true;
      load = loadMeter();
      soaking = Promise.all(splits.map((split, i) => soak(split, i, Number(line.slice(5)), () => running)));
    } else if (line === 'stop') {
      running = false;
      await soaking;
      send({ kind: 'stopped', load: load?.() });
    } else if (line === 'round') {
      // Paced as the start was: the instances woken in the last idleAfterMillis hold sessions, the others none.
      for (const [i, split] of splits.entries()) {
        const started = Date.now();
        try {
          send({ kind: 'round', result: await round(split, i) });
        } catch (err) {
          send({ kind: 'round', error: errorText(err) });
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
