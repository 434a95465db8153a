import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { sql as dsql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { bigserial, pgTable, text, withReplicas } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect, sql as ksql, type Generated } from 'kysely';
import { KyselyReplicationDialect } from 'kysely-replication';
import { RoundRobinReplicaStrategy } from 'kysely-replication/strategy/round-robin';
import { startCluster, type Cluster } from '@pg-split/harness';
import type { SplitCluster } from '../../src/split/connect-split.js';
import { testNet } from '../support/net.js';
import { splitFor } from '../support/split.js';
import type { SplitOptions } from '../../src/split/options.js';

const net = testNet(import.meta.url);

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  await cluster.primary.query(
    'CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL, server text NOT NULL DEFAULT host(inet_server_addr()))',
  );
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

function split(t: TestContext, options: SplitOptions = {}): Promise<SplitCluster> {
  return splitFor(t, cluster.conninfo(), { consistency: 'session', ...options });
}

const standbys = (): string[] => cluster.standbys.map((s) => s.host);

test(
  'plain pg: a transaction on writer.connect() runs on the primary; the reader then sees it on a standby',
  { timeout: 60_000 },
  async (t) => {
    const sp = await split(t);
    const client = await sp.writer.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string; server: string }>(
        "INSERT INTO notes (body) VALUES ('pg') RETURNING id::text, server",
      );
      await client.query('COMMIT');
      assert.equal(rows[0]?.server, cluster.primary.host);
      const read = await sp.reader.query<{ n: string; host: string }>(
        'SELECT count(*)::text AS n, host(inet_server_addr()) AS host FROM notes WHERE id = $1',
        [rows[0]?.id],
      );
      assert.equal(read.rows[0]?.n, '1');
      assert.ok(standbys().includes(read.rows[0]?.host ?? ''));
    } finally {
      client.release();
    }
  },
);

const notes = pgTable('notes', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  body: text('body').notNull(),
  server: text('server')
    .notNull()
    .default(dsql`host(inet_server_addr())`),
});

test('Drizzle withReplicas: inserts on the primary, selects on standbys', { timeout: 60_000 }, async (t) => {
  const sp = await split(t);
  const db = withReplicas(drizzle({ client: sp.writer }), [drizzle({ client: sp.reader })]);
  const [inserted] = await db.insert(notes).values({ body: 'drizzle' }).returning({ id: notes.id, server: notes.server });
  assert.equal(inserted?.server, cluster.primary.host);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const [row] = await db
      .select({ host: dsql<string>`host(inet_server_addr())`, body: notes.body })
      .from(notes)
      .where(dsql`${notes.id} = ${inserted?.id}`);
    assert.equal(row?.body, 'drizzle');
    seen.add(row?.host ?? '');
  }
  assert.deepEqual([...seen].sort(), standbys().sort());
  const [onPrimary] = await db.$primary
    .select({ host: dsql<string>`host(inet_server_addr())` })
    .from(notes)
    .limit(1);
  assert.equal(onPrimary?.host, cluster.primary.host);
});

interface Db {
  notes: { id: Generated<string>; body: string; server: Generated<string> };
}

test('Kysely: PostgresDialect over writer and reader, and kysely-replication over both', { timeout: 60_000 }, async (t) => {
  const sp = await split(t);
  const dialect = (pool: SplitCluster['writer']): PostgresDialect => new PostgresDialect({ pool });
  const writes = new Kysely<Db>({ dialect: dialect(sp.writer) });
  const reads = new Kysely<Db>({ dialect: dialect(sp.reader) });
  const replicated = new Kysely<Db>({
    dialect: new KyselyReplicationDialect({
      primaryDialect: dialect(sp.writer),
      replicaDialects: [dialect(sp.reader)],
      replicaStrategy: new RoundRobinReplicaStrategy({ onTransaction: 'allow' }),
    }),
  });
  // The three instances share the pools, which split(t) ends with the cluster: a destroy() of each would end a pool twice (pg-pool rejects that).
  const inserted = await writes.insertInto('notes').values({ body: 'kysely' }).returning(['id', 'server']).executeTakeFirstOrThrow();
  assert.equal(inserted.server, cluster.primary.host);
  const read = await reads
    .selectFrom('notes')
    .select([ksql<string>`host(inet_server_addr())`.as('host'), 'body'])
    .where('id', '=', inserted.id)
    .executeTakeFirstOrThrow();
  assert.equal(read.body, 'kysely');
  assert.ok(standbys().includes(read.host));
  const viaReplication = await replicated
    .insertInto('notes')
    .values({ body: 'kysely-replication' })
    .returning('server')
    .executeTakeFirstOrThrow();
  assert.equal(viaReplication.server, cluster.primary.host);
  const replicaRead = await replicated
    .selectFrom('notes')
    .select(ksql<string>`host(inet_server_addr())`.as('host'))
    .executeTakeFirstOrThrow();
  assert.ok(standbys().includes(replicaRead.host));
  const tx = await replicated
    .transaction()
    .execute(async (trx) => trx.insertInto('notes').values({ body: 'tx' }).returning('server').executeTakeFirstOrThrow());
  assert.equal(tx.server, cluster.primary.host);
});

test('an ORM keeps writing through a failover: Drizzle inserts land on the promoted standby', { timeout: 60_000 }, async (t) => {
  const sp = await split(t);
  const db = withReplicas(drizzle({ client: sp.writer }), [drizzle({ client: sp.reader })]);
  const [before] = await db.insert(notes).values({ body: 'before' }).returning({ server: notes.server });
  assert.equal(before?.server, cluster.primary.host);
  const [s1, s2] = cluster.standbys as [NonNullable<Cluster['standbys'][0]>, NonNullable<Cluster['standbys'][0]>];
  await cluster.primary.stop('fast');
  const pending = db.insert(notes).values({ body: 'during' }).returning({ server: notes.server });
  await s1.promote();
  await s2.follow(s1);
  const [during] = await pending;
  assert.equal(during?.server, s1.host);
  const [row] = await db
    .select({ host: dsql<string>`host(inet_server_addr())` })
    .from(notes)
    .limit(1);
  assert.equal(row?.host, s2.host, 'reads should stay on the remaining standby');
});
