import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Logger, run } from 'graphile-worker';
import knex, { type Knex } from 'knex';
import { test, type TestContext } from 'node:test';
import pgPromise from 'pg-promise';
import { DataTypes, QueryTypes, Sequelize } from 'sequelize';
import { DataSource, EntitySchema } from 'typeorm';
import { startCluster, type Cluster } from '@pg-split/harness';
import { sharedRuntimes } from '../../src/pg/shared-runtimes.js';
import { HOST_DEFAULT, STANDBY_DEFAULT, TABLE, throughFaults, type FaultRun } from '../support/orm-faults.js';
import { WHO_SQL, type Who } from '../support/who.js';
import { testNet } from '../support/net.js';
import { until } from '../support/until.js';
import { waitForNoSessions } from '../support/server-count.js';

/**
 * Issue 31's recipes: ORMs and libraries that build their connections from
 * pg, installed from npm and configured as their own docs say, given
 * pg-split/pg where they take a pg module (docs/recipes.md, word for word),
 * on the harness's servers through a failover, a stale old primary and a
 * frozen primary (test/support/orm-faults.ts). The servers say who took each
 * write and answered each read.
 */
const net = testNet(import.meta.url);
const TIMEOUT = { timeout: 240_000 };
// As an application loads it: by its package name (the package's own dist/, built by npm test).
const require = createRequire(import.meta.url);
const pgSplitPg = require('pg-split/pg') as typeof import('../../src/pg/index.js').default;

/** The cluster's three hosts in one string, for `target` (`user@` in front unless the ORM passes the user apart). */
function urlOf(cluster: Cluster, target: string, app: string, user: string | null = 'postgres'): string {
  const hosts = cluster.nodes.map((n) => `${n.host}:${cluster.port}`).join(',');
  return `postgresql://${user === null ? '' : `${user}@`}${hosts}/postgres?target_session_attrs=${target}&application_name=${app}`;
}

async function recipe(t: TestContext, offset: number, app: string, run: (cluster: Cluster) => Promise<FaultRun>): Promise<void> {
  const cluster = await startCluster({ standbys: 2, firstAddress: net.address(offset) });
  try {
    const seen = await run(cluster);
    t.diagnostic(
      `${seen.acknowledged} writes acknowledged; ${seen.failedWrites} failed and ${seen.failedReads} reads failed while the cluster changed`,
    );
    assert.equal(sharedRuntimes(), 0, "nothing left open after the ORM's own close");
    assert.equal(await waitForNoSessions(cluster, app), 0, "a session left open after the ORM's own close");
  } finally {
    await cluster.destroy();
  }
}

test(
  'TypeORM: `driver: pg-split/pg` and `replication` with one multi-host url each, through a failover, a stale and a frozen primary',
  TIMEOUT,
  async (t) => {
    const app = 'recipe-typeorm';
    await recipe(t, 2, app, async (cluster) => {
      const RecipeWrite = new EntitySchema<{ id: number; host: string; standby: boolean }>({
        name: 'RecipeWrite',
        tableName: TABLE,
        columns: {
          id: { type: Number, primary: true, generated: true },
          host: { type: String, default: () => HOST_DEFAULT },
          standby: { type: Boolean, default: () => STANDBY_DEFAULT },
        },
      });
      const dataSource = new DataSource({
        type: 'postgres',
        driver: pgSplitPg,
        replication: {
          master: { url: urlOf(cluster, 'read-write', app) },
          slaves: [{ url: urlOf(cluster, 'prefer-standby', app) }],
        },
        entities: [RecipeWrite],
        synchronize: true,
      });
      await dataSource.initialize();
      try {
        const repo = dataSource.getRepository(RecipeWrite);
        return await throughFaults(
          cluster,
          {
            write: async () => Number((await repo.insert({})).identifiers[0]?.['id']),
            read: async () => {
              const runner = dataSource.createQueryRunner('slave');
              try {
                return ((await runner.query(WHO_SQL)) as Who[])[0] as Who;
              } finally {
                await runner.release();
              }
            },
          },
          app,
        );
      } finally {
        await dataSource.destroy();
      }
    });
  },
);

