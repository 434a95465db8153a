import assert from 'node:assert/strict';
import { test } from 'node:test';
import { b64, isAuthRefusal, EtcdAnswerError, prefixEnd } from '../../src/etcd/etcd-client.js';
import { etcdOption } from '../../src/etcd/etcd-options.js';
import { applyKv, parseMember, scopePrefix, stateOf } from '../../src/etcd/patroni-keys.js';
import { parseWatchLine } from '../../src/etcd/watch-stream.js';
import { OptionError } from '../../src/errors.js';

const kv = (key: string, value: string, extra: { lease?: string; mod_revision?: string } = {}) => ({
  key: b64(key),
  value: b64(value),
  ...extra,
});
const member = (host: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    conn_url: `postgres://${host}/postgres`,
    api_url: 'http://x:8008/patroni',
    state: 'running',
    role: 'replica',
    timeline: 3,
    ...extra,
  });

test("scopePrefix: Patroni's namespace and scope, one slash between", () => {
  assert.equal(scopePrefix('/service', 'shop'), '/service/shop/');
  assert.equal(scopePrefix('/service/', 'shop'), '/service/shop/');
  assert.equal(scopePrefix('service', 'shop'), '/service/shop/');
  assert.equal(scopePrefix('/', 'shop'), '/shop/');
  assert.equal(prefixEnd('/service/shop/'), '/service/shop0');
});

test("parseMember: the address from conn_url (IPv6, default port), role, state, timeline, Patroni's tags (zone a tag of the user's)", () => {
  assert.deepEqual(parseMember('m1', member('10.0.0.5:5433', { role: 'master', tags: { noloadbalance: true, zone: 'eu-1a' } })), {
    name: 'm1',
    host: '10.0.0.5',
    port: 5433,
    role: 'master',
    state: 'running',
    timeline: 3,
    noLoadBalance: true,
    noFailover: false,
    zone: 'eu-1a',
  });
  assert.equal(parseMember('m1', member('10.0.0.5:5433', { tags: { zone: 7 } }))?.zone, null, 'a zone that is no text is none');
  assert.equal(parseMember('m2', member('[::1]:5432'))?.host, '::1');
  assert.equal(parseMember('m3', member('db3'))?.port, 5432);
  assert.equal(parseMember('m4', '{"api_url": "http://x:8008"}'), null, 'no conn_url');
  assert.equal(parseMember('m5', 'not json'), null);
  assert.equal(parseMember('m6', JSON.stringify({ conn_url: '::not a url' })), null);
});

test('stateOf and applyKv: the leader with its lease, members, timing; keys outside the scope change nothing', () => {
  const prefix = '/service/shop/';
  let state = stateOf(prefix, [
    kv(`${prefix}leader`, 'm1', { lease: '77', mod_revision: '9' }),
    kv(`${prefix}members/m1`, member('10.0.0.1:5432', { role: 'master' }), { lease: '77' }),
    kv(`${prefix}members/m2`, member('10.0.0.2:5432')),
    kv(`${prefix}config`, JSON.stringify({ ttl: 30, loop_wait: 10 })),
    kv(`${prefix}status`, '{"optime": 1}'),
  ]);
  assert.deepEqual(state.leader, { name: 'm1', lease: '77', modRevision: '9' });
  assert.deepEqual([...state.members.keys()], ['m1', 'm2']);
  assert.deepEqual(state.timing, { ttl: 30, loopWait: 10 });
  assert.equal(state.found, true);
  state = applyKv(state, prefix, kv(`${prefix}leader`, ''), true);
  assert.equal(state.leader, null, 'a deleted leader key: no leader');
  state = applyKv(state, prefix, kv(`${prefix}members/m1`, ''), true);
  assert.deepEqual([...state.members.keys()], ['m2'], 'a member whose key expired is gone');
  assert.equal(applyKv(state, prefix, kv('/service/other/leader', 'x'), false), state, 'another scope');
  assert.equal(stateOf(prefix, []).found, false);
  assert.equal(stateOf(prefix, [kv(`${prefix}config`, 'garbage')]).timing, null);
});

