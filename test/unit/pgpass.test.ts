import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findPassword, matchField } from '../../src/conninfo/pgpass.js';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';

const dir = mkdtempSync(join(tmpdir(), 'pgpass-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('fields: * matches anything, backslash escapes : and \\', () => {
  assert.equal(matchField('*:rest', 'anything'), 'rest');
  assert.equal(matchField('a\\:b:rest', 'a:b'), 'rest');
  assert.equal(matchField('a\\\\b:rest', 'a\\b'), 'rest');
  assert.equal(matchField('ab:rest', 'a'), null);
  assert.equal(matchField('a:rest', 'ab'), null);
});

test('first matching line wins; comments and blank lines are skipped; password unescaped', () => {
  const text = '# comment\n\nh1:5432:db:u:first\r\n*:*:*:u:p\\:w\\\\d\nh1:5432:db:u:never\n';
  assert.equal(findPassword(text, { host: 'h1', port: '5432', dbname: 'db', user: 'u' }), 'first');
  assert.equal(findPassword(text, { host: 'h2', port: '1', dbname: 'x', user: 'u' }), 'p:w\\d');
  assert.equal(findPassword(text, { host: 'h2', port: '1', dbname: 'x', user: 'other' }), null);
});

function passfile(name: string, text: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

test('looked up per host with its own port; empty host and the socket dir match localhost', () => {
  const path = passfile('ok', 'a:5432:db:u:pa\nb:6000:db:u:pb\nlocalhost:5432:db:u:pl\n', 0o600);
  const warnings: string[] = [];
  const target = resolveConnInfo(`host=a,b,, port=5432,6000,, dbname=db user=u passfile=${path}`, {
    env: {},
    warn: (m) => warnings.push(m),
  });
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => target.passwordFor(i)),
    ['pa', 'pb', 'pl', 'pl'],
  );
  assert.ok(target.hosts.every((h) => h.passwordFromFile));
  assert.deepEqual(warnings, []);
});

test('an explicit password wins over the file', () => {
  const path = passfile('ok2', '*:*:*:*:fromfile\n', 0o600);
  const target = resolveConnInfo(`host=a password=given passfile=${path}`, { env: {} });
  assert.equal(target.passwordFor(0), 'given');
  assert.equal(target.hosts[0]?.passwordFromFile, false);
});

test('a file with group or world access is ignored with libpq warning', () => {
  const path = passfile('open', '*:*:*:*:leaked\n', 0o644);
  const warnings: string[] = [];
  const target = resolveConnInfo(`host=a passfile=${path}`, { env: {}, warn: (m) => warnings.push(m) });
  assert.equal(target.passwordFor(0), null);
  assert.deepEqual(warnings, [`WARNING: password file "${path}" has group or world access; permissions should be u=rw (0600) or less`]);
});

test('PGPASSFILE is honoured, a missing file is ignored silently', () => {
  const path = passfile('env', '*:*:*:*:viaenv\n', 0o600);
  assert.equal(resolveConnInfo('host=a', { env: { PGPASSFILE: path } }).passwordFor(0), 'viaenv');
  assert.equal(resolveConnInfo('host=a', { env: { PGPASSFILE: join(dir, 'missing') } }).passwordFor(0), null);
});
