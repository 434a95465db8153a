import assert from 'node:assert/strict';
import type { Cluster, ClusterNode } from '@pg-split/harness';
import { sessionsNamed } from './server-count.js';
import { until } from './until.js';
import type { Who } from './who.js';

/**
 * One ORM or library, configured as its own docs say with pg-split/pg as its
 * pg, driven through the faults of issue 31's recipes. The table it writes
 * records, by its column defaults, the server that took each row.
 */
export interface OrmUnderTest {
  /** One write through the ORM's write path; resolves with the new row's id once acknowledged. */
  write(): Promise<number>;
  /** One read through the ORM's read path: the server that answered says who it is. */
  read(): Promise<Who>;
}

/** The server that takes a write, as column defaults the ORMs can give (WHO_SQL asks the one that answers a read). */
export const HOST_DEFAULT = 'host(inet_server_addr())';
export const STANDBY_DEFAULT = 'pg_is_in_recovery()';

/** The table every recipe writes (its ORM creates it): an id, and who took the row. */
export const TABLE = 'recipe_writes';

export interface FaultRun {
  /** Writes acknowledged through the ORM. */
  readonly acknowledged: number;
  /** Writes that failed while the cluster changed (the ORM's own error, its application retries). */
  readonly failedWrites: number;
  /** Reads that failed while the cluster changed. */
  readonly failedReads: number;
}

interface Ack {
  readonly id: number;
  /** The primary when it was acknowledged. */
  readonly primary: string;
}

async function lsnOf(node: ClusterNode): Promise<string> {
  return (await node.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]?.lsn ?? '0/0';
}

/**
 * A primary and two standbys (cluster.primary, cluster.standbys), then:
 * 1. healthy: writes on the primary, reads on a standby;
 * 2. a failover: the primary stopped, a standby promoted, the other repointed;
 * 3. the old primary back read-write on its old timeline (a stale primary);
 * 4. the new primary frozen (SIGSTOP) and the last standby promoted, the
 *    frozen one then thawed (a second stale primary), the first old primary
 *    rebuilt as a standby of the last.
 * The ORM is never restarted: after each fault it writes again (its first
 * writes may fail, as the application's would, and are retried). At the end
 * the last primary holds every acknowledged write, each taken by the node
 * that was the primary then: none acknowledged by a standby or a stale
 * primary (such a row would be missing from the last primary). The ORM's
 * connections are named `applicationName` on the servers.
 */
export async function throughFaults(cluster: Cluster, orm: OrmUnderTest, applicationName: string): Promise<FaultRun> {
  const [first, second, third] = [cluster.primary, ...cluster.standbys] as [ClusterNode, ClusterNode, ClusterNode];
  const acks: Ack[] = [];
  let failedWrites = 0;
  let failedReads = 0;
  const writes = async (primary: ClusterNode, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) acks.push({ id: await orm.write(), primary: primary.host });
  };
  /** The first write after a fault: retried, as the application would, until the ORM writes again. */
  const resumes = async (primary: ClusterNode): Promise<void> => {
    await until(
      `writes resume on ${primary.host}`,
      async () => {
        try {
          acks.push({ id: await orm.write(), primary: primary.host });
          return true;
        } catch {
          failedWrites++;
          return false;
        }
      },
      60_000,
    );
  };
  const readsOn = async (what: string, ok: (w: Who) => boolean): Promise<void> => {
    await until(
      what,
      async () => {
        try {
          return ok(await orm.read());
        } catch {
          failedReads++;
          return false;
        }
      },
      60_000,
    );
    for (let i = 0; i < 5; i++) {
      const seen = await orm.read();
      assert.ok(ok(seen), `${what}: then ${JSON.stringify(seen)}`);
    }
  };

  // 1. Healthy.
  await writes(first, 3);
  await readsOn('reads on a standby', (w) => w.standby);

  // 2. A failover.
  await first.stop('fast');
  await second.promote();
  await third.follow(second);
  await resumes(second);
  await writes(second, 3);
  await readsOn('reads on the standby left', (w) => w.standby && w.host === third.host);

  // 3. The old primary back read-write on its old timeline.
  await first.start();
  await writes(second, 5);
  await readsOn('reads stay on the standby', (w) => w.standby && w.host === third.host);

  // 4. The primary frozen, the last standby promoted (once it has replayed every acknowledged write), the frozen one thawed.
  const lsn = await lsnOf(second);
  await until('the standby replayed every write', async () => {
    const rows = await third.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
    return rows[0]?.ok === true;
  });
  await second.freeze();
  try {
    await third.promote();
    await resumes(third);
    await writes(third, 3);
  } finally {
    await second.thaw();
  }
  await writes(third, 5);
  await first.rebuildAsStandbyOf(third);
  await readsOn('reads on the rebuilt standby', (w) => w.standby && w.host === first.host);

  const rows = await third.query<{ id: number; host: string; standby: boolean }>(`SELECT id, host, standby FROM ${TABLE}`);
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  const wrong = acks.filter((a) => byId.get(a.id)?.host !== a.primary);
  assert.deepEqual(
    wrong.map((a) => ({ ...a, found: byId.get(a.id) ?? null })),
    [],
    'an acknowledged write missing on the last primary, or taken by a node that was not the primary',
  );
  assert.equal(rows.filter((r) => r.standby).length, 0, 'a row taken by a standby');
  // The ORM's connections carry the name it was configured with: the servers can tell them apart (and count them once it closes).
  assert.ok((await sessionsNamed(cluster, applicationName)) > 0, `no session named ${applicationName}`);
  return { acknowledged: acks.length, failedWrites, failedReads };
}
