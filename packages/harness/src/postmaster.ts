import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { clusterError } from './cluster-error.js';
import { sleepSync } from './exit-guard.js';
import { readPidFile, removeStaleServerState } from './pid-file.js';
import { isProcessAlive, isProcessStopped, signalTree } from './process-tree.js';
import { spawnAsServer } from './run-as.js';
import { settlesWithin, waitUntil } from './wait.js';

/** `fast`: roll back sessions, checkpoint, exit (SIGINT). `immediate`: exit at once, crash recovery on next start (SIGQUIT). */
export type StopMode = 'fast' | 'immediate';

const STOP_SIGNAL: Readonly<Record<StopMode, NodeJS.Signals>> = { fast: 'SIGINT', immediate: 'SIGQUIT' };

export interface PostmasterSpec {
  readonly name: string;
  readonly binDir: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** The cluster directory (HOME and cwd of the server). */
  readonly home: string;
  /** Extra command-line arguments (per-node settings). */
  readonly args: readonly string[];
}

/**
 * One postgres server process, started by us (so we are its parent and reap
 * it), with the signals the harness needs: stop, SIGKILL of the whole tree,
 * SIGSTOP / SIGCONT of the whole tree.
 */
export class Postmaster {
  readonly #spec: PostmasterSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #exitReason = '';
  #frozen = false;

  constructor(spec: PostmasterSpec) {
    this.#spec = spec;
  }

  /** The postmaster's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** True from spawn until the process has exited and been reaped (a frozen server is running). */
  isRunning(): boolean {
    return this.#child !== undefined;
  }

  #spawn(): ChildProcess {
    const { binDir, dataDir, logPath, home, args } = this.#spec;
    return spawnAsServer(join(binDir, 'postgres'), ['-D', dataDir, ...args], logPath, home);
  }

  #track(child: ChildProcess): void {
    this.#exited = new Promise((resolve) => {
      const gone = (reason: string): void => {
        if (this.#child === child) this.#child = undefined;
        this.#frozen = false;
        this.#exitReason = reason;
        resolve();
      };
      child.once('exit', (code, signal) => gone(signal ?? `exit code ${code ?? '?'}`));
      child.once('error', (err) => gone(err.message));
    });
    child.unref();
  }

  #isReady(pid: number | undefined): boolean {
    const file = readPidFile(this.#spec.dataDir);
    return file !== undefined && file.pid === pid && (file.status === 'ready' || file.status === 'standby');
  }

  /** Starts the server (a no-op when it runs) and resolves once it accepts connections. */
  async start(timeoutMillis: number): Promise<void> {
    if (this.#child !== undefined) return;
    removeStaleServerState(this.#spec.dataDir);
    const child = this.#spawn();
    this.#child = child;
    this.#track(child);
    await waitUntil(() => this.#child !== child || this.#isReady(child.pid), {
      timeoutMillis,
      onTimeout: () => clusterError(this.#spec.name, `not ready within ${timeoutMillis} ms`, this.#spec.logPath),
    }).catch((err: unknown) => {
      this.killSync();
      throw err;
    });
    if (this.#child !== child) {
      throw clusterError(this.#spec.name, `postgres exited during startup (${this.#exitReason})`, this.#spec.logPath);
    }
  }

  /** Stops the server (thawing it first when frozen); SIGKILLs it when it overruns `timeoutMillis`. */
  async stop(mode: StopMode, timeoutMillis: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    if (this.#frozen) await this.thaw();
    try {
      process.kill(pid, STOP_SIGNAL[mode]);
    } catch {
      // It died on its own just now: the exit event is on its way.
    }
    if (await settlesWithin(this.#exited, timeoutMillis)) return;
    await this.kill9(timeoutMillis);
    throw clusterError(this.#spec.name, `${mode} shutdown took longer than ${timeoutMillis} ms; killed it`, this.#spec.logPath);
  }

  /** SIGKILLs the postmaster and every child (a crashed host); resolves once all are gone. */
  async kill9(timeoutMillis: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    const pids = signalTree(pid, 'SIGKILL');
    await waitUntil(() => this.#child === undefined && !pids.some(isProcessAlive), {
      timeoutMillis,
      onTimeout: () => clusterError(this.#spec.name, `processes ${pids.join(' ')} still alive after SIGKILL`, this.#spec.logPath),
    });
  }

  /** SIGSTOPs the postmaster and every child (a frozen host); resolves once all are stopped. */
  async freeze(timeoutMillis: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) throw clusterError(this.#spec.name, 'cannot freeze a server that is not running', this.#spec.logPath);
    if (this.#frozen) return;
    const pids = signalTree(pid, 'SIGSTOP');
    this.#frozen = true;
    await waitUntil(() => pids.every((p) => isProcessStopped(p) || !isProcessAlive(p)), {
      timeoutMillis,
      onTimeout: () => clusterError(this.#spec.name, 'processes did not stop on SIGSTOP', this.#spec.logPath),
    });
  }

  /** SIGCONTs what freeze() stopped. */
  async thaw(): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined || !this.#frozen) return;
    signalTree(pid, 'SIGCONT');
    this.#frozen = false;
  }

  /** For the exit path: SIGKILL the tree and wait (blocking, at most 2 s) until it is gone. */
  killSync(): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    const pids = signalTree(pid, 'SIGKILL');
    for (let waited = 0; waited < 2000 && pids.some(isProcessAlive); waited += 10) sleepSync(10);
  }
}
