import { OptionError } from '../errors.js';
import { describeValue, numberOption, optionsObject } from '../input.js';
import type { EtcdConnection } from './etcd-client.js';

/** Patroni's keys in etcd (option `patroni.etcd`), resolved. */
export interface PatroniDcsOptions {
  readonly connection: EtcdConnection;
  /** Patroni's `scope`: the cluster's name. */
  readonly scope: string;
  /** Patroni's `namespace`. @default '/service' */
  readonly namespace: string;
  /** The watch never keeps the process alive (the pools' `allowExitOnIdle`). */
  readonly exitOnIdle?: boolean;
}

/** Where Patroni keeps its state in etcd (option `patroni.etcd` or `discovery.etcd`): etcd's v3 API, as Patroni's `etcd3:` section. */
export interface EtcdOptions {
  /** etcd's client URLs: `'host:port'` or `'http(s)://host:port'`, tried in turn (Patroni's `etcd3.hosts`). */
  readonly endpoints: string | readonly string[];
  /** Patroni's `scope`: the cluster's name. */
  readonly scope: string;
  /** Patroni's `namespace`. @default '/service' */
  readonly namespace?: string;
  /** etcd's user and password, when etcd has authentication enabled. */
  readonly username?: string;
  readonly password?: string;
  /** PEM texts (read the files yourself) for https endpoints: the CA etcd's certificate is signed by, and a client certificate and key. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** Bound on one request to etcd, in milliseconds (a linearizable read is a raft round among etcd's members). @default 2000 */
  readonly timeoutMillis?: number;
}

const KEYS = ['endpoints', 'scope', 'namespace', 'username', 'password', 'tls', 'timeoutMillis'];

function endpoint(name: string, value: unknown, secure: boolean): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new OptionError(
      `Expected \`${name}.endpoints\` to list etcd's client URLs ('10.0.0.5:2379', 'https://etcd1:2379'), got ${describeValue(value)}`,
    );
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `${secure ? 'https' : 'http'}://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new OptionError(`Expected \`${name}.endpoints\` to list etcd's client URLs, got ${describeValue(value)}`);
  }
  if (url.username !== '' || url.password !== '')
    throw new OptionError(`\`${name}.endpoints\` must not hold credentials: give \`${name}.username\` and \`${name}.password\``);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new OptionError(`Expected \`${name}.endpoints\` to be http or https URLs, got ${describeValue(url.protocol)}`);
  return url.origin;
}

function text(name: string, value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  throw new OptionError(`Expected \`${name}\` to be ${what}`);
}

function tlsOption(name: string, value: unknown): PatroniDcsOptions['connection']['tls'] {
  if (value === undefined) return null;
  const tls = optionsObject(`${name}.tls`, value, ['ca', 'cert', 'key']);
  const pem = (key: string): Record<string, string> => {
    const given = text(`${name}.tls.${key}`, tls[key], 'a PEM text');
    return given === undefined ? {} : { [key]: given };
  };
  return Object.freeze({ ...pem('ca'), ...pem('cert'), ...pem('key') });
}

/** Validates an etcd option (any type) named `name`. Throws `OptionError`; never quotes the password. */
export function etcdOption(name: string, value: unknown): PatroniDcsOptions {
  const options = optionsObject(name, value, KEYS);
  const tls = tlsOption(name, options['tls']);
  const given = options['endpoints'];
  const list: unknown[] = typeof given === 'string' ? [given] : Array.isArray(given) ? (given as unknown[]) : [];
  if (list.length === 0)
    throw new OptionError(
      `Expected \`${name}.endpoints\` to list etcd's client URLs ('10.0.0.5:2379', 'https://etcd1:2379'), got ${describeValue(given)}`,
    );
  const scope = text(`${name}.scope`, options['scope'], "Patroni's scope (the cluster's name), a string");
  if (scope === undefined) throw new OptionError(`Expected \`${name}.scope\`: Patroni's scope (the cluster's name)`);
  const username = text(`${name}.username`, options['username'], 'a string') ?? null;
  // Never quote what was given as a password.
  const givenPassword = options['password'];
  if (givenPassword !== undefined && typeof givenPassword !== 'string')
    throw new OptionError(`Expected \`${name}.password\` to be a string`);
  const password = givenPassword ?? null;
  if (password !== null && username === null) throw new OptionError(`\`${name}.password\` needs \`${name}.username\``);
  return Object.freeze({
    scope,
    namespace: text(`${name}.namespace`, options['namespace'], "Patroni's namespace, a string") ?? '/service',
    connection: Object.freeze({
      endpoints: Object.freeze(list.map((e) => endpoint(name, e, tls !== null))),
      username,
      password,
      tls,
      timeoutMillis: numberOption(`${name}.timeoutMillis`, options['timeoutMillis'], 2000, { unit: 'milliseconds' }),
    }),
  });
}
