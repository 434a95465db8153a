import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routedConfig, type Routed } from '../../src/pg/pg-config.js';

/**
 * How pg-split/pg reads the config pg.Client and pg.Pool are given: plain
 * ones stay pg's (null), the others are read as libpq reads them. No server
 * decides any of this: the reading is pure.
 */
const ENV = { PGPASSFILE: '/nonexistent' };

function routed(config: unknown, env: Record<string, string> = ENV): Routed {
  const r = routedConfig(config, env);
  assert.ok(r !== null, 'routed');
  return r;
}

const hostsOf = (r: Routed): string[] => r.target.hosts.map((h) => `${h.host ?? '-'}:${h.portText ?? '5432'}`);

test('plain configs stay pg own: one host, no multi-host keyword, nothing in the environment', () => {
  assert.equal(routedConfig(undefined, ENV), null);
  assert.equal(routedConfig('postgresql://u@db1:5433/shop', ENV), null);
  assert.equal(routedConfig({ host: 'db1', port: 5433, user: 'u', database: 'shop' }, ENV), null);
  // pg's own URL forms libpq does not read (a socket path): pg's, as they are.
  assert.equal(routedConfig({ connectionString: 'socket:/var/run/postgresql?db=shop' }, ENV), null);
});

test('a host list, a port list or a multi-host keyword routes; the role follows target_session_attrs', () => {
  const w = routed('postgresql://u@db1,db2:5433,db3/shop?target_session_attrs=read-write');
  assert.equal(w.role, 'writer');
  assert.deepEqual(hostsOf(w), ['db1:5432', 'db2:5433', 'db3:5432']);
  assert.equal(routed({ host: 'db1,db2', port: '5432,5433', user: 'u', target_session_attrs: 'prefer-standby' }).role, 'reader');
  assert.equal(routed({ host: 'db1', user: 'u', target_session_attrs: 'primary' }).role, 'writer');
  // any: libpq's first host that accepts, in a random order with load_balance_hosts=random.
  const any = routed({ host: 'db1,db2', user: 'u' });
  assert.equal(any.role, 'reader');
  assert.equal(any.options.readerPolicy, 'any');
  assert.equal(any.options.balance, 'first');
  assert.equal(routed({ host: 'db1,db2', user: 'u', load_balance_hosts: 'random' }).options.balance, 'random');
});

test("the connection string wins over the fields (pg's rule); ssl and connectionTimeoutMillis become libpq's keywords", () => {
  const r = routed({
    connectionString: 'postgresql://u@db1,db2/shop?target_session_attrs=standby',
    host: 'elsewhere',
    target_session_attrs: 'read-write',
    ssl: { rejectUnauthorized: false },
    connectionTimeoutMillis: 2500,
  });
  assert.deepEqual(hostsOf(r), ['db1:5432', 'db2:5432']);
  assert.equal(r.role, 'reader');
  assert.equal(r.target.option('sslmode'), 'require');
  assert.equal(r.target.option('connect_timeout'), '3');
  assert.equal(routed({ host: 'a,b', user: 'u', ssl: false }).target.option('sslmode'), 'disable');
  assert.equal(routed({ host: 'a,b', user: 'u', ssl: true }).target.option('sslmode'), 'verify-full');
});

test('the environment routes as libpq reads it: PGHOST lists, PGTARGETSESSIONATTRS, PGLOADBALANCEHOSTS; fields win over it', () => {
  const env = { ...ENV, PGHOST: 'db1,db2,db3', PGTARGETSESSIONATTRS: 'read-write', PGUSER: 'app' };
  const r = routed({}, env);
  assert.deepEqual(hostsOf(r), ['db1:5432', 'db2:5432', 'db3:5432']);
  assert.equal(r.role, 'writer');
  assert.equal(r.target.user, 'app');
  assert.equal(routed({ host: 'db1,db2' }, { ...ENV, PGTARGETSESSIONATTRS: 'standby' }).role, 'reader');
  assert.equal(routed({ host: 'db1,db2' }, { ...ENV, PGLOADBALANCEHOSTS: 'random' }).options.balance, 'random');
  // A single PGHOST and no keyword in the environment: plain pg.
  assert.equal(routedConfig({}, { ...ENV, PGHOST: 'db1' }), null);
});

