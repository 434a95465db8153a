import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect, promisify } from 'node:util';
import { Client, Pool } from '../../src/pg/index.js';
import { CERT_ROLE, startCluster, type Cluster, type ClusterTls } from '@pg-split/harness';
import { testNet } from '../support/net.js';
import { psqlChoice } from '../support/psql.js';
import { who } from '../support/who.js';

/**
 * pg-split/pg with pg's `ssl` object on a cluster whose servers speak TLS
 * with certificates of their own CA: the object's `ca`, `cert` and `key`
 * reach every connection pg-split makes for the config, its monitoring
 * sessions included, and never an inspection or JSON. The role CERT_ROLE
 * logs in only over TLS with a client certificate (pg_hba `cert`), so a
 * session without the material is refused by the server itself.
 */
const net = testNet(import.meta.url);
const run = promisify(execFile);
/** TLS and the client certificate of the asking session, as the server saw them. */
const TLS_SQL =
  'SELECT current_user AS "user", ssl, client_dn AS "clientDn", host(inet_server_addr()) AS host FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

interface TlsSeen {
  readonly user: string;
  readonly ssl: boolean;
  readonly clientDn: string | null;
  readonly host: string;
}

describe('pg-split/pg over TLS, with the material in pg`s ssl object', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  let tls: ClusterTls;
  let client: { cert: string; key: string };
  let hosts: string;
  before(async () => {
    cluster = await startCluster({ standbys: 2, tls: true, firstAddress: net.first });
    tls = cluster.tls ?? assert.fail('startCluster({ tls: true }) has no tls');
    client = await tls.clientCertificate(CERT_ROLE);
    hosts = cluster.nodes.map((n) => n.host).join(',');
  });
  after(() => cluster?.destroy());

  test('a routed Pool verifies the servers with `ssl.ca` and logs in with `ssl.cert` and `ssl.key`: writes on the primary, reads on standbys', async () => {
    const base = { host: hosts, port: cluster.port, user: CERT_ROLE, database: 'postgres', ssl: { ca: tls.ca, ...client } };
    const writer = new Pool({ ...base, target_session_attrs: 'read-write' });
    const reader = new Pool({ ...base, target_session_attrs: 'prefer-standby' });
    try {
      const wrote = (await writer.query<TlsSeen>(TLS_SQL)).rows[0];
      assert.deepEqual(wrote, { user: CERT_ROLE, ssl: true, clientDn: `/CN=${CERT_ROLE}`, host: cluster.primary.host });
      const read = (await reader.query<TlsSeen>(TLS_SQL)).rows[0];
      assert.ok(
        read !== undefined && read.ssl && read.clientDn === `/CN=${CERT_ROLE}` && cluster.standbys.some((s) => s.host === read.host),
        JSON.stringify(read),
      );
      // Every session of the role on the servers, pg-split's monitoring sessions included, is TLS with the certificate
      // (pg_hba refuses it any other way; the servers say so).
      for (const node of cluster.nodes) {
        const sessions = await node.query<{ ssl: boolean; client_dn: string | null }>(
          `SELECT s.ssl, s.client_dn FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '${CERT_ROLE}'`,
        );
        assert.ok(sessions.length >= 1, `${node.name}: no session of ${CERT_ROLE}`);
        assert.ok(
          sessions.every((s) => s.ssl && s.client_dn === `/CN=${CERT_ROLE}`),
          `${node.name}: ${JSON.stringify(sessions)}`,
        );
      }
    } finally {
      await Promise.all([writer.end(), reader.end()]);
    }
  });

  test('a routed Client does the same; without the certificate the servers refuse it, at once', async () => {
    const config = { host: hosts, port: cluster.port, user: CERT_ROLE, database: 'postgres', target_session_attrs: 'read-write' };
    const withCert = new Client({ ...config, ssl: { ca: tls.ca, ...client } });
    await withCert.connect();
    try {
      assert.deepEqual((await withCert.query<TlsSeen>(TLS_SQL)).rows[0], {
        user: CERT_ROLE,
        ssl: true,
        clientDn: `/CN=${CERT_ROLE}`,
        host: cluster.primary.host,
      });
    } finally {
      await withCert.end();
    }
    const started = Date.now();
    const without = new Client({ ...config, ssl: { ca: tls.ca }, connectionTimeoutMillis: 20_000 });
    await assert.rejects(without.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PGSPLIT_CONNECT_FAILED', err.message);
      assert.match(err.message, /connection requires a valid client certificate/);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `refused after ${Date.now() - started} ms`);
  });

  test('`ssl.ca` is checked: with a CA that did not sign the servers, the pool fails at once with each host`s reason, as psql', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'pg-split-other-ca-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
    await run('openssl', [...args, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=another CA'], { cwd: dir });
    const otherCa = await readFile(join(dir, 'ca.crt'), 'utf8');
    // psql on the same servers: libpq gives up at the first host whose certificate does not verify.
    const libpq = await psqlChoice(
      `host=${hosts} port=${cluster.port} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${join(dir, 'ca.crt')}`,
    );
    assert.ok(!libpq.ok && /SSL error: certificate verify failed/.test(libpq.message), JSON.stringify(libpq));
    const pool = new Pool({
      host: hosts,
      port: cluster.port,
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'read-write',
      ssl: { ca: otherCa },
      connectionTimeoutMillis: 30_000,
    });
    const started = Date.now();
    try {
      await assert.rejects(pool.query('SELECT 1'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PGSPLIT_CONNECT_FAILED', err.message);
        for (const node of cluster.nodes)
          assert.match(err.message, new RegExp(`"${node.host.replaceAll('.', '\\.')}".*SSL error: certificate verify failed`), err.message);
        return true;
      });
      assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms, not at once`);
    } finally {
      await pool.end();
    }
    // The same with the cluster's CA: verified, TLS.
    const verified = new Pool({
      host: hosts,
      port: cluster.port,
      user: 'postgres',
      database: 'postgres',
      target_session_attrs: 'read-write',
      ssl: { ca: tls.ca },
    });
    try {
      assert.deepEqual(await who(verified), { host: cluster.primary.host, standby: false });
    } finally {
      await verified.end();
    }
  });

  test("the key stays readable where pg keeps it and out of inspection and JSON (node-postgres's gh-issues/2303)", async () => {
    const secret = 'FAIL THIS TEST';
    const config = { host: hosts, port: cluster.port, target_session_attrs: 'read-write', ssl: { key: secret } };
    const pool = new Pool(config);
    const client = new Client({ ...config, ssl: { key: secret } });
    try {
      for (const shown of [inspect(pool, { depth: 20 }), inspect(client, { depth: 20 }), JSON.stringify(pool), JSON.stringify(client)])
        assert.ok(!shown.includes(secret), shown.slice(0, 200));
      assert.equal((pool.options.ssl as { key?: string }).key, secret);
      assert.equal((client as unknown as { connectionParameters: { ssl: { key?: string } } }).connectionParameters.ssl.key, secret);
    } finally {
      await Promise.all([pool.end(), client.end().catch(() => undefined)]);
    }
  });
});
