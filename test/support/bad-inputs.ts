/**
 * Bad inputs to every public entry point, each written as a user would write
 * it. test/unit/bad-inputs.test.ts runs those that need no server and checks
 * the contract of docs/errors.md; bench/bad-inputs.ts runs them all and
 * writes the outcomes into docs/errors.md.
 *
 * The only password text in an input is the word `secret` (the harness role's
 * real password is passed through `PGPASSWORD`, never shown); nothing here
 * connects anywhere but 127.0.0.1 port 1 (nothing listens there) and, for the
 * `needsServer` cases, the harness's own nodes.
 */
import { run as runCli } from '../../src/cli/run.js';
import { connect } from '../../src/connect/connect.js';
import { resolveConnInfo } from '../../src/conninfo/resolve.js';
import { PgSplitError, type PgSplitErrorCode } from '../../src/errors.js';
import { probeCluster } from '../../src/probe/probe.js';
import { connectSplit, type SplitCluster } from '../../src/split/connect-split.js';

export type BadInputApi = 'connectSplit' | 'connect' | 'probeCluster' | 'resolveConnInfo' | 'CLI' | 'SplitCluster method';

/** What a case may use: a running server's hosts, a role that needs a password, and that password. */
export interface BadInputContext {
  /** `127.0.0.2:5432,127.0.0.3:5432`: every node of a running cluster; empty when there is none. */
  readonly hosts: string;
  /** A role that must log in with `password` (SECURE_ROLE). */
  readonly role: string;
  /** The role's right password (SECURE_PASSWORD). */
  readonly password: string;
}

/** The context of a run without a server: a case with `needsServer` fails at once with it. */
export const NO_SERVER: BadInputContext = Object.freeze({ hosts: '', role: '', password: '' });

export interface BadInputCase {
  readonly api: BadInputApi;
  /** The call as a user would write it (the only password text in it is `secret`). */
  readonly input: string;
  /** Makes the call. A CLI case resolves with its CliRun (exit status and output), the others settle as the call does. */
  readonly run: (ctx: BadInputContext) => Promise<unknown>;
  readonly needsServer?: boolean;
  /** The code the error must have; unset when more than one would keep the contract. */
  readonly code?: PgSplitErrorCode;
  /** Text the error's message (a CLI case: the first line of stderr) must contain: a "did you mean", the argument named. */
  readonly mentions?: string;
}

