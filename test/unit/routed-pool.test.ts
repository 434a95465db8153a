/**
 * The data path's decisions without a server: a RoutedPool given a router
 * that decides as the test says (PoolRouter) and node pools of clients that
 * answer as the test scripts them (NodePoolFactory), through real pg-pool.
 * Which node a statement went to, how often, and how it settled. What
 * servers and orchestrators decide is tested against real ones
 * (test/integration, test/ha).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import pg from 'pg';
import { PgSplitError } from '../../src/errors.js';
import type { PoolRole } from '../../src/roles/role-decision.js';
import { emptyFreshnessStats } from '../../src/telemetry/freshness-stats.js';
import { ConnectionRegistry } from '../../src/split/pool/connection-registry.js';
import type { NodeClientConfig } from '../../src/split/pool/node-client.js';
import type { NodePoolFactory, RoutedPoolSettings } from '../../src/split/pool/pool-settings.js';
import { ReadScope } from '../../src/split/pool/read-scope.js';
import { RoutedPool } from '../../src/split/pool/routed-pool.js';
import type { PoolRouter } from '../../src/split/pool/router.js';
import { failoverSignal, type FailoverSignal } from '../../src/split/pool/sqlstate.js';
import { WriteTracker } from '../../src/split/pool/write-tracker.js';
import { turn, turnsUntil } from '../support/turns.js';

/** What a scripted node answers a statement: a result, or an error. */
type Answer = { rows: unknown[] } | Error;

const sqlError = (code: string): Error => Object.assign(new Error(`SQLSTATE ${code}`), { code });
const connectionReset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

/** The nodes as the test scripts them, and every statement each was sent. */
class FakeNodes {
  readonly sent: Array<{ host: number; sql: string }> = [];
  /** Per node, answers for the next statements (then `{ rows: [{ host }] }`). */
  readonly answers = new Map<number, Answer[]>();
  /** Per node, errors for the next connects. */
  readonly connectErrors = new Map<number, Error[]>();
  /** Every connect attempt: the node, and how often the router had looked by then (FakeRouter.looks). */
  readonly connects: Array<{ host: number; looks: number }> = [];
  opened = 0;
  looks: () => number = () => 0;
  /** The pools' write tracker: how many writes were acknowledged. */
  readonly tracker = new WriteTracker(() => Promise.resolve('0/0'));

  answer(host: number, sql: string): Answer {
    this.sent.push({ host, sql });
    return this.answers.get(host)?.shift() ?? { rows: [{ host }] };
  }

  hosts(): number[] {
    return this.sent.map((s) => s.host);
  }

  factory(): NodePoolFactory {
    return fakePools(this);
  }
}

/** Node pools (real pg-pool) of clients that answer as `nodes` scripts them, and report as a NodeClient does. */
function fakePools(nodes: FakeNodes): NodePoolFactory {
  class FakeClient extends EventEmitter {
    readonly pgSplitHost: number;
    pgSplitLost = false;
    /** No monitor checks on these connections. */
    readonly pgSplitCheck = null;
    pgSplitCheckedOut = false;
    _queryable = true;
    _ending = false;
    readonly #router: NodeClientConfig['pgSplitNode']['router'];
    constructor(config: NodeClientConfig) {
      super();
      this.pgSplitHost = config.pgSplitNode.hostIndex;
      this.#router = config.pgSplitNode.router;
    }
    connect(cb: (err?: Error) => void): void {
      nodes.connects.push({ host: this.pgSplitHost, looks: nodes.looks() });
      const err = nodes.connectErrors.get(this.pgSplitHost)?.shift();
      if (err === undefined) nodes.opened++;
      setImmediate(() => cb(err));
    }
    /** pg's forms: (text or config[, values][, callback]); a promise without a callback. */
    query(first: unknown, second?: unknown, third?: unknown): Promise<unknown> | undefined {
      const cb = (typeof second === 'function' ? second : third) as ((err: Error | null, res?: unknown) => void) | undefined;
      const sql = typeof first === 'string' ? first : String((first as { text?: unknown }).text);
      const answer = nodes.answer(this.pgSplitHost, sql);
      if (answer instanceof Error) {
        if ((answer as { code?: string }).code === 'ECONNRESET') this.pgSplitLost = true;
        // As a NodeClient: every ErrorResponse and connection loss is reported to the router, by SQLSTATE.
        this.#router.report(this.pgSplitHost, failoverSignal(answer));
      }
      const result = answer instanceof Error ? answer : { ...answer, rowCount: answer.rows.length };
      const settled = new Promise<unknown>((resolve, reject) =>
        setImmediate(() => (result instanceof Error ? reject(result) : resolve(result))),
      );
      if (cb === undefined) return settled;
      settled.then(
        (res) => cb(null, res),
        (err: Error) => cb(err),
      );
      return undefined;
    }
    isConnected(): boolean {
      return true;
    }
    ref(): void {}
    unref(): void {}
    end(cb?: () => void): void {
      this._ending = true;
      setImmediate(() => {
        this.emit('end');
        cb?.();
      });
    }
  }
  return (config) => new pg.Pool({ ...config, Client: FakeClient as unknown as new () => pg.ClientBase });
}

