/** A WAL position (`pg_lsn`, e.g. `0/3000148`) as a bigint byte offset. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (match === null) throw new TypeError(`not a pg_lsn: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Bytes from `behind` to `ahead`, never negative. */
export function lsnDistance(ahead: string, behind: string): number {
  const d = parseLsn(ahead) - parseLsn(behind);
  return d > 0n ? Number(d) : 0;
}

/** SQL: the timeline a primary writes WAL on now (from its current WAL file name; right after a promotion already the new one). */
export const WRITE_TIMELINE_SQL = "('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int";

/**
 * SQL: a node's timeline. A primary's is WRITE_TIMELINE_SQL; a standby's is
 * the one its WAL receiver streams, else the one of its last restartpoint.
 */
export const NODE_TIMELINE_SQL = `CASE WHEN pg_catalog.pg_is_in_recovery()
    THEN coalesce((SELECT received_tli FROM pg_catalog.pg_stat_wal_receiver), (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()))
    ELSE ${WRITE_TIMELINE_SQL}
  END`;
