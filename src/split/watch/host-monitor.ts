import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { SingleFlight } from '../../single-flight.js';
import { logDecision } from './decision-log.js';
import type { HostMonitorEvents } from './watch-events.js';
import pRetry from 'p-retry';
import type { ConnectionTarget } from '../../conninfo/resolve.js';
import type { Lookup } from '../../connect/endpoints.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostDisplayName } from '../../conninfo/host-list.js';
import { isNoServer, isPermanentRefusal } from '../../connect/failure.js';
import { hostIdentity } from '../../connect/messages.js';
import { destroySocket, isEnding, isServerError, unrefClient, wireOf } from '../../connect/pg-wire.js';
import { untraced } from '../../otel/otel-api.js';
import { discardClient, openSession, type OpenFailure, type Session } from '../../connect/session.js';
import { unreachableStatus, type NodeStatus } from '../../roles/node-status.js';
import { failedStatus, queryStatus, sessionIdentity, StatusTimeout } from '../../probe/probe-host.js';
import { isRoleParameter } from '../../connect/server-state.js';
import { answersOutliveSession, answersStandForCheck, answersWillCarryCheck, strongerCheck, type CheckKind } from './check-evidence.js';

export interface HostMonitorOptions {
  /** Bound on connecting and on one status query. */
  readonly checkTimeoutMillis: number;
  /** Longest wait between reconnect attempts to a host that is down. */
  readonly maxBackoffMillis: number;
  readonly lookup: Lookup;
  /** Wait at least this long before logging in again after a refusal that waiting will not cure (bad password, no such database). */
  readonly refusalBackoffMillis: number;
  /** The monitoring session never keeps the process alive (the pools' `allowExitOnIdle`). */
  readonly exitOnIdle?: boolean;
  /**
   * An idle pooled connection to the host, if the pools have one (not
   * checked out, no statement running): checks run on it, and the
   * monitor's own session closes once they have for a while.
   */
  readonly pooled?: (hostIndex: number) => PooledClient | null;
  /**
   * When the server last answered a statement of the pools on the host, and
   * the clock that time is on. While checks run on pooled connections and
   * none is idle, a host that answered one within checkTimeoutMillis is up
   * for a timed check: no session is opened to say so (a leader whose
   * postmaster is frozen answers on the connections it has but cannot open
   * one; a full server refuses one with `53300`). A check asked for a reason
   * asks the server all the same (recheck).
   */
  readonly answers?: { readonly last: (hostIndex: number) => number | null; readonly now: () => number };
}

/**
 * A connection of the application's pools a check runs on (idle in its
 * pool, or given back by a statement): `checkedBy` tells the pools a check
 * runs on it, so a statement that gets it meanwhile waits for the check
 * (and goes elsewhere if it did not go through) instead of queueing behind
 * it in pg. A NodeClient.
 */
export interface PooledClient extends pg.Client {
  checkedBy(done: Promise<boolean>): void;
}

/**
 * Checks in a row on pooled connections after which the monitor's own
 * session closes: at once for the monitor's first session (at start, or on
 * waking), which exists only because the pools held nothing yet; three for
 * a session opened again because no pooled connection was idle (a pool that
 * just had none may soon have none again: no session opened and closed at
 * every check).
 */
const HAND_OVER_AFTER = { first: 1, again: 3 } as const;

/** How a host was reached (what pooled connections and checks need of a session), without the session's client: it outlives it. */
type WayIn = Pick<Session, 'hostIndex' | 'host' | 'endpoint' | 'useTls'>;

function wayOf(session: Session): WayIn {
  return { hostIndex: session.hostIndex, host: session.host, endpoint: session.endpoint, useTls: session.useTls };
}

/**
 * Watches one host: a status query per check, on an idle pooled connection
 * to the host when the pools have one, else on the monitor's own
 * long-lived session (no new connection while the host is up), which also
 * hears the server's ParameterStatus reports of `in_hot_standby` (a
 * promotion is seen without polling); reconnects with backoff (p-retry)
 * while the host is down. Once HAND_OVER_AFTER checks in a row ran on
 * pooled connections, the own session closes: the application's
 * connections carry the checks, and report what a session hears (a
 * shutdown, a lost connection, a role change) through the router. The
 * first check that finds no idle pooled connection opens it again.
 *
 * Events: `status` (a new NodeStatus), `signal` (the server reported a role
 * change), `unresponsive` (a check or a connect timed out: the host may be
 * frozen or cut off, and sessions on it may hang).
 */
