import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as pgConnectionStringParse } from 'pg-connection-string';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { clientConfigFor } from '../../src/connect/client-config.js';
import type { Endpoint } from '../../src/connect/messages.js';
import { encryptionOrder, tlsOptionsFor } from '../../src/connect/tls-options.js';

const target = (s: string) => resolveConnInfo(s, { env: {}, osUser: () => 'u', homeDir: () => '/nonexistent', warn: () => undefined });
const tcp = (address: string, port = 5432): Endpoint => ({
  kind: 'tcp',
  displayHost: address,
  address,
  isHostaddr: false,
  port,
  displayPort: String(port),
});

test('one pg config per host: shared user/database/options, the host address, its own .pgpass password', () => {
  const t = target(
    "host=db1,db2 port=5433 user=app dbname=shop application_name=svc options='-c search_path=x' client_encoding=LATIN1 keepalives_idle=30 sslmode=disable",
  );
  const config = clientConfigFor(t, 1, tcp('10.0.0.2', 5433), false);
  assert.equal(config.host, '10.0.0.2');
  assert.equal(config.port, 5433);
  assert.equal(config.user, 'app');
  assert.equal(config.database, 'shop');
  assert.equal(config.application_name, 'svc');
  assert.equal(config.options, '-c search_path=x');
  assert.equal(config.client_encoding, 'LATIN1');
  assert.equal(config.keepAlive, true);
  assert.equal(config.keepAliveInitialDelayMillis, 30_000);
  assert.equal(config.ssl, false);
  assert.throws(() => (config.password as () => string)(), /fe_sendauth: no password supplied/);
  assert.equal(clientConfigFor(target('host=a keepalives=0'), 0, tcp('1.1.1.1'), false).keepAlive, false);
});

test('TLS per host: verify-full checks the name written in the string, never the resolved address', () => {
  const full = tlsOptionsFor(target('host=db.example.com sslmode=verify-full sslrootcert=system'), 'db.example.com');
  assert.equal(full.servername, 'db.example.com');
  assert.equal(full.rejectUnauthorized, true);
  assert.equal(full.checkServerIdentity, undefined);
  const ca = tlsOptionsFor(target('host=db sslmode=verify-ca'), 'db');
  assert.equal(ca.rejectUnauthorized, true);
  assert.equal(typeof ca.checkServerIdentity, 'function');
  const req = tlsOptionsFor(target('host=db sslmode=require'), 'db');
  assert.equal(req.rejectUnauthorized, false);
  assert.equal(tlsOptionsFor(target('host=10.0.0.1 sslmode=require'), '10.0.0.1').servername, undefined, 'no SNI for an IP address');
  assert.equal(tlsOptionsFor(target('host=db sslmode=require sslsni=0'), 'db').servername, undefined);
  assert.equal(tlsOptionsFor(target('host=db ssl_min_protocol_version=tlsv1.3'), 'db').minVersion, 'TLSv1.3');
});

test('encryption order per sslmode, as libpq tries it', () => {
  assert.deepEqual(encryptionOrder('disable'), [false]);
  assert.deepEqual(encryptionOrder('allow'), [false, true]);
  assert.deepEqual(encryptionOrder('prefer'), [true, false]);
  assert.deepEqual(encryptionOrder('require'), [true]);
  assert.deepEqual(encryptionOrder('verify-full'), [true]);
});

test("why pg-split does not use pg-connection-string's parser: it reads libpq's multi-host strings differently (peers.md §4)", () => {
  assert.throws(() => pgConnectionStringParse('postgres://u@127.0.0.1:5433,127.0.0.1:5432/db'), /Invalid URL/);
  assert.equal(pgConnectionStringParse('postgres://u@a,b/db').host, 'a,b');
  assert.deepEqual(
    [pgConnectionStringParse('host=a,b port=1').host, pgConnectionStringParse('host=a,b port=1').database],
    ['base', 'host=a,b port=1'],
  );
  const ours = target('postgres://u@127.0.0.1:5433,127.0.0.1:5432/db');
  assert.deepEqual(
    ours.hosts.map((h) => [h.host, h.portText]),
    [
      ['127.0.0.1', '5433'],
      ['127.0.0.1', '5432'],
    ],
  );
});
