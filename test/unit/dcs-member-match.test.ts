import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DcsMember } from '../../src/etcd/patroni-keys.js';
import { matchMember, membersNoHostNames } from '../../src/split/patroni/dcs-authority.js';

/**
 * Which Patroni member (from etcd) a host of the connection string is: the
 * same host:port as its conn_url, else the only member on that host (a
 * PgBouncer in front of it, on its own port). A decision table.
 */
const member = (name: string, host: string, port: number): DcsMember => ({
  name,
  host,
  port,
  role: 'replica',
  state: 'streaming',
  timeline: 1,
  noLoadBalance: false,
  noFailover: false,
  zone: null,
});
const MEMBERS = [member('m1', '10.0.0.1', 5432), member('m2', '10.0.0.2', 5432), member('m3', '10.0.0.3', 5432)];

test('the same host and port is the member', () => {
  assert.equal(matchMember(MEMBERS, '10.0.0.2', 5432)?.name, 'm2');
});

test("a bouncer on the member's host, on its own port, is the member behind it", () => {
  assert.equal(matchMember(MEMBERS, '10.0.0.3', 6432)?.name, 'm3');
});

test('no member on the host: none; two members on one host and neither port named: none (which one the bouncer fronts cannot be told)', () => {
  assert.equal(matchMember(MEMBERS, '10.0.0.9', 5432), null);
  const twoOnOne = [member('a', '10.0.0.1', 5432), member('b', '10.0.0.1', 5433)];
  assert.equal(matchMember(twoOnOne, '10.0.0.1', 6432), null);
  assert.equal(matchMember(twoOnOne, '10.0.0.1', 5433)?.name, 'b', 'the exact port still says which');
});

test('membersNoHostNames: the members when no host of the string is one of them; null when one is, or when none is known yet', () => {
  assert.deepEqual(
    membersNoHostNames(MEMBERS, [
      { host: '10.0.0.8', port: 5432 },
      { host: '10.0.0.9', port: 6432 },
    ])?.map((m) => m.name),
    ['m1', 'm2', 'm3'],
  );
  assert.equal(
    membersNoHostNames(MEMBERS, [
      { host: '10.0.0.8', port: 5432 },
      { host: '10.0.0.1', port: 6432 },
    ]),
    null,
  );
  assert.equal(membersNoHostNames([], [{ host: '10.0.0.8', port: 5432 }]), null);
});