/**
 * A router whose decision the test sets: the writer, the readers, and what a
 * reported failure changes. As the real watch, a node reported failing is
 * not usable until the watch has looked again (the test's next decide()).
 */
class FakeRouter implements PoolRouter {
  readonly registry = new ConnectionRegistry();
  readonly reports: Array<[number, FailoverSignal]> = [];
  writer: number | null = 0;
  readers: number[] = [1, 2];
  /** Times the watch has looked (decide() calls). */
  looks = 0;
  readonly #suspected = new Set<number>();
  /** What the watch would decide once a node reports a failure (the test's stand-in for a re-check). */
  onReport: (host: number, signal: FailoverSignal) => void = () => undefined;
  readonly #waiters = new Set<() => void>();

  /** The watch looked again and decided: every wait looks again. */
  decide(writer: number | null, readers = this.readers): void {
    this.writer = writer;
    this.readers = readers;
    this.looks++;
    this.#suspected.clear();
    this.nudge();
  }

  eligible(role: PoolRole, host: number): boolean {
    return !this.#suspected.has(host) && (role === 'writer' ? this.writer === host : this.readers.includes(host));
  }
  pick(role: PoolRole, avoid: number | null = null): number | null {
    if (role === 'writer') return this.writer !== null && this.eligible('writer', this.writer) ? this.writer : null;
    const usable = this.readers.filter((h) => this.eligible('reader', h));
    return usable.find((h) => h !== avoid) ?? usable[0] ?? null;
  }
  /** A leader whose Patroni went silent: single statements go there, acknowledged once witnessed. */
  silentLeader: number | null = null;
  /** The WAL positions writes were witnessed at (confirmWitnessed). */
  readonly witnessedAt: string[] = [];
  witnessed(): number | null {
    return this.writer === null && this.silentLeader !== null && !this.#suspected.has(this.silentLeader) ? this.silentLeader : null;
  }
  mustWitness(host: number): boolean {
    return this.silentLeader === host && this.writer !== host;
  }
  /** The test's clock, which the pools' deadlines are read on too: it moves only when a test moves it. */
  clock = 0;
  readonly now = (): number => this.clock;
  /** As the watch's waits, but on the test's decisions; a refusal rule (failFast) has nothing to act on here. */
  wait(ready: () => boolean, deadline: number, onTimeout: () => Error): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(look);
        reject(onTimeout());
      }, deadline - this.now());
      const look = (): void => {
        if (!ready()) return;
        clearTimeout(timer);
        this.#waiters.delete(look);
        resolve();
      };
      this.#waiters.add(look);
    });
  }
  hasNode(role: PoolRole): boolean {
    return this.pick(role) !== null;
  }
  checksSeen(): number {
    return this.looks;
  }
  /** What witnessing waits for (resolved at once unless the test holds it). */
  witnessing: Promise<void> = Promise.resolve();
  confirmWitnessed(_leader: number, lsn: string): Promise<void> {
    this.witnessedAt.push(lsn);
    return this.witnessing;
  }
  inTurn(role: PoolRole): number[] {
    return role === 'writer' ? (this.writer === null ? [] : [this.writer]) : [...this.readers];
  }
  isWriter(host: number): boolean {
    return this.writer === host;
  }
  /** As with `prefer-standby`: the writer serves reads only for want of a standby. */
  isFallbackReader(host: number): boolean {
    return this.writer === host;
  }
  knownReplay(): string | null {
    return null;
  }
  replayCheckInFlight(): Promise<string | null> | null {
    return null;
  }
  checkReplay(_host: number, ask: () => Promise<string | null>): Promise<string | null> {
    return ask();
  }
  configFor(host: number): pg.ClientConfig {
    return { host: `node${host}`, port: 5432 };
  }
  report(host: number, signal: FailoverSignal): void {
    this.reports.push([host, signal]);
    if (signal !== null) this.#suspected.add(host);
    this.onReport(host, signal);
  }
  roleReported(): void {}
  nudge(): void {
    for (const look of [...this.#waiters]) look();
  }
  /** Each statement's node, once it settled (the latency the `fastest` balance reads). */
  readonly settledOn: number[] = [];
  started(): number {
    return 1;
  }
  settled(host: number): void {
    this.settledOn.push(host);
  }
  /** No monitor here wants a check on a returned connection: it goes straight back to its pool. */
  release(client: pg.PoolClient): void {
    client.release();
  }
}

function routedPool(
  role: PoolRole,
  router: FakeRouter,
  nodes: FakeNodes,
  failoverTimeoutMillis = 2000,
  max = 2,
  fallbackReads: RoutedPoolSettings['fallbackReads'] = null,
): RoutedPool {
  nodes.looks = () => router.looks;
  return new RoutedPool({
    role,
    router,
    pool: { max },
    failoverTimeoutMillis,
    now: router.now,
    describe: () => 'as the test decided',
    tracker: nodes.tracker,
    scope: new ReadScope(),
    consistency: 'eventual',
    freshness: { waitMillis: 100, fallback: 'primary' },
    fallbackReads,
    stats: emptyFreshnessStats(),
    metrics: null,
    activity: { touch: () => undefined },
    nodePool: nodes.factory(),
  });
}

test('a write goes to the writer, a read to a reader, each once', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes);
  const reader = routedPool('reader', router, nodes);
  assert.deepEqual((await writer.query('INSERT 1')).rows, [{ host: 0 }]);
  assert.deepEqual((await reader.query('SELECT 1')).rows, [{ host: 1 }]);
  assert.deepEqual(nodes.hosts(), [0, 1]);
  assert.deepEqual(router.settledOn, [0, 1], 'each statement counted, once, on its node');
  await Promise.all([writer.end(), reader.end()]);
});

