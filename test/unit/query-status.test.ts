import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { queryStatus } from '../../src/probe/probe-host.js';

/**
 * The status query's answer as pg-split reads it. Something that speaks the
 * protocol without being a PostgreSQL server (a proxy's own answer, the test
 * doubles of node-postgres's own tests) answers with no row: the host fails
 * its check with a sentence, never with a TypeError's text.
 */
const ID = { hostIndex: 0, host: 'db1', address: '127.0.0.1', port: 5432 };
const answering = (rows: unknown[]): pg.Client => ({ query: () => Promise.resolve({ rows }) }) as unknown as pg.Client;

test('a row is read as the node status', async () => {
  const status = await queryStatus(answering([{ in_recovery: true, timeline: '3', wal_receiver: true }]), ID, 1000);
  assert.equal(status.reachable, true);
  assert.equal(status.role, 'standby');
  assert.equal(status.timeline, 3);
});

test('no row: the check fails with why, not with a TypeError', async () => {
  await assert.rejects(queryStatus(answering([]), ID, 1000), {
    name: 'Error',
    message: 'the server answered the status query with no row',
  });
});
