import { EventEmitter } from 'node:events';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import type { Lookup } from '../connect/endpoints.js';
import { withReplayLag } from '../probe/cluster-view.js';
import type { NodeStatus } from '../probe/node-status.js';
import { HostMonitor } from './host-monitor.js';
import { decideRoles, decisionChanged, type ReaderPolicy, type RoleDecision } from './topology.js';

export interface WatchOptions {
  readonly recheckMillis: number;
  /** Re-check interval while no writer is known (a failover in progress). */
  readonly failoverRecheckMillis: number;
  readonly checkTimeoutMillis: number;
  readonly maxBackoffMillis: number;
  readonly lookup: Lookup;
  readonly policy: ReaderPolicy;
  readonly isTooFarBehind?: (status: NodeStatus) => boolean;
}

export interface ChangeEvent {
  readonly previous: RoleDecision;
  readonly current: RoleDecision;
}

const EMPTY: RoleDecision = { writer: null, readers: [], stalePrimaries: [], newestTimeline: 0 };

/**
 * Watches every host in parallel (one HostMonitor each) and keeps the role
 * decision current: re-decides on every status, re-checks every host at once
 * when a server reports a role change or a pooled connection sees a failover
 * error, and on a timer.
 *
 * Events: `change` (ChangeEvent), `failover` ({ from, to }), `split-brain`
 * ({ writer, stale }), `status` (NodeStatus).
 */
export class ClusterWatch extends EventEmitter {
  readonly monitors: readonly HostMonitor[];
  #decision: RoleDecision = EMPTY;
  #lastWriter: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** checkAll() rounds still running. */
  #rounds = 0;
  #closed = false;
  readonly #options: WatchOptions;

  constructor(target: ConnectionTarget, options: WatchOptions) {
    super();
    this.#options = options;
    const monitorOptions = { checkTimeoutMillis: options.checkTimeoutMillis, maxBackoffMillis: options.maxBackoffMillis, lookup: options.lookup };
    this.monitors = target.hosts.map((_, i) => new HostMonitor(target, i, monitorOptions));
    for (const monitor of this.monitors) {
      monitor.on('status', (status: NodeStatus) => {
        this.emit('status', status);
        this.#redecide();
      });
      monitor.on('signal', () => void this.checkAll());
    }
  }

  get decision(): RoleDecision {
    return this.#decision;
  }

  /** Every node's latest status, with replay lag measured against the current primary. */
  statuses(): NodeStatus[] {
    return withReplayLag(this.monitors.map((m) => m.status));
  }

  /**
   * Starts checking: every host in parallel now, then every `recheckMillis`,
   * or every `failoverRecheckMillis` while no writer is known (an idle server
   * session reports a promotion only at its next query, so during a failover
   * the checks themselves are what see the new primary).
   */
  start(): void {
    void this.checkAll();
  }

  #scheduleNext(): void {
    if (this.#closed) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const delay = this.#decision.writer === null ? this.#options.failoverRecheckMillis : this.#options.recheckMillis;
    this.#timer = setTimeout(() => void this.checkAll(), delay);
    this.#timer.unref();
  }

  /**
   * Checks every host in parallel, each on its own: a host whose check is
   * running (a frozen one can take checkTimeoutMillis) is checked once more
   * after it, and never delays the others. The timer restarts when no round
   * is left running.
   */
  checkAll(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#rounds++;
    return Promise.all(this.monitors.map((m) => m.recheck())).then(() => {
      if (--this.#rounds === 0) this.#scheduleNext();
    });
  }

  /** A pooled connection to this host failed in a way that says the cluster changed. */
  suspect(hostIndex: number): void {
    this.monitors[hostIndex]?.suspect();
    void this.checkAll();
  }

  /** Resolves once `ready(decision)` holds, or rejects with `onTimeout()` at the deadline. */
  waitFor(ready: (d: RoleDecision) => boolean, deadline: number, onTimeout: () => Error): Promise<void> {
    if (ready(this.#decision)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(onTimeout()), Math.max(0, deadline - Date.now()));
      const onChange = (): void => {
        if (ready(this.#decision)) finish(null);
      };
      const onClose = (): void => finish(onTimeout());
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        this.off('change', onChange);
        this.off('close', onClose);
        if (err === null) resolve();
        else reject(err);
      };
      this.on('change', onChange);
      this.on('close', onClose);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const monitor of this.monitors) monitor.close();
    this.emit('close');
    this.removeAllListeners();
  }

  #redecide(): void {
    const previous = this.#decision;
    const input = { statuses: this.statuses(), policy: this.#options.policy, newestTimeline: previous.newestTimeline };
    const current = decideRoles(this.#options.isTooFarBehind ? { ...input, isTooFarBehind: this.#options.isTooFarBehind } : input);
    this.#decision = current;
    if (!decisionChanged(previous, current)) return;
    if ((previous.writer === null) !== (current.writer === null) && this.#rounds === 0) this.#scheduleNext();
    this.emit('change', { previous, current } satisfies ChangeEvent);
    if (current.writer !== null && this.#lastWriter !== null && current.writer !== this.#lastWriter) {
      this.emit('failover', { from: this.#lastWriter, to: current.writer });
    }
    if (current.writer !== null) this.#lastWriter = current.writer;
    const newlyStale = current.stalePrimaries.filter((i) => !previous.stalePrimaries.includes(i));
    if (newlyStale.length > 0) this.emit('split-brain', { writer: current.writer, stale: current.stalePrimaries });
  }
}
