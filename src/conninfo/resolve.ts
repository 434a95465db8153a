import { homedir, userInfo } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import { applyDefaults, type Env } from './defaults.js';
import { buildHostList, type HostEntry } from './host-list.js';
import { isSecretKeyword, MASK } from './keywords.js';
import { orderedParams, type ConnParams } from './params.js';
import { parseConnInfo } from './parse.js';
import { findPassword, readPgpassFile, type PgpassWarning } from './pgpass.js';
import { defaultSocketDir } from './socket-dir.js';
import { validateOptions } from './validate.js';
import { OptionError } from '../errors.js';
import { conninfoArgument, describeValue, functionOption, optionsObject } from '../input.js';

export type TargetSessionAttrs = 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
export type LoadBalanceHosts = 'disable' | 'random';

/** Where defaults come from; every field has a default taken from this process. */
export interface ResolveContext {
  /** The environment libpq's variables are read from (`PGHOST`, `PGPORT`, `PGTARGETSESSIONATTRS`, `PGPASSFILE`, ...). @default process.env */
  readonly env?: Env;
  /** The operating-system user name, libpq's default `user` and `dbname`. @default os.userInfo().username */
  readonly osUser?: () => string;
  /** The home directory, where libpq looks for `.pgpass` and `.pg_service.conf`; null when there is none. @default the environment's `HOME`, else os.homedir() */
  readonly homeDir?: () => string | null;
  /** Receives libpq's password-file warnings (default: `process.emitWarning`). */
  readonly warn?: PgpassWarning;
}

/** A host entry with the password libpq would use for it. */
export interface ResolvedHost extends HostEntry {
  /** True when the password came from the password file (libpq then says so on a failed login). */
  readonly passwordFromFile: boolean;
}

/**
 * A connection string resolved as libpq resolves it before connecting:
 * parsed, defaults applied, host list built, options validated, passwords
 * looked up per host. Secrets are kept in private fields, so logging or
 * serialising this object never shows them.
 */
export class ConnectionTarget {
  readonly hosts: readonly ResolvedHost[];
  readonly user: string;
  readonly dbname: string;
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly loadBalanceHosts: LoadBalanceHosts;
  readonly passfile: string | null;
  readonly #params: ConnParams;
  readonly #options: ReadonlyMap<string, string>;
  readonly #passwords: ReadonlyArray<string | null>;
  readonly #tls: Readonly<ConnectionOptions> | null;

  constructor(
    params: ConnParams,
    options: ReadonlyMap<string, string>,
    hosts: readonly ResolvedHost[],
    passwords: ReadonlyArray<string | null>,
    passfile: string | null,
    tls: Readonly<ConnectionOptions> | null = null,
  ) {
    this.#params = params;
    this.#options = options;
    this.#passwords = passwords;
    this.#tls = tls;
    this.hosts = hosts;
    this.passfile = passfile;
    this.user = options.get('user') ?? '';
    this.dbname = options.get('dbname') ?? '';
    this.targetSessionAttrs = (options.get('target_session_attrs') ?? 'any') as TargetSessionAttrs;
    this.loadBalanceHosts = (options.get('load_balance_hosts') ?? 'disable') as LoadBalanceHosts;
  }

  /** A resolved option (defaults applied). Secret options are readable here, never enumerable. */
  option(keyword: string): string | undefined {
    return this.#options.get(keyword);
  }

  /** Whether the connection string itself set `keyword` (not a default, not the environment's). */
  sets(keyword: string): boolean {
    return this.#params.has(keyword);
  }

  /**
   * Node TLS options given beside the string (pg's `ssl` object: `ca`,
   * `key`, `cert`, ...), for every TLS connection to the hosts, over what
   * libpq's keywords say (tls-options.ts); null when none. Private, as the
   * passwords: never in `toJSON()` nor in an inspection.
   */
  tlsMaterial(): Readonly<ConnectionOptions> | null {
    return this.#tls;
  }

