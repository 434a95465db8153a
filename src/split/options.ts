import { resolveContextKeys, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import type { Lookup } from '../connect/endpoints.js';
import { OptionError } from '../errors.js';
import { etcdOption } from '../etcd/etcd-options.js';
import {
  describeValue,
  functionOption,
  isPlainObject,
  numberOption,
  oneOfOption,
  optionsObject,
  portOption,
  textOption,
} from '../input.js';
import type { Balance, BalanceRule } from './pool/balancer.js';
import { poolSettings, type FallbackReads, type PoolSettings } from './pool/pool-settings.js';
import { resolveDiscovery, type DiscoveryOptions, type ResolvedDiscovery } from './discovery/discovery.js';
import type { PatroniOptions, ResolvedPatroniOptions } from './patroni/patroni-authority.js';
import type { ReaderPolicy } from '../roles/role-decision.js';
import type { HostTraits } from './watch/members.js';

/**
 * connectSplit's options (the second argument), every one optional. How a
 * choice plays out: docs/routing.md (balance, lag, policies), consistency.md,
 * patroni.md, discovery.md, scaling.md (idle).
 */
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
  /** How reads are spread over eligible nodes. @default 'fastest' */
  readonly balance?: Balance;
  /**
   * The application's zone (as the hosts' zones are named, e.g.
   * `'eu-west-1a'`): reads stay on the zone's nodes while one is eligible
   * and not overloaded, and spill to other zones only when every one there
   * is (docs/routing.md#zones-and-weights). @default no zone
   */
  readonly zone?: string;
  /**
   * Each host's zone and weight for reads, by `'host'` or `'host:port'` as
   * the string or discovery names it (`host:port` first). A zone given here
   * wins over Patroni's `zone` tag or a discovery function's. A weight
   * (default 1) scales the host's share of reads under every balance.
   */
  readonly hosts?: Readonly<Record<string, HostOptions>>;
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
  /**
   * Whether `connectSplit` waits (up to failoverTimeoutMillis) until a
   * primary is known. `true` fails fast (PGSPLIT_CONNECT_FAILED, each host's
   * reason) when no host has ever been reached and every one refuses
   * connections or does not resolve, as for a wrong port or a misspelled
   * name; `'always'` waits even then (a cluster that is starting); `false`
   * does not wait. @default true
   */
  readonly waitForPrimary?: boolean | 'always';
  /**
   * After this long with no statement and nothing checked out, the cluster
   * sleeps: every monitoring session and pooled connection closes, every
   * timer stops, and the next statement wakes it (it waits until every host
   * has been checked again). Sooner once the pools closed their last idle
   * client: the cluster follows them after their own idleTimeoutMillis, as a
   * pg.Pool's process could exit. 0: never sleeps. In milliseconds.
   * @default 30000
   */
  readonly idleAfterMillis?: number;
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
  /**
   * A bound on the reads the primary takes at once when it serves them for
   * want of a standby (`readerPolicy: 'prefer-standby'`, every standby gone):
   * beyond `max` reads in flight there, a read waits for one to finish
   * (up to the reader's `connectionTimeoutMillis`, else
   * `failoverTimeoutMillis`; `whenFull: 'wait'`) or fails at once
   * (`'error'`), both with `PGSPLIT_FALLBACK_FULL`. @default no bound
   */
  readonly fallbackReads?: { readonly max: number; readonly whenFull?: 'wait' | 'error' };
  /** How a read that must see a write is served when no standby is known to have it. */
  readonly sessionReads?: {
    /** Wait this long for a standby to replay far enough. @default 1000 */
    readonly waitMillis?: number;
    /** Then read on the primary, or fail with PGSPLIT_STALE_READ. @default 'primary' */
    readonly fallback?: 'primary' | 'error';
  };
  /**
   * Patroni as a second authority for the writer: every host's REST API is
   * asked on a timer, and writes go only to the node Patroni confirms as its
   * leader (and that pg-split sees read-write on the newest timeline). A
   * leader whose Patroni stops answering gets no writes after `staleMillis`.
   * `true`: the defaults (port 8008). docs/patroni.md.
   * @default off
   */
  readonly patroni?: boolean | PatroniOptions;
  /**
   * Where to find the cluster's members as they come and go (Patroni's REST
   * API, DNS, SRV records or a function of yours); the connection string's
   * hosts are the members until it first answers. See docs/discovery.md.
   */
  readonly discovery?: DiscoveryOptions;
}

