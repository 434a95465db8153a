import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, startTcpProxy, type Cluster, type ClusterNode, type TcpProxy } from '@pg-split/harness';
import type { Balance } from '../../src/split/pool/balancer.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

/**
 * How reads spread when one standby is slow: a primary and two standbys,
 * the second reached through a proxy that adds 20 ms each way (a far zone,
 * a congested path). The servers say which one answered each read.
 */
const net = testNet(import.meta.url);
const READS = 200;

describe('reads where they are fastest (balance)', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  let proxy: TcpProxy;
  let fast: ClusterNode;
  let slow: ClusterNode;
  before(async () => {
    cluster = await startCluster({ standbys: 2, firstAddress: net.first });
    [fast, slow] = cluster.standbys as [ClusterNode, ClusterNode];
    proxy = await startTcpProxy({ host: net.address(20), target: { host: slow.host, port: cluster.port }, delayMillis: 20 });
  });
  after(async () => {
    await proxy?.close();
    await cluster?.destroy();
  });

  /** The string names the slow standby by its proxy. */
  const conninfo = (): string =>
    `host=${cluster.primary.host},${fast.host},${proxy.host} port=${cluster.port},${cluster.port},${proxy.port} user=postgres dbname=postgres`;

  async function readsPerServer(balance: Balance, t: Parameters<typeof splitFor>[0]): Promise<Map<string, number>> {
    const sp = await splitFor(t, conninfo(), { balance });
    // Reads start once both standbys serve (the slow one's first check takes its 40 ms round trips).
    await until('both standbys serve reads', () => sp.topology().readers.length === 2);
    const served = new Map<string, number>();
    for (let i = 0; i < READS; i++) {
      const { rows } = await sp.reader.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
      const host = rows[0]?.host ?? '?';
      served.set(host, (served.get(host) ?? 0) + 1);
    }
    t.diagnostic(`${balance}: ${JSON.stringify(Object.fromEntries(served))}`);
    return served;
  }

  test('fastest: the slow standby gets almost no reads; round-robin gives it half', async (t) => {
    const fastest = await readsPerServer('fastest', t);
    assert.ok((fastest.get(slow.host) ?? 0) <= 5, `fastest sent ${fastest.get(slow.host) ?? 0} of ${READS} reads to the slow standby`);
    assert.equal((fastest.get(fast.host) ?? 0) + (fastest.get(slow.host) ?? 0), READS, 'every read on a standby');
    const roundRobin = await readsPerServer('round-robin', t);
    assert.equal(roundRobin.get(slow.host), READS / 2);
  });

  /** The same cluster, every standby named directly. */
  const direct = (): string => `host=${cluster.primary.host},${fast.host},${slow.host} port=${cluster.port} user=postgres dbname=postgres`;

  async function serverOf(query: Promise<{ rows: Array<{ host: string }> }>): Promise<string> {
    return (await query).rows[0]?.host ?? '?';
  }
  const WHO = 'SELECT host(inet_server_addr()) AS host';

  test('weights: a standby of weight 3 takes three reads for each of a standby of weight 1 (round-robin and fastest)', async (t) => {
    const hosts = { [fast.host]: { weight: 3 }, [slow.host]: { weight: 1 } };
    const sp = await splitFor(t, direct(), { balance: 'round-robin', hosts });
    await until('both standbys serve reads', () => sp.topology().readers.length === 2);
    assert.deepEqual(
      sp.topology().nodes.map((n) => n.weight),
      [1, 3, 1],
    );
    const served = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const host = await serverOf(sp.reader.query<{ host: string }>(WHO));
      served.set(host, (served.get(host) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(served), { [fast.host]: 300, [slow.host]: 100 });
  });

  test('zones: reads stay in the zone, queue there briefly, spill while its node is overloaded, come back, and leave it when it has no eligible node', async (t) => {
    const hosts = { [cluster.primary.host]: { zone: 'a' }, [fast.host]: { zone: 'a' }, [slow.host]: { zone: 'b' } };
    const sp = await splitFor(t, direct(), { zone: 'a', hosts, reader: { max: 1 } });
    await until('both standbys serve reads', () => sp.topology().readers.length === 2);
    assert.deepEqual(
      sp.topology().nodes.map((n) => n.zone),
      ['a', 'a', 'b'],
    );
    const cross = async (reads: number): Promise<number> => {
      let count = 0;
      for (let i = 0; i < reads; i++) if ((await serverOf(sp.reader.query<{ host: string }>(WHO))) !== fast.host) count++;
      return count;
    };
    assert.equal(await cross(100), 0, 'no read left the zone while its standby was free');
    // The zone's only standby is full (max 1, checked out): the next read waits there (a short queue stays in the zone);
    // with as many reads waiting as its pool has connections, it is overloaded, and the one after goes to the other zone.
    const held = await sp.reader.connect();
    let queued: Promise<string>;
    try {
      assert.equal(await serverOf(held.query<{ host: string }>(WHO)), fast.host);
      queued = serverOf(sp.reader.query<{ host: string }>(WHO));
      assert.equal(await serverOf(sp.reader.query<{ host: string }>(WHO)), slow.host, 'spilled while the zone was overloaded');
    } finally {
      held.release();
    }
    assert.equal(await queued, fast.host, 'the queued read was served in the zone');
    assert.equal(await cross(50), 0, 'back in the zone once its standby was not overloaded');
    // The zone's standby stops: reads go to the other zone, none fails.
    await fast.stop('fast');
    await until('the zone has no reader', () => !sp.topology().readers.includes(1));
    const elsewhere = await Promise.all(Array.from({ length: 20 }, () => serverOf(sp.reader.query<{ host: string }>(WHO))));
    assert.deepEqual(new Set(elsewhere), new Set([slow.host]));
  });

  test("zones from discovery: a function source names each member's zone and weight", async (t) => {
    // The standby stopped by the test before is back.
    await fast.start();
    const port = cluster.port;
    const sp = await splitFor(t, direct(), {
      zone: 'b',
      discovery: {
        source: 'function',
        intervalMillis: 100,
        members: () => [
          { host: cluster.primary.host, port },
          { host: fast.host, port, zone: 'a' },
          { host: slow.host, port, zone: 'b', weight: 2 },
        ],
      },
    });
    await until('discovery named the zones and both standbys serve', () => {
      const topology = sp.topology();
      return topology.readers.length === 2 && topology.nodes.map((n) => n.zone).join() === ',a,b';
    });
    assert.equal(sp.topology().nodes[2]?.weight, 2);
    for (let i = 0; i < 50; i++) assert.equal(await serverOf(sp.reader.query<{ host: string }>(WHO)), slow.host);
  });
});
