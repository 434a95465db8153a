import type pg from 'pg';
import { DEFAULT_PORT } from '../conninfo/host-list.js';
import { parseIntParam } from '../conninfo/int-param.js';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { attemptConnection, type StartupParams } from '../connect/attempt.js';
import { clientConfigFor } from '../connect/client-config.js';
import { endpointsFor, type Lookup } from '../connect/endpoints.js';
import { connectHint, hostIdentity, type Endpoint } from '../connect/messages.js';
import { destroySocket } from '../connect/pg-wire.js';
import { encryptionOrder } from '../connect/tls-options.js';
import { reachableStatus, unreachableStatus, type HostIdentity, type NodeStatus } from './node-status.js';
import { STATUS_QUERY, toStatusRow } from './status-query.js';

export interface ProbeOptions {
  /** Bound for connecting plus the status query, per address. */
  readonly timeoutMillis: number;
  readonly lookup: Lookup;
}

function identity(target: ConnectionTarget, hostIndex: number, endpoint: Endpoint | null, port: number): HostIdentity {
  const entry = target.hosts[hostIndex];
  const host = entry?.host ?? entry?.hostaddr ?? (endpoint?.kind === 'socket' ? endpoint.dir : '');
  return { hostIndex, host, address: endpoint?.kind === 'tcp' ? endpoint.address : null, port };
}

async function withTimeout<T>(promise: Promise<T>, millis: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error('timeout expired'));
    }, millis);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the status query on an open client, bounded, and measures its round trip. */
export async function queryStatus(client: pg.Client, id: HostIdentity, timeoutMillis: number): Promise<NodeStatus> {
  const started = performance.now();
  const result = await withTimeout(client.query(STATUS_QUERY), timeoutMillis, () => destroySocket(client));
  const rtt = performance.now() - started;
  return reachableStatus(id, toStatusRow(result.rows[0] as Record<string, unknown>), Math.round(rtt * 100) / 100);
}

/** An open session on one host, with how it was reached (reused for the host's pooled connections). */
export interface Session {
  readonly client: pg.Client;
  readonly endpoint: Endpoint;
  readonly useTls: boolean;
  readonly params: StartupParams;
  readonly id: HostIdentity;
}

export type SessionResult = { readonly ok: true; readonly session: Session } | { readonly ok: false; readonly status: NodeStatus };

async function openOnEndpoint(target: ConnectionTarget, hostIndex: number, endpoint: Endpoint, port: number, timeoutMillis: number): Promise<SessionResult> {
  const id = identity(target, hostIndex, endpoint, port);
  const deadline = Date.now() + timeoutMillis;
  const order = endpoint.kind === 'socket' ? [false] : encryptionOrder(target.option('sslmode') ?? 'prefer');
  let failure = 'could not connect';
  for (const useTls of order) {
    const outcome = await attemptConnection(clientConfigFor(target, hostIndex, endpoint, useTls), Math.max(1, deadline - Date.now()));
    if (outcome.ok) return { ok: true, session: { client: outcome.client, endpoint, useTls, params: outcome.params, id } };
    failure = hostIdentity(endpoint) + outcome.message + (outcome.error.kind === 'socket' ? connectHint(endpoint) : '');
    if (!outcome.tlsRefused && outcome.error.kind !== 'server') break;
  }
  return { ok: false, status: unreachableStatus(id, failure) };
}

/** Opens a session on one host entry: its addresses in turn until one answers. Never throws. */
export async function openSession(target: ConnectionTarget, hostIndex: number, options: ProbeOptions): Promise<SessionResult> {
  const entry = target.hosts[hostIndex];
  const port = entry?.portText == null ? DEFAULT_PORT : parseIntParam(entry.portText) ?? 0;
  const unreachable = (message: string): SessionResult => ({ ok: false, status: unreachableStatus(identity(target, hostIndex, null, port), message) });
  if (entry === undefined || port < 1 || port > 65535) return unreachable(`invalid port number: "${entry?.portText ?? ''}"`);
  const resolved = await endpointsFor(entry, port, options.lookup);
  if (!resolved.ok) return unreachable(resolved.message);
  let last: SessionResult = unreachable('no address');
  for (const endpoint of resolved.endpoints) {
    last = await openOnEndpoint(target, hostIndex, endpoint, port, options.timeoutMillis);
    if (last.ok) return last;
  }
  return last;
}

/** Probes one host entry: opens a session, runs the status query, closes. Never throws. */
export async function probeHost(target: ConnectionTarget, hostIndex: number, options: ProbeOptions): Promise<NodeStatus> {
  const started = Date.now();
  const opened = await openSession(target, hostIndex, options);
  if (!opened.ok) return opened.status;
  const { client, endpoint, id } = opened.session;
  try {
    return await queryStatus(client, id, Math.max(1, options.timeoutMillis - (Date.now() - started)));
  } catch (err) {
    return unreachableStatus(id, hostIdentity(endpoint) + (err instanceof Error ? err.message : String(err)));
  } finally {
    client.end().catch(() => undefined);
  }
}