/** What the `hosts` option says of one host. */
export interface HostOptions {
  readonly zone?: string;
  /** The host's share of reads against a host of weight 1 (a positive number). @default 1 */
  readonly weight?: number;
}

export interface ResolvedSplitOptions {
  readonly writer: PoolSettings;
  readonly reader: PoolSettings;
  readonly readerPolicy: ReaderPolicy;
  readonly balance: BalanceRule;
  readonly zone: string | null;
  readonly hosts: ReadonlyMap<string, HostTraits>;
  readonly recheckMillis: number;
  readonly failoverRecheckMillis: number;
  readonly checkTimeoutMillis: number;
  readonly reconnectMaxDelayMillis: number;
  readonly failoverTimeoutMillis: number;
  readonly waitForPrimary: boolean | 'always';
  readonly idleAfterMillis: number;
  readonly lookup: Lookup | undefined;
  readonly maxReplicaLag: { readonly bytes: number | null; readonly millis: number | null };
  readonly consistency: 'eventual' | 'session';
  readonly sessionReads: { readonly waitMillis: number; readonly fallback: 'primary' | 'error' };
  readonly fallbackReads: FallbackReads | null;
  readonly patroni: ResolvedPatroniOptions | null;
  readonly discovery: ResolvedDiscovery | null;
}

const POLICIES: readonly ReaderPolicy[] = ['prefer-standby', 'standby', 'any', 'primary'];
const BALANCES: readonly Balance[] = ['round-robin', 'random', 'least-busy', 'fastest'];

export const SPLIT_KEYS = [
  ...resolveContextKeys,
  'writer',
  'reader',
  'readerPolicy',
  'balance',
  'zone',
  'hosts',
  'recheckMillis',
  'failoverRecheckMillis',
  'checkTimeoutMillis',
  'reconnectMaxDelayMillis',
  'failoverTimeoutMillis',
  'waitForPrimary',
  'idleAfterMillis',
  'lookup',
  'maxReplicaLag',
  'consistency',
  'sessionReads',
  'fallbackReads',
  'patroni',
  'discovery',
] as const;

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

/** `waitForPrimary`: true, false or 'always'. */
function waitForPrimaryOption(value: unknown): boolean | 'always' {
  if (value === undefined || value === 'always' || typeof value === 'boolean') return value ?? true;
  throw new OptionError(`Expected \`waitForPrimary\` to be true, false or 'always', got ${describeValue(value)}`);
}

/** Checks the shape of a SplitOptions value (any type) before the connection string is read. Throws `OptionError`. */
export function checkSplitOptions(options: unknown): SplitOptions {
  return optionsObject('options', options, SPLIT_KEYS);
}

function maxReplicaLag(value: unknown): ResolvedSplitOptions['maxReplicaLag'] {
  const limit = optionsObject('maxReplicaLag', value, ['bytes', 'millis']);
  return Object.freeze({
    bytes: numberOption('maxReplicaLag.bytes', limit['bytes'], null, { unit: 'bytes' }),
    millis: numberOption('maxReplicaLag.millis', limit['millis'], null, { unit: 'milliseconds' }),
  });
}

function hostOptions(value: unknown): ResolvedSplitOptions['hosts'] {
  if (value === undefined) return new Map();
  if (!isPlainObject(value)) throw new OptionError(`Expected \`hosts\` to be an object, got ${describeValue(value)}`);
  return new Map(
    Object.entries(value).map(([key, host]): [string, HostTraits] => {
      const name = `hosts['${key}']`;
      if (key === '') throw new OptionError('Expected each key of `hosts` to be a host or host:port, got an empty string');
      const traits = optionsObject(name, host, ['zone', 'weight']);
      return [
        key,
        Object.freeze({
          zone: textOption(`${name}.zone`, traits['zone'], null),
          weight: numberOption(`${name}.weight`, traits['weight'], null),
        }),
      ];
    }),
  );
}

