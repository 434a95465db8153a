import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { run } from '../../src/cli/run.js';
import { orderedParams } from '../../src/conninfo/params.js';
import { parseConnInfo } from '../../src/conninfo/parse.js';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { isSecretKeyword } from '../../src/conninfo/keywords.js';
import { ConnInfoError } from '../../src/errors.js';

interface Vector {
  group: string;
  input: string;
  ok: boolean;
  error?: string;
  params?: Record<string, string>;
  connectError?: string | null;
}

/** Generated from the machine's libpq 15 by scripts/gen-conninfo-vectors.mjs (cases where 15 and 18 differ are left out). */
const file = JSON.parse(readFileSync(new URL('../../../test/vectors/libpq15-conninfo.json', import.meta.url), 'utf8')) as {
  libpq: string;
  cases: Vector[];
};

const context = { env: {}, osUser: () => 'u', homeDir: () => null, warn: () => undefined };

/**
 * libpq's error text with pg-split's one deliberate change applied: a URI's
 * password is printed as ******** (docs/connection-strings.md).
 */
/** pg-split's documented difference: a "keyword" that is a mistyped URI has its password masked. */
function maskedKeyword(message: string): string {
  const quoted = /^missing "=" after "(.*)" in connection info string$/s.exec(message)?.[1];
  const at = quoted?.lastIndexOf('@') ?? -1;
  if (quoted === undefined || at < 0) return message;
  const userinfo = quoted.slice(quoted.lastIndexOf('/', at) + 1, at);
  if (!userinfo.includes(':')) return message;
  const user = userinfo.slice(0, userinfo.indexOf(':'));
  return `missing "=" after "${quoted.slice(0, at - userinfo.length)}${user}:********${quoted.slice(at)}" in connection info string`;
}

/** pg-split's documented difference: a word with no `=` on the same line right after a password's value may be the rest of it. */
function afterPassword(input: string, message: string): boolean {
  const quoted = /^missing "=" after "(.*)" in connection info string$/s.exec(message)?.[1];
  const value = /(?:^|\s)password\s*=\s*(?:'(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)*)[ \t\v\f]*(\S+)/s.exec(input);
  return quoted !== undefined && value?.[1] !== undefined && value[1].startsWith(quoted);
}

function masked(input: string, message: string): string {
  if (afterPassword(input, message)) return 'missing "=" after "********" in connection info string';
  if (message.startsWith('missing "=" after')) return maskedKeyword(message);
  const userinfo = /^postgres(?:ql)?:\/\/([^@/]*)@/.exec(input)?.[1];
  const colon = userinfo?.indexOf(':') ?? -1;
  if (userinfo === undefined || colon < 0) return message;
  const password = userinfo.slice(colon + 1);
  const redacted = input.replace(`${userinfo.slice(0, colon)}:${password}@`, `${userinfo.slice(0, colon)}:********@`);
  return message.replace(`"${password}"`, '"********"').replace(`"${input}"`, `"${redacted}"`);
}

function outcome(input: string): { ok: true; params: Record<string, string> } | { ok: false; error: string } {
  try {
    return { ok: true, params: Object.fromEntries(orderedParams(parseConnInfo(input))) };
  } catch (err) {
    assert.ok(err instanceof ConnInfoError, `not a ConnInfoError: ${String(err)}`);
    return { ok: false, error: err.message };
  }
}

function validation(input: string): string | null {
  try {
    resolveConnInfo(input, context);
    return null;
  } catch (err) {
    assert.ok(err instanceof ConnInfoError, `not a ConnInfoError: ${String(err)}`);
    return err.message;
  }
}

test(`the vector file holds hundreds of libpq ${file.libpq} cases in both syntaxes`, () => {
  assert.ok(file.cases.length >= 600);
  assert.ok(file.cases.some((c) => c.input.startsWith('postgres')) && file.cases.some((c) => !c.input.startsWith('postgres')));
  assert.ok(file.cases.some((c) => !c.ok) && file.cases.some((c) => c.connectError));
});

test('PQconninfoParse: same params, or the same error text, on every vector', () => {
  const mismatches: string[] = [];
  for (const c of file.cases) {
    const ours = outcome(c.input);
    const theirs = c.ok ? { ok: true, params: c.params } : { ok: false, error: masked(c.input, c.error ?? '') };
    if (JSON.stringify(ours) !== JSON.stringify(theirs))
      mismatches.push(`${JSON.stringify(c.input)}: libpq ${JSON.stringify(theirs)} pg-split ${JSON.stringify(ours)}`);
  }
  assert.deepEqual(mismatches, []);
});

test('connect-time option checks (pqConnectOptions2): same error text, or none, on every vector', () => {
  const mismatches: string[] = [];
  for (const c of file.cases.filter((v) => v.ok)) {
    const ours = validation(c.input);
    if (ours !== (c.connectError ?? null))
      mismatches.push(`${JSON.stringify(c.input)}: libpq ${JSON.stringify(c.connectError)} pg-split ${JSON.stringify(ours)}`);
  }
  assert.deepEqual(mismatches, []);
});

test('pg-split parse --json prints libpq params (passwords masked) and fails with libpq text and status 2', async () => {
  const mismatches: string[] = [];
  for (const c of file.cases) {
    let stdout = '';
    let stderr = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} };
    const status = await run(['parse', '--json', '--', c.input], io);
    const libpqError = c.ok ? (c.connectError ?? null) : masked(c.input, c.error ?? '');
    if (libpqError !== null) {
      if (status !== 2 || stderr !== `${libpqError}\n`)
        mismatches.push(`${JSON.stringify(c.input)}: status ${status}, stderr ${JSON.stringify(stderr)}`);
      continue;
    }
    if (status === 2 && /^invalid integer value ".*" for connection option "port"\n$/s.test(stderr)) continue; // a port that can never be reached
    const expected = Object.fromEntries(Object.entries(c.params ?? {}).map(([k, v]) => [k, isSecretKeyword(k) ? '********' : v]));
    const printed = status === 0 ? (JSON.parse(stdout) as { params: unknown }).params : null;
    if (JSON.stringify(printed) !== JSON.stringify(expected))
      mismatches.push(`${JSON.stringify(c.input)}: status ${status} ${stdout}${stderr}`);
  }
  assert.deepEqual(mismatches, []);
});
