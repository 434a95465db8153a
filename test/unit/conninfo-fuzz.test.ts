import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { run } from '../../src/cli/run.js';
import { ConnInfoError } from '../../src/errors.js';

const PIECES = [
  'postgresql://',
  'postgres://',
  'host=',
  'port=',
  'hostaddr=',
  'user=',
  'password=',
  'dbname=',
  'sslmode=',
  'target_session_attrs=',
  'load_balance_hosts=',
  'require_auth=',
  'connect_timeout=',
  'requiressl=',
  'passfile=',
  '@',
  ':',
  '/',
  '?',
  '&',
  '=',
  ',',
  '[',
  ']',
  '%',
  '%2C',
  '%00',
  '%zz',
  '%20',
  "'",
  '\\',
  ' ',
  '\t',
  '\n',
  '\0',
  'h1',
  'h2',
  '::1',
  '5432',
  'read-write',
  'prefer-standby',
  'random',
  'é',
  'x'.repeat(50),
];

/** Inputs built from the pieces libpq's grammar cares about, plus arbitrary unicode. */
const conninfo = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((parts) => parts.join('')),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const RUNS = 3000;

function accepts(input: string): void {
  try {
    resolveConnInfo(input, { env: {}, osUser: () => 'u', homeDir: () => null, warn: () => undefined });
  } catch (err) {
    assert.ok(err instanceof ConnInfoError, `unexpected ${String(err)} for ${JSON.stringify(input)}`);
    assert.equal(err.code, 'PGSPLIT_CONNINFO_INVALID');
    assert.ok(err.message.length > 0 && !err.message.endsWith('\n'));
  }
}

test(`any input parses or fails with ConnInfoError (${RUNS} generated strings)`, { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(conninfo, (input) => accepts(input)),
    { numRuns: RUNS, seed: 20261124 },
  );
});

test('errors never echo a password given in keyword/value or URI form', { timeout: 60_000 }, () => {
  const secret = 'Zq9-SECRET-pw';
  const withSecret = fc
    .tuple(conninfo, fc.boolean())
    .map(([tail, uri]) => (uri ? `postgresql://u:${secret}@h/${tail}` : `password=${secret} ${tail}`));
  fc.assert(
    fc.property(withSecret, (input) => {
      try {
        resolveConnInfo(input, { env: {}, osUser: () => 'u', homeDir: () => null, warn: () => undefined });
      } catch (err) {
        assert.ok(!(err as Error).message.includes(secret), `password echoed for ${JSON.stringify(input)}`);
      }
    }),
    { numRuns: 1000, seed: 7 },
  );
});

test('the CLI answers every input with status 0 or 2, never a crash, and never prints a password', { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(conninfo, fc.boolean(), async (input, json) => {
      let out = '';
      const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {} };
      const full = `password=pw-XYZ ${input}`;
      const status = await run(['parse', ...(json ? ['--json'] : []), '--', full], io);
      assert.ok(status === 0 || status === 2, `status ${status} for ${JSON.stringify(full)}`);
      if (status === 0) assert.ok(!out.includes('pw-XYZ'));
    }),
    { numRuns: 1000, seed: 11 },
  );
});

const ARGV_PIECES = [
  'parse',
  'probe',
  'help',
  '-h',
  '--help',
  'bogus',
  '',
  '--json',
  '--watch',
  '--interval',
  '0',
  '-1',
  'abc',
  '1e9',
  '-x',
  '--',
  '=',
  '--json=1',
  'sslmode=bogus host=h1',
];

test(
  'the CLI answers any argument list (commands, flags, values, shuffled) with a documented status, never a crash or a hang',
  { timeout: 60_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...ARGV_PIECES), { maxLength: 8 }), async (argv) => {
        let out = '';
        const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {} };
        // A valid host list would make probe connect: every string here is rejected before that (sslmode=bogus).
        const status = await run(
          argv.includes('probe') && !argv.includes('sslmode=bogus host=h1') ? [...argv, 'sslmode=bogus host=h1'] : argv,
          io,
        );
        assert.ok([0, 2].includes(status), `status ${status} for ${JSON.stringify(argv)}: ${out}`);
        assert.ok(out.length > 0, `no output for ${JSON.stringify(argv)}`);
      }),
      { numRuns: 1000, seed: 23 },
    );
  },
);
