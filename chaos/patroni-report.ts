import { LOCK_MOVE_GRACE_MILLIS, type PatroniChaosReport } from './run-patroni-chaos.js';
import { checksTable, faultSections } from './report.js';

/** One mode's section of docs/chaos-patroni.md. */
export function renderPatroniRun(report: PatroniChaosReport): string {
  const sync = report.options.synchronous;
  const violations = report.checks.reduce((n, c) => n + c.violations, 0);
  const discarded =
    report.discarded.length === 0
      ? 'Patroni discarded no timeline.'
      : `Patroni discarded ${report.discarded.length} timeline(s) (a thawed leader took its lock back; Patroni 3.0.2 on etcd3): ${report.discarded.map((d) => `timeline ${d.timeline} (back on ${d.now}${d.evidence === 'orchestrator' ? ", on Patroni's word: the demoted member was left unrewound" : ''}), ${d.acknowledgedWrites} writes acknowledged there by pg-split's count`).join('; ')}; pg-split reported each with \`timeline-discarded\`.`;
  return [
    `## ${sync ? 'Patroni `synchronous_mode` (etcd v2 API)' : 'Asynchronous replication (etcd3 API)'}`,
    '',
    `Seed ${report.options.seed}: **${report.faults.length} faults** in ${Math.round(report.faultMillis / 1000)} s, Patroni's leader changed ${report.leaderChanges} times; ${report.acknowledgedRows} rows acknowledged; **${violations} invariant violations**.`,
    '',
    checksTable(report),
    '',
    `Acknowledged rows missing from the final leader, by cause: on a timeline Patroni discarded: **${report.lostOnDiscardedTimeline}**; otherwise (${sync ? 'an invariant above' : "asynchronous replication: a crashed leader's last commits never reached the member promoted"}): **${report.lostOtherwise}**. ${discarded}`,
    ...(report.lost.length === 0
      ? []
      : [
          '',
          `Where they were acknowledged (server, timeline): ${report.lost.map((l) => `${l.server} on timeline ${l.timeline}: ${l.rows}${l.discarded ? ' (discarded)' : ''}`).join('; ')}.`,
        ]),
    '',
    `Rows acknowledged by a member within ${LOCK_MOVE_GRACE_MILLIS / 1000} s after Patroni's lock moved away from it (one round of pg-split's Patroni poll; counted apart from the invariant above): **${report.acknowledgedAfterLockMoved}**.`,
    '',
    ...faultSections(
      report,
      'Patroni settled, every member running; after a `kill -9` of PostgreSQL that is at once, since Patroni notices the crash only at its next loop, up to `loop_wait` later, so those rows also count Patroni restarting PostgreSQL, its crash recovery and, on a leader, its promotion; under `synchronous_mode` a commit also waits for the synchronous standby to stream again',
    ),
  ].join('\n');
}
