import { faultLabel, planFault, type FaultPlan } from './fault-plan.js';
import type { FaultInjector } from './inject.js';
import type { CheckResult } from './invariants.js';
import type { FailureCount, MixedLoad, OpKind } from './mixed-load.js';
import { Random } from './random.js';

/** After each fault is healed, a write and a read must succeed within this. */
export const RECOVERY_LIMIT_MILLIS = 30_000;

export interface FaultRecord {
  readonly label: string;
  readonly plan: FaultPlan;
  readonly node: string;
  readonly promoted: string | undefined;
  readonly injectedAt: number;
  readonly healedAt: number;
  /** From the heal to the first acknowledged write sent after it; null: none within RECOVERY_LIMIT_MILLIS. */
  readonly writeRecoveryMillis: number | null;
  readonly readRecoveryMillis: number | null;
}

/** HH:MM:SS.mmm (UTC), as the log prints it. */
/** What both chaos runs (direct and under Patroni) report: their options, faults, operations and checks. */
export interface ChaosRunFigures<Options, Fault> {
  readonly options: Omit<Options, 'log'>;
  readonly faultMillis: number;
  readonly faults: readonly Fault[];
  readonly done: Readonly<Record<OpKind, number>>;
  readonly failed: Readonly<Record<OpKind, number>>;
  readonly failures: readonly FailureCount[];
  readonly acknowledgedRows: number;
  readonly checks: readonly CheckResult[];
}

export const clock = (at: number): string => new Date(at).toISOString().slice(11, 23);

/** One fault: injected, healed, and the load's recovery after the heal measured. */
async function oneFault(injector: FaultInjector, load: MixedLoad, plan: FaultPlan): Promise<FaultRecord> {
  const applied = await injector.apply(plan);
  const writes = load.successAfter(['write', 'transaction'], applied.healedAt, RECOVERY_LIMIT_MILLIS);
  const reads = load.successAfter(['read'], applied.healedAt, RECOVERY_LIMIT_MILLIS);
  await applied.cleanup;
  const [wroteAt, readAt] = await Promise.all([writes, reads]);
  return {
    label: faultLabel(plan),
    plan,
    node: applied.node,
    promoted: applied.promoted,
    injectedAt: applied.injectedAt,
    healedAt: applied.healedAt,
    writeRecoveryMillis: wroteAt === null ? null : wroteAt - applied.healedAt,
    readRecoveryMillis: readAt === null ? null : readAt - applied.healedAt,
  };
}

/** How long faults go on: at least `durationMillis`, and at least `minFaults` of them (a slow machine injects fewer per second). */
export interface FaultBudget {
  readonly durationMillis: number;
  readonly minFaults?: number;
}

/** Whether a fault loop started at `startedAt` that injected `injected` faults should inject another. */
export function wantsAnotherFault(budget: FaultBudget, startedAt: number, injected: number, now = Date.now()): boolean {
  return now - startedAt < budget.durationMillis || injected < (budget.minFaults ?? 0);
}

/** Faults one after another, from a schedule seeded with `seed`, until the budget is spent. */
export async function injectFor(
  seed: number,
  budget: FaultBudget,
  injector: FaultInjector,
  load: MixedLoad,
  log: (line: string) => void,
): Promise<FaultRecord[]> {
  const random = new Random(seed);
  const faults: FaultRecord[] = [];
  const startedAt = Date.now();
  while (wantsAnotherFault(budget, startedAt, faults.length)) {
    const fault = await oneFault(injector, load, planFault(random, injector.standbys().length));
    faults.push(fault);
    const promoted = fault.promoted === undefined ? '' : `, ${fault.promoted} promoted`;
    log(
      `#${faults.length} ${fault.label} on ${fault.node}${promoted} (${clock(fault.injectedAt)} to ${clock(fault.healedAt)}): writes back ${fault.writeRecoveryMillis ?? 'never'} ms, reads ${fault.readRecoveryMillis ?? 'never'} ms after the heal`,
    );
  }
  return faults;
}
