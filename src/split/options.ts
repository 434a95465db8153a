import type { PoolConfig } from 'pg';
import type { ConnectionTarget, ResolveContext } from '../conninfo/resolve.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import type { Lookup } from '../connect/endpoints.js';
import { OptionError } from '../errors.js';
import type { Balance } from './router.js';
import type { ReaderPolicy } from './topology.js';

/** Connection settings come from the connection string; these are the pool's own. */
export type PoolSettings = Omit<PoolConfig, 'host' | 'port' | 'user' | 'database' | 'password' | 'ssl' | 'connectionString' | 'Client'>;

export interface SplitOptions extends ResolveContext {
  /** pg.Pool settings for the writer (`max`, `idleTimeoutMillis`, `statement_timeout`, ...). */
  readonly writer?: PoolSettings;
  /** pg.Pool settings for the reader. */
  readonly reader?: PoolSettings;
  /**
   * Which nodes serve reads. Default: from the string's target_session_attrs
   * (`standby` and `read-only`: standbys only; an explicit `any`: every node),
   * else `prefer-standby` (standbys; the primary when none is left).
   */
  readonly readerPolicy?: ReaderPolicy;
  /** How reads are spread over eligible nodes. @default 'round-robin' */
  readonly balance?: Balance;
  /** Re-check every host this often, in milliseconds. @default 2000 */
  readonly recheckMillis?: number;
  /** Re-check every host this often while no writer is known (during a failover), in milliseconds. @default 100 */
  readonly failoverRecheckMillis?: number;
  /** Bound on connecting to a host and on one status query, in milliseconds. @default connect_timeout, else 2000 */
  readonly checkTimeoutMillis?: number;
  /** Longest wait between reconnect attempts to a host that is down, in milliseconds. @default 1000 */
  readonly reconnectMaxDelayMillis?: number;
  /** How long a checkout waits for an eligible node (writers: for the new primary during a failover), in milliseconds. @default 30000 */
  readonly failoverTimeoutMillis?: number;
  /** Whether `connectSplit` waits (up to failoverTimeoutMillis) until a primary is known. @default true */
  readonly waitForPrimary?: boolean;
  /** Host-name resolution (default: the system resolver). */
  readonly lookup?: Lookup;
  /**
   * Standbys further behind the primary than this leave the reader's rotation
   * until they catch up: WAL bytes not yet replayed, and/or milliseconds since
   * the last replayed transaction while replay is behind. Measured at each check.
   * @default no limit
   */
  readonly maxReplicaLag?: { readonly bytes?: number; readonly millis?: number };
  /**
   * `'eventual'`: reads may not see recent writes. `'session'`: a read through
   * the reader sees every write acknowledged through the writer before it
   * started (docs/consistency.md).
   * @default 'eventual'
   */
  readonly consistency?: 'eventual' | 'session';
  /** How a read that must see a write is served when no standby is known to have it. */
  readonly sessionReads?: {
    /** Wait this long for a standby to replay far enough. @default 1000 */
    readonly waitMillis?: number;
    /** Then read on the primary, or fail with PGSPLIT_STALE_READ. @default 'primary' */
    readonly fallback?: 'primary' | 'error';
  };
}

export interface ResolvedSplitOptions {
  readonly writer: PoolSettings;
  readonly reader: PoolSettings;
  readonly readerPolicy: ReaderPolicy;
  readonly balance: Balance;
  readonly recheckMillis: number;
  readonly failoverRecheckMillis: number;
  readonly checkTimeoutMillis: number;
  readonly reconnectMaxDelayMillis: number;
  readonly failoverTimeoutMillis: number;
  readonly waitForPrimary: boolean;
  readonly maxReplicaLag: { readonly bytes: number | null; readonly millis: number | null };
  readonly consistency: 'eventual' | 'session';
  readonly sessionReads: { readonly waitMillis: number; readonly fallback: 'primary' | 'error' };
}

const POLICIES: readonly ReaderPolicy[] = ['prefer-standby', 'standby', 'any', 'primary'];
const BALANCES: readonly Balance[] = ['round-robin', 'random', 'least-busy'];
const CONNECTION_KEYS = ['host', 'port', 'user', 'database', 'password', 'ssl', 'connectionString', 'Client'];

function positive(name: string, value: number | undefined, fallback: number, unit = 'milliseconds'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new OptionError(`Expected \`${name}\` to be a positive finite number of ${unit}, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

function optionalPositive(name: string, value: number | undefined, unit: string): number | null {
  return value === undefined ? null : positive(name, value, 0, unit);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === 0) return 0;
  return positive(name, value, fallback);
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new OptionError(`Expected \`${name}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

function poolSettings(name: string, value: PoolSettings | undefined): PoolSettings {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw new OptionError(`Expected \`${name}\` to be an object of pg.Pool settings`);
  const bad = CONNECTION_KEYS.filter((k) => k in value);
  if (bad.length > 0) {
    throw new OptionError(`\`${name}.${bad[0]}\` is not allowed: connection settings come from the connection string`);
  }
  return Object.freeze({ ...value });
}

/**
 * The reader policy the string's target_session_attrs asks for: `standby` and
 * `read-only` keep reads on standbys, an explicit `any` spreads them over every
 * node; anything else (the writer already follows `read-write`) is `prefer-standby`.
 */
export function policyFromTarget(target: ConnectionTarget): ReaderPolicy {
  switch (target.targetSessionAttrs) {
    case 'standby':
    case 'read-only':
      return 'standby';
    case 'any':
      return target.redactedParams().some(([k]) => k === 'target_session_attrs') ? 'any' : 'prefer-standby';
    default:
      return 'prefer-standby';
  }
}

/** Validates every option once, fills defaults, freezes. Throws `OptionError`. */
export function resolveSplitOptions(options: SplitOptions, target: ConnectionTarget): ResolvedSplitOptions {
  const fromString = connectTimeoutMillis(target);
  return Object.freeze({
    writer: poolSettings('writer', options.writer),
    reader: poolSettings('reader', options.reader),
    readerPolicy: oneOf('readerPolicy', options.readerPolicy, POLICIES, policyFromTarget(target)),
    balance: oneOf('balance', options.balance, BALANCES, 'round-robin'),
    recheckMillis: positive('recheckMillis', options.recheckMillis, 2000),
    failoverRecheckMillis: positive('failoverRecheckMillis', options.failoverRecheckMillis, 100),
    checkTimeoutMillis: positive('checkTimeoutMillis', options.checkTimeoutMillis, fromString > 0 ? fromString : 2000),
    reconnectMaxDelayMillis: positive('reconnectMaxDelayMillis', options.reconnectMaxDelayMillis, 1000),
    failoverTimeoutMillis: positive('failoverTimeoutMillis', options.failoverTimeoutMillis, 30000),
    waitForPrimary: options.waitForPrimary ?? true,
    maxReplicaLag: Object.freeze({
      bytes: optionalPositive('maxReplicaLag.bytes', options.maxReplicaLag?.bytes, 'bytes'),
      millis: optionalPositive('maxReplicaLag.millis', options.maxReplicaLag?.millis, 'milliseconds'),
    }),
    consistency: oneOf('consistency', options.consistency, ['eventual', 'session'], 'eventual'),
    sessionReads: Object.freeze({
      waitMillis: nonNegative('sessionReads.waitMillis', options.sessionReads?.waitMillis, 1000),
      fallback: oneOf('sessionReads.fallback', options.sessionReads?.fallback, ['primary', 'error'], 'primary'),
    }),
  });
}
