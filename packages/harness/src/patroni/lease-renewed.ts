import { HarnessError } from '../harness-error.js';
import { waitUntil } from '../wait.js';
import type { Etcd } from './etcd.js';

/** Resolves once the lease of `key` had its time left go up (a renewal), on a lease granted `ttl` seconds when given. */
export async function leaseRenewed(
  etcd: Etcd,
  key: string,
  ttl: number | null,
  timeoutMillis: number,
  intervalMillis: number,
): Promise<void> {
  let lowest = Infinity;
  await waitUntil(
    async () => {
      const lease = await etcd.lease(key).catch(() => null);
      if (lease === null || (ttl !== null && lease.granted !== ttl)) return false;
      if (lease.left > lowest) return true;
      lowest = Math.min(lowest, lease.left);
      return false;
    },
    {
      timeoutMillis,
      intervalMillis,
      onTimeout: () =>
        new HarnessError(`the leader lock not renewed${ttl === null ? '' : ` on a ${ttl} s lease`} within ${timeoutMillis} ms`),
    },
  );
}
