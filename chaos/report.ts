import { percentile, table } from '../bench/stats.js';
import { isFailover } from './fault-plan.js';
import { OFF_PRIMARY } from './checks.js';
import type { Recovery } from './checks.js';
import { RECOVERY_LIMIT_MILLIS } from './fault-loop.js';
import type { CheckResult } from './invariants.js';
import type { FailureCount, OpKind } from './mixed-load.js';
import { violationCount, type ChaosReport } from './run-chaos.js';

function spread(values: ReadonlyArray<number | null>): string {
  const known = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (known.length === 0) return '–';
  const never = values.length - known.length;
  return `${percentile(known, 0.5)} / ${known[known.length - 1]}${never > 0 ? ` (${never} never)` : ''}`;
}

function faultTable(faults: readonly Recovery[]): string {
  const labels = [...new Set(faults.map((f) => f.label))].sort();
  const rows = labels.map((label) => {
    const of = faults.filter((f) => f.label === label);
    return [label, of.length, spread(of.map((f) => f.writeRecoveryMillis)), spread(of.map((f) => f.readRecoveryMillis))];
  });
  rows.push(['**all**', faults.length, spread(faults.map((f) => f.writeRecoveryMillis)), spread(faults.map((f) => f.readRecoveryMillis))]);
  return table(['fault', 'injected', 'writes back after the heal, ms (median / worst)', 'reads back, ms (median / worst)'], rows);
}

function opsTable(report: { readonly done: Readonly<Record<OpKind, number>>; readonly failed: Readonly<Record<OpKind, number>> }): string {
  const kinds = ['write', 'transaction', 'read'] as const;
  return table(
    ['operation', 'succeeded', 'failed (during faults)'],
    kinds.map((k) => [k === 'transaction' ? 'transaction (2 inserts, checked-out client)' : k, report.done[k], report.failed[k]]),
  );
}

export function checksTable(report: { readonly checks: readonly CheckResult[] }): string {
  return table(
    ['invariant, checked from the servers', 'items checked', 'violations'],
    report.checks.map((c) => [c.name, c.checked, c.violations === 0 ? '0' : `**${c.violations}**: ${c.examples.join('; ')}`]),
  );
}

function failuresTable(report: { readonly failures: readonly FailureCount[] }): string {
  if (report.failures.length === 0) return 'No operation failed.';
  return table(
    ['error code (SQLSTATE, pg-split or Node)', 'count', 'example'],
    report.failures.slice(0, 12).map((f) => [f.key.replace(/\|/g, '\\|'), f.count, f.example.replace(/\|/g, '\\|').slice(0, 100)]),
  );
}

function peerSection(report: ChaosReport): string[] {
  const peer = report.peer;
  if (peer === null) return [];
  const examples = peer.offPrimaryExamples.length === 0 ? '' : ` For example: ${peer.offPrimaryExamples.join('; ')}.`;
  return [
    '### postgres.js under the same faults',
    '',
    `Two loops wrote the same rows through postgres.js \`target_session_attrs=primary\` on the same host list, side by side with pg-split. These are figures, not invariants: postgres.js makes no promise about a stale primary.`,
    '',
    table(
      ['', 'pg-split writer', 'postgres.js'],
      [
        ['rows acknowledged', report.acknowledgedRows, peer.acknowledged],
        [
          'sent to a node that was not the primary, and acknowledged by it',
          report.checks.find((c) => c.name === OFF_PRIMARY)?.violations ?? 0,
          `**${peer.offPrimary}**`,
        ],
        ['acknowledged by an old primary after a promotion began', report.lateAcks, peer.lateAcks],
        ['acknowledged, then missing from the final primary', report.lostRows, peer.lost],
        ['longest single write, ms', report.longestOpMillis, peer.longestOpMillis],
      ],
    ),
    '',
    `${examples.trim()}`,
    '',
  ];
}

/** The Faults, Operations and failures sections both chaos reports share; `heal` says what the heal is. */
export function faultSections(
  report: {
    readonly faults: readonly Recovery[];
    readonly done: Readonly<Record<OpKind, number>>;
    readonly failed: Readonly<Record<OpKind, number>>;
    readonly failures: readonly FailureCount[];
  },
  heal: string,
  afterOperations: readonly string[] = [],
): string[] {
  return [
    '### Faults',
    '',
    `Recovery is measured from the heal (${heal}) to the first acknowledged operation sent after it. The limit is ${RECOVERY_LIMIT_MILLIS / 1000} s.`,
    '',
    faultTable(report.faults),
    '',
    '### Operations',
    '',
    opsTable(report),
    '',
    ...afterOperations,
    '### What the failed operations saw',
    '',
    failuresTable(report),
    '',
  ];
}

/** One mode's section of docs/chaos.md. */
export function renderRun(report: ChaosReport): string {
  const sync = report.options.synchronous;
  const failovers = report.faults.filter((f) => isFailover(f.plan)).length;
  const lost = sync
    ? `Acknowledged rows lost: **${report.lostRows}** of ${report.acknowledgedRows}.`
    : [
        `PostgreSQL's figures, not pg-split's, so they are not invariants here: acknowledged rows missing from the final primary: **${report.lostRows}** of ${report.acknowledgedRows}; writes acknowledged by an old primary after a standby's promotion began: **${report.lateAcks}**.`,
        'With asynchronous replication a primary acknowledges a commit before any standby has it, so a standby promoted after a crash never receives it; and a frozen primary, thawed after its replacement was promoted, commits the statements it had already received (it was the primary when they were sent), as nothing makes it wait for a standby. Both are invariants with synchronous replication above.',
      ].join(' ');
  return [
    `## ${sync ? "Synchronous replication (`synchronous_standby_names = 'ANY 1 (*)'`)" : 'Asynchronous replication'}`,
    '',
    `Seed ${report.options.seed}: **${report.faults.length} faults** (${failovers} failovers) in ${Math.round(report.faultMillis / 1000)} s; ${report.acknowledgedRows} rows acknowledged; pg-split reported ${report.events.failover} failovers and ${report.events['split-brain']} split brains; **${violationCount(report)} invariant violations**.`,
    '',
    checksTable(report),
    '',
    lost,
    '',
    ...faultSections(report, 'the node back; for a failover, the standby promoted and the other one following it', [
      `The longest single operation took ${report.longestOpMillis} ms.`,
      '',
    ]),
    ...peerSection(report),
  ].join('\n');
}
