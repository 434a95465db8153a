import { resolveContextKeys, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import type { Lookup } from '../connect/endpoints.js';
import { OptionError } from '../errors.js';
import { etcdOption } from '../etcd/etcd-options.js';
import {
  booleanOption,
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
  /**
   * Run each host's checks on an idle connection of the pools when one
   * exists, and close the monitoring session there meanwhile (no session
   * beside the pools' on a node they use). While every pooled connection to
   * a host is busy, its answers to them stand for timed checks, and checks
   * asked for a reason run on a connection a statement gives back: no
   * session is opened on a busy or full server (docs/scaling.md). `false`
   * keeps a monitoring session on every host while the cluster is awake.
   * @default true
   */
  readonly pooledChecks?: boolean;
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

const POLICIES: readonly ReaderPolicy[] = ['prefer-standby', 'standby', 'any', 'primary'];
const BALANCES: readonly Balance[] = ['round-robin', 'random', 'least-busy', 'fastest'];

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

function maxReplicaLag(value: unknown): { readonly bytes: number | null; readonly millis: number | null } {
  const limit = optionsObject('maxReplicaLag', value, ['bytes', 'millis']);
  return Object.freeze({
    bytes: numberOption('maxReplicaLag.bytes', limit['bytes'], null, { unit: 'bytes' }),
    millis: numberOption('maxReplicaLag.millis', limit['millis'], null, { unit: 'milliseconds' }),
  });
}

function hostOptions(value: unknown): ReadonlyMap<string, HostTraits> {
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

function sessionReads(value: unknown): { readonly waitMillis: number; readonly fallback: 'primary' | 'error' } {
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

/** connectSplit's options as given, each value unchecked. */
type Given = Readonly<Record<keyof SplitOptions, unknown>>;

/** The options that `patroni` does not name but discovery from Patroni implies: Patroni's leader as a second authority for the writer. */
function impliedPatroni(discovery: ResolvedDiscovery | null): ResolvedPatroniOptions | null {
  if (discovery?.source !== 'patroni') return null;
  const rest = patroniOptions({ port: discovery.port ?? undefined });
  return rest === null ? null : Object.freeze({ ...rest, etcd: discovery.etcd });
}

const millis =
  (name: keyof SplitOptions, fallback: number) =>
  (o: Given): number =>
    numberOption(name, o[name], fallback, { unit: 'milliseconds' });

/**
 * How each of connectSplit's options is read: validated, its default filled.
 * One entry per option of SplitOptions (the compiler checks that none is
 * missing and none is extra): the key list (SPLIT_KEYS) and the resolved
 * type (ResolvedSplitOptions) come from it.
 */
const RESOLVERS = {
  writer: (o: Given) => poolSettings('writer', o.writer),
  reader: (o: Given) => poolSettings('reader', o.reader),
  readerPolicy: (o: Given, target: ConnectionTarget): ReaderPolicy =>
    oneOfOption('readerPolicy', o.readerPolicy, POLICIES, policyFromTarget(target)),
  pooledChecks: (o: Given): boolean => booleanOption('pooledChecks', o.pooledChecks, true),
  balance: (o: Given): BalanceRule => oneOfOption('balance', o.balance, BALANCES, 'fastest'),
  zone: (o: Given): string | null => textOption('zone', o.zone, null),
  hosts: (o: Given) => hostOptions(o.hosts),
  recheckMillis: millis('recheckMillis', 2000),
  failoverRecheckMillis: millis('failoverRecheckMillis', 100),
  checkTimeoutMillis: (o: Given, target: ConnectionTarget): number => {
    const fromString = connectTimeoutMillis(target);
    return millis('checkTimeoutMillis', fromString > 0 ? fromString : 2000)(o);
  },
  reconnectMaxDelayMillis: millis('reconnectMaxDelayMillis', 1000),
  failoverTimeoutMillis: millis('failoverTimeoutMillis', 30000),
  waitForPrimary: (o: Given) => waitForPrimaryOption(o.waitForPrimary),
  idleAfterMillis: (o: Given): number => numberOption('idleAfterMillis', o.idleAfterMillis, 30_000, { zero: true, unit: 'milliseconds' }),
  lookup: (o: Given) => functionOption<Lookup>('lookup', o.lookup),
  maxReplicaLag: (o: Given) => maxReplicaLag(o.maxReplicaLag),
  consistency: (o: Given): 'eventual' | 'session' => oneOfOption('consistency', o.consistency, ['eventual', 'session'], 'eventual'),
  sessionReads: (o: Given) => sessionReads(o.sessionReads),
  fallbackReads: (o: Given) => fallbackReads(o.fallbackReads),
  patroni: (o: Given) => patroniOptions(o.patroni) ?? impliedPatroni(resolveDiscovery(o.discovery)),
  discovery: (o: Given) => resolveDiscovery(o.discovery),
} satisfies { readonly [K in Exclude<keyof SplitOptions, keyof ResolveContext>]-?: (o: Given, target: ConnectionTarget) => unknown };

/** connectSplit's options, each validated and with its default (the connection string's context, ResolveContext, is read with the string). */
export type ResolvedSplitOptions = { readonly [K in keyof typeof RESOLVERS]: ReturnType<(typeof RESOLVERS)[K]> };

/** Every key connectSplit's options may have. */
export const SPLIT_KEYS: ReadonlyArray<keyof SplitOptions> = [
  ...resolveContextKeys,
  ...(Object.keys(RESOLVERS) as Array<keyof typeof RESOLVERS>),
];

/** Validates every option once, fills defaults, freezes. Throws `OptionError`. */
export function resolveSplitOptions(input: unknown, target: ConnectionTarget): ResolvedSplitOptions {
  const given = checkSplitOptions(input) as Given;
  const resolvers: ReadonlyArray<[string, (o: Given, target: ConnectionTarget) => unknown]> = Object.entries(RESOLVERS);
  const resolved = Object.fromEntries(resolvers.map(([key, resolve]) => [key, resolve(given, target)]));
  return Object.freeze(resolved) as ResolvedSplitOptions;
}
