/**
 * pg-split and HAProxy (configured as Patroni ships it) side by side on one
 * Patroni cluster, through the same faults: a planned switchover, a crashed
 * leader host (kill -9 of its Patroni and PostgreSQL) and a frozen leader
 * (SIGSTOP of its Patroni and postmaster for 25 s). Every client writes and
 * reads at once; who acknowledged a write is asked of the server, and what
 * survived is read from Patroni's final leader. Then the per-statement cost of
 * HAProxy's extra hop against pg-split's direct connections.
 */
import pg from 'pg';
import { startHaproxy, startPatroniCluster, type PatroniCluster, type PatroniMember } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../src/split/connect-split.js';
import { ReadLoad } from '../test/support/read-load.js';
import { missingAcks, WriteLoad, writesTable, type Ack } from '../test/support/write-load.js';
import { percentile } from './stats.js';

type Fault = 'switchover' | 'leader host crash' | 'frozen leader (25 s)';
const FAULTS: readonly Fault[] = ['switchover', 'leader host crash', 'frozen leader (25 s)'];

interface Client {
  readonly name: string;
  readonly table: string;
  readonly writes: WriteLoad;
  readonly reads: ReadLoad;
  end(): Promise<void>;
}

export interface FaultResult {
  readonly fault: Fault;
  readonly client: string;
  /** Per round: the longest time without an acknowledged write that survived, around the fault. */
  readonly unavailableMillis: number[];
  readonly failedWrites: number;
  readonly failedReads: number;
  /** Acknowledged writes missing from Patroni's final leader, acknowledged by a leader Patroni replaced. */
  readonly lostToClient: number;
  /** ... acknowledged on a timeline Patroni itself discarded (its thawed old leader took the lock back). */
  readonly lostToOrchestrator: number;
}

export interface HopResult {
  readonly client: string;
  readonly qps: number;
  readonly p50: number;
  readonly p99: number;
}

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

function client(name: string, table: string, writer: pg.Pool, reader: pg.Pool, end: () => Promise<void>): Client {
  return { name, table, writes: new WriteLoad(writer, 2, 5, table), reads: new ReadLoad(reader, 2, 5), end };
}

async function pgSplitClient(name: string, table: string, url: string, options: Parameters<typeof connectSplit>[1]): Promise<Client> {
  const split: SplitCluster = await connectSplit(url, { failoverTimeoutMillis: 90_000, ...options });
  return client(name, table, split.writer, split.reader, () => split.end());
}

function haproxyClient(table: string, host: string, primaryPort: number, replicaPort: number): Client {
  const base = { host, user: 'postgres', database: 'postgres', max: 4, connectionTimeoutMillis: 10_000 };
  const writer = new pg.Pool({ ...base, port: primaryPort });
  const reader = new pg.Pool({ ...base, port: replicaPort });
  for (const pool of [writer, reader]) pool.on('error', () => undefined);
  return client('HAProxy + Patroni', table, writer, reader, async () => {
    await Promise.all([writer.end(), reader.end()]);
  });
}

/** The longest stretch in [from, to] with no acknowledged write that survived. */
function longestGap(acks: readonly Ack[], lost: ReadonlySet<number>, from: number, to: number): number {
  const times = acks
    .filter((a) => !lost.has(a.id) && a.at >= from && a.at <= to)
    .map((a) => a.at)
    .sort((a, b) => a - b);
  let gap = 0;
  let last = from;
  for (const t of times) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

async function injectFault(cluster: PatroniCluster, fault: Fault, leader: PatroniMember): Promise<void> {
  if (fault === 'switchover') {
    await cluster.switchover();
  } else if (fault === 'leader host crash') {
    await leader.kill9Patroni();
    await leader.kill9Postgres();
  } else {
    await leader.freeze('patroni-and-postmaster');
    await sleep(25_000);
    leader.thaw();
  }
}

/** Waits until each client has a write acknowledged by `leader` sent after `since`; resolves with the latest such time. */
async function allReach(clients: readonly Client[], leader: PatroniMember, since: number, timeoutMillis: number): Promise<number> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const firsts = clients.map((c) => c.writes.acks.find((a) => a.sentAt > since && a.server === leader.host)?.at);
    if (firsts.every((t) => t !== undefined)) return Math.max(...firsts.filter((t) => t !== undefined));
    if (Date.now() > deadline) return Date.now();
    await sleep(50);
  }
}

