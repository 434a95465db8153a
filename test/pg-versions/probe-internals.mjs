// Run inside a throw-away app whose node_modules/pg is the pg version under test,
// and whose node_modules/pg-split is pg-split's compiled source. Prints one JSON line.
import { createRequire } from 'node:module';

const [url, primaryHost, primaryPort] = process.argv.slice(2);
const { connectSplit } = await import('pg-split/src/index.js');
const wire = await import('pg-split/src/connect/pg-wire.js');
const pg = (await import('pg')).default;
const requireFromSplit = createRequire(new URL(import.meta.resolve('pg-split/src/index.js')));
const out = { pgVersion: requireFromSplit('pg/package.json').version, checks: {} };
const config = { host: primaryHost, port: Number(primaryPort), user: 'postgres', database: 'postgres' };

// The protocol connection's events.
const client = new pg.Client(config);
client.on('error', () => undefined); // the socket is cut below on purpose
const seen = new Set();
wire.wireOf(client).on('parameterStatus', (m) => seen.add(m.parameterName));
wire.wireOf(client).once('authenticationOk', () => seen.add('authenticationOk'));
// A listener on the protocol connection's end, registered before connect(), runs before pg fails what it had.
let ended = false;
wire.wireOf(client).once('end', () => (ended = true));
await client.connect();
out.checks.parameterStatus = seen.has('in_hot_standby') || seen.has('server_version');
out.checks.authenticationOk = seen.has('authenticationOk');
const errors = [];
wire.wireOf(client).on('errorMessage', (m) => errors.push(m.code));
await client.query('select 1/0').catch(() => undefined);
out.checks.errorMessageCode = errors[0] === '22012';

// destroySocket cuts a statement in flight; pg's own text says the connection ended.
let endedBeforeRejection = false;
const sleeping = client.query('select pg_sleep(10)').then(
  () => null,
  (e) => ((endedBeforeRejection = ended), e),
);
setTimeout(() => wire.destroySocket(client), 100);
const started = Date.now();
const cut = await sleeping;
out.checks.destroySocket = cut instanceof Error && Date.now() - started < 3000;
out.checks.connectionEndFirst = cut instanceof Error && endedBeforeRejection;

// _ending; unref() (the socket no longer holds the process: its handle says so).
const other = new pg.Client(config);
await other.connect();
wire.unrefClient(other);
out.checks.unrefClient = wire.wireOf(other).stream._handle?.hasRef() === false;
other.ref(); // this script's own awaits below need the socket to hold the process
const before = wire.isEnding(other);
const ending = other.end();
out.checks.isEnding = before === false && wire.isEnding(other) === true;
await ending;

// TLS refused by a server without SSL.
const tls = new pg.Client({ ...config, ssl: { rejectUnauthorized: false } });
let tlsAnswer = null;
wire.onFirstServerByte(tls, (byte) => (tlsAnswer = byte));
const refused = await tls.connect().then(
  () => null,
  (e) => e,
);
out.checks.tlsRefused = refused instanceof Error && tlsAnswer === 'N';

// pg-pool's counters are prototype getters that a subclass can replace.
class Counted extends pg.Pool {}
wire.overridePoolCounters(Counted.prototype, (_pool, name) => (name === 'totalCount' ? 7 : 3));
const counted = new Counted(config);
out.checks.poolCounters = counted.totalCount === 7 && counted.idleCount === 3 && counted.waitingCount === 3 && counted.expiredCount === 3;
await counted.end();

// A client not yet connected can be aimed at another server (pg-split/pg's Client learns its node in connect()).
const aimed = new pg.Client({ ...config, host: '127.0.0.1', port: 1 });
wire.aimClient(aimed, config);
await aimed.connect();
const aimedAt = (await aimed.query('select host(inet_server_addr()) as host')).rows[0];
out.checks.aimClient = aimedAt.host === primaryHost;
await aimed.end();

// pg-split/pg's Pool on this pg: a read-write string goes to the primary.
const splitPg = (await import('pg-split/src/pg/index.js')).default;
const routed = new splitPg.Pool({ connectionString: `${url}${url.includes('?') ? '&' : '?'}target_session_attrs=read-write` });
out.checks.pgModulePool = (await routed.query('select pg_is_in_recovery() as standby')).rows[0].standby === false;
await routed.end();

// The whole library on this pg: writer on the primary, reader on a standby, as the servers say.
const split = await connectSplit(url);
const who = async (pool) => (await pool.query('select host(inet_server_addr()) as host, pg_is_in_recovery() as standby')).rows[0];
const w = await who(split.writer);
const r = await who(split.reader);
out.checks.writerOnPrimary = w.standby === false && w.host === primaryHost;
out.checks.readerOnStandby = r.standby === true;
out.checks.routedCounters = split.writer.totalCount >= 1 && split.reader.totalCount >= 1;
await split.end();
console.log(JSON.stringify(out));
