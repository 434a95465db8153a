import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { clusterError } from './cluster-error.js';
import { CpuLimit } from './cpu-limit.js';
import { LIMITS } from './limits.js';
import { queryNode } from './node-query.js';
import { removeStaleServerState } from './pid-file.js';
import { Postmaster, type StopMode } from './postmaster.js';
import { baseBackup, repointStandby, TIMELINE_SQL, waitForStreaming } from './replication.js';
import { chownToServer, runServerBinary } from './run-as.js';
import { createSecureRoleSql, hbaConfig, nodeArgs, sharedConfig, SUPERUSER } from './server-config.js';
import { CERT_HBA_LINES, CERT_ROLE, installServerTls, SERVER_TLS_SETTINGS } from './tls.js';
import { waitUntil } from './wait.js';

export type { StopMode } from './postmaster.js';

/** What a node shares with its cluster. */
export interface NodeContext {
  readonly binDir: string;
  /** The cluster's temporary directory; each node lives in `<rootDir>/<name>/`. */
  readonly rootDir: string;
  readonly port: number;
  readonly log: (line: string) => void;
  /** Called when a node was promoted, so the cluster knows its current primary. */
  readonly onPromoted: (node: ClusterNode) => void;
}

/** One PostgreSQL server of a harness cluster, with the faults the tests inject. */
export class ClusterNode {
  /** `primary`, `standby1`, `standby2`, ...: the role at cluster start, kept after failovers. */
  readonly name: string;
  /** The loopback address this node (and only this node) listens on. */
  readonly host: string;
  /** The cluster's port, the same on every node. */
  readonly port: number;
  readonly dataDir: string;
  /** The server log, kept outside the data directory so it survives a rebuild. */
  readonly logPath: string;
  readonly #ctx: NodeContext;
  readonly #postmaster: Postmaster;
  /** The CPU limit in force (limitCpu), released by dispose() if the caller did not. */
  #cpuLimit: CpuLimit | null = null;

  constructor(name: string, host: string, ctx: NodeContext) {
    const nodeDir = join(ctx.rootDir, name);
    this.name = name;
    this.host = host;
    this.port = ctx.port;
    this.dataDir = join(nodeDir, 'data');
    this.logPath = join(nodeDir, 'server.log');
    this.#ctx = ctx;
    const args = nodeArgs({ name, host, port: ctx.port, socketDir: join(nodeDir, 'socket') });
    this.#postmaster = new Postmaster({ name, binDir: ctx.binDir, dataDir: this.dataDir, logPath: this.logPath, home: ctx.rootDir, args });
  }

  /** The postmaster's pid while the server runs. */
  get pid(): number | undefined {
    return this.#postmaster.pid;
  }

  /** Whether freeze() holds it stopped. */
  get frozen(): boolean {
    return this.#postmaster.frozen;
  }

  /** Whether the server process exists (a frozen server is running). */
  isRunning(): boolean {
    return this.#postmaster.isRunning();
  }

