import { resolveContextKeys, targetOf, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { functionOption, numberOption, optionsObject } from '../input.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import { systemLookup, type Lookup } from '../connect/endpoints.js';
import { libpqChoice, withReplayLag } from './cluster-view.js';
import type { NodeStatus } from './node-status.js';
import { probeHost } from './probe-host.js';
import { loadOtel } from '../telemetry/otel-api.js';
import { decideRoles } from '../split/topology.js';

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
  const checked = optionsObject('options', options, [...resolveContextKeys, 'timeoutMillis', 'lookup']);
  const target = targetOf(conninfo, checked);
  const timeoutMillis = numberOption('timeoutMillis', checked['timeoutMillis'], connectTimeoutMillis(target) || DEFAULT_PROBE_TIMEOUT_MILLIS, { unit: 'milliseconds' });
  const probeOptions = { timeoutMillis, lookup: functionOption<Lookup>('lookup', checked['lookup']) ?? systemLookup };
  await loadOtel();
  const statuses = await Promise.all(target.hosts.map((_, i) => probeHost(target, i, probeOptions)));
  const nodes = withReplayLag(statuses, decideRoles({ statuses, policy: 'any', newestTimeline: 0 }).writer);
  return { nodes, chosen: libpqChoice(nodes, target.targetSessionAttrs), targetSessionAttrs: target.targetSessionAttrs, loadBalanceHosts: target.loadBalanceHosts };
}
