import type { PatroniCluster, PatroniMember } from '@pg-split/harness';
import type { SplitOptions } from '../../src/split/options.js';

/**
 * What the Patroni test files share. pg-split on a Patroni cluster (Debian's
 * patroni and etcd-server, 3 members, ttl 10, loop_wait 2, retry_timeout 4,
 * pg_rewind): Patroni performs every failover; the harness only does what an
 * operator or a fault does. Who answered is asked of the servers
 * (inet_server_addr()), who leads of Patroni.
 */
export const PATRONI_TIMEOUT = { timeout: 240_000 };

/** "Within seconds of it settling": a bound on being stuck, not a performance figure. */
export const SETTLE_BOUND_MILLIS = 10_000;

export function others(cluster: PatroniCluster, member: PatroniMember): PatroniMember[] {
  return cluster.members.filter((m) => m !== member);
}

export function withPatroni(cluster: PatroniCluster): SplitOptions {
  return { patroni: { port: cluster.apiPort } };
}