test('a read a standby cancelled for a conflict with recovery (40001) runs again on another reader; on the writer, never', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const reader = routedPool('reader', router, nodes);
  nodes.answers.set(1, [sqlError('40001')]);
  assert.deepEqual((await reader.query('SELECT 1')).rows, [{ host: 2 }]);
  assert.deepEqual(nodes.hosts(), [1, 2]);
  assert.deepEqual(router.settledOn, [1, 2], 'the cancelled run counts too');
  // The primary serving reads (no standby left): a 40001 there is its own serialization failure.
  router.decide(0, [0]);
  nodes.answers.set(0, [sqlError('40001')]);
  await assert.rejects(reader.query('SELECT 1'), (err: Error) => (err as { code?: string }).code === '40001');
  await reader.end();
});

test('a write the old primary refused as read-only (25006) runs again, once, on the new primary', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [sqlError('25006')]);
  router.onReport = (host, signal) => signal === 'read-only' && host === 0 && router.decide(1, [0, 2]);
  const writer = routedPool('writer', router, nodes);
  assert.deepEqual((await writer.query('INSERT 1')).rows, [{ host: 1 }]);
  assert.deepEqual(nodes.hosts(), [0, 1]);
  await writer.end();
});

test("pg-split's own write-position fetch cut by the old primary's shutdown (57P01) runs again on the new primary", async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [sqlError('57P01')]);
  router.onReport = (host, signal) => signal === 'shutdown' && host === 0 && router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  assert.deepEqual((await writer.queryUntracked('SELECT pg_current_wal_insert_lsn()')).rows, [{ host: 1 }]);
  assert.deepEqual(nodes.hosts(), [0, 1]);
  await writer.end();
});

test('fallbackReads: the primary reading for want of a standby takes `max` reads at once; the next waits, or fails with whenFull error', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  router.decide(0, [0]);
  const reader = routedPool('reader', router, nodes, 2000, 5, { max: 1, whenFull: 'wait' });
  const held = await reader.connect();
  let served = false;
  const waiting = reader.query('SELECT 1').then((r) => {
    served = true;
    return r.rows as unknown[];
  });
  await turnsUntil(() => reader.waitingCount === 1);
  assert.equal(served, false, 'a second read at once on the fallback primary');
  assert.equal(reader.waitingCount, 1, 'the held-back read counts as waiting');
  held.release();
  assert.deepEqual(await waiting, [{ host: 0 }], 'served once the first read ended');
  // A standby back: a held-back read goes there instead.
  const again = await reader.connect();
  const moved = reader.query('SELECT 1');
  await turnsUntil(() => reader.waitingCount === 1);
  router.decide(0, [1]);
  assert.deepEqual((await moved).rows, [{ host: 1 }]);
  again.release();
  await reader.end();

  const failing = routedPool('reader', router, nodes, 2000, 5, { max: 1, whenFull: 'error' });
  router.decide(0, [0]);
  const busy = await failing.connect();
  await assert.rejects(failing.query('SELECT 1'), (err: Error) => (err as { code?: string }).code === 'PGSPLIT_FALLBACK_FULL');
  busy.release();
  assert.deepEqual((await failing.query('SELECT 1')).rows, [{ host: 0 }]);
  await failing.end();
});

