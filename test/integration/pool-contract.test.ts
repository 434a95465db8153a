import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { firstLine, runScript, SPLIT_MODULE } from '../support/run-script.js';
import { sessionsNamed } from '../support/server-count.js';
import { splitFor } from '../support/split.js';
import { until } from '../support/until.js';

/**
 * The reader and the writer are pg.Pools to the letter: end(), callbacks,
 * allowExitOnIdle, counters and events as pg-pool has them, each checked on
 * both pools against a real primary and standby (and, where pg-pool's own
 * behaviour is the reference, side by side with a plain pg.Pool).
 */
const net = testNet(import.meta.url);
const ROLES = ['writer', 'reader'] as const;
const ENDED_TWICE = 'Called end on pool more than once';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 1, firstAddress: net.first });
  await cluster.waitForReplication();
});

after(() => cluster?.destroy());

const urlFor = (app: string, nodes = cluster.nodes): string => cluster.url(nodes, { application_name: app });

describe('end() as pg-pool has it', () => {
  for (const role of ROLES) {
    test(`${role}: ending at once; a second end() rejects with pg-pool's error; end(cb) twice calls back with it`, async (t) => {
      const split = await splitFor(t, urlFor(`pgsplit-pool-end2-${role}`));
      const pool = split[role];
      await pool.query('SELECT 1');
      const first = pool.end();
      assert.equal(pool.ending, true);
      await assert.rejects(pool.end(), { message: ENDED_TWICE });
      await first;
      const other = (await splitFor(t, urlFor(`pgsplit-pool-endcb-${role}`)))[role];
      const firstCall = await new Promise<unknown[]>((resolve) => other.end((...args: unknown[]) => resolve(args)));
      const secondCall = await new Promise<unknown[]>((resolve) => other.end((...args: unknown[]) => resolve(args)));
      assert.deepEqual(firstCall, [], 'the first end(cb) calls back with no error');
      assert.equal((secondCall[0] as Error | undefined)?.message, ENDED_TWICE);
    });

    test(`${role}: statements sent while end() runs reject; once it resolves, no pooled connection is left, theirs included`, async (t) => {
      const app = `pgsplit-pool-ending-${role}`;
      const split = await splitFor(t, urlFor(app), { idleAfterMillis: 0 });
      const pool = split[role];
      await until('every host checked', () => split.topology().nodes.every((n) => n.reachable));
      const monitoring = await sessionsNamed(cluster, app);
      const long = pool.query('SELECT pg_sleep(0.5)');
      await until('the long statement checked out', () => pool.totalCount === 1);
      const ending = pool.end();
      const late = [
        pool.query('SELECT 1'),
        pool.connect(),
        new Promise((resolve, reject) => pool.query('SELECT 1', (err: Error | undefined) => (err ? reject(err) : resolve(null)))),
      ];
      for (const statement of late)
        await assert.rejects(statement, { code: 'PGSPLIT_ENDED', message: 'Cannot use a pool after calling end on the pool' });
      await long;
      await ending;
      assert.equal(pool.totalCount, 0);
      assert.equal(await sessionsNamed(cluster, app), monitoring, 'only the monitoring sessions are left');
    });
  }

  test("a statement waiting for a node when its pool's end() is called is served as pg-pool serves it (until its own deadline), end() waiting for it; connectSplit's end() fails it at once", async (t) => {
    const [primary, standby] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    // Only the standby named: the writer has no primary to wait for. Only the primary named, standbys only: no reader.
    const writerSplit = await splitFor(t, urlFor('pgsplit-pool-wait-w', [standby]), { waitForPrimary: false, failoverTimeoutMillis: 1500 });
    const readerSplit = await splitFor(t, urlFor('pgsplit-pool-wait-r', [primary]), {
      readerPolicy: 'standby',
      failoverTimeoutMillis: 1500,
    });
    for (const [pool, code] of [
      [writerSplit.writer, 'PGSPLIT_FAILOVER_TIMEOUT'],
      [readerSplit.reader, 'PGSPLIT_NO_READER'],
    ] as const) {
      const waiting = pool.query('SELECT 1');
      await until('the checkout counted as waiting', () => pool.waitingCount === 1);
      let ended = false;
      const ending = pool.end().then(() => (ended = true));
      await assert.rejects(pool.query('SELECT 1'), { code: 'PGSPLIT_ENDED' }, 'a statement sent after end()');
      assert.equal(ended, false, 'end() waits for the statement sent before it');
      await assert.rejects(waiting, { code, message: /timeout exceeded waiting for/ });
      await ending;
      assert.equal(pool.waitingCount, 0);
    }
    // connectSplit's end() ends everything now: a statement still waiting for a node fails with PGSPLIT_ENDED, not at its deadline.
    const slow = await splitFor(t, urlFor('pgsplit-pool-wait-end', [standby]), { waitForPrimary: false, failoverTimeoutMillis: 60_000 });
    const waiting = slow.writer.query('SELECT 1');
    await until('the checkout counted as waiting', () => slow.writer.waitingCount === 1);
    const started = Date.now();
    await slow.end();
    await assert.rejects(waiting, { code: 'PGSPLIT_ENDED' });
    assert.ok(Date.now() - started < 30_000, 'not at the failover timeout');
  });
});

