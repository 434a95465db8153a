import type { FreshnessStats } from './freshness-stats.js';
import type { PoolRole } from '../roles/role-decision.js';
import type { NodeStatus } from '../roles/node-status.js';

/** One node's pool as the metrics see it (pg-pool's counters). */
export interface PoolUsage {
  readonly role: PoolRole;
  readonly hostIndex: number;
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/** A node as the gauges see it: its last status and what pg-split does with it. */
export interface ObservedNode extends Pick<NodeStatus, 'hostIndex' | 'reachable' | 'role' | 'replayLagBytes' | 'replayLagSeconds'> {
  readonly writer: boolean;
  readonly reader: boolean;
}

/** Metric attributes (OpenTelemetry's `Attributes`, narrowed to what pg-split sets). */
export type Attributes = Readonly<Record<string, string | number>>;

export interface Observation {
  readonly value: number;
  readonly attributes: Attributes;
}

/** Every value the observable instruments report at one collection. */
export interface Observations {
  readonly up: readonly Observation[];
  readonly role: readonly Observation[];
  readonly serving: readonly Observation[];
  readonly lagBytes: readonly Observation[];
  readonly lagSeconds: readonly Observation[];
  readonly connections: readonly Observation[];
  readonly pending: readonly Observation[];
  readonly freshReads: readonly Observation[];
}

/** The attributes naming a node: OpenTelemetry's `server.address` and `server.port`. */
export type NodeAttributes = (hostIndex: number) => Attributes;

const ROLES = ['primary', 'standby'] as const;
const POOL_ROLES: readonly PoolRole[] = ['writer', 'reader'];

/**
 * The pool name of one role on one node, unique per cluster as OpenTelemetry's
 * `db.client.connection.pool.name` asks (pg's own instrumentation names a pool
 * `host:port/database`, so a reader and a writer pool on one node would collide).
 */
export function poolName(role: PoolRole, node: Attributes, database: string): string {
  return `${role}@${String(node['server.address'])}:${String(node['server.port'])}/${database}`;
}

export function poolAttributes(role: PoolRole, node: Attributes, database: string): Attributes {
  return { ...node, 'pg_split.pool.role': role, 'db.client.connection.pool.name': poolName(role, node, database) };
}

/**
 * What each observable instrument reports, from the nodes' statuses, the
 * pools' counters and the fresh-read counters: every role and serving state
 * as 1 or 0, so that a dashboard's series never vanish when a node changes
 * role; lag only for reachable standbys.
 */
export function observe(
  nodes: readonly ObservedNode[],
  pools: readonly PoolUsage[],
  freshness: FreshnessStats,
  nodeAttributes: NodeAttributes,
  database: string,
): Observations {
  const up: Observation[] = [];
  const role: Observation[] = [];
  const serving: Observation[] = [];
  const lagBytes: Observation[] = [];
  const lagSeconds: Observation[] = [];
  for (const n of nodes) {
    const node = nodeAttributes(n.hostIndex);
    up.push({ value: n.reachable ? 1 : 0, attributes: node });
    for (const r of ROLES) role.push({ value: n.reachable && n.role === r ? 1 : 0, attributes: { ...node, 'pg_split.node.role': r } });
    for (const p of POOL_ROLES)
      serving.push({ value: (p === 'writer' ? n.writer : n.reader) ? 1 : 0, attributes: { ...node, 'pg_split.pool.role': p } });
    if (!n.reachable || n.role !== 'standby') continue;
    if (n.replayLagBytes !== null) lagBytes.push({ value: n.replayLagBytes, attributes: node });
    if (n.replayLagSeconds !== null) lagSeconds.push({ value: n.replayLagSeconds, attributes: node });
  }
  const connections: Observation[] = [];
  const pending: Observation[] = [];
  for (const p of pools) {
    const attributes = poolAttributes(p.role, nodeAttributes(p.hostIndex), database);
    connections.push({ value: p.idle, attributes: { ...attributes, 'db.client.connection.state': 'idle' } });
    connections.push({ value: p.total - p.idle, attributes: { ...attributes, 'db.client.connection.state': 'used' } });
    pending.push({ value: p.waiting, attributes });
  }
  const freshReads = [
    { value: freshness.knownCaughtUp, attributes: { 'pg_split.freshness.path': 'known_caught_up' } },
    { value: freshness.verified, attributes: { 'pg_split.freshness.path': 'verified' } },
    { value: freshness.onPrimary - freshness.fellBack, attributes: { 'pg_split.freshness.path': 'primary' } },
    { value: freshness.fellBack, attributes: { 'pg_split.freshness.path': 'primary_fallback' } },
  ];
  return { up, role, serving, lagBytes, lagSeconds, connections, pending, freshReads };
}
