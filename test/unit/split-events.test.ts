import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitBrainEvent } from '../../src/split/split-events.js';

const hostOf = (i: number): { host: string; port: number } => ({ host: `db${i}`, port: 5432 });

test('split-brain names the writer and each stale node by host', () => {
  assert.deepEqual(splitBrainEvent({ writer: 1, stale: [0, 2] }, hostOf, null), {
    writer: 1,
    stale: [0, 2],
    host: 'db1',
    port: 5432,
    staleHosts: [hostOf(0), hostOf(2)],
    orchestrator: null,
  });
  const noWriter = splitBrainEvent({ writer: null, stale: [0] }, hostOf, null);
  assert.deepEqual([noWriter.host, noWriter.port], [null, null]);
});

test('split-brain says Patroni ends it when Patroni holds no stale node as its leader, and only then', () => {
  const leader = (l: number | null) => (i: number) => i === l;
  // A thawed former leader while Patroni's leader is another member, or while Patroni is still choosing one
  // (no writer yet): its own Patroni demotes it.
  assert.equal(splitBrainEvent({ writer: 1, stale: [0] }, hostOf, leader(1)).orchestrator, 'patroni');
  assert.equal(splitBrainEvent({ writer: null, stale: [0] }, hostOf, leader(null)).orchestrator, 'patroni');
  // Patroni holds a stale node as its leader: nothing ends the split.
  assert.equal(splitBrainEvent({ writer: 1, stale: [0, 2] }, hostOf, leader(2)).orchestrator, null);
  // Without the patroni option pg-split cannot know.
  assert.equal(splitBrainEvent({ writer: 1, stale: [0] }, hostOf, null).orchestrator, null);
});
