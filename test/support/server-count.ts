import type { Cluster } from '@pg-split/harness';

/**
 * Sessions with this application_name on every running node, as the servers
 * count them. Backends waiting for a synchronous standby (wait_event SyncRep)
 * are left out: when pg-split cuts a connection to a frozen old primary, its
 * backend stays in that wait until the server notices the closed socket
 * (only with client_connection_check_interval), through no fault of the client.
 */
export async function sessionsNamed(cluster: Cluster, applicationName: string): Promise<number> {
  let total = 0;
  for (const node of cluster.nodes) {
    if (!node.isRunning() || node.frozen) continue;
    const rows = await node.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event IS DISTINCT FROM 'SyncRep'",
      [applicationName],
    );
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}

/** Waits (bounded) until the servers report no session with this name; returns the last count. */
export async function waitForNoSessions(cluster: Cluster, applicationName: string, timeoutMillis = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const n = await sessionsNamed(cluster, applicationName);
    if (n === 0 || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}
