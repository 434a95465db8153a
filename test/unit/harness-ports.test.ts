import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findFreePort } from '@pg-split/harness';

test('the harness never hands out one port twice in a process, even before anything binds it (an etcd member asks for its client and peer ports in a row)', async () => {
  // 300 picks from 12000 ports: a collision is all but certain (about 4 expected) unless picks are remembered.
  const ports: number[] = [];
  for (let i = 0; i < 300; i++) ports.push(await findFreePort(['127.0.0.1']));
  assert.equal(new Set(ports).size, ports.length);
});
