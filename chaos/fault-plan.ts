import type { Random } from './random.js';

/** What is done to a node. Every primary fault but `restart` ends in a promotion (a failover). */
export type FaultKind = 'stop' | 'kill9' | 'freeze' | 'restart' | 'pause-replay';
export type FaultTarget = 'primary' | 'standby';

export interface FaultPlan {
  readonly kind: FaultKind;
  readonly target: FaultTarget;
  /** Which of the current standbys (a standby fault only). */
  readonly standbyIndex: number;
  /** `pg_ctl stop -m` for a stop fault. */
  readonly stopMode: 'fast' | 'immediate';
  /** How long the fault lasts before it is healed; for a failover, the time before the promotion. */
  readonly holdMillis: number;
  /** A failover only: the old primary comes back as a primary on its old timeline (split brain) before it is rebuilt. */
  readonly staleReturn: boolean;
}

/** Relative frequencies: about 3 faults in 10 hit the primary, 2 in 10 are failovers. */
export const FAULT_WEIGHTS: ReadonlyArray<readonly [readonly [FaultTarget, FaultKind], number]> = [
  [['standby', 'stop'], 2],
  [['standby', 'kill9'], 2],
  [['standby', 'freeze'], 2],
  [['standby', 'restart'], 1],
  [['standby', 'pause-replay'], 2],
  [['primary', 'stop'], 1],
  [['primary', 'kill9'], 1],
  [['primary', 'freeze'], 1],
  [['primary', 'restart'], 1],
];

/** Whether the fault ends with a standby promoted. */
export function isFailover(plan: Pick<FaultPlan, 'kind' | 'target'>): boolean {
  return plan.target === 'primary' && plan.kind !== 'restart';
}

/** The next fault, drawn from `random`: the same seed gives the same schedule. */
export function planFault(random: Random, standbys: number): FaultPlan {
  const [target, kind] = random.weighted(FAULT_WEIGHTS);
  return {
    kind,
    target,
    standbyIndex: random.between(0, Math.max(0, standbys - 1)),
    stopMode: random.next() < 0.5 ? 'fast' : 'immediate',
    holdMillis: random.between(200, 1500),
    staleReturn: random.next() < 0.5,
  };
}

/** `primary kill9`, `standby stop (immediate)`, ... */
export function faultLabel(plan: Pick<FaultPlan, 'kind' | 'target' | 'stopMode'>): string {
  return `${plan.target} ${plan.kind}${plan.kind === 'stop' ? ` (${plan.stopMode})` : ''}`;
}
