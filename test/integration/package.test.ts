import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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
  const types = await run('npx', ['attw', join(dir, tarball), '--profile', 'node16'], { cwd: ROOT }).catch(
    (err: { stdout?: string; stderr?: string }) => assert.fail(`attw: ${err.stdout ?? ''}${err.stderr ?? ''}`),
  );
  // attw exits non-zero on any problem (run() then rejects), in its list or its table layout (it picks one by the terminal);
  // here it checked node16 resolution from ESM and from CommonJS.
  assert.match(types.stdout, /node16 \(from CJS\)/, types.stdout);
  assert.match(types.stdout, /node16 \(from ESM\)/, types.stdout);
});
