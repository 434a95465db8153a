import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPatroniChaos } from '../../chaos/run-patroni-chaos.js';
import { testNet } from '../support/net.js';
import { assertSound, summary } from '../support/patroni-chaos-checks.js';

const net = testNet(import.meta.url);

/** The short chaos run under Patroni of `npm run chaos -- --orchestrator patroni` (docs/chaos-patroni.md), on a fixed seed. */
test(
  'chaos under Patroni, synchronous_mode: Patroni fails over, no invariant breaks, no acknowledged write is lost',
  { timeout: 300_000 },
  async (t) => {
    const report = await runPatroniChaos({
      durationMillis: 45_000,
      minFaults: 3,
      seed: 20261127,
      synchronous: true,
      firstAddress: net.first,
    });
    t.diagnostic(summary(report));
    assertSound(report);
    assert.equal(report.lostOtherwise + report.lostOnDiscardedTimeline, 0);
  },
);
