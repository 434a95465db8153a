import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startCluster } from '@pg-split/harness';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);

/**
 * The CommonJS build as a `require()` user gets it: `dist/cjs/`, built by
 * `npm run build` (run by `prepare` at npm install/ci, and by the package
 * check in `npm test`). This test builds nothing; it fails when dist/ is
 * missing or older than src/.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CJS_INDEX = join(ROOT, 'dist', 'cjs', 'index.js');

function newestSource(dir: string): { path: string; mtimeMs: number } {
  let newest = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestSource(path) : { path, mtimeMs: statSync(path).mtimeMs };
    if (candidate.mtimeMs > newest.mtimeMs) newest = candidate;
  }
  return newest;
}

function assertFreshBuild(): void {
  assert.ok(existsSync(CJS_INDEX), `${CJS_INDEX} is missing: run npm run build`);
  const source = newestSource(join(ROOT, 'src'));
  assert.ok(statSync(CJS_INDEX).mtimeMs >= source.mtimeMs, `dist/cjs/ is older than ${source.path}: run npm run build`);
}

/**
 * Runs as CommonJS in its own node process, from the package root: requires
 * pg-split by name (the "require" condition of the exports map), then one
 * write through the writer and one read through the reader, each asking the
 * server who answered. The test harness is a package of its own
 * (@pg-split/harness, an ES module): the library's build has no trace of it.
 */
const CHILD = String.raw`
const assert = require('node:assert/strict');
const split = require('pg-split');
const WHO = 'host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby';
(async () => {
  const dist = require('node:path').join(process.cwd(), 'dist') + '/';
  const loaded = Object.keys(require.cache).filter((path) => path.startsWith(dist));
  const { connectSplit } = split;
  const { writer, reader, end } = await connectSplit(process.env.PG_SPLIT_CJS_CONNINFO);
  try {
    const write = await writer.query("INSERT INTO cjs_writes (via) VALUES ('require') RETURNING " + WHO);
    const read = await reader.query('SELECT ' + WHO);
    console.log(JSON.stringify({
      resolved: { index: require.resolve('pg-split') },
      harnessPath: (() => { try { return require.resolve('pg-split/cluster'); } catch (err) { return err.code; } })(),
      loaded,
      exports: Object.keys(split).sort(),
      classes: split.ConnInfoError.prototype instanceof split.PgSplitError,
      write: write.rows[0],
      read: read.rows[0],
    }));
  } finally {
    await end();
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`;

interface ChildReport {
  readonly resolved: { readonly index: string };
  /** What require.resolve('pg-split/cluster') threw: the harness left the package. */
  readonly harnessPath: string;
  /** Every file of this package's dist/ that require() loaded. */
  readonly loaded: readonly string[];
  readonly exports: readonly string[];
  readonly classes: boolean;
  readonly write: { readonly host: string; readonly standby: boolean };
  readonly read: { readonly host: string; readonly standby: boolean };
}

function runChild(conninfo: string): Promise<ChildReport> {
  const args = ['--input-type=commonjs', '-e', CHILD];
  const env = { ...process.env, PG_SPLIT_CJS_CONNINFO: conninfo };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, env, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`the CommonJS child failed (${err.code ?? err.signal ?? '?'}):\n${stderr}${stdout}`, { cause: err }));
        return;
      }
      resolve(JSON.parse(stdout) as ChildReport);
    });
  });
}

test(
  'require(): the CommonJS build loads, and routes a write to the primary and a read to a standby of a real cluster',
  { timeout: 120_000 },
  async (t) => {
    assertFreshBuild();
    const cluster = await startCluster({ standbys: 2, firstAddress: net.first });
    try {
      await cluster.primary.query('CREATE TABLE cjs_writes (id serial PRIMARY KEY, via text NOT NULL)');
      await cluster.waitForReplication();
      const report = await runChild(cluster.conninfo(cluster.nodes, { application_name: 'pg-split-cjs' }));
      t.diagnostic(
        `write answered by ${report.write.host} (in recovery: ${report.write.standby}); read answered by ${report.read.host} (in recovery: ${report.read.standby})`,
      );

      assert.deepEqual(report.resolved, { index: CJS_INDEX });
      assert.equal(report.harnessPath, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'pg-split/cluster is gone from the package');
      assert.ok(report.loaded.includes(CJS_INDEX), report.loaded.join('\n'));
      assert.deepEqual(
        report.loaded.filter((path) => !path.startsWith(join(ROOT, 'dist', 'cjs', '/'))),
        [],
        'require() loaded files of the ESM build',
      );
      for (const name of [
        'connect',
        'connectDetailed',
        'connectSplit',
        'parseConnInfo',
        'probeCluster',
        'resolveConnInfo',
        'PgSplitError',
        'ConnInfoError',
      ]) {
        assert.ok(report.exports.includes(name), `pg-split (CommonJS) does not export ${name}`);
      }
      assert.ok(report.classes);

      assert.deepEqual(report.write, { host: cluster.primary.host, standby: false });
      assert.equal(report.read.standby, true);
      assert.ok(
        cluster.standbys.some((s) => s.host === report.read.host),
        `read answered by ${report.read.host}`,
      );
      const [row] = await cluster.primary.query<{ via: string }>('SELECT via FROM cjs_writes');
      assert.equal(row?.via, 'require');
    } finally {
      await cluster.destroy();
    }
  },
);

test('npm run build leaves dist/bin.js executable: the CLI runs by its path, as a linked or workspace install runs it', async () => {
  assertFreshBuild();
  const bin = join(ROOT, 'dist', 'bin.js');
  assert.equal(statSync(bin).mode & 0o111, 0o111, `dist/bin.js mode ${(statSync(bin).mode & 0o777).toString(8)}`);
  const { stdout } = await promisify(execFile)(bin, ['--version']);
  assert.match(stdout, /^\d+\.\d+\.\d+/);
});
