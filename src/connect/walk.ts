import type pg from 'pg';
import { DEFAULT_PORT } from '../conninfo/host-list.js';
import { invalidIntegerMessage, parseIntParam } from '../conninfo/int-param.js';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { ConnectError, type AttemptFailure } from '../errors.js';
import { attemptConnection, type StartupParams } from './attempt.js';
import { clientConfigFor } from './client-config.js';
import { endpointsFor, type Lookup } from './endpoints.js';
import { failureAction, type AttemptError, type FailureAction } from './failure.js';
import { connectHint, hostIdentity, type Endpoint } from './messages.js';
import { CheckQueryFailed, readServerState } from './server-check.js';
import { rejectionReason, type ServerState, type WalkPass } from './server-state.js';
import { shuffled, type RandomInt } from './shuffle.js';
import { encryptionOrder } from './tls-options.js';

/** A connection that passed the check. */
export interface Connected {
  readonly client: pg.Client;
  readonly hostIndex: number;
  readonly endpoint: Endpoint;
  readonly state: ServerState;
  readonly params: StartupParams;
}

export interface WalkContext {
  readonly target: ConnectionTarget;
  /** Per-address bound in milliseconds; 0 waits forever (libpq without connect_timeout). */
  readonly timeoutMillis: number;
  readonly lookup: Lookup;
  readonly random: RandomInt;
}

/** libpq's accumulated error text, one entry per failed attempt. */
class ErrorLog {
  readonly lines: string[] = [];
  readonly failures: AttemptFailure[] = [];

  add(entry: { host: string; endpoint: Endpoint | null; port: number; reason: string; sqlstate?: string }): void {
    const prefix = entry.endpoint === null ? '' : hostIdentity(entry.endpoint);
    this.lines.push(prefix + entry.reason);
    const address = entry.endpoint?.kind === 'tcp' ? entry.endpoint.address : null;
    const failure: AttemptFailure = { host: entry.host, address, port: entry.port, reason: entry.reason };
    this.failures.push(entry.sqlstate === undefined ? failure : { ...failure, sqlstate: entry.sqlstate });
  }

  toError(): ConnectError {
    return new ConnectError(this.lines.join('\n'), this.failures);
  }
}

type HostResult = { readonly connected: Connected } | { readonly next: 'next-host' | 'abort' };

function displayName(ctx: WalkContext, hostIndex: number): string {
  const h = ctx.target.hosts[hostIndex];
  return h?.host ?? h?.hostaddr ?? '';
}

function failureText(ctx: WalkContext, hostIndex: number, endpoint: Endpoint, error: AttemptError, message: string): string {
  let text = message;
  if (error.kind === 'socket' && error.errno !== 'TLS_REFUSED') text += connectHint(endpoint);
  const fromFile = ctx.target.hosts[hostIndex]?.passwordFromFile === true;
  if (error.kind === 'server' && error.sqlstate === '28P01' && fromFile) text += `\npassword retrieved from file "${ctx.target.passfile ?? ''}"`;
  return text;
}

async function checkAndAccept(ctx: WalkContext, client: pg.Client, params: StartupParams, pass: WalkPass): Promise<ServerState | string> {
  try {
    const state = await readServerState(client, params, ctx.target.targetSessionAttrs, pass);
    return rejectionReason(ctx.target.targetSessionAttrs, state, pass) ?? state;
  } catch (err) {
    if (err instanceof CheckQueryFailed) return err.message;
    throw err;
  }
}

async function terminate(client: pg.Client): Promise<void> {
  await client.end().catch(() => undefined);
}

