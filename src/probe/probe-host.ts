import type pg from 'pg';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import type { Lookup } from '../connect/endpoints.js';
import { hostIdentity } from '../connect/messages.js';
import { destroySocket } from '../connect/pg-wire.js';
import { discardClient, failureLine, openSession, type OpenFailure, type Session } from '../connect/session.js';
import { untraced } from '../otel/otel-api.js';
import { reachableStatus, unreachableStatus, type HostIdentity, type NodeStatus } from '../roles/node-status.js';
import { STATUS_QUERY, toStatusRow } from '../roles/status-query.js';

export interface ProbeOptions {
  /** Bound for connecting plus the status query, per address. */
  readonly timeoutMillis: number;
  readonly lookup: Lookup;
}

/** Who a session is connected to, as statuses name it. */
export function sessionIdentity(session: Pick<Session, 'hostIndex' | 'host' | 'endpoint'>): HostIdentity {
  const { endpoint } = session;
  return {
    hostIndex: session.hostIndex,
    host: session.host,
    address: endpoint.kind === 'tcp' ? endpoint.address : null,
    port: endpoint.port,
  };
}

/** The status of a host none of whose addresses answered: the last failure, worded as libpq's. */
export function failedStatus(hostIndex: number, failures: readonly OpenFailure[]): NodeStatus {
  const last = failures[failures.length - 1];
  const address = last?.endpoint?.kind === 'tcp' ? last.endpoint.address : null;
  const id = { hostIndex, host: last?.host ?? '', address, port: last?.port ?? 0 };
  return unreachableStatus(id, last === undefined ? 'no address' : failureLine(last));
}

/** A status query that did not answer in time (the host may be frozen). */
export class StatusTimeout extends Error {
  constructor() {
    super('timeout expired');
    this.name = 'StatusTimeout';
  }
}

async function withTimeout<T>(promise: Promise<T>, millis: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new StatusTimeout());
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
  const row = (result as { rows?: unknown[] } | undefined)?.rows?.[0];
  // Something that speaks the protocol but is no PostgreSQL server (a proxy's own answer, a test double): an unreachable host, with why.
  if (typeof row !== 'object' || row === null) throw new Error('the server answered the status query with no row');
  return reachableStatus(id, toStatusRow(row as Record<string, unknown>), Math.round(rtt * 100) / 100);
}

/** Probes one host entry: opens a session, runs the status query, closes. Never throws, never traced. */
export function probeHost(target: ConnectionTarget, hostIndex: number, options: ProbeOptions): Promise<NodeStatus> {
  return untraced(() => probeOnce(target, hostIndex, options));
}

async function probeOnce(target: ConnectionTarget, hostIndex: number, options: ProbeOptions): Promise<NodeStatus> {
  const started = Date.now();
  const opened = await openSession(target, hostIndex, options);
  if (!opened.ok) return failedStatus(hostIndex, opened.failures);
  const { client, endpoint } = opened.session;
  const id = sessionIdentity(opened.session);
  try {
    return await queryStatus(client, id, Math.max(1, options.timeoutMillis - (Date.now() - started)));
  } catch (err) {
    return unreachableStatus(id, hostIdentity(endpoint) + (err instanceof Error ? err.message : String(err)));
  } finally {
    void discardClient(client);
  }
}
