/**
 * Any value, as the options or as the connection string of connectSplit,
 * connect and probeCluster: the call resolves or rejects with a
 * PgSplitError (never another error), settles at once, and its message
 * never holds a password. Nothing connects anywhere but 127.0.0.1 port 1,
 * where nothing listens: a generated string or environment that would name
 * another host is not run (see `onlyDownHost`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { connect } from '../../src/connect/connect.js';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { PgSplitError } from '../../src/errors.js';
import { probeCluster } from '../../src/probe/probe.js';
import { connectSplit } from '../../src/split/connect-split.js';
import { NoAnswer, within } from '../support/bad-inputs.js';

const DOWN = 'host=127.0.0.1 port=1 connect_timeout=1';
/** Defaults that send a string naming no host or port to the down host too. */
const DOWN_ENV = Object.freeze({ PGHOST: '127.0.0.1', PGPORT: '1', PGCONNECT_TIMEOUT: '1' });
/** A hang guard, not a performance bound: the down host refuses at once. */
const BOUND_MILLIS = 2000;
const RUNS = 1000;
const TIMEOUT = { timeout: 60_000 };

type Api = 'connectSplit' | 'connect' | 'probeCluster';
const APIS: readonly Api[] = ['connectSplit', 'connect', 'probeCluster'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * True when the call cannot connect anywhere but 127.0.0.1 port 1: the string
 * is refused while it is resolved (as the call itself would refuse it), or
 * every host it resolves to (with the options' own env) is 127.0.0.1 port 1.
 */
function onlyDownHost(conninfo: unknown, options: unknown): boolean {
  if (typeof conninfo !== 'string') return true;
  const context: Record<string, unknown> = {};
  if (isPlainObject(options)) {
    for (const key of ['env', 'osUser', 'homeDir', 'warn']) if (options[key] !== undefined) context[key] = options[key];
  }
  let hosts;
  try {
    hosts = resolveConnInfo(conninfo, context).hosts;
  } catch {
    return true;
  }
  return hosts.every(
    (h) => h.portText === '1' && (h.kind === 'address' ? h.hostaddr === '127.0.0.1' : h.kind === 'name' && h.host === '127.0.0.1'),
  );
}

function call(api: Api, conninfo: unknown, options: unknown): Promise<unknown> {
  switch (api) {
    case 'connectSplit':
      return connectSplit(conninfo as never, options as never);
    case 'connect':
      return connect(conninfo as never, options as never);
    case 'probeCluster':
      return probeCluster(conninfo as never, options as never);
  }
}

/** Calls `api`, bounded; a resolved pool or client is ended. Fails unless it resolved or rejected with a PgSplitError. */
async function check(api: Api, conninfo: unknown, options: unknown, password?: string): Promise<void> {
  if (!onlyDownHost(conninfo, options)) return;
  let value: unknown;
  try {
    value = await within(call(api, conninfo, options), BOUND_MILLIS, api);
  } catch (err) {
    if (err instanceof NoAnswer) assert.fail(`${api} did not settle within ${BOUND_MILLIS} ms for ${fc.stringify([conninfo, options])}`);
    assert.ok(
      err instanceof PgSplitError,
      `${api}(${fc.stringify(conninfo)}, ${fc.stringify(options)}) threw ${err instanceof Error ? `${err.name}: ${err.message}` : fc.stringify(err)}`,
    );
    assert.ok(err.code.startsWith('PGSPLIT_'), err.code);
    if (password !== undefined && password.length >= 6) {
      assert.ok(!err.message.includes(password), `${api}: the password is in the message: ${err.message}`);
      const cause = (err.cause as { message?: unknown } | undefined)?.message;
      assert.ok(typeof cause !== 'string' || !cause.includes(password), `${api}: the password is in the cause: ${String(cause)}`);
    }
    return;
  }
  const end = (value as { end?: unknown } | null)?.end;
  if (typeof end === 'function') await (end as () => Promise<void>).call(value);
}

/** Values of every kind, with the edge numbers and functions options care about. */
const anyValue = fc.oneof(
  fc.anything(),
  fc.func(fc.anything()),
  fc.constantFrom<unknown>(
    NaN,
    Infinity,
    -Infinity,
    -1,
    0,
    0.5,
    1.5,
    1,
    1000,
    2 ** 53,
    '',
    '5',
    'x',
    true,
    false,
    null,
    undefined,
    [],
    {},
    Symbol('s'),
    10n,
  ),
);

/** Environment variables the resolution reads, with values of any type. */
const anyEnv = fc.oneof(
  anyValue,
  fc.dictionary(
    fc.constantFrom(
      'PGHOST',
      'PGHOSTADDR',
      'PGPORT',
      'PGUSER',
      'PGDATABASE',
      'PGPASSWORD',
      'PGPASSFILE',
      'PGSSLMODE',
      'PGREQUIRESSL',
      'PGCONNECT_TIMEOUT',
      'PGTARGETSESSIONATTRS',
      'HOME',
    ),
    fc.oneof(anyValue, fc.string({ maxLength: 12 })),
    { maxKeys: 3 },
  ),
);

const POOL_KEYS = [
  'max',
  'min',
  'idleTimeoutMillis',
  'connectionTimeoutMillis',
  'maxUses',
  'maxLifetimeSeconds',
  'allowExitOnIdle',
  'statement_timeout',
  'query_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'keepAlive',
  'keepAliveInitialDelayMillis',
  'application_name',
  'fallback_application_name',
  'options',
  'client_encoding',
  'binary',
  'parseInputDatesAsUTC',
  'enableChannelBinding',
  'types',
  'log',
  'Promise',
  'onConnect',
  'verify',
  'host',
  'port',
  'user',
  'database',
  'password',
  'ssl',
  'connectionString',
  'Client',
  'stream',
  'sslnegotiation',
];

/** A pool-settings value: anything, or an object of pool keys (and random ones) with values of any type. */
const poolSettings = fc.oneof(
  anyValue,
  fc.dictionary(fc.oneof(fc.constantFrom(...POOL_KEYS), fc.string({ maxLength: 8 })), anyValue, { maxKeys: 4 }),
);

/** An options object: keys every API knows, keys of other APIs, near misses and random keys, each with a value of any type. */
function optionsObject(keys: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...keys) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'failoverTimeout',
        'timeout',
        'recheck',
        'Writer',
        'host',
        'port',
        'password',
        'constructor',
        'toString',
        '__proto__',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  );
  const value = (k: string): fc.Arbitrary<unknown> => {
    if (k === 'env') return anyEnv;
    if (k === 'writer' || k === 'reader') return poolSettings;
    if (k === 'maxReplicaLag' || k === 'sessionReads')
      return fc.oneof(
        anyValue,
        fc.dictionary(fc.constantFrom('bytes', 'millis', 'waitMillis', 'fallback', 'bogus'), anyValue, { maxKeys: 2 }),
      );
    return anyValue;
  };
  return fc
    .uniqueArray(key, { maxLength: 5 })
    .chain((ks) => fc.tuple(...ks.map(value)).map((vs) => Object.fromEntries(ks.map((k, i) => [k, vs[i]]))));
}

