/**
 * Last-resort cleanup: when the process exits (normally, by an uncaught
 * exception, or by SIGINT/SIGTERM/SIGHUP) every registered callback runs,
 * synchronously. Clusters register one that SIGKILLs their servers and removes
 * their directory, so a crashed test run leaves nothing behind. A SIGKILL of
 * this process cannot be caught: that one case still leaks the servers.
 */

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  for (const cleanup of [...cleanups]) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Keep cleaning up the others.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  uninstall();
  // Nobody else handles it: die of it, as we would have without our handler.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Runs `cleanup` at process exit unless `release()` is called first. */
export function guardExit(cleanup: Cleanup): { release(): void } {
  cleanups.add(cleanup);
  install();
  return {
    release(): void {
      cleanups.delete(cleanup);
      if (cleanups.size === 0) uninstall();
    },
  };
}

/** Blocks the thread for `millis` (only for the exit path, where nothing async runs). */
export function sleepSync(millis: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis);
}
