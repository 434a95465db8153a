import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HarnessError } from './harness-error.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

function holdsInitdb(dir: string): boolean {
  return existsSync(join(dir, 'initdb'));
}

function fromPgConfig(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    return dir !== '' && holdsInitdb(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function fromPath(env: NodeJS.ProcessEnv): string | undefined {
  const dirs = (env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
  return dirs.find(holdsInitdb);
}

/** The highest `/usr/lib/postgresql/<major>/bin` (Debian and Ubuntu packages). */
function fromDebianLayout(): string | undefined {
  let majors: number[];
  try {
    majors = readdirSync(DEBIAN_ROOT)
      .map(Number)
      .filter((major) => Number.isInteger(major));
  } catch {
    return undefined;
  }
  majors.sort((a, b) => b - a);
  return majors.map((major) => join(DEBIAN_ROOT, String(major), 'bin')).find(holdsInitdb);
}

/**
 * The directory holding the PostgreSQL server binaries (`initdb`, `postgres`,
 * `pg_ctl`, `pg_basebackup`). Looked for in this order: `PG_SPLIT_PGBIN`,
 * `pg_config --bindir`, the first `PATH` entry with an `initdb`, the highest
 * `/usr/lib/postgresql/<major>/bin`.
 */
export function findPgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const forced = env['PG_SPLIT_PGBIN'];
  if (forced !== undefined && forced !== '') {
    if (holdsInitdb(forced)) return forced;
    throw new HarnessError(`PG_SPLIT_PGBIN=${forced} holds no initdb`);
  }
  const found = fromPgConfig(env) ?? fromPath(env) ?? fromDebianLayout();
  if (found !== undefined) return found;
  throw new HarnessError(
    'no PostgreSQL server binaries found: set PG_SPLIT_PGBIN to the directory holding initdb, or install the server package (e.g. postgresql-15)',
  );
}