test("a checkout on a cluster that never reached a server fails at once, as a pg.Pool's connect does", async (t) => {
  // Nothing listens on these addresses: every connection is refused.
  const nowhere = `postgresql://postgres@${net.address(200)}:${cluster.port},${net.address(201)}:${cluster.port}/postgres?connect_timeout=2`;
  const split = await splitFor(t, nowhere, { waitForPrimary: false, failoverTimeoutMillis: 60_000 });
  const started = Date.now();
  for (const pool of [split.writer, split.reader])
    await assert.rejects(pool.query('SELECT 1'), { code: 'PGSPLIT_CONNECT_FAILED', message: /Connection refused/ });
  assert.ok(Date.now() - started < 30_000, 'not at the failover timeout');
});

test('statements sent before the first decision, and after it, complete in the order they were sent (one connection: the order the server saw them)', async (t) => {
  await cluster.primary.query('CREATE TABLE IF NOT EXISTS pool_order (seq serial PRIMARY KEY, sent int NOT NULL)');
  for (const phase of ['before the first decision', 'after it'] as const) {
    const split = await splitFor(t, urlFor(`pgsplit-pool-order-${phase.length}`), { waitForPrimary: false, writer: { max: 1 } });
    if (phase === 'after it') await until('a writer is known', () => split.topology().writer !== null);
    else assert.equal(split.topology().writer, null, 'no decision yet when the statements are sent');
    const completed: number[] = [];
    const sent = Array.from({ length: 20 }, (_, i) =>
      split.writer.query<{ seq: number }>('INSERT INTO pool_order (sent) VALUES ($1) RETURNING seq', [i]).then((r) => {
        completed.push(i);
        return r.rows[0]?.seq ?? -1;
      }),
    );
    const seqs = await Promise.all(sent);
    assert.deepEqual(
      completed,
      [...completed].sort((a, b) => a - b),
      `${phase}: completed out of order: ${completed.join(',')}`,
    );
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `${phase}: the server saw them out of order: ${seqs.join(',')}`,
    );
  }
});

test("a failed statement's stack leads back to the application's await, as pg.Pool's does (async stack traces)", async (t) => {
  const split = await splitFor(t, urlFor('pgsplit-pool-stack'));
  const plain = new pg.Pool({ connectionString: urlFor('pgsplit-pool-stack', [cluster.primary]) });
  t.after(() => plain.end());
  for (const [name, pool] of [
    ['pg.Pool', plain],
    ['writer', split.writer],
    ['reader', split.reader],
  ] as const) {
    async function applicationInner(): Promise<void> {
      await pool.query('SELECT test FROM no_such_table');
    }
    async function applicationOuter(): Promise<string> {
      try {
        await applicationInner();
        return 'no error';
      } catch (err) {
        return err instanceof Error ? (err.stack ?? '') : String(err);
      }
    }
    const stack = await applicationOuter();
    assert.match(stack, /applicationInner/, `${name}: ${stack}`);
    assert.match(stack, /applicationOuter/, `${name}: ${stack}`);
  }
});

