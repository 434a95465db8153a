import type { ClientConfig } from 'pg';
import { parseIntParam } from '../conninfo/int-param.js';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import type { Endpoint } from './messages.js';
import { tlsOptionsFor } from './tls-options.js';

/** Raised inside pg's password callback when the server asks for a password and none is known. */
export class NoPasswordSupplied extends Error {
  constructor() {
    super('fe_sendauth: no password supplied');
    this.name = 'NoPasswordSupplied';
  }
}

function seconds(target: ConnectionTarget, keyword: string): number | undefined {
  const text = target.option(keyword);
  if (!text) return undefined;
  const n = parseIntParam(text);
  return n === null ? undefined : n;
}

function passwordCallback(password: string | null): () => string {
  return () => {
    if (password === null || password === '') throw new NoPasswordSupplied();
    return password;
  };
}

/** Options pg sends in the startup packet, from the connection string. */
function startupOptions(target: ConnectionTarget): Partial<ClientConfig> {
  const config: Record<string, unknown> = {};
  const copy = (from: string, to: string): void => {
    const value = target.option(from);
    if (value) config[to] = value;
  };
  copy('application_name', 'application_name');
  copy('fallback_application_name', 'fallback_application_name');
  copy('options', 'options');
  copy('client_encoding', 'client_encoding');
  copy('replication', 'replication');
  copy('sslnegotiation', 'sslnegotiation');
  return config;
}

/**
 * The pg client configuration for one attempt on one endpoint: the same user,
 * database and startup options for every host (libpq shares them), the host's
 * own password (per-host .pgpass), TLS or not, and keepalives as libpq sets them.
 */
export function clientConfigFor(target: ConnectionTarget, hostIndex: number, endpoint: Endpoint, useTls: boolean): ClientConfig {
  const entry = target.hosts[hostIndex];
  const serverName = entry?.host ?? null;
  const config: ClientConfig = {
    ...startupOptions(target),
    user: target.user,
    database: target.dbname,
    password: passwordCallback(target.passwordFor(hostIndex)),
    host: endpoint.kind === 'tcp' ? endpoint.address : endpoint.dir,
    port: endpoint.port,
    ssl: useTls ? tlsOptionsFor(target, serverName) : false,
    keepAlive: target.option('keepalives') !== '0',
  };
  const idle = seconds(target, 'keepalives_idle');
  if (idle !== undefined && idle > 0) config.keepAliveInitialDelayMillis = idle * 1000;
  return config;
}
