import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from './process-tree.js';

/** What a data directory's postmaster.pid says (PostgreSQL 10+ layout). */
export interface PidFile {
  readonly pid: number;
  /** `starting`, `ready`, `standby` or `stopping`. */
  readonly status: string;
  readonly shmKey: number | undefined;
  readonly shmId: number | undefined;
}

/** Reads `<dataDir>/postmaster.pid`; undefined when there is none (or it is half written). */
export function readPidFile(dataDir: string): PidFile | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const [key, id] = (lines[6] ?? '').trim().split(/\s+/).map(Number);
  return { pid, status: (lines[7] ?? '').trim(), shmKey: key, shmId: id };
}

function segmentExists(key: number, id: number): boolean {
  const listing = execFileSync('ipcs', ['-m'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  return listing.split('\n').some((line) => {
    const [hexKey, shmid] = line.trim().split(/\s+/);
    return hexKey !== undefined && hexKey.startsWith('0x') && Number.parseInt(hexKey, 16) === key && Number(shmid) === id;
  });
}

/**
 * After a postmaster died without cleaning up (SIGKILL), removes what it left:
 * its System V shared-memory segment (PostgreSQL only reclaims it when started
 * again on the same data directory) and the stale postmaster.pid. Best effort
 * and synchronous, so the process 'exit' handler can use it.
 */
export function removeStaleServerState(dataDir: string): void {
  const file = readPidFile(dataDir);
  if (file === undefined || isProcessAlive(file.pid)) return;
  const { shmKey, shmId } = file;
  try {
    if (shmKey !== undefined && shmId !== undefined && shmKey !== 0 && segmentExists(shmKey, shmId)) {
      execFileSync('ipcrm', ['-m', String(shmId)], { stdio: 'ignore', timeout: 5000 });
    }
  } catch {
    // No ipcs/ipcrm, or the segment is not ours to remove: leave it.
  }
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
}
