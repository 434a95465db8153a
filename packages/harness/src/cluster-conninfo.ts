import { SUPERUSER } from './server-config.js';

/** A keyword=value value as libpq reads it: quoted when empty or holding whitespace, a quote or a backslash. */
function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * A keyword=value connection string for `nodes`, in order, all on their shared
 * port, as the superuser on database `postgres`. `extra` adds keywords or
 * overrides those (e.g. `{ user: 'split_secure', target_session_attrs: 'read-write' }`).
 */
export function buildConnInfo(nodes: readonly Endpoint[], port: number, extra: Readonly<Record<string, string>> = {}): string {
  const params: Record<string, string> = {
    host: nodes.map((node) => node.host).join(','),
    port: String(port),
    user: SUPERUSER,
    dbname: 'postgres',
    ...extra,
  };
  return Object.entries(params)
    .map(([key, value]) => `${key}=${conninfoValue(value)}`)
    .join(' ');
}

/**
 * A postgresql:// URI for `nodes`, in order, each as `host:port`, as the
 * superuser on database `postgres`; `query` becomes the percent-encoded query
 * string (e.g. `{ target_session_attrs: 'read-only' }`).
 */
export function buildUrl(nodes: readonly Endpoint[], query: Readonly<Record<string, string>> = {}): string {
  const hosts = nodes.map((node) => `${node.host}:${node.port}`).join(',');
  const pairs = Object.entries(query).map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return `postgresql://${SUPERUSER}@${hosts}/postgres${pairs.length > 0 ? `?${pairs.join('&')}` : ''}`;
}
