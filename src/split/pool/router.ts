import type pg from 'pg';
import type { ClientConfig } from 'pg';
import { clientConfigFor } from '../../connect/client-config.js';
import type { Balancer, NodeLoad } from './balancer.js';
import { LatencyBook } from './latency-book.js';
import { WriterWatchdog } from './writer-watchdog.js';
import type { ClusterWatch } from '../watch/cluster-watch.js';
import type { RefusalRule } from '../watch/decision-wait.js';
import type { ConnectionRegistry } from './connection-registry.js';
import type { Members } from '../watch/members.js';
import { ReplayKnowledge } from './replay-knowledge.js';
import type { FailoverSignal } from './sqlstate.js';
import type { WriteWitness } from '../patroni/write-witness.js';
import type { PoolRole, ReaderPolicy } from '../../roles/role-decision.js';
import { placeByZone, zoneFirst } from './zone-placement.js';

/**
 * When a waiting checkout fails before its deadline: as soon as every host
 * refused the login, or no host ever had a server (refused connections, no
 * such name: the string reached nothing yet), as a pg.Pool's connect fails
 * and as connectSplit's start does.
 */
const FAIL_FAST: RefusalRule = 'refusals-and-no-server';

/**
 * How long the writer may leave statements unanswered (one in flight, and
 * no answer since it was sent or since the last answer after it) before it
 * counts as stalling (WriterWatchdog): every host is then checked at the
 * failover rate until it answers again. A long statement of the
 * application while the writer answers others costs nothing; alone, it
 * costs those checks while it runs.
 */
const STALL_MILLIS = 200;

const never = (): boolean => false;

/**
 * What the routed pools ask on each checkout, answered from the watch's
 * current decision (which node), the balancer (which reader), the registry
 * (open connections) and the monitors' ways in (how to connect).
 */
export class Router {
  readonly #members: Members;
  readonly #watch: ClusterWatch;
  readonly #balancer: Balancer;
  readonly registry: ConnectionRegistry;
  readonly #witness: WriteWitness;
  readonly #replay = new ReplayKnowledge();
  readonly #latency: LatencyBook;
  /** What the balancer reads of each node (open connections, observed latency); made once, not per read. */
  readonly #load: NodeLoad;
  readonly #watchdog: WriterWatchdog;
  /** The application's zone (option `zone`): reads stay there while they can (placeByZone). */
  readonly #zone: string | null;
  readonly #zoneOf: (hostIndex: number) => string | null;
  /** Whether the primary reads only for want of a standby (`prefer-standby`). */
  readonly #primaryFallsBack: boolean;

