#!/usr/bin/env node
// Generates libpq 15 connection-string test vectors from the real libpq.
//
//   node scripts/gen-conninfo-vectors.mjs        (or: npm run vectors)
//
// Needs a C compiler (`cc`), `pg_config` and libpq 15 (Debian: libpq-dev,
// libpq5).  Plain Node ESM, no dependencies.
//
// What it does:
//   1. compiles scripts/gen-conninfo-vectors/oracle.c into
//      scripts/gen-conninfo-vectors/bin/oracle (git-ignored), linked with -lpq;
//   2. builds the input corpus deterministically (hand-written cases, then
//      cases from a seeded PRNG; SEED below is committed), drops inputs that
//      are out of scope (see EXCLUSIONS) and duplicates (first one wins);
//   3. feeds the inputs to the oracle (NUL-separated on stdin, one JSON line
//      back per input) in a clean environment: only PATH, HOME=/nonexistent,
//      PGPASSFILE=/nonexistent, LC_ALL=C, and -- when `unshare -rn` works --
//      in a fresh network namespace with no usable interface, so that no
//      packet leaves the machine, nothing local is reached over TCP, and every
//      TCP attempt fails at once (deterministic "firstAttemptError" texts);
//   4. writes test/vectors/libpq15-conninfo.json and
//      test/vectors/libpq15-uri-regress.json (one case per line).
//
// Case format (see oracle.c for the full rule):
//   { "group": "...", "input": "...", "ok": false, "error": "..." }
//   { "group": "...", "input": "...", "ok": true, "params": {kw: val, ...},
//     "connectError": "<pqConnectOptions2 validation error>" | null,
//     ["firstAttemptError": "<error of the host walk PQconnectStart began>"] }
// "params" is PQconninfoParse's result (no defaults applied), keys in
// libpq 15's option-table order.  "connectError" is deterministic and
// portable; "firstAttemptError" depends on the machine (DNS, sockets, network
// namespace) and is recorded for information only.
//
// Keywords libpq 15.18 knows (PQconndefaults(), table order), checked at run
// time against the installed libpq:
//   service user password passfile channel_binding connect_timeout dbname
//   host hostaddr port client_encoding options application_name
//   fallback_application_name keepalives keepalives_idle keepalives_interval
//   keepalives_count tcp_user_timeout sslmode sslcompression sslcert sslkey
//   sslpassword sslrootcert sslcrl sslcrldir sslsni requirepeer
//   ssl_min_protocol_version ssl_max_protocol_version gssencmode krbsrvname
//   gsslib replication target_session_attrs
// plus the legacy alias `requiressl` (mapped to sslmode by the parser, not in
// the table).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SEED = 12345;
const RANDOM_KV = 150;
const RANDOM_URI = 150;
const RANDOM_SOUP = 60;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ORACLE_DIR = join(ROOT, 'scripts', 'gen-conninfo-vectors');
const ORACLE_SRC = join(ORACLE_DIR, 'oracle.c');
const ORACLE_BIN = join(ORACLE_DIR, 'bin', 'oracle');
const OUT_MAIN = join(ROOT, 'test', 'vectors', 'libpq15-conninfo.json');
const OUT_REGRESS = join(ROOT, 'test', 'vectors', 'libpq15-uri-regress.json');
const PG18_REGRESS = join(ROOT, 'test', 'vectors', 'pg18-uri-regress.json');

const KEYWORDS_15 = [
  'service',
  'user',
  'password',
  'passfile',
  'channel_binding',
  'connect_timeout',
  'dbname',
  'host',
  'hostaddr',
  'port',
  'client_encoding',
  'options',
  'application_name',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'sslmode',
  'sslcompression',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'requirepeer',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'gssencmode',
  'krbsrvname',
  'gsslib',
  'replication',
  'target_session_attrs',
];

// ---------------------------------------------------------------------------
// EXCLUSIONS: inputs on which libpq 15 and libpq 18 are known to differ, or
// whose result depends on files/servers, are never emitted.
//  - keywords added after 15 (15 says "invalid connection option", 18 accepts);
//  - connect_timeout (checked only after the first attempt; the minimum
//    differs between versions);
//  - service (needs a service file);
//  - sslrootcert=system (a plain file name for 15, special in 16+);
//  - URIs with a literal space or tab anywhere (18 trims/rejects spaces);
//  - URIs with %80-%FF (the decoded byte is not ASCII; JSON cannot carry it
//    unambiguously);
//  - ports/hosts of servers that happen to run on the generating machine
//    (25432, /tmp/smoke) and port 2024 (sandbox service), belt and braces on
//    top of the network namespace.
// ---------------------------------------------------------------------------
const NEWER_KEYWORDS = [
  'load_balance_hosts',
  'sslnegotiation',
  'require_auth',
  'sslcertmode',
  'gssdelegation',
  'sslkeylogfile',
  'min_protocol_version',
  'max_protocol_version',
  'scram_client_key',
  'scram_server_key',
  'oauth_issuer',
  'oauth_client_id',
  'oauth_client_secret',
  'oauth_scope',
];
const NEWER_KEYWORD_RE = new RegExp(`(^|[^A-Za-z0-9_])(${NEWER_KEYWORDS.join('|')})`, 'i');
const URI_PREFIX_RE = /^postgres(ql)?:\/\//;

