/**
 * What pg-split/pg makes of the config `pg.Client` and `pg.Pool` are given:
 * plain (one host, no multi-host keyword, no `pgSplit`: handed to pg as it
 * is), or routed: read as libpq reads it (connection string, fields and
 * environment), with the role its target_session_attrs asks for and the key
 * of the cluster runtime it shares with every other config naming the same
 * servers the same way.
 */
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { parse as pgParse } from 'pg-connection-string';
import { TLS_SECRETS } from '../connect/tls-options.js';
import { conninfoValue } from '../conninfo/conninfo-value.js';
import type { Env } from '../conninfo/defaults.js';
import { portOf, type HostEntry } from '../conninfo/host-list.js';
import { parseConnInfo } from '../conninfo/parse.js';
import { uriPrefixLength } from '../conninfo/parse-uri.js';
import { orderedParams } from '../conninfo/params.js';
import { targetOf, type ConnectionTarget } from '../conninfo/resolve.js';
import { ConnInfoError, OptionError } from '../errors.js';
import { describeValue, optionsObject } from '../input.js';
import type { PoolRole } from '../roles/role-decision.js';
import { resolveSplitOptions, SPLIT_KEYS, type ResolvedSplitOptions, type SplitOptions } from '../split/options.js';

/**
 * The pg-split options a config may carry under `pgSplit`: connectSplit's,
 * less the pool settings (the config's own), the start-up wait and the
 * resolve context (pg's environment).
 */
export type PgSplitConfigOptions = Omit<SplitOptions, 'writer' | 'reader' | 'waitForPrimary' | 'env' | 'osUser' | 'homeDir' | 'warn'>;

/** The keys PgSplitConfigOptions leaves out (the compiler refuses one it keeps). */
const NOT_IN_PG_SPLIT = ['writer', 'reader', 'waitForPrimary', 'env', 'osUser', 'homeDir', 'warn'] as const satisfies ReadonlyArray<
  Exclude<keyof SplitOptions, keyof PgSplitConfigOptions>
>;
const PG_SPLIT_KEYS = SPLIT_KEYS.filter((k) => !(NOT_IN_PG_SPLIT as readonly string[]).includes(k));

/** pg config fields that say where and as whom to connect, and the libpq keyword each is; in psql's order (dbname after the others it may override). */
const CONNECTION_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['host', 'host'],
  ['port', 'port'],
  ['user', 'user'],
  ['password', 'password'],
  ['database', 'dbname'],
  ['target_session_attrs', 'target_session_attrs'],
  ['load_balance_hosts', 'load_balance_hosts'],
];

/** A config pg-split/pg routes. */
export interface Routed {
  readonly target: ConnectionTarget;
  readonly options: ResolvedSplitOptions;
  /** Which nodes its connections go to: the writer's, or the reader's (for `any`: the first that accepts). */
  readonly role: PoolRole;
  /** Configs with the same key share one cluster runtime: the same servers, credentials, options and reader policy. */
  readonly key: string;
}

const hasList = (value: unknown): boolean => typeof value === 'string' && value.includes(',');

/**
 * pg-split's options from the environment: `PGSPLIT_OPTIONS`, a JSON object
 * of the keys `pgSplit` takes, for every routed config of the process (an
 * ORM that passes its Client only a few fields cannot pass `pgSplit`). Not in
 * the connection string: libpq refuses a keyword it does not know, and the
 * string would no longer be one libpq (psql, a migration tool) can read.
 */
