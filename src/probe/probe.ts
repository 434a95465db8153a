import { resolveContextKeys, targetOf, type ConnectionTarget, type ResolveContext } from '../conninfo/resolve.js';
import { functionOption, numberOption, optionsObject, portOption } from '../input.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import { systemLookup, type Lookup } from '../connect/endpoints.js';
import { hostDisplayName } from '../conninfo/host-list.js';
import { libpqChoice, withReplayLag } from '../roles/cluster-view.js';
import { firstPatroniView, restBase, type PatroniView } from './patroni-members.js';
import type { NodeStatus } from '../roles/node-status.js';
import { probeHost } from './probe-host.js';
import { loadOtel } from '../otel/otel-api.js';
import { decideRoles } from '../roles/role-decision.js';

export interface ProbeClusterOptions extends ResolveContext {
  /** Per-address bound; default: the string's connect_timeout, else 5 s. */
  readonly timeoutMillis?: number;
  readonly lookup?: Lookup;
  /** Also ask Patroni's REST API (on this port of every host) for its view of the cluster. */
  readonly patroniPort?: number;
}

export interface ProbeReport {
  readonly nodes: readonly NodeStatus[];
  /** Index of the host `connect()` would choose for the string's target_session_attrs, or null. */
  readonly chosen: number | null;
  readonly targetSessionAttrs: string;
  readonly loadBalanceHosts: string;
  /** Patroni's view (`patroniPort`): its members, those not in the connection string among them; null when not asked or no REST API answered. */
  readonly patroni?: PatroniView | null;
}

export const DEFAULT_PROBE_TIMEOUT_MILLIS = 5000;

/**
 * Probes every host of a connection string in parallel (a frozen host costs
 * one timeout, not one per host) and says which one libpq would pick.
 */
export async function probeCluster(conninfo: string | ConnectionTarget, options: ProbeClusterOptions = {}): Promise<ProbeReport> {
  const checked = optionsObject('options', options, [...resolveContextKeys, 'timeoutMillis', 'lookup', 'patroniPort']);
  const target = targetOf(conninfo, checked);
  const timeoutMillis = numberOption(
    'timeoutMillis',
    checked['timeoutMillis'],
    connectTimeoutMillis(target) || DEFAULT_PROBE_TIMEOUT_MILLIS,
    { unit: 'milliseconds' },
  );
  const probeOptions = { timeoutMillis, lookup: functionOption<Lookup>('lookup', checked['lookup']) ?? systemLookup };
  const patroniPort = portOption('patroniPort', checked['patroniPort'], null);
  await loadOtel();
  const [statuses, patroni] = await Promise.all([
    Promise.all(target.hosts.map((_, i) => probeHost(target, i, probeOptions))),
    patroniPort === null
      ? Promise.resolve(undefined)
      : firstPatroniView(
          target.hosts.map((h) => restBase(hostDisplayName(h), patroniPort)),
          timeoutMillis,
        ),
  ]);
  const nodes = withReplayLag(statuses, decideRoles({ statuses, policy: 'any', newestTimeline: 0 }).writer);
  const report = {
    nodes,
    chosen: libpqChoice(nodes, target.targetSessionAttrs),
    targetSessionAttrs: target.targetSessionAttrs,
    loadBalanceHosts: target.loadBalanceHosts,
  };
  return patroni === undefined ? report : { ...report, patroni };
}
