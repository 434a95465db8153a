import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, test, type TestContext } from 'node:test';
import { startCluster, startDnsServer, type Cluster, type ClusterNode } from '@pg-split/harness';
import { systemLookup } from '../../src/connect/endpoints.js';
import type { SplitCluster } from '../../src/split/connect-split.js';
import type { SplitOptions } from '../../src/split/options.js';
import type { MemberEvent } from '../../src/split/discovery/member-changes.js';
import { memberCycle } from '../support/member-cycle.js';
import { ReadLoad } from '../support/read-load.js';
import { WriteLoad, WRITES_TABLE } from '../support/write-load.js';
import { until } from '../support/until.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';

const net = testNet(import.meta.url);

let cluster: Cluster;
let primary: ClusterNode;
let s1: ClusterNode;
let s2: ClusterNode;
let s3: ClusterNode;
const APP = 'pg-split-discovery';

before(async () => {
  cluster = await startCluster({ standbys: 3, firstAddress: net.first });
  [primary, s1, s2, s3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode];
  await primary.query(WRITES_TABLE);
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

const member = (n: ClusterNode): string => `${n.host}:${n.port}`;

function split(t: TestContext, nodes: readonly ClusterNode[], options: SplitOptions): Promise<SplitCluster> {
  return splitFor(t, cluster.conninfo(nodes, { application_name: APP }), { recheckMillis: 200, ...options });
}

/** pg-split's sessions on a node, as the server counts them. */
async function sessionsOn(node: ClusterNode): Promise<number> {
  const [row] = await node.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [APP]);
  return Number(row?.n ?? -1);
}

test(
  'a function source: a member added serves reads within seconds, a member removed drains with no failed statement',
  { timeout: 120_000 },
  async (t) => {
    let listed = [member(primary), member(s1)];
    const sp = await split(t, [primary, s1], { discovery: { source: 'function', members: () => listed, intervalMillis: 100 } });
    const added: MemberEvent[] = [];
    const removed: MemberEvent[] = [];
    sp.on('member-added', (e) => added.push(e)).on('member-removed', (e) => removed.push(e));
    const reads = new ReadLoad(sp.reader, 4, 2);
    const writes = new WriteLoad(sp.writer, 2, 5);
    reads.start();
    writes.start();
    try {
      const addedAt = Date.now();
      listed = [member(primary), member(s1), member(s2)];
      await until('the new member answers reads', () => reads.serversSince(addedAt).has(s2.host));
      t.diagnostic(
        `${s2.host} served its first read ${reads.reads.find((r) => r.at > addedAt && r.server === s2.host)!.at - addedAt} ms after it was listed`,
      );
      assert.deepEqual(
        added.map((e) => [e.host, e.origin]),
        [[s2.host, 'function']],
      );
      assert.equal(sp.topology().nodes.find((n) => n.host === s2.host)?.origin, 'function');
      assert.equal(sp.topology().nodes.find((n) => n.host === s1.host)?.origin, 'connection string');

      const removedAt = Date.now();
      listed = [member(primary), member(s2)];
      await until('the removed member is gone from topology()', () => !sp.topology().nodes.some((n) => n.host === s1.host));
      await until('its sessions are closed on the server', async () => (await sessionsOn(s1)) === 0);
      assert.deepEqual(
        removed.map((e) => e.host),
        [s1.host],
      );
      const after = Date.now();
      const readsBefore = reads.reads.length;
      await until('the reader runs 50 more reads', () => reads.reads.length >= readsBefore + 50);
      assert.ok(!reads.serversSince(after).has(s1.host), 'a read went to the removed member');
      assert.ok(reads.serversSince(removedAt).has(s2.host));
    } finally {
      await Promise.all([reads.stop(), writes.stop()]);
    }
    assert.deepEqual(reads.failures, [], 'failed reads');
    assert.deepEqual(writes.failures, [], 'failed writes');
    assert.ok(
      writes.acks.every((a) => a.server === primary.host),
      'the writer moved on discovery',
    );
  },
);

test(
  "discovery never removes the writer's node, and a bad answer from the function is an error event that changes nothing",
  { timeout: 60_000 },
  async (t) => {
    let listed: unknown = [member(s1)];
    let asked = 0;
    const members = (): string[] => {
      asked++;
      return listed as string[];
    };
    const sp = await split(t, [primary, s1], { discovery: { source: 'function', members, intervalMillis: 50 } });
    const errors: Error[] = [];
    sp.on('error', (e) => errors.push(e));
    // Discovery has answered (without the writer's node) several times over, not a fixed time.
    await until('discovery answered five times', () => asked >= 5);
    assert.deepEqual((await sp.writer.query<{ h: string }>('SELECT host(inet_server_addr()) AS h')).rows[0]?.h, primary.host);
    assert.ok(
      sp.topology().nodes.some((n) => n.host === primary.host && n.writer),
      'the writer left with discovery',
    );
    listed = [{ host: '' }];
    await until('the bad answer is reported', () => errors.length > 0);
    assert.equal((errors[0] as { code?: string }).code, 'PGSPLIT_DISCOVERY_INVALID');
    assert.deepEqual(
      sp
        .topology()
        .nodes.map((n) => n.host)
        .sort(),
      [primary.host, s1.host].sort(),
    );
  },
);

test(
  'DNS: every address of a name a real resolver (dnsmasq) gives is a member, and the members follow the records',
  { timeout: 120_000 },
  async (t) => {
    const dns = await startDnsServer({ addresses: { 'replicas.pg.test': [s1.host, s2.host] } }, net.address(250));
    t.after(() => dns.stop());
    const sp = await split(t, [primary], {
      discovery: { source: 'dns', name: 'replicas.pg.test', port: cluster.port, servers: [dns.server], intervalMillis: 200 },
    });
    const reads = new ReadLoad(sp.reader, 2, 2);
    reads.start();
    try {
      await until('both addresses answer reads', () => {
        const seen = reads.serversSince(0);
        return seen.has(s1.host) && seen.has(s2.host);
      });
      assert.ok(
        sp.topology().nodes.some((n) => n.host === primary.host && n.writer),
        'the primary (not in the name) stays the writer',
      );
      await dns.setRecords({ addresses: { 'replicas.pg.test': [s2.host, s3.host] } });
      const changedAt = Date.now();
      await until('the new address answers reads', () => reads.serversSince(changedAt).has(s3.host));
      await until('the dropped address is gone', () => !sp.topology().nodes.some((n) => n.host === s1.host));
      const settled = Date.now();
      const readsBefore = reads.reads.length;
      await until('the reader runs 50 more reads', () => reads.reads.length >= readsBefore + 50);
      assert.ok(!reads.serversSince(settled).has(s1.host));
      assert.deepEqual(
        sp
          .topology()
          .nodes.filter((n) => n.origin === 'dns')
          .map((n) => n.host)
          .sort(),
        [s2.host, s3.host].sort(),
      );
    } finally {
      await reads.stop();
    }
    assert.deepEqual(reads.failures, []);
  },
);

test(
  'SRV: every target and port of _postgresql._tcp records (dnsmasq) is a member, and the members follow the records',
  { timeout: 120_000 },
  async (t) => {
    const names: Record<string, ClusterNode> = { 'n1.pg.test': s1, 'n2.pg.test': s2, 'n3.pg.test': s3 };
    const addresses = Object.fromEntries(Object.entries(names).map(([name, node]) => [name, [node.host]]));
    const srv = (nodes: string[]) => ({
      addresses,
      srv: { '_postgresql._tcp.pg.test': nodes.map((target) => ({ target, port: cluster.port })) },
    });
    const dns = await startDnsServer(srv(['n1.pg.test', 'n2.pg.test']), net.address(250));
    t.after(() => dns.stop());
    // The SRV targets are names only the test's DNS server knows: connections resolve them there too.
    const resolver = new Resolver();
    resolver.setServers([dns.server]);
    const lookup = (host: string): Promise<string[]> => (isIP(host) !== 0 ? systemLookup(host) : resolver.resolve4(host));
    const sp = await split(t, [primary], {
      lookup,
      discovery: { source: 'srv', name: '_postgresql._tcp.pg.test', servers: [dns.server], intervalMillis: 200 },
    });
    await until('the SRV targets are members', () => sp.topology().nodes.filter((n) => n.origin === 'srv' && n.reachable).length === 2);
    await dns.setRecords(srv(['n2.pg.test', 'n3.pg.test']));
    await until(
      'the members follow the records',
      () =>
        sp
          .topology()
          .nodes.filter((n) => n.origin === 'srv')
          .map((n) => n.host)
          .sort()
          .join() === 'n2.pg.test,n3.pg.test',
    );
    const seen = new Set<string>();
    await until('reads reach the new target', async () => {
      seen.add((await sp.reader.query<{ h: string }>('SELECT host(inet_server_addr()) AS h')).rows[0]?.h ?? '');
      return seen.has(s3.host);
    });
    assert.ok(!seen.has(s1.host), 'a read reached the target the records dropped');
  },
);

test('1000 add/remove cycles: no growth in heap, sessions on the servers, or timers and sockets', { timeout: 180_000 }, async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let withS3 = false;
  const sp = await split(t, [primary, s1], {
    discovery: {
      source: 'function',
      members: () => (withS3 ? [member(primary), member(s1), member(s3)] : [member(primary), member(s1)]),
      intervalMillis: 1,
    },
  });
  const cycle = memberCycle(sp, (named) => (withS3 = named));
  const handles = (): number => process.getActiveResourcesInfo().length;
  for (let i = 0; i < 50; i++) await cycle();
  await until('s3 drained', async () => (await sessionsOn(s3)) === 0);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const handlesBefore = handles();
  const started = Date.now();
  for (let i = 0; i < 1000; i++) await cycle();
  t.diagnostic(`1000 cycles in ${Date.now() - started} ms`);
  await until('s3 drained', async () => (await sessionsOn(s3)) === 0);
  // The last cycles' sockets and timers close on their own turns: waited for, not slept on.
  await until('the handles of the cycles closed', () => handles() <= handlesBefore + 2, 5000).catch(() => undefined);
  gc();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  t.diagnostic(`heap ${Math.round(grown / 1024)} KiB, handles ${handlesBefore} -> ${handles()}, sessions on s1 ${await sessionsOn(s1)}`);
  assert.ok(grown < 2 * 1024 * 1024, `heap grew ${Math.round(grown / 1024)} KiB over 1000 cycles`);
  assert.ok(handles() <= handlesBefore + 2, `handles ${handlesBefore} -> ${handles()}`);
  assert.equal(sp.topology().nodes.length, 2);
});