describe('callbacks as pg-pool calls them', () => {
  test("an exception thrown by the application's callback surfaces as with pg.Pool (uncaught, or thrown by end() itself), never as an unhandled rejection", async () => {
    const script = `
      import pg from 'pg';
      import { connectSplit } from ${SPLIT_MODULE};
      let seen = null;
      process.on('uncaughtException', (e) => (seen = 'uncaught exception ' + e.message));
      process.on('unhandledRejection', (e) => (seen = 'unhandled rejection ' + e.message));
      const settle = () => new Promise((r) => setTimeout(r, 200));
      async function outcome(call) {
        seen = null;
        let called;
        const done = new Promise((resolve) => (called = resolve));
        try {
          call(() => { called(); throw new Error('boom'); });
        } catch (e) {
          seen = 'thrown to the caller ' + e.message;
        }
        await done;
        await settle();
        return seen;
      }
      const cases = {
        'connect(cb)': (pool, fail) => pool.connect((err, client, done) => { done(); fail(); }),
        'query(text, cb)': (pool, fail) => pool.query('SELECT 1', () => fail()),
        'query(text, values, cb)': (pool, fail) => pool.query('SELECT $1::int', [1], () => fail()),
        'end(cb)': (pool, fail) => pool.end(() => fail()),
      };
      // A fresh pool for each case: a callback that throws inside pg's own handling can leave pg.Pool's client unusable.
      const pools = {
        'pg.Pool': async () => { const pool = new pg.Pool({ connectionString: process.env.PRIMARY_URL }); return { pool, end: () => pool.ending || pool.end() }; },
        writer: async () => { const split = await connectSplit(process.env.DATABASE_URL); return { pool: split.writer, end: () => split.end() }; },
        reader: async () => { const split = await connectSplit(process.env.DATABASE_URL); return { pool: split.reader, end: () => split.end() }; },
      };
      const out = {};
      for (const [name, open] of Object.entries(pools))
        for (const [call, run] of Object.entries(cases)) {
          const { pool, end } = await open();
          out[name + ' ' + call] = await outcome((fail) => run(pool, fail));
          // pg.Pool's end would wait for a client left checked out by a broken callback: not awaited.
          void end();
        }
      console.log(JSON.stringify(out));
      process.exit(0);
    `;
    const { code, output } = await runScript(
      script,
      { DATABASE_URL: urlFor('pgsplit-pool-callbacks'), PRIMARY_URL: urlFor('pgsplit-pool-callbacks', [cluster.primary]) },
      60_000,
    );
    assert.equal(code, 0, output);
    const out = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, string | null>;
    // pg.Pool calls end's callback before end() returns when it holds no checked-out client: thrown to the caller.
    const expected = {
      'connect(cb)': 'uncaught exception boom',
      'query(text, cb)': 'uncaught exception boom',
      'query(text, values, cb)': 'uncaught exception boom',
      'end(cb)': 'thrown to the caller boom',
    };
    for (const [call, outcome] of Object.entries(expected)) {
      assert.equal(out[`pg.Pool ${call}`], outcome, `pg.Pool ${call}: ${output}`);
      for (const role of ROLES) assert.equal(out[`${role} ${call}`], outcome, `${role} ${call}: ${output}`);
    }
  });
});

