import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@prisma/client';
import { readReplicas } from '@prisma/extension-read-replicas';
import { startCluster, type Cluster } from '@pg-split/harness';
import { connectSplit } from '../../src/split/connect-split.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  await cluster.primary.query(
    'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, server text NOT NULL DEFAULT host(inet_server_addr()))',
  );
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

test('Prisma: @prisma/adapter-pg over writer and reader, with @prisma/extension-read-replicas', { timeout: 60_000 }, async (t) => {
  const split = await connectSplit(cluster.conninfo(), { consistency: 'session' });
  const primary = new PrismaClient({ adapter: new PrismaPg(split.writer) });
  const replica = new PrismaClient({ adapter: new PrismaPg(split.reader) });
  const prisma = primary.$extends(readReplicas({ replicas: [replica] }));
  t.after(async () => {
    await prisma.$disconnect();
    await split.end();
  });
  const note = await prisma.note.create({ data: { body: 'prisma' } });
  assert.equal(note.server, cluster.primary.host, 'the create ran on the primary');
  const found = await prisma.note.findFirst({ where: { id: note.id } });
  assert.equal(found?.body, 'prisma', "a read through the replica client sees the create ('session' consistency)");
  const standbys = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const rows = await prisma.$replica().$queryRaw<Array<{ host: string }>>`SELECT host(inet_server_addr()) AS host`;
    standbys.add(rows[0]?.host ?? '');
  }
  assert.deepEqual([...standbys].sort(), cluster.standbys.map((s) => s.host).sort());
  const onPrimary = await prisma.$primary().$queryRaw<Array<{ host: string }>>`SELECT host(inet_server_addr()) AS host`;
  assert.equal(onPrimary[0]?.host, cluster.primary.host);
});
