import type { ChildProcess } from 'node:child_process';
import { clusterError } from '../cluster-error.js';
import { sleepSync } from '../exit-guard.js';
import { isProcessAlive, isProcessStopped } from '../process-tree.js';
import { spawnAsServer } from '../run-as.js';
import { settlesWithin, waitUntil } from '../wait.js';

export interface DaemonSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  /** HOME and cwd of the process. */
  readonly home: string;
}

/**
 * One long-running program we start as the server user (etcd, Patroni,
 * PgBouncer, HAProxy): started detached, its output appended to a log, its
 * exit tracked, stopped with a signal and SIGKILLed when it overruns, frozen
 * with SIGSTOP.
 */
export class Daemon {
  readonly #spec: DaemonSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #frozen = false;

  constructor(spec: DaemonSpec) {
    this.#spec = spec;
  }

  get name(): string {
    return this.#spec.name;
  }

  get logPath(): string {
    return this.#spec.logPath;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  isRunning(): boolean {
    return this.#child !== undefined;
  }

  /** Spawns the program (a no-op while it runs). Readiness is the caller's to wait for. */
  start(): void {
    if (this.#child !== undefined) return;
    const child = spawnAsServer(this.#spec.command, this.#spec.args, this.#spec.logPath, this.#spec.home);
    this.#child = child;
    this.#frozen = false;
    this.#exited = new Promise((resolve) => {
      const gone = (): void => {
        if (this.#child === child) this.#child = undefined;
        this.#frozen = false;
        resolve();
      };
      child.once('exit', gone);
      child.once('error', gone);
    });
    child.unref();
  }

  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMillis`. */
  async stop(timeoutMillis: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    if (this.#frozen) this.thaw();
    try {
      process.kill(pid, signal);
    } catch {
      // Already exiting.
    }
    if (await settlesWithin(this.#exited, timeoutMillis)) return;
    await this.kill9(timeoutMillis);
    throw clusterError(this.#spec.name, `did not stop on ${signal} within ${timeoutMillis} ms; killed it`, this.#spec.logPath);
  }

  /** SIGKILLs the process alone (children it started live on, as after a crash of the program itself). */
  async kill9(timeoutMillis: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    if (!(await settlesWithin(this.#exited, timeoutMillis)))
      throw clusterError(this.#spec.name, `still alive ${timeoutMillis} ms after SIGKILL`, this.#spec.logPath);
  }

  /** SIGSTOPs the process alone; resolves once the kernel shows it stopped. */
  async freeze(timeoutMillis: number): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) throw clusterError(this.#spec.name, 'cannot freeze a process that is not running', this.#spec.logPath);
    process.kill(pid, 'SIGSTOP');
    this.#frozen = true;
    await waitUntil(() => isProcessStopped(pid) || !isProcessAlive(pid), {
      timeoutMillis,
      onTimeout: () => clusterError(this.#spec.name, 'did not stop on SIGSTOP', this.#spec.logPath),
    });
  }

  thaw(): void {
    const pid = this.#child?.pid;
    if (pid === undefined || !this.#frozen) return;
    process.kill(pid, 'SIGCONT');
    this.#frozen = false;
  }

  /** For the exit path: SIGKILL and wait (blocking, at most 2 s). */
  killSync(): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    for (let waited = 0; waited < 2000 && isProcessAlive(pid); waited += 10) sleepSync(10);
  }
}
