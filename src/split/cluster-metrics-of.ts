/**
 * The cluster's metrics (telemetry/cluster-metrics.ts) wired to what the
 * watch and the pools know: each node's state, the pools' connections,
 * failovers, split brains and discarded timelines.
 */
import type { Otel } from '../otel/otel-api.js';
import type { FreshnessStats } from '../telemetry/freshness-stats.js';
import { ClusterMetrics, METER_NAME } from '../telemetry/cluster-metrics.js';
import type { NodeAttributes } from '../telemetry/observations.js';
import type { RoutedPool } from './pool/routed-pool.js';
import type { ClusterWatch } from './watch/cluster-watch.js';
import type { Members } from './watch/members.js';
import type * as Watch from './watch/watch-events.js';

/** The node attributes every metric carries: the host as the connection string (or discovery) names it, and its port. */
function nodeAttributesOf(members: Members): NodeAttributes {
  const attributes = new Map<number, Readonly<Record<string, string | number>>>();
  return (hostIndex) => {
    let found = attributes.get(hostIndex);
    if (found === undefined) {
      const { host, port } = members.hostOf(hostIndex);
      found = Object.freeze({ 'server.address': host, 'server.port': port });
      attributes.set(hostIndex, found);
    }
    return found;
  };
}

/**
 * The cluster's metrics on the application's MeterProvider, when it has
 * OpenTelemetry's API and has registered one: without a provider the API
 * hands out its no-op meter for good (a provider registered later never
 * gets it), so nothing is built and nothing is measured per statement.
 */
export function metricsOf(
  otel: Otel | null,
  members: Members,
  watch: ClusterWatch,
  pools: () => readonly RoutedPool[],
  freshness: FreshnessStats,
): ClusterMetrics | null {
  if (otel === null || otel.metrics.getMeter(METER_NAME) === otel.createNoopMeter()) return null;
  const metrics = new ClusterMetrics(otel, {
    nodes: () => {
      const d = watch.decision;
      return watch.statuses().map((s) => ({ ...s, writer: d.writer === s.hostIndex, reader: d.readers.includes(s.hostIndex) }));
    },
    pools: () => pools().flatMap((p) => p.nodeUsage()),
    freshness: () => freshness,
    nodeAttributes: nodeAttributesOf(members),
    database: members.target.dbname,
  });
  watch.on('failover', (e: Watch.FailoverEvent) => metrics.failover(e.to));
  watch.on('split-brain', () => metrics.splitBrain());
  watch.on('timeline-discarded', () => metrics.timelineDiscarded());
  return metrics;
}
