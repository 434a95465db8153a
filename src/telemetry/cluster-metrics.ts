import type { BatchObservableCallback, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { FreshnessStats } from './freshness-stats.js';
import type { PoolRole } from '../roles/role-decision.js';
import { observe, poolAttributes, type Attributes, type NodeAttributes, type ObservedNode, type PoolUsage } from './observations.js';
import type { Otel } from '../otel/otel-api.js';

/** What a cluster's metrics read at each collection. */
export interface MetricsSource {
  nodes(): readonly ObservedNode[];
  pools(): readonly PoolUsage[];
  freshness(): Readonly<FreshnessStats>;
  readonly nodeAttributes: NodeAttributes;
  readonly database: string;
}

/** What the routed pools record on their path. */
export interface PoolMetrics {
  /** A checkout on `hostIndex` was handed out `seconds` after it was asked for. */
  checkedOut(role: PoolRole, hostIndex: number, seconds: number): void;
  /** A statement runs again, and why. */
  retried(role: PoolRole, reason: RetryReason): void;
}

/**
 * Why a statement runs again: its connection was lost or the server shut it
 * down, the server refused it before it could commit (by SQLSTATE), or a
 * standby cancelled it for a conflict with recovery (a read, 40001).
 */
export type RetryReason = 'connection-lost' | 'not-committed' | 'recovery-conflict';

/** The meter's name: what a view or a Prometheus scrape filters on. */
export const METER_NAME = 'pg-split';

/** Checkout wait buckets in seconds: a pooled checkout takes microseconds, one that waits for a failover seconds. */
const WAIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30];

/**
 * One cluster's metrics on the `pg-split` meter of the application's
 * MeterProvider: gauges and counts read from the watch and the pools at each
 * collection (nothing is computed between collections), counters for
 * failovers and retries, and a histogram of checkout waits.
 */
export class ClusterMetrics implements PoolMetrics {
  readonly #source: MetricsSource;
  readonly #waitTime: Histogram;
  readonly #retries: Counter;
  readonly #failovers: Counter;
  readonly #splitBrains: Counter;
  readonly #discarded: Counter;
  /** Checkout attributes per role and node, built once (the checkout path allocates nothing). */
  readonly #poolAttributes = new Map<string, Attributes>();
  readonly #unregister: () => void;

  constructor(otel: Otel, source: MetricsSource) {
    this.#source = source;
    const meter = otel.metrics.getMeter(METER_NAME);
    this.#waitTime = meter.createHistogram('db.client.connection.wait_time', {
      unit: 's',
      description: 'Time from asking for a connection (writer or reader) to getting one, waits for a failover included',
      advice: { explicitBucketBoundaries: WAIT_BUCKETS },
    });
    this.#retries = meter.createCounter('pg_split.statement.retries', {
      unit: '{statement}',
      description: 'Statements run again after their connection was lost or the server refused them by SQLSTATE',
    });
    this.#failovers = meter.createCounter('pg_split.failovers', {
      unit: '{failover}',
      description: 'Times the writer moved to a new primary',
    });
    this.#splitBrains = meter.createCounter('pg_split.split_brains', {
      unit: '{event}',
      description: 'Times more than one read-write node was seen and the stale ones were fenced',
    });
    this.#discarded = meter.createCounter('pg_split.timelines.discarded', {
      unit: '{timeline}',
      description: 'Timelines the orchestrator discarded after writes were acknowledged on them',
    });
    this.#unregister = this.#observeGauges(meter);
  }

  #observeGauges(meter: Meter): () => void {
    const gauge = (name: string, unit: string, description: string) => meter.createObservableGauge(name, { unit, description });
    const up = gauge('pg_split.node.up', '1', '1 when the node answered its last status check');
    const role = gauge(
      'pg_split.node.role',
      '1',
      '1 for the role the node last reported (pg_split.node.role: primary or standby), 0 for the other',
    );
    const serving = gauge('pg_split.node.serving', '1', "1 when pg-split sends that pool role's statements (writer or reader) to the node");
    const lagBytes = gauge(
      'pg_split.replica.replay_lag.size',
      'By',
      "WAL a standby has not replayed yet, compared with the primary's position",
    );
    const lagSeconds = gauge(
      'pg_split.replica.replay_lag.time',
      's',
      'Seconds since the last transaction a lagging standby replayed (0 when caught up)',
    );
    const connections = meter.createObservableUpDownCounter('db.client.connection.count', {
      unit: '{connection}',
      description: 'Pooled connections per node and pool role, idle or used',
    });
    const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
      unit: '{request}',
      description: "Checkouts waiting for a connection in a node's pool",
    });
    const freshReads = meter.createObservableCounter('pg_split.reads.fresh', {
      unit: '{read}',
      description: 'Reads that had to see a write, by how they were served',
    });
    const callback: BatchObservableCallback = (result) => {
      const s = this.#source;
      const o = observe(s.nodes(), s.pools(), s.freshness(), s.nodeAttributes, s.database);
      const pairs = [
        [up, o.up],
        [role, o.role],
        [serving, o.serving],
        [lagBytes, o.lagBytes],
        [lagSeconds, o.lagSeconds],
        [connections, o.connections],
        [pending, o.pending],
        [freshReads, o.freshReads],
      ] as const;
      for (const [instrument, observations] of pairs) {
        for (const { value, attributes } of observations) result.observe(instrument, value, attributes);
      }
    };
    const observables = [up, role, serving, lagBytes, lagSeconds, connections, pending, freshReads];
    meter.addBatchObservableCallback(callback, observables);
    return () => meter.removeBatchObservableCallback(callback, observables);
  }

  #attributesOf(role: PoolRole, hostIndex: number): Attributes {
    const key = `${role}:${hostIndex}`;
    let attributes = this.#poolAttributes.get(key);
    if (attributes === undefined) {
      attributes = poolAttributes(role, this.#source.nodeAttributes(hostIndex), this.#source.database);
      this.#poolAttributes.set(key, attributes);
    }
    return attributes;
  }

  checkedOut(role: PoolRole, hostIndex: number, seconds: number): void {
    this.#waitTime.record(seconds, this.#attributesOf(role, hostIndex));
  }

  retried(role: PoolRole, reason: RetryReason): void {
    this.#retries.add(1, { 'pg_split.pool.role': role, 'pg_split.retry.reason': reason });
  }

  /** The writer moved to `to`. */
  failover(to: number): void {
    this.#failovers.add(1, this.#source.nodeAttributes(to));
  }

  splitBrain(): void {
    this.#splitBrains.add(1);
  }

  timelineDiscarded(): void {
    this.#discarded.add(1);
  }

  /** Stops reporting (the cluster ended): its series leave the next collection. */
  close(): void {
    this.#unregister();
  }
}