test("a `database` that is itself a connection string is expanded, as libpq's expand_dbname (psql): it wins over host, port, user and password", () => {
  // What Sequelize passes its Client: host (localhost by default), port, user, password, database, nothing else.
  const sequelizeLike = {
    host: 'localhost',
    port: 5432,
    user: 'app',
    password: 'secret',
    database: 'postgresql://db1,db2,db3:5433/shop?target_session_attrs=read-write',
  };
  const r = routed(sequelizeLike);
  // libpq's URI: a port for each host, the default where it has none (the field's port is overridden as a whole).
  assert.deepEqual(hostsOf(r), ['db1:5432', 'db2:5432', 'db3:5433']);
  assert.equal(r.target.dbname, 'shop');
  assert.equal(r.target.user, 'app', 'a user the string does not set is the field');
  assert.equal(r.role, 'writer');
  const kv = routed({ host: 'localhost', user: 'app', database: "host=db1,db2 dbname='my shop' target_session_attrs=prefer-standby" });
  assert.deepEqual(hostsOf(kv), ['db1:5432', 'db2:5432']);
  assert.equal(kv.target.dbname, 'my shop');
  assert.equal(kv.role, 'reader');
  // A field after dbname in the order (target_session_attrs) wins over the expanded string, as libpq's later keywords do.
  assert.equal(
    routed({ database: 'host=db1,db2 dbname=shop target_session_attrs=standby', target_session_attrs: 'read-write' }).role,
    'writer',
  );
  // Expanded with one host: still read as libpq reads it (pg would take the whole string as a database name).
  assert.deepEqual(hostsOf(routed({ host: 'localhost', database: 'host=db9 dbname=shop' })), ['db9:5432']);
  // A bad string in `database` fails with libpq's words.
  assert.throws(() => routedConfig({ database: 'host=db1,db2 bogus=1' }, ENV), {
    name: 'ConnInfoError',
    message: /invalid connection option "bogus"/,
  });
});

test('configs naming the same servers the same way share a key; the application name does not split them, a user or an option does', () => {
  const base = 'postgresql://u@db1,db2/shop?target_session_attrs=read-write';
  const key = routed(base).key;
  assert.equal(routed(`${base}&application_name=other`).key, key);
  assert.equal(routed({ host: 'db1,db2', user: 'u', database: 'shop', target_session_attrs: 'read-write' }).key, key);
  assert.notEqual(routed('postgresql://v@db1,db2/shop?target_session_attrs=read-write').key, key);
  assert.notEqual(routed({ connectionString: base, pgSplit: { maxReplicaLag: { millis: 1000 } } }).key, key);
  const lookup = (): void => undefined;
  assert.equal(
    routed({ connectionString: base, pgSplit: { lookup } }).key,
    routed({ connectionString: base, pgSplit: { lookup } }).key,
    'the same function: the same cluster',
  );
});

test("pg's ssl object: its material reaches the target, secrets out of enumeration; other material is another cluster runtime", () => {
  const base = { host: 'db1,db2', user: 'u', target_session_attrs: 'read-write' };
  const withCa = routed({ ...base, ssl: { ca: 'CA-1', key: 'KEY' } });
  const material = withCa.target.tlsMaterial() as Readonly<Record<string, unknown>>;
  assert.deepEqual([material['ca'], material['key']], ['CA-1', 'KEY']);
  assert.deepEqual(Object.keys(material), ['ca']);
  assert.equal(withCa.target.option('sslmode'), 'verify-full');
  assert.ok(!withCa.key.includes('CA-1') && !withCa.key.includes('KEY'), 'the key holds a digest, not the material');
  assert.equal(routed({ ...base, ssl: { ca: 'CA-1', key: 'KEY' } }).key, withCa.key);
  assert.notEqual(routed({ ...base, ssl: { ca: 'CA-2', key: 'KEY' } }).key, withCa.key);
  assert.equal(routed({ ...base, ssl: true }).target.tlsMaterial(), null);
  assert.equal(routed({ ...base, ssl: { rejectUnauthorized: false } }).target.option('sslmode'), 'require');
});