async function oneFault(
  cluster: PatroniCluster,
  clients: readonly Client[],
  fault: Fault,
  results: Map<string, FaultResult>,
): Promise<void> {
  const old = await cluster.waitUntilSettled({ timeoutMillis: 180_000 });
  const counts = clients.map((c) => ({
    acks: c.writes.acks.length,
    failedWrites: c.writes.failures.length,
    failedReads: c.reads.failures.length,
  }));
  await sleep(2000);
  const started = Date.now();
  await injectFault(cluster, fault, old);
  // A frozen leader may keep (or take back) its lock; the other faults move it.
  const settle = fault === 'frozen leader (25 s)' ? { timeoutMillis: 180_000 } : { not: old, timeoutMillis: 180_000 };
  const leader = await cluster.waitUntilSettled(settle).catch(() => cluster.heal());
  const reached = await allReach(clients, leader, Date.now(), 60_000);
  await sleep(1000);
  const discarded = fault === 'frozen leader (25 s)' && leader === old;
  for (const [i, c] of clients.entries()) {
    const acks = c.writes.acks.slice(counts[i]?.acks ?? 0);
    const rows = await leader.query<{ id: string }>(`SELECT id::text FROM ${c.table}`);
    const lost = await missingAcks(acks, rows);
    const byId = new Map(acks.map((a) => [a.id, a]));
    const onOthers = lost.filter((id) => byId.get(id)?.server !== old.host).length;
    const r = results.get(`${fault}|${c.name}`) ?? {
      fault,
      client: c.name,
      unavailableMillis: [],
      failedWrites: 0,
      failedReads: 0,
      lostToClient: 0,
      lostToOrchestrator: 0,
    };
    results.set(`${fault}|${c.name}`, {
      ...r,
      unavailableMillis: [...r.unavailableMillis, longestGap(acks, new Set(lost), started - 1000, reached + 1000)],
      failedWrites: r.failedWrites + c.writes.failures.length - (counts[i]?.failedWrites ?? 0),
      failedReads: r.failedReads + c.reads.failures.length - (counts[i]?.failedReads ?? 0),
      // On a discarded timeline the writes lost are those the promoted member acknowledged; otherwise those the replaced leader did.
      lostToClient: r.lostToClient + (discarded ? lost.length - onOthers : lost.length),
      lostToOrchestrator: r.lostToOrchestrator + (discarded ? onOthers : 0),
    });
  }
  await cluster.heal();
}

async function selectLoad(pool: pg.Pool, seconds: number, concurrency: number): Promise<HopResult & { client: '' }> {
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        await pool.query('SELECT 1');
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { client: '', qps: Math.round(latencies.length / seconds), p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** HAProxy's extra hop: the same SELECT 1 load through HAProxy's listeners and through pg-split's pools, alternating, median of the rounds. */
async function measureHop(cluster: PatroniCluster, primaryPort: number, replicaPort: number): Promise<HopResult[]> {
  const split = await connectSplit(cluster.url(), { patroni: { port: cluster.apiPort }, writer: { max: 8 }, reader: { max: 8 } });
  const base = { host: '127.0.0.1', user: 'postgres', database: 'postgres', max: 8 };
  const viaPrimary = new pg.Pool({ ...base, port: primaryPort });
  const viaReplicas = new pg.Pool({ ...base, port: replicaPort });
  const targets: Array<[string, pg.Pool]> = [
    ['pg-split writer (direct)', split.writer],
    ['HAProxy primary listener', viaPrimary],
    ['pg-split reader (direct)', split.reader],
    ['HAProxy replica listener', viaReplicas],
  ];
  const runs = new Map<string, HopResult[]>();
  try {
    for (let round = 0; round < 4; round++) {
      for (const [name, pool] of targets) runs.set(name, [...(runs.get(name) ?? []), { ...(await selectLoad(pool, 3, 8)), client: name }]);
    }
  } finally {
    await Promise.all([split.end(), viaPrimary.end(), viaReplicas.end()]);
  }
  return targets.map(([name]) => {
    const rs = runs.get(name) ?? [];
    const median = (f: (r: HopResult) => number): number =>
      percentile(
        rs.map(f).sort((a, b) => a - b),
        0.5,
      );
    return { client: name, qps: median((r) => r.qps), p50: median((r) => r.p50), p99: median((r) => r.p99) };
  });
}

export async function measurePatroniVsHaproxy(rounds: number): Promise<{ faults: FaultResult[]; hop: HopResult[] }> {
  // etcd's v2 API: on etcd3, Patroni 3.0.2 can give a thawed leader its lock back and discard the promoted
  // member's timeline (docs/patroni.md), a loss no client can avoid, which would blur what this compares.
  const cluster = await startPatroniCluster({ members: 3, dcs: 'etcd' });
  try {
    const haproxy = await startHaproxy(cluster);
    const leader = await cluster.waitUntilSettled();
    const tables = ['w_patroni', 'w_own', 'w_haproxy'];
    for (const t of tables) await leader.query(writesTable(t));
    await cluster.waitUntilSettled();
    await sleep(7000); // HAProxy needs `rise 2` good checks (3 s apart) before it routes.
    const clients = [
      await pgSplitClient('pg-split, patroni option', 'w_patroni', cluster.url(), { patroni: { port: cluster.apiPort } }),
      await pgSplitClient('pg-split, own checks only', 'w_own', cluster.url(), {}),
      haproxyClient('w_haproxy', haproxy.host, haproxy.primaryPort, haproxy.replicaPort),
    ];
    const results = new Map<string, FaultResult>();
    for (const c of clients) {
      c.writes.start();
      c.reads.start();
    }
    try {
      for (let round = 0; round < rounds; round++) {
        for (const fault of FAULTS) {
          await oneFault(cluster, clients, fault, results);
          console.log(`patroni vs haproxy: round ${round + 1}/${rounds}, ${fault} done`);
        }
      }
    } finally {
      for (const c of clients) {
        await c.writes.stop();
        await c.reads.stop();
        await c.end();
      }
    }
    const hop = await measureHop(cluster, haproxy.primaryPort, haproxy.replicaPort);
    return { faults: [...results.values()], hop };
  } finally {
    await cluster.destroy();
  }
}
