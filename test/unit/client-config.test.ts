import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as pgConnectionStringParse } from 'pg-connection-string';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { clientConfigFor } from '../../src/connect/client-config.js';
import type { Endpoint } from '../../src/connect/messages.js';
import { tlsFailure } from '../../src/connect/messages.js';
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

test("TLS material given beside the string (pg's ssl object) goes over libpq's keywords, except where the string sets the same thing; verification stays the sslmode's", () => {
  const material = Object.defineProperties(
    {},
    {
      ca: { value: 'CA', enumerable: true },
      cert: { value: 'CERT', enumerable: true },
      key: { value: 'KEY', enumerable: false },
      servername: { value: 'db.example', enumerable: true },
      rejectUnauthorized: { value: false, enumerable: true },
      checkServerIdentity: { value: () => undefined, enumerable: true },
    },
  );
  const full = tlsOptionsFor(target('host=db1 sslmode=verify-full').withTls(material), 'db1');
  assert.deepEqual([full.ca, full.cert, full.key, full.servername, full.rejectUnauthorized], ['CA', 'CERT', 'KEY', 'db.example', true]);
  assert.equal(full.checkServerIdentity, (material as { checkServerIdentity: unknown }).checkServerIdentity);
  // The key is there for Node's TLS, and out of inspection and JSON (as pg keeps ssl.key).
  assert.ok(!Object.keys(full).includes('key') && !JSON.stringify(full).includes('KEY'));
  // The string's own file keyword wins over the object's field (pg: the string's ssl settings replace the config's).
  const fromFile = tlsOptionsFor(target('host=db1 sslmode=verify-full sslcert=/nonexistent/c.crt').withTls(material), 'db1');
  assert.equal(fromFile.cert, undefined);
  assert.equal(fromFile.ca, 'CA');
  // Not verify-full: a checkServerIdentity of the object does not turn the name check back on.
  const required = tlsOptionsFor(target('host=db1 sslmode=require').withTls(material), 'db1');
  assert.notEqual(required.checkServerIdentity, (material as { checkServerIdentity: unknown }).checkServerIdentity);
  assert.equal(required.rejectUnauthorized, false);
  // No material: as before.
  assert.deepEqual(tlsOptionsFor(target('host=db1 sslmode=verify-full'), 'db1').ca, undefined);
});

test("a TLS handshake failure in libpq's words, by Node's code (never by message text)", () => {
  const err = (code: string, message: string): Error => Object.assign(new Error(message), { code });
  assert.deepEqual(tlsFailure(err('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')), {
    code: 'SELF_SIGNED_CERT_IN_CHAIN',
    message: 'SSL error: certificate verify failed (self-signed certificate in certificate chain)',
  });
  assert.equal(
    tlsFailure(err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"))?.message,
    "SSL error: Hostname/IP does not match certificate's altnames",
  );
  assert.equal(
    tlsFailure(err('ERR_OSSL_PEM_NO_START_LINE', 'error:0480006C:PEM routines::no start line'))?.code,
    'ERR_OSSL_PEM_NO_START_LINE',
  );
  for (const other of [err('ECONNRESET', 'read ECONNRESET'), err('28P01', 'password authentication failed'), new Error('x'), 'text', null])
    assert.equal(tlsFailure(other), null);
});
