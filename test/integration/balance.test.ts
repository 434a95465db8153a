import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startCluster, startTcpProxy, type Cluster, type ClusterNode, type TcpProxy } from '../../src/cluster/index.js';
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
});