test('a write is run at most twice: refused again on the second node, it fails with the server error', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [sqlError('57P01')]);
  nodes.answers.set(1, [sqlError('25006')]);
  router.onReport = (host) => host === 0 && router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  await assert.rejects(writer.query('INSERT 1'), (err: Error) => (err as { code?: string }).code === '25006');
  assert.deepEqual(nodes.hosts(), [0, 1]);
  await writer.end();
});

test('a write whose connection was cut without an answer is never run again (it may have committed)', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [connectionReset()]);
  router.onReport = () => router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  await assert.rejects(writer.query('INSERT 1'), /ECONNRESET/);
  assert.deepEqual(nodes.hosts(), [0]);
  await writer.end();
});

test('several statements in one string are never run again, even when refused by SQLSTATE', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [sqlError('25006')]);
  router.onReport = () => router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  await assert.rejects(writer.query('INSERT 1; COMMIT; INSERT 2'), (err: Error) => (err as { code?: string }).code === '25006');
  assert.deepEqual(nodes.hosts(), [0]);
  await writer.end();
});

test('a read whose connection was lost runs again on another reader; lost twice, it fails', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const reader = routedPool('reader', router, nodes);
  nodes.answers.set(1, [connectionReset()]);
  assert.deepEqual((await reader.query('SELECT 1')).rows, [{ host: 2 }]);
  assert.deepEqual(nodes.hosts(), [1, 2]);
  router.decide(0, [1, 2]); // the watch found node 1 fine again
  nodes.answers.set(1, [connectionReset()]);
  nodes.answers.set(2, [connectionReset()]);
  await assert.rejects(reader.query('SELECT 2'), /ECONNRESET/);
  assert.deepEqual(nodes.hosts().slice(2), [1, 2]);
  await reader.end();
});

test('a read that fails with an ordinary error is not run again', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(1, [sqlError('42P01')]);
  const reader = routedPool('reader', router, nodes);
  await assert.rejects(reader.query('SELECT * FROM missing'), (err: Error) => (err as { code?: string }).code === '42P01');
  assert.deepEqual(nodes.hosts(), [1]);
  await reader.end();
});

test('without a writer, a write waits for one and goes there; none within failoverTimeoutMillis: PGSPLIT_FAILOVER_TIMEOUT', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  router.decide(null);
  const writer = routedPool('writer', router, nodes);
  const pending = writer.query('INSERT 1');
  await turnsUntil(() => writer.waitingCount === 1);
  router.decide(2, [0, 1]);
  assert.deepEqual((await pending).rows, [{ host: 2 }]);
  await writer.end();
  // A deadline of now: no writer by then, the timeout error.
  router.decide(null);
  const hurried = routedPool('writer', router, nodes, 0);
  await assert.rejects(hurried.query('INSERT 2'), (err: unknown) => err instanceof PgSplitError && err.code === 'PGSPLIT_FAILOVER_TIMEOUT');
  assert.deepEqual(nodes.hosts(), [2]);
  await hurried.end();
});

test('a node that refuses the connection (57P03) is reported and the write goes to the next writer; another connect error fails it', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.connectErrors.set(0, [sqlError('57P03')]);
  router.onReport = (host, signal) => signal === 'cannot-connect' && host === 0 && router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  assert.deepEqual((await writer.query('INSERT 1')).rows, [{ host: 1 }]);
  assert.deepEqual(router.reports, [[0, 'cannot-connect']]);
  // A node not connected to yet (the writer's pool already holds a connection to node 1).
  router.decide(2, [1]);
  nodes.connectErrors.set(2, [sqlError('28P01')]);
  await assert.rejects(writer.query('INSERT 2'), (err: Error) => (err as { code?: string }).code === '28P01');
  assert.deepEqual(nodes.hosts(), [1], 'a login refused for good is not retried elsewhere');
  await writer.end();
});

