import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from './harness-error.js';

/** The uid/gid the server binaries run as: `postgres` when we are root (initdb refuses root), else nobody in particular. */
export interface ServerUser {
  readonly uid?: number;
  readonly gid?: number;
}

let cachedUser: ServerUser | undefined;

function idOf(flag: '-u' | '-g'): number {
  const text = execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const id = Number(text);
  if (!Number.isInteger(id)) throw new Error(`id ${flag} postgres printed "${text}"`);
  return id;
}

/** Who runs the server binaries; looked up once. */
export function serverUser(): ServerUser {
  if (cachedUser !== undefined) return cachedUser;
  if (process.getuid?.() !== 0) {
    cachedUser = {};
    return cachedUser;
  }
  try {
    cachedUser = { uid: idOf('-u'), gid: idOf('-g') };
  } catch (err) {
    throw new HarnessError('running as root, and there is no "postgres" user to run the server binaries as', {
      cause: err,
    });
  }
  return cachedUser;
}

/** Hands a path we created over to the server user (a no-op when we are not root). */
export async function chownToServer(path: string): Promise<void> {
  const { uid, gid } = serverUser();
  if (uid !== undefined && gid !== undefined) await chown(path, uid, gid);
}

/**
 * The environment for server binaries: ours without any `PG*` variable (a
 * PGHOST or PGPASSWORD of the caller must not leak into the cluster), with
 * HOME inside the cluster directory so no ~/.pgpass is read.
 */
export function serverEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  env['HOME'] = home;
  env['LC_ALL'] = 'C';
  return env;
}

export interface RunOptions {
  readonly binDir: string;
  /** The cluster directory: HOME for the binary. */
  readonly home: string;
  /** Who we run it for, in error messages (a node name). */
  readonly label: string;
  readonly timeoutMillis: number;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Runs one server binary as the server user; rejects with its stderr tail when it fails or overruns. */
export async function runServerBinary(name: string, args: readonly string[], options: RunOptions): Promise<string> {
  const file = join(options.binDir, name);
  const spawnOptions = {
    ...serverUser(),
    env: serverEnv(options.home),
    cwd: options.home,
    timeout: options.timeoutMillis,
    killSignal: 'SIGKILL' as const,
  };
  return new Promise((resolve, reject) => {
    execFile(file, args, spawnOptions, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout);
        return;
      }
      const why = err.killed ? `did not finish within ${options.timeoutMillis} ms` : `failed (${err.code ?? err.signal ?? 'error'})`;
      const tail = lastLines(`${stderr}\n${stdout}`, 15);
      reject(new HarnessError(`${options.label}: ${name} ${why}\n${tail}`, { cause: err }));
    });
  });
}

/** Starts a long-running program as the server user, detached, its output appended to `logPath`, HOME and cwd `home`. */
export function spawnAsServer(file: string, args: readonly string[], logPath: string, home: string): ChildProcess {
  const log = openSync(logPath, 'a');
  try {
    return spawn(file, [...args], { ...serverUser(), env: serverEnv(home), cwd: home, stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
}
