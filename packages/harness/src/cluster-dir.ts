import { accessSync, constants, statfsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RAM_DISK = '/dev/shm';
/** A cluster needs ~50 MB per node; only use the RAM disk when it is roomy (Docker gives 64 MB). */
const RAM_DISK_MIN_FREE = 1024 * 1024 * 1024;

function roomyRamDisk(): string | undefined {
  try {
    accessSync(RAM_DISK, constants.W_OK);
    const stats = statfsSync(RAM_DISK);
    return stats.bavail * stats.bsize >= RAM_DISK_MIN_FREE ? RAM_DISK : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the cluster's temporary directory: under `PG_SPLIT_CLUSTER_TMPDIR`
 * when set, else on the RAM disk when there is a roomy one (initdb and
 * pg_basebackup write ~1000 files: twice as fast on tmpfs), else in the OS
 * temporary directory.
 */
export async function makeClusterDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const forced = env['PG_SPLIT_CLUSTER_TMPDIR'];
  const base = forced !== undefined && forced !== '' ? forced : (roomyRamDisk() ?? tmpdir());
  return mkdtemp(join(base, 'pg-split-cluster-'));
}