  /** This target with `tls` as its TLS material (null: none). */
  withTls(tls: Readonly<ConnectionOptions> | null): ConnectionTarget {
    return new ConnectionTarget(this.#params, this.#options, this.hosts, this.#passwords, this.passfile, tls);
  }

  /** The password for host `index`: the explicit one, else the password file's. */
  passwordFor(index: number): string | null {
    return this.#passwords[index] ?? null;
  }

  /**
   * This target with more host entries after its own (members found by
   * discovery): the same options, and each new host's password found as
   * libpq finds it (the explicit one, else the password file's).
   */
  withHosts(entries: readonly HostEntry[]): ConnectionTarget {
    const passwords = lookupPasswords(entries, this.#options, this.passfile, (m) => process.emitWarning(m));
    const added = entries.map((h, i) => Object.freeze({ ...h, passwordFromFile: !this.#options.get('password') && passwords[i] != null }));
    return new ConnectionTarget(
      this.#params,
      this.#options,
      [...this.hosts, ...added],
      [...this.#passwords, ...passwords],
      this.passfile,
      this.#tls,
    );
  }

  /** What the string itself set, in libpq's order, secrets masked. */
  redactedParams(): Array<[string, string]> {
    return orderedParams(this.#params).map(([k, v]) => [k, isSecretKeyword(k) ? MASK : v]);
  }

  /** Every resolved option, in libpq's order, secrets masked. */
  redactedOptions(): Array<[string, string]> {
    return orderedParams(this.#options).map(([k, v]) => [k, isSecretKeyword(k) ? MASK : v]);
  }

  toJSON(): object {
    return { params: Object.fromEntries(this.redactedParams()), hosts: this.hosts };
  }
}

function passfilePath(options: ReadonlyMap<string, string>, home: string | null): string | null {
  const configured = options.get('passfile');
  if (configured) return configured;
  return home === null ? null : join(home, '.pgpass');
}

function pgpassHost(entry: HostEntry): string {
  const host = entry.host ?? entry.hostaddr ?? '';
  if (host === '' || entry.kind === 'default-socket' || host === defaultSocketDir()) return 'localhost';
  return host;
}

function lookupPasswords(
  hosts: readonly HostEntry[],
  options: ReadonlyMap<string, string>,
  passfile: string | null,
  warn: PgpassWarning,
): Array<string | null> {
  const explicit = options.get('password');
  if (explicit) return hosts.map(() => explicit);
  const user = options.get('user') ?? '';
  const dbname = options.get('dbname') ?? '';
  const text = passfile === null || user === '' || dbname === '' ? null : readPgpassFile(passfile, warn);
  if (text === null) return hosts.map(() => null);
  return hosts.map((h) => findPassword(text, { host: pgpassHost(h), port: h.portText ?? '5432', dbname, user }));
}

export const resolveContextKeys = ['env', 'osUser', 'homeDir', 'warn'] as const;

/** Checks the types of the ResolveContext fields of an options object (its other keys are the caller's). */
function checkContext(context: Readonly<Record<string, unknown>>): ResolveContext {
  const env = context['env'];
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) {
    throw new OptionError(`Expected \`env\` to be an object of environment variables, got ${describeValue(env)}`);
  }
  for (const [name, value] of Object.entries((env ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && typeof value !== 'string')
      throw new OptionError(`Expected \`env.${name}\` to be a string, got ${describeValue(value)}`);
  }
  for (const name of ['osUser', 'homeDir', 'warn'] as const) functionOption(name, context[name]);
  return context;
}

/** What a context callback returned: a string (or null), else an OptionError. */
function stringResult(name: string, value: unknown): string | null {
  if (value === null || typeof value === 'string') return value;
  throw new OptionError(`Expected \`${name}()\` to return a string, got ${describeValue(value)}`);
}

function resolveChecked(conninfo: string, context: ResolveContext): ConnectionTarget {
  const env = context.env ?? process.env;
  const params = parseConnInfo(conninfo);
  const osUser = context.osUser === undefined ? () => userInfo().username : () => stringResult('osUser', context.osUser?.()) ?? '';
  const options = applyDefaults(params, env, osUser);
  const hosts = buildHostList(options);
  if (!options.get('user')) options.set('user', osUser());
  if (!options.get('dbname')) options.set('dbname', options.get('user') ?? '');
  const home = context.homeDir ? stringResult('homeDir', context.homeDir()) : env['HOME'] || homedir() || null;
  const passfile = passfilePath(options, home);
  const warn = context.warn ?? ((m: string) => process.emitWarning(m));
  const passwords = lookupPasswords(hosts, options, passfile, warn);
  validateOptions(options);
  const resolved = hosts.map((h, i) => Object.freeze({ ...h, passwordFromFile: !options.get('password') && passwords[i] != null }));
  return new ConnectionTarget(params, options, resolved, passwords, passfile);
}

/** Parses and resolves a connection string; throws `ConnInfoError` with libpq's message, `OptionError` for a bad context. */
export function resolveConnInfo(conninfo: string, context: ResolveContext = {}): ConnectionTarget {
  const checked = optionsObject('context', context, resolveContextKeys);
  return resolveChecked(conninfoArgument(conninfo), checkContext(checked));
}

/**
 * The one way every public entry point turns its first argument into a
 * target: a ConnectionTarget as it is, a string resolved with the
 * ResolveContext fields of `options` (whose other keys the caller checked).
 */
export function targetOf(conninfo: unknown, options: Readonly<Record<string, unknown>>): ConnectionTarget {
  if (conninfo instanceof ConnectionTarget) return conninfo;
  return resolveChecked(conninfoArgument(conninfo), checkContext(options));
}
