import { NODE_TIMELINE_SQL } from '../lsn.js';

/**
 * The one query a check runs on a node: role, read-only default, timeline,
 * WAL positions and replay delay. Cheap: no table access, only functions
 * that read shared memory. Works on primaries and standbys (PG 10+).
 *
 * Replay delay: seconds since the last replayed transaction committed, while
 * replay is behind what was received. A standby that has replayed no
 * transaction since it started has been behind at least since its start,
 * so that is the delay it reports (never 0).
 */
export const STATUS_QUERY = `SELECT
  pg_catalog.pg_is_in_recovery() AS in_recovery,
  pg_catalog.current_setting('default_transaction_read_only') AS default_read_only,
  pg_catalog.current_setting('server_version') AS server_version,
  ${NODE_TIMELINE_SQL} AS timeline,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text AS lsn,
  pg_catalog.pg_last_wal_receive_lsn()::text AS receive_lsn,
  CASE WHEN pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_last_wal_receive_lsn() IS DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn()
    THEN extract(epoch FROM now() - coalesce(pg_catalog.pg_last_xact_replay_timestamp(), pg_catalog.pg_postmaster_start_time()))::float8
    ELSE 0
  END AS replay_delay_seconds,
  CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  (SELECT pid FROM pg_catalog.pg_stat_wal_receiver) IS NOT NULL AS wal_receiver`;

/** One node's answer to STATUS_QUERY. */
export interface StatusRow {
  readonly inRecovery: boolean;
  readonly defaultReadOnly: boolean;
  readonly serverVersion: string;
  readonly timeline: number | null;
  /** Primary: current WAL write position; standby: last replayed position. */
  readonly lsn: string | null;
  readonly receiveLsn: string | null;
  readonly replayDelaySeconds: number;
  readonly replayPaused: boolean;
  /** A WAL receiver runs (a standby streaming, or trying to, from an upstream); its pid is the one column every role may read. */
  readonly walReceiver: boolean;
}

/** A column value as text: pg returns strings, numbers and booleans for these columns; anything else as JSON. */
function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);
}

/** Reads a raw row (as pg returns it) into a StatusRow. */
export function toStatusRow(row: Record<string, unknown>): StatusRow {
  const text = (v: unknown): string | null => (v === null || v === undefined ? null : scalarText(v));
  return {
    inRecovery: row['in_recovery'] === true,
    defaultReadOnly: row['default_read_only'] === 'on',
    serverVersion: scalarText(row['server_version'] ?? ''),
    timeline: row['timeline'] === null || row['timeline'] === undefined ? null : Number(row['timeline']),
    lsn: text(row['lsn']),
    receiveLsn: text(row['receive_lsn']),
    replayDelaySeconds: Math.max(0, Number(row['replay_delay_seconds'] ?? 0)),
    replayPaused: row['replay_paused'] === true,
    walReceiver: row['wal_receiver'] === true,
  };
}