test(
  "Sequelize: `dialectModule: pg-split/pg` and `replication`, each `database` a multi-host connection string (libpq's expand_dbname), through the same faults",
  TIMEOUT,
  async (t) => {
    const app = 'recipe-sequelize';
    await recipe(t, 12, app, async (cluster) => {
      const sequelize = new Sequelize({
        dialect: 'postgres',
        dialectModule: pgSplitPg,
        username: 'postgres',
        replication: {
          write: { database: urlOf(cluster, 'read-write', app, null) },
          read: [{ database: urlOf(cluster, 'prefer-standby', app, null) }],
        },
        pool: { max: 4 },
        logging: false,
      });
      const RecipeWrite = sequelize.define(
        'RecipeWrite',
        {
          id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
          host: { type: DataTypes.TEXT, defaultValue: sequelize.literal(HOST_DEFAULT) },
          standby: { type: DataTypes.BOOLEAN, defaultValue: sequelize.literal(STANDBY_DEFAULT) },
        },
        { tableName: TABLE, timestamps: false },
      );
      try {
        await RecipeWrite.sync();
        return await throughFaults(
          cluster,
          {
            write: async () => Number((await RecipeWrite.create({})).get('id')),
            read: async () => (await sequelize.query<Who>(WHO_SQL, { type: QueryTypes.SELECT }))[0] as Who,
          },
          app,
        );
      } finally {
        await sequelize.close();
      }
    });
  },
);

test('pg-promise: `pgp.pg = pg-split/pg`, one Database per target, through the same faults', TIMEOUT, async (t) => {
  const app = 'recipe-pg-promise';
  await recipe(t, 22, app, async (cluster) => {
    const pgp = pgPromise();
    // pg-promise's types mark `pg` read-only; the library keeps it writable ("so the protocol can be mocked").
    (pgp as { pg: unknown }).pg = pgSplitPg;
    const db = pgp(urlOf(cluster, 'read-write', app));
    const replicas = pgp(urlOf(cluster, 'prefer-standby', app));
    try {
      await db.none(
        `CREATE TABLE ${TABLE} (id serial PRIMARY KEY, host text NOT NULL DEFAULT ${HOST_DEFAULT}, standby boolean NOT NULL DEFAULT ${STANDBY_DEFAULT})`,
      );
      return await throughFaults(
        cluster,
        {
          write: async () => (await db.one<{ id: number }>(`INSERT INTO ${TABLE} DEFAULT VALUES RETURNING id`)).id,
          read: () => replicas.one<Who>(WHO_SQL),
        },
        app,
      );
    } finally {
      pgp.end();
      // pgp.end() does not wait for the pools to end.
      await until('the pools ended', () => sharedRuntimes() === 0);
    }
  });
});

test('knex: a dialect class whose `_driver()` is pg-split/pg, one knex per target, through the same faults', TIMEOUT, async (t) => {
  const app = 'recipe-knex';
  await recipe(t, 32, app, async (cluster) => {
    const KnexPg = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => Knex.Client;
    class PgSplitKnex extends KnexPg {
      _driver(): unknown {
        return require('pg-split/pg');
      }
    }
    const connect = (target: string): Knex =>
      knex({
        client: PgSplitKnex as unknown as typeof Knex.Client,
        connection: {
          connectionString: urlOf(cluster, target, app),
        },
        pool: { min: 0, max: 4 },
      });
    const writes = connect('read-write');
    const reads = connect('standby');
    try {
      await writes.schema.createTable(TABLE, (table) => {
        table.increments('id');
        table.text('host').notNullable().defaultTo(writes.raw(HOST_DEFAULT));
        table.boolean('standby').notNullable().defaultTo(writes.raw(STANDBY_DEFAULT));
      });
      return await throughFaults(
        cluster,
        {
          write: async () => Number((await writes<{ id: number }>(TABLE).insert({}, ['id']))[0]?.id),
          read: async () => (await reads.raw<{ rows: Who[] }>(WHO_SQL)).rows[0] as Who,
        },
        app,
      );
    } finally {
      await Promise.all([writes.destroy(), reads.destroy()]);
    }
  });
});

