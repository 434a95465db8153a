import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backoffMillis,
  errorRule,
  LEADERLESS_CHECK_MILLIS,
  LEASE_MARGIN_MILLIS,
  leaseCutoff,
  MAX_BACKOFF_MILLIS,
  needsFullRead,
  nextLeaseCheckAt,
  watchAbort,
  type WatchAbort,
} from '../../src/etcd/dcs-rules.js';

test('leaseCutoff: the lease counted from when the check was sent, less the margin; none without time left', () => {
  assert.equal(leaseCutoff(10_000, 8), 10_000 + 8000 - LEASE_MARGIN_MILLIS);
  assert.equal(leaseCutoff(10_000, 1), 10_000, 'one second left: the margin takes it all');
  assert.equal(leaseCutoff(10_000, 0), null, 'expired');
  assert.equal(leaseCutoff(10_000, -1), null, 'no lease (etcd says -1)');
});

test('nextLeaseCheckAt: before the cut-off by two timeouts and half a second, never sooner than a second; each second without one', () => {
  const now = 100_000;
  assert.equal(nextLeaseCheckAt(now, null, 2000), now + LEADERLESS_CHECK_MILLIS);
  assert.equal(nextLeaseCheckAt(now, now + 9000, 2000), now + 9000 - 4500);
  assert.equal(nextLeaseCheckAt(now, now + 3000, 2000), now + LEADERLESS_CHECK_MILLIS, 'near the cut-off: a second from now, not at once');
  assert.equal(nextLeaseCheckAt(now, now - 500, 2000), now + LEADERLESS_CHECK_MILLIS, 'a cut-off already past');
});

test('backoffMillis: none before a failure, 100 ms doubling, capped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map(backoffMillis), [0, 100, 200, 400, 800, 1600, MAX_BACKOFF_MILLIS, MAX_BACKOFF_MILLIS]);
});

test('watchAbort: our own abort reasons, and null for any other end', () => {
  const aborted = (reason: unknown): AbortSignal => {
    const c = new AbortController();
    c.abort(reason);
    return c.signal;
  };
  for (const reason of ['compacted', 'behind', 'cancelled', 'endpoint-failed'] as const) assert.equal(watchAbort(aborted(reason)), reason);
  assert.equal(watchAbort(aborted(new Error('socket hang up'))), null);
  assert.equal(watchAbort(new AbortController().signal), null, 'not aborted');
});

test('errorRule and needsFullRead: what the end of a read or a watch means (table)', () => {
  const rows: ReadonlyArray<[WatchAbort, { failure: boolean; record: boolean }, boolean]> = [
    // abort reason, error rule, full read (after a read, not behind)
    ['compacted', { failure: false, record: false }, true],
    ['behind', { failure: false, record: false }, false],
    ['cancelled', { failure: true, record: false }, true],
    ['endpoint-failed', { failure: true, record: false }, false],
    [null, { failure: true, record: true }, false],
  ];
  for (const [abort, rule, fullRead] of rows) {
    assert.deepEqual(errorRule(abort), rule, `errorRule(${abort})`);
    assert.equal(needsFullRead(abort, true, false), fullRead, `needsFullRead(${abort})`);
    assert.equal(needsFullRead(abort, false, false), true, `nothing read yet (${abort})`);
    assert.equal(needsFullRead(abort, true, true), true, `found behind (${abort})`);
  }
});
