import type { ClusterNode } from '@pg-split/harness';
import { parseLsn } from '../../src/lsn.js';

/**
 * The running, unfrozen standby that has received the most WAL: with
 * synchronous replication it holds every acknowledged commit, so it is the
 * one to promote.
 */
export async function mostAdvanced(standbys: readonly ClusterNode[]): Promise<ClusterNode> {
  let best: { node: ClusterNode; lsn: bigint } | undefined;
  for (const node of standbys.filter((n) => n.isRunning() && !n.frozen)) {
    const [row] = await node.query<{ lsn: string | null }>('SELECT pg_last_wal_receive_lsn()::text AS lsn');
    const lsn = parseLsn(row?.lsn ?? '0/0');
    if (best === undefined || lsn > best.lsn) best = { node, lsn };
  }
  if (best === undefined) throw new Error('no running standby to promote');
  return best.node;
}
