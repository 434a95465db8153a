/**
 * docs/errors.md's promise, case by case: a bad input to any public entry
 * point is rejected with a PgSplitError (the CLI: exit status 2, the bad
 * argument named), at once, without the password in the message. The cases
 * are in test/support/bad-inputs.ts; those that need a server run in
 * bench/bad-inputs.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PgSplitError } from '../../src/errors.js';
import { BAD_INPUTS, CliRun, NO_SERVER, NoAnswer, within, type BadInputCase } from '../support/bad-inputs.js';

/** A hang guard, not a performance bound: every case is refused before any connection is tried, or on a refused one. */
const BOUND_MILLIS = 2000;

/** How the call settled, bounded: a call still pending after BOUND_MILLIS fails the test. */
async function settle(c: BadInputCase): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await within(c.run(NO_SERVER), BOUND_MILLIS, c.input) };
  } catch (error) {
    if (error instanceof NoAnswer) assert.fail(error.message);
    return { ok: false, error };
  }
}

function end(value: unknown): void {
  const close = (value as { end?: unknown } | null)?.end;
  if (typeof close === 'function') Promise.resolve((close as () => unknown).call(value)).catch(() => undefined);
}

const offline = BAD_INPUTS.filter((c) => c.needsServer !== true);

describe('bad inputs are refused with a PgSplitError, at once, without the password', () => {
  test('every public entry point has cases', () => {
    const apis = new Set(offline.map((c) => c.api));
    for (const api of ['connectSplit', 'connect', 'probeCluster', 'resolveConnInfo', 'CLI', 'SplitCluster method'] as const)
      assert.ok(apis.has(api), api);
  });

  for (const c of offline) {
    test(`${c.api}: ${c.input}`, async () => {
      const settled = await settle(c);
      if (c.api === 'CLI') {
        assert.ok(
          settled.ok && settled.value instanceof CliRun,
          `the CLI threw instead of exiting: ${settled.ok ? String(settled.value) : String(settled.error)}`,
        );
        const { status, stdout, stderr } = settled.value;
        const firstLine = stderr.split('\n', 1)[0] ?? '';
        assert.equal(status, 2, `exit status for ${c.input}; stderr: ${stderr}`);
        assert.ok(!`${stdout}${stderr}`.includes('secret'), `the password is printed: ${stdout}${stderr}`);
        if (c.mentions !== undefined)
          assert.ok(firstLine.includes(c.mentions), `stderr's first line should name ${c.mentions}: ${firstLine}`);
        return;
      }
      if (settled.ok) {
        end(settled.value);
        assert.fail(`${c.input} was accepted`);
      }
      const { error } = settled;
      assert.ok(
        error instanceof PgSplitError,
        `not a PgSplitError: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
      assert.ok(error.code.startsWith('PGSPLIT_'), error.code);
      if (c.code !== undefined) assert.equal(error.code, c.code, error.message);
      assert.ok(!error.message.includes('secret'), `the password is in the message: ${error.message}`);
      if (c.mentions !== undefined)
        assert.ok(error.message.includes(c.mentions), `the message should contain ${c.mentions}: ${error.message}`);
    });
  }

  test('an unknown option is answered with the nearest valid name', async () => {
    const suggested = offline.filter((c) => c.mentions?.startsWith('did you mean') === true);
    assert.ok(suggested.some((c) => c.mentions === 'did you mean `failoverTimeoutMillis`?'));
    for (const c of suggested) {
      const settled = await settle(c);
      assert.ok(!settled.ok && settled.error instanceof PgSplitError && settled.error.code === 'PGSPLIT_OPTION_INVALID', c.input);
      assert.match(settled.error.message, /^Unknown option `[\w.]+`; did you mean `[\w.]+`\?$/);
    }
  });
});
