// The SDK and pg's instrumentation first: they must be in place before pg loads.
import { collect, spans } from '../support/otel-sdk.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { findFreePort, SECURE_PASSWORD, SECURE_ROLE, startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import { connectSplit } from '../../src/split/connect-split.js';
import { mostAdvanced } from '../support/failover.js';
import { runScript, SPLIT_MODULE } from '../support/run-script.js';
import { until } from '../support/until.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  await cluster.primary.query('CREATE TABLE seen (id bigint PRIMARY KEY, host text NOT NULL)');
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

const queryText = (span: ReadableSpan): string | undefined => {
  const text = span.attributes['db.query.text'] ?? span.attributes['db.statement'];
  return typeof text === 'string' ? text : undefined;
};

function metric(resource: ResourceMetrics, name: string): MetricData | undefined {
  return resource.scopeMetrics
    .filter((s) => s.scope.name === 'pg-split')
    .flatMap((s) => s.metrics)
    .find((m) => m.descriptor.name === name);
}

function points(resource: ResourceMetrics, name: string): Array<DataPoint<number>> {
  return (metric(resource, name)?.dataPoints ?? []) as Array<DataPoint<number>>;
}

/** The value of a metric's point whose attributes include `match`. */
function valueAt(resource: ResourceMetrics, name: string, match: Readonly<Record<string, string | number>>): number | undefined {
  const point = points(resource, name).find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return point?.value;
}

test(
  "each application statement has a span naming the node the server says answered; pg-split's own statements have none",
  { timeout: 120_000 },
  async (t) => {
    spans.reset();
    const sp = await connectSplit(cluster.conninfo(), { recheckMillis: 100, consistency: 'session' });
    t.after(() => sp.end());
    let appConnections = 0;
    sp.writer.on('connect', () => appConnections++);
    sp.reader.on('connect', () => appConnections++);
    const answeredBy = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const write = `INSERT INTO seen VALUES (${i}, host(inet_server_addr())) RETURNING host`;
      answeredBy.set(write, (await sp.writer.query<{ host: string }>(write)).rows[0]?.host ?? '');
      // A read after a write: pg-split fetches a write token and may ask a standby how far it replayed.
      const read = `SELECT host(inet_server_addr()) AS host, ${i} AS n`;
      answeredBy.set(read, (await sp.reader.query<{ host: string }>(read)).rows[0]?.host ?? '');
    }
    await sleep(2000); // twenty rounds of status checks on every node
    const { freshness } = sp.topology();
    assert.ok(freshness.reads >= 40, `reads after writes were not served as such: ${JSON.stringify(freshness)}`);

    const finished = spans.getFinishedSpans();
    const querySpans = finished.filter((s) => queryText(s) !== undefined);
    const ours = querySpans.filter((s) => !answeredBy.has(queryText(s) ?? ''));
    assert.deepEqual(ours.map(queryText), [], "spans from pg-split's own statements");
    for (const [text, host] of answeredBy) {
      const matching = querySpans.filter((s) => queryText(s) === text);
      assert.equal(matching.length, 1, `spans for ${text}`);
      assert.equal(matching[0]?.attributes['server.address'], host, `the span of ${text} names another node than the one that answered`);
    }
    assert.ok(new Set([...answeredBy.values()]).size >= 2, 'reads and writes should have reached more than one node');
    const connectSpans = finished.filter((s) => s.name === 'pg.connect');
    assert.equal(connectSpans.length, appConnections, "connect spans other than the pools' own connections (the monitors' sessions)");
  },
);

/** Checkout waits recorded so far (histogram counts are cumulative). */
function checkoutWaits(resource: ResourceMetrics): number {
  const waits = (metric(resource, 'db.client.connection.wait_time')?.dataPoints ?? []) as Array<DataPoint<Histogram>>;
  return waits.reduce((sum, p) => sum + p.value.count, 0);
}