const CONTEXT_KEYS = ['env', 'osUser', 'homeDir', 'warn'];
const KEYS: Readonly<Record<Api, readonly string[]>> = {
  connectSplit: [
    ...CONTEXT_KEYS,
    'writer',
    'reader',
    'readerPolicy',
    'balance',
    'recheckMillis',
    'failoverRecheckMillis',
    'checkTimeoutMillis',
    'reconnectMaxDelayMillis',
    'failoverTimeoutMillis',
    'lookup',
    'maxReplicaLag',
    'consistency',
    'sessionReads',
    'idleAfterMillis',
  ],
  connect: [...CONTEXT_KEYS, 'lookup', 'random'],
  probeCluster: [...CONTEXT_KEYS, 'timeoutMillis', 'lookup'],
};

/**
 * connectSplit waits for a primary unless told not to: every options object
 * it gets has waitForPrimary false, or a value that is neither a boolean nor 'always' (refused).
 */
function noWait(api: Api, options: unknown): unknown {
  if (api !== 'connectSplit') return options;
  if (options === undefined) return { waitForPrimary: false };
  if (!isPlainObject(options)) return options;
  const wait = options['waitForPrimary'];
  return wait === true || wait === 'always' || wait === undefined ? { ...options, waitForPrimary: false } : options;
}

