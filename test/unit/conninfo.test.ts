import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHostList } from '../../src/conninfo/host-list.js';
import { parseIntParam } from '../../src/conninfo/int-param.js';
import { orderedParams } from '../../src/conninfo/params.js';
import { parseConnInfo } from '../../src/conninfo/parse.js';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { ConnInfoError } from '../../src/errors.js';

const parse = (s: string): Record<string, string> => Object.fromEntries(orderedParams(parseConnInfo(s)));
const resolve = (s: string, env: Record<string, string> = {}) =>
  resolveConnInfo(s, { env, osUser: () => 'osuser', homeDir: () => '/nonexistent', warn: () => undefined });

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ConnInfoError && err.code === 'PGSPLIT_CONNINFO_INVALID' && err.message === message);
}

test('keyword/value: quoting, escapes, whitespace and the empty-value quirk', () => {
  assert.deepEqual(parse(" host = 'a b' port=\t5432 "), { host: 'a b', port: '5432' });
  assert.deepEqual(parse('host=a\\ b,c'), { host: 'a b,c' });
  assert.deepEqual(parse("dbname='it\\'s' user='x\\\\y'"), { user: 'x\\y', dbname: "it's" });
  assert.deepEqual(parse('hostaddr= port=1'), { hostaddr: 'port=1' });
  assert.deepEqual(parse("host=''"), { host: '' });
  assert.deepEqual(parse('host=a host=b'), { host: 'b' });
  assert.deepEqual(parse('requiressl=1'), { sslmode: 'require' });
  assert.deepEqual(parse('requiressl=0'), { sslmode: 'prefer' });
  assert.deepEqual(parse("host='a, b'"), { host: 'a, b' });
});

test('keyword/value errors carry libpq text', () => {
  rejects(() => parse('host'), 'missing "=" after "host" in connection info string');
  rejects(() => parse('host x=1'), 'missing "=" after "host" in connection info string');
  rejects(() => parse("host='abc"), 'unterminated quoted string in connection info string');
  rejects(() => parse('nosuch=1'), 'invalid connection option "nosuch"');
  rejects(() => parse('=1'), 'invalid connection option ""');
});

test('URI multi-host netlocs, as libpq 18 reads them (reference §5.4)', () => {
  assert.deepEqual(parse('postgresql://h1,h2'), { host: 'h1,h2', port: ',' });
  assert.deepEqual(parse('postgresql://h1:5432,h2'), { host: 'h1,h2', port: '5432,' });
  assert.deepEqual(parse('postgresql://h1,h2:5433'), { host: 'h1,h2', port: ',5433' });
  assert.deepEqual(parse('postgresql://[::1]:5432,[2001:db8::2]:5433/db'), { dbname: 'db', host: '::1,2001:db8::2', port: '5432,5433' });
  assert.deepEqual(parse('postgresql://h1,,h3'), { host: 'h1,,h3', port: ',,' });
  assert.deepEqual(parse('postgresql://%2Ftmp,h2/db'), { dbname: 'db', host: '/tmp,h2', port: ',' });
  assert.deepEqual(parse('postgresql://h1:5432%2C5433/db'), { dbname: 'db', host: 'h1', port: '5432,5433' });
  assert.deepEqual(parse('postgresql://h1?host=a&host=b'), { host: 'b' });
  assert.deepEqual(parse('postgresql:///db?host=h1,h2&port=1,2'), { dbname: 'db', host: 'h1,h2', port: '1,2' });
  assert.deepEqual(parse('postgresql://u@h1,u2@h2/db'), { user: 'u', dbname: 'db', host: 'h1,u2@h2', port: ',' });
  assert.deepEqual(parse('postgresql://h1/db/extra'), { dbname: 'db/extra', host: 'h1' });
  assert.deepEqual(parse('postgresql://host?application_name=a@b'), { user: 'host?application_name=a', host: 'b' });
  assert.deepEqual(parse('postgresql://u:p:q@h'), { user: 'u', password: 'p:q', host: 'h' });
  assert.deepEqual(parse('postgresql://h?ssl=true'), { host: 'h', sslmode: 'require' });
  assert.deepEqual(parse('postgresql://[fe80::1%25eth0]'), { host: 'fe80::1%eth0' });
  assert.deepEqual(parse('postgresql://h/d%C3%A9'), { dbname: 'dé', host: 'h' });
  rejects(() => parse('postgresql://h1 ,h2/db'), 'unexpected spaces found in "h1 ,h2", use percent-encoded spaces (%20) instead');
  rejects(() => parse('postgresql://h?application_name=b&&c=d'), 'missing key/value separator "=" in URI query parameter: ""');
});

