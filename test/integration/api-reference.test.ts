import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * docs/api is generated from the types and their comments by TypeDoc
 * (typedoc.json; `npm run docs:api`). Generated again here, it must be what
 * is committed, so the reference cannot drift from the code.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path, 'utf8'));
  }
  return files;
}

test('docs/api is what TypeDoc makes of the types today (else: npm run docs:api)', { timeout: 120_000 }, async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'pg-split-api-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  const { stdout } = await run('npx', ['typedoc', '--out', out, '--treatWarningsAsErrors'], { cwd: ROOT });
  const generated = await filesUnder(out);
  const committed = await filesUnder(join(ROOT, 'docs/api'));
  assert.ok(generated.has('pg-split.md') && generated.has('pg-split/pg.md'), stdout);
  assert.deepEqual([...committed.keys()].sort(), [...generated.keys()].sort());
  for (const [name, text] of generated)
    assert.equal(committed.get(name), text, `docs/api/${name} differs from the types: npm run docs:api`);
});