test('the write-token fetch (an internal statement) counts as no write; it runs again on a node that stopped being the primary (25006), and fails at once on an error that says nothing of the cluster', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [sqlError('25006')]);
  router.onReport = () => router.decide(1, [2]);
  const writer = routedPool('writer', router, nodes);
  assert.deepEqual((await writer.queryUntracked('SELECT pg_current_wal_insert_lsn()')).rows, [{ host: 1 }]);
  assert.deepEqual(nodes.hosts(), [0, 1]);
  assert.equal(nodes.tracker.acknowledged, 0);
  nodes.answers.set(1, [sqlError('42601')]);
  await assert.rejects(
    writer.queryUntracked('SELECT pg_current_wal_insert_lsn()'),
    (err: Error) => (err as { code?: string }).code === '42601',
  );
  assert.deepEqual(nodes.hosts(), [0, 1, 1]);
  await writer.end();
});

test('after end(), a statement rejects with PGSPLIT_ENDED and opens no connection', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes);
  await writer.query('INSERT 1');
  const opened = nodes.opened;
  const ended = writer.end();
  await assert.rejects(writer.query('INSERT 2'), (err: unknown) => err instanceof PgSplitError && err.code === 'PGSPLIT_ENDED');
  await ended;
  assert.equal(nodes.opened, opened);
  assert.deepEqual(nodes.hosts(), [0]);
});

test('the callback form calls back with the result, and with the error, as pg.Pool does', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.answers.set(0, [{ rows: [{ ok: true }] }, sqlError('23505')]);
  const writer = routedPool('writer', router, nodes);
  const ok = await new Promise<unknown>((resolve, reject) =>
    writer.query('INSERT 1', (err: Error | undefined, res: pg.QueryResult) => (err ? reject(err) : resolve(res.rows))),
  );
  assert.deepEqual(ok, [{ ok: true }]);
  const failed = await new Promise<unknown>((resolve) => writer.query('INSERT 1', [], (err: Error | undefined) => resolve(err)));
  assert.equal((failed as { code?: string }).code, '23505');
  await writer.end();
});

test('a node whose connect failed with a failover signal is not tried again before the watch has looked again (no timer, no spin)', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.connectErrors.set(0, [sqlError('57P03')]);
  const writer = routedPool('writer', router, nodes);
  const pending = writer.query('INSERT 1');
  // The watch looks again once the write failed on node 0 and waits for that look.
  await turnsUntil(() => nodes.connects.length === 1 && writer.waitingCount === 1);
  router.decide(0);
  assert.deepEqual((await pending).rows, [{ host: 0 }]);
  assert.deepEqual(nodes.connects, [
    { host: 0, looks: 0 },
    { host: 0, looks: 1 },
  ]);
  await writer.end();
});

test('a node whose connections are all taken (53300) is tried again, once at once and then only after each look of the watch, the same node, and not reported as a failover; at the deadline the 53300 goes to the caller', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.connectErrors.set(0, [sqlError('53300'), sqlError('53300')]);
  const writer = routedPool('writer', router, nodes);
  const pending = writer.query('INSERT 1');
  // The watch looks again once both attempts failed (turns of the event loop, no clock).
  const lookOnceTried = (): void => void (nodes.connects.length >= 2 ? router.decide(0) : setImmediate(lookOnceTried));
  lookOnceTried();
  assert.deepEqual((await pending).rows, [{ host: 0 }]);
  assert.deepEqual(nodes.connects, [
    { host: 0, looks: 0 },
    { host: 0, looks: 0 },
    { host: 0, looks: 1 },
  ]);
  assert.deepEqual(
    router.reports.filter(([, signal]) => signal !== null),
    [],
    'no failover signal: the node is fine',
  );
  await writer.end();
  // Never a free connection before the deadline (here, at once): the server's own error.
  const [router2, nodes2] = [new FakeRouter(), new FakeNodes()];
  nodes2.connectErrors.set(0, [sqlError('53300'), sqlError('53300')]);
  const short = routedPool('writer', router2, nodes2, 0);
  await assert.rejects(short.query('INSERT 1'), (err: Error) => (err as { code?: string }).code === '53300');
  await short.end();
});

