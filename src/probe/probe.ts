import { resolveConnInfo, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import { systemLookup, type Lookup } from '../connect/endpoints.js';
import { libpqChoice, withReplayLag } from './cluster-view.js';
import type { NodeStatus } from './node-status.js';
import { probeHost } from './probe-host.js';

export interface ProbeClusterOptions extends ResolveContext {
  /** Per-address bound; default: the string's connect_timeout, else 5 s. */
  readonly timeoutMillis?: number;
  readonly lookup?: Lookup;
}

export interface ProbeReport {
  readonly nodes: readonly NodeStatus[];
  /** Index of the host `connect()` would choose for the string's target_session_attrs, or null. */
  readonly chosen: number | null;
  readonly targetSessionAttrs: string;
  readonly loadBalanceHosts: string;
}

export const DEFAULT_PROBE_TIMEOUT_MILLIS = 5000;

/**
 * Probes every host of a connection string in parallel (a frozen host costs
 * one timeout, not one per host) and says which one libpq would pick.
 */
export async function probeCluster(conninfo: string | ConnectionTarget, options: ProbeClusterOptions = {}): Promise<ProbeReport> {
  const target = typeof conninfo === 'string' ? resolveConnInfo(conninfo, options) : conninfo;
  const timeoutMillis = options.timeoutMillis ?? (connectTimeoutMillis(target) || DEFAULT_PROBE_TIMEOUT_MILLIS);
  const probeOptions = { timeoutMillis, lookup: options.lookup ?? systemLookup };
  const statuses = await Promise.all(target.hosts.map((_, i) => probeHost(target, i, probeOptions)));
  const nodes = withReplayLag(statuses);
  return { nodes, chosen: libpqChoice(nodes, target.targetSessionAttrs), targetSessionAttrs: target.targetSessionAttrs, loadBalanceHosts: target.loadBalanceHosts };
}
