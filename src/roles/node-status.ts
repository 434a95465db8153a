import type { StatusRow } from './status-query.js';

export type NodeRole = 'primary' | 'standby';

/** What a probe found on one host. Never holds a password. */
export interface NodeStatus {
  readonly hostIndex: number;
  /** The host as written in the connection string (or its hostaddr, or the socket dir). */
  readonly host: string;
  /** The address that answered (or the last one tried). */
  readonly address: string | null;
  readonly port: number;
  readonly reachable: boolean;
  /** libpq-worded failure when unreachable. */
  readonly error: string | null;
  readonly role: NodeRole | null;
  /** default_transaction_read_only or in hot standby: libpq's read-only. */
  readonly readOnly: boolean | null;
  readonly serverVersion: string | null;
  readonly timeline: number | null;
  readonly lsn: string | null;
  /** Standbys: WAL bytes not yet replayed compared with the primary's position (null when no primary was seen). */
  readonly replayLagBytes: number | null;
  /** Standbys: seconds since the last replayed transaction while replay is behind, else 0. */
  readonly replayLagSeconds: number | null;
  readonly replayPaused: boolean | null;
  /** Standbys: whether a WAL receiver runs, so the standby streams from an upstream on its timeline (null for a primary or an unknown node). */
  readonly streaming: boolean | null;
  /** Round-trip time of the status query in milliseconds. */
  readonly rttMillis: number | null;
  readonly checkedAt: string;
}

export interface HostIdentity {
  readonly hostIndex: number;
  readonly host: string;
  readonly address: string | null;
  readonly port: number;
}

export function unreachableStatus(id: HostIdentity, error: string): NodeStatus {
  return {
    ...id,
    reachable: false,
    error,
    role: null,
    readOnly: null,
    serverVersion: null,
    timeline: null,
    lsn: null,
    replayLagBytes: null,
    replayLagSeconds: null,
    replayPaused: null,
    streaming: null,
    rttMillis: null,
    checkedAt: new Date().toISOString(),
  };
}

export function reachableStatus(id: HostIdentity, row: StatusRow, rttMillis: number): NodeStatus {
  return {
    ...id,
    reachable: true,
    error: null,
    role: row.inRecovery ? 'standby' : 'primary',
    readOnly: row.inRecovery || row.defaultReadOnly,
    serverVersion: row.serverVersion,
    timeline: row.timeline,
    lsn: row.lsn,
    replayLagBytes: null,
    replayLagSeconds: row.inRecovery ? row.replayDelaySeconds : null,
    replayPaused: row.inRecovery ? row.replayPaused : null,
    streaming: row.inRecovery ? row.walReceiver : null,
    rttMillis,
    checkedAt: new Date().toISOString(),
  };
}
