import type pg from 'pg';
import type { ConnectionTarget } from '../conninfo/resolve.js';
import { ConnectError, type AttemptFailure } from '../errors.js';
import type { StartupParams } from './attempt.js';
import type { Lookup } from './endpoints.js';
import { failureAction, type FailureAction } from './failure.js';
import type { Endpoint } from './messages.js';
import { CheckQueryFailed, readServerState } from './server-check.js';
import { rejectionReason, type ServerState, type WalkPass } from './server-state.js';
import { shuffled, type RandomInt } from './shuffle.js';
import { addressesOf, attemptFailure, discardClient, failureLine, openOnEndpoint, type OpenFailure } from './session.js';

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

  add(entry: OpenFailure): void {
    this.lines.push(failureLine(entry));
    this.failures.push(attemptFailure(entry));
  }

  toError(): ConnectError {
    return new ConnectError(this.lines.join('\n'), this.failures);
  }
}

type HostResult = { readonly connected: Connected } | { readonly next: 'next-host' | 'abort' };

async function checkAndAccept(ctx: WalkContext, client: pg.Client, params: StartupParams, pass: WalkPass): Promise<ServerState | string> {
  try {
    const state = await readServerState(client, params, ctx.target.targetSessionAttrs, pass);
    return rejectionReason(ctx.target.targetSessionAttrs, state, pass) ?? state;
  } catch (err) {
    if (err instanceof CheckQueryFailed) return err.message;
    throw err;
  }
}

/** One address: open a session (the one opener), then the target_session_attrs check. */
async function tryEndpoint(
  ctx: WalkContext,
  hostIndex: number,
  endpoint: Endpoint,
  pass: WalkPass,
  log: ErrorLog,
): Promise<HostResult | FailureAction> {
  const opened = await openOnEndpoint(ctx.target, hostIndex, endpoint, ctx.timeoutMillis);
  if (!opened.ok) {
    log.add(opened.failure);
    return failureAction(opened.failure.error);
  }
  const { client, params, host } = opened.session;
  const verdict = await checkAndAccept(ctx, client, params, pass);
  if (typeof verdict !== 'string') return { connected: { client, hostIndex, endpoint, state: verdict, params } };
  await discardClient(client);
  log.add({ host, endpoint, port: endpoint.port, reason: verdict, error: { kind: 'rejected' } });
  return { next: 'next-host' };
}

async function tryHost(ctx: WalkContext, hostIndex: number, pass: WalkPass, log: ErrorLog): Promise<HostResult> {
  const addresses = await addressesOf(ctx.target, hostIndex, ctx.lookup);
  if (!addresses.ok) {
    log.add(addresses.failure);
    return { next: failureAction(addresses.failure.error) === 'abort' ? 'abort' : 'next-host' };
  }
  const endpoints = ctx.target.loadBalanceHosts === 'random' ? shuffled(addresses.endpoints, ctx.random) : addresses.endpoints;
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
