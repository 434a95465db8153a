import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startBlackHole, startCluster, type BlackHole, type Cluster } from '@pg-split/harness';
import { pgSplitChoice } from '../support/choose.js';
import { psqlChoice } from '../support/psql.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

let cluster: Cluster;
let hole: BlackHole;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  hole = await startBlackHole({ host: net.address(10), port: cluster.port });
});

after(async () => {
  await hole?.close();
  await cluster?.destroy();
});

const TSA = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;

/** Host lists of 1 to 5 entries over the three nodes, a refused address, an unresolvable name, a silent listener and a port out of range. */
const hostList = fc.array(fc.constantFrom('P', 'S1', 'S2', 'P', 'S1', 'S2', 'refused', 'nosuchhost.invalid', 'hole', 'badport'), {
  minLength: 1,
  maxLength: 5,
});
const RUNS = Number(process.env['PGSPLIT_RANDOM_RUNS'] ?? 40);

test(
  `on ${RUNS} host lists no one wrote by hand, connect() picks the node psql picks, or fails with psql's text`,
  { timeout: 600_000 },
  async () => {
    const address: Record<string, string> = {
      P: cluster.nodes[0]!.host,
      S1: cluster.nodes[1]!.host,
      S2: cluster.nodes[2]!.host,
      refused: net.address(9),
      hole: net.address(10),
      'nosuchhost.invalid': 'nosuchhost.invalid',
      badport: cluster.nodes[0]!.host,
    };
    let agreedOnHost = 0;
    let agreedOnFailure = 0;
    await fc.assert(
      fc.asyncProperty(hostList, fc.constantFrom(...TSA), fc.boolean(), async (list, tsa, uri) => {
        // The silent listener costs a timeout per visit; keep at most one per list.
        const hosts = list.filter((h, i) => h !== 'hole' || list.indexOf('hole') === i);
        const ports = hosts.map((h) => (h === 'badport' ? '70000' : String(cluster.port)));
        const info = uri
          ? `postgresql://postgres@${hosts.map((h, i) => `${address[h]}:${ports[i]}`).join(',')}/postgres?target_session_attrs=${tsa}&connect_timeout=2`
          : `host=${hosts.map((h) => address[h]).join(',')} port=${ports.join(',')} user=postgres dbname=postgres target_session_attrs=${tsa} connect_timeout=2`;
        const [theirs, ours] = await Promise.all([psqlChoice(info), pgSplitChoice(info)]);
        assert.deepEqual(ours, theirs, info);
        if (ours.ok) agreedOnHost++;
        else agreedOnFailure++;
      }),
      { numRuns: RUNS, seed: 424242 },
    );
    assert.ok(agreedOnHost > 0 && agreedOnFailure > 0, `both outcomes exercised (${agreedOnHost} chose, ${agreedOnFailure} failed)`);
  },
);

test('load_balance_hosts=random spreads connections over every host (libpq 003_load_balance_host_list.pl)', async () => {
  const counts = new Map<string, number>();
  const info = `${cluster.conninfo()} load_balance_hosts=random`;
  for (let i = 0; i < 60; i++) {
    const choice = await pgSplitChoice(info);
    assert.ok(choice.ok);
    if (choice.ok) counts.set(choice.address, (counts.get(choice.address) ?? 0) + 1);
  }
  assert.equal(counts.size, 3);
  for (const [host, n] of counts) assert.ok(n > 1, `${host} got ${n} of 60`);
});

test('load_balance_hosts=random with standby lands on standbys only; with read-write on the primary only', async () => {
  const standbys = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const s = await pgSplitChoice(`${cluster.conninfo()} load_balance_hosts=random target_session_attrs=standby`);
    assert.ok(s.ok && s.address !== cluster.primary.host);
    if (s.ok) standbys.add(s.address);
    const w = await pgSplitChoice(`${cluster.conninfo()} load_balance_hosts=random target_session_attrs=read-write`);
    assert.deepEqual(w, { ok: true, address: cluster.primary.host });
  }
  assert.equal(standbys.size, 2);
});

test('load_balance_hosts=disable always takes the first acceptable host', async () => {
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await pgSplitChoice(`${cluster.conninfo()} load_balance_hosts=disable`), { ok: true, address: cluster.primary.host });
  }
});
