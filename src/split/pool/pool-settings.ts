/**
 * A pool's own settings (`writer` and `reader` options): pg.Pool's and
 * pg.Client's, each checked by type; connection settings are refused, they
 * come from the connection string.
 */
import type { Pool, PoolConfig } from 'pg';
import type { PoolRole } from '../../roles/role-decision.js';
import type { FreshnessStats } from '../../telemetry/freshness-stats.js';
import type { PoolMetrics } from '../../telemetry/cluster-metrics.js';
import type { FreshnessOptions } from './freshness.js';
import type { NodeClientConfig } from './node-client.js';
import type { ReadScope } from './read-scope.js';
import type { PoolRouter } from './router.js';
import type { WriteTracker } from './write-tracker.js';
import { OptionError } from '../../errors.js';
import { booleanOption, functionOption, numberOption, optionsObject } from '../../input.js';

/** Connection settings come from the connection string; these are the pool's own. */
export type PoolSettings = Omit<
  PoolConfig,
  'host' | 'port' | 'user' | 'database' | 'password' | 'ssl' | 'connectionString' | 'Client' | 'stream' | 'sslnegotiation'
>;

/** Keys pg.Pool and pg.Client read that are the connection's own: they come from the connection string. */
const CONNECTION_KEYS = ['host', 'port', 'user', 'database', 'password', 'ssl', 'connectionString', 'Client', 'stream', 'sslnegotiation'];

type Check = (name: string, value: unknown) => void;
const whole: Check = (n, v) => numberOption(n, v, 0, { integer: true });
const wholeOrZero: Check = (n, v) => numberOption(n, v, 0, { integer: true, zero: true });
const millisOrZero: Check = (n, v) => numberOption(n, v, 0, { zero: true, unit: 'milliseconds' });
const flag: Check = (n, v) => booleanOption(n, v, false);
const fn: Check = (n, v) => functionOption(n, v);
const text: Check = (n, v) => {
  if (v !== undefined && typeof v !== 'string') throw new OptionError(`Expected \`${n}\` to be a string`);
};

/** pg.Pool and pg.Client settings a pool may set, each with its check. */
const POOL_SETTINGS: Readonly<Record<string, Check>> = {
  max: whole,
  /** pg-pool's older name for `max` (read when `max` is not set). */
  poolSize: whole,
  min: wholeOrZero,
  idleTimeoutMillis: (n, v) => v === null || millisOrZero(n, v),
  connectionTimeoutMillis: millisOrZero,
  maxUses: (n, v) => v === Infinity || whole(n, v),
  maxLifetimeSeconds: (n, v) => numberOption(n, v, 0, { zero: true, unit: 'seconds' }),
  allowExitOnIdle: flag,
  statement_timeout: (n, v) => v === false || millisOrZero(n, v),
  query_timeout: millisOrZero,
  lock_timeout: millisOrZero,
  idle_in_transaction_session_timeout: millisOrZero,
  keepAlive: flag,
  keepAliveInitialDelayMillis: millisOrZero,
  application_name: text,
  fallback_application_name: text,
  options: text,
  client_encoding: text,
  binary: flag,
  parseInputDatesAsUTC: flag,
  enableChannelBinding: flag,
  types: (n, v) => optionsObject(n, v, ['getTypeParser']),
  log: fn,
  Promise: fn,
  onConnect: fn,
  verify: fn,
};

export function poolSettings(name: string, value: unknown): PoolSettings {
  const settings = optionsObject(name, value, [...Object.keys(POOL_SETTINGS), ...CONNECTION_KEYS]);
  for (const [key, setting] of Object.entries(settings)) {
    if (CONNECTION_KEYS.includes(key))
      throw new OptionError(`\`${name}.${key}\` is not allowed: connection settings come from the connection string`);
    POOL_SETTINGS[key]?.(`${name}.${key}`, setting);
  }
  const { max, min } = settings;
  if (typeof max === 'number' && typeof min === 'number' && min > max)
    throw new OptionError(`Expected \`${name}.min\` (${min}) to be at most \`${name}.max\` (${max})`);
  return Object.freeze({ ...settings });
}

/**
 * The pool settings among a pg config's keys (pg-split/pg's Pool): those
 * pg.Pool and pg.Client read that are not the connection's own, unset ones
 * left out; checked as `poolSettings` checks them. Other keys are ignored,
 * as pg ignores them.
 */
export function poolSettingsIn(config: Readonly<Record<string, unknown>>): PoolSettings {
  const picked = Object.fromEntries(Object.keys(POOL_SETTINGS).flatMap((k) => (config[k] === undefined ? [] : [[k, config[k]]])));
  return poolSettings('config', picked);
}

/** What a routed pool (the reader or the writer) is made with: its role, the router, its pg.Pool settings, and the cluster's shared parts. */
/** The `fallbackReads` option, resolved: how many reads the primary takes at once for want of a standby, and what a read beyond does. */
export interface FallbackReads {
  readonly max: number;
  readonly whenFull: 'wait' | 'error';
}

/** Makes one node's pg.Pool from its config: the seam around pg-pool and pg (unit tests give pools of clients that need no server). */
export type NodePoolFactory = (config: NodeClientConfig & PoolConfig) => Pool;

export interface RoutedPoolSettings {
  readonly role: PoolRole;
  readonly router: PoolRouter;
  readonly pool: PoolSettings;
  /** How long a checkout waits for an eligible node (a writer: the new primary during a failover). */
  readonly failoverTimeoutMillis: number;
  /** The clock a checkout's deadlines are read on (the runtime's: the watch's waits read the same). */
  readonly now: () => number;
  /** Describes why no node is eligible, for the timeout error. */
  readonly describe: () => string;
  readonly tracker: WriteTracker;
  /** This cluster's read scopes (`after`, `onPrimary`). */
  readonly scope: ReadScope;
  /** 'session': every read sees every write acknowledged through this writer before it started. */
  readonly consistency: 'eventual' | 'session';
  readonly freshness: FreshnessOptions;
  /** The bound on reads the primary takes for want of a standby (option `fallbackReads`); null: none. */
  readonly fallbackReads: FallbackReads | null;
  readonly stats: FreshnessStats;
  /** Checkout waits and retries, when the application has OpenTelemetry's API; else null (nothing measured). */
  readonly metrics: PoolMetrics | null;
  /** Told of every statement and checkout (it wakes an idle cluster). */
  readonly activity: { touch(): void };
  /** Called once when the pool starts to end (pg-split/pg: the pool leaves its shared cluster). */
  readonly onClose?: () => void;
  /** Makes each node's pg.Pool. @default a pg.Pool of NodeClients (node-pools.ts) */
  readonly nodePool?: NodePoolFactory;
}
