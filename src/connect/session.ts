import type pg from 'pg';
import type { AttemptFailure } from '../errors.js';
import { hostDisplayName, portOf } from '../conninfo/host-list.js';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { attemptConnection, type StartupParams } from './attempt.js';
import { clientConfigFor } from './client-config.js';
import { endpointsFor, type Lookup } from './endpoints.js';
import type { AttemptError } from './failure.js';
import { connectHint, hostIdentity, type Endpoint } from './messages.js';
import { encryptionOrder } from './tls-options.js';

/**
 * The one session opener: the host walk (`connect()`), `probe` and the
 * monitors of `connectSplit()` all open their connections here, with one
 * TLS fallback rule (libpq's), one port parser and one host naming.
 */

/** An open session on one address, with how it was reached (pooled connections go the same way). */
export interface Session {
  readonly client: pg.Client;
  readonly hostIndex: number;
  /** The host as `hostDisplayName` names it. */
  readonly host: string;
  readonly endpoint: Endpoint;
  readonly useTls: boolean;
  readonly params: StartupParams;
}

/** One failed address (or a host that has no address to try), worded as libpq words it. */
export interface OpenFailure {
  readonly host: string;
  readonly endpoint: Endpoint | null;
  readonly port: number;
  /** libpq's text, without the `connection to server ... failed: ` prefix. */
  readonly reason: string;
  readonly error: AttemptError;
}

/**
 * Ends a session's client that no one will use again: an error the server
 * sends meanwhile (its shutdown terminating the session) is dropped rather
 * than thrown at the process as an unhandled 'error' event.
 */
export function discardClient(client: pg.Client): Promise<void> {
  client.on('error', () => undefined);
  return client.end().catch(() => undefined);
}

export type EndpointOutcome = { readonly ok: true; readonly session: Session } | { readonly ok: false; readonly failure: OpenFailure };

/** The failure's whole line, as libpq prints it: `connection to server at "h" (addr), port p failed: reason`. */
export function failureLine(failure: OpenFailure): string {
  return (failure.endpoint === null ? '' : hostIdentity(failure.endpoint)) + failure.reason;
}

function reasonText(target: ConnectionTarget, hostIndex: number, endpoint: Endpoint, error: AttemptError, message: string): string {
  let text = message;
  if (error.kind === 'socket' && error.errno !== 'TLS_REFUSED') text += connectHint(endpoint);
  const fromFile = target.hosts[hostIndex]?.passwordFromFile === true;
  if (error.kind === 'server' && error.sqlstate === '28P01' && fromFile)
    text += `\npassword retrieved from file "${target.passfile ?? ''}"`;
  return text;
}

/**
 * Every try on one address, one per encryption method libpq allows for the
 * sslmode, within one deadline that is not re-armed between them. Like libpq,
 * the next method is tried when the server refused TLS or failed the login
 * before authentication completed. `timeoutMillis` 0: no bound.
 */
export async function openOnEndpoint(
  target: ConnectionTarget,
  hostIndex: number,
  endpoint: Endpoint,
  timeoutMillis: number,
  signal?: AbortSignal,
): Promise<EndpointOutcome> {
  const deadline = timeoutMillis > 0 ? Date.now() + timeoutMillis : Infinity;
  const order = endpoint.kind === 'socket' ? [false] : encryptionOrder(target.option('sslmode') ?? 'prefer');
  const host = hostDisplayName(target.hosts[hostIndex]);
  for (const [i, useTls] of order.entries()) {
    const remaining = deadline === Infinity ? 0 : Math.max(1, deadline - Date.now());
    const outcome = await attemptConnection(clientConfigFor(target, hostIndex, endpoint, useTls), remaining, signal);
    if (outcome.ok) return { ok: true, session: { client: outcome.client, hostIndex, host, endpoint, useTls, params: outcome.params } };
    const retryable = outcome.tlsRefused || (outcome.error.kind === 'server' && !outcome.error.afterAuth);
    if (i < order.length - 1 && retryable && Date.now() < deadline && signal?.aborted !== true) continue;
    const reason = reasonText(target, hostIndex, endpoint, outcome.error, outcome.message);
    return { ok: false, failure: { host, endpoint, port: endpoint.port, reason, error: outcome.error } };
  }
  throw new Error('unreachable: encryptionOrder is never empty');
}

export type HostAddresses =
  | { readonly ok: true; readonly host: string; readonly endpoints: readonly Endpoint[] }
  | { readonly ok: false; readonly failure: OpenFailure };

/** The addresses to try for one host entry: its port checked, its name resolved. */
export async function addressesOf(target: ConnectionTarget, hostIndex: number, lookup: Lookup): Promise<HostAddresses> {
  const entry = target.hosts[hostIndex];
  const host = hostDisplayName(entry);
  if (entry === undefined)
    return { ok: false, failure: { host, endpoint: null, port: 0, reason: 'no such host entry', error: { kind: 'resolve' } } };
  const port = portOf(entry);
  if (!port.ok)
    return {
      ok: false,
      failure: { host, endpoint: null, port: port.port, reason: port.message, error: { kind: 'port', fatal: port.fatal } },
    };
  const resolved = await endpointsFor(entry, port.port, lookup);
  if (!resolved.ok)
    return { ok: false, failure: { host, endpoint: null, port: port.port, reason: resolved.message, error: { kind: 'resolve' } } };
  return { ok: true, host, endpoints: resolved.endpoints };
}

export type SessionResult =
  { readonly ok: true; readonly session: Session } | { readonly ok: false; readonly failures: readonly OpenFailure[] };

/** Opens a session on one host entry: its addresses in turn until one answers. Never throws. */
export async function openSession(
  target: ConnectionTarget,
  hostIndex: number,
  options: { readonly timeoutMillis: number; readonly lookup: Lookup; readonly signal?: AbortSignal },
): Promise<SessionResult> {
  const addresses = await addressesOf(target, hostIndex, options.lookup);
  if (!addresses.ok) return { ok: false, failures: [addresses.failure] };
  const failures: OpenFailure[] = [];
  for (const endpoint of addresses.endpoints) {
    const outcome = await openOnEndpoint(target, hostIndex, endpoint, options.timeoutMillis, options.signal);
    if (outcome.ok) return outcome;
    failures.push(outcome.failure);
    if (options.signal?.aborted === true) break;
  }
  return { ok: false, failures };
}

/** The public shape of a failure (`ConnectError.attempts`). */
export function attemptFailure(failure: OpenFailure): AttemptFailure {
  const address = failure.endpoint?.kind === 'tcp' ? failure.endpoint.address : null;
  const base: AttemptFailure = { host: failure.host, address, port: failure.port, reason: failure.reason };
  return failure.error.kind === 'server' ? { ...base, sqlstate: failure.error.sqlstate } : base;
}