  constructor(
    members: Members,
    watch: ClusterWatch,
    balancer: Balancer,
    registry: ConnectionRegistry,
    witness: WriteWitness,
    reads: { readonly zone: string | null; readonly policy: ReaderPolicy },
    latency: LatencyBook = new LatencyBook(),
  ) {
    this.#members = members;
    this.#zone = reads.zone;
    this.#primaryFallsBack = reads.policy === 'prefer-standby';
    this.#zoneOf = (hostIndex) => members.zone(hostIndex);
    this.#witness = witness;
    this.#watch = watch;
    this.#balancer = balancer;
    this.registry = registry;
    this.#latency = latency;
    this.#load = {
      openConnections: (hostIndex) => registry.openConnections(hostIndex),
      cost: (hostIndex) => latency.cost(hostIndex),
      weights: () => members.weights(),
    };
    this.#watchdog = new WriterWatchdog(
      () => {
        const writer = watch.decision.writer;
        const oldest = writer === null ? null : registry.oldestSentAt(writer);
        if (oldest === null) return null;
        // Silent since: the oldest statement's send, or the last answer after it (then that one is just long).
        const answered = latency.lastAnswer(writer as number);
        return answered !== null && answered > oldest ? answered : oldest;
      },
      (stalled) => watch.writerStalls(stalled),
      () => latency.now(),
      STALL_MILLIS,
    );
  }

  /**
   * A statement of `query()` starts on the node: returns its start (for
   * settled()). Its latency counts for the `fastest` balance; on the writer,
   * the watchdog looks whether it stalls.
   */
  started(hostIndex: number): number {
    if (hostIndex === this.#watch.decision.writer) this.#watchdog.started();
    return this.#latency.begin(hostIndex);
  }

  /** The statement started at `startedAt` on the node settled; `answered`: the server answered it (a result or its own error). */
  settled(hostIndex: number, startedAt: number, answered: boolean): void {
    this.#latency.end(hostIndex, startedAt, answered);
    this.#watch.statementEnded(hostIndex);
  }

  /**
   * A statement succeeded on the client: it goes back to its pool, after a
   * check of its node on it when the node's monitor wants one
   * (ClusterWatch.checkOnReturn).
   */
  release(client: pg.PoolClient & { readonly pgSplitHost: number }): void {
    if (!this.#watch.checkOnReturn(client.pgSplitHost, client, (err) => client.release(err))) client.release();
  }

  /** Stops the watchdog's timer (the runtime ends). */
  close(): void {
    this.#watchdog.close();
  }

  /** The role's nodes that have a live monitoring session (so a known way in) and no failover signal pending. */
  #usable(role: PoolRole): readonly number[] {
    const d = this.#watch.decision;
    const nodes = role === 'writer' ? (d.writer === null ? [] : [d.writer]) : d.readers;
    // Every read asks: build no array in the common case, where every node is usable.
    for (const i of nodes) if (!this.#watch.usable(i)) return nodes.filter((n) => this.#watch.usable(n));
    return nodes;
  }

  eligible(role: PoolRole, hostIndex: number): boolean {
    if (!this.#watch.usable(hostIndex)) return false;
    const d = this.#watch.decision;
    return role === 'writer' ? d.writer === hostIndex : d.readers.includes(hostIndex);
  }

  /**
   * The node for the next checkout, or null when the role has none; `avoid`
   * is skipped when another node is eligible; reads stay in the
   * application's zone while a node there is not `overloaded` (placeByZone).
   */
  pick(role: PoolRole, avoid: number | null = null, overloaded: (hostIndex: number) => boolean = never): number | null {
    if (role === 'writer') {
      // The hot path of every write: no array built.
      const writer = this.#watch.decision.writer;
      return writer !== null && this.#watch.usable(writer) ? writer : null;
    }
    const usable = this.#usable(role);
    if (this.#zone === null) return this.#balancer.pick(usable, this.#load, avoid);
    const allowed = usable.length > 1 && avoid !== null ? usable.filter((i) => i !== avoid) : usable;
    return this.#balancer.pick(placeByZone(allowed, this.#zone, this.#zoneOf, overloaded), this.#load);
  }

  /**
   * The silent leader that single statements through the writer may go to,
   * acknowledged once witnessed (WriteWitness), while no writer is
   * confirmed; else null. Checkouts (transactions) never go there.
   */
  witnessed(): number | null {
    const leader = this.#witness.ready;
    return leader !== null && this.#watch.decision.writer === null && this.#watch.usable(leader) ? leader : null;
  }

  /** Whether a write that just committed on the node is acknowledged only once witnessed: the node is the silent leader of an episode under way, not the writer. */
  mustWitness(hostIndex: number): boolean {
    return this.#witness.leader === hostIndex && this.#watch.decision.writer !== hostIndex;
  }

  /** Resolves once a write may be sent: to a confirmed writer, or with witnesses to a silent leader (`witnessed()`); as waitFor. */
  waitForWrite(deadline: number, onTimeout: () => Error, stop: () => boolean = never): Promise<void> {
    return this.#watch.waitFor(
      () => stop() || this.#usable('writer').length > 0 || this.witnessed() !== null,
      deadline,
      onTimeout,
      FAIL_FAST,
    );
  }

  /** Resolves once the write is witnessed on the silent leader (see WriteWitness.confirm). */
  confirmWitnessed(leader: number, lsn: string): Promise<void> {
    return this.#witness.confirm(leader, lsn);
  }

  /** The eligible nodes for a role, starting with the one whose turn it is (advances the turn). */
  inTurn(role: PoolRole): number[] {
    return zoneFirst(this.#balancer.inTurn(this.#usable(role)), this.#zone, this.#zoneOf);
  }

  isWriter(hostIndex: number): boolean {
    return this.#watch.decision.writer === hostIndex;
  }

  /** Whether the node is the primary serving reads for want of a standby (`prefer-standby`, none left). */
  isFallbackReader(hostIndex: number): boolean {
    return this.#primaryFallsBack && this.#watch.decision.writer === hostIndex;
  }

  /** Resolves once `condition` holds (tested again at each change of the watch and each nudge()); rejects at the deadline or when ended. */
  waitUntil(condition: () => boolean, deadline: number, onTimeout: () => Error): Promise<void> {
    return this.#watch.waitFor(condition, deadline, onTimeout);
  }

  /** A standby's furthest known replay position: its last status check, or a read's replay check since. */
  knownReplay(hostIndex: number): string | null {
    return this.#replay.furthest(hostIndex, this.#watch.knownReplay(hostIndex), this.#watch.wayIn(hostIndex));
  }

  /** Another read's replay check on the node, while it runs. */
  replayCheckInFlight(hostIndex: number): Promise<string | null> | null {
    return this.#replay.running(hostIndex);
  }

  /** A member left (discovery): what reads learnt of it goes. */
  forget(hostIndex: number): void {
    this.#replay.forget(hostIndex);
    this.#latency.forget(hostIndex);
    this.#balancer.forget(hostIndex);
  }

  /** A replay check on the node newer than this call, shared with other reads (null: no answer). */
  checkReplay(hostIndex: number, ask: () => Promise<string | null>): Promise<string | null> {
    return this.#replay.check(hostIndex, () => this.#watch.wayIn(hostIndex), ask);
  }

  /** Connection settings for a node: the way its monitor reached it (address, TLS or not). */
  configFor(hostIndex: number): ClientConfig | null {
    const way = this.#watch.wayIn(hostIndex);
    return way === null ? null : clientConfigFor(this.#members.target, hostIndex, way.endpoint, way.useTls);
  }

  /** A pooled connection saw an error that may mean the cluster changed. */
  report(hostIndex: number, signal: FailoverSignal): void {
    if (signal !== null) this.#watch.suspect(hostIndex);
  }

  /** The server reported a role change on a pooled connection. */
  roleReported(): void {
    void this.#watch.checkAll();
  }

  /** Resolves when the role has a usable node or `stop()` holds; rejects at the deadline, when ended, or as FAIL_FAST says. */
  waitFor(role: PoolRole, deadline: number, onTimeout: () => Error, stop: () => boolean = never): Promise<void> {
    return this.#watch.waitFor(() => stop() || this.#usable(role).length > 0, deadline, onTimeout, FAIL_FAST);
  }

  /** How many statuses the hosts have reported so far: a checkout that failed on a node notes it, to know whether the watch has looked since. */
  checksSeen(): number {
    return this.#watch.statusSeq;
  }

  /**
   * Resolves once the hosts have reported a status after `since`
   * (checksSeen()), or when `stop()` holds on a change of the decision;
   * rejects at the deadline: a checkout that failed on a node waits for the
   * watch to look again before it tries that node again.
   */
  nextCheck(since: number, deadline: number, onTimeout: () => Error, stop: () => boolean = never): Promise<void> {
    return this.#watch.waitFor(() => stop() || this.#watch.statusSeq > since, deadline, onTimeout);
  }

  /** Tests every waiting checkout's condition again (a pool ended: its waits stop). */
  nudge(): void {
    this.#watch.nudge();
  }
}

/**
 * What the routed pools (and their node clients) use of the router: the seam
 * their unit tests stand in for with a decision of their own
 * (test/unit/routed-pool.test.ts).
 */
export type PoolRouter = Pick<
  Router,
  | 'registry'
  | 'eligible'
  | 'pick'
  | 'witnessed'
  | 'mustWitness'
  | 'waitForWrite'
  | 'confirmWitnessed'
  | 'inTurn'
  | 'isWriter'
  | 'isFallbackReader'
  | 'waitUntil'
  | 'knownReplay'
  | 'replayCheckInFlight'
  | 'checkReplay'
  | 'configFor'
  | 'report'
  | 'roleReported'
  | 'waitFor'
  | 'checksSeen'
  | 'nextCheck'
  | 'nudge'
  | 'started'
  | 'settled'
  | 'release'
>;
