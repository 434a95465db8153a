import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyFreshnessStats } from '../../src/telemetry/freshness-stats.js';
import { observe, poolName, type ObservedNode, type Observation } from '../../src/telemetry/observations.js';

const attributesOf = (hostIndex: number) => ({ 'server.address': `db${hostIndex + 1}`, 'server.port': 5432 });

const at = (observations: readonly Observation[], match: Readonly<Record<string, string | number>>): number[] =>
  observations.filter((o) => Object.entries(match).every(([k, v]) => o.attributes[k] === v)).map((o) => o.value);

const nodes: ObservedNode[] = [
  { hostIndex: 0, reachable: true, role: 'primary', replayLagBytes: null, replayLagSeconds: null, writer: true, reader: false },
  { hostIndex: 1, reachable: true, role: 'standby', replayLagBytes: 8192, replayLagSeconds: 0.5, writer: false, reader: true },
  { hostIndex: 2, reachable: false, role: null, replayLagBytes: null, replayLagSeconds: null, writer: false, reader: false },
];

test('every node reports every role and pool role as 1 or 0; a down node reports 0 for all and up 0', () => {
  const o = observe(nodes, [], emptyFreshnessStats(), attributesOf, 'shop');
  assert.deepEqual(
    o.up.map((p) => p.value),
    [1, 1, 0],
  );
  assert.deepEqual(at(o.role, { 'server.address': 'db1' }), [1, 0]);
  assert.deepEqual(at(o.role, { 'server.address': 'db2', 'pg_split.node.role': 'standby' }), [1]);
  assert.deepEqual(at(o.role, { 'server.address': 'db3' }), [0, 0]);
  assert.deepEqual(at(o.serving, { 'pg_split.pool.role': 'writer' }), [1, 0, 0]);
  assert.deepEqual(at(o.serving, { 'pg_split.pool.role': 'reader' }), [0, 1, 0]);
});

test('lag is reported for reachable standbys only, in bytes and seconds', () => {
  const o = observe(nodes, [], emptyFreshnessStats(), attributesOf, 'shop');
  assert.deepEqual(o.lagBytes, [{ value: 8192, attributes: attributesOf(1) }]);
  assert.deepEqual(o.lagSeconds, [{ value: 0.5, attributes: attributesOf(1) }]);
});

test('connections per pool role and node, idle and used, under a pool name unique per role and node', () => {
  const o = observe(
    nodes,
    [
      { role: 'writer', hostIndex: 0, total: 5, idle: 2, waiting: 1 },
      { role: 'reader', hostIndex: 0, total: 1, idle: 1, waiting: 0 },
    ],
    emptyFreshnessStats(),
    attributesOf,
    'shop',
  );
  assert.equal(poolName('writer', attributesOf(0), 'shop'), 'writer@db1:5432/shop');
  assert.deepEqual(
    at(o.connections, { 'db.client.connection.pool.name': 'writer@db1:5432/shop', 'db.client.connection.state': 'idle' }),
    [2],
  );
  assert.deepEqual(
    at(o.connections, { 'db.client.connection.pool.name': 'writer@db1:5432/shop', 'db.client.connection.state': 'used' }),
    [3],
  );
  assert.deepEqual(
    at(o.connections, { 'db.client.connection.pool.name': 'reader@db1:5432/shop', 'db.client.connection.state': 'used' }),
    [0],
  );
  assert.deepEqual(at(o.pending, { 'pg_split.pool.role': 'writer' }), [1]);
});

test('fresh reads by path add up to the reads that had to see a write; a fallback is not also counted as a plain primary read', () => {
  const stats = { reads: 10, knownCaughtUp: 5, verified: 2, onPrimary: 3, fellBack: 1, tokenFetches: 4, replayChecks: 3 };
  const o = observe([], [], stats, attributesOf, 'shop');
  assert.deepEqual(Object.fromEntries(o.freshReads.map((p) => [p.attributes['pg_split.freshness.path'], p.value])), {
    known_caught_up: 5,
    verified: 2,
    primary: 2,
    primary_fallback: 1,
  });
  assert.equal(
    o.freshReads.reduce((s, p) => s + p.value, 0),
    stats.reads,
  );
});
