import { rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { debuglog } from 'node:util';
import { HarnessError } from './harness-error.js';
import { findFreePort, nodeAddresses } from './addresses.js';
import { clusterError } from './cluster-error.js';
import { buildConnInfo, buildUrl } from './cluster-conninfo.js';
import { makeClusterDir } from './cluster-dir.js';
import { guardExit } from './exit-guard.js';
import { findPgBinDir } from './find-binaries.js';
import { LIMITS } from './limits.js';
import { maxConnectionsOf } from './server-config.js';
import { makeClusterTls, type ClusterTls } from './tls.js';
import { ClusterNode } from './node.js';
import { hasCaughtUp } from './replication.js';
import { chownToServer } from './run-as.js';
import { waitUntil } from './wait.js';

export interface ClusterOptions {
  /** How many standbys to start next to the primary. @default 2 */
  readonly standbys?: number;
  /**
   * Synchronous replication: `synchronous_standby_names = 'ANY 1 (*)'`, set
   * with ALTER SYSTEM on every node once the standbys stream, so a promoted
   * standby keeps it (and a rebuilt node copies it from its primary). Commits
   * on a freshly promoted node therefore wait until another standby streams
   * from it (follow() or rebuildAsStandbyOf()). @default false
   */
  readonly synchronous?: boolean;
  /** The primary's address; standby N gets the Nth next one. Must be in 127.0.0.0/8. @default '127.0.0.2' */
  readonly firstAddress?: string;
  /** PostgreSQL's `max_connections` on every node (standbys copy the primary's). @default 200 */
  readonly maxConnections?: number;
  /**
   * TLS on every node: a certificate authority of the cluster's own signs one
   * server certificate for every node's address (`cluster.tls` has the CA
   * and makes client certificates), plaintext still accepted, and the role
   * `CERT_ROLE` logs in only by a client certificate over TLS. Needs
   * `openssl`. @default false
   */
  readonly tls?: boolean;
  /** Receives one line per harness step (start, stop, promote, ...), with its duration. @default NODE_DEBUG=pg-split-cluster output */
  readonly log?: (line: string) => void;
}

interface ClusterSetup {
  readonly binDir: string;
  readonly rootDir: string;
  readonly port: number;
  readonly addresses: readonly string[];
  readonly log: (line: string) => void;
  readonly tls: ClusterTls | null;
}

/** A running primary + standbys cluster on loopback addresses, one port for all. Always `destroy()` it. */
export class Cluster {
  /** The port every node listens on. */
  readonly port: number;
  /** The temporary directory holding every node's data, socket and log. */
  readonly rootDir: string;
  /** Every node: the primary, then standby1, standby2, ... */
  readonly nodes: readonly ClusterNode[];
  /** The cluster's certificate authority when started with `tls: true`, else null. */
  readonly tls: ClusterTls | null;
  readonly #log: (line: string) => void;
  readonly #exitGuard: { release(): void };
  #currentPrimary: ClusterNode;
  #destroyed: Promise<void> | undefined;

  constructor(setup: ClusterSetup) {
    this.port = setup.port;
    this.rootDir = setup.rootDir;
    this.tls = setup.tls;
    this.#log = setup.log;
    const ctx = {
      ...setup,
      onPromoted: (node: ClusterNode) => {
        this.#currentPrimary = node;
      },
    };
    this.nodes = setup.addresses.map((host, i) => new ClusterNode(i === 0 ? 'primary' : `standby${i}`, host, ctx));
    this.#currentPrimary = this.primary;
    this.#exitGuard = guardExit(() => this.#destroySync());
  }

  /** The node started as primary (it keeps the name after a failover; see `currentPrimary`). */
  get primary(): ClusterNode {
    const primary = this.nodes[0];
    if (primary === undefined) throw new HarnessError('cluster has no nodes');
    return primary;
  }

  /** The nodes started as standbys, in order. */
  get standbys(): readonly ClusterNode[] {
    return this.nodes.slice(1);
  }

  /** The node most recently promoted; `primary` until a promote(). */
  get currentPrimary(): ClusterNode {
    return this.#currentPrimary;
  }

  /** `host=<a>,<b> port=<P> user=postgres dbname=postgres` for `nodes` in that order; `extra` adds or overrides keywords. */
  conninfo(nodes: readonly ClusterNode[] = this.nodes, extra: Readonly<Record<string, string>> = {}): string {
    return buildConnInfo(nodes, this.port, extra);
  }

  /** `postgresql://postgres@<a>:<P>,<b>:<P>/postgres?<query>` for `nodes` in that order. */
  url(nodes: readonly ClusterNode[] = this.nodes, query: Readonly<Record<string, string>> = {}): string {
    return buildUrl(nodes, query);
  }

  /**
   * Resolves once every running, unfrozen standby has replayed the current
   * primary's WAL up to its LSN at the time of the call. A standby with replay
   * paused, or streaming from elsewhere, makes it fail after `timeoutMillis`.
   */
  async waitForReplication(timeoutMillis: number = LIMITS.replication): Promise<void> {
    const primary = this.#currentPrimary;
    const lsn = await currentLsn(primary);
    const standbys = this.nodes.filter((node) => node !== primary && node.isRunning() && !node.frozen);
    await Promise.all(
      standbys.map((standby) =>
        waitUntil(() => hasCaughtUp(standby, lsn), {
          timeoutMillis,
          onTimeout: (last) =>
            clusterError(
              standby.name,
              `has not replayed ${primary.name}'s WAL up to ${lsn} within ${timeoutMillis} ms`,
              standby.logPath,
              last,
            ),
        }),
      ),
    );
  }

  /** Stops every server (SIGKILL when needed, thawing frozen ones) and removes the temporary directory. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= this.#teardown();
    return this.#destroyed;
  }

  async #teardown(): Promise<void> {
    const started = Date.now();
    await Promise.all(this.nodes.map((node) => node.dispose()));
    await rm(this.rootDir, { recursive: true, force: true });
    this.#exitGuard.release();
    this.#log(`cluster destroyed (${Date.now() - started} ms)`);
  }

  #destroySync(): void {
    for (const node of this.nodes) node.disposeSync();
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

async function currentLsn(primary: ClusterNode): Promise<string> {
  try {
    const [row] = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return row?.lsn ?? '0/0';
  } catch (err) {
    throw clusterError(primary.name, 'cannot read the current WAL position of the current primary', primary.logPath, err);
  }
}

async function enableSynchronousReplication(nodes: readonly ClusterNode[]): Promise<void> {
  for (const node of nodes) {
    await node.query("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'");
    await node.query('SELECT pg_reload_conf()');
  }
}

function standbyCount(options: ClusterOptions): number {
  const count = options.standbys ?? 2;
  if (!Number.isInteger(count) || count < 0 || count > 20) {
    throw new HarnessError(`standbys must be an integer from 0 to 20, not ${count}`);
  }
  return count;
}

/** Removes `dir`, then rethrows `err` (a failure before the cluster owns its directory). */
function removing(dir: string): (err: unknown) => Promise<never> {
  return async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  };
}

async function boot(cluster: Cluster, synchronous: boolean, maxConnections: number): Promise<void> {
  await chownToServer(cluster.rootDir);
  await cluster.primary.initPrimary({ maxConnections, tls: cluster.tls !== null });
  await Promise.all(cluster.standbys.map((standby) => standby.rebuildAsStandbyOf(cluster.primary)));
  if (synchronous) await enableSynchronousReplication(cluster.nodes);
}

/**
 * Starts a streaming-replication cluster from the server binaries on this
 * machine: initdb'd primary, standbys by pg_basebackup, each on its own
 * loopback address, all on one free port. Resolves once every standby streams.
 *
 * @example
 * const cluster = await startCluster({ standbys: 2 });
 * try {
 *   await cluster.primary.query('CREATE TABLE t (id int)');
 *   await cluster.waitForReplication();
 * } finally {
 *   await cluster.destroy();
 * }
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const started = Date.now();
  const log = options.log ?? debuglog('pg-split-cluster');
  const standbys = standbyCount(options);
  if (options.synchronous === true && standbys === 0) {
    throw new HarnessError('synchronous: true needs at least one standby (every commit would wait forever)');
  }
  const maxConnections = maxConnectionsOf(options.maxConnections);
  const addresses = nodeAddresses(options.firstAddress ?? '127.0.0.2', 1 + standbys);
  const binDir = findPgBinDir();
  const port = await findFreePort(addresses);
  const rootDir = await makeClusterDir();
  const tls = options.tls === true ? await makeClusterTls(rootDir, addresses).catch(removing(rootDir)) : null;
  const cluster = new Cluster({ binDir, rootDir, port, addresses, log, tls });
  try {
    await boot(cluster, options.synchronous ?? false, maxConnections);
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  log(`cluster up: ${cluster.nodes.length} nodes on port ${port} in ${Date.now() - started} ms`);
  return cluster;
}
