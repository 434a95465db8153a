import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendantsOf } from './process-tree.js';

/** cgroup v1's CPU controller, where Linux throttles a group of processes to a share of a CPU (CFS bandwidth). */
const CPU_CGROUPS = '/sys/fs/cgroup/cpu';
const PERIOD_MICROS = 100_000;

/** The cgroup (under CPU_CGROUPS) a process is in now, from /proc/<pid>/cgroup's `cpu` line ('/' when none is named). */
export function cpuCgroupOf(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const line = lines.find((l) => l.split(':')[1]?.split(',').includes('cpu'));
  return line?.split(':')[2] ?? '/';
}

/** Moves processes into a cgroup (each by its pid); one already gone is skipped. */
function moveInto(dir: string, pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    } catch {
      // Gone since it was listed.
    }
  }
}

/**
 * A server starved of CPU, as on a host whose neighbours take the CPU: the
 * postmaster and every child (its backends, and those it forks from then
 * on, which inherit the group) run in a cgroup of their own throttled to
 * `percent` of one CPU. `release()` moves them back and removes the group.
 * Needs root and cgroup v1's cpu controller mounted at /sys/fs/cgroup/cpu:
 * throws where it is missing (callers report the row as not measured).
 */
export class CpuLimit {
  readonly #dir: string;
  readonly #home: string;
  readonly #root: number;

  constructor(name: string, root: number, percent: number) {
    this.#root = root;
    this.#home = join(CPU_CGROUPS, cpuCgroupOf(root));
    this.#dir = join(CPU_CGROUPS, `pg-split-${name}-${root}`);
    mkdirSync(this.#dir);
    writeFileSync(join(this.#dir, 'cpu.cfs_period_us'), String(PERIOD_MICROS));
    writeFileSync(join(this.#dir, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round((PERIOD_MICROS * percent) / 100))));
    moveInto(this.#dir, [root, ...descendantsOf(root)]);
  }

  /** Moves every process of the group back where the postmaster was, and removes the group. */
  release(): void {
    const pids = readFileSync(join(this.#dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    moveInto(this.#home, pids.length > 0 ? pids : [this.#root]);
    rmdirSync(this.#dir);
  }
}