test('bad input: coded errors, libpq words for strings, at once', () => {
  assert.throws(() => routedConfig(42, ENV), {
    code: 'PGSPLIT_OPTION_INVALID',
    message: /Expected a pg config object or a connection string, got/,
  });
  assert.throws(() => routedConfig({ connectionString: 7 }, ENV), { code: 'PGSPLIT_OPTION_INVALID' });
  assert.throws(() => routedConfig({ host: ['db1', 'db2'] }, ENV), { code: 'PGSPLIT_OPTION_INVALID', message: /`host` to be a string/ });
  assert.throws(() => routedConfig('postgresql://a,b/db?target_session_attrs=bogus', ENV), {
    name: 'ConnInfoError',
    message: /invalid target_session_attrs value: "bogus"/,
  });
  assert.throws(() => routedConfig({ host: 'a,b', pgSplit: { nope: 1 } }, ENV), { code: 'PGSPLIT_OPTION_INVALID', message: /nope/ });
});

test("pg-split's options from PGSPLIT_OPTIONS (JSON), for every routed config; the config's own pgSplit wins key by key", () => {
  const env = { ...ENV, PGSPLIT_OPTIONS: '{"maxReplicaLag": {"millis": 5000}, "idleAfterMillis": 0}' };
  const fromEnv = routed({ host: 'db1,db2', user: 'u' }, env);
  assert.deepEqual(fromEnv.options.maxReplicaLag, { bytes: null, millis: 5000 });
  assert.equal(fromEnv.options.idleAfterMillis, 0);
  const own = routed({ host: 'db1,db2', user: 'u', pgSplit: { maxReplicaLag: { bytes: 1024 } } }, env);
  assert.deepEqual(own.options.maxReplicaLag, { bytes: 1024, millis: null });
  assert.equal(own.options.idleAfterMillis, 0);
  assert.notEqual(fromEnv.key, routed({ host: 'db1,db2', user: 'u' }).key, 'other options: another cluster runtime');
  // A plain config stays pg's: the options do not route it.
  assert.equal(routedConfig({ host: 'db1', user: 'u' }, env), null);
});

test('PGSPLIT_OPTIONS that is not JSON, not an object or names an unknown key: coded errors that never quote the text', () => {
  const secret = 'hunter2';
  for (const text of [`{"patroni": {"etcd": {"password": "${secret}"`, `"${secret}"`, '[1]']) {
    assert.throws(
      () => routedConfig({ host: 'a,b' }, { ...ENV, PGSPLIT_OPTIONS: text }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PGSPLIT_OPTION_INVALID');
        assert.ok(!err.message.includes(secret), err.message);
        return true;
      },
    );
  }
  assert.throws(() => routedConfig({ host: 'a,b' }, { ...ENV, PGSPLIT_OPTIONS: '{"maxReplicaLagg": {}}' }), {
    code: 'PGSPLIT_OPTION_INVALID',
    message: /Unknown option `PGSPLIT_OPTIONS.maxReplicaLagg`; did you mean `PGSPLIT_OPTIONS.maxReplicaLag`\?/,
  });
});

test("pg's connectionTimeoutMillis bounds the wait for a node of the role (failoverTimeoutMillis), unless pgSplit sets it", () => {
  assert.equal(routed({ host: 'db1,db2', user: 'u', connectionTimeoutMillis: 2500 }).options.failoverTimeoutMillis, 2500);
  assert.equal(
    routed({ host: 'db1,db2', user: 'u', connectionTimeoutMillis: 2500, pgSplit: { failoverTimeoutMillis: 60_000 } }).options
      .failoverTimeoutMillis,
    60_000,
  );
  assert.equal(routed({ host: 'db1,db2', user: 'u' }).options.failoverTimeoutMillis, 30_000, "connectSplit's default");
});