test(
  "metrics follow a failover: roles, the writer's node, lag, connections, checkout waits, failovers",
  { timeout: 180_000 },
  async (t) => {
    const sp = await connectSplit(cluster.conninfo(), { recheckMillis: 100, failoverTimeoutMillis: 30_000 });
    t.after(() => sp.end());
    const old = cluster.primary;
    const waitsBefore = checkoutWaits(await collect());
    for (let i = 0; i < 20; i++) {
      await sp.writer.query('SELECT 1');
      await sp.reader.query('SELECT 1');
    }
    await until('every standby has a lag figure', () =>
      sp.topology().nodes.every((n) => n.role !== 'standby' || n.replayLagBytes !== null),
    );
    const node = (n: ClusterNode) => ({ 'server.address': n.host, 'server.port': n.port });
    const before = await collect();
    assert.equal(valueAt(before, 'pg_split.node.role', { ...node(old), 'pg_split.node.role': 'primary' }), 1);
    assert.equal(valueAt(before, 'pg_split.node.serving', { ...node(old), 'pg_split.pool.role': 'writer' }), 1);
    for (const s of cluster.standbys) {
      assert.equal(valueAt(before, 'pg_split.node.role', { ...node(s), 'pg_split.node.role': 'standby' }), 1);
      assert.equal(valueAt(before, 'pg_split.node.serving', { ...node(s), 'pg_split.pool.role': 'writer' }), 0);
      assert.equal(typeof valueAt(before, 'pg_split.replica.replay_lag.size', node(s)), 'number', 'no lag for a standby');
      assert.equal(valueAt(before, 'pg_split.node.up', node(s)), 1);
    }
    const used = points(before, 'db.client.connection.count');
    const names = new Set(used.map((p) => p.attributes['db.client.connection.pool.name']));
    assert.ok(names.has(`writer@${old.host}:${old.port}/postgres`), [...names].join(', '));
    assert.ok(
      used.every((p) => p.attributes['db.client.connection.state'] === 'idle' || p.attributes['db.client.connection.state'] === 'used'),
    );
    const idleOnWriter = valueAt(before, 'db.client.connection.count', {
      'db.client.connection.pool.name': `writer@${old.host}:${old.port}/postgres`,
      'db.client.connection.state': 'idle',
    });
    assert.equal(idleOnWriter, sp.writer.idleCount);
    assert.equal(checkoutWaits(before) - waitsBefore, 40, 'one checkout wait recorded per statement');
    assert.equal(
      points(before, 'pg_split.failovers').reduce((sum, p) => sum + p.value, 0),
      0,
    );

    const next = await mostAdvanced(cluster.standbys);
    await old.stop('fast');
    await next.promote();
    await until(
      'the writer is on the promoted node',
      async () => (await sp.writer.query<{ host: string }>('SELECT host(inet_server_addr()) AS host')).rows[0]?.host === next.host,
    );
    await until('the old primary is seen down', () => sp.topology().nodes.some((n) => n.host === old.host && !n.reachable));
    const afterwards = await collect();
    assert.equal(valueAt(afterwards, 'pg_split.node.role', { ...node(next), 'pg_split.node.role': 'primary' }), 1);
    assert.equal(valueAt(afterwards, 'pg_split.node.serving', { ...node(next), 'pg_split.pool.role': 'writer' }), 1);
    assert.equal(valueAt(afterwards, 'pg_split.node.serving', { ...node(old), 'pg_split.pool.role': 'writer' }), 0);
    assert.equal(valueAt(afterwards, 'pg_split.node.up', node(old)), 0);
    assert.equal(valueAt(afterwards, 'pg_split.node.role', { ...node(old), 'pg_split.node.role': 'primary' }), 0);
    assert.equal(valueAt(afterwards, 'pg_split.failovers', node(next)), 1);
  },
);

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a node child from the package root (so `pg-split` resolves to this package) and collects its output. */
function child(args: readonly string[], env: Readonly<Record<string, string>>): { process: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { process: proc, output: () => output };
}

async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
}

/** `name{...} value` lines of a Prometheus text scrape whose labels include every `labels` pair. */
function scraped(text: string, name: string, labels: Readonly<Record<string, string>>): number[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
}