  #timed(what: string, started: number): void {
    this.#ctx.log(`${this.name}: ${what} (${Date.now() - started} ms)`);
  }

  #run() {
    return { binDir: this.#ctx.binDir, home: this.#ctx.rootDir };
  }

  /** Creates this node's directories (owned by the server user). */
  async prepare(): Promise<void> {
    const nodeDir = join(this.#ctx.rootDir, this.name);
    for (const dir of [nodeDir, join(nodeDir, 'socket')]) {
      await mkdir(dir, { recursive: true });
      await chownToServer(dir);
    }
  }

  /**
   * initdb plus the harness configuration and the password role: makes this
   * node a fresh primary, running. With `tls`, TLS on (the cluster's
   * certificates, made beforehand in the cluster's directory) and the role
   * that logs in by client certificate.
   */
  async initPrimary(settings: { readonly maxConnections: number; readonly tls: boolean }): Promise<void> {
    const started = Date.now();
    await this.prepare();
    const args = ['-D', this.dataDir, '-U', SUPERUSER, '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C', '-A', 'trust'];
    await runServerBinary('initdb', args, { ...this.#run(), label: this.name, timeoutMillis: LIMITS.initdb });
    const tlsLines = settings.tls ? `${SERVER_TLS_SETTINGS.join('\n')}\n` : '';
    await appendFile(join(this.dataDir, 'postgresql.conf'), sharedConfig(settings.maxConnections) + tlsLines);
    await writeFile(join(this.dataDir, 'pg_hba.conf'), hbaConfig(settings.tls ? CERT_HBA_LINES : []));
    if (settings.tls) await installServerTls(this.#ctx.rootDir, this.dataDir);
    this.#timed('initdb', started);
    await this.start();
    // An error would log the statement, password included: not for this one.
    await this.query(`SET log_min_error_statement = panic; ${createSecureRoleSql()}`);
    if (settings.tls) await this.query(`CREATE ROLE ${CERT_ROLE} LOGIN IN ROLE pg_read_all_data, pg_write_all_data`);
  }

  /** Starts the server; resolves once it accepts connections. Works after kill9() (stale postmaster.pid). */
  async start(): Promise<void> {
    const started = Date.now();
    await this.#postmaster.start(LIMITS.start);
    this.#timed('started', started);
  }

  /** Stops the server (`fast` by default); a frozen server is thawed first. A no-op when it is not running. */
  async stop(mode: StopMode = 'fast'): Promise<void> {
    if (!this.isRunning()) return;
    const started = Date.now();
    await this.#postmaster.stop(mode, LIMITS.stop);
    this.#timed(`stopped (${mode})`, started);
  }

  /** stop('fast') then start(). */
  async restart(): Promise<void> {
    await this.stop('fast');
    await this.start();
  }

  /** SIGKILLs the postmaster and all its children, as a crashed host would lose them. */
  async kill9(): Promise<void> {
    if (!this.isRunning()) return;
    await this.#postmaster.kill9(LIMITS.kill);
    this.#ctx.log(`${this.name}: killed (SIGKILL)`);
  }

  /** SIGSTOPs the postmaster and all its children: TCP connects still succeed, nothing answers. */
  async freeze(): Promise<void> {
    await this.#postmaster.freeze(LIMITS.freeze);
    this.#ctx.log(`${this.name}: frozen (SIGSTOP)`);
  }

  /**
   * Starves the server of CPU: it and every process it forks run throttled
   * to `percent` of one CPU (a cgroup, CpuLimit) until `release()` of what
   * it returns. Throws where cgroup v1's cpu controller is not writable.
   */
  limitCpu(percent: number): { release(): void } {
    const pid = this.#postmaster.pid;
    if (pid === undefined) throw clusterError(this.name, 'cannot limit the CPU of a server that is not running', this.logPath);
    this.#cpuLimit?.release();
    const limit = new CpuLimit(this.name, pid, percent);
    this.#cpuLimit = limit;
    this.#ctx.log(`${this.name}: limited to ${percent} % of a CPU`);
    return {
      release: () => {
        if (this.#cpuLimit !== limit) return;
        this.#cpuLimit = null;
        limit.release();
      },
    };
  }

  /** SIGCONTs what freeze() stopped. */
  async thaw(): Promise<void> {
    if (!this.frozen) return;
    await this.#postmaster.thaw();
    this.#ctx.log(`${this.name}: thawed (SIGCONT)`);
  }

  /** Runs one statement on this node as the superuser, through a short-lived pg.Client; returns the rows. */
  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return queryNode<T>(this, sql, params);
  }

  /** Whether the server is a standby (pg_is_in_recovery()). */
  async inRecovery(): Promise<boolean> {
    const [row] = await this.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    return row?.standby === true;
  }

  /**
   * The timeline the node is on: for a primary, the timeline it writes WAL on
   * (right after promote() already the new one, unlike pg_control_checkpoint(),
   * which waits for the next checkpoint); for a standby, the timeline its WAL
   * receiver streams, else the one of its last restartpoint.
   */
  async timeline(): Promise<number> {
    const [row] = await this.query<{ timeline: number }>(TIMELINE_SQL);
    return row?.timeline ?? 0;
  }

  async #waitFor(what: string, timeoutMillis: number, check: () => Promise<boolean>): Promise<void> {
    await waitUntil(check, {
      timeoutMillis,
      intervalMillis: 50,
      onTimeout: (last) => clusterError(this.name, `${what}: not done within ${timeoutMillis} ms`, this.logPath, last),
    });
  }

  /** `pg_ctl promote -w`; resolves when the node accepts writes, and makes it the cluster's current primary. */
  async promote(): Promise<void> {
    const started = Date.now();
    const args = ['promote', '-D', this.dataDir, '-w', '-t', String(LIMITS.promote / 1000)];
    await runServerBinary('pg_ctl', args, { ...this.#run(), label: this.name, timeoutMillis: LIMITS.promote + 5000 });
    await this.#waitFor('promote', LIMITS.promote, async () => !(await this.inRecovery()));
    this.#ctx.onPromoted(this);
    this.#timed('promoted', started);
  }

  /** pg_wal_replay_pause(); resolves once replay is actually paused. */
  async pauseReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_pause()');
    await this.#waitFor('pause replay', LIMITS.replayPause, async () => {
      const [row] = await this.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state');
      return row?.state === 'paused';
    });
  }

  /** pg_wal_replay_resume(). */
  async resumeReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_resume()');
  }

  /** Repoints this running standby at `primary` (ALTER SYSTEM primary_conninfo + reload) and waits until it streams from it. */
  async follow(primary: ClusterNode): Promise<void> {
    const started = Date.now();
    await repointStandby(this, primary);
    await waitForStreaming(this, primary, await primary.timeline());
    this.#timed(`streaming from ${primary.name}`, started);
  }

  /**
   * Throws this node's data away and makes it a standby of `primary`:
   * `pg_basebackup -R -X stream`, start, wait until it streams. Brings an old
   * primary back after a failover; also how the cluster creates its standbys.
   */
  async rebuildAsStandbyOf(primary: ClusterNode): Promise<void> {
    const started = Date.now();
    await this.prepare();
    await this.#postmaster.stop('immediate', LIMITS.stop);
    removeStaleServerState(this.dataDir);
    await baseBackup(this, primary, this.#run());
    this.#timed(`base backup of ${primary.name}`, started);
    await this.start();
    await waitForStreaming(this, primary, await primary.timeline());
    this.#timed(`standby of ${primary.name}, streaming`, started);
  }

  /** For cluster.destroy(): an immediate stop (SIGKILL if that overruns), then whatever a crash left behind. */
  async dispose(): Promise<void> {
    await this.#postmaster.stop('immediate', LIMITS.kill).catch(() => undefined);
    try {
      this.#cpuLimit?.release();
    } catch {
      // Its group is left behind, empty: nothing runs in it.
    }
    this.#cpuLimit = null;
    removeStaleServerState(this.dataDir);
  }

  /** For the process 'exit' handler: SIGKILL everything, synchronously, and remove what a crash leaves behind. */
  disposeSync(): void {
    this.#postmaster.killSync();
    removeStaleServerState(this.dataDir);
  }
}
