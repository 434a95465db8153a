import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import semver from 'semver';

/**
 * The package as npm publishes it: publint on package.json and dist/, and
 * attw (are the types wrong) on the tarball, ESM and CommonJS under node16
 * resolution. What `npm run check:package` runs before a publish, here on
 * the dist/ that `npm test` has just built (packed without running the build again).
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

test('publint and attw find nothing wrong with the package', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pg-split-pack-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lint = await run('npx', ['publint'], { cwd: ROOT });
  assert.match(lint.stdout, /All good!/, lint.stdout);
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const [tarball] = (await readdir(dir)).filter((f) => f.endsWith('.tgz'));
  assert.ok(tarball !== undefined, 'npm pack made no tarball');
  // The test harness is a package of its own (packages/harness): none of its files is in the library's.
  const { stdout: listing } = await run('tar', ['-tzf', join(dir, tarball)]);
  const harnessFiles = listing.split('\n').filter((path) => /\/(cluster|harness)\/|postmaster|run-as|black-hole/.test(path));
  assert.deepEqual(harnessFiles, [], 'the library package carries files of the test harness');
  assert.match(listing, /package\/dist\/index\.js/);
  const types = await run('npx', ['attw', join(dir, tarball), '--profile', 'node16'], { cwd: ROOT }).catch(
    (err: { stdout?: string; stderr?: string }) => assert.fail(`attw: ${err.stdout ?? ''}${err.stderr ?? ''}`),
  );
  // attw exits non-zero on any problem (run() then rejects), in its list or its table layout (it picks one by the terminal);
  // here it checked node16 resolution from ESM and from CommonJS.
  assert.match(types.stdout, /node16 \(from CJS\)/, types.stdout);
  assert.match(types.stdout, /node16 \(from ESM\)/, types.stdout);
});

test(
  "the README's install lines, word for word: the packed tarball installs beside pg with no warning, and loads",
  { timeout: 120_000 },
  async (t) => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const [pack, install] = block
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    // The first line builds and packs a clone (`npm install` there runs `prepare`, the build); here the clone is this
    // checkout, already built by `npm test`, so it is packed as that line packs it, without building again.
    assert.equal(pack, '(cd path/to/pg-split && npm install && npm pack)');
    assert.equal(install, `npm install path/to/pg-split/pg-split-${version}.tgz pg`);
    const dir = await mkdtemp(join(tmpdir(), 'pg-split-readme-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const clone = join(dir, 'path/to/pg-split');
    await mkdir(clone, { recursive: true });
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', clone], { cwd: ROOT });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // The second line as written, from npm's cache where it has the packages (this machine installed pg-split's own).
    const env = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
    const installed = await run('sh', ['-c', install], { cwd: dir, env });
    assert.doesNotMatch(`${installed.stdout}${installed.stderr}`, /EBADENGINE|ERR!|WARN/, installed.stderr);
    const loaded = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { connectSplit } from 'pg-split';
       import pg from 'pg-split/pg';
       import { createRequire } from 'node:module';
       const cjs = createRequire(import.meta.url)('pg-split');
       console.log(typeof connectSplit, typeof pg.Pool, typeof cjs.connectSplit);`,
      ],
      { cwd: dir },
    );
    assert.equal(loaded.stdout.trim(), 'function function function');
  },
);

test('every installed package, development tools included, accepts the oldest Node pg-split supports (no EBADENGINE on install)', async () => {
  const { engines } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const oldest = semver.minVersion(engines.node)?.version ?? assert.fail(`engines.node: ${engines.node}`);
  const refusing: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        await visit(path);
        continue;
      }
      const manifest = await readFile(join(path, 'package.json'), 'utf8').catch(() => null);
      if (manifest !== null) {
        const {
          name,
          version,
          engines: wanted,
        } = JSON.parse(manifest) as { name?: string; version?: string; engines?: { node?: unknown } };
        const range = wanted?.node;
        if (typeof range === 'string' && semver.validRange(range) !== null && !semver.satisfies(oldest, range)) {
          refusing.push(`${name ?? path}@${version ?? '?'} (node ${range})`);
        }
      }
      await visit(join(path, 'node_modules'));
    }
  };
  await visit(join(ROOT, 'node_modules'));
  assert.deepEqual(refusing, [], `these declare a Node range without ${oldest}`);
});
