import assert from 'node:assert/strict';
import type { PatroniChaosReport } from '../../chaos/run-patroni-chaos.js';

/** One line on a chaos run under Patroni: its faults, leader changes, load and what broke. */
export function summary(report: PatroniChaosReport): string {
  const broken = report.checks.filter((c) => c.violations > 0).map((c) => `${c.name}: ${c.examples.join('; ')}`);
  return `${report.faults.map((f) => f.label).join(', ')}; ${report.leaderChanges} leader changes; ${report.acknowledgedRows} rows; lost ${report.lostOnDiscardedTimeline} on discarded timelines, ${report.lostOtherwise} otherwise; ${broken.length === 0 ? 'no violation' : broken.join(' | ')}`;
}

/** No invariant broken, and the run was one: faults, a leader change, load. */
export function assertSound(report: PatroniChaosReport): void {
  const violations = report.checks.reduce((n, c) => n + c.violations, 0);
  assert.equal(violations, 0, summary(report));
  assert.ok(report.faults.length >= 3, `only ${report.faults.length} faults`);
  assert.ok(report.leaderChanges >= 1, 'Patroni never changed its leader');
  assert.ok(report.acknowledgedRows > 500 && report.done.read > 500, `too little load: ${summary(report)}`);
}
