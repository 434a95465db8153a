import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPatroniCluster, type PatroniCluster } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { PatroniRun } from '../support/patroni-run.js';
import { PATRONI_TIMEOUT as TIMEOUT, withPatroni } from '../support/patroni-tests.js';
import { describeMissing } from '../support/write-load.js';

const net = testNet(import.meta.url);

describe('connectSplit under Patroni, synchronous_mode', () => {
  let cluster: PatroniCluster;
  before(async () => {
    // etcd's v2 API: Patroni 3.0.2's etcd3 client can let a thawed leader overwrite the leader key and
    // discard what the promoted synchronous standby committed (fixed upstream after 3.0.2; docs/patroni.md).
    cluster = await startPatroniCluster({ members: 3, synchronousMode: true, dcs: 'etcd', firstAddress: net.first });
  });
  after(() => cluster.destroy());

  test('0 acknowledged writes lost over automatic failovers: a crashed leader host, then a frozen one', TIMEOUT, async (t) => {
    const run = await PatroniRun.start(t, cluster, withPatroni(cluster));
    const marks: Record<string, number> = {};
    const first = await cluster.waitUntilSettled();
    await run.underLoad();
    marks['crash'] = Date.now();
    await first.kill9Patroni();
    await first.kill9Postgres();
    const second = await cluster.waitUntilSettled({ not: first, timeoutMillis: 120_000 });
    await run.writerReaches(second, Date.now());
    await first.start();
    await cluster.waitUntilSettled({ timeoutMillis: 120_000 });
    await run.underLoad();
    marks['freeze'] = Date.now();
    await second.freeze('tree');
    await run.leaderReplaced(second, 120_000);
    second.thaw();
    const third = await cluster.waitUntilSettled({ timeoutMillis: 120_000 });
    await run.writerReaches(third, Date.now());
    await run.underLoad(200);
    const { lost } = await run.finish();
    assert.deepEqual(lost, [], describeMissing(run.writes.acks, lost, marks));
    assert.deepEqual(run.discarded, []);
    assert.ok(run.writes.acks.length > 200, `${run.writes.acks.length} writes acknowledged`);
  });
});
