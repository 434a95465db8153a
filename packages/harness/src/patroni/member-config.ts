import { HBA_RULES, hbaLine, SHARED_SETTINGS, SUPERUSER } from '../server-config.js';

/** Patroni's timing and replication settings (its DCS `bootstrap.dcs` section). */
export interface PatroniTiming {
  /** Leader key TTL, seconds. */
  readonly ttl: number;
  /** Seconds between two runs of Patroni's HA loop. */
  readonly loopWait: number;
  /** Seconds Patroni retries DCS and PostgreSQL operations before demoting. */
  readonly retryTimeout: number;
}

/**
 * Patroni's etcd client. `etcd3`: the v3 API. Patroni 3.0.2's etcd3 client
 * can overwrite the leader key when a frozen leader thaws after its lease
 * expired (fixed upstream after 3.0.2, patroni pull 2689), taking the lock back
 * from the member promoted meanwhile. `etcd`: the v2 API, whose
 * compare-and-swap update cannot.
 */
export type DcsApi = 'etcd3' | 'etcd';

export interface MemberConfigInput {
  readonly scope: string;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly apiPort: number;
  readonly etcd: string;
  /** Which etcd API Patroni speaks: `etcd3` (v3, gRPC gateway) or `etcd` (v2). */
  readonly dcs: DcsApi;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly binDir: string;
  readonly pgpass: string;
  readonly timing: PatroniTiming;
  readonly synchronousMode: boolean;
  /** PostgreSQL's `max_connections` (a bootstrap setting Patroni keeps in the DCS). */
  readonly maxConnections: number;
  /** A bench's instruments: pg_stat_statements preloaded, and Patroni's REST API logging each request it answers. */
  readonly instruments: boolean;
  /** Patroni's tags; `zone` is one of the user's own (pg-split reads it as the member's zone). */
  readonly tags: MemberTags;
}

/** The tags a harness member can carry. */
export interface MemberTags {
  readonly nofailover?: boolean;
  readonly noloadbalance?: boolean;
  readonly zone?: string;
}

/** Where the harness's Patroni keeps its keys in etcd. */
export const DCS_NAMESPACE = '/pg-split/';

/** The key of a scope's leader lock (its value: the holder's member name). */
export function leaderKey(scope: string): string {
  return `${DCS_NAMESPACE}${scope}/leader`;
}

/** PostgreSQL settings as Patroni wants them (strings, without the extra quotes of postgresql.conf). */
function parameters(maxConnections: number, instruments: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(SHARED_SETTINGS)) out[name] = value.replace(/^'(.*)'$/, '$1');
  out['wal_log_hints'] = 'on';
  out['max_connections'] = String(maxConnections);
  if (instruments) out['shared_preload_libraries'] = 'pg_stat_statements';
  return out;
}

/**
 * One member's Patroni configuration, as JSON (a subset of YAML that
 * Patroni's YAML reader takes as it is): the DCS settings a new cluster
 * bootstraps with, initdb, pg_hba (the secure role by scram-sha-256, the rest
 * trusted from loopback, as in the plain harness), and this member's own
 * address, port, REST API, data and socket directories and tags.
 */
export function memberConfig(input: MemberConfigInput): string {
  const { timing } = input;
  const config = {
    scope: input.scope,
    namespace: DCS_NAMESPACE,
    name: input.name,
    log: {
      level: 'INFO',
      format: '%(asctime)s %(levelname)s: %(message)s',
      // Patroni logs each REST request it answers at DEBUG (its `API thread:` lines): what a bench counts.
      ...(input.instruments ? { loggers: { 'patroni.api': 'DEBUG' } } : {}),
    },
    restapi: { listen: `${input.host}:${input.apiPort}`, connect_address: `${input.host}:${input.apiPort}` },
    ...(input.dcs === 'etcd3' ? { etcd3: { hosts: input.etcd } } : { etcd: { hosts: input.etcd } }),
    bootstrap: {
      dcs: {
        ttl: timing.ttl,
        loop_wait: timing.loopWait,
        retry_timeout: timing.retryTimeout,
        maximum_lag_on_failover: 1048576,
        synchronous_mode: input.synchronousMode,
        postgresql: { use_pg_rewind: true, use_slots: true, parameters: parameters(input.maxConnections, input.instruments) },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'no-sync', { auth: 'trust' }],
      pg_hba: HBA_RULES.map(hbaLine),
    },
    postgresql: {
      listen: `${input.host}:${input.port}`,
      connect_address: `${input.host}:${input.port}`,
      data_dir: input.dataDir,
      bin_dir: input.binDir,
      pgpass: input.pgpass,
      authentication: { replication: { username: SUPERUSER }, superuser: { username: SUPERUSER }, rewind: { username: SUPERUSER } },
      parameters: { unix_socket_directories: input.socketDir, cluster_name: input.name },
      basebackup: [{ checkpoint: 'fast' }],
    },
    tags: {
      nofailover: input.tags.nofailover ?? false,
      noloadbalance: input.tags.noloadbalance ?? false,
      clonefrom: false,
      nosync: false,
      ...(input.tags.zone === undefined ? {} : { zone: input.tags.zone }),
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
