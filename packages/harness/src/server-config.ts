import { HarnessError } from './harness-error.js';
/** The role that must authenticate with a password (scram-sha-256); every other role is trusted. */
export const SECURE_ROLE = 'split_secure';
/** Its password. Known to the tests; never logged nor put in a connection string by the harness. */
export const SECURE_PASSWORD = 'split-secret';
/** The superuser every harness connection uses. */
export const SUPERUSER = 'postgres';

/**
 * Settings shared by every node, appended to postgresql.conf at initdb (and
 * copied to the standbys by pg_basebackup). Per-node settings (address, port,
 * socket directory, name) go on the postgres command line instead.
 */
export const SHARED_SETTINGS: Readonly<Record<string, string>> = {
  wal_level: 'replica',
  hot_standby: 'on',
  hot_standby_feedback: 'on',
  max_wal_senders: '40',
  max_replication_slots: '40',
  wal_keep_size: "'256MB'",
  shared_buffers: "'16MB'",
  fsync: 'off',
  // A frozen standby must not hold a primary's fast shutdown for the default 60 s.
  wal_sender_timeout: "'10s'",
  // A standby retries streaming (and picks up a new primary_conninfo) every second, not every 5 s.
  wal_retrieve_retry_interval: "'1s'",
  // Segments as files in the data directory, removed with it: posix ones (/dev/shm) outlive a SIGKILL.
  dynamic_shared_memory_type: 'mmap',
  log_connections: 'on',
  log_line_prefix: "'%m [%p] %q%u@%d '",
};

/**
 * `max_connections` unless a cluster is started with its own: the routing
 * bench holds a plain pool and pg-split's (64 connections each) open side by
 * side on one node.
 */
const DEFAULT_MAX_CONNECTIONS = 200;

/** A cluster's `maxConnections` option, checked (the default when not given). */
export function maxConnectionsOf(value: number | undefined): number {
  const n = value ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(n) || n < 10 || n > 10_000)
    throw new HarnessError(`maxConnections must be an integer from 10 to 10000, not ${String(n)}`);
  return n;
}

/** postgresql.conf lines for SHARED_SETTINGS and `max_connections`. */
export function sharedConfig(maxConnections: number): string {
  const settings = { ...SHARED_SETTINGS, max_connections: String(maxConnections) };
  const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
  return `\n# pg-split cluster harness\n${lines.join('\n')}\n`;
}

/**
 * pg_hba rules (type, database, user, address, method): the secure role
 * needs scram-sha-256 (its lines come first, so they win), everything else
 * from 127.0.0.0/8 or the socket is trusted, replication included. Used as
 * pg_hba.conf by the plain harness and as Patroni's `bootstrap.pg_hba`.
 */
export const HBA_RULES: ReadonlyArray<readonly [string, string, string, string, string]> = [
  ['local', 'all', SECURE_ROLE, '', 'scram-sha-256'],
  ['host', 'all', SECURE_ROLE, '127.0.0.0/8', 'scram-sha-256'],
  ['local', 'all', 'all', '', 'trust'],
  ['local', 'replication', 'all', '', 'trust'],
  ['host', 'all', 'all', '127.0.0.0/8', 'trust'],
  ['host', 'replication', 'all', '127.0.0.0/8', 'trust'],
];

/** One pg_hba line. */
export function hbaLine(rule: readonly string[]): string {
  return rule.filter((field) => field !== '').join(' ');
}

/** pg_hba.conf from HBA_RULES, after `first` (lines that must win over them). */
export function hbaConfig(first: readonly string[] = []): string {
  return ['# TYPE DATABASE USER ADDRESS METHOD', ...first, ...HBA_RULES.map(hbaLine), ''].join('\n');
}

export interface NodeAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly socketDir: string;
}

/** Command-line settings that differ per node: they override whatever postgresql.conf was copied from the primary. */
export function nodeArgs(node: NodeAddress): string[] {
  return [
    '-c',
    `listen_addresses=${node.host}`,
    '-c',
    `port=${node.port}`,
    '-c',
    `unix_socket_directories=${node.socketDir}`,
    '-c',
    `cluster_name=${node.name}`,
  ];
}

/** primary_conninfo for a standby of `primary`: replication as the superuser, named after the standby. */
export function primaryConnInfo(primary: { readonly host: string; readonly port: number }, standbyName: string): string {
  return `host=${primary.host} port=${primary.port} user=${SUPERUSER} application_name=${standbyName}`;
}

/** SQL that creates the secure role, allowed to read and write every table. */
export function createSecureRoleSql(): string {
  return `CREATE ROLE ${SECURE_ROLE} LOGIN PASSWORD '${SECURE_PASSWORD}' IN ROLE pg_read_all_data, pg_write_all_data`;
}
