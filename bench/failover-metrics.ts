/**
 * A failover as a dashboard sees it: pg-split's metrics, collected every
 * 100 ms through the OpenTelemetry SDK while a write and a read load run and
 * the primary is stopped and a standby promoted. Writes
 * docs/failover-metrics.svg (`npm run docs:metrics`).
 */
import { collect } from '../test/support/otel-sdk.js';
import { writeFileSync } from 'node:fs';
import type { DataPoint, Histogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { startCluster } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import { ReadLoad } from '../test/support/read-load.js';
import { WRITES_TABLE, WriteLoad } from '../test/support/write-load.js';

/** One collection, reduced to what the picture shows. */
interface Sample {
  readonly at: number;
  /** Per node: 'primary' | 'standby' | 'down', and whether the writer is there. */
  readonly nodes: ReadonlyMap<string, { state: string; writer: boolean; used: number }>;
  /** Checkout waits and their total seconds so far (cumulative). */
  readonly waits: number;
  readonly waitSeconds: number;
  readonly failovers: number;
}

type Points = Array<DataPoint<number>>;

function pointsOf(resource: ResourceMetrics, name: string): Points {
  return resource.scopeMetrics
    .filter((s) => s.scope.name === 'pg-split')
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as Points);
}

function sampleOf(resource: ResourceMetrics, at: number, hosts: readonly string[]): Sample {
  const value = (name: string, host: string, extra: Readonly<Record<string, string>> = {}): number =>
    pointsOf(resource, name)
      .filter((p) => p.attributes['server.address'] === host && Object.entries(extra).every(([k, v]) => p.attributes[k] === v))
      .reduce((s, p) => s + p.value, 0);
  const nodes = new Map(
    hosts.map((h) => {
      const state =
        value('pg_split.node.up', h) === 0
          ? 'down'
          : value('pg_split.node.role', h, { 'pg_split.node.role': 'primary' }) === 1
            ? 'primary'
            : 'standby';
      return [
        h,
        {
          state,
          writer: value('pg_split.node.serving', h, { 'pg_split.pool.role': 'writer' }) === 1,
          used: value('db.client.connection.count', h, { 'db.client.connection.state': 'used' }),
        },
      ];
    }),
  );
  const waits = pointsOf(resource, 'db.client.connection.wait_time') as unknown as Array<DataPoint<Histogram>>;
  return {
    at,
    nodes,
    waits: waits.reduce((s, p) => s + p.value.count, 0),
    waitSeconds: waits.reduce((s, p) => s + (p.value.sum ?? 0), 0),
    failovers: pointsOf(resource, 'pg_split.failovers').reduce((s, p) => s + p.value, 0),
  };
}

const WIDTH = 900;
const LEFT = 150;
const COLORS: Readonly<Record<string, string>> = { primary: '#2b6cb0', standby: '#38a169', down: '#a0aec0' };