test('a held checkout (connect()) that failed on a node tries it again once the watch has looked again, not before, and not twice', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  nodes.connectErrors.set(0, [sqlError('57P03')]);
  const writer = routedPool('writer', router, nodes);
  const held = writer.connect();
  await turnsUntil(() => nodes.connects.length === 1 && writer.waitingCount === 1);
  router.decide(0);
  const client = await held;
  assert.equal((client as unknown as { pgSplitHost: number }).pgSplitHost, 0);
  assert.deepEqual(nodes.connects, [
    { host: 0, looks: 0 },
    { host: 0, looks: 1 },
  ]);
  client.release();
  await writer.end();
});

test('a write for a silent leader whose pool has no connection to spare waits for one to be released, opens none, and is witnessed', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes, 2000, 2);
  const held = await writer.connect();
  // Patroni went silent on node 0: no writer; single statements go to it, witnessed, on connections its pool has.
  router.silentLeader = 0;
  router.decide(null);
  nodes.answers.set(0, [{ rows: [{ host: 0 }] }, { rows: [{ lsn: '0/3000060' }] }]);
  const order: string[] = [];
  const write = writer.query('INSERT 1').then((r) => {
    order.push('write acknowledged');
    return r;
  });
  await turnsUntil(() => writer.waitingCount === 1);
  order.push('released');
  held.release();
  assert.deepEqual((await write).rows, [{ host: 0 }]);
  assert.deepEqual(order, ['released', 'write acknowledged']);
  assert.equal(nodes.opened, 1, 'no connection opened to the silent leader');
  assert.deepEqual(router.witnessedAt, ['0/3000060']);
  assert.deepEqual(
    nodes.sent.map((x) => x.sql),
    ['INSERT 1', 'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn'],
  );
  await writer.end();
});

test('a statement waiting in the pool of a node that is cut goes to the next writer instead of waiting for ever', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes, 2000, 1);
  const held = await writer.connect();
  const queued = writer.query('INSERT 1');
  await turnsUntil(() => writer.waitingCount === 1);
  router.decide(1, [2]);
  router.registry.fence(0);
  assert.deepEqual((await queued).rows, [{ host: 1 }]);
  held.release();
  await writer.end();
});

test('end(): a statement sent before it and waiting for a connection is served once the held client is released (pg-pool leaves it waiting for ever); one sent after it rejects; end() resolves when both are done', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes, 2000, 1);
  const held = await writer.connect();
  const queued = writer.query('INSERT 1');
  // Event-loop turns, not the clock: the statement waits in the full node pool's queue.
  await turnsUntil(() => writer.waitingCount > 0);
  let ended = false;
  const ending = writer.end().then(() => (ended = true));
  await assert.rejects(writer.query('INSERT 2'), (err: unknown) => err instanceof PgSplitError && err.code === 'PGSPLIT_ENDED');
  for (let n = 0; n < 10; n++) await turn();
  assert.equal(ended, false, 'a client is still held, a statement still waits for it');
  held.release();
  await queued;
  await ending;
  assert.deepEqual(nodes.hosts(), [0], 'the statement sent before end() ran, the one sent after it did not');
});

test('acknowledged writes are counted for read-your-writes; failed writes and the write-token fetch are not', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes);
  await writer.query('INSERT 1');
  nodes.answers.set(0, [sqlError('23505')]);
  await assert.rejects(writer.query('INSERT 1'));
  await writer.queryUntracked('SELECT pg_current_wal_insert_lsn()');
  assert.equal(nodes.tracker.acknowledged, 1);
  await writer.end();
});

test('a statement waiting for its witnesses keeps the pool busy: the cluster does not go idle under it', async () => {
  const [router, nodes] = [new FakeRouter(), new FakeNodes()];
  const writer = routedPool('writer', router, nodes);
  await writer.query('INSERT 0');
  assert.equal(writer.busy(), false, 'nothing runs, nothing is checked out');
  router.silentLeader = 0;
  router.decide(null);
  let witnessed = (): void => undefined;
  router.witnessing = new Promise((resolve) => (witnessed = resolve));
  nodes.answers.set(0, [{ rows: [{ host: 0 }] }, { rows: [{ lsn: '0/3000060' }] }]);
  const write = writer.query('INSERT 1');
  await turnsUntil(() => router.witnessedAt.length === 1);
  assert.deepEqual(router.witnessedAt, ['0/3000060'], 'committed, its client released, waiting for its witnesses');
  assert.equal(writer.idleCount, 1);
  assert.equal(writer.busy(), true);
  witnessed();
  await write;
  assert.equal(writer.busy(), false);
  await writer.end();
});
