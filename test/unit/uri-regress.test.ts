import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { applyDefaults } from '../../src/conninfo/defaults.js';
import { orderedParams } from '../../src/conninfo/params.js';
import { parseConnInfo } from '../../src/conninfo/parse.js';
import { ConnInfoError } from '../../src/errors.js';

interface UriCase {
  n: number;
  input: string;
  env?: Record<string, string>;
  expected?: string;
  error?: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../../test/vectors/pg18-uri-regress.json', import.meta.url), 'utf8')) as {
  cases: UriCase[];
};

/** What PostgreSQL's libpq_uri_regress driver prints: options that differ from PQconndefaults(), then (inet) or (local). */
function describe(input: string, env: Record<string, string>): string {
  const params = parseConnInfo(input);
  const defaults = applyDefaults(new Map(), env, () => 'os-user');
  const shown = orderedParams(params).filter(([k, v]) => defaults.get(k) !== v);
  const host = params.get('host') ?? '';
  const inet = (params.get('hostaddr') ?? '') !== '' || (host !== '' && !host.startsWith('/'));
  return [...shown.map(([k, v]) => `${k}='${v}'`), inet ? '(inet)' : '(local)'].join(' ');
}

for (const c of vectors.cases) {
  test(`libpq 001_uri.pl #${c.n}: ${c.input}`, () => {
    const env = c.env ?? {};
    if (c.error !== undefined) {
      assert.throws(
        () => describe(c.input, env),
        (err: unknown) => {
          assert.ok(err instanceof ConnInfoError);
          assert.equal(err.code, 'PGSPLIT_CONNINFO_INVALID');
          assert.equal(err.message, c.error);
          return true;
        },
      );
    } else {
      assert.equal(describe(c.input, env), c.expected);
    }
  });
}

test('the vector file holds all 63 upstream cases', () => {
  assert.equal(vectors.cases.length, 63);
});