/** Where a CLI case ended: `run(argv, io)`'s exit status and what it printed. */
export class CliRun {
  constructor(
    readonly status: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {}
}

/** A host that is down: nothing listens on 127.0.0.1 port 1, so every attempt is refused at once. */
export const DOWN = 'host=127.0.0.1 port=1';

/** A valid write token. */
const TOKEN = '0/3000148';

function needServer(ctx: BadInputContext): string {
  if (ctx.hosts === '') throw new Error('this case needs a running server (needsServer)');
  return ctx.hosts;
}

/** `127.0.0.2,127.0.0.3`: the hosts of `ctx.hosts` without their ports. */
function hostNames(ctx: BadInputContext): string {
  return needServer(ctx)
    .split(',')
    .map((h) => h.replace(/:\d+$/, ''))
    .join(',');
}

/** Runs `fn` on a cluster made with waitForPrimary: false against the down host, and ends it. */
async function withDownCluster<T>(fn: (cluster: SplitCluster) => T | Promise<T>): Promise<T> {
  const cluster = await connectSplit(DOWN, { waitForPrimary: false });
  try {
    return await fn(cluster);
  } finally {
    await cluster.end();
  }
}

function shellWord(arg: string): string {
  return /^[\w.,/=+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

function cli(argv: readonly string[], mentions: string): BadInputCase {
  return {
    api: 'CLI',
    input: ['pg-split', ...argv].map(shellWord).join(' '),
    mentions,
    run: async () => {
      let stdout = '';
      let stderr = '';
      const io = {
        stdout: { write: (s: string) => (stdout += s), isTTY: false },
        stderr: { write: (s: string) => (stderr += s) },
        env: {},
      };
      const status = await runCli(argv, io);
      return new CliRun(status, stdout, stderr);
    },
  };
}

/** connectSplit on the down host with `options`, written as `options` is written in `shown`. */
function splitOption(shown: string, options: unknown, mentions?: string): BadInputCase {
  return {
    api: 'connectSplit',
    input: `connectSplit('${DOWN}', ${shown})`,
    code: 'PGSPLIT_OPTION_INVALID',
    ...(mentions === undefined ? {} : { mentions }),
    run: () => connectSplit(DOWN, options as never),
  };
}

/** connectSplit with a connection string libpq rejects; libpq's message would quote the password. */
function splitString(conninfo: string, mentions?: string): BadInputCase {
  return {
    api: 'connectSplit',
    input: `connectSplit(${conninfo.includes("'") ? JSON.stringify(conninfo) : `'${conninfo}'`})`,
    code: 'PGSPLIT_CONNINFO_INVALID',
    ...(mentions === undefined ? {} : { mentions }),
    run: () => connectSplit(conninfo),
  };
}

function method(input: string, fn: (cluster: SplitCluster) => unknown, code: PgSplitErrorCode = 'PGSPLIT_OPTION_INVALID'): BadInputCase {
  return { api: 'SplitCluster method', input, code, run: () => withDownCluster(async (cluster) => fn(cluster)) };
}

const fn = (): number => 1;

export const BAD_INPUTS: readonly BadInputCase[] = [
  // connectSplit: the connection string argument of the wrong type
  { api: 'connectSplit', input: 'connectSplit(undefined)', code: 'PGSPLIT_CONNINFO_INVALID', run: () => connectSplit(undefined as never) },
  { api: 'connectSplit', input: 'connectSplit(42)', code: 'PGSPLIT_CONNINFO_INVALID', run: () => connectSplit(42 as never) },
  { api: 'connectSplit', input: 'connectSplit(null)', code: 'PGSPLIT_CONNINFO_INVALID', run: () => connectSplit(null as never) },
  { api: 'connectSplit', input: 'connectSplit({})', code: 'PGSPLIT_CONNINFO_INVALID', run: () => connectSplit({} as never) },

  // connectSplit: options
  splitOption('null', null),
  splitOption('42', 42),
  splitOption('[]', []),
  splitOption('{ failoverTimeout: 1000 }', { failoverTimeout: 1000 }, 'did you mean `failoverTimeoutMillis`?'),
  splitOption('{ waitForPrimery: false }', { waitForPrimery: false }, 'did you mean `waitForPrimary`?'),
  splitOption('{ bogus: 1 }', { bogus: 1 }, '`bogus`'),
  splitOption('{ sessionReads: { bogus: 1 } }', { sessionReads: { bogus: 1 } }, '`sessionReads.bogus`'),
  splitOption("{ waitForPrimary: 'yes' }", { waitForPrimary: 'yes' }, '`waitForPrimary`'),
  splitOption("{ writer: { max: 'ten' } }", { writer: { max: 'ten' } }, '`writer.max`'),
  splitOption('{ writer: { max: -5 } }', { writer: { max: -5 } }, '`writer.max`'),
  splitOption('{ writer: { max: 0 } }', { writer: { max: 0 } }, '`writer.max`'),
  splitOption('{ writer: { max: 1.5 } }', { writer: { max: 1.5 } }, '`writer.max`'),
  splitOption("{ writer: { host: 'x' } }", { writer: { host: 'x' } }, '`writer.host`'),
  splitOption('{ reader: { idleTimeout: 1000 } }', { reader: { idleTimeout: 1000 } }, 'did you mean `reader.idleTimeoutMillis`?'),
  splitOption('{ recheckMillis: NaN }', { recheckMillis: NaN }, '`recheckMillis`'),
  splitOption('{ recheckMillis: Infinity }', { recheckMillis: Infinity }, '`recheckMillis`'),
  splitOption('{ failoverTimeoutMillis: 2 ** 53 }', { failoverTimeoutMillis: 2 ** 53 }, '`failoverTimeoutMillis`'),
  splitOption('{ maxReplicaLag: 5000 }', { maxReplicaLag: 5000 }, '`maxReplicaLag`'),
  splitOption('{ maxReplicaLag: { bytes: -1 } }', { maxReplicaLag: { bytes: -1 } }, '`maxReplicaLag.bytes`'),
  splitOption("{ lookup: 'dns' }", { lookup: 'dns' }, '`lookup`'),
  splitOption("{ readerPolicy: 'replica' }", { readerPolicy: 'replica' }, '`readerPolicy`'),
  splitOption("{ env: 'PGHOST=x' }", { env: 'PGHOST=x' }, '`env`'),
  splitOption("{ discovery: { source: 'consul' } }", { discovery: { source: 'consul' } }, '`discovery.source`'),
  splitOption("{ discovery: { source: 'dns' } }", { discovery: { source: 'dns' } }, '`discovery.name`'),
  splitOption(
    "{ patroni: { etcd: { endpoints: ['http://root:secret@etcd1:2379'], scope: 'shop' } } }",
    { patroni: { etcd: { endpoints: ['http://root:secret@etcd1:2379'], scope: 'shop' } } },
    '`patroni.etcd.endpoints` must not hold credentials',
  ),
  splitOption(
    "{ patroni: { etcd: { endpoints: 'etcd1:2379' } } }",
    { patroni: { etcd: { endpoints: 'etcd1:2379' } } },
    '`patroni.etcd.scope`',
  ),
  splitOption(
    "{ discovery: { source: 'patroni', etcd: { scope: 'shop' } } }",
    { discovery: { source: 'patroni', etcd: { scope: 'shop' } } },
    '`discovery.etcd.endpoints`',
  ),
  splitOption(
    "{ discovery: { source: 'function', members: ['db1'] } }",
    { discovery: { source: 'function', members: ['db1'] } },
    '`discovery.members`',
  ),

  // connectSplit: strings libpq rejects, quoting the input (password included) in its message
  splitString('http://user:secret@db1,db2/x'),
  splitString('postgresql:/user:secret@db1/x'),
  splitString('postgresql//user:secret@db1/x'),
  splitString('user:secret@db1/x'),
  splitString('postgresql://user:secret@db1/x?bogus=1', '"bogus"'),
  splitString('postgresql://user:secret@[::1/x'),
  splitString("host=db1 password='secret"),

  // connect
  { api: 'connect', input: 'connect(undefined)', code: 'PGSPLIT_CONNINFO_INVALID', run: () => connect(undefined as never) },
  {
    api: 'connect',
    input: "connect('host=a', { random: 1 })",
    code: 'PGSPLIT_OPTION_INVALID',
    mentions: '`random`',
    run: () => connect('host=a', { random: 1 } as never),
  },
  // Values inside `env` of the wrong type: whether they are refused or read as strings, the down host
  // makes the call fail with a PgSplitError either way.
  {
    api: 'connect',
    input: "connect('host=127.0.0.1 connect_timeout=1', { env: { PGPORT: 1 } })",
    run: () => connect('host=127.0.0.1 connect_timeout=1', { env: { PGPORT: 1 } as never }),
  },
  {
    api: 'connect',
    input: `connect('${DOWN}', { env: { PGREQUIRESSL: 1 } })`,
    run: () => connect(DOWN, { env: { PGREQUIRESSL: 1 } as never }),
  },
  { api: 'connect', input: `connect('${DOWN}', { env: { HOME: 5 } })`, run: () => connect(DOWN, { env: { HOME: 5 } as never }) },
  { api: 'connect', input: `connect('${DOWN}', { homeDir: () => 42 })`, run: () => connect(DOWN, { homeDir: () => 42 as never }) },

  // probeCluster
  {
    api: 'probeCluster',
    input: "probeCluster('x', { timeoutMillis: -1 })",
    code: 'PGSPLIT_CONNINFO_INVALID',
    run: () => probeCluster('x', { timeoutMillis: -1 }),
  },
  {
    api: 'probeCluster',
    input: `probeCluster('${DOWN}', { timeoutMillis: -1 })`,
    code: 'PGSPLIT_OPTION_INVALID',
    mentions: '`timeoutMillis`',
    run: () => probeCluster(DOWN, { timeoutMillis: -1 }),
  },
  {
    api: 'probeCluster',
    input: `probeCluster('${DOWN}', { timeoutMillis: 2 ** 53 })`,
    code: 'PGSPLIT_OPTION_INVALID',
    mentions: '`timeoutMillis`',
    run: () => probeCluster(DOWN, { timeoutMillis: 2 ** 53 }),
  },
  {
    api: 'probeCluster',
    input: `probeCluster('${DOWN}', { timeout: 1000 })`,
    code: 'PGSPLIT_OPTION_INVALID',
    mentions: 'did you mean `timeoutMillis`?',
    run: () => probeCluster(DOWN, { timeout: 1000 } as never),
  },

  // resolveConnInfo (synchronous: a throw becomes the rejection)
  {
    api: 'resolveConnInfo',
    input: "resolveConnInfo('host=a', { bogus: 1 })",
    code: 'PGSPLIT_OPTION_INVALID',
    mentions: '`context.bogus`',
    run: async () => resolveConnInfo('host=a', { bogus: 1 } as never),
  },
  { api: 'resolveConnInfo', input: 'resolveConnInfo(42)', code: 'PGSPLIT_CONNINFO_INVALID', run: async () => resolveConnInfo(42 as never) },

  // SplitCluster methods, on `cluster = await connectSplit('host=127.0.0.1 port=1', { waitForPrimary: false })`
  method("cluster.after('nope', fn)", (c) => c.after('nope', fn)),
  method(`cluster.after('${TOKEN}', 'notafunction')`, (c) => c.after(TOKEN, 'notafunction' as never)),
  method("cluster.on('bogus', fn)", (c) => c.on('bogus' as never, fn)),
  method("cluster.on('change', 'x')", (c) => c.on('change', 'x' as never)),
  method("cluster.reader.query({ text: 'select 1', pgSplit: { after: 42 } })", (c) =>
    c.reader.query({ text: 'select 1', pgSplit: { after: 42 as never } }),
  ),
  method("cluster.reader.query({ text: 'select 1', pgSplit: { bogus: true } })", (c) =>
    c.reader.query({ text: 'select 1', pgSplit: { bogus: true } as never }),
  ),
  {
    api: 'SplitCluster method',
    input: "await cluster.end(); cluster.reader.query('select 1')",
    code: 'PGSPLIT_ENDED',
    run: async () => {
      const cluster = await connectSplit(DOWN, { waitForPrimary: false });
      await cluster.end();
      return cluster.reader.query('select 1');
    },
  },
  {
    api: 'SplitCluster method',
    input: "await cluster.end(); cluster.writer.query('select 1')",
    code: 'PGSPLIT_ENDED',
    run: async () => {
      const cluster = await connectSplit(DOWN, { waitForPrimary: false });
      await cluster.end();
      return cluster.writer.query('select 1');
    },
  },

  // CLI: exit status 2, the bad argument named on stderr's first line
  cli(['probe', '--timeout', 'abc', 'x'], '--timeout'),
  cli(['probe', '--patroni', 'http', 'x'], '--patroni'),
  cli(['parse'], '<conninfo>'),
  cli(['parse', 'http://user:secret@db1/x'], 'http://user:********@db1/x'),
  cli(['nope'], '"nope"'),
  cli(['probe', '--bogus', 'x'], '--bogus'),

  // With a server: every host refuses the login (`<hosts>` is every node of the cluster, `<host names>` the same without ports)
  {
    api: 'connect',
    input: "connect('postgresql://split_secure:secret@<hosts>/postgres') // not the role's password",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'password authentication failed',
    run: (ctx) => connect(`postgresql://${ctx.role}:secret@${needServer(ctx)}/postgres`, { env: {} }),
  },
  {
    api: 'connectSplit',
    input: "connectSplit('postgresql://split_secure:secret@<hosts>/postgres') // not the role's password",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'password authentication failed',
    run: (ctx) => connectSplit(`postgresql://${ctx.role}:secret@${needServer(ctx)}/postgres`, { env: {} }),
  },
  {
    api: 'connect',
    input: "connect('postgresql://split_secure@<hosts>/no_such_db', { env: { PGPASSWORD } }) // the right password",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'no_such_db',
    run: (ctx) => connect(`postgresql://${ctx.role}@${needServer(ctx)}/no_such_db`, { env: { PGPASSWORD: ctx.password } }),
  },
  {
    api: 'connectSplit',
    input: "connectSplit('postgresql://split_secure@<hosts>/no_such_db', { env: { PGPASSWORD } }) // the right password",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'no_such_db',
    run: (ctx) => connectSplit(`postgresql://${ctx.role}@${needServer(ctx)}/no_such_db`, { env: { PGPASSWORD: ctx.password } }),
  },
  {
    api: 'connect',
    input: "connect('host=<host names> port=70000 user=split_secure')",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'invalid port number: "70000"',
    run: (ctx) => connect(`host=${hostNames(ctx)} port=70000 user=${ctx.role}`, { env: {} }),
  },
  {
    api: 'connectSplit',
    input: "connectSplit('host=<host names> port=70000 user=split_secure')",
    needsServer: true,
    code: 'PGSPLIT_CONNECT_FAILED',
    mentions: 'invalid port number: "70000"',
    run: (ctx) => connectSplit(`host=${hostNames(ctx)} port=70000 user=${ctx.role}`, { env: {} }),
  },
];

/** How one case ended. */
export interface Outcome {
  /** The PgSplitError's code; `exit N` for the CLI; `resolved`; the error's name when it is no PgSplitError; `no answer` on a hang. */
  readonly code: string;
  /** The error's message (the CLI: stderr), or a description of what came back. */
  readonly message: string;
  readonly millis: number;
  /** The call kept the contract: a PgSplitError (the CLI: exit 2) with the expected code and mention, no `secret`. */
  readonly kept: boolean;
  /** What broke the contract, when it was broken. */
  readonly problems: readonly string[];
}

/** Frees whatever a call that should have failed gave back (a pool, a client). */
function release(value: unknown): void {
  const end = (value as { end?: unknown } | null)?.end;
  if (typeof end === 'function') Promise.resolve((end as () => unknown).call(value)).catch(() => undefined);
}

/** A call that has not settled within its bound. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

/**
 * Settles as `promise` does, or rejects with NoAnswer after `millis`; the
 * timer is cleared either way, and a late value is released.
 */
export async function within<T>(promise: Promise<T>, millis: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswer(`${what}: no answer within ${millis} ms`)), millis);
  });
  try {
    return await Promise.race([promise, deadline]);
  } catch (err) {
    if (err instanceof NoAnswer) promise.then(release, () => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Words an outcome must never hold: the placeholder password, and the real one. */
function leaks(text: string, ctx: BadInputContext): string[] {
  return [...new Set(['secret', ...(ctx.password === '' ? [] : [ctx.password])])]
    .filter((w) => text.includes(w))
    .map((w) => `the message contains the password text "${w === 'secret' ? w : '(the real password)'}"`);
}

/** Runs one case (bounded by `boundMillis`) and judges it against docs/errors.md. */
export async function outcomeOf(c: BadInputCase, ctx: BadInputContext, boundMillis: number): Promise<Outcome> {
  const started = performance.now();
  let settled: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    settled = { ok: true, value: await within(c.run(ctx), boundMillis, c.input) };
  } catch (error) {
    settled = { ok: false, error };
  }
  const millis = performance.now() - started;
  const problems: string[] = [];
  let code: string;
  let message: string;
  if (settled.ok && settled.value instanceof CliRun) {
    const { status, stdout, stderr } = settled.value;
    code = `exit ${status}`;
    message = stderr;
    if (status !== 2) problems.push(`exit status ${status}, not 2`);
    problems.push(...leaks(stdout + stderr, ctx));
  } else if (settled.ok) {
    release(settled.value);
    code = 'resolved';
    message = `(resolved with ${describe(settled.value)})`;
    problems.push('resolved: the bad input was accepted');
  } else if (settled.error instanceof NoAnswer) {
    code = 'no answer';
    message = settled.error.message;
    problems.push(`no answer within ${boundMillis} ms`);
  } else if (settled.error instanceof PgSplitError) {
    code = settled.error.code;
    message = settled.error.message;
    if (!code.startsWith('PGSPLIT_')) problems.push(`code ${code} does not start with PGSPLIT_`);
    if (c.code !== undefined && code !== c.code) problems.push(`code ${code}, expected ${c.code}`);
    problems.push(...leaks(message, ctx));
  } else {
    const err = settled.error as { name?: unknown; code?: unknown; message?: unknown } | null;
    code = typeof err?.name === 'string' ? err.name : typeof settled.error;
    message = typeof err?.message === 'string' ? err.message : String(settled.error);
    problems.push(`rejected with a raw ${code}${typeof err?.code === 'string' ? ` (${err.code})` : ''}, not a PgSplitError: ${message}`);
    problems.push(...leaks(message, ctx));
  }
  const firstLine = message.split('\n', 1)[0] ?? '';
  if (c.mentions !== undefined && !(c.api === 'CLI' ? firstLine : message).includes(c.mentions)) {
    problems.push(`the ${c.api === 'CLI' ? "stderr's first line" : 'message'} does not mention ${c.mentions}`);
  }
  return { code, message, millis, kept: problems.length === 0, problems };
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return (value as { constructor?: { name?: string } }).constructor?.name ?? 'an object';
}
