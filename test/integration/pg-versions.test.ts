import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startCluster, type Cluster } from '@pg-split/harness';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const BUILD = resolve(import.meta.dirname, '../..');

/**
 * An app whose node_modules holds pg-split's compiled source, p-retry and,
 * as `pg`, the pg version under test: pg-split resolves `pg` as a user's
 * install would.
 */
function appWith(pgDir: string): string {
  const app = mkdtempSync(join(tmpdir(), 'pg-split-pg-'));
  const modules = join(app, 'node_modules');
  const split = join(modules, 'pg-split');
  mkdirSync(split, { recursive: true });
  writeFileSync(join(split, 'package.json'), JSON.stringify({ name: 'pg-split', type: 'module' }));
  cpSync(join(BUILD, 'src'), join(split, 'src'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', pgDir), join(modules, 'pg'));
  symlinkSync(join(ROOT, 'node_modules', 'p-retry'), join(modules, 'p-retry'));
  symlinkSync(join(ROOT, 'node_modules', 'pg-connection-string'), join(modules, 'pg-connection-string'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
  cpSync(join(ROOT, 'test', 'pg-versions', 'probe-internals.mjs'), join(app, 'probe-internals.mjs'));
  return app;
}

// The peer range is ^8.11.0: its oldest release, and the newest installed.
const VERSIONS = [
  { label: 'oldest in the peer range', dir: 'pg-oldest', expect: '8.11.0' },
  { label: 'newest installed', dir: 'pg', expect: null },
];

describe('pg internals pg-split relies on (connect/pg-wire.ts), on the oldest and newest pg', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ standbys: 1, firstAddress: net.first });
    await cluster.waitForReplication();
  });
  after(() => cluster.destroy());

  for (const version of VERSIONS) {
    test(`pg ${version.label}`, { timeout: 60_000 }, async () => {
      const app = appWith(version.dir);
      try {
        const { stdout } = await run(
          process.execPath,
          ['probe-internals.mjs', cluster.url(), cluster.primary.host, String(cluster.primary.port)],
          { cwd: app, timeout: 45_000 },
        );
        const report = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { pgVersion: string; checks: Record<string, boolean> };
        if (version.expect !== null) assert.equal(report.pgVersion, version.expect);
        const failed = Object.entries(report.checks)
          .filter(([, ok]) => !ok)
          .map(([name]) => name);
        assert.deepEqual(failed, [], `pg ${report.pgVersion}: ${JSON.stringify(report.checks)}`);
        assert.equal(Object.keys(report.checks).length, 14);
      } finally {
        rmSync(app, { recursive: true, force: true });
      }
    });
  }
});
