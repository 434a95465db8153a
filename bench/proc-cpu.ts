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
