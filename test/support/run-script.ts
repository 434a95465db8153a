import { spawn } from 'node:child_process';
import { once } from 'node:events';

/** pg-split's entry point, for scripts run in a process of their own (`import { connectSplit } from ${SPLIT_MODULE}`). */
export const SPLIT_MODULE = JSON.stringify(new URL('../../src/index.js', import.meta.url).href);

export interface ScriptRun {
  readonly code: number | null;
  /** `SIGKILL` when it was still running after the time allowed. */
  readonly signal: string | null;
  /** stdout and stderr, interleaved. */
  readonly output: string;
  readonly millis: number;
}

/**
 * Runs an ES module script in a Node process of its own (from the repository,
 * so `pg` resolves), with these environment variables added; killed after
 * `millis`. What keeps a process alive, or how its errors surface, can only
 * be seen from outside it.
 */
export async function runScript(script: string, env: Record<string, string>, millis: number): Promise<ScriptRun> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: new URL('../../', import.meta.url).pathname,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const timer = setTimeout(() => child.kill('SIGKILL'), millis);
  const [code, signal] = await exited;
  clearTimeout(timer);
  return { code, signal, output, millis: Date.now() - started };
}

/** The first line a script printed, as JSON. */
export function firstLine(run: ScriptRun): unknown {
  return JSON.parse(run.output.trim().split('\n')[0] ?? '{}');
}
