import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { NodeClient } from '../../src/split/pool/node-client.js';
import type { NodeReports } from '../../src/split/pool/router.js';
import { failoverSignal, type FailoverSignal } from '../../src/split/pool/sqlstate.js';

/** A listener that accepts each connection and closes it at once: pg fails the connect with its own text and no code. */
async function closingListener(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

/** The router a NodeClient reports to: what it was told. */
function recordingRouter(): { router: NodeReports; reports: FailoverSignal[] } {
  const reports: FailoverSignal[] = [];
  const router = {
    registry: { opened: () => undefined, closed: () => undefined },
    report: (_host: number, signal: FailoverSignal) => reports.push(signal),
    roleReported: () => undefined,
  } as unknown as NodeReports;
  return { router, reports };
}

test("a pooled connection that failed while connecting is known lost by its connection's events, not by pg's text", async () => {
  const { server, port } = await closingListener();
  try {
    const { router, reports } = recordingRouter();
    const client = new NodeClient({ host: '127.0.0.1', port, user: 'u', database: 'd', pgSplitNode: { router, hostIndex: 0 } });
    const err = await client.connect().then(
      () => assert.fail('the connect succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: unknown }).code, undefined, 'pg gives this failure no code');
    assert.equal(failoverSignal(err), 'connection-lost');
    assert.equal(client.pgSplitLost, true);
    assert.ok(reports.includes('connection-lost'), 'the router heard of the loss');
    assert.equal(failoverSignal(new Error(err.message)), null, 'the same text on another error decides nothing');

    // pg-pool's form: a callback.
    const viaCallback = new NodeClient({ host: '127.0.0.1', port, user: 'u', database: 'd', pgSplitNode: { router, hostIndex: 0 } });
    const cbErr = await new Promise<unknown>((resolve) => viaCallback.connect((e: Error) => resolve(e)));
    assert.equal(failoverSignal(cbErr), 'connection-lost');
  } finally {
    server.close();
  }
});
