import { clock, RECOVERY_LIMIT_MILLIS, type FaultRecord } from './fault-loop.js';
import { checkResult, lateAcks, missingIds, writesOffPrimary, type CheckResult, type TenureMatching, type WriteAck } from './invariants.js';
import type { MixedLoad, OpKind } from './mixed-load.js';
import type { PeerWriteLoad } from './peer-load.js';
import type { Tenure } from './tenure.js';

/** No operation may take longer: failoverTimeoutMillis (30 s by default) plus a connect and a status check. */
const HANG_LIMIT_MILLIS = 45_000;
export const OFF_PRIMARY = 'no write was sent to a node that was not the primary, and acknowledged by it';
const LATE_ACK = "no write was acknowledged by an old primary after a standby's promotion began";

/** What postgres.js did under the same faults: figures, not invariants. */
export interface PeerFigures {
  readonly acknowledged: number;
  readonly failed: number;
  /** Sent to a node that was not the primary (a stale primary), and acknowledged by it. */
  readonly offPrimary: number;
  readonly offPrimaryExamples: readonly string[];
  /** Sent to the primary, acknowledged by it after another node's promotion began. */
  readonly lateAcks: number;
  /** Acknowledged but missing from the final primary. */
  readonly lost: number;
  readonly longestOpMillis: number;
}

/** What the servers and the process said once the faults were over. */
export interface Outcome {
  readonly synchronous: boolean;
  readonly load: MixedLoad;
  readonly tenures: readonly Tenure[];
  readonly faults: readonly Recovery[];
  /** Row ids on the final primary. */
  readonly present: ReadonlySet<number>;
  readonly sessionsLeft: number;
  readonly handlesBefore: number;
  readonly handlesLeft: number;
  readonly problems: readonly string[];
  readonly applicationName: string;
  readonly nodes: number;
  /** Under an orchestrator, how acknowledgements are matched to the observed tenures. */
  readonly matching?: TenureMatching;
}

function describeAcks(acks: readonly WriteAck[]): string[] {
  return acks.map(
    (a) =>
      `rows ${a.ids.join(',')} acknowledged by ${a.server} on timeline ${a.timeline}, sent ${clock(a.sentAt)}, acknowledged ${clock(a.at)}`,
  );
}

const total = (counts: Readonly<Record<OpKind, number>>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Rows acknowledged (a transaction counts its rows). */
export function acknowledgedRows(acks: readonly WriteAck[]): number {
  return acks.reduce((n, a) => n + a.ids.length, 0);
}

/** What the recovery check needs of a fault (a plain one or a Patroni one). */
export type Recovery = Pick<FaultRecord, 'label' | 'node' | 'writeRecoveryMillis' | 'readRecoveryMillis'>;

function recoveryCheck(faults: readonly Recovery[]): CheckResult {
  const stuck = faults
    .filter((f) => f.writeRecoveryMillis === null || f.readRecoveryMillis === null)
    .map(
      (f) =>
        `${f.label} on ${f.node}: ${f.writeRecoveryMillis === null ? 'no write' : 'no read'} within ${RECOVERY_LIMIT_MILLIS} ms of the heal`,
    );
  return checkResult(
    `the load recovers after each fault (a write and a read within ${RECOVERY_LIMIT_MILLIS / 1000} s of the heal)`,
    faults.length,
    stuck,
  );
}

/**
 * Every invariant. Synchronous replication adds two that PostgreSQL itself
 * only keeps with it: no acknowledged row lost, no acknowledgement from an
 * old primary after a promotion.
 */
export function invariantChecks(o: Outcome): CheckResult[] {
  const { acks, longest } = o.load;
  return [
    ...(o.synchronous
      ? [
          checkResult(
            'every acknowledged write is on the final primary',
            acknowledgedRows(acks),
            missingIds(acks, o.present).map((id) => `row ${id} missing`),
          ),
          checkResult(LATE_ACK, acks.length, describeAcks(lateAcks(acks, o.tenures))),
        ]
      : []),
    checkResult(
      o.matching?.graceMillis === undefined
        ? OFF_PRIMARY
        : `${OFF_PRIMARY} (sent more than ${o.matching.graceMillis / 1000} s after the lock moved)`,
      acks.length,
      describeAcks(writesOffPrimary(acks, o.tenures, o.matching)),
    ),
    checkResult('no unhandled rejection or uncaught exception', 1, o.problems),
    checkResult(
      `no operation hung (each under ${HANG_LIMIT_MILLIS / 1000} s)`,
      total(o.load.done) + total(o.load.failed),
      longest.millis > HANG_LIMIT_MILLIS ? [`a ${longest.kind} took ${longest.millis} ms`] : [],
    ),
    checkResult(
      'no session left on any server after end()',
      o.nodes,
      o.sessionsLeft === 0 ? [] : [`${o.sessionsLeft} sessions named ${o.applicationName} remain`],
    ),
    checkResult(
      'no socket or timer left in the process after end()',
      1,
      o.handlesLeft <= o.handlesBefore ? [] : [`${o.handlesLeft} sockets and timers, ${o.handlesBefore} before connectSplit`],
    ),
    recoveryCheck(o.faults),
  ];
}

export function peerFigures(peer: PeerWriteLoad, tenures: readonly Tenure[], present: ReadonlySet<number>): PeerFigures {
  const offPrimary = describeAcks(writesOffPrimary(peer.acks, tenures));
  return {
    acknowledged: peer.acks.length,
    failed: peer.failed,
    offPrimary: offPrimary.length,
    offPrimaryExamples: offPrimary.slice(0, 3),
    lateAcks: lateAcks(peer.acks, tenures).length,
    lost: missingIds(peer.acks, present).length,
    longestOpMillis: peer.longestMillis,
  };
}
