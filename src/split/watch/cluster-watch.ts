import { EventEmitter } from 'node:events';
import type { Session } from '../../connect/session.js';
import type { ConnectError } from '../../errors.js';
import { withReplayLag } from '../../roles/cluster-view.js';
import type { NodeStatus } from '../../roles/node-status.js';
import { allRefused, endedError, waitForDecision, type RefusalRule } from './decision-wait.js';
import { CheckSchedule } from './check-schedule.js';
import type { CheckKind } from './check-evidence.js';
import { HostMonitor, type HostMonitorOptions, type PooledClient } from './host-monitor.js';
import { logDecision } from './decision-log.js';
import { emitWatchEvent, type ClusterWatchEvents } from './watch-events.js';
import { monitorOptions, watchInput, type WatchOptions } from './watch-options.js';
import { mustStay, type Members } from './members.js';
import type { RoleDecision } from '../../roles/role-decision.js';
import { advanceWatch, INITIAL_WATCH_STATE, type WatchState } from './watch-state.js';

/**
 * Watches every host in parallel (one HostMonitor each) and keeps the role
 * decision current: re-decides on every status, re-checks every host at once
 * when a server reports a role change or a pooled connection sees a failover
 * error, checks a host at once when the second authority names it leader
 * and it is not the writer yet, and on each host's own timer.
 *
 * Events: ClusterWatchEvents.
 */
export class ClusterWatch extends EventEmitter<ClusterWatchEvents> {
  /** One monitor per active member, by host index. */
  readonly #monitors = new Map<number, HostMonitor>();
  readonly #members: Members;
  readonly #monitorOptions: HostMonitorOptions;
  /** Members discovery removed that must stay for now (`mustStay`): drained once they no longer must. */
  readonly #leaving = new Set<number>();
  #state: WatchState = INITIAL_WATCH_STATE;
  /** Each host's next check while none is running: every host on its own clock, so a frozen one delays no other. */
  readonly #schedule: CheckSchedule;
  #closed = false;
  readonly #options: WatchOptions;
  /** The hosts named at start; reads wait for their first checks before falling back to the primary. */
  #startHosts: readonly number[];
  #firstChecksDone = false;
  /** Idle (sleep()): no monitoring session, no timer; nothing is usable until wake(). */
  #asleep = false;
  /** The writer's statements stall (writerStalls()): hosts are checked as while no writer is known. */
  #writerStalled = false;
  /**
   * Since wake(): the hosts whose first check is still to come. Until each has answered or failed, the decision from before
   * the sleep stands and no node is usable, unless what has answered names a writer on evidence (`leadsOnEvidence`).
   */
  #waking: Set<number> | null = null;
  /** waitFor() calls still waiting (checkouts waiting for a node). */
  #waiters = 0;
  /** Statuses reported so far, by any host: a wait for the next check compares it. */
  #statusSeq = 0;

  /** The clock deadlines given to waitFor() are read on (WatchOptions.now). */
  readonly now: () => number;

