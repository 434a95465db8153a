import type pg from 'pg';
import { targetOf, type ConnectionTarget } from '../conninfo/resolve.js';
import { OptionError } from '../errors.js';
import { describeValue } from '../input.js';
import type { ChangeEvent, FailoverEvent, SplitBrainEvent, TimelineDiscardedEvent } from './split-events.js';
import type { MemberEvent } from './discovery/member-changes.js';
import { checkSplitOptions, resolveSplitOptions, type SplitOptions } from './options.js';
import { checkToken } from './pool/read-scope.js';
import { loadOtel } from '../otel/otel-api.js';
import { SplitRuntime } from './split-runtime.js';
import type { Topology } from './topology.js';

/** Each event's listener arguments. */
export interface SplitEvents {
  change: [event: ChangeEvent];
  failover: [event: FailoverEvent];
  'split-brain': [event: SplitBrainEvent];
  /** The newest timeline was discarded by the orchestrator (rewound away): writes acknowledged on it after its fork are lost. */
  'timeline-discarded': [event: TimelineDiscardedEvent];
  /** A member discovery found joined: it is checked, then joins the rotation. */
  'member-added': [event: MemberEvent];
  /** A member discovery no longer lists left: its statements in flight finish, then its connections close. */
  'member-removed': [event: MemberEvent];
  /** An error on an idle pooled connection (pg.Pool's `error`), or a discovery function's bad answer; without a listener it is dropped, never thrown. */
  error: [error: Error];
}

export type SplitEvent = keyof SplitEvents;
const EVENTS: readonly SplitEvent[] = [
  'change',
  'failover',
  'split-brain',
  'timeline-discarded',
  'member-added',
  'member-removed',
  'error',
];

export interface SplitCluster {
  /** A real pg.Pool: every connection on the current read-write primary. */
  readonly writer: pg.Pool;
  /** A real pg.Pool: connections spread over the nodes the reader policy allows. */
  readonly reader: pg.Pool;
  /** A snapshot of every node: role, timeline, lag, latency, last check. Never holds a password. */
  topology(): Topology;
  on<E extends SplitEvent>(event: E, listener: (...args: SplitEvents[E]) => void): SplitCluster;
  off<E extends SplitEvent>(event: E, listener: (...args: SplitEvents[E]) => void): SplitCluster;
  /** The primary's current WAL position: a token that a later read (here or in another process) can wait for. */
  writeToken(): Promise<string>;
  /** Runs `fn` with every read of this cluster in it (pool or ORM) seeing everything written up to `token`. */
  after<T>(token: string, fn: () => T): T;
  /** Runs `fn` with every read of this cluster in it (pool or ORM) on the primary. */
  onPrimary<T>(fn: () => T): T;
  /** Closes both pools and every monitoring session; checkouts still waiting fail with PGSPLIT_ENDED. Idempotent. */
  end(): Promise<void>;
}

function checkListener(event: unknown, listener: unknown): void {
  if (!EVENTS.includes(event as SplitEvent))
    throw new OptionError(`Unknown event ${describeValue(event)}; events are ${EVENTS.map((e) => `'${e}'`).join(', ')}`);
  if (typeof listener !== 'function') throw new OptionError(`Expected a listener function, got ${describeValue(listener)}`);
}

/**
 * Connects to a cluster named by one libpq connection string and returns a
 * writer pool that always writes on the current primary and a reader pool
 * that spreads reads over healthy standbys, following failovers.
 *
 * @example
 * const { reader, writer, end } = await connectSplit('postgresql://app@db1,db2,db3/shop');
 * await writer.query('insert into orders ...');
 * await reader.query('select ...');
 */
export async function connectSplit(conninfo: string | ConnectionTarget, options: SplitOptions = {}): Promise<SplitCluster> {
  const checked = checkSplitOptions(options);
  const target = targetOf(conninfo, checked as Readonly<Record<string, unknown>>);
  const opts = resolveSplitOptions(checked, target);
  const runtime = new SplitRuntime(target, opts, await loadOtel());
  const writer = runtime.pool('writer', opts.writer);
  const reader = runtime.pool('reader', opts.reader);
  const { events, scope } = runtime;
  const cluster: SplitCluster = {
    writer,
    reader,
    topology: () => runtime.topology(),
    writeToken: () => runtime.writeToken(),
    after: (token, fn) => scope.run({ after: checkToken(token) }, fn),
    onPrimary: (fn) => scope.run({ primary: true }, fn),
    on(event, listener) {
      checkListener(event, listener);
      events.on(event, listener as (...args: unknown[]) => void);
      return cluster;
    },
    off(event, listener) {
      checkListener(event, listener);
      events.off(event, listener as (...args: unknown[]) => void);
      return cluster;
    },
    end: () => runtime.end(),
  };
  runtime.start();
  await runtime.ready();
  return cluster;
}