function optionsFromEnv(env: Env): Record<string, unknown> {
  const text = env['PGSPLIT_OPTIONS'];
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Its text is not quoted back: it may hold a password (patroni.etcd.password).
    throw new OptionError(
      `PGSPLIT_OPTIONS is not JSON (${err instanceof SyntaxError ? 'a syntax error' : 'unreadable'}); expected an object of pg-split options`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new OptionError(
      `Expected PGSPLIT_OPTIONS to be a JSON object of pg-split options, got ${typeof value === 'string' ? 'a string' : describeValue(value)}`,
    );
  return optionsObject('PGSPLIT_OPTIONS', value, PG_SPLIT_KEYS);
}

/** libpq's recognized_connection_string: a dbname with a URI prefix or an `=` is itself a connection string. */
function isConnectionString(value: string): boolean {
  return uriPrefixLength(value) > 0 || value.includes('=');
}

/** Whether libpq would read several hosts, or a multi-host keyword, from these params. */
function multiHost(params: ReadonlyMap<string, string>): boolean {
  return (
    hasList(params.get('host')) ||
    hasList(params.get('hostaddr')) ||
    hasList(params.get('port')) ||
    params.has('target_session_attrs') ||
    params.has('load_balance_hosts')
  );
}

/** The connection string's own params (libpq's reading), else null when it is not a string libpq reads but pg does. */
function stringParams(text: string): Map<string, string> | null {
  try {
    return new Map(parseConnInfo(text));
  } catch (err) {
    // A string only pg reads (its own URL forms): pg's, as it is. One neither reads fails with libpq's words.
    if (!(err instanceof ConnInfoError)) throw err;
    try {
      pgParse(text);
      return null;
    } catch {
      throw err;
    }
  }
}

/** libpq's sslmode for pg's `ssl` field: false disables TLS, `rejectUnauthorized: false` requires it unverified, else verified. */
function sslmodeOf(ssl: unknown): string | undefined {
  if (ssl === undefined || ssl === null) return undefined;
  if (ssl === false) return 'disable';
  if (typeof ssl === 'object' && (ssl as { rejectUnauthorized?: unknown }).rejectUnauthorized === false) return 'require';
  return 'verify-full';
}

/**
 * pg's `ssl` object as TLS material for every connection to the cluster (a
 * copy of each of its own fields, enumerable or not, the secrets kept out of
 * enumeration as pg keeps `ssl.key`); null when `ssl` is not an object or
 * has no field.
 */
function tlsMaterialOf(ssl: unknown): Readonly<ConnectionOptions> | null {
  if (typeof ssl !== 'object' || ssl === null) return null;
  const names = Object.getOwnPropertyNames(ssl);
  if (names.length === 0) return null;
  const material = {};
  for (const name of names) {
    const value: unknown = (ssl as Readonly<Record<string, unknown>>)[name];
    Object.defineProperty(material, name, { value, enumerable: !TLS_SECRETS.has(name) });
  }
  return Object.freeze(material);
}

/** What the cluster key holds of TLS material: a digest, so no certificate or private key is kept in it. */
function tlsKey(material: Readonly<ConnectionOptions> | null): string | null {
  if (material === null) return null;
  const fields = Object.fromEntries(
    Object.getOwnPropertyNames(material).map((n) => [n, (material as Readonly<Record<string, unknown>>)[n]]),
  );
  return createHash('sha256').update(keyOf(fields)).digest('base64url');
}

/** Keyed by identity: a function option (lookup, a discovery function) makes its own cluster. */
const functionIds = new WeakMap<object, number>();
let functionCount = 0;
function keyOf(value: unknown): string {
  return JSON.stringify(value ?? null, (_k, v: unknown) => {
    if (typeof v !== 'function') return v;
    let id = functionIds.get(v);
    if (id === undefined) functionIds.set(v, (id = ++functionCount));
    return `function#${id}`;
  });
}

/** A host's port as its connections use it: a default port and the same port written out are one server. */
function portKey(host: HostEntry): string | null {
  const port = portOf(host);
  return port.ok ? String(port.port) : host.portText;
}

function roleOf(target: ConnectionTarget): PoolRole {
  return target.targetSessionAttrs === 'read-write' || target.targetSessionAttrs === 'primary' ? 'writer' : 'reader';
}

/** The pg config as an object: pg's rule (a string is its connectionString; nothing is {}). */
function asObject(config: unknown): Readonly<Record<string, unknown>> {
  if (config === undefined || config === null) return {};
  if (typeof config === 'string') return { connectionString: config };
  if (typeof config !== 'object') throw new OptionError(`Expected a pg config object or a connection string, got ${describeValue(config)}`);
  return config as Record<string, unknown>;
}

/**
 * Null for a config pg serves as it is: one host, no target_session_attrs
 * or load_balance_hosts (in the string, the fields or the environment), no
 * connection string in `database` and no `pgSplit`. Else the routed
 * reading. Throws ConnInfoError (libpq's words) or OptionError.
 */
export function routedConfig(input: unknown, env: Env = process.env): Routed | null {
  const config = asObject(input);
  const pgSplit = config['pgSplit'];
  const text = config['connectionString'];
  if (text !== undefined && typeof text !== 'string')
    throw new OptionError(`Expected \`connectionString\` to be a string, got ${describeValue(text)}`);
  const fromString = text === undefined ? new Map<string, string>() : stringParams(text);
  if (fromString === null && pgSplit === undefined) return null;
  // pg's rule: what the string sets wins over the fields.
  const params = new Map<string, string>();
  let expanded = false;
  for (const [field, keyword] of CONNECTION_FIELDS) {
    const value = field === 'password' ? config['password'] : config[field];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new OptionError(
        `Expected \`${field}\` to be a string${field === 'port' ? ' or a number' : ''} with several hosts, got ${describeValue(value)}`,
      );
    if (keyword === 'dbname' && typeof value === 'string' && isConnectionString(value)) {
      // libpq's expand_dbname, as psql passes it (after host, port and user): the string's settings win over those fields.
      for (const [k, v] of parseConnInfo(value)) params.set(k, v);
      expanded = true;
      continue;
    }
    params.set(keyword, String(value));
  }
  const sslmode = sslmodeOf(config['ssl']);
  if (sslmode !== undefined) params.set('sslmode', sslmode);
  const timeout = config['connectionTimeoutMillis'];
  if (typeof timeout === 'number' && timeout > 0) params.set('connect_timeout', String(Math.max(1, Math.ceil(timeout / 1000))));
  for (const [k, v] of fromString ?? []) params.set(k, v);
  const fromEnv = (name: string): boolean => env[name] !== undefined && env[name] !== '';
  const routedByEnv =
    (!params.has('host') && !params.has('hostaddr') && hasList(env['PGHOST'] ?? env['PGHOSTADDR'])) ||
    (!params.has('port') && hasList(env['PGPORT'])) ||
    (!params.has('target_session_attrs') && fromEnv('PGTARGETSESSIONATTRS')) ||
    (!params.has('load_balance_hosts') && fromEnv('PGLOADBALANCEHOSTS'));
  if (pgSplit === undefined && !expanded && !multiHost(params) && !routedByEnv) return null;
  const conninfo = orderedParams(params)
    .map(([k, v]) => `${k}=${conninfoValue(v)}`)
    .join(' ');
  const material = tlsMaterialOf(config['ssl']);
  const target = targetOf(conninfo, { env }).withTls(material);
  // The environment's options (PGSPLIT_OPTIONS) under the config's own, key by key.
  const given = { ...optionsFromEnv(env), ...optionsObject('pgSplit', pgSplit ?? {}, PG_SPLIT_KEYS) };
  // pg's connectionTimeoutMillis bounds the wait for a connection: here, a checkout's or a Client's connect()'s for a node of its role, unless pgSplit says otherwise.
  if (typeof timeout === 'number' && timeout > 0 && given['failoverTimeoutMillis'] === undefined) given['failoverTimeoutMillis'] = timeout;
  const resolved = resolveSplitOptions(given, target);
  // target_session_attrs=any: libpq's first host that accepts (in random order with load_balance_hosts=random).
  const anyHost = target.targetSessionAttrs === 'any' && given['readerPolicy'] === undefined;
  // pg-pool's allowExitOnIdle: the shared watch's sessions and timers do not keep the process alive either (the runtime's pools are given their own settings).
  const exitOnIdle = config['allowExitOnIdle'] === true;
  const policy = anyHost
    ? { readerPolicy: 'any' as const, balance: target.loadBalanceHosts === 'random' ? ('random' as const) : ('first' as const) }
    : {};
  const options: ResolvedSplitOptions = Object.freeze({
    ...resolved,
    ...policy,
    writer: { ...resolved.writer, allowExitOnIdle: exitOnIdle },
    reader: { ...resolved.reader, allowExitOnIdle: exitOnIdle },
  });
  // The servers as libpq resolved them (one port for every host, or one each), and what else the sessions share.
  const own = new Set(['host', 'hostaddr', 'port', 'target_session_attrs', 'load_balance_hosts', 'application_name']);
  const shared = orderedParams(params).filter(([k]) => !own.has(k));
  const key = keyOf([
    shared,
    target.hosts.map((h) => [h.host, h.hostaddr, portKey(h)]),
    given,
    options.readerPolicy,
    options.balance,
    exitOnIdle,
    tlsKey(material),
  ]);
  return { target, options, role: anyHost ? 'reader' : roleOf(target), key };
}
