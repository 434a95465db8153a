import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBlackHole, startCluster, type BlackHole, type Cluster } from '@pg-split/harness';
import { connectDetailed } from '../../src/connect/connect.js';
import { pgSplitChoice } from '../support/choose.js';
import { CLEAN_ENV, psqlChoice, type Choice } from '../support/psql.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

const TSA = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;
const REFUSED = net.address(9);
const HOLE = net.address(10);

let cluster: Cluster;
let hole: BlackHole;
let P: string;
let S1: string;
let S2: string;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  [P, S1, S2] = cluster.nodes.map((n) => n.host) as [string, string, string];
  hole = await startBlackHole({ host: HOLE, port: cluster.port });
  await cluster.primary.query('CREATE DATABASE rodb');
  await cluster.primary.query('ALTER DATABASE rodb SET default_transaction_read_only = on');
  await cluster.waitForReplication();
});

after(async () => {
  await hole?.close();
  await cluster?.destroy();
});

function conninfo(hosts: readonly string[], tsa: string, extra = ''): string {
  return `host=${hosts.join(',')} port=${cluster.port} user=postgres dbname=postgres target_session_attrs=${tsa} connect_timeout=2 ${extra}`.trim();
}

/** Both libpq (psql) and pg-split on the same string: same server, or the same error text. */
async function agree(info: string): Promise<Choice> {
  const [theirs, ours] = await Promise.all([psqlChoice(info), pgSplitChoice(info)]);
  assert.deepEqual(ours, theirs, `pg-split and psql differ on: ${info}`);
  return ours;
}

const expectHost = (choice: Choice, host: string): void => assert.deepEqual(choice, { ok: true, address: host });

describe("libpq's own target_session_attrs matrix (001_stream_rep.pl, reference §5.2)", () => {
  const rows: ReadonlyArray<[string, string, string, 'P' | 'S1' | 'fail']> = [
    ['P', 'S1', 'read-write', 'P'],
    ['S1', 'P', 'read-write', 'P'],
    ['P', 'S1', 'any', 'P'],
    ['S1', 'P', 'any', 'S1'],
    ['P', 'S1', 'primary', 'P'],
    ['S1', 'P', 'primary', 'P'],
    ['P', 'S1', 'read-only', 'S1'],
    ['S1', 'P', 'read-only', 'S1'],
    ['P', 'P', 'prefer-standby', 'P'],
    ['P', 'S1', 'prefer-standby', 'S1'],
    ['S1', 'P', 'prefer-standby', 'S1'],
    ['P', 'S1', 'standby', 'S1'],
    ['S1', 'P', 'standby', 'S1'],
    ['S1', 'S2', 'read-write', 'fail'],
    ['S1', 'S2', 'primary', 'fail'],
    ['P', 'P', 'read-only', 'fail'],
    ['P', 'P', 'standby', 'fail'],
  ];
  for (const [a, b, tsa, expected] of rows) {
    test(`${a},${b} ${tsa} → ${expected}`, async () => {
      const addr = (n: string): string => ({ P, S1, S2 })[n] as string;
      const choice = await agree(conninfo([addr(a), addr(b)], tsa));
      if (expected === 'fail') assert.equal(choice.ok, false);
      else expectHost(choice, addr(expected));
    });
  }
});

describe('a primary whose sessions default to read-only (dbname=rodb)', () => {
  const cases: ReadonlyArray<[string, string, 'P' | 'S1' | 'fail']> = [
    ['P', 'read-write', 'fail'],
    ['P', 'read-only', 'P'],
    ['P', 'primary', 'P'],
    ['P,S1', 'prefer-standby', 'S1'],
    ['P', 'prefer-standby', 'P'],
    ['P', 'standby', 'fail'],
    ['S1,P', 'primary', 'P'],
    ['P,S1', 'any', 'P'],
  ];
  for (const [hosts, tsa, expected] of cases) {
    test(`${hosts} ${tsa} → ${expected}`, async () => {
      const list = hosts.split(',').map((n) => ({ P, S1 })[n] as string);
      const choice = await agree(conninfo(list, tsa, '').replace('dbname=postgres', 'dbname=rodb'));
      if (expected === 'fail') assert.equal(choice.ok, false);
      else expectHost(choice, expected === 'P' ? P : S1);
    });
  }
});

