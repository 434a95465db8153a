/**
 * Waiting for the role decision, by events (never by polling): a checkout
 * that needs a writer or a reader waits until the watch's decision has one,
 * its deadline passes, every host refuses the login, or the watch closes.
 */
import type { EventEmitter } from 'node:events';
import { attemptFailure, failureLine, type OpenFailure } from '../../connect/session.js';
import { ConnectError, PgSplitError } from '../../errors.js';
import type { RoleDecision } from '../../roles/role-decision.js';

export function endedError(): PgSplitError {
  return new PgSplitError('PGSPLIT_ENDED', 'pg-split: the cluster was ended (end() was called)');
}

/** Whether a wait fails as soon as every host refused the login, and whether a host that never had a server counts. */
export type RefusalRule = false | 'refusals' | 'refusals-and-no-server';

/** What a wait listens to: the watch's `change`, `nudge`, `status` and `close` events, its decision, and why every host refused. */
export interface DecisionSource extends EventEmitter {
  readonly decision: RoleDecision;
  refused(noServerToo?: boolean): ConnectError | null;
}

/**
 * When every host refused the login for a reason waiting will not cure
 * (authentication, no such database, bad port): every host's reasons, as
 * `connect()` reports them. Null otherwise, and with no host.
 */
export function allRefused(
  hosts: ReadonlyArray<{ readonly refusal: readonly OpenFailure[] | null; readonly noServer: readonly OpenFailure[] | null }>,
  noServerToo: boolean,
): ConnectError | null {
  const refusals = hosts.map((m) => m.refusal ?? (noServerToo ? m.noServer : null));
  if (refusals.length === 0 || refusals.some((r) => r === null)) return null;
  const failures = refusals.flatMap((r) => r ?? []);
  return new ConnectError(failures.map(failureLine).join('\n'), failures.map(attemptFailure));
}

/**
 * Resolves once `ready(decision)` holds, tested on every change, every new
 * status (after the decision took it in) and every nudge. Rejects with
 * `onTimeout()` at the deadline (read on `now`'s clock), with PGSPLIT_ENDED
 * when the source closes, and (with `failOnRefusal`) with the refusal as
 * soon as every host refused.
 */
export function waitForDecision(
  source: DecisionSource,
  ready: (d: RoleDecision) => boolean,
  deadline: number,
  onTimeout: () => Error,
  failOnRefusal: RefusalRule,
  now: () => number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(onTimeout()), Math.max(0, deadline - now()));
    const onChange = (): void => {
      if (ready(source.decision)) finish(null);
    };
    const onStatus = (): void => {
      if (ready(source.decision)) {
        finish(null);
        return;
      }
      const refused = failOnRefusal === false ? null : source.refused(failOnRefusal === 'refusals-and-no-server');
      if (refused !== null) finish(refused);
    };
    const onClose = (): void => finish(endedError());
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      source.off('change', onChange);
      source.off('nudge', onChange);
      source.off('status', onStatus);
      source.off('close', onClose);
      if (err === null) resolve();
      else reject(err);
    };
    source.on('change', onChange);
    source.on('nudge', onChange);
    // A status can make a node usable without changing the decision (a suspicion cleared by its check).
    source.on('status', onStatus);
    if (failOnRefusal !== false) onStatus();
    source.on('close', onClose);
  });
}
