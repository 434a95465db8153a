import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The unit tests' sources (this file compiles to build/test/unit/). */
const UNIT = join(dirname(fileURLToPath(import.meta.url)), '../../../test/unit');

/** A sleep on the real clock: `new Promise((r) => setTimeout(r, ...))` and its spellings. */
const SLEEP = /new Promise[^;\n]*=>\s*setTimeout\(/;

test('test/unit/: no test sleeps on the real clock (mock timers, an injected clock or turns of the event loop instead)', () => {
  const sleeping = readdirSync(UNIT)
    .filter((name) => name.endsWith('.ts') && name !== 'no-clock-waits.test.ts')
    .flatMap((name) =>
      readFileSync(join(UNIT, name), 'utf8')
        .split('\n')
        .map((line, i) => [name, i + 1, line] as const)
        .filter(([, , line]) => SLEEP.test(line)),
    )
    .map(([name, line]) => `${name}:${line}`);
  assert.deepEqual(sleeping, []);
});

test('the sleep pattern finds the usual spellings', () => {
  assert.ok(SLEEP.test('await new Promise((r) => setTimeout(r, 50));'));
  assert.ok(SLEEP.test('await new Promise<void>((resolve) => setTimeout(resolve, 5));'));
  assert.ok(!SLEEP.test('await new Promise((r) => setImmediate(r));'));
});