test(
  'MikroORM 6: its knex dialect given pg-split/pg, `host` a host list, `replicas` for reads, through the same faults',
  TIMEOUT,
  async (t) => {
    const app = 'recipe-mikro-orm';
    await recipe(t, 52, app, async (cluster) => {
      const { EntitySchema, MikroORM, PostgreSqlKnexDialect } = require('@mikro-orm/postgresql') as typeof import('@mikro-orm/postgresql');
      class PgSplitDialect extends PostgreSqlKnexDialect {
        _driver(): unknown {
          return pgSplitPg;
        }
      }
      const RecipeWrite = new EntitySchema<{ id: number; host?: string; standby?: boolean }>({
        name: 'RecipeWrite',
        tableName: TABLE,
        properties: {
          id: { type: 'number', primary: true, autoincrement: true },
          host: { type: 'string', defaultRaw: HOST_DEFAULT },
          standby: { type: 'boolean', defaultRaw: STANDBY_DEFAULT },
        },
      });
      const hosts = cluster.nodes.map((n) => n.host).join(',');
      const orm = await MikroORM.init({
        entities: [RecipeWrite],
        host: hosts,
        port: cluster.port,
        user: 'postgres',
        dbName: 'postgres',
        pool: { min: 0, max: 4 },
        driverOptions: { client: PgSplitDialect, connection: { target_session_attrs: 'read-write', application_name: app } },
        replicas: [
          {
            name: 'standbys',
            host: hosts,
            driverOptions: { client: PgSplitDialect, connection: { target_session_attrs: 'standby', application_name: app } },
          },
        ],
      });
      try {
        await orm.schema.createSchema();
        return await throughFaults(
          cluster,
          {
            write: async () => Number(await orm.em.fork().insert(RecipeWrite, {})),
            read: async () => (await orm.em.getConnection('read').execute<Who[]>(WHO_SQL))[0] as Who,
          },
          app,
        );
      } finally {
        await orm.close();
      }
    });
  },
);

test('graphile-worker: its pgPool a pg-split/pg Pool (read-write), jobs whose task writes, through the same faults', TIMEOUT, async (t) => {
  const app = 'recipe-graphile-worker';
  await recipe(t, 42, app, async (cluster) => {
    const { Pool } = require('pg-split/pg') as typeof import('../../src/pg/index.js');
    const pgPool = new Pool({ connectionString: urlOf(cluster, 'read-write', app), max: 4 });
    const replicas = new Pool({ connectionString: urlOf(cluster, 'prefer-standby', app) });
    pgPool.on('error', () => undefined);
    await pgPool.query(
      `CREATE TABLE ${TABLE} (id serial PRIMARY KEY, host text NOT NULL DEFAULT ${HOST_DEFAULT}, standby boolean NOT NULL DEFAULT ${STANDBY_DEFAULT})`,
    );
    // Each job's task writes one row; the test waits for it by the job's key.
    const written = new Map<string, (id: number) => void>();
    const runner = await run({
      pgPool,
      concurrency: 2,
      pollInterval: 200,
      noHandleSignals: true,
      logger: new Logger(() => () => undefined),
      taskList: {
        record: async (payload, helpers) => {
          const { rows } = await helpers.query<{ id: number }>(`INSERT INTO ${TABLE} DEFAULT VALUES RETURNING id`);
          written.get((payload as { key: string }).key)?.(Number(rows[0]?.id));
        },
      },
    });
    let jobs = 0;
    try {
      return await throughFaults(
        cluster,
        {
          // Adding the job is a write too: it fails while there is no primary, as the application's would.
          write: async () => {
            const key = `job-${++jobs}`;
            const done = new Promise<number>((resolve) => written.set(key, resolve));
            await runner.addJob('record', { key });
            return done;
          },
          read: async () => (await replicas.query<Who>(WHO_SQL)).rows[0] as Who,
        },
        app,
      );
    } finally {
      await runner.stop();
      await Promise.all([pgPool.end(), replicas.end()]);
    }
  });
});