  constructor(members: Members, options: WatchOptions) {
    super();
    this.now = options.now ?? Date.now;
    // Every checkout waiting for a node (waitFor) listens until it has one: as many listeners as statements waiting, not a leak.
    this.setMaxListeners(0);
    this.#options = options;
    this.#members = members;
    this.#monitorOptions = monitorOptions(options);
    // A writer whose statements stall is not counted as known: a promotion elsewhere may be under way.
    const writerKnown = (): boolean | null =>
      this.#closed || this.#asleep ? null : this.#state.decision.writer !== null && !this.#writerStalled;
    this.#schedule = new CheckSchedule((i) => this.#monitors.get(i), writerKnown, options);
    this.#startHosts = members.active();
    for (const i of this.#startHosts) this.#monitor(i);
  }

  #monitor(hostIndex: number): HostMonitor {
    const monitor = new HostMonitor(this.#members.target, hostIndex, this.#monitorOptions);
    monitor.on('status', (status) => {
      this.#statusSeq++;
      this.#woken(hostIndex);
      this.#redecide();
      this.emit('status', status);
    });
    monitor.on('signal', () => void this.checkAll());
    monitor.on('unresponsive', (i) => this.emit('unresponsive', i));
    this.#monitors.set(hostIndex, monitor);
    return monitor;
  }

  /** A member joined (discovery): it is checked now, and joins the decision with its first status. */
  addHost(hostIndex: number): void {
    this.#leaving.delete(hostIndex);
    if (this.#closed || this.#monitors.has(hostIndex)) return;
    this.#monitor(hostIndex);
    void this.#schedule.checkNow(hostIndex);
  }

  /**
   * A member left (discovery): its monitor stops and it leaves the decision,
   * and `drained` is emitted with its index. A member that must stay
   * (`mustStay`) leaves once it no longer must.
   */
  removeHost(hostIndex: number): void {
    const monitor = this.#monitors.get(hostIndex);
    if (monitor === undefined) return;
    if (mustStay(this.#state.decision, hostIndex, monitor)) {
      this.#leaving.add(hostIndex);
      return;
    }
    this.#leaving.delete(hostIndex);
    this.#monitors.delete(hostIndex);
    this.#schedule.clear(hostIndex);
    monitor.close();
    this.#woken(hostIndex);
    this.#redecide();
    this.emit('drained', hostIndex);
  }

  get decision(): RoleDecision {
    return this.#state.decision;
  }

  /** Every node's latest status, with replay lag measured against the writer the decision chose. */
  statuses(): NodeStatus[] {
    return withReplayLag(this.#rawStatuses(), this.#state.decision.writer);
  }

  #rawStatuses(): NodeStatus[] {
    return [...this.#monitors.values()].map((m) => m.status).sort((a, b) => a.hostIndex - b.hostIndex);
  }

  /** Whether a host named at start has not been reached nor found unreachable yet (latched false once all have). */
  #firstChecksPending(): boolean {
    if (this.#firstChecksDone) return false;
    this.#firstChecksDone = this.#startHosts.every((i) => this.#monitors.get(i)?.checked !== false);
    return !this.#firstChecksDone;
  }

  /** Whether every host has been reached or found unreachable at least once. */
  allChecked(): boolean {
    return [...this.#monitors.values()].every((m) => m.checked);
  }

  /** How the host's monitor reached it (pooled connections go the same way), or null while it has no session. */
  wayIn(hostIndex: number): Pick<Session, 'endpoint' | 'useTls'> | null {
    return this.#monitors.get(hostIndex)?.wayIn ?? null;
  }

  /**
   * Whether new checkouts may go to the host: it has a way in, no failover
   * signal came since its last status, and the watch is awake with every
   * host checked since it woke.
   */
  usable(hostIndex: number): boolean {
    const monitor = this.#monitors.get(hostIndex);
    return monitor !== undefined && monitor.wayIn !== null && !monitor.suspected && this.#waking === null;
  }

  /** Whether sleep() holds it idle. */
  get asleep(): boolean {
    return this.#asleep;
  }

  /** How many statuses the hosts have reported so far (it grows with every check). */
  get statusSeq(): number {
    return this.#statusSeq;
  }

  /** How many checkouts wait for a node (waitFor). */
  get waiting(): number {
    return this.#waiters;
  }

  /**
   * Idle: closes every monitoring session and stops every timer (the
   * monitors stay, closed, so topology() shows each host's last status).
   * Nothing is usable until wake().
   */
  sleep(): void {
    if (this.#closed || this.#asleep) return;
    this.#asleep = true;
    this.#schedule.clearAll();
    this.#options.authority?.pause();
    for (const monitor of this.#monitors.values()) monitor.close();
  }

  /**
   * Back from sleep(): a new monitor per host, every host checked at once.
   * As at start, a writer is decided before every host has answered only on
   * evidence that no newer primary hides among the silent ones (Patroni names
   * it, or an answering standby streams on its timeline); otherwise nothing
   * is decided and no node is usable until each host has answered or failed
   * (a frozen one: checkTimeoutMillis), so a failover made while idle is seen
   * whole before any statement is routed. What the watch knows of timelines
   * is kept from before.
   */
  wake(): void {
    if (this.#closed || !this.#asleep) return;
    this.#asleep = false;
    const hosts = [...this.#monitors.keys()];
    this.#waking = new Set(hosts);
    this.#startHosts = hosts;
    this.#firstChecksDone = false;
    for (const i of hosts) this.#monitor(i);
    this.#options.authority?.start(() => this.#authorityChanged());
    void this.checkAll();
    if (hosts.length === 0) this.#woken(-1);
  }

  /** The host answered or failed its first check since wake(): once every host has, the watch decides again. */
  #woken(hostIndex: number): void {
    if (this.#waking === null) return;
    this.#waking.delete(hostIndex);
    if (this.#waking.size === 0) this.#waking = null;
  }

  /** A standby's replay position at its last check (null for a primary or an unknown node). */
  knownReplay(hostIndex: number): string | null {
    const status = this.#monitors.get(hostIndex)?.status;
    return status?.role === 'standby' ? status.lsn : null;
  }

  /**
   * When every host refused the login for a reason waiting will not cure
   * (authentication, no such database, bad port): every host's reasons, as
   * `connect()` reports them. Null otherwise.
   */
  refused(noServerToo = false): ConnectError | null {
    return allRefused([...this.#monitors.values()], noServerToo);
  }

  /**
   * Starts checking: every host in parallel now, then each on its own
   * CheckSchedule (an idle server session reports a promotion only at its
   * next query, so during a failover the checks themselves see the new primary).
   */
  start(): void {
    this.#options.authority?.start(() => this.#authorityChanged());
    void this.checkAll();
  }

  /** Checks every host now, each on its own (one running is followed by one more); resolves once every host's check is done. */
  checkAll(kind: CheckKind = 'asked'): Promise<void> {
    if (this.#closed || this.#asleep) return Promise.resolve();
    return Promise.all([...this.#monitors.keys()].map((i) => this.#schedule.checkNow(i, kind))).then(() => undefined);
  }

  /**
   * The writer's statements stall (the oldest has run for longer than the
   * pools' stall limit, Router's watchdog) or no longer do. While they do,
   * every host is checked every failoverRecheckMillis, as while no writer is
   * known: a frozen or cut-off primary may be being replaced, and a
   * promotion must be seen before the old primary can take a write again
   * (it could thaw). Starting to stall checks every host at once.
   */
  writerStalls(stalled: boolean): void {
    if (stalled === this.#writerStalled) return;
    this.#writerStalled = stalled;
    logDecision(
      stalled
        ? 'the writer stalls (a statement left unanswered past the stall limit): every host checked at the failover rate'
        : 'the writer answers again',
    );
    this.#schedule.retime();
    if (stalled) void this.checkAll('urgent');
  }

  /** A statement of the pools ended on the host: its monitor may check on an idle pooled connection now (HostMonitor.pooledMayBeIdle). */
  statementEnded(hostIndex: number): void {
    this.#monitors.get(hostIndex)?.pooledMayBeIdle();
  }

  /**
   * A statement of the pools succeeded on the host: its monitor may start a
   * check on the connection as it goes back to its pool
   * (HostMonitor.checkOnReturn).
   */
  checkOnReturn(hostIndex: number, client: PooledClient): void {
    this.#monitors.get(hostIndex)?.checkOnReturn(client);
  }

  /** A pooled connection to this host failed in a way that says the cluster changed. */
  suspect(hostIndex: number): void {
    this.#monitors.get(hostIndex)?.suspect();
    void this.checkAll();
  }

  /**
   * Resolves once `ready(decision)` holds; rejects at the deadline, at once
   * when the watch is closed, and (with `failOnRefusal`) as soon as every
   * host refused the login (waitForDecision).
   */
  waitFor(
    ready: (d: RoleDecision) => boolean,
    deadline: number,
    onTimeout: () => Error,
    failOnRefusal: RefusalRule = false,
  ): Promise<void> {
    if (this.#closed) return Promise.reject(endedError());
    if (ready(this.#state.decision)) return Promise.resolve();
    this.#waiters++;
    return waitForDecision(this, ready, deadline, onTimeout, failOnRefusal, this.now).finally(() => this.#waiters--);
  }

  /** Something outside the decision made a node eligible (a silent leader's witnesses became known): waiting checkouts look again. */
  nudge(): void {
    this.emit('nudge');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#schedule.clearAll();
    this.#options.authority?.close();
    for (const monitor of this.#monitors.values()) monitor.close();
    this.emit('close');
    this.removeAllListeners();
  }

  /** The second authority's view changed: decide again, and check at once a host it names leader that is not the writer (a switchover). */
  #authorityChanged(): void {
    this.#redecide();
    const authority = this.#options.authority;
    if (authority === undefined || this.#asleep || this.#closed) return;
    for (const i of this.#monitors.keys()) if (i !== this.#state.decision.writer && authority.confirms(i)) void this.#schedule.checkNow(i);
  }

  #redecide(): void {
    // Asleep: the statuses are not current, so nothing is decided from them.
    if (this.#asleep) return;
    const previous = this.#state.decision;
    const input = watchInput(this.#options, this.#rawStatuses(), this.#firstChecksPending());
    const { state, events } = advanceWatch(this.#state, input);
    // Woken with hosts still unchecked: the decision from before the sleep stands until one is made on evidence.
    if (this.#waking !== null) {
      if (state.decision.writer === null) return;
      this.#waking = null;
    }
    this.#state = state;
    // Hosts waiting for their next check wait as long as the new state says (failoverRecheckMillis while no writer is known).
    if ((previous.writer === null) !== (state.decision.writer === null)) this.#schedule.retime();
    for (const event of events) emitWatchEvent(this, event);
    for (const i of [...this.#leaving]) {
      const monitor = this.#monitors.get(i);
      if (monitor === undefined || !mustStay(this.#state.decision, i, monitor)) this.removeHost(i);
    }
  }
}
