import { rm } from 'node:fs/promises';
import type pg from 'pg';
import { clusterError } from './cluster-error.js';
import { LIMITS } from './limits.js';
import { runServerBinary, type RunOptions } from './run-as.js';
import { primaryConnInfo } from './server-config.js';
import { waitUntil } from './wait.js';

/** What replication helpers need from a node. */
export interface ReplicaNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logPath: string;
  query<T extends pg.QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A SQL string literal (standard_conforming_strings is on). */
function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Replaces `standby.dataDir` with a fresh `pg_basebackup -R -X stream` of `primary`, named after the standby. */
export async function baseBackup(
  standby: ReplicaNode,
  primary: ReplicaNode,
  run: Omit<RunOptions, 'label' | 'timeoutMillis'>,
): Promise<void> {
  await rm(standby.dataDir, { recursive: true, force: true });
  const args = [
    '-D',
    standby.dataDir,
    '-d',
    primaryConnInfo(primary, standby.name),
    '-X',
    'stream',
    '-R',
    '--checkpoint=fast',
    '--no-sync',
    '--no-manifest',
    '--no-password',
  ];
  await runServerBinary('pg_basebackup', args, { ...run, label: standby.name, timeoutMillis: LIMITS.baseBackup });
}

/**
 * The timeline a node is on: a primary's, the one it writes WAL on now (from
 * its current WAL file's name: right after a promotion already the new one);
 * a standby's, the one its WAL receiver streams, else its last
 * restartpoint's.
 */
export const TIMELINE_SQL = `SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
    THEN coalesce((SELECT received_tli FROM pg_catalog.pg_stat_wal_receiver), (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))
    ELSE ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
  END AS timeline`;

/** Resolves once `standby`'s WAL receiver streams from `primary`, on `primary`'s timeline or later. */
export async function waitForStreaming(standby: ReplicaNode, primary: ReplicaNode, primaryTimeline: number): Promise<void> {
  const sql = 'SELECT status, sender_host, received_tli FROM pg_stat_wal_receiver';
  type Row = { status: string; sender_host: string | null; received_tli: number | null };
  await waitUntil(
    async () => {
      const [row] = await standby.query<Row>(sql);
      return row?.status === 'streaming' && row.sender_host === primary.host && (row.received_tli ?? 0) >= primaryTimeline;
    },
    {
      timeoutMillis: LIMITS.streaming,
      intervalMillis: 100,
      onTimeout: (last) =>
        clusterError(
          standby.name,
          `not streaming from ${primary.name} (${primary.host}) within ${LIMITS.streaming} ms`,
          standby.logPath,
          last,
        ),
    },
  );
}

/** Points a running standby at another primary: primary_conninfo via ALTER SYSTEM, then a reload (PostgreSQL 13+ restarts the WAL receiver). */
export async function repointStandby(standby: ReplicaNode, primary: ReplicaNode): Promise<void> {
  await standby.query(`ALTER SYSTEM SET primary_conninfo = ${sqlLiteral(primaryConnInfo(primary, standby.name))}`);
  // The default since PostgreSQL 12; set anyway so the intent survives in postgresql.auto.conf.
  await standby.query("ALTER SYSTEM SET recovery_target_timeline = 'latest'");
  await standby.query('SELECT pg_reload_conf()');
}

/** Whether `node` has replayed all WAL up to `lsn`, or is no standby at all (then there is nothing to wait for). */
export async function hasCaughtUp(node: ReplicaNode, lsn: string): Promise<boolean> {
  const sql = 'SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn AS done';
  const [row] = await node.query<{ done: boolean | null }>(sql, [lsn]);
  return row?.done === true;
}
