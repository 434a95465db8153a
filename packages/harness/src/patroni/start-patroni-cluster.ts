import { debuglog } from 'node:util';
import { HarnessError } from '../harness-error.js';
import { findFreePort, nodeAddresses } from '../addresses.js';
import { makeClusterDir } from '../cluster-dir.js';
import { findPgBinDir } from '../find-binaries.js';
import { chownToServer } from '../run-as.js';
import { createSecureRoleSql, maxConnectionsOf } from '../server-config.js';
import { Etcd } from './etcd.js';
import type { DcsApi, PatroniTiming } from './member-config.js';
import { PatroniCluster } from './patroni-cluster.js';

export interface PatroniClusterOptions {
  /** Members to start. @default 3 */
  readonly members?: number;
  /** Patroni's `synchronous_mode`. @default false */
  readonly synchronousMode?: boolean;
  /** The etcd API Patroni uses (see DcsApi: Patroni 3.0.2 on `etcd3` can let a thawed leader take its lock back). @default 'etcd3' */
  readonly dcs?: DcsApi;
  /** Leader TTL, HA loop and retry timeout in seconds. @default { ttl: 10, loopWait: 2, retryTimeout: 4 } */
  readonly timing?: Partial<PatroniTiming>;
  /** PostgreSQL's `max_connections` on every member. @default 200 */
  readonly maxConnections?: number;
  /** etcd's members: 3 where quorum matters. @default 1 */
  readonly etcdMembers?: 1 | 3;
  /**
   * A bench's instruments: pg_stat_statements preloaded on every member
   * (`CREATE EXTENSION` it on the leader) and Patroni's REST API logging each
   * request it answers (`API thread:` lines in the member's log). @default false
   */
  readonly instruments?: boolean;
  /** The first member's address; the others take the next ones (four spare for added members), and etcd's members the ones after. @default '127.0.0.2' */
  readonly firstAddress?: string;
  /** Receives one line per harness step. @default NODE_DEBUG=pg-split-cluster output */
  readonly log?: (line: string) => void;
}

const DEFAULT_TIMING: PatroniTiming = { ttl: 10, loopWait: 2, retryTimeout: 4 };

function memberCount(options: PatroniClusterOptions): number {
  const count = options.members ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 20) throw new HarnessError(`members must be an integer from 1 to 20, not ${count}`);
  return count;
}

/**
 * Starts etcd and a Patroni cluster of `members` members and resolves once
 * Patroni has a leader and every replica runs on its timeline (about 10 s for
 * three members). The secure role (scram-sha-256) exists, as in `startCluster`.
 *
 * @example
 * const cluster = await startPatroniCluster({ members: 3 });
 * try {
 *   const split = await connectSplit(cluster.url());
 *   await cluster.switchover();
 * } finally {
 *   await cluster.destroy();
 * }
 */
export async function startPatroniCluster(options: PatroniClusterOptions = {}): Promise<PatroniCluster> {
  const started = Date.now();
  const log = options.log ?? debuglog('pg-split-cluster');
  const count = memberCount(options);
  const firstAddress = options.firstAddress ?? '127.0.0.2';
  const etcdCount = options.etcdMembers ?? 1;
  // Members take the first count + 4 addresses (room for added members); etcd's members the ones after them.
  const addresses = nodeAddresses(firstAddress, count + 4 + etcdCount);
  const memberAddresses = addresses.slice(0, count + 4);
  const port = await findFreePort(memberAddresses);
  const apiPort = await findFreePort(memberAddresses);
  const rootDir = await makeClusterDir();
  await chownToServer(rootDir);
  const etcdSpecs = [];
  for (const [i, host] of addresses.slice(count + 4).entries()) {
    const name = etcdCount === 1 ? 'etcd' : `etcd${i + 1}`;
    etcdSpecs.push({ name, host, clientPort: await findFreePort([host]), peerPort: await findFreePort([host]) });
  }
  const etcd = new Etcd(rootDir, etcdSpecs);
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const cluster = new PatroniCluster({
    rootDir,
    binDir: findPgBinDir(),
    port,
    apiPort,
    etcd,
    timing,
    synchronousMode: options.synchronousMode ?? false,
    maxConnections: maxConnectionsOf(options.maxConnections),
    instruments: options.instruments ?? false,
    dcs: options.dcs ?? 'etcd3',
    firstAddress,
    log,
  });
  try {
    await etcd.start(20_000);
    const members = [];
    for (let i = 0; i < count; i++) members.push(await cluster.createMember());
    // The first member bootstraps the cluster; the others clone it once it leads.
    await members[0]?.start();
    await Promise.all(members.slice(1).map((m) => m.start()));
    const leader = await cluster.waitUntilSettled();
    await leader.query(createSecureRoleSql());
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  log(`Patroni cluster up: ${count} members, PostgreSQL on port ${port}, REST API on ${apiPort}, in ${Date.now() - started} ms`);
  return cluster;
}
