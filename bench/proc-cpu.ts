/** CPU time of processes on this machine, from /proc (Linux): what the fleet benches charge to Patroni and etcd. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Each process's CPU over the time `work` takes, in % of one core. */
export async function cpuDuring(pids: readonly number[], work: Promise<unknown>): Promise<number[]> {
  const before = pids.map(cpuTicks);
  const started = Date.now();
  await work;
  const seconds = (Date.now() - started) / 1000;
  return pids.map((pid, i) => Math.round(((cpuTicks(pid) - (before[i] ?? 0)) / TICKS_PER_SECOND / seconds) * 1000) / 10);
}

/** The whole machine's CPU time so far, busy and in all, in clock ticks (the `cpu` line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are the 4th and 5th fields.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** How busy the machine's cores were (0-100 %, all cores together) over the time `work` takes. */
export async function machineBusyDuring(work: Promise<unknown>): Promise<number> {
  const before = machineTicks();
  await work;
  const after = machineTicks();
  const total = after.total - before.total;
  return total === 0 ? 0 : Math.round(((after.busy - before.busy) / total) * 1000) / 10;
}