export class HostMonitor extends EventEmitter<HostMonitorEvents> {
  readonly hostIndex: number;
  #status: NodeStatus;
  #session: Session | null = null;
  /** How the host was last reached (a session's endpoint and TLS), kept after the own session closed on a hand-over; null once the host is lost. */
  #way: WayIn | null = null;
  /** Checks in a row that ran on pooled connections. */
  #pooledChecks = 0;
  /** How many of them close the own session (HAND_OVER_AFTER): once for the monitor's first session. */
  #handOverAfter: number = HAND_OVER_AFTER.first;
  /** Whether the next check on a pooled connection gives a new way in (a failover signal came while the checks ran there). */
  #renewWay = false;
  /** Whether a statement's end on the host should ask for a check now (the first session, not yet handed over): pooledMayBeIdle(). */
  #awaitsPooled = false;
  /**
   * Whether the next statement of the pools that succeeds on the host hands
   * its connection to a check as it goes back to its pool (checkOnReturn):
   * a check was vouched for by answers, or an asked check waits for it.
   */
  #wantsReturned = false;
  /** The asked check waiting for a returned connection's check (one at most: checks run one at a time): told whether it said the host's status. */
  #returnWaiter: ((told: boolean) => void) | null = null;
  /** Whether the last check was answered for by the pools' statements (logged once in a row). */
  #vouched = false;
  /** The strongest reason a check was asked for since the last one started (recheck): the next one answers it. */
  #pendingKind: CheckKind = 'routine';
  #reconnecting = false;
  /** One status query at a time, and one queued behind it (recheck). */
  readonly #checks = new SingleFlight<NodeStatus>(() => this.#checkOnce());
  #checked = false;
  #closed = false;
  #refusal: readonly OpenFailure[] | null = null;
  /** Whether a session was ever opened on the host. */
  #reached = false;
  #noServer: readonly OpenFailure[] | null = null;
  #suspected = false;
  readonly #abort = new AbortController();
  readonly #target: ConnectionTarget;
  readonly #options: HostMonitorOptions;