/** All tries on one address (one per encryption method libpq allows); the deadline is not re-armed between them. */
async function tryEndpoint(ctx: WalkContext, hostIndex: number, endpoint: Endpoint, pass: WalkPass, log: ErrorLog): Promise<HostResult | FailureAction> {
  const deadline = ctx.timeoutMillis > 0 ? Date.now() + ctx.timeoutMillis : Infinity;
  const order = endpoint.kind === 'socket' ? [false] : encryptionOrder(ctx.target.option('sslmode') ?? 'prefer');
  const host = displayName(ctx, hostIndex);
  for (const [i, useTls] of order.entries()) {
    const remaining = deadline === Infinity ? 0 : Math.max(1, deadline - Date.now());
    const outcome = await attemptConnection(clientConfigFor(ctx.target, hostIndex, endpoint, useTls), remaining);
    const moreMethods = i < order.length - 1;
    if (outcome.ok) {
      const verdict = await checkAndAccept(ctx, outcome.client, outcome.params, pass);
      if (typeof verdict !== 'string') return { connected: { client: outcome.client, hostIndex, endpoint, state: verdict, params: outcome.params } };
      await terminate(outcome.client);
      log.add({ host, endpoint, port: endpoint.port, reason: verdict });
      return { next: 'next-host' };
    }
    const retryable = outcome.tlsRefused || (outcome.error.kind === 'server' && !outcome.error.afterAuth);
    if (moreMethods && retryable && Date.now() < deadline) continue;
    const sqlstate = outcome.error.kind === 'server' ? outcome.error.sqlstate : undefined;
    const reason = failureText(ctx, hostIndex, endpoint, outcome.error, outcome.message);
    log.add(sqlstate === undefined ? { host, endpoint, port: endpoint.port, reason } : { host, endpoint, port: endpoint.port, reason, sqlstate });
    return failureAction(outcome.error);
  }
  return 'next-address';
}

function portOf(ctx: WalkContext, hostIndex: number, log: ErrorLog): number | FailureAction {
  const text = ctx.target.hosts[hostIndex]?.portText ?? null;
  if (text === null) return DEFAULT_PORT;
  const port = parseIntParam(text);
  const host = displayName(ctx, hostIndex);
  if (port === null) {
    log.add({ host, endpoint: null, port: 0, reason: invalidIntegerMessage(text, 'port') });
    return 'abort';
  }
  if (port < 1 || port > 65535) {
    log.add({ host, endpoint: null, port, reason: `invalid port number: "${text}"` });
    return 'next-host';
  }
  return port;
}

async function tryHost(ctx: WalkContext, hostIndex: number, pass: WalkPass, log: ErrorLog): Promise<HostResult> {
  const entry = ctx.target.hosts[hostIndex];
  const port = portOf(ctx, hostIndex, log);
  if (entry === undefined || typeof port !== 'number') return { next: port === 'abort' ? 'abort' : 'next-host' };
  const resolved = await endpointsFor(entry, port, ctx.lookup);
  if (!resolved.ok) {
    log.add({ host: displayName(ctx, hostIndex), endpoint: null, port, reason: resolved.message });
    return { next: 'next-host' };
  }
  const endpoints = ctx.target.loadBalanceHosts === 'random' ? shuffled(resolved.endpoints, ctx.random) : resolved.endpoints;
  for (const endpoint of endpoints) {
    const result = await tryEndpoint(ctx, hostIndex, endpoint, pass, log);
    if (typeof result !== 'string') return result;
    if (result !== 'next-address') return { next: result };
  }
  return { next: 'next-host' };
}

/**
 * libpq's host walk: hosts in order (shuffled once for load_balance_hosts=random),
 * each address in turn, the target_session_attrs check on each connection,
 * and for prefer-standby a second pass that takes any server. Resolves to the
 * first acceptable connection; rejects with every attempt's failure, worded as libpq's.
 */
export async function walkHosts(ctx: WalkContext): Promise<Connected> {
  const log = new ErrorLog();
  const indices = ctx.target.hosts.map((_, i) => i);
  const order = ctx.target.loadBalanceHosts === 'random' ? shuffled(indices, ctx.random) : indices;
  const passes: WalkPass[] = ctx.target.targetSessionAttrs === 'prefer-standby' ? [1, 2] : [1];
  for (const pass of passes) {
    for (const hostIndex of order) {
      const result = await tryHost(ctx, hostIndex, pass, log);
      if ('connected' in result) return result.connected;
      if (result.next === 'abort') throw log.toError();
    }
  }
  throw log.toError();
}
