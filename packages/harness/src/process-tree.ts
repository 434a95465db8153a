import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process bookkeeping through /proc (Linux). PostgreSQL children call
 * setsid(), so a signal to the postmaster's process group does not reach them:
 * we walk the parent links instead.
 */

interface ProcStat {
  readonly state: string;
  readonly ppid: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
}

/** Whether `pid` is a live process (a zombie counts as gone). */
export function isProcessAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Whether `pid` is stopped by a signal (state T). */
export function isProcessStopped(pid: number): boolean {
  return readStat(pid)?.state === 'T';
}

function childrenByParent(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    const siblings = byParent.get(stat.ppid) ?? [];
    siblings.push(pid);
    byParent.set(stat.ppid, siblings);
  }
  return byParent;
}

/** Every live descendant of `pid` (children, their children, ...), not `pid` itself. */
export function descendantsOf(pid: number): number[] {
  const byParent = childrenByParent();
  const found: number[] = [];
  const queue = [pid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const child of byParent.get(parent) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone: nothing to signal.
  }
}

/**
 * Sends `signal` to `root` and all its descendants; returns every pid signalled.
 * The root is stopped first, so it cannot fork while we list its children.
 */
export function signalTree(root: number, signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): number[] {
  if (signal !== 'SIGCONT') trySignal(root, 'SIGSTOP');
  const pids = descendantsOf(root);
  for (const pid of pids) trySignal(pid, signal);
  trySignal(root, signal);
  return [root, ...pids];
}
