import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPatroniCluster, type PatroniCluster, type PatroniMember } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { PatroniRun } from '../support/patroni-run.js';
import { others, PATRONI_TIMEOUT as TIMEOUT, withPatroni } from '../support/patroni-tests.js';
import { until } from '../support/until.js';
import type { Ack } from '../support/write-load.js';

const net = testNet(import.meta.url);

/** Patroni's two timings of docs/patroni.md: the harness's and Patroni's production defaults. */
const TIMINGS = [
  { ttl: 10, loopWait: 2, retryTimeout: 4 },
  { ttl: 30, loopWait: 10, retryTimeout: 10 },
] as const;

/** The first of `members` whose PostgreSQL runs read-write, and when it was first seen so (asked every 20 ms). */
async function promotion(members: readonly PatroniMember[]): Promise<{ leader: PatroniMember; at: number }> {
  let found: PatroniMember | undefined;
  await until(
    `one of ${members.map((m) => m.name).join(', ')} promoted`,
    async () => {
      for (const member of members) {
        const rows = await member.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby').catch(() => []);
        if (rows[0]?.standby === false) found = member;
      }
      return found !== undefined;
    },
    90_000,
  );
  if (found === undefined) throw new Error('no member promoted');
  return { leader: found, at: Date.now() };
}

/** The longest time between two acknowledged writes from `from` on. */
function longestGap(acks: readonly Ack[], from: number): number {
  const times = acks.filter((a) => a.at >= from).map((a) => a.at);
  return times.slice(1).reduce((gap, at, i) => Math.max(gap, at - (times[i] ?? at)), 0);
}

describe("the leader's Patroni stopped for maintenance (SIGTERM: it stops its PostgreSQL and releases the lock)", () => {
  let cluster: PatroniCluster;
  before(async () => {
    cluster = await startPatroniCluster({ members: 3, firstAddress: net.first });
  });
  after(() => cluster.destroy());

  for (const timing of TIMINGS) {
    test(
      `ttl ${timing.ttl}, loop_wait ${timing.loopWait}: writes resume on the promoted member long before the stopped leader's last answer is stale, none lost`,
      TIMEOUT,
      async (t) => {
        await cluster.setTiming(timing);
        const run = await PatroniRun.start(t, cluster, withPatroni(cluster));
        const old = await cluster.waitUntilSettled();
        await run.underLoad();
        const stoppedAt = Date.now();
        const promoted = promotion(others(cluster, old));
        await old.stop();
        const { leader, at: promotedAt } = await promoted;
        await until(
          `a write acknowledged by ${leader.name}`,
          () => run.writes.acks.some((a) => a.server === leader.host && a.at >= promotedAt),
          60_000,
        );
        const resumedAt = run.writes.acks.find((a) => a.server === leader.host && a.at >= promotedAt)?.at ?? Infinity;
        await run.underLoad();
        const gap = longestGap(run.writes.acks, stoppedAt);
        // Before the fix, the stopped leader's last answer ("leader, running") competed with the promoted member's
        // until it was stale: staleAfter(ttl, loop_wait) = 7 s at ttl 10, 19 s at ttl 30.
        const staleMillis = (timing.ttl - timing.loopWait) * 1000 - 1000;
        t.diagnostic(
          `ttl ${timing.ttl}: promoted ${promotedAt - stoppedAt} ms after the stop; writes resumed ${resumedAt - promotedAt} ms after the promotion; longest write gap ${gap} ms`,
        );
        assert.ok(
          resumedAt - promotedAt < staleMillis / 2,
          `writes resumed ${resumedAt - promotedAt} ms after the promotion; ${run.describe()}`,
        );
        await old.start();
        await cluster.waitUntilSettled();
        const { lost } = await run.finish();
        assert.deepEqual(lost, [], 'a graceful stop sends every committed write to the standbys first');
        assert.deepEqual(run.reads.failures, [], 'reads do not fail');
      },
    );
  }
});
