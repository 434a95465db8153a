import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acceptsConnections, findFreePort } from '../addresses.js';
import { buildUrl } from '../cluster-conninfo.js';
import { clusterError } from '../cluster-error.js';
import { chownToServer } from '../run-as.js';
import { SUPERUSER } from '../server-config.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';
import type { PatroniMember } from './member.js';
import type { PatroniCluster } from './patroni-cluster.js';

export type PoolMode = 'session' | 'transaction';

/** One PgBouncer per member, each on its member's address, all on one port. */
export interface PgBouncers {
  readonly port: number;
  readonly poolMode: PoolMode;
  /** `postgresql://postgres@m1:<port>,m2:<port>,.../postgres`: every member through its PgBouncer. */
  url(members?: readonly PatroniMember[], query?: Readonly<Record<string, string>>): string;
  readonly daemons: readonly Daemon[];
}

/**
 * A PgBouncer in front of one member (Debian's pgbouncer 1.18): every
 * database to the member's PostgreSQL, trust for the superuser (as the
 * harness's pg_hba), quick server re-login after a restart.
 */
export function pgbouncerConfig(member: PatroniMember, pgPort: number, port: number, poolMode: PoolMode, authFile: string): string {
  return [
    '[databases]',
    `* = host=${member.host} port=${pgPort}`,
    '[pgbouncer]',
    `listen_addr = ${member.host}`,
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${authFile}`,
    `pool_mode = ${poolMode}`,
    'max_client_conn = 500',
    'default_pool_size = 40',
    'server_login_retry = 1',
    'server_connect_timeout = 3',
    'ignore_startup_parameters = extra_float_digits,options',
    `admin_users = ${SUPERUSER}`,
    '',
  ].join('\n');
}

/** Starts a PgBouncer in front of every member of `cluster`; they stop with the cluster. */
export async function startPgBouncers(cluster: PatroniCluster, poolMode: PoolMode = 'session'): Promise<PgBouncers> {
  const members = cluster.members;
  const port = await findFreePort(members.map((m) => m.host));
  const dir = join(cluster.rootDir, `pgbouncer-${poolMode}`);
  await mkdir(dir, { recursive: true });
  const authFile = join(dir, 'userlist.txt');
  await writeFile(authFile, `"${SUPERUSER}" ""\n`);
  await chownToServer(dir);
  await chownToServer(authFile);
  const daemons: Daemon[] = [];
  for (const member of members) {
    const configPath = join(dir, `${member.name}.ini`);
    await writeFile(configPath, pgbouncerConfig(member, cluster.port, port, poolMode, authFile));
    await chownToServer(configPath);
    const daemon = new Daemon({
      name: `pgbouncer-${member.name}`,
      command: '/usr/sbin/pgbouncer',
      args: [configPath],
      logPath: join(dir, `${member.name}.log`),
      home: cluster.rootDir,
    });
    daemon.start();
    cluster.adopt(daemon);
    daemons.push(daemon);
    await waitUntil(() => acceptsConnections(member.host, port), {
      timeoutMillis: 10_000,
      intervalMillis: 100,
      onTimeout: () => clusterError(daemon.name, 'not listening within 10000 ms', daemon.logPath),
    });
  }
  const url = (list: readonly PatroniMember[] = members, query: Readonly<Record<string, string>> = {}): string =>
    buildUrl(
      list.map((m) => ({ host: m.host, port })),
      query,
    );
  return { port, poolMode, url, daemons };
}
