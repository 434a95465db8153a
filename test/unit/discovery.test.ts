import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listedMembers, resolveDiscovery } from '../../src/split/discovery/discovery.js';
import { planMembership } from '../../src/split/watch/members.js';

test('membership plan: members named and not active are added once, active members not named are removed', () => {
  const active = new Map([
    ['db1:5432', 0],
    ['db2:5432', 1],
  ]);
  const plan = planMembership(active, [
    { host: 'db2', port: 5432 },
    { host: 'db3', port: 5432 },
    { host: 'db3', port: 5432 },
    { host: 'db2', port: 6432 },
  ]);
  assert.deepEqual(
    plan.add.map((m) => `${m.host}:${m.port}`),
    ['db3:5432', 'db2:6432'],
  );
  assert.deepEqual(plan.remove, [0]);
  assert.deepEqual(
    planMembership(active, [
      { host: 'db1', port: 5432 },
      { host: 'db2', port: 5432 },
    ]),
    { add: [], remove: [] },
  );
});

test("a function source's answer: host:port strings (IPv6 in brackets) and { host, port } objects; anything else is PGSPLIT_DISCOVERY_INVALID", () => {
  assert.deepEqual(listedMembers(['db1', 'db2:6432', '[::1]:5433', { host: 'db3' }, { host: 'db4', port: 7000 }]), [
    { host: 'db1', port: 5432 },
    { host: 'db2', port: 6432 },
    { host: '::1', port: 5433 },
    { host: 'db3', port: 5432 },
    { host: 'db4', port: 7000 },
  ]);
  for (const bad of [null, 'db1', [42], [''], [{ host: '' }], [{ host: 'db', port: 0 }], [{ host: 'db', port: 70000 }], [{ port: 5432 }]]) {
    assert.throws(() => listedMembers(bad), { code: 'PGSPLIT_DISCOVERY_INVALID' }, JSON.stringify(bad));
  }
});

test("the discovery option: each source's keys and defaults; a missing source, an unknown key or a bad value is PGSPLIT_OPTION_INVALID", () => {
  assert.equal(resolveDiscovery(undefined), null);
  const patroni = resolveDiscovery({ source: 'patroni' });
  assert.deepEqual({ port: patroni?.port, interval: patroni?.intervalMillis }, { port: 8008, interval: 5000 });
  assert.equal(resolveDiscovery({ source: 'dns', name: 'db.example' })?.port, 5432);
  assert.deepEqual(resolveDiscovery({ source: 'srv', name: '_postgresql._tcp.example', servers: ['127.0.0.1:5353'] })?.servers, [
    '127.0.0.1:5353',
  ]);
  for (const bad of [
    {},
    { source: 'consul' },
    { source: 'dns' },
    { source: 'dns', name: '' },
    { source: 'srv', name: 'x', port: 5432 },
    { source: 'dns', name: 'x', servers: [] },
    { source: 'function' },
    { source: 'function', members: [] },
    { source: 'patroni', port: 70000 },
    { source: 'patroni', intervalMillis: -1 },
    { source: 'patroni', name: 'x' },
    'patroni',
    42,
  ]) {
    assert.throws(() => resolveDiscovery(bad), { code: 'PGSPLIT_OPTION_INVALID' }, JSON.stringify(bad));
  }
});
