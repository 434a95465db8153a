import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { startCluster, type Cluster } from '@pg-split/harness';
import { connectSplit } from '../../src/split/connect-split.js';
import { pgSplitChoice } from '../support/choose.js';
import { psqlChoice } from '../support/psql.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

/** The claims of docs/comparison.md about node-postgres and postgres.js, checked on a real primary and standby. */
let cluster: Cluster;
let P: string;
let S: string;

before(async () => {
  cluster = await startCluster({ standbys: 1, firstAddress: net.first });
  [P, S] = cluster.nodes.map((n) => n.host) as [string, string];
});

after(async () => {
  await cluster?.destroy();
});

/** Where postgres.js connects for hosts in this order, or its error code/message. */
async function postgresJs(hosts: string[], tsa: string): Promise<string> {
  try {
    const options = {
      host: hosts,
      port: hosts.map(() => cluster.port),
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: tsa,
      connect_timeout: 3,
      max: 1,
      idle_timeout: 1,
      onnotice: () => undefined,
    };
    const sql = postgres(options as unknown as postgres.Options<Record<string, never>>);
    try {
      const rows = await Promise.race([
        sql`SELECT host(inet_server_addr()) AS host`,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no result after 3 s')), 3000)),
      ]);
      return (rows[0] as { host: string }).host;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
  } catch (err) {
    return `error: ${(err as { code?: string }).code ?? (err as Error).message}`;
  }
}

describe('postgres.js 3.4 (peers.md §4) against pg-split and psql on the same hosts', () => {
  test(
    'read-write with the standby listed first: postgres.js lands on the standby; pg-split and psql on the primary',
    { timeout: 30_000 },
    async () => {
      assert.equal(await postgresJs([S, P], 'read-write'), S);
      const info = `host=${S},${P} port=${cluster.port} user=postgres dbname=postgres target_session_attrs=read-write`;
      assert.deepEqual(await pgSplitChoice(info), { ok: true, address: P });
      assert.deepEqual(await psqlChoice(info), { ok: true, address: P });
    },
  );

  test('target_session_attrs=any: postgres.js rejects it; pg-split takes the first host, as libpq', { timeout: 30_000 }, async () => {
    assert.match(await postgresJs([S, P], 'any'), /^error: .*any/i);
    assert.deepEqual(await pgSplitChoice(`host=${S},${P} port=${cluster.port} user=postgres target_session_attrs=any`), {
      ok: true,
      address: S,
    });
  });

  test(
    'prefer-standby with only a primary: postgres.js fails; pg-split falls back to the primary, as libpq',
    { timeout: 30_000 },
    async () => {
      assert.match(await postgresJs([P], 'prefer-standby'), /^error:/);
      assert.deepEqual(await pgSplitChoice(`host=${P} port=${cluster.port} user=postgres target_session_attrs=prefer-standby`), {
        ok: true,
        address: P,
      });
    },
  );
});

describe('node-postgres 8 alone', () => {
  test(
    'ignores target_session_attrs: asked for read-write, it connects to the standby; pg-split does not',
    { timeout: 30_000 },
    async () => {
      const client = new pg.Client({
        host: S,
        port: cluster.port,
        user: 'postgres',
        database: 'postgres',
        target_session_attrs: 'read-write',
      } as pg.ClientConfig);
      await client.connect();
      const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      await client.end();
      assert.equal(rows[0]?.standby, true);
      const ours = await pgSplitChoice(`host=${S} port=${cluster.port} user=postgres target_session_attrs=read-write`);
      assert.equal(ours.ok, false);
    },
  );

  test('cannot read a multi-host URL at all; connectSplit routes writes and reads from the same URL', { timeout: 30_000 }, async () => {
    const url = cluster.url();
    assert.throws(() => new pg.Client({ connectionString: url }), /Invalid URL/);
    const split = await connectSplit(url);
    try {
      const w = await split.writer.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      const r = await split.reader.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
      assert.deepEqual([w.rows[0]?.standby, r.rows[0]?.standby], [false, true]);
    } finally {
      await split.end();
    }
  });
});
