/**
 * Sessions per node for an ORM's replication setup on one cluster (a primary
 * and two standbys), counted on the servers: TypeORM's `replication`
 * (master + slaves) and Sequelize's (`write` + `read`), once with plain `pg`
 * and one host per entry (the master on the primary, a slave or read entry
 * on each standby), once with pg-split/pg and one multi-host string per
 * target. The same load for both: 8 callers, each writing and then reading
 * for a second; the sessions are counted right after, the pools still open.
 *
 * `npm run bench:orm-sessions` runs it alone.
 */
import pg from 'pg';
import { QueryTypes, Sequelize } from 'sequelize';
import { DataSource } from 'typeorm';
import { startCluster, type Cluster, type ClusterNode } from '@pg-split/harness';
import PgSplitPg from '../src/pg/index.js';
import { table } from './stats.js';

const CALLERS = 8;
const LOAD_MILLIS = 1000;
/** The load, in words, for the report. */
export const ORM_LOAD = `${CALLERS} callers, each writing and then reading for ${LOAD_MILLIS} ms`;
/** pg-split's monitoring sessions, told from the pools' by their status query. */
const MONITOR_MARK = '%AS in_recovery%';

type Orm = 'TypeORM' | 'Sequelize';
type Driver = 'pg (one host per entry)' | 'pg-split/pg (one string per target)';

interface SessionCount {
  readonly orm: Orm;
  readonly driver: Driver;
  /** Per node (primary, standby 1, standby 2): the ORM's pool connections and pg-split's monitoring sessions. */
  readonly nodes: ReadonlyArray<{ readonly pooled: number; readonly monitoring: number }>;
}

/** What a configured ORM exposes to the load: one write, one read, its close. */
interface Configured {
  write(): Promise<unknown>;
  read(): Promise<unknown>;
  close(): Promise<void>;
}

async function count(node: ClusterNode, app: string): Promise<{ pooled: number; monitoring: number }> {
  const rows = await node.query<{ monitoring: boolean; n: number }>(
    'SELECT query LIKE $2 AS monitoring, count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 GROUP BY 1',
    [app, MONITOR_MARK],
  );
  return {
    pooled: rows.find((r) => !r.monitoring)?.n ?? 0,
    monitoring: rows.find((r) => r.monitoring)?.n ?? 0,
  };
}

function urls(cluster: Cluster, driver: Driver, app: string): { write: string; reads: string[] } {
  const one = (n: ClusterNode): string => `postgresql://postgres@${n.host}:${n.port}/postgres?application_name=${app}`;
  if (driver === 'pg (one host per entry)') return { write: one(cluster.primary), reads: cluster.standbys.map(one) };
  const hosts = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const target = (t: string): string => `postgresql://postgres@${hosts}/postgres?target_session_attrs=${t}&application_name=${app}`;
  return { write: target('read-write'), reads: [target('prefer-standby')] };
}

async function typeorm(cluster: Cluster, driver: Driver, app: string): Promise<Configured> {
  const { write, reads } = urls(cluster, driver, app);
  const dataSource = new DataSource({
    type: 'postgres',
    driver: driver === 'pg (one host per entry)' ? pg : PgSplitPg,
    replication: { master: { url: write }, slaves: reads.map((url) => ({ url })) },
  });
  await dataSource.initialize();
  return {
    write: () => dataSource.query('SELECT pg_current_wal_lsn()'),
    read: async () => {
      const runner = dataSource.createQueryRunner('slave');
      try {
        return (await runner.query('SELECT 1')) as unknown;
      } finally {
        await runner.release();
      }
    },
    close: () => dataSource.destroy(),
  };
}

async function sequelize(cluster: Cluster, driver: Driver, app: string): Promise<Configured> {
  const { write, reads } = urls(cluster, driver, app);
  // Plain pg would take a connection string in `database` as a database name: its entries are host and port fields.
  const entry = (n: ClusterNode): { host: string; port: number; database: string } => ({
    host: n.host,
    port: n.port,
    database: 'postgres',
  });
  const orm = new Sequelize({
    dialect: 'postgres',
    username: 'postgres',
    logging: false,
    ...(driver === 'pg (one host per entry)'
      ? {
          dialectModule: pg,
          dialectOptions: { application_name: app },
          replication: { write: entry(cluster.primary), read: cluster.standbys.map(entry) },
        }
      : { dialectModule: PgSplitPg, replication: { write: { database: write }, read: reads.map((database) => ({ database })) } }),
  });
  return {
    write: () => orm.query('SELECT pg_current_wal_lsn()'),
    read: () => orm.query('SELECT 1', { type: QueryTypes.SELECT }),
    close: () => orm.close(),
  };
}

async function measureOne(cluster: Cluster, orm: Orm, driver: Driver): Promise<SessionCount> {
  const app = `bench-${orm}-${driver.startsWith('pg-split') ? 'split' : 'plain'}`.toLowerCase();
  const configured = await (orm === 'TypeORM' ? typeorm : sequelize)(cluster, driver, app);
  try {
    const until = Date.now() + LOAD_MILLIS;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (Date.now() < until) {
          await configured.write();
          await configured.read();
        }
      }),
    );
    return { orm, driver, nodes: await Promise.all(cluster.nodes.map((n) => count(n, app))) };
  } finally {
    await configured.close();
  }
}

export async function measureOrmSessions(cluster: Cluster): Promise<SessionCount[]> {
  const results: SessionCount[] = [];
  for (const orm of ['TypeORM', 'Sequelize'] as const) {
    for (const driver of ['pg (one host per entry)', 'pg-split/pg (one string per target)'] as const) {
      results.push(await measureOne(cluster, orm, driver));
    }
  }
  return results;
}

export function ormSessionsTable(results: readonly SessionCount[]): string {
  const cell = (n: { pooled: number; monitoring: number } | undefined): string =>
    n === undefined ? '–' : n.monitoring === 0 ? String(n.pooled) : `${n.pooled} + ${n.monitoring}`;
  return table(
    ['ORM', 'pg module', 'primary', 'standby 1', 'standby 2', 'total'],
    results.map((r) => [
      r.orm,
      r.driver,
      ...r.nodes.map(cell),
      cell({ pooled: r.nodes.reduce((a, n) => a + n.pooled, 0), monitoring: r.nodes.reduce((a, n) => a + n.monitoring, 0) }),
    ]),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startCluster({ standbys: 2 });
  try {
    const results = await measureOrmSessions(cluster);
    console.log(`Sessions per node after ${ORM_LOAD} (pool connections + pg-split's monitoring sessions):\n\n${ormSessionsTable(results)}`);
  } finally {
    await cluster.destroy();
  }
}
