import { test } from 'node:test';
import { runPatroniChaos } from '../../chaos/run-patroni-chaos.js';
import { testNet } from '../support/net.js';
import { assertSound, summary } from '../support/patroni-chaos-checks.js';

const net = testNet(import.meta.url);

/** The short chaos run under Patroni of `npm run chaos -- --orchestrator patroni` (docs/chaos-patroni.md), on a fixed seed. */
test(
  "chaos under Patroni, asynchronous replication: no write acknowledged off Patroni's leader, every fault recovered from, nothing left behind",
  { timeout: 300_000 },
  async (t) => {
    const report = await runPatroniChaos({ durationMillis: 45_000, minFaults: 3, seed: 11, synchronous: false, firstAddress: net.first });
    t.diagnostic(summary(report));
    assertSound(report);
  },
);
