/**
 * pg-split/pg: the `pg` module, with a Client and a Pool that read every
 * config as libpq reads it and follow the cluster. Everything else is pg's
 * own (the same objects: `types`, `defaults`, ...). Give it to an ORM where
 * it takes a pg module (TypeORM's `driver`, Sequelize's `dialectModule`,
 * knex's client `_driver()`), or import it in place of `pg`.
 *
 * @module pg-split/pg
 */
import pg from 'pg';
import { Client } from './client.js';
import { Pool } from './pool.js';

export { Client } from './client.js';
export type { ClientConfig } from './client.js';
export { Pool } from './pool.js';
export type { PoolConfig } from './pool.js';
export type { PgSplitConfigOptions } from './pg-config.js';
export type {
  ClientBase,
  ConnectionConfig,
  CustomTypesConfig,
  FieldDef,
  Notification,
  PoolClient,
  QueryArrayConfig,
  QueryArrayResult,
  QueryConfig,
  QueryConfigValues,
  QueryResult,
  QueryResultBase,
  QueryResultRow,
  Submittable,
} from 'pg';

export const types: typeof pg.types = pg.types;
export const defaults = pg.defaults;
export const Query = pg.Query;
export const Connection = pg.Connection;
export const DatabaseError = pg.DatabaseError;
export const escapeIdentifier = pg.escapeIdentifier;
export const escapeLiteral = pg.escapeLiteral;
export const Result = pg.Result;
export const TypeOverrides = pg.TypeOverrides;

/** The default export, as `pg`'s: every export in one object. */
export interface PgSplitPg {
  readonly Client: typeof Client;
  readonly Pool: typeof Pool;
  readonly types: typeof pg.types;
  readonly defaults: typeof pg.defaults;
  readonly Query: typeof pg.Query;
  readonly Connection: typeof pg.Connection;
  readonly DatabaseError: typeof pg.DatabaseError;
  readonly escapeIdentifier: typeof pg.escapeIdentifier;
  readonly escapeLiteral: typeof pg.escapeLiteral;
  readonly Result: typeof pg.Result;
  readonly TypeOverrides: typeof pg.TypeOverrides;
  readonly native: null;
}

const pgSplitPg = {
  Client,
  Pool,
  types,
  defaults,
  Query,
  Connection,
  DatabaseError,
  escapeIdentifier,
  escapeLiteral,
  Result,
  TypeOverrides,
} as PgSplitPg;
// pg-native is not routed: code that looks for it stays on the JavaScript client. Not enumerable and not a named
// export, as pg's own `native` (a lazy getter on the module, absent from its ESM exports).
Object.defineProperty(pgSplitPg, 'native', { value: null, enumerable: false });
export default pgSplitPg;
