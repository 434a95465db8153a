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
 * What a checkout asks to choose a node, and to wait until the cluster
 * lets it: the routed pools' main port.
 */
export interface NodeChoice {
  /** The node for the next checkout of `role`, or null (Router.pick). */
  pick(role: PoolRole, avoid?: number | null, overloaded?: (hostIndex: number) => boolean): number | null;
  /** Whether the decision lets `role` use the node now. */
  eligible(role: PoolRole, hostIndex: number): boolean;
  /** Whether `role` has a usable node now. */
  hasNode(role: PoolRole): boolean;
  /** The role's eligible nodes, the one whose turn it is first (advances the turn). */
  inTurn(role: PoolRole): number[];
  isWriter(hostIndex: number): boolean;
  /** Whether the node is the primary serving reads for want of a standby. */
  isFallbackReader(hostIndex: number): boolean;
  /** The silent leader single writes may go to, acknowledged once witnessed, while no writer is confirmed; else null. */
  witnessed(): number | null;
  /**
   * Resolves once `until()` holds, tested again at each change of the
   * decision, each new status and each nudge(); rejects with `onTimeout()`
   * at the deadline, when the cluster ends, and with `failFast` as soon as
   * every host refused the login or none ever had a server.
   */
  wait(until: () => boolean, deadline: number, onTimeout: () => Error, failFast?: boolean): Promise<void>;
  /** How many statuses the hosts have reported so far (a checkout that failed on a node waits until the watch has looked again). */
  checksSeen(): number;
  /** Tests every waiting checkout's condition again (a pool ended, a client came back). */
  nudge(): void;
}

/** A pooled connection a statement succeeded on, going back to its pool (a NodeClient). */
export type ReturnedClient = pg.PoolClient & { readonly pgSplitHost: number; checkedBy(done: Promise<boolean>): void };

/** What pooled connections and their statements tell the cluster's watch, and how a node's connections are made. */
export interface NodeReports {
  readonly registry: ConnectionRegistry;
  /** A pooled connection saw an error that may mean the cluster changed. */
  report(hostIndex: number, signal: FailoverSignal): void;
  /** The server reported a role change on a pooled connection. */
  roleReported(): void;
  /** A statement of `query()` starts on the node: its start, for settled(). */
  started(hostIndex: number): number;
  settled(hostIndex: number, startedAt: number, answered: boolean): void;
  /** A statement succeeded on the client: back to its pool, with a check started on it when the node's monitor wants one. */
  release(client: ReturnedClient): void;
  /** Connection settings for a node (the way its monitor reached it), or null while it has none. */
  configFor(hostIndex: number): ClientConfig | null;
}

/** What reads that must see a write (`consistency: 'session'`) learn of the standbys' replay. */
export interface ReplayPort {
  knownReplay(hostIndex: number): string | null;
  replayCheckInFlight(hostIndex: number): Promise<string | null> | null;
  checkReplay(hostIndex: number, ask: () => Promise<string | null>): Promise<string | null>;
}

/** Writes on a leader whose Patroni went silent: whether one must be witnessed, and the wait until it is. */
export interface WitnessPort {
  mustWitness(hostIndex: number): boolean;
  confirmWitnessed(leader: number, lsn: string): Promise<void>;
}

/**
 * What the routed pools (and their node clients) use of the router, port
 * by port: the seam their unit tests stand in for with a decision of their
 * own (test/unit/routed-pool.test.ts).
 */
export type PoolRouter = NodeChoice & NodeReports & ReplayPort & WitnessPort;

/**
 * What the routed pools ask on each checkout, answered from the watch's
 * current decision (which node), the balancer (which reader), the registry
 * (open connections) and the monitors' ways in (how to connect).
 */
export class Router implements PoolRouter {
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
   * A statement succeeded on the client: it goes back to its pool, marked
   * as under check when the node's monitor starts one on it
   * (ClusterWatch.checkOnReturn; the next statement that gets it waits).
   */
  release(client: ReturnedClient): void {
    this.#watch.checkOnReturn(client.pgSplitHost, client);
    client.release();
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

  hasNode(role: PoolRole): boolean {
    return this.#usable(role).length > 0;
  }

  wait(until: () => boolean, deadline: number, onTimeout: () => Error, failFast = false): Promise<void> {
    return this.#watch.waitFor(until, deadline, onTimeout, failFast ? FAIL_FAST : false);
  }

  checksSeen(): number {
    return this.#watch.statusSeq;
  }

  /** Tests every waiting checkout's condition again (a pool ended: its waits stop). */
  nudge(): void {
    this.#watch.nudge();
  }
}