test('host list: counts, hostaddr matching, one port for all, empty elements', () => {
  const hosts = (s: string) => buildHostList(new Map(orderedParams(parseConnInfo(s))));
  assert.deepEqual(
    hosts('host=a,b port=1').map((h) => [h.host, h.portText]),
    [
      ['a', '1'],
      ['b', '1'],
    ],
  );
  assert.deepEqual(
    hosts('host=a,,/tmp').map((h) => h.kind),
    ['name', 'default-socket', 'socket'],
  );
  assert.deepEqual(
    hosts('host=foo,bar hostaddr=127.0.0.1,').map((h) => [h.host, h.hostaddr, h.kind]),
    [
      ['foo', '127.0.0.1', 'address'],
      ['bar', null, 'name'],
    ],
  );
  assert.equal(hosts('host=a,b,').length, 3);
  rejects(() => hosts('host=a,b,c port=1,2'), 'could not match 2 port numbers to 3 hosts');
  rejects(() => hosts('host=a,b port=1,2,3'), 'could not match 3 port numbers to 2 hosts');
  rejects(() => hosts('host=a,b,c hostaddr=1.1.1.1,2.2.2.2'), 'could not match 3 host names to 2 hostaddr values');
  rejects(() => hosts('host=a,b hostaddr=1.1.1.1,2.2.2.2,3.3.3.3'), 'could not match 2 host names to 3 hostaddr values');
});

test('environment defaults: explicit > env > compiled; PGPORT only when port is absent', () => {
  assert.deepEqual(
    resolve('', { PGHOST: 'h1,h2', PGPORT: '1,2' }).hosts.map((h) => [h.host, h.portText]),
    [
      ['h1', '1'],
      ['h2', '2'],
    ],
  );
  assert.deepEqual(
    resolve('postgresql://a,b', { PGPORT: '15432' }).hosts.map((h) => h.portText),
    [null, null],
  );
  assert.deepEqual(
    resolve('postgresql://a', { PGPORT: '15432' }).hosts.map((h) => h.portText),
    ['15432'],
  );
  assert.equal(resolve("host=''", { PGHOST: 'envhost' }).hosts[0]?.kind, 'default-socket');
  assert.equal(resolve('', { PGTARGETSESSIONATTRS: 'read-write' }).targetSessionAttrs, 'read-write');
  assert.equal(resolve('').user, 'osuser');
  assert.equal(resolve('user=u').dbname, 'u');
  assert.equal(resolve('', { PGREQUIRESSL: '1' }).option('sslmode'), 'require');
  assert.equal(resolve('sslrootcert=system').option('sslmode'), 'verify-full');
});

test('option checks in libpq order, with libpq text', () => {
  rejects(() => resolve('target_session_attrs=READ-WRITE'), 'invalid target_session_attrs value: "READ-WRITE"');
  rejects(() => resolve('target_session_attrs='), 'invalid target_session_attrs value: ""');
  rejects(() => resolve('load_balance_hosts=doesnotexist'), 'invalid load_balance_hosts value: "doesnotexist"');
  rejects(() => resolve('sslmode=on gssencmode=x'), 'invalid sslmode value: "on"');
  rejects(() => resolve('gssencmode=x target_session_attrs=x'), 'invalid gssencmode value: "x"');
  rejects(() => resolve('channel_binding=maybe'), 'invalid channel_binding value: "maybe"');
  rejects(
    () => resolve('sslrootcert=system sslmode=require'),
    'weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")',
  );
  rejects(
    () => resolve('sslnegotiation=direct'),
    'weak sslmode "prefer" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")',
  );
  rejects(() => resolve('ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2'), 'invalid SSL protocol version range');
  rejects(() => resolve('ssl_min_protocol_version=SSLv3'), 'invalid ssl_min_protocol_version value: "SSLv3"');
  rejects(
    () => resolve('require_auth=md5,!password'),
    'negative require_auth method "!password" cannot be mixed with non-negative methods',
  );
  rejects(() => resolve('require_auth=md5,md5'), 'require_auth method "md5" is specified more than once');
  rejects(() => resolve('require_auth=kerberos'), 'invalid require_auth value: "kerberos"');
  rejects(
    () => resolve('min_protocol_version=3.2 max_protocol_version=3.0'),
    '"min_protocol_version" is greater than "max_protocol_version"',
  );
  rejects(() => resolve('host=a,b port=1,2,3 target_session_attrs=x'), 'could not match 3 port numbers to 2 hosts');
});

test('passwords are never enumerable, logged or serialised', () => {
  const target = resolve('postgresql://u:s3cret@h/db');
  assert.equal(target.passwordFor(0), 's3cret');
  assert.ok(!JSON.stringify(target).includes('s3cret'));
  assert.ok(!JSON.stringify(Object.entries(target)).includes('s3cret'));
  assert.deepEqual(Object.fromEntries(target.redactedParams()), { user: 'u', password: '********', dbname: 'db', host: 'h' });
});

test('integer parameters as pqParseIntParam reads them', () => {
  assert.equal(parseIntParam(' 5432 '), 5432);
  assert.equal(parseIntParam('+12'), 12);
  assert.equal(parseIntParam('-1'), -1);
  assert.equal(parseIntParam('0.5'), null);
  assert.equal(parseIntParam('10s'), null);
  assert.equal(parseIntParam(''), null);
  assert.equal(parseIntParam('99999999999'), null);
});
