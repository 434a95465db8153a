import { writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { HarnessError } from '../harness-error.js';
import { acceptsConnections, findFreePort } from '../addresses.js';
import { clusterError } from '../cluster-error.js';
import { chownToServer } from '../run-as.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';
import type { PatroniCluster } from './patroni-cluster.js';

/** HAProxy in front of a Patroni cluster, configured as Patroni ships it: a primary and a replica listener on `host`. */
export interface Haproxy {
  readonly host: string;
  /** Routes to the member whose `/primary` check passes. */
  readonly primaryPort: number;
  /** Round-robin over the members whose `/replica` check passes. */
  readonly replicaPort: number;
  readonly daemon: Daemon;
  stop(): Promise<void>;
}

/**
 * The configuration of Patroni's own haproxy.cfg (v3.0.2) and confd template:
 * TCP mode, `option httpchk` on `/primary` or `/replica` of each member's REST
 * API, `http-check expect status 200`, `default-server inter 3s fall 3 rise 2
 * on-marked-down shutdown-sessions`, `timeout check 5s`.
 */
export function haproxyConfig(cluster: PatroniCluster, primaryPort: number, replicaPort: number, host = '127.0.0.1'): string {
  const servers = cluster.members
    .map((m) => `    server ${m.name} ${m.host}:${cluster.port} maxconn 100 check port ${cluster.apiPort}`)
    .join('\n');
  const listener = (name: string, port: number, check: string, balance: string): string =>
    [
      `listen ${name}`,
      `    bind ${host}:${port}`,
      balance,
      `    option httpchk HEAD ${check}`,
      '    http-check expect status 200',
      '    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions',
      servers,
    ]
      .filter((l) => l !== '')
      .join('\n');
  return [
    'global',
    '    maxconn 1000',
    'defaults',
    '    mode tcp',
    '    log global',
    '    retries 2',
    '    timeout queue 5s',
    '    timeout connect 4s',
    '    timeout client 30m',
    '    timeout server 30m',
    '    timeout check 5s',
    listener('primary', primaryPort, '/primary', ''),
    listener('replicas', replicaPort, '/replica', '    balance roundrobin'),
    '',
  ].join('\n');
}

export interface HaproxyOptions {
  /** The address both listeners bind, an IPv4 address of this machine (a loopback one of its own, as a separate host would have). @default '127.0.0.1' */
  readonly host?: string;
}

/** Starts Debian's haproxy in front of `cluster` (its members as they are now); resolves once both listeners accept. */
export async function startHaproxy(cluster: PatroniCluster, options: HaproxyOptions = {}): Promise<Haproxy> {
  const host = options.host ?? '127.0.0.1';
  if (isIP(host) !== 4) throw new HarnessError(`haproxy: host must be an IPv4 address, not ${JSON.stringify(host)}`);
  const primaryPort = await findFreePort([host]);
  const replicaPort = await findFreePort([host]);
  // Named by port: a cluster can have several HAProxy instances in front of it, as deployments run two.
  const configPath = join(cluster.rootDir, `haproxy-${primaryPort}.cfg`);
  await writeFile(configPath, haproxyConfig(cluster, primaryPort, replicaPort, host));
  await chownToServer(configPath);
  const daemon = new Daemon({
    name: 'haproxy',
    command: 'haproxy',
    args: ['-db', '-f', configPath],
    logPath: join(cluster.rootDir, `haproxy-${primaryPort}.log`),
    home: cluster.rootDir,
  });
  daemon.start();
  cluster.adopt(daemon);
  await waitUntil(async () => (await acceptsConnections(host, primaryPort)) && (await acceptsConnections(host, replicaPort)), {
    timeoutMillis: 10_000,
    intervalMillis: 100,
    onTimeout: () => clusterError('haproxy', 'not listening within 10000 ms', daemon.logPath),
  });
  return { host, primaryPort, replicaPort, daemon, stop: () => daemon.stop(10_000) };
}