test("parseWatchLine: events (a PUT's type left out), a compaction, etcd's cancel and error, and lines that are none", () => {
  const put = parseWatchLine(
    JSON.stringify({ result: { header: { revision: '5' }, events: [{ kv: kv('/a', 'b') }, { type: 'DELETE', kv: kv('/c', '') }] } }),
  );
  assert.equal(put?.events.length, 2);
  assert.equal(put?.events[1]?.type, 'DELETE');
  assert.equal(put?.canceled, false);
  const created = parseWatchLine(JSON.stringify({ result: { header: {}, created: true } }));
  assert.deepEqual(created, { events: [], canceled: false, compactRevision: null, grpcCode: null });
  const compacted = parseWatchLine(JSON.stringify({ result: { canceled: true, compact_revision: '42' } }));
  assert.equal(compacted?.compactRevision, '42');
  assert.equal(compacted?.canceled, true);
  const denied = parseWatchLine(
    JSON.stringify({ result: { watch_id: '-1', created: true, canceled: true, cancel_reason: 'invalid auth token' } }),
  );
  assert.deepEqual([denied?.canceled, denied?.compactRevision], [true, null]);
  assert.equal(parseWatchLine(JSON.stringify({ error: { grpc_code: 16, message: 'x' } }))?.grpcCode, 16);
  assert.equal(parseWatchLine(''), null);
  assert.equal(parseWatchLine('{"result": '), null);
});

test("isAuthRefusal: by etcd's gRPC status (invalid argument, permission denied, unauthenticated), never by text", () => {
  assert.equal(isAuthRefusal(new EtcdAnswerError(3, 'etcdserver: user name is empty')), true);
  assert.equal(isAuthRefusal(new EtcdAnswerError(7, 'etcdserver: permission denied')), true);
  assert.equal(isAuthRefusal(new EtcdAnswerError(16, 'etcdserver: invalid auth token')), true);
  assert.equal(isAuthRefusal(new EtcdAnswerError(14, 'authentication failed')), false);
  assert.equal(isAuthRefusal(new Error('etcdserver: permission denied')), false);
});

test('etcdOption: endpoints in both forms, https with TLS, defaults; bad input is PGSPLIT_OPTION_INVALID without the password', () => {
  const resolved = etcdOption('patroni.etcd', { endpoints: ['10.0.0.5:2379', 'http://etcd2:2379/'], scope: 'shop' });
  assert.deepEqual(resolved.connection.endpoints, ['http://10.0.0.5:2379', 'http://etcd2:2379']);
  assert.equal(resolved.namespace, '/service');
  assert.equal(resolved.connection.timeoutMillis, 2000);
  assert.deepEqual(etcdOption('patroni.etcd', { endpoints: 'etcd1:2379', scope: 's', tls: { ca: 'PEM' } }).connection.endpoints, [
    'https://etcd1:2379',
  ]);
  const rejects = (value: unknown, pattern: RegExp): void => {
    assert.throws(
      () => etcdOption('patroni.etcd', value),
      (err: unknown) => err instanceof OptionError && pattern.test(err.message) && !err.message.includes('s3cret'),
    );
  };
  rejects(undefined, /endpoints/);
  rejects({ endpoints: [], scope: 's' }, /endpoints/);
  rejects({ endpoints: ['http://root:s3cret@etcd:2379'], scope: 's' }, /must not hold credentials/);
  rejects({ endpoints: ['ftp://etcd:2379'], scope: 's' }, /http or https/);
  rejects({ endpoints: ['etcd:2379'] }, /scope/);
  rejects({ endpoints: ['etcd:2379'], scope: 's', password: 's3cret' }, /needs `patroni.etcd.username`/);
  rejects({ endpoints: ['etcd:2379'], scope: 's', username: 'u', password: 12345 }, /password` to be a string$/);
  rejects({ endpoints: ['etcd:2379'], scope: 's', tls: { ca: 5 } }, /PEM/);
  rejects({ endpoints: ['etcd:2379'], scope: 's', sope: 'x' }, /did you mean `patroni.etcd.scope`/);
});