/** `pw` and letters: a password no message has any other reason to contain. */
const password = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'), minLength: 1, maxLength: 16 })
  .map((s) => `pw${s}`);

/** Pieces of libpq's grammar, without host names: whatever they build connects to the down host or nowhere. */
const PIECES = [
  'postgresql://',
  'postgres://',
  'host=',
  'port=',
  'hostaddr=',
  'user=',
  'password=',
  'dbname=',
  'sslmode=',
  'target_session_attrs=',
  'load_balance_hosts=',
  'connect_timeout=',
  'require_auth=',
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
  '%zz',
  "'",
  '\\',
  ' ',
  '127.0.0.1',
  '1',
  'read-write',
  'prefer-standby',
  'random',
  'require',
  'bogus',
];
const tail = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((parts) => parts.join(''));

/** Connection strings holding `pw` where libpq keeps passwords, in valid and malformed strings. */
const withPassword = fc.tuple(password, tail, fc.nat({ max: 11 })).map(([pw, rest, shape]): [string, string] => {
  const strings = [
    `postgresql://u:${pw}@127.0.0.1:1/db?connect_timeout=1`,
    `postgresql://u:${pw}@127.0.0.1:1/db?${rest}`,
    `${DOWN} password=${pw} ${rest}`,
    `${DOWN} password='${pw}`,
    `${DOWN} sslpassword=${pw} ${rest}`,
    `http://u:${pw}@h/x`,
    `u:${pw}@h`,
    `postgresql:/u:${pw}@h/x`,
    `postgresql//u:${pw}@h/x`,
    `postgresql://u:${pw}@h/x?bogus=1`,
    `postgresql://u:${pw}@[::1/x`,
    `postgresql://u:${pw}@${rest}`,
  ];
  return [strings[shape] ?? strings[0]!, pw];
});

describe('any value as an option or a connection string: resolved, or a PgSplitError', () => {
  for (const api of APIS) {
    test(`${api}: fc.anything() as the options`, TIMEOUT, async () => {
      await fc.assert(
        fc.asyncProperty(fc.anything(), async (options) => check(api, DOWN, noWait(api, options))),
        { numRuns: RUNS, seed: 20261201, includeErrorInReport: true },
      );
    });

    test(`${api}: generated options objects (known keys, near misses, random keys; values of any type)`, TIMEOUT, async () => {
      const waitForPrimary = fc.oneof(fc.constant(false), anyValue);
      const options = fc
        .tuple(optionsObject(KEYS[api]), waitForPrimary)
        .map(([o, wait]) => (api === 'connectSplit' ? { ...o, waitForPrimary: wait } : o));
      await fc.assert(
        fc.asyncProperty(options, async (o) => check(api, DOWN, noWait(api, o))),
        { numRuns: RUNS * 2, seed: 20261202, includeErrorInReport: true },
      );
    });

    test(`${api}: fc.anything() and grammar pieces as the connection string`, TIMEOUT, async () => {
      const conninfo = fc.oneof(
        fc.anything(),
        tail,
        tail.map((t) => `${DOWN} ${t}`),
      );
      const options = noWait(api, { env: DOWN_ENV, homeDir: () => null });
      await fc.assert(
        fc.asyncProperty(conninfo, async (c) => check(api, c, options)),
        { numRuns: RUNS, seed: 20261203, includeErrorInReport: true },
      );
    });

    test(`${api}: a password in a valid or malformed string never shows in the message`, TIMEOUT, async () => {
      const options = noWait(api, { env: DOWN_ENV, homeDir: () => null });
      await fc.assert(
        fc.asyncProperty(withPassword, async ([c, pw]) => check(api, c, options, pw)),
        { numRuns: RUNS, seed: 20261204, includeErrorInReport: true },
      );
    });
  }

  test('connectSplit: writer and reader pool settings of any type', TIMEOUT, async () => {
    await fc.assert(
      fc.asyncProperty(poolSettings, poolSettings, async (writer, reader) =>
        check('connectSplit', DOWN, { waitForPrimary: false, writer, reader }),
      ),
      { numRuns: RUNS * 2, seed: 20261205, includeErrorInReport: true },
    );
  });
});
