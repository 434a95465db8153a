import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPatroniChaos, type PatroniChaosReport } from '../../chaos/run-patroni-chaos.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

/** The short chaos run under Patroni of `npm run chaos -- --orchestrator patroni` (docs/chaos-patroni.md), on fixed seeds. */
function summary(report: PatroniChaosReport): string {
  const broken = report.checks.filter((c) => c.violations > 0).map((c) => `${c.name}: ${c.examples.join('; ')}`);
  return `${report.faults.map((f) => f.label).join(', ')}; ${report.leaderChanges} leader changes; ${report.acknowledgedRows} rows; lost ${report.lostOnDiscardedTimeline} on discarded timelines, ${report.lostOtherwise} otherwise; ${broken.length === 0 ? 'no violation' : broken.join(' | ')}`;
}

function assertSound(report: PatroniChaosReport): void {
  const violations = report.checks.reduce((n, c) => n + c.violations, 0);
  assert.equal(violations, 0, summary(report));
  assert.ok(report.faults.length >= 3, `only ${report.faults.length} faults`);
  assert.ok(report.leaderChanges >= 1, 'Patroni never changed its leader');
  assert.ok(report.acknowledgedRows > 500 && report.done.read > 500, `too little load: ${summary(report)}`);
}

test(
  'chaos under Patroni, synchronous_mode: Patroni fails over, no invariant breaks, no acknowledged write is lost',
  { timeout: 300_000 },
  async (t) => {
    const report = await runPatroniChaos({ durationMillis: 45_000, seed: 20261127, synchronous: true, firstAddress: net.first });
    t.diagnostic(summary(report));
    assertSound(report);
    assert.equal(report.lostOtherwise + report.lostOnDiscardedTimeline, 0);
  },
);