  constructor(target: ConnectionTarget, hostIndex: number, options: HostMonitorOptions) {
    super();
    this.#target = target;
    this.hostIndex = hostIndex;
    this.#options = options;
    this.#status = unreachableStatus(
      { hostIndex, host: hostDisplayName(target.hosts[hostIndex]), address: null, port: 0 },
      'not checked yet',
    );
  }

  get status(): NodeStatus {
    return this.#status;
  }

  /** Whether the host has been reached or found unreachable at least once. */
  get checked(): boolean {
    return this.#checked;
  }

  /**
   * The host's last login failures when every one of them was a refusal that
   * waiting will not cure (authentication failed, no such database, bad
   * port); null while the host is up, down for another reason, or unchecked.
   */
  get refusal(): readonly OpenFailure[] | null {
    return this.#refusal;
  }

  /**
   * The host's last connection failures while no session was ever opened
   * on it and each of them said no server is there (refused, no such name);
   * null otherwise.
   */
  get noServer(): readonly OpenFailure[] | null {
    return this.#noServer;
  }

  /**
   * How the monitor reached the host (pooled connections go the same way),
   * while the host is known to be up: the same object for as long as the
   * way in lasts (a new one once the host was lost and reached again).
   */
  get wayIn(): Pick<Session, 'endpoint' | 'useTls'> | null {
    return this.#way;
  }

  /** Runs one status query on the session (one at a time); with no session, starts reconnecting. */
  check(): Promise<NodeStatus> {
    return this.#checks.run();
  }

  /**
   * A check that starts now, or right after the one running (whose answer
   * may predate what prompted this call): a change reported mid-check is
   * never answered with the status from before it. `kind` (CheckKind): a
   * routine check may be answered for by the host's answers to busy pooled
   * connections (#vouched); an asked one asks the server, on a connection a
   * statement gives back when the host is busy; an urgent one asks the
   * server at once (check-evidence.ts).
   */
  recheck(kind: CheckKind = 'asked'): Promise<NodeStatus> {
    this.#pendingKind = strongerCheck(this.#pendingKind, kind);
    return this.#checks.fresh();
  }

  async #checkOnce(): Promise<NodeStatus> {
    if (this.#closed) return this.#status;
    const kind = this.#pendingKind;
    this.#pendingKind = 'routine';
    const way = this.#way;
    const pooled = way === null ? null : (this.#options.pooled?.(this.hostIndex) ?? null);
    if (way !== null && pooled !== null) {
      const done = this.#checkPooled(pooled, way);
      pooled.checkedBy(done);
      if (await done) return this.#status;
    }
    const answers = this.#options.answers;
    const evidence = {
      kind,
      ownSession: this.#session !== null,
      reached: way !== null,
      suspected: this.#suspected,
      lastAnswer: answers?.last(this.hostIndex) ?? null,
      now: answers?.now() ?? 0,
      checkTimeoutMillis: this.#options.checkTimeoutMillis,
    };
    if (answersStandForCheck(evidence)) {
      // Every pooled connection is busy and the host answered one within a check's timeout: it is up, as a check that
      // succeeded would say, and its role is what its connections report (no failover signal since). The check runs on
      // the first pooled connection a statement gives back.
      this.#wantsReturned = true;
      if (!this.#vouched) logDecision('%s: no idle pooled connection, statements answered there: no session opened', this.#named());
      this.#vouched = true;
      return this.#status;
    }
    // Asked for a reason while every pooled connection is busy and answering: the check runs on the first one a statement
    // gives back, as it goes back to its pool (a full server refuses a new session with 53300).
    if (way !== null && answersWillCarryCheck(evidence) && (await this.#checkOnReturned())) return this.#status;
    // Read again after that wait: a session may have been opened meanwhile (a pooled check lost the host, and it was
    // reached again), and a second one opened beside it would be left open (the chaos run found one after end()).
    const own = this.#session;
    this.#pooledChecks = 0;
    if (own === null) {
      if (way !== null && !this.#reconnecting)
        logDecision('%s: no idle pooled connection; its monitoring session opens again', this.#named());
      this.#startReconnecting();
      return this.#status;
    }
    try {
      this.#setStatus(await untraced(() => queryStatus(own.client, sessionIdentity(own), this.#options.checkTimeoutMillis)));
    } catch (err) {
      const timedOut = err instanceof StatusTimeout;
      this.#lose(own, hostIdentity(own.endpoint) + (err instanceof Error ? err.message : String(err)));
      if (timedOut) this.#unresponsive();
    }
    return this.#status;
  }

  /**
   * One check on an idle pooled connection. False when it says nothing of
   * the host: the pool let the connection go meanwhile (its idle timeout),
   * or the server answered with an error (a session the application left in
   * an aborted transaction); the check then runs on the own session.
   */
  async #checkPooled(client: pg.Client, way: WayIn): Promise<boolean> {
    try {
      this.#setStatus(await untraced(() => queryStatus(client, sessionIdentity(way), this.#options.checkTimeoutMillis)));
    } catch (err) {
      // An ErrorResponse (pg's DatabaseError carries the server's severity): the server answered.
      if (isEnding(client) || isServerError(err)) return false;
      this.#pooledChecks = 0;
      const timedOut = err instanceof StatusTimeout;
      this.#lost(way, hostIdentity(way.endpoint) + (err instanceof Error ? err.message : String(err)));
      if (timedOut) this.#unresponsive();
      return true;
    }
    if (this.#renewWay) {
      this.#renewWay = false;
      this.#way = { ...way };
    }
    if (++this.#pooledChecks >= this.#handOverAfter) this.#handOver();
    return true;
  }

  /**
   * A statement of the pools succeeded on the host and its connection is
   * about to go back to its pool: when the monitor wants a check on it
   * (#wantsReturned), the check starts on it now and marks the connection
   * as under check before it goes back, as an idle-time check does: the next statement that gets it waits for the check, and drops it
   * if the check did not go through (usableAfterCheck). Holding it out of
   * its pool meanwhile made the next checkout open a new connection. So a
   * host whose every pooled connection is busy is still checked on one.
   */
  checkOnReturn(client: PooledClient): void {
    const way = this.#way;
    if (!this.#wantsReturned || way === null || this.#closed) return;
    this.#wantsReturned = false;
    const done = this.#checkPooled(client, way).then((told) => {
      this.#returnWaiter?.(told);
      // Usable after it unless the check did not go through: the server's error for it (a shutdown's 57P01) was the
      // application's to see on its next statement there, which now must not get the connection it ended.
      return told && this.#way !== null;
    });
    client.checkedBy(done);
  }

  /** Waits, up to checkTimeoutMillis, for a check on a connection a statement gives back: whether it said the host's status. */
  #checkOnReturned(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    this.#wantsReturned = true;
    return new Promise((resolve) => {
      const settle = (told: boolean): void => {
        clearTimeout(timer);
        this.#returnWaiter = null;
        resolve(told);
      };
      const timer = setTimeout(() => settle(false), this.#options.checkTimeoutMillis);
      timer.unref();
      this.#returnWaiter = settle;
    });
  }

  /**
   * A statement of the pools ended on the host, so a pooled connection may be
   * idle now: while the monitor's first session waits for its hand-over, a
   * check runs right after (once the connection is back in its pool, so the
   * application's next statement never waits for it), so a process that
   * wakes for a statement or two holds its own session only that long, not
   * until the next timed check.
   */
  pooledMayBeIdle(): void {
    if (!this.#awaitsPooled) return;
    this.#awaitsPooled = false;
    setImmediate(() => void this.recheck('routine'));
  }

  /** The checks run on pooled connections: the own session closes (not a loss: the host is up). */
  #handOver(): void {
    const session = this.#session;
    if (session === null || this.#closed) return;
    this.#session = null;
    this.#awaitsPooled = false;
    void discardClient(session.client);
    logDecision('%s: checked on pooled connections; its monitoring session closes', this.#named());
  }

  /** The host as the decision log names it. */
  #named(): string {
    return `${this.#status.host}:${this.#status.port}`;
  }

  /**
   * A pooled connection to the host saw a failover signal (the server shutting
   * down, read-only, a lost connection): until the next status, new checkouts
   * avoid the host, and it is re-checked now (after the check running, if any).
   */
  suspect(): void {
    this.#suspected = true;
    // A check waiting for a connection a statement gives back waits no more: the host's connections are failing, and
    // the check queued behind it must not leave the host as it was for up to a check timeout (a stopped primary stayed
    // up while its successor was promoted).
    this.#returnWaiter?.(false);
    if (this.#way === null) return this.#startReconnecting();
    // Checks run on pooled connections: the next one that succeeds gives a new way in (what reads learnt of the host's
    // replay is kept per way in), which covers a restart the pooled connections went down with. No new connection is
    // needed for that: a leader whose postmaster is frozen still answers on the connections it has.
    if (this.#session === null) this.#renewWay = true;
    void this.recheck();
  }

  /** Whether a failover signal came since the last status. */
  get suspected(): boolean {
    return this.#suspected;
  }

  close(): void {
    this.#closed = true;
    this.#returnWaiter?.(false);
    this.#abort.abort();
    const session = this.#session;
    this.#session = null;
    if (session !== null) session.client.end().catch(() => undefined);
    this.removeAllListeners();
  }

  #setStatus(status: NodeStatus): void {
    this.#status = status;
    this.#vouched = false;
    this.#suspected = false;
    this.#checked = true;
    if (!this.#closed) this.emit('status', status);
  }

  /** The host took longer than checkTimeoutMillis to answer: its sessions may hang (a frozen or cut-off host). */
  #unresponsive(): void {
    if (!this.#closed) this.emit('unresponsive', this.hostIndex);
  }

  #lose(session: Session, message: string): void {
    if (this.#session !== session) return;
    this.#lost(session, message);
  }

  /** The host was lost (its session or a pooled check failed): unreachable until a new session opens. */
  #lost(way: WayIn, message: string): void {
    const session = this.#session;
    this.#session = null;
    this.#way = null;
    if (session !== null) {
      destroySocket(session.client);
      session.client.end().catch(() => undefined);
    }
    this.#setStatus(unreachableStatus(sessionIdentity(way), message));
    this.#startReconnecting();
  }

  #adopt(session: Session): void {
    // Never two sessions: one already adopted is closed (its host is reached by the new one).
    const previous = this.#session;
    if (previous !== null && previous !== session) void discardClient(previous.client);
    if (this.#options.exitOnIdle === true) unrefClient(session.client);
    const connection = wireOf(session.client);
    const lost = (): void => this.#lose(session, hostIdentity(session.endpoint) + 'server closed the connection unexpectedly');
    session.client.on('error', lost);
    session.client.on('end', lost);
    connection.on('parameterStatus', (msg: { parameterName: string }) => {
      if (isRoleParameter(msg.parameterName) && !this.#closed) this.emit('signal', msg.parameterName);
    });
    // The first session hands over at the first pooled check; one opened again, after a few.
    if (this.#reached) this.#handOverAfter = HAND_OVER_AFTER.again;
    this.#awaitsPooled = this.#handOverAfter === HAND_OVER_AFTER.first && this.#options.pooled !== undefined;
    this.#session = session;
    this.#way = wayOf(session);
    this.#renewWay = false;
    this.#pooledChecks = 0;
    this.#reached = true;
    this.#noServer = null;
  }

  #startReconnecting(): void {
    if (this.#reconnecting || this.#closed) return;
    this.#reconnecting = true;
    const attempt = async (): Promise<Session> => {
      const answers = this.#options.answers;
      const startedAt = answers?.now() ?? 0;
      const opened = await untraced(() =>
        openSession(this.#target, this.hostIndex, {
          timeoutMillis: this.#options.checkTimeoutMillis,
          lookup: this.#options.lookup,
          signal: this.#abort.signal,
        }),
      );
      if (this.#closed) {
        if (opened.ok) void discardClient(opened.session.client);
        throw new Error('monitor closed');
      }
      if (!opened.ok) {
        const timedOut = opened.failures.some((f) => f.error.kind === 'timeout');
        const lastAnswer = answers?.last(this.hostIndex) ?? null;
        if (
          this.#way !== null &&
          answersOutliveSession({ timedOut, suspected: this.#suspected, attemptStartedAt: startedAt, lastAnswer })
        ) {
          // No new session within the timeout, though the host's backends answered the pools meanwhile (a frozen
          // postmaster): up, as it was; the next connection a statement gives back carries its check.
          this.#wantsReturned = true;
          logDecision('%s: no new session within the check timeout, but its pooled connections answer: not taken for down', this.#named());
          throw new Error('no new session');
        }
        this.#way = null;
        this.#refusal = opened.failures.every((f) => isPermanentRefusal(f.error)) ? opened.failures : null;
        this.#noServer = !this.#reached && opened.failures.every((f) => isNoServer(f.error)) ? opened.failures : null;
        this.#setStatus(failedStatus(this.hostIndex, opened.failures));
        if (opened.failures.some((f) => f.error.kind === 'timeout')) this.#unresponsive();
        throw new Error('unreachable');
      }
      return opened.session;
    };
    // A refused login is not repeated at the reconnect pace: servers log each one, and waiting longer costs nothing.
    const onFailedAttempt = async (): Promise<void> => {
      if (this.#refusal !== null) await sleep(this.#options.refusalBackoffMillis, undefined, { signal: this.#abort.signal, ref: false });
    };
    const signal = this.#abort.signal;
    pRetry(attempt, {
      retries: Infinity,
      minTimeout: 50,
      maxTimeout: this.#options.maxBackoffMillis,
      factor: 2,
      randomize: true,
      signal,
      unref: true,
      onFailedAttempt,
    })
      .then(async (session) => {
        this.#reconnecting = false;
        this.#refusal = null;
        // Closed while the session opened: it is ended, not kept open by a monitor no one will close again.
        if (this.#closed) return void discardClient(session.client);
        this.#adopt(session);
        await this.check();
      })
      .catch(() => {
        this.#reconnecting = false;
      });
  }
}