describe('allowExitOnIdle', () => {
  const script = (allow: boolean): string => `
    import { connectSplit } from ${SPLIT_MODULE};
    const pool = { allowExitOnIdle: ${allow}, idleTimeoutMillis: 60000 };
    const split = await connectSplit(process.env.DATABASE_URL, { writer: pool, reader: pool, idleAfterMillis: 0 });
    await split.writer.query('SELECT 1');
    const { rows } = await split.reader.query('SELECT pg_is_in_recovery() AS standby');
    console.log(JSON.stringify(rows[0]));
    // No end(): with allowExitOnIdle, nothing idle keeps the process alive.
  `;

  test('with allowExitOnIdle, the process exits once nothing is checked out, its pools and monitoring still open', async (t) => {
    const run = await runScript(script(true), { DATABASE_URL: urlFor('pgsplit-pool-exit') }, 30_000);
    const { code, signal, output, millis } = run;
    assert.equal(signal, null, `the process did not exit by itself within 30 s: ${output}`);
    assert.equal(code, 0, output);
    assert.deepEqual(firstLine(run), { standby: true });
    t.diagnostic(`exited ${millis} ms after it started`);
  });

  test('without it, the open pools and monitoring keep the process alive (the control)', async () => {
    const { signal, output } = await runScript(script(false), { DATABASE_URL: urlFor('pgsplit-pool-stay') }, 5000);
    assert.equal(signal, 'SIGKILL', `the process exited by itself: ${output}`);
  });
});

/**
 * Two checkouts on a pool of max 2, a third that waits, releases, end(): the
 * pool's counters (total idle waiting) at each step and its events in order,
 * each event's client checked to be one the pool connected.
 */
async function saturate(pool: pg.Pool): Promise<{ counts: string[]; events: string[] }> {
  const events: string[] = [];
  const clients = new Set<unknown>();
  const known = (client: unknown): void => assert.ok(clients.has(client), 'an event names a client the pool connected');
  pool.on('connect', (client) => (events.push('connect'), clients.add(client)));
  pool.on('acquire', (client) => (events.push('acquire'), known(client)));
  pool.on('release', (err, client) => (events.push(`release ${err === undefined ? 'ok' : 'error'}`), known(client)));
  pool.on('remove', (client) => (events.push('remove'), known(client)));
  const counts: string[] = [];
  const count = (): number => counts.push(`${pool.totalCount} ${pool.idleCount} ${pool.waitingCount}`);
  const a = await pool.connect();
  const b = await pool.connect();
  count();
  const third = pool.connect();
  await until('the third checkout waits', () => pool.waitingCount === 1);
  count();
  a.release();
  const c = await third;
  assert.equal(c, a, 'the waiting checkout got the released client');
  count();
  b.release();
  c.release();
  count();
  await pool.end();
  await until('both clients removed', () => events.filter((e) => e === 'remove').length === 2);
  count();
  return { counts, events };
}

describe("counters and events as pg-pool's", () => {
  for (const role of ROLES) {
    test(`${role}: totalCount, idleCount, waitingCount and events through a saturated checkout, as a plain pg.Pool's`, async (t) => {
      const split = await splitFor(t, urlFor(`pgsplit-pool-count-${role}`), { [role]: { max: 2 } });
      const node = role === 'writer' ? cluster.primary : cluster.standbys[0];
      const plain = new pg.Pool({ connectionString: urlFor('pgsplit-pool-count-plain', node === undefined ? [] : [node]), max: 2 });
      const ours = await saturate(split[role]);
      assert.deepEqual(ours, await saturate(plain));
      assert.deepEqual(ours.counts, ['2 0 0', '2 0 1', '2 0 0', '2 2 0', '0 0 0']);
      assert.deepEqual(ours.events, [
        'connect',
        'acquire',
        'connect',
        'acquire',
        'release ok',
        'acquire',
        'release ok',
        'release ok',
        'remove',
        'remove',
      ]);
    });

    test(`${role}: expiredCount counts a checked-out client past maxLifetimeSeconds, removed when released`, async (t) => {
      const split = await splitFor(t, urlFor(`pgsplit-pool-expire-${role}`), { [role]: { maxLifetimeSeconds: 1 } });
      const pool = split[role];
      const client = await pool.connect();
      assert.equal(pool.expiredCount, 0);
      await until('the client expired', () => pool.expiredCount === 1, 5000);
      client.release();
      assert.deepEqual([pool.expiredCount, pool.totalCount], [0, 0]);
    });
  }
});