function draw(samples: readonly Sample[], hosts: readonly string[], marks: ReadonlyArray<{ at: number; label: string }>): string {
  const endAt = samples[samples.length - 1]?.at ?? 1;
  const x = (t: number): number => LEFT + (t / endAt) * (WIDTH - LEFT - 20);
  const lane = 34;
  const chartTop = 40 + hosts.length * lane + 20;
  const chartHeight = 90;
  const height = chartTop + chartHeight + 40 + marks.length * 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ];
  hosts.forEach((host, i) => {
    const y = 40 + i * lane;
    out.push(`<text x="8" y="${y + 14}">${host}</text>`);
    samples.forEach((s, k) => {
      const next = samples[k + 1];
      if (next === undefined) return;
      const node = s.nodes.get(host);
      const w = Math.max(0.5, x(next.at) - x(s.at));
      out.push(`<rect x="${x(s.at).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="20" fill="${COLORS[node?.state ?? 'down']}"/>`);
      if (node?.writer === true)
        out.push(`<rect x="${x(s.at).toFixed(1)}" y="${y + 22}" width="${w.toFixed(1)}" height="5" fill="#1a202c"/>`);
    });
  });
  // Mean checkout wait per collection interval, in milliseconds, on a log scale from 0.01 ms to 10 s.
  const log = (ms: number): number => chartTop + chartHeight - ((Math.log10(Math.max(ms, 0.01)) + 2) / 6) * chartHeight;
  out.push(
    `<text x="8" y="${chartTop + 14}">mean checkout wait</text>`,
    `<text x="8" y="${chartTop + 30}" fill="#777">(log, per 100 ms)</text>`,
  );
  for (const ms of [0.01, 1, 100, 10_000])
    out.push(
      `<line x1="${LEFT}" y1="${log(ms).toFixed(1)}" x2="${WIDTH - 20}" y2="${log(ms).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${LEFT - 4}" y="${(log(ms) + 4).toFixed(1)}" text-anchor="end" fill="#777">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`,
    );
  const path: string[] = [];
  samples.forEach((s, k) => {
    const prev = samples[k - 1];
    if (prev === undefined || s.waits === prev.waits) return;
    const ms = ((s.waitSeconds - prev.waitSeconds) / (s.waits - prev.waits)) * 1000;
    path.push(`${path.length === 0 ? 'M' : 'L'}${x(s.at).toFixed(1)},${log(ms).toFixed(1)}`);
  });
  out.push(`<path d="${path.join(' ')}" fill="none" stroke="#c05621" stroke-width="1.5"/>`);
  const bottom = chartTop + chartHeight + 10;
  marks.forEach((m, i) => {
    out.push(
      `<line x1="${x(m.at).toFixed(1)}" y1="24" x2="${x(m.at).toFixed(1)}" y2="${bottom + i * 16}" stroke="#555" stroke-dasharray="3,3"/>`,
    );
    out.push(`<text x="${(x(m.at) + 4).toFixed(1)}" y="${bottom + 12 + i * 16}">${(m.at / 1000).toFixed(2)} s  ${m.label}</text>`);
  });
  for (let s = 0; s <= endAt / 1000; s++)
    out.push(`<text x="${x(s * 1000).toFixed(1)}" y="18" text-anchor="middle" fill="#777">${s} s</text>`);
  const legend = Object.entries(COLORS).map(
    ([name, color], i) =>
      `<rect x="${WIDTH - 330 + i * 80}" y="${height - 16}" width="10" height="10" fill="${color}"/><text x="${WIDTH - 316 + i * 80}" y="${height - 7}">${name}</text>`,
  );
  out.push(
    ...legend,
    `<rect x="${WIDTH - 90}" y="${height - 13}" width="14" height="5" fill="#1a202c"/><text x="${WIDTH - 72}" y="${height - 7}">writer</text>`,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export async function failoverMetrics(
  output = 'docs/failover-metrics.svg',
): Promise<{ samples: number; failovers: number; maxWaitMillis: number; downForMillis: number }> {
  const cluster = await startCluster({ standbys: 2 });
  try {
    await cluster.primary.query(WRITES_TABLE);
    await cluster.waitForReplication();
    const split = await connectSplit(cluster.conninfo());
    const hosts = cluster.nodes.map((n) => n.host);
    const t0 = Date.now();
    const samples: Sample[] = [];
    const marks: Array<{ at: number; label: string }> = [];
    const sampler = setInterval(() => void collect().then((r) => samples.push(sampleOf(r, Date.now() - t0, hosts))), 100);
    const writes = new WriteLoad(split.writer, 4, 5);
    const reads = new ReadLoad(split.reader, 2);
    writes.start();
    reads.start();
    await new Promise((r) => setTimeout(r, 1500));
    const [next, other] = cluster.standbys;
    marks.push({ at: Date.now() - t0, label: `primary ${cluster.primary.host} stopped (fast)` });
    await cluster.primary.stop('fast');
    await new Promise((r) => setTimeout(r, 700));
    marks.push({ at: Date.now() - t0, label: `pg_ctl promote ${next?.host ?? ''}` });
    await next?.promote();
    await other?.follow(next!);
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all([writes.stop(), reads.stop()]);
    clearInterval(sampler);
    samples.push(sampleOf(await collect(), Date.now() - t0, hosts));
    writeFileSync(output, draw(samples, hosts, marks));
    await split.end();
    const last = samples[samples.length - 1];
    const intervals = samples
      .slice(1)
      .map((s, k) => ({ s, prev: samples[k]! }))
      .filter(({ s, prev }) => s.waits > prev.waits);
    const maxWaitMillis = Math.max(...intervals.map(({ s, prev }) => ((s.waitSeconds - prev.waitSeconds) / (s.waits - prev.waits)) * 1000));
    const writerless = samples.filter((s) => ![...s.nodes.values()].some((n) => n.writer));
    return {
      samples: samples.length,
      failovers: last?.failovers ?? 0,
      maxWaitMillis: Math.round(maxWaitMillis),
      downForMillis: writerless.length * 100,
    };
  } finally {
    await cluster.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await failoverMetrics()));
}
