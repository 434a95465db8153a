import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFailover } from '../../chaos/fault-plan.js';
import { runChaos, violationCount, type ChaosReport } from '../../chaos/run-chaos.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

/** The short chaos run of `npm run chaos` (docs/chaos.md), on a fixed seed. */
function summary(report: ChaosReport): string {
  const broken = report.checks.filter((c) => c.violations > 0).map((c) => `${c.name}: ${c.examples.join('; ')}`);
  return `${report.faults.length} faults, ${report.acknowledgedRows} rows acknowledged, ${broken.length === 0 ? 'no violation' : broken.join(' | ')}`;
}

function assertSound(report: ChaosReport, minimumFaults: number): void {
  assert.equal(violationCount(report), 0, summary(report));
  assert.ok(report.faults.length >= minimumFaults, `only ${report.faults.length} faults injected`);
  assert.ok(
    report.faults.some((f) => isFailover(f.plan)),
    'no failover in the run',
  );
  assert.equal(
    report.events.failover >= report.faults.filter((f) => isFailover(f.plan)).length,
    true,
    'pg-split reported fewer failovers than were made',
  );
  assert.ok(
    report.acknowledgedRows > 1000 && report.done.read > 1000,
    `too little load: ${report.acknowledgedRows} rows, ${report.done.read} reads`,
  );
}

test(
  'chaos, synchronous replication: random stop, kill -9, freeze, restart, replay pause and failovers under load break no invariant',
  { timeout: 240_000 },
  async (t) => {
    const report = await runChaos({ durationMillis: 40_000, minFaults: 15, seed: 20261124, synchronous: true, firstAddress: net.first });
    t.diagnostic(summary(report));
    assertSound(report, 15);
    assert.equal(report.lostRows, 0);
    assert.equal(report.lateAcks, 0);
  },
);

test(
  'chaos, asynchronous replication: no write is sent to a replaced primary; postgres.js runs beside it for the record',
  { timeout: 240_000 },
  async (t) => {
    const report = await runChaos({
      durationMillis: 20_000,
      minFaults: 8,
      seed: 7,
      synchronous: false,
      firstAddress: net.first,
      peer: true,
    });
    t.diagnostic(`${summary(report)}; postgres.js: ${report.peer?.offPrimary} writes acknowledged by a replaced primary`);
    assertSound(report, 8);
  },
);
