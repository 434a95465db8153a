import pg from 'pg';
import { SUPERUSER } from './server-config.js';

/** Bounds for one harness query: a frozen or dead node must fail it, not hang it. */
const QUERY_LIMITS = { connectMillis: 5000, queryMillis: 15000 } as const;

export interface QueryTarget {
  readonly host: string;
  readonly port: number;
}

/** Runs one statement as the superuser on one node through a short-lived pg.Client; returns its rows. */
export async function queryNode<T extends pg.QueryResultRow>(
  target: QueryTarget,
  sql: string,
  params: readonly unknown[] = [],
  limits: { readonly connectMillis: number; readonly queryMillis: number } = QUERY_LIMITS,
): Promise<T[]> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: SUPERUSER,
    database: 'postgres',
    ssl: false,
    application_name: 'pg-split-cluster',
    connectionTimeoutMillis: limits.connectMillis,
    query_timeout: limits.queryMillis,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<T>(sql, [...params]);
    return result.rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