/** Lenient %XX decoding, only used by the exclusion filter. */
function looseDecode(s) {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

function exclusionReason(input) {
  if (input.includes('\0')) return 'NUL byte';
  if ([...input].some((c) => c.charCodeAt(0) > 0x7f)) return 'non-ASCII';
  if (URI_PREFIX_RE.test(input) && /%[89A-Fa-f][0-9A-Fa-f]/.test(input)) return 'URI decoding to a byte >= 0x80';
  const views = [input, looseDecode(input), input.replace(/\\/g, ''), looseDecode(input).replace(/\\/g, '')];
  for (const v of views) {
    if (NEWER_KEYWORD_RE.test(v)) return 'keyword newer than libpq 15';
    if (/connect_timeout/i.test(v)) return 'connect_timeout';
    if (/service/i.test(v)) return 'service';
    if (/system/i.test(v)) return 'sslrootcert=system';
    if (/2024|25432|smoke/.test(v)) return 'local server port/path';
  }
  if (URI_PREFIX_RE.test(input) && /[ \t]/.test(input)) return 'URI with literal space/tab';
  return null;
}

// ---------------------------------------------------------------------------
// Seeded PRNG (mulberry32).
// ---------------------------------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const int = (n) => Math.floor(rnd() * n);
const pick = (arr) => arr[int(arr.length)];
const chance = (p) => rnd() < p;

// ---------------------------------------------------------------------------
// Corpus
// ---------------------------------------------------------------------------
const corpus = [];
function add(group, ...inputs) {
  for (const input of inputs) corpus.push({ group, input });
}

// Sample values for every keyword (valid for libpq 15).
const SAMPLE = {
  user: 'u',
  password: 'pw',
  passfile: '/nonexistent/pgpass',
  channel_binding: 'prefer',
  dbname: 'db',
  host: 'h1',
  hostaddr: '127.0.0.1',
  port: '5433',
  client_encoding: 'UTF8',
  options: '-c geqo=off',
  application_name: 'app',
  fallback_application_name: 'fb',
  keepalives: '1',
  keepalives_idle: '10',
  keepalives_interval: '5',
  keepalives_count: '3',
  tcp_user_timeout: '1000',
  sslmode: 'require',
  sslcompression: '1',
  sslcert: '/nonexistent/client.crt',
  sslkey: '/nonexistent/client.key',
  sslpassword: 'kp',
  sslrootcert: '/nonexistent/root.crt',
  sslcrl: '/nonexistent/root.crl',
  sslcrldir: '/nonexistent/crldir',
  sslsni: '0',
  requirepeer: 'postgres',
  ssl_min_protocol_version: 'TLSv1.2',
  ssl_max_protocol_version: 'TLSv1.3',
  gssencmode: 'disable',
  krbsrvname: 'postgres',
  gsslib: 'gssapi',
  replication: 'database',
  target_session_attrs: 'any',
};
const TESTED_KEYWORDS = KEYWORDS_15.filter((k) => k !== 'connect_timeout' && k !== 'service');

const ENUMS = {
  sslmode: {
    valid: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
    invalid: ['', 'x', 'Require', 'REQUIRE', 'DISABLE', 'verify_full', 'verifyfull', 'verify-', 'required', 'on', 'true', '1'],
  },
  target_session_attrs: {
    valid: ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'],
    invalid: [
      '',
      'ANY',
      'Any',
      'READ-WRITE',
      'Read-Write',
      'read_write',
      'readwrite',
      'read-only ',
      'Primary',
      'STANDBY',
      'prefer-primary',
      'prefer_standby',
      'preferstandby',
      'master',
      'x',
    ],
  },
  gssencmode: {
    valid: ['disable', 'prefer', 'require'],
    invalid: ['', 'allow', 'Disable', 'PREFER', 'x', 'required'],
  },
  channel_binding: {
    valid: ['disable', 'prefer', 'require'],
    invalid: ['', 'allow', 'Require', 'DISABLE', 'x', 'tls-server-end-point'],
  },
  ssl_min_protocol_version: {
    valid: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
    invalid: ['', 'tlsv1.2', 'TLSV1.2', 'TLSv1.4', 'TLSv1.0', 'SSLv3', '1.2', 'TLS1.2', 'x'],
  },
  ssl_max_protocol_version: {
    valid: ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
    invalid: ['', 'tlsv1.3', 'TLSv1.4', 'SSLv3', 'x'],
  },
};

/** Quote a keyword/value value libpq-style ('...' with \' and \\). */
const q = (v) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
/** Percent-encode everything except unreserved characters. */
const pct = (v) => v.replace(/[^A-Za-z0-9._~-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

// ---- keyword/value: grammar ------------------------------------------------
add(
  'kv-whitespace',
  '',
  ' ',
  '\t',
  '\n',
  ' \t\r\n\v\f ',
  'host=h1',
  ' host=h1',
  'host=h1 ',
  '\n\thost=h1\n',
  'host =h1',
  'host= h1',
  'host = h1',
  'host\t=\th1',
  'host\n=\nh1',
  'host\r\n=\r\nh1',
  'host\v=\fh1',
  'host=h1\tport=5433',
  'host=h1\nport=5433',
  'host=h1\r\nport=5433',
  'host=h1\vport=5433',
  'host=h1\fport=5433',
  'host=h1port=5433',
  'host=h1    port=5433 \t dbname=db   ',
  'host=h1,port=5433',
  'host=h1;port=5433',
  'host=h1&port=5433',
  'host = h1 port = 5433 dbname = db user = u',
  'host=\x01h1',
  'host=h1\x1bport=5433',
  'host=h1\x7f',
  'host\x01=h1',
  'dbname=\x02db\x03',
);
add(
  'kv-missing-equals',
  'host',
  'host ',
  'host h1',
  'host port=5433',
  'host\n',
  '=h1',
  '=',
  ' = ',
  '==',
  '=host=h1',
  'host==h1',
  'host=h1=h2',
  'host=h1 =x',
  'host=h1 port',
  'host=h1 port ',
  'host=h1 port\t',
  'hostport=5433',
  'host:h1',
  'host: h1',
  'host=h1 port:5433',
  'postgre://',
  'postgres:/h1',
  'postgresql:h1',
  'postgresql//h1',
  'POSTGRESQL://h1',
  'Postgres://h1',
  'postgresqlx://h1',
  'postgres ://h1',
  ' postgresql://h1',
  '\npostgresql://h1',
  '\tpostgres://',
  'jdbc:postgresql://h1/db',
  'postgresql:/',
  'postgresql:',
  'postgres',
  'http://h1',
);
add(
  'kv-empty-values',
  'host=',
  'host= ',
  'host=\t',
  'host=\n',
  'host= port=5433',
  'hostaddr= port=5433',
  'host=\tport=5433',
  'host=\nport=5433',
  'host=\n\nport=5433',
  'host= port= dbname=db',
  'host= port=',
  'port= host=',
  "host=''",
  "host='' port=5433",
  "host= ''",
  "host=''port=5433",
  "host='' ''",
  'port=',
  "port=''",
  'dbname= user=u',
  "user= 'x y'",
  'user= =',
  'user= =x',
  "host='' hostaddr=''",
  "host='' hostaddr=127.0.0.1",
  "hostaddr='' host=h1,h2",
  'host= hostaddr=127.0.0.1',
  "sslmode=''",
  'sslmode=',
  'sslmode= host=h1',
  "target_session_attrs=''",
  'target_session_attrs= host=h1',
  "gssencmode=''",
  "channel_binding=''",
  "ssl_min_protocol_version=''",
  "ssl_max_protocol_version=''",
  'password=',
  "password=''",
  "options=''",
  'application_name= dbname=db',
);
add(
  'kv-quoting',
  "host='h1'",
  "host='h 1'",
  "host='h1' port='5433'",
  "host='h1'port=5433",
  "host='h1'  port=5433",
  "host='a\\'b'",
  "host='a\\\\b'",
  "host='a\\b'",
  "host='a\\\\'",
  "host='\\''",
  "host='\\\\'",
  "host='a''b'",
  "host='a'b",
  "host='a' 'b'",
  "host='a'=b",
  "host=a'b'",
  "host=a'b",
  "host=a'",
  "host='unterminated",
  "host='",
  "host='a\\'",
  "host='a\\",
  "host='''",
  "host=''''",
  "'host'=h1",
  "host='a\nb'",
  "host='a\tb'",
  "host='a\r\nb'",
  "password='p w'",
  "password='p''w'",
  "options='-c search_path=x'",
  "options='-c geqo=off' application_name='my app'",
  "options='-c x=\\'y z\\''",
  "user='u' password='p\\'w' dbname='d b'",
  "host='h1, h2'",
  "host='h1 ,h2'",
  "host=' h1'",
  "host='h1 '",
  "port=' 5433 '",
  "port='5433 '",
  "port=' 5433'",
  "port='\t5433\n'",
  "port='5433,5434'",
  "dbname='postgresql://h1/db'",
  "dbname='host=h2 port=1'",
  'dbname=postgresql://h1/db',
  "application_name='\\a\\b\\c'",
  "application_name='\x01'",
  "host='%41'",
);
add(
  'kv-backslash',
  'host=a\\ b',
  'host=a\\ b,c',
  'host=a\\,b',
  'host=a\\',
  'host=\\',
  'host=\\\\',
  'host=a\\\\b',
  "host=a\\'b",
  'host=\\ ',
  'host=\\  port=5433',
  'host=a\\\tb',
  'host=a\\\nb',
  'host=a\\=b',
  'host=\\h\\1',
  'password=p\\ w\\ x',
  'host=h1\\ port=5433',
  'host=h1\\',
  'dbname=a\\\\ port=5433',
  'host\\=h1',
  'ho\\st=h1',
  "host=\\'",
  "host=\\''a'",
  'options=-c\\ geqo=off',
);
add(
  'kv-repeated',
  'host=a host=b',
  'host=a host=',
  "host=a host=''",
  "host='' host=a",
  'port=1 port=2 port=3',
  'sslmode=disable sslmode=require',
  'sslmode=x sslmode=require',
  'sslmode=require sslmode=x',
  'sslmode=disable requiressl=1',
  'requiressl=1 sslmode=disable',
  'requiressl=1 requiressl=0',
  'target_session_attrs=x target_session_attrs=any',
  'gssencmode=x gssencmode=require',
  'host=a,b host=c',
  'host=a,b,c port=1,2 port=1,2,3',
  'hostaddr=127.0.0.1 hostaddr=',
  'user=a user=b password=c password=d',
  'dbname=x dbname=y dbname=',
);
add(
  'kv-unknown-keyword',
  'Host=h1',
  'HOST=h1',
  'hots=h1',
  'host2=h1',
  'hostaddr2=127.0.0.1',
  'authtype=x',
  'tty=x',
  'foo=bar',
  'host=h1 foo=bar',
  'foo=bar host=h1',
  'foo',
  'foo bar',
  'ssl=true',
  'ssl=1',
  'sslmode_=x',
  'SSLMODE=require',
  'user name=x',
  'user-name=x',
  'db=x',
  'database=x',
  'username=x',
  'pass=x',
  'requireSSL=1',
  'RequireSSL=1',
  'requiressl2=1',
  'application-name=x',
  'target-session-attrs=any',
  'targetsessionattrs=any',
  'host=h1 hosts=h2',
  'port=5433 PORT=5433',
  'x=',
  "x=''",
  '_=1',
  '-=1',
  '.=1',
  '\\=1',
  "'=1",
);
add(
  'kv-requiressl',
  'requiressl=0',
  'requiressl=1',
  'requiressl=',
  "requiressl=''",
  'requiressl= ',
  'requiressl=10',
  'requiressl=01',
  'requiressl=yes',
  'requiressl=true',
  'requiressl= 1',
  "requiressl=' 1'",
  'requiressl=1x',
  'requiressl=-1',
  "requiressl='1'",
  'requiressl=2',
  'requiressl=x',
  'requiressl=1 host=h1',
  'requiressl=0 sslmode=require',
  'requiressl=1 sslmode=verify-full',
  'sslmode=x requiressl=1',
  'requiressl=1 sslmode=x',
);

// ---- keyword/value: every keyword, valid values ------------------------------
for (const kw of TESTED_KEYWORDS) add('kv-keyword', `${kw}=${/[\s'\\]/.test(SAMPLE[kw]) ? q(SAMPLE[kw]) : SAMPLE[kw]}`);
add('kv-keyword', TESTED_KEYWORDS.map((kw) => `${kw}=${q(SAMPLE[kw])}`).join(' '));
add(
  'kv-keyword',
  TESTED_KEYWORDS.slice()
    .reverse()
    .map((kw) => `${kw}=${q(SAMPLE[kw])}`)
    .join('\n'),
);
add(
  'kv-keyword',
  'keepalives=x',
  'keepalives=x hostaddr=127.0.0.1 port=5433',
  'keepalives_idle=x hostaddr=127.0.0.1',
  'tcp_user_timeout=-5 host=127.0.0.1',
  'keepalives_count=1.5 host=localhost',
  'keepalives=x host=/tmp',
  'client_encoding=auto',
  'client_encoding=bogus',
  'replication=true',
  'replication=x',
  'sslsni=x',
  'sslcompression=x',
  'gsslib=sspi',
  'gsslib=x',
  'requirepeer=',
  'passfile=',
  'passfile=/tmp',
  'sslcert= sslkey=',
  "sslpassword=''",
  'krbsrvname=',
  'options=-c',
);

// ---- keyword/value: enums ---------------------------------------------------
for (const [kw, { valid, invalid }] of Object.entries(ENUMS)) {
  for (const v of valid) add('kv-enum', `${kw}=${v}`);
  for (const v of invalid) add('kv-enum', `${kw}=${q(v)}`);
  add('kv-enum', `${kw}=${valid[0]} host=h1,h2 port=5433`);
  add('kv-enum', `${kw}=${q(' ' + valid[0])}`, `${kw}=${valid[0]}\\ `);
}
add(
  'kv-enum-order',
  'ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2',
  'ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.2',
  'ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1.3',
  'ssl_min_protocol_version=TLSv1.1 ssl_max_protocol_version=TLSv1',
  'ssl_min_protocol_version=x ssl_max_protocol_version=y',
  "ssl_min_protocol_version='' ssl_max_protocol_version=TLSv1",
  "ssl_max_protocol_version='' ssl_min_protocol_version=TLSv1.3",
  'sslmode=x target_session_attrs=y',
  'target_session_attrs=y sslmode=x',
  'sslmode=x channel_binding=y',
  'channel_binding=y sslmode=x',
  'gssencmode=x target_session_attrs=y',
  'target_session_attrs=y gssencmode=x',
  'ssl_min_protocol_version=x sslmode=y',
  'ssl_min_protocol_version=x gssencmode=y',
  'gssencmode=x ssl_max_protocol_version=y',
  'channel_binding=x gssencmode=y target_session_attrs=z',
  'host=a,b port=1,2,3 sslmode=x',
  'host=a,b hostaddr=127.0.0.1 port=1,2,3',
  'host=a,b hostaddr=127.0.0.1,::1,::1 port=1,2,3,4',
  'host=a port=1,2 target_session_attrs=x',
  'sslmode=disable channel_binding=require',
  'sslmode=disable gssencmode=require',
  'sslmode=require gssencmode=disable channel_binding=disable',
  'requiressl=1 channel_binding=x',
  'target_session_attrs=prefer-standby host=/nonexistent1,/nonexistent2',
  'target_session_attrs=read-write host=h1,h2',
  'target_session_attrs=standby hostaddr=127.0.0.1,::1 port=5433',
);

// ---- keyword/value: host / hostaddr / port lists ---------------------------------
add(
  'kv-hostlist',
  'host=h1,h2',
  'host=h1,h2,h3',
  'host=h1,h2,h3 port=1,2,3',
  'host=h1,h2 port=5433',
  'host=h1,h2 port=1,2,3',
  'host=h1,h2,h3 port=1,2',
  'host=h1, port=1,2',
  'host=,h2',
  'host=,',
  'host=,,',
  'host=, port=1,2',
  'host=h1,,h3 port=1,,3',
  'host=h1,h2, port=1,2',
  'host=h1,h2, port=1,2,',
  'host=h1,h2,',
  'host=h1 port=,',
  'host=h1,h2 port=,',
  'host=h1,h2 port=,,',
  'port=,',
  'port=1,',
  'port=,1',
  'port=1,2',
  'host=h1 port=1,2',
  "host='h1, h2' port=1,2",
  "host='h1 ,h2'",
  "host=' , '",
  'host=h1,h1,h1 port=1',
  'host=/tmp,h2 port=1,2',
  'host=/nonexistent1, port=1',
  'host=/nonexistent1,/nonexistent2 port=1,2',
  'host=h1\\,h2',
  'host=' + Array.from({ length: 20 }, (_, i) => `h${i}`).join(','),
  'host=' + Array.from({ length: 20 }, (_, i) => `h${i}`).join(',') + ' port=' + Array.from({ length: 19 }, (_, i) => `${i + 1}`).join(','),
);
add(
  'kv-hostaddr',
  'hostaddr=127.0.0.1',
  'hostaddr=127.0.0.1 port=5433',
  'hostaddr=127.0.0.1,::1',
  'hostaddr=127.0.0.1,::1 port=1,2',
  'hostaddr=127.0.0.1,::1 port=1,2,3',
  'host=a hostaddr=127.0.0.1,127.0.0.1',
  'host=a,b hostaddr=127.0.0.1',
  'host=a,b hostaddr=127.0.0.1,127.0.0.1',
  'host=a,b,c hostaddr=127.0.0.1,127.0.0.1',
  'host=a,b hostaddr=127.0.0.1,127.0.0.1,127.0.0.1',
  'host=a,b hostaddr=127.0.0.1,',
  'host=a,b hostaddr=,127.0.0.1',
  'host=a,b hostaddr=,',
  'hostaddr=,',
  'hostaddr=,,',
  'hostaddr=, port=1,2',
  'host=a hostaddr=,',
  "hostaddr='' host=a,b",
  'hostaddr=not-an-ip',
  'hostaddr=localhost',
  'hostaddr=h1',
  'hostaddr=1.2.3.4.5',
  'hostaddr=256.1.1.1',
  'hostaddr=127.1',
  'hostaddr=0x7f000001',
  'hostaddr=192.0.2.1',
  'hostaddr=192.0.2.1,198.51.100.1',
  'hostaddr=192.0.2.1 port=1,2',
  'hostaddr=192.0.2.1,192.0.2.2 port=1,2,3',
  'hostaddr=::1',
  'hostaddr=[::1]',
  'hostaddr=2001:db8::1',
  'hostaddr=fe80::1%lo',
  'hostaddr=fe80::1%25lo',
  'hostaddr=::ffff:127.0.0.1',
  'host=/tmp hostaddr=127.0.0.1',
  'host=/tmp,h2 hostaddr=127.0.0.1,',
  'hostaddr=127.0.0.1\\,::1',
  "hostaddr=' 127.0.0.1'",
  "hostaddr='127.0.0.1 '",
  'hostaddr=127.0.0.1,not-an-ip',
  'hostaddr=not-an-ip,127.0.0.1',
);
add(
  'kv-ipv6-socket',
  'host=::1',
  'host=[::1]',
  'host=::1 port=5433',
  'host=2001:db8::1',
  'host=fe80::1%eth0',
  'host=::1,127.0.0.1 port=1,2',
  'host=::1,127.0.0.1 port=1',
  'host=localhost',
  'host=localhost,127.0.0.1,::1 port=5433',
  'host=/tmp',
  'host=/tmp port=5433',
  'host=/tmp,/var/run/postgresql',
  'host=/nonexistent',
  'host=/',
  'host=//',
  'host=@abstract',
  'host=@',
  'host=@a,@b port=1,2',
  'host=relative/path',
  'host=./rel',
  'host=~/sock',
  "host='/path with space'",
  'host=/tmp/',
  'host=/tmp/.s.PGSQL.5432',
  'host=C:\\\\tmp',
  'host=\\\\tmp',
);
add(
  'kv-port',
  ...[
    '5432',
    '0',
    '1',
    '65535',
    '65536',
    '70000',
    '-1',
    'abc',
    '1a',
    'a1',
    '+1',
    '0x10',
    '010',
    '05433',
    '99999999999',
    '2147483647',
    '2147483648',
    '4294967297',
    '-2147483649',
    '1.5',
    '1e3',
    '5433;',
    '00000',
  ].map((p) => `host=/nonexistent1 port=${p}`),
  "port=' '",
  "port=' 1 '",
  "port='1 2'",
  "port='\t5433\n'",
  "port='5433\\n'",
  'port=\\ 5433',
  'host=/x,/y port=70000,5433',
  'host=/x,/y port=5433,70000',
  'host=/x,/y port=abc,5433',
  'host=/x,/y port=5433,abc',
  'host=/x,/y port=0,abc',
  'host=/x,/y port=,abc',
  'host=/x,/y,/z port=1,70000,x',
  'host=h1,/y port=abc,1',
  'host=/x,/y port=1,2 target_session_attrs=prefer-standby',
  'host=/x port=70000 target_session_attrs=prefer-standby',
  'hostaddr=127.0.0.1,::1 port=70000,abc',
  'hostaddr=127.0.0.1 port=0',
  'host=localhost port=65536',
);

// ---- URI: prefix, userinfo --------------------------------------------------------
add(
  'uri-prefix',
  'postgresql://',
  'postgres://',
  'postgresql:///',
  'postgres:///',
  'postgresql://h1',
  'postgres://h1',
  'postgresql:////',
  'postgresql://h1/',
  'postgresql://h1\n',
  'postgresql://\n',
  'postgresql://h1\r\n/db',
  'postgresql://h1/db\n',
  'postgresql://\x01',
  'postgresql://h1\x7f',
  'postgresql://h1?user=\x1b',
  'postgres://postgres://h1',
  'postgresql://h1=x',
  'postgresql://host=h1',
  'postgresql://?',
  'postgresql://#',
);
add(
  'uri-userinfo',
  'postgresql://u@h1',
  'postgresql://u:p@h1',
  'postgresql://u:p:q@h1',
  'postgresql://u:@h1',
  'postgresql://:p@h1',
  'postgresql://:@h1',
  'postgresql://@h1',
  'postgresql://@',
  'postgresql://u@',
  'postgresql://u:p@',
  'postgresql://u%40x@h1',
  'postgresql://u@x@h1',
  'postgresql://u:p@x@h1',
  'postgresql://u:p%3Aq@h1',
  'postgresql://u%3Ap@h1',
  'postgresql://u:p@/db',
  'postgresql://u:p@?host=h1',
  'postgresql://h1?application_name=a@b',
  'postgresql://h1/db?user=a@b',
  'postgresql://h1?x@y',
  'postgresql://h1?user=a@h2',
  'postgresql://u:p@h1:1,h2:2/db',
  'postgresql://u%zz@h1',
  'postgresql://u:%zz@h1',
  'postgresql://u:p%00@h1',
  'postgresql://u%20x@h1',
  'postgresql://u+x@h1',
  'postgresql://u%2Bx:p%2Fq@h1',
  'postgresql://%75@h1',
  'postgresql://u:p@h1?user=v&password=w',
  'postgresql://u:p@h1?user=&password=',
  'postgresql://[::1]@h1',
  'postgresql://u@[::1]:5433/db',
  'postgresql://u@h1,u2@h2/db',
  'postgresql://u:p@',
  'postgresql://u:p',
  'postgresql://u@/',
  'postgresql://u%@h1',
  'postgresql://u%4@h1',
  'postgresql://u:p%@h1',
  'postgresql://u:%00@h1',
  'postgresql://u::@h1',
  'postgresql://h1:5433@h2',
  'postgresql://h1,h2@h3',
);

// ---- URI: hosts and ports ---------------------------------------------------------------
add(
  'uri-hostlist',
  'postgresql://h1,h2',
  'postgresql://h1:1,h2:2',
  'postgresql://h1:1,h2',
  'postgresql://h1,h2:2',
  'postgresql://h1,,h3',
  'postgresql://,',
  'postgresql://,,',
  'postgresql://,h2',
  'postgresql://h1,',
  'postgresql://h1:1,',
  'postgresql://:1,:2',
  'postgresql://:1',
  'postgresql://:',
  'postgresql://:/',
  'postgresql://h1:',
  'postgresql://h1:/db',
  'postgresql://h1:,h2:',
  'postgresql://h1:5432:5433',
  'postgresql://h1:5432:5433/db',
  'postgresql://h1::1',
  'postgresql://h1:abc',
  'postgresql://h1:70000',
  'postgresql://h1:-1',
  'postgresql://h1:0',
  'postgresql://h1:65535',
  'postgresql://%2Fx:abc',
  'postgresql://%2Fx:70000',
  'postgresql://%2Fx,%2Fy:abc',
  'postgresql://%2Fx:70000,%2Fy:5433',
  'postgresql://h1%2Ch2',
  'postgresql://h1%2Ch2:1',
  'postgresql://h1:1%2C2',
  'postgresql://h1%2Ch2:1%2C2',
  'postgresql://h1%2ch2%2ch3:1%2C2',
  'postgresql://h1%2C:1',
  'postgresql://h1,h2/db?port=1',
  'postgresql://h1,h2/db?port=1,2,3',
  'postgresql://h1,h2/db?host=x',
  'postgresql://h1:1,h2:2/db?host=x',
  'postgresql://h1:1,h2:2/db?host=x,y',
  'postgresql:///db?host=h1,h2&port=1,2',
  'postgresql://h1?host=',
  'postgresql://h1:1?port=',
  'postgresql://h1,h2?port=',
  'postgresql://h1,h2?host=&port=',
  'postgresql://h1?hostaddr=127.0.0.1,127.0.0.1',
  'postgresql://h1,h2?hostaddr=127.0.0.1',
  'postgresql://h1,h2?hostaddr=127.0.0.1,::1',
  'postgresql://?hostaddr=127.0.0.1,::1&port=1,2',
  'postgresql://h1?host=a&host=b',
  'postgresql://h1:1?port=2&port=3',
  'postgresql://h1,h2,h3:3/db',
  'postgresql://localhost,127.0.0.1:5433',
  'postgresql://h1:5433/db?target_session_attrs=read-write',
  'postgresql://a:1,b:2,c:3,d:4,e:5/db',
  'postgresql://a,b,c?port=1,2',
  'postgresql://a:1,b:2,c:3?port=1,2',
);
add(
  'uri-socket',
  'postgresql://%2Ftmp',
  'postgresql://%2Ftmp:5433/db',
  'postgresql://%2ftmp,h2/db',
  'postgresql://%2Fnonexistent1,%2Fnonexistent2',
  'postgresql://%40abstract',
  'postgresql://@abstract',
  'postgresql:///db?host=@abstract',
  'postgresql:///db?host=%2Ftmp',
  'postgresql:///db?host=/tmp',
  'postgresql://?host=/tmp,/nonexistent',
  'postgresql://%2Fvar%2Frun%2Fpostgresql',
  'postgresql:///?host=%2F',
  'postgresql://%2F',
  'postgresql://%2F:1',
  'postgresql://%2F%2F',
);
add(
  'uri-ipv6',
  'postgresql://[::1]',
  'postgresql://[::1]:1',
  'postgresql://[::1],[::2]:2',
  'postgresql://[::1]:1,h2:2/db',
  'postgresql://[::1]/db',
  'postgresql://[::1]?',
  'postgresql://[::1]/',
  'postgresql://[::1],',
  'postgresql://h1,[::1]',
  'postgresql://[::1',
  'postgresql://[::1,h2',
  'postgresql://[',
  'postgresql://[]',
  'postgresql://[]:1',
  'postgresql://[],h2',
  'postgresql://h1,[]',
  'postgresql://[::1]]',
  'postgresql://[[::1]]',
  'postgresql://[::1]x',
  'postgresql://[::1]:',
  'postgresql://[::1]:/db',
  'postgresql://[::1]%',
  'postgresql://[::1]@',
  'postgresql://[::1][::2]',
  'postgresql://h1,[::1]z',
  'postgresql://h1,h2,[::1]:1:2',
  'postgresql://::1',
  'postgresql://::1/db',
  'postgresql://[fe80::1%25eth0]',
  'postgresql://[fe80::1%eth0]',
  'postgresql://[%zz]',
  'postgresql://[a,b]',
  'postgresql://[a,b]:1',
  'postgresql://[h1]',
  'postgresql://[2001:db8::1]:5433,[2001:db8::2]:5434/db',
  'postgresql://[::1]:5433%2C5434',
  'postgresql://[%2F]',
  'postgresql://[/tmp]',
  'postgresql://[::1]\n',
  'postgresql://]',
  'postgresql://h1]',
  'postgresql://h1[::1]',
  'postgresql://[::ffff:127.0.0.1]',
  'postgresql://[::1]?host=h1',
  'postgresql://[::1]:1?port=2',
);

// ---- URI: percent-decoding, dbname, query ---------------------------------------------
add(
  'uri-percent',
  'postgresql://%68ost',
  'postgresql://%68%6F%73%74',
  'postgresql://%6a',
  'postgresql://%6A',
  'postgresql://%zz',
  'postgresql://%1',
  'postgresql://%',
  'postgresql://%%',
  'postgresql://%%41',
  'postgresql://%4%31',
  'postgresql://%00',
  'postgresql://a%00b',
  'postgresql://h1:%35%34%33%33',
  'postgresql://h1:5%2',
  'postgresql://h1/%64b',
  'postgresql://h1/db%',
  'postgresql://h1/db%zz',
  'postgresql://h1/db%00',
  'postgresql://h1/%2F',
  'postgresql://h1/a%2Fb',
  'postgresql://h1?user=%75',
  'postgresql://h1?user=%',
  'postgresql://h1?user=%zz',
  'postgresql://h1?user=a%00',
  'postgresql://h1?%75ser=x',
  'postgresql://h1?us%65r=x',
  'postgresql://h1?user%3Dx',
  'postgresql://h1?user=a%3Db',
  'postgresql://h1?user=a%26b',
  'postgresql://h1?user%26port=1',
  'postgresql://h1?user=a+b',
  'postgresql://h1?user=a%2Bb',
  'postgresql://h1?options=-c%20geqo%3Doff',
  'postgresql://h1%20x',
  'postgresql://%20h1',
  'postgresql://h1%20',
  'postgresql://h1%09',
  'postgresql://h1%0A',
  'postgresql://h1?user=%20u%20',
  'postgresql://h1%2',
  'postgresql://h1%g0',
  'postgresql://h1%0g',
  'postgresql://%3A',
  'postgresql://h1%3A5433',
  'postgresql://%5B%3A%3A1%5D',
  'postgresql://%2C',
  'postgresql://%2C%2C',
  'postgresql://h1:%2C',
  'postgresql://h1,h2%2C:1',
  'postgresql://%40',
  'postgresql://%3F',
  'postgresql://h1%3Fuser=x',
  'postgresql://h1%2Fdb',
  'postgresql://%FF',
  'postgresql://%7F',
  'postgresql://%01',
  'postgresql://h1?host=%2C',
  'postgresql://h1?port=1%2C2',
  'postgresql://u%3A%40:p%3A%40@h1',
  `postgresql://h1?application_name=${pct("a b'c\\d=e&f")}`,
);
add(
  'uri-dbname',
  'postgresql://h1/db',
  'postgresql://h1/db/x',
  'postgresql://h1//db',
  'postgresql://h1///',
  'postgresql://h1/?dbname=x',
  'postgresql://h1/a?dbname=b',
  'postgresql://h1/db?',
  'postgresql://h1/db#frag',
  'postgresql://h1/db:x',
  'postgresql://h1/db@x',
  'postgresql:///%2Ftmp',
  'postgresql://h1/a=b',
  'postgresql://h1/a,b',
  'postgresql://h1/[x]',
  'postgresql://h1/db?dbname=',
  'postgresql:///db',
  'postgresql:///db?host=h1',
  'postgresql://h1/postgresql://h2/db',
  'postgresql://h1/host=h2',
  'postgresql://h1/db?dbname=postgresql://h2',
  "postgresql://h1/'db'",
  'postgresql://h1/db\\x',
  'postgresql://h1/?',
);
add(
  'uri-query',
  'postgresql://h1?a=b',
  'postgresql://h1?user=u&dbname=d',
  'postgresql://h1?user',
  'postgresql://h1?user=',
  'postgresql://h1?=u',
  'postgresql://h1?=',
  'postgresql://h1?&',
  'postgresql://h1?&&',
  'postgresql://h1?user=u&',
  'postgresql://h1?user=u&&port=1',
  'postgresql://h1?&user=u',
  'postgresql://h1?user=u=v',
  'postgresql://h1?user==',
  'postgresql://h1?==',
  'postgresql://h1??',
  'postgresql://h1??user=u',
  'postgresql://h1?user=u?x',
  'postgresql://h1?user=u?x=y',
  'postgresql://h1?user=a&b',
  'postgresql://h1?ssl=true',
  'postgresql://h1?ssl=false',
  'postgresql://h1?ssl=1',
  'postgresql://h1?ssl=TRUE',
  'postgresql://h1?ssl=',
  'postgresql://h1?ssl',
  'postgresql://h1?ssl=true&sslmode=disable',
  'postgresql://h1?sslmode=disable&ssl=true',
  'postgresql://h1?requiressl=1',
  'postgresql://h1?requiressl=0',
  'postgresql://h1?requiressl=',
  'postgresql://h1?requiressl=yes',
  'postgresql://h1?requiressl=1&sslmode=x',
  'postgresql://h1?Host=x',
  'postgresql://h1?host=x#y',
  'postgresql://h1?user=u;port=1',
  'postgresql://h1?user=u&password=p&dbname=d&port=1',
  'postgresql://h1?dbname=x&dbname=y',
  'postgresql://h1/db?port=abc',
  'postgresql://h1/db?port=70000',
  'postgresql://h1?port=1,2',
  'postgresql://h1?host=h2,h3&port=1,2,3',
  'postgresql://h1?hostaddr=',
  'postgresql://?host=&hostaddr=127.0.0.1',
  'postgresql://h1?foo=bar&user=u',
  'postgresql://h1?user=u&foo=bar',
  'postgresql://h1?authtype=x',
  'postgresql://h1?tty=x',
  'postgresql://h1?options=-c\nx',
  'postgresql://h1?user=\n',
  'postgresql://h1?\nuser=u',
  'postgresql://h1?user=u\n&port=1',
  'postgresql://h1?user\r=u',
);
for (const kw of TESTED_KEYWORDS) add('uri-keyword', `postgresql://?${kw}=${pct(SAMPLE[kw])}`);
add(
  'uri-keyword',
  `postgresql://u:p@h1:1,h2:2/db?${TESTED_KEYWORDS.filter((k) => !['user', 'password', 'dbname', 'host', 'port'].includes(k))
    .map((k) => `${k}=${pct(SAMPLE[k])}`)
    .join('&')}`,
);
for (const [kw, { valid, invalid }] of Object.entries(ENUMS)) {
  for (const v of valid) add('uri-enum', `postgresql://h1?${kw}=${v}`);
  for (const v of invalid) add('uri-enum', `postgresql://h1?${kw}=${pct(v)}`);
}
add(
  'uri-enum-order',
  'postgresql://h1,h2:1,h3?port=1,2&sslmode=x',
  'postgresql://h1?sslmode=x&target_session_attrs=y',
  'postgresql://h1?target_session_attrs=y&channel_binding=x',
  'postgresql://h1,h2?hostaddr=127.0.0.1,::1,::1&target_session_attrs=x',
  'postgresql://h1?ssl_min_protocol_version=TLSv1.3&ssl_max_protocol_version=TLSv1.1',
  'postgresql://%2Fx,%2Fy?target_session_attrs=prefer-standby',
  'postgresql://h1?gssencmode=&sslmode=',
);

// ---- random part -------------------------------------------------------------------
const HOSTS = [
  'h1',
  'h2',
  'h3',
  'host',
  'localhost',
  '127.0.0.1',
  '::1',
  '/tmp',
  '/nonexistent',
  '@abstract',
  '192.0.2.1',
  '',
  'a.b.invalid',
];
const PORTS = ['5432', '5433', '1', '0', '65535', '65536', 'abc', '', '-1', ' 1', '1 '];
const KV_KEYS = [...TESTED_KEYWORDS, 'requiressl', 'Host', 'foo', 'hostaddr', 'host', 'host', 'port', 'port'];
const CTRL = ['\x01', '\x02', '\x07', '\x08', '\x0b', '\x0c', '\x0d', '\x0a', '\x1b', '\x1f', '\x7f'];
const KV_NOISE = [' ', '\t', '\n', '=', "'", '\\', ',', "\\'", '\\\\', "''", ...CTRL, 'x'];
const URI_NOISE = [
  '@',
  ':',
  '/',
  '?',
  '&',
  '=',
  ',',
  '[',
  ']',
  '%',
  '%2C',
  '%2F',
  '%zz',
  '%00',
  '%3D',
  '%26',
  '%41',
  '#',
  ';',
  '+',
  "'",
  '\\',
  ...CTRL.filter((c) => c !== '\t'),
  'x',
];

function randomValue(kw) {
  if (kw === 'host') return Array.from({ length: 1 + int(3) }, () => pick(HOSTS)).join(',');
  if (kw === 'port') return Array.from({ length: 1 + int(3) }, () => pick(PORTS)).join(',');
  if (kw === 'hostaddr') return Array.from({ length: 1 + int(3) }, () => pick(['127.0.0.1', '::1', '', '192.0.2.1', 'bad'])).join(',');
  if (ENUMS[kw]) return pick(chance(0.6) ? ENUMS[kw].valid : ENUMS[kw].invalid);
  if (kw === 'requiressl') return pick(['0', '1', '', 'yes']);
  return SAMPLE[kw] ?? 'v';
}
function kvValue(v) {
  const style = int(6);
  if (style === 0) return q(v);
  if (style === 1) return v.replace(/[\s'\\]/g, (c) => `\\${c}`);
  if (style === 2) return `'${v}'`; // may be broken on purpose
  return /[\s'\\]/.test(v) || v === '' ? q(v) : v;
}
function mutate(s, noise, n) {
  let out = s;
  for (let i = 0; i < n; i++) {
    const at = int(out.length + 1);
    const op = int(3);
    if (op === 0) out = out.slice(0, at) + pick(noise) + out.slice(at);
    else if (op === 1) out = out.slice(0, at) + out.slice(at + 1 + int(3));
    else out = out.slice(0, at) + pick(noise) + out.slice(at + 1);
  }
  return out;
}
function randomKv() {
  const pairs = Array.from({ length: 1 + int(5) }, () => {
    const kw = pick(KV_KEYS);
    const sp = () => pick(['', '', '', ' ', '\t', '\n', '  ']);
    return `${kw}${sp()}=${sp()}${kvValue(randomValue(kw))}`;
  });
  let s = pick(['', '', ' ', '\n']) + pairs.join(pick([' ', ' ', '\t', '\n', '  ', '\r\n']));
  if (chance(0.5)) s = mutate(s, KV_NOISE, 1 + int(3));
  return s;
}
function randomUri() {
  let s = pick(['postgresql://', 'postgresql://', 'postgres://']);
  if (chance(0.4)) s += `${pick(['u', 'user', '', 'u%40x'])}${chance(0.5) ? ':' + pick(['p', 'p:q', '', 'p%3A']) : ''}@`;
  const n = int(4);
  const entries = [];
  for (let i = 0; i < n; i++) {
    let h = pick(HOSTS);
    if (h.includes(':')) h = `[${h}]`;
    else if (h.startsWith('/') || h.startsWith('@')) h = pct(h);
    entries.push(h + (chance(0.5) ? `:${pick(PORTS).trim()}` : ''));
  }
  s += entries.join(',');
  if (chance(0.6)) s += `/${pick(['db', '', 'd%62', 'a/b', 'db%2F'])}`;
  if (chance(0.6)) {
    const params = Array.from({ length: 1 + int(3) }, () => {
      const kw = pick([...KV_KEYS, 'ssl']);
      return `${kw}=${kw === 'ssl' ? pick(['true', 'false']) : pct(randomValue(kw))}`;
    });
    s += `?${params.join('&')}`;
  }
  if (chance(0.5)) s = mutate(s, URI_NOISE, 1 + int(3));
  return s;
}
function randomSoup() {
  const alphabet = [
    'h',
    '=',
    ' ',
    "'",
    '\\',
    ',',
    ':',
    '/',
    '@',
    '?',
    '&',
    '[',
    ']',
    '%',
    '0',
    '1',
    'a',
    '\n',
    '\x01',
    'host',
    'port',
    '%2C',
  ];
  const body = Array.from({ length: 1 + int(16) }, () => pick(alphabet)).join('');
  return chance(0.5) ? `postgresql://${body.replace(/[ \t]/g, '')}` : body;
}
for (let i = 0; i < RANDOM_KV; i++) add('random-kv', randomKv());
for (let i = 0; i < RANDOM_URI; i++) add('random-uri', randomUri());
for (let i = 0; i < RANDOM_SOUP; i++) add('random-soup', randomSoup());

// ---------------------------------------------------------------------------
// The 63 inputs of PostgreSQL's src/interfaces/libpq/t/001_uri.pl
// (section 5.1 of the reference), with the environment the test sets.
// ---------------------------------------------------------------------------
const URI_REGRESS = [
  'postgresql://uri-user:secret@host:12345/db',
  'postgresql://uri-user@host:12345/db',
  'postgresql://uri-user@host/db',
  'postgresql://host:12345/db',
  'postgresql://host/db',
  'postgresql://uri-user@host:12345/',
  'postgresql://uri-user@host/',
  'postgresql://uri-user@',
  'postgresql://host:12345/',
  'postgresql://host:12345',
  'postgresql://host/db',
  'postgresql://host/',
  'postgresql://host',
  'postgresql://',
  'postgresql://?hostaddr=127.0.0.1',
  'postgresql://example.com?hostaddr=63.1.2.4',
  'postgresql://%68ost/',
  'postgresql://host/db?user=uri-user',
  'postgresql://host/db?user=uri-user&port=12345',
  'postgresql://host/db?u%73er=someotheruser&port=12345',
  'postgresql://host/db?u%7aer=someotheruser&port=12345',
  'postgresql://host:12345?user=uri-user',
  'postgresql://host?user=uri-user',
  'postgresql://host?  user = uri-user & port  = 12345 ',
  'postgresql://host?  user user  =  uri  & port = 12345 12 ',
  'postgresql://host?  user  =  uri-user  & port = 12345 12 ',
  'postgresql://host?',
  'postgresql://[::1]:12345/db',
  'postgresql://[::1]/db',
  'postgresql://[2001:db8::1234]/',
  'postgresql://[200z:db8::1234]/',
  'postgresql://[::1]',
  'postgres://',
  'postgres:///',
  'postgres:///db',
  'postgres://uri-user@/db',
  'postgres://?host=/path/to/socket/dir',
  'postgresql://host?uzer=',
  'postgre://',
  'postgres://[::1',
  'postgres://[]',
  'postgres://[::1]z',
  'postgresql://host?zzz',
  'postgresql://host?value1&value2',
  'postgresql://host?key=key=value',
  'postgres://host?dbname=%XXfoo',
  'postgresql://a%00b',
  'postgresql://%zz',
  'postgresql://%1',
  'postgresql://%',
  'postgres://@host',
  'postgres://host:/',
  'postgres://:12345/',
  'postgres://otheruser@?host=/no/such/directory',
  'postgres://otheruser@/?host=/no/such/directory',
  'postgres://otheruser@:12345?host=/no/such/socket/path',
  'postgres://otheruser@:12345/db?host=/path/to/socket',
  'postgres://:12345/db?host=/path/to/socket',
  'postgres://:12345?host=/path/to/socket',
  'postgres://%2Fvar%2Flib%2Fpostgresql/dbname',
  'postgresql://host?sslmode=disable',
  'postgresql://host?sslmode=prefer',
  'postgresql://host?sslmode=verify-full',
].map((input, i) => ({ n: i + 1, input, env: i + 1 >= 61 ? { PGSSLROOTCERT: 'system' } : undefined }));

// ---------------------------------------------------------------------------
// Running the oracle
// ---------------------------------------------------------------------------
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr}`);
  return r;
}

function compileOracle() {
  const includedir = run('pg_config', ['--includedir']).stdout.trim();
  mkdirSync(dirname(ORACLE_BIN), { recursive: true });
  run('cc', ['-std=c99', '-D_POSIX_C_SOURCE=200809L', '-O2', '-Wall', '-Wextra', `-I${includedir}`, ORACLE_SRC, '-lpq', '-o', ORACLE_BIN]);
}

function cleanEnv(extra = {}) {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', PGPASSFILE: '/nonexistent', LC_ALL: 'C', ...extra };
}

const canUnshare = (() => {
  const r = spawnSync('unshare', ['-rn', 'true'], { env: cleanEnv(), stdio: 'ignore' });
  return !r.error && r.status === 0;
})();
if (!canUnshare) {
  console.warn('warning: `unshare -rn` is not available; running the oracle on the real network.');
  console.warn('         DNS lookups of bogus names may be slow, and firstAttemptError texts will differ.');
}

// Without a network namespace, lookups of bogus names go to the real DNS
// server; on the machine the vectors were first made on, about one lookup in
// 30 was dropped and took 5 s.  The fallback therefore shortens the resolver
// timeout and gives each case more time (the oracle aborts a case that takes
// longer than --timeout seconds instead of hanging).
const FALLBACK_ENV = { RES_OPTIONS: 'timeout:1 attempts:1' };
const FALLBACK_ARGS = ['--timeout', '30'];

function runOracle(inputs, { args = [], env = {} } = {}) {
  const payload = Buffer.concat(inputs.map((s) => Buffer.from(`${s}\0`, 'latin1')));
  const [cmd, cmdArgs] = canUnshare ? ['unshare', ['-rn', ORACLE_BIN, ...args]] : [ORACLE_BIN, [...FALLBACK_ARGS, ...args]];
  const fullEnv = cleanEnv(canUnshare ? env : { ...FALLBACK_ENV, ...env });
  const r = run(cmd, cmdArgs, { input: payload, env: fullEnv, timeout: 1_800_000 });
  // libpq prints 'WARNING: password file "/tmp" is not a plain file' for the
  // passfile=/tmp cases; that is expected and not an error.
  const stderr = r.stderr.split('\n').filter((l) => l !== '' && !/^WARNING: password file ".*" is not a plain file$/.test(l));
  if (stderr.length) process.stderr.write(`${stderr.join('\n')}\n`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (lines.length !== inputs.length) throw new Error(`oracle printed ${lines.length} lines for ${inputs.length} inputs`);
  return lines.map((l) => JSON.parse(l));
}

// The first line of a firstAttemptError must look like a host-walk message.
// Validation errors are always the whole message, so a validation message
// missing from oracle.c's list would show up here instead of being misfiled.
const HOST_WALK_START = [
  /^could not translate host name "/,
  /^could not translate Unix-domain socket path "/,
  /^could not parse network address "/,
  /^invalid integer value ".*" for connection option "port"/,
  /^invalid port number: "/,
  /^connection to server (at|on socket) /,
];
function checkFirstAttempt(input, msg) {
  const first = msg.split('\n')[0];
  if (!HOST_WALK_START.some((re) => re.test(first))) {
    throw new Error(`unclassified connect error for ${JSON.stringify(input)}: ${JSON.stringify(msg)}`);
  }
}

function libpqVersionString(num) {
  return num >= 100000
    ? `${Math.floor(num / 10000)}.${num % 10000}`
    : `${Math.floor(num / 10000)}.${Math.floor(num / 100) % 100}.${num % 100}`;
}

function writeCasesFile(path, header, cases) {
  // Arrays of strings (keywords, notes) stay readable; keywords go on one line.
  const head = JSON.stringify(header, (k, v) => (k === 'keywords' ? '@KEYWORDS@' : v), 2)
    .replace('"@KEYWORDS@"', JSON.stringify(header.keywords ?? []))
    .replace(/\n}$/, '');
  const body = cases.map((c) => `    ${JSON.stringify(c)}`).join(',\n');
  writeFileSync(path, `${head},\n  "cases": [\n${body}\n  ]\n}\n`);
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------
const t0 = process.hrtime.bigint();
compileOracle();
const versionNum = Number(run(ORACLE_BIN, ['--version'], { env: cleanEnv() }).stdout.trim());
const keywords = JSON.parse(run(ORACLE_BIN, ['--keywords'], { env: cleanEnv() }).stdout);
if (Math.floor(versionNum / 10000) !== 15 || JSON.stringify(keywords) !== JSON.stringify(KEYWORDS_15)) {
  throw new Error(`expected libpq 15 with the keyword list in this script; found ${versionNum}: ${keywords.join(' ')}`);
}

const seen = new Set();
const dropped = {};
const cases = [];
for (const { group, input } of corpus) {
  const why = exclusionReason(input);
  if (why) {
    dropped[why] = (dropped[why] ?? 0) + 1;
    continue;
  }
  if (seen.has(input)) continue;
  seen.add(input);
  cases.push({ group, input });
}

const results = runOracle(cases.map((c) => c.input));
const out = cases.map((c, i) => {
  const r = results[i];
  if (r.firstAttemptError !== undefined) checkFirstAttempt(c.input, r.firstAttemptError);
  return { group: c.group, input: c.input, ...r };
});

// Coverage self-checks: every tested keyword appears in a parsed result of both syntaxes.
for (const syntax of ['kv', 'uri']) {
  const isUri = (s) => URI_PREFIX_RE.test(s);
  const got = new Set(out.filter((c) => c.ok && isUri(c.input) === (syntax === 'uri')).flatMap((c) => Object.keys(c.params)));
  const missing = TESTED_KEYWORDS.filter((k) => !got.has(k));
  if (missing.length) throw new Error(`no ${syntax} case sets: ${missing.join(', ')}`);
}

const isolation = canUnshare
  ? 'unshare -rn (fresh network namespace: no interface is up, every TCP attempt fails at once, DNS lookups fail)'
  : "none (unshare -rn unavailable; RES_OPTIONS=timeout:1 attempts:1): firstAttemptError texts reflect this machine's network";
const header = {
  generatedBy: 'scripts/gen-conninfo-vectors.mjs',
  libpq: libpqVersionString(versionNum),
  libpqVersionNum: versionNum,
  seed: SEED,
  environment: `PATH, HOME=/nonexistent, PGPASSFILE=/nonexistent, LC_ALL=C; network isolation: ${isolation}`,
  notes: [
    'group: the part of the corpus a case comes from (kv-* and uri-* are hand-written, random-* come from the seeded PRNG).',
    'params: PQconninfoParse() result, no defaults applied, keys in libpq 15 option-table order.',
    'connectError: PQconnectStart() CONNECTION_BAD message from connect-time option validation (pqConnectOptions2), else null.',
    'firstAttemptError: other immediate CONNECTION_BAD message (host walk started by PQconnectStart); machine-dependent; absent when the status was not CONNECTION_BAD.',
    'Excluded on purpose: keywords newer than libpq 15, connect_timeout, service, sslrootcert=system, URIs with a literal space or tab, URIs with %80-%FF.',
  ],
  keywords,
};
mkdirSync(dirname(OUT_MAIN), { recursive: true });
writeCasesFile(OUT_MAIN, header, out);

// ---- URI regression inputs ----------------------------------------------------------
const pg18 = existsSync(PG18_REGRESS) ? new Map(JSON.parse(readFileSync(PG18_REGRESS, 'utf8')).cases.map((c) => [c.n, c])) : new Map();
const regressOut = [];
const envGroups = new Map();
for (const c of URI_REGRESS) {
  const key = JSON.stringify(c.env ?? {});
  if (!envGroups.has(key)) envGroups.set(key, []);
  envGroups.get(key).push(c);
}
const regressResults = new Map();
for (const [key, group] of envGroups) {
  const res = runOracle(
    group.map((c) => c.input),
    { args: ['--regress'], env: JSON.parse(key) },
  );
  group.forEach((c, i) => regressResults.set(c.n, res[i]));
}
for (const c of URI_REGRESS) {
  const r = regressResults.get(c.n);
  const row = { n: c.n, input: c.input, ...(c.env ? { env: c.env } : {}), ...r };
  const p = pg18.get(c.n);
  if (p) {
    if (p.error !== undefined) row.pg18Error = p.error;
    else row.pg18Expected = p.expected;
    row.sameAsPg18 = p.error !== undefined ? !r.ok && r.error === p.error : r.ok && r.regress === p.expected;
  }
  regressOut.push(row);
}
writeCasesFile(
  OUT_REGRESS,
  {
    generatedBy: 'scripts/gen-conninfo-vectors.mjs',
    libpq: libpqVersionString(versionNum),
    libpqVersionNum: versionNum,
    source: 'inputs of PostgreSQL src/interfaces/libpq/t/001_uri.pl (reference section 5.1), run through libpq 15',
    environment: `as libpq15-conninfo.json; rows with "env" ran with those variables added; network isolation: ${isolation}`,
    notes: [
      'Same fields as libpq15-conninfo.json, plus regress: the line the upstream driver would print (options differing from PQconndefaults(), then (inet)/(local)).',
      'pg18Expected/pg18Error: the PostgreSQL 18 expectation from pg18-uri-regress.json; sameAsPg18 compares it with libpq 15.',
    ],
  },
  regressOut,
);

// ---- summary ----------------------------------------------------------------------
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const count = (pred) => out.filter(pred).length;
const uri = (c) => URI_PREFIX_RE.test(c.input);
console.log(`libpq ${libpqVersionString(versionNum)}; isolation: ${canUnshare ? 'unshare -rn' : 'none'}`);
console.log(`${relative(ROOT, OUT_MAIN)}: ${out.length} cases`);
console.log(
  `  keyword/value: ${count((c) => !uri(c))} (${count((c) => !uri(c) && c.ok)} parse ok, ${count((c) => !uri(c) && !c.ok)} parse error, ${count((c) => !uri(c) && c.ok && c.connectError !== null)} connectError)`,
);
console.log(
  `  URI:           ${count(uri)} (${count((c) => uri(c) && c.ok)} parse ok, ${count((c) => uri(c) && !c.ok)} parse error, ${count((c) => uri(c) && c.ok && c.connectError !== null)} connectError)`,
);
console.log(
  `  dropped by exclusions: ${JSON.stringify(dropped)}; duplicates removed: ${corpus.length - out.length - Object.values(dropped).reduce((a, b) => a + b, 0)}`,
);
console.log(
  `${relative(ROOT, OUT_REGRESS)}: ${regressOut.length} cases, ${regressOut.filter((c) => c.sameAsPg18 === false).length} differ from PG18`,
);
console.log(`done in ${ms.toFixed(0)} ms`);
