import pg from 'pg';
import { RoutedPool } from '../split/pool/routed-pool.js';
import { poolSettingsIn } from '../split/pool/pool-settings.js';
import { routedConfig, type PgSplitConfigOptions } from './pg-config.js';
import { acquireRuntime, releaseRuntime } from './shared-runtimes.js';

/** pg.Pool's config, and pg-split's options for a config that names several hosts. */
export interface PoolConfig extends Omit<pg.PoolConfig, 'port'> {
  /** A port, or libpq's list of ports (one per host). */
  readonly port?: number | string | undefined;
  /** pg-split's options (connectSplit's, but the pool settings, which are this config's own). */
  readonly pgSplit?: PgSplitConfigOptions;
  readonly target_session_attrs?: string;
  readonly load_balance_hosts?: string;
}

/**
 * pg.Pool, reading its config as libpq would. A config pg serves as it is
 * (one host, no multi-host keyword, no `pgSplit`) makes a plain pg.Pool.
 * Any other makes a routed pool of the cluster runtime shared by every Pool
 * and Client of the process that names the same servers: `read-write` and
 * `primary` route as connectSplit's writer, `standby`, `prefer-standby` and
 * `read-only` as its reader, `any` to the first host that accepts.
 * `instanceof Pool` and `instanceof pg.Pool` hold for both.
 */
export class Pool extends pg.Pool {
  constructor(config?: PoolConfig | string) {
    const routed = routedConfig(config);
    if (routed === null) {
      super(config as pg.PoolConfig | undefined);
      return;
    }
    super();
    const runtime = acquireRuntime(routed);
    // pg's pool settings are the config object's (none for a string or nothing: the environment routed it).
    const settings = poolSettingsIn(typeof config === 'object' ? (config as Readonly<Record<string, unknown>>) : {});
    const pool = runtime.pool(routed.role, settings, () => releaseRuntime(routed, runtime));
    // pg-pool keeps the config's `ssl` in `options`, its `key` not enumerable: the same object here (its material is the
    // runtime's, routed.target.tlsMaterial()).
    const ssl = typeof config === 'object' ? config.ssl : undefined;
    if (ssl !== undefined) pool.options.ssl = hideKey(ssl);
    return pool;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      value instanceof RoutedPool ||
      (typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(Pool.prototype, value))
    );
  }
}

/** pg-pool's treatment of `ssl.key`: still readable, but out of inspection and JSON. */
function hideKey<T>(ssl: T): T {
  if (typeof ssl === 'object' && ssl !== null && 'key' in ssl) Object.defineProperty(ssl, 'key', { enumerable: false });
  return ssl;
}