function sessionReads(value: unknown): ResolvedSplitOptions['sessionReads'] {
  const reads = optionsObject('sessionReads', value, ['waitMillis', 'fallback']);
  return Object.freeze({
    waitMillis: numberOption('sessionReads.waitMillis', reads['waitMillis'], 1000, { zero: true, unit: 'milliseconds' }),
    fallback: oneOfOption('sessionReads.fallback', reads['fallback'], ['primary', 'error'], 'primary'),
  });
}

function fallbackReads(value: unknown): FallbackReads | null {
  if (value === undefined) return null;
  const bound = optionsObject('fallbackReads', value, ['max', 'whenFull']);
  if (bound['max'] === undefined) throw new OptionError('Expected `fallbackReads.max` to be a positive whole number, got undefined');
  return Object.freeze({
    max: numberOption('fallbackReads.max', bound['max'], 0, { integer: true }),
    whenFull: oneOfOption('fallbackReads.whenFull', bound['whenFull'], ['wait', 'error'], 'wait'),
  });
}

function patroniOptions(value: unknown): ResolvedPatroniOptions | null {
  if (value === undefined || value === false) return null;
  const options = optionsObject('patroni', value === true ? {} : value, ['port', 'intervalMillis', 'timeoutMillis', 'staleMillis', 'etcd']);
  const port = portOption('patroni.port', options['port'], 8008);
  const millis = (name: string, fallback: number): number =>
    numberOption(`patroni.${name}`, options[name], fallback, { unit: 'milliseconds' });
  const staleMillis = numberOption('patroni.staleMillis', options['staleMillis'], null, { unit: 'milliseconds' });
  const etcd = options['etcd'] === undefined ? null : etcdOption('patroni.etcd', options['etcd']);
  return Object.freeze({
    port,
    intervalMillis: millis('intervalMillis', 1000),
    timeoutMillis: millis('timeoutMillis', 1000),
    staleMillis,
    etcd,
  });
}

/** Validates every option once, fills defaults, freezes. Throws `OptionError`. */
export function resolveSplitOptions(input: unknown, target: ConnectionTarget): ResolvedSplitOptions {
  const options = checkSplitOptions(input) as Record<keyof SplitOptions, unknown>;
  const fromString = connectTimeoutMillis(target);
  const millis = (name: keyof SplitOptions, fallback: number): number =>
    numberOption(name, options[name], fallback, { unit: 'milliseconds' });
  const discovery = resolveDiscovery(options.discovery);
  // Discovery from Patroni makes Patroni's leader a second authority for the writer, as the `patroni` option does.
  const restPatroni = discovery?.source === 'patroni' ? patroniOptions({ port: discovery.port ?? undefined }) : null;
  const impliedPatroni = restPatroni === null ? null : Object.freeze({ ...restPatroni, etcd: discovery?.etcd ?? null });
  return Object.freeze({
    writer: poolSettings('writer', options.writer),
    reader: poolSettings('reader', options.reader),
    readerPolicy: oneOfOption('readerPolicy', options.readerPolicy, POLICIES, policyFromTarget(target)),
    balance: oneOfOption('balance', options.balance, BALANCES, 'fastest'),
    zone: textOption('zone', options.zone, null),
    hosts: hostOptions(options.hosts),
    recheckMillis: millis('recheckMillis', 2000),
    failoverRecheckMillis: millis('failoverRecheckMillis', 100),
    checkTimeoutMillis: millis('checkTimeoutMillis', fromString > 0 ? fromString : 2000),
    reconnectMaxDelayMillis: millis('reconnectMaxDelayMillis', 1000),
    failoverTimeoutMillis: millis('failoverTimeoutMillis', 30000),
    waitForPrimary: waitForPrimaryOption(options.waitForPrimary),
    idleAfterMillis: numberOption('idleAfterMillis', options.idleAfterMillis, 30_000, { zero: true, unit: 'milliseconds' }),
    lookup: functionOption<Lookup>('lookup', options.lookup),
    maxReplicaLag: maxReplicaLag(options.maxReplicaLag),
    consistency: oneOfOption('consistency', options.consistency, ['eventual', 'session'], 'eventual'),
    sessionReads: sessionReads(options.sessionReads),
    fallbackReads: fallbackReads(options.fallbackReads),
    patroni: patroniOptions(options.patroni) ?? impliedPatroni,
    discovery,
  });
}