describe('refused addresses and a listener that never answers', () => {
  for (const tsa of TSA) {
    test(`refused, S1, P with ${tsa}`, async () => {
      const choice = await agree(conninfo([REFUSED, S1, P], tsa));
      assert.equal(choice.ok, true);
    });
  }
  test('black hole then primary: timeout expired, then the primary', async () => {
    expectHost(await agree(conninfo([HOLE, P], 'read-write')), P);
  });
  test('black hole, refused and standbys with read-write: every failure listed, as libpq lists them', async () => {
    const choice = await agree(conninfo([HOLE, REFUSED, S1, S2], 'read-write'));
    assert.equal(choice.ok, false);
    if (!choice.ok) {
      assert.match(
        choice.message,
        new RegExp(`^connection to server at "${HOLE.replaceAll('.', '\\.')}", port \\d+ failed: timeout expired\n`),
      );
      assert.match(choice.message, /Connection refused\n\tIs the server running on that host and accepting TCP\/IP connections\?/);
      assert.match(choice.message, /failed: session is read-only$/);
    }
  });
  test('prefer-standby with only a primary and a dead host walks twice, like libpq', async () => {
    const choice = await agree(conninfo([REFUSED, P], 'prefer-standby'));
    expectHost(choice, P);
    const failing = await agree(conninfo([REFUSED], 'prefer-standby'));
    assert.ok(!failing.ok && failing.message.split('Connection refused').length === 3);
  });
});

describe('faults on real servers', () => {
  test('a frozen standby (SIGSTOP) costs one timeout, then the walk goes on', async () => {
    await cluster.standbys[0]?.freeze();
    try {
      expectHost(await agree(conninfo([S1, S2], 'standby')), S2);
      const failed = await agree(conninfo([S1, P], 'standby'));
      assert.ok(!failed.ok && /timeout expired/.test(failed.message) && /server is not in hot standby mode/.test(failed.message));
    } finally {
      await cluster.standbys[0]?.thaw();
    }
  });
  test('a stopped standby is skipped', async () => {
    await cluster.standbys[1]?.stop('fast');
    try {
      expectHost(await agree(conninfo([S2, S1], 'standby')), S1);
    } finally {
      await cluster.standbys[1]?.start();
    }
  });
  test('connect_timeout bounds each address (libpq 18: 1 means one second)', async () => {
    const started = Date.now();
    const connected = await connectDetailed(conninfo([HOLE, P], 'any').replace('connect_timeout=2', 'connect_timeout=1'), { env: {} });
    const elapsed = Date.now() - started;
    await connected.client.end();
    assert.equal(connected.hostIndex, 1);
    assert.ok(elapsed >= 950, `moved on after ${elapsed} ms, before the timeout`);
  });
});

describe('passwords per host from .pgpass', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgsplit-pgpass-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function passfile(lines: string): string {
    const path = join(dir, `pgpass-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, lines);
    chmodSync(path, 0o600);
    return path;
  }

  test('each host gets its own line; no password for the first host aborts, as libpq', async () => {
    const file = passfile(`${S1}:${cluster.port}:postgres:split_secure:split-secret\n`);
    const env = { ...CLEAN_ENV, PGPASSFILE: file };
    const info = `host=${P},${S1} port=${cluster.port} user=split_secure dbname=postgres`;
    const [theirs, ours] = await Promise.all([psqlChoice(info, env), pgSplitChoice(info, { PGPASSFILE: file })]);
    assert.deepEqual(ours, theirs);
    assert.ok(!ours.ok && ours.message.endsWith('fe_sendauth: no password supplied'));
    const reversed = `host=${S1},${P} port=${cluster.port} user=split_secure dbname=postgres`;
    expectHost(await pgSplitChoice(reversed, { PGPASSFILE: file }), S1);
    expectHost(await psqlChoice(reversed, env), S1);
  });

  test('a wrong password from the file says where it came from', async () => {
    const file = passfile(`*:*:*:split_secure:wrong\n`);
    const info = `host=${P} port=${cluster.port} user=split_secure dbname=postgres`;
    const [theirs, ours] = await Promise.all([
      psqlChoice(info, { ...CLEAN_ENV, PGPASSFILE: file }),
      pgSplitChoice(info, { PGPASSFILE: file }),
    ]);
    assert.deepEqual(ours, theirs);
    assert.ok(!ours.ok && ours.message.endsWith(`password retrieved from file "${file}"`));
  });
});