test('without @opentelemetry/api installed, pg-split records nothing and works as before', { timeout: 60_000 }, async () => {
  // A resolve hook that makes the package missing, as in an application that never installed it.
  const hook = `data:text/javascript,${encodeURIComponent(`export async function resolve(s, c, next) { if (s.startsWith('@opentelemetry/')) { const e = new Error('Cannot find package ' + s); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }`)}`;
  const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
  const app = `
    import { connectSplit } from 'pg-split';
    await import('@opentelemetry/api').then(() => { throw new Error('the API is still there'); }, () => undefined);
    const sp = await connectSplit(process.env.DATABASE_URL);
    const writer = (await sp.writer.query('SELECT pg_is_in_recovery() AS r')).rows[0].r;
    const reader = (await sp.reader.query('SELECT pg_is_in_recovery() AS r')).rows[0].r;
    await sp.end();
    console.log(JSON.stringify({ writer, reader }));`;
  const run = child(['--import', register, '--input-type=module', '-e', app], { DATABASE_URL: cluster.url() });
  const [code] = (await once(run.process, 'exit')) as [number | null];
  assert.equal(code, 0, run.output());
  assert.deepEqual(JSON.parse(run.output().trim().split('\n').pop() ?? '{}'), { writer: false, reader: true }, run.output());
});

test(
  "the recipe: OpenTelemetry's Node SDK with a Prometheus exporter shows the primary change in a scrape",
  { timeout: 120_000 },
  async (t) => {
    const own = await startCluster({ standbys: 1, firstAddress: net.first });
    t.after(() => own.destroy());
    const metricsHost = net.address(200);
    const port = await findFreePort([metricsHost]);
    const app = child(['--import', './examples/opentelemetry/telemetry.mjs', 'examples/opentelemetry/app.mjs'], {
      DATABASE_URL: own.url(),
      METRICS_HOST: metricsHost,
      METRICS_PORT: String(port),
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    t.after(() => stopChild(app.process));
    const scrape = async (): Promise<string> => {
      try {
        return await (await fetch(`http://${metricsHost}:${port}/metrics`)).text();
      } catch {
        return '';
      }
    };
    const writerOn = (text: string, host: string): number[] =>
      scraped(text, 'pg_split_node_serving', { server_address: host, pg_split_pool_role: 'writer' });
    const [first, second] = own.nodes as [ClusterNode, ClusterNode];
    await until('a scrape shows the writer on the primary', async () => writerOn(await scrape(), first.host)[0] === 1, 30_000);
    const before = await scrape();
    assert.deepEqual(writerOn(before, second.host), [0], before);
    assert.ok(scraped(before, 'db_client_connection_count', { db_client_connection_state: 'idle' }).length > 0, before);
    await first.stop('fast');
    await second.promote();
    await until('a scrape shows the writer on the promoted standby', async () => writerOn(await scrape(), second.host)[0] === 1, 30_000);
    const afterwards = await scrape();
    for (const text of [before, afterwards]) {
      const families = text
        .split('\n')
        .filter((line) => line.startsWith('# HELP '))
        .map((line) => line.split(' ')[2]);
      assert.deepEqual(
        families.filter((name, i) => families.indexOf(name) !== i),
        [],
        'a metric family declared twice: Prometheus rejects the scrape',
      );
    }
    assert.deepEqual(writerOn(afterwards, first.host), [0], afterwards);
    assert.deepEqual(scraped(afterwards, 'pg_split_node_up', { server_address: first.host }), [0], afterwards);
    assert.deepEqual(scraped(afterwards, 'pg_split_failovers_total', { server_address: second.host }), [1], afterwards);
    // The application prints once its write and its read both returned: shortly after the scrape, not before it.
    await until('the application writes on the promoted node', () => app.output().includes(`write ${second.host} `), 15_000);
  },
);

test(
  'NODE_DEBUG=pg-split: a line per decision (the roles chosen, sleep, wake), hosts by name, never the password',
  { timeout: 60_000 },
  async () => {
    const hosts = cluster.nodes.map((n) => n.host).join(',');
    const url = `postgresql://${SECURE_ROLE}:${SECURE_PASSWORD}@${hosts
      .split(',')
      .map((h) => `${h}:${cluster.port}`)
      .join(',')}/postgres`;
    const script = `
    import { connectSplit } from ${SPLIT_MODULE};
    const split = await connectSplit(process.env.URL, { idleAfterMillis: 300, writer: { idleTimeoutMillis: 0 }, reader: { idleTimeoutMillis: 0 } });
    await split.writer.query('SELECT 1');
    await new Promise((resolve) => { const t = setInterval(() => { if (split.topology().idle) { clearInterval(t); resolve(); } }, 20); });
    await split.reader.query('SELECT 1');
    await split.end();
  `;
    const run = await runScript(script, { NODE_DEBUG: 'pg-split', URL: url }, 30_000);
    assert.equal(run.code, 0, run.output);
    const lines = run.output.split('\n').filter((l) => l.startsWith('PG-SPLIT '));
    // Whichever node is the primary now (an earlier test of this file made a failover).
    const primary = `${cluster.currentPrimary.host}:${cluster.port}`;
    assert.ok(
      lines.some((l) => l.includes(`decision: writer ${primary}; readers `)),
      run.output,
    );
    assert.ok(lines.some((l) => l.includes('sleep: idle')) && lines.some((l) => l.includes('wake: a statement came')), run.output);
    assert.ok(!run.output.includes(SECURE_PASSWORD), 'the password appeared in the debug output');
  },
);
