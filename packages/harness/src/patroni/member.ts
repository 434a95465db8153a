import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { clusterError } from '../cluster-error.js';
import { LIMITS } from '../limits.js';
import { queryNode } from '../node-query.js';
import { readPidFile } from '../pid-file.js';
import { isProcessAlive, signalTree } from '../process-tree.js';
import { chownToServer } from '../run-as.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';
import { memberConfig, type MemberConfigInput } from './member-config.js';
import { callRest } from './rest.js';

/** What to freeze: Patroni and the postmaster only (backends keep serving their sessions), or Patroni and every PostgreSQL process. */
export type FreezeScope = 'patroni-and-postmaster' | 'tree';

export type MemberSetup = Omit<MemberConfigInput, 'dataDir' | 'socketDir' | 'pgpass'> & {
  readonly rootDir: string;
  readonly log: (line: string) => void;
};

/**
 * One Patroni member: Patroni (run as the server user) and the PostgreSQL it
 * manages, on the member's own loopback address, with its own data and
 * socket directories and REST API.
 */
export class PatroniMember {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly apiPort: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logPath: string;
  readonly #setup: MemberSetup;
  readonly #patroni: Daemon;
  readonly #configPath: string;
  #frozenPids: number[] = [];

  constructor(setup: MemberSetup) {
    this.#setup = setup;
    this.name = setup.name;
    this.host = setup.host;
    this.port = setup.port;
    this.apiPort = setup.apiPort;
    const dir = join(setup.rootDir, setup.name);
    this.dataDir = join(dir, 'data');
    this.socketDir = join(dir, 'socket');
    this.logPath = join(dir, 'patroni.log');
    this.#configPath = join(dir, 'patroni.yml');
    this.#patroni = new Daemon({
      name: setup.name,
      command: 'patroni',
      args: [this.#configPath],
      logPath: this.logPath,
      home: setup.rootDir,
    });
  }

  /** `http://host:apiPort`, the member's REST API. */
  get apiUrl(): string {
    return `http://${this.host}:${this.apiPort}`;
  }

  /** Patroni's own process id while it runs. */
  get patroniPid(): number | undefined {
    return this.#patroni.pid;
  }

  /** The postmaster's pid from its data directory, while one runs. */
  get postmasterPid(): number | undefined {
    const pid = readPidFile(this.dataDir)?.pid;
    return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
  }

  get frozen(): boolean {
    return this.#frozenPids.length > 0;
  }

  isRunning(): boolean {
    return this.#patroni.isRunning();
  }

  async prepare(): Promise<void> {
    const dir = join(this.#setup.rootDir, this.name);
    await mkdir(this.socketDir, { recursive: true });
    const config = memberConfig({ ...this.#setup, dataDir: this.dataDir, socketDir: this.socketDir, pgpass: join(dir, 'pgpass') });
    await writeFile(this.#configPath, config);
    await chownToServer(dir);
    await chownToServer(this.socketDir);
    await chownToServer(this.#configPath);
  }

  /** Starts Patroni (a no-op while it runs) and resolves once its PostgreSQL is running, as its REST API says. */
  async start(timeoutMillis: number = LIMITS.start + LIMITS.baseBackup): Promise<void> {
    const started = Date.now();
    this.#patroni.start();
    await waitUntil(async () => (await this.#state()) === 'running' || (await this.#state()) === 'streaming', {
      timeoutMillis,
      intervalMillis: 200,
      onTimeout: (last) => clusterError(this.name, `Patroni's PostgreSQL not running within ${timeoutMillis} ms`, this.logPath, last),
    });
    this.#setup.log(`${this.name}: Patroni and PostgreSQL up (${Date.now() - started} ms)`);
  }

  async #state(): Promise<string> {
    const { status, text } = await callRest(this.apiUrl, '/patroni');
    return status === 200 || status === 503 ? String((JSON.parse(text) as { state?: string }).state) : '';
  }

  /** Stops Patroni with SIGTERM: it shuts PostgreSQL down (fast) and exits; the leader lock is released. */
  async stop(): Promise<void> {
    this.thaw();
    const postmaster = this.postmasterPid;
    await this.#patroni.stop(LIMITS.stop);
    if (postmaster !== undefined) {
      await waitUntil(() => !isProcessAlive(postmaster), {
        timeoutMillis: LIMITS.stop,
        onTimeout: () => clusterError(this.name, 'PostgreSQL still running after Patroni stopped', this.logPath),
      });
    }
    this.#setup.log(`${this.name}: stopped`);
  }

  /** SIGKILLs the postmaster and its children (a crashed PostgreSQL); Patroni lives on and reacts. */
  async kill9Postgres(): Promise<void> {
    const pid = this.postmasterPid;
    if (pid === undefined) throw clusterError(this.name, 'no postmaster to kill', this.logPath);
    const pids = signalTree(pid, 'SIGKILL');
    await waitUntil(() => !pids.some(isProcessAlive), {
      timeoutMillis: LIMITS.kill,
      onTimeout: () => clusterError(this.name, 'PostgreSQL survived SIGKILL', this.logPath),
    });
    this.#setup.log(`${this.name}: PostgreSQL killed (SIGKILL)`);
  }

  /** SIGKILLs Patroni alone: PostgreSQL keeps running unmanaged (no watchdog), the leader key expires after the TTL. */
  async kill9Patroni(): Promise<void> {
    await this.#patroni.kill9(LIMITS.kill);
    this.#setup.log(`${this.name}: Patroni killed (SIGKILL)`);
  }

  /** SIGSTOPs Patroni and the postmaster (`patroni-and-postmaster`) or Patroni and every PostgreSQL process (`tree`). */
  async freeze(scope: FreezeScope = 'patroni-and-postmaster'): Promise<void> {
    if (this.frozen) return;
    const patroni = this.#patroni.pid;
    const postmaster = this.postmasterPid;
    const pids: number[] = [];
    if (patroni !== undefined) {
      process.kill(patroni, 'SIGSTOP');
      pids.push(patroni);
    }
    if (postmaster !== undefined) {
      if (scope === 'tree') pids.push(...signalTree(postmaster, 'SIGSTOP'));
      else {
        process.kill(postmaster, 'SIGSTOP');
        pids.push(postmaster);
      }
    }
    this.#frozenPids = pids;
    this.#setup.log(`${this.name}: frozen (${scope}, ${pids.length} processes)`);
  }

  thaw(): void {
    if (!this.frozen) return;
    for (const pid of [...this.#frozenPids].reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone meanwhile.
      }
    }
    this.#frozenPids = [];
    this.#setup.log(`${this.name}: thawed`);
  }

  /** Runs one statement on this member's PostgreSQL as the superuser. */
  async query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return queryNode<T>(this, sql, params);
  }

  /**
   * Stops everything and removes the member's directory. `graceful` (a member
   * removed from a running cluster): Patroni's own shutdown, which stops its
   * PostgreSQL as it does in production; `kill` (the whole cluster torn
   * down): SIGKILL to Patroni and every PostgreSQL process, waited for, since
   * nothing is left to hand anything to (a graceful stop waits for PostgreSQL's
   * shutdown checkpoint and for its WAL senders, seconds).
   */
  async dispose(how: 'graceful' | 'kill'): Promise<void> {
    this.thaw();
    if (how === 'graceful') await this.#patroni.stop(LIMITS.stop).catch(() => this.#patroni.kill9(LIMITS.kill));
    const postmaster = this.postmasterPid;
    const pids = postmaster === undefined ? [] : signalTree(postmaster, 'SIGKILL');
    await this.#patroni.kill9(LIMITS.kill);
    await waitUntil(() => !pids.some(isProcessAlive), {
      timeoutMillis: LIMITS.kill,
      onTimeout: () => clusterError(this.name, `processes ${pids.join(' ')} still alive after SIGKILL`, this.logPath),
    });
    await rm(join(this.#setup.rootDir, this.name), { recursive: true, force: true });
  }

  /** For the exit path: SIGKILL Patroni and every PostgreSQL process. */
  disposeSync(): void {
    this.thaw();
    this.#patroni.killSync();
    const postmaster = this.postmasterPid;
    if (postmaster !== undefined) signalTree(postmaster, 'SIGKILL');
  }
}
