import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { run } from '../../src/cli/run.js';

/** build/test/unit/ -> the package root. */
const PACKAGE = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

interface Outcome {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(argv: readonly string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s), isTTY: false }, stderr: { write: (s: string) => (stderr += s) }, env: {} };
  const status = await run(argv, io);
  return { status, stdout, stderr };
}

/** A string libpq rejects before any connection is tried: a command that got past its usage checks fails on it with libpq's message. */
const REJECTED = 'sslmode=bogus host=h1';
const REJECTED_MESSAGE = 'invalid sslmode value: "bogus"\n';

describe('pg-split --version', () => {
  for (const flag of ['--version', '-V']) {
    test(`${flag} prints the version from package.json`, async () => {
      assert.equal(PACKAGE.name, 'pg-split');
      assert.deepEqual(await cli([flag]), { status: 0, stdout: `${PACKAGE.version}\n`, stderr: '' });
    });
  }

  test('the top-level help lists it', async () => {
    const { status, stdout } = await cli(['--help']);
    assert.equal(status, 0);
    assert.match(stdout, /-V, --version/);
  });
});

/** Each wrong command line, and the first line of what pg-split prints for it on stderr. */
const USAGE_ERRORS: ReadonlyArray<readonly [argv: readonly string[], message: string]> = [
  // parse
  [['parse'], 'pg-split parse: missing the connection string (<conninfo>)'],
  [
    ['parse', 'host=a', 'port=1'],
    "pg-split parse: takes one connection string, got 2 arguments (quote a keyword/value string as one argument: 'host=db1,db2 dbname=shop')",
  ],
  [['parse', '--jsn', 'host=a'], 'pg-split parse: unknown option --jsn; did you mean --json?'],
  [['parse', '-j', 'host=a'], 'pg-split parse: unknown option -j; did you mean --json?'],
  [['parse', '--json=yes', 'host=a'], 'pg-split parse: --json takes no value'],
  [['parse', '--timeout', '5', 'host=a'], 'pg-split parse: unknown option --timeout'],
  [['parse', '--constructor', 'host=a'], 'pg-split parse: unknown option --constructor'],
  [['parse', '--__proto__', 'host=a'], 'pg-split parse: unknown option --__proto__'],
  // probe
  [['probe'], 'pg-split probe: missing the connection string (<conninfo>)'],
  [
    ['probe', 'host=a', 'b'],
    "pg-split probe: takes one connection string, got 2 arguments (quote a keyword/value string as one argument: 'host=db1,db2 dbname=shop')",
  ],
  [
    ['probe', '--timeout', 'abc', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "abc"',
  ],
  [
    ['probe', '--timeout', '0', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "0"',
  ],
  [
    ['probe', '--timeout', '-1', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "-1"',
  ],
  [
    ['probe', '--timeout=', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got ""',
  ],
  [
    ['probe', '--timeout', '1e3', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "1e3"',
  ],
  [
    ['probe', '--timeout', '0x10', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "0x10"',
  ],
  [
    ['probe', '--timeout', 'Infinity', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "Infinity"',
  ],
  [
    ['probe', '--timeout', '86401', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "86401"',
  ],
  [['probe', REJECTED, '--timeout'], 'pg-split probe: --timeout needs a value'],
  [['probe', '--timeout', '--json', REJECTED], 'pg-split probe: --timeout needs a value'],
  [['probe', '--json=1', REJECTED], 'pg-split probe: --json takes no value'],
  [['probe', '--wacth', REJECTED], 'pg-split probe: unknown option --wacth; did you mean --watch?'],
  [['probe', '-t', '5', REJECTED], 'pg-split probe: unknown option -t; did you mean --timeout?'],
  [['probe', '--interval', '1', REJECTED], 'pg-split probe: --interval only applies with --watch'],
  [['probe', '--frames', '3', REJECTED], 'pg-split probe: --frames only applies with --watch'],
  // probe --watch
  [
    ['probe', '--watch', '--json', REJECTED],
    'pg-split probe: --json and --watch cannot be combined (--watch prints a table or a line per change)',
  ],
  [
    ['probe', '--watch', '--interval', '0', REJECTED],
    'pg-split probe: --interval must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "0"',
  ],
  [
    ['probe', '--watch', '--interval', 'fast', REJECTED],
    'pg-split probe: --interval must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "fast"',
  ],
  [
    ['probe', '--watch', '--interval', '-2', REJECTED],
    'pg-split probe: --interval must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "-2"',
  ],
  [['probe', '--watch', REJECTED, '--interval'], 'pg-split probe: --interval needs a value'],
  [['probe', '--watch', '--frames', '0', REJECTED], 'pg-split probe: --frames must be a whole number of at least 1, got "0"'],
  [['probe', '--watch', '--frames', '2.5', REJECTED], 'pg-split probe: --frames must be a whole number of at least 1, got "2.5"'],
  [['probe', '--watch', '--frames', '-3', REJECTED], 'pg-split probe: --frames must be a whole number of at least 1, got "-3"'],
  [['probe', '--watch', '--frames', 'many', REJECTED], 'pg-split probe: --frames must be a whole number of at least 1, got "many"'],
  [['probe', '--watch', REJECTED, '--frames'], 'pg-split probe: --frames needs a value'],
  [['probe', '--watch=1', REJECTED], 'pg-split probe: --watch takes no value'],
  [
    ['probe', '--watch', '--timeout', '0', REJECTED],
    'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got "0"',
  ],
  // demo
  [['demo', '--seconds', '3'], 'pg-split demo: --seconds must be a number of seconds from 8 to 86400, got "3"'],
  [['demo', '--seconds', 'abc'], 'pg-split demo: --seconds must be a number of seconds from 8 to 86400, got "abc"'],
  [['demo', '--seconds', '-10'], 'pg-split demo: --seconds must be a number of seconds from 8 to 86400, got "-10"'],
  [['demo', '--seconds', '0'], 'pg-split demo: --seconds must be a number of seconds from 8 to 86400, got "0"'],
  [['demo', '--seconds'], 'pg-split demo: --seconds needs a value'],
  [['demo', '--seconds', '--no-failover'], 'pg-split demo: --seconds needs a value'],
  [['demo', '--no-failover=true'], 'pg-split demo: --no-failover takes no value'],
  [['demo', '--failover'], 'pg-split demo: unknown option --failover'],
  [['demo', 'now'], 'pg-split demo: takes no arguments besides options, got 1'],
];

describe('usage errors: exit status 2, and the message names the argument', () => {
  for (const [argv, message] of USAGE_ERRORS) {
    test(`pg-split ${argv.join(' ')}`, async () => {
      const { status, stdout, stderr } = await cli(argv);
      assert.equal(status, 2);
      assert.equal(stdout, '');
      const [first, usage, hint] = stderr.split('\n');
      assert.equal(first, message);
      assert.match(usage ?? '', new RegExp(`^Usage: pg-split ${argv[0] ?? ''} `));
      assert.equal(hint, `Run "pg-split ${argv[0] ?? ''} --help" for all options.`);
    });
  }

  test('an unknown command or top-level option', async () => {
    const command = await cli(['prob', REJECTED]);
    assert.equal(command.status, 2);
    assert.match(
      command.stderr,
      /^pg-split: unknown command "prob"; did you mean probe\? \(commands: parse, probe, demo\)\n\nUsage: pg-split <command>/,
    );
    const inherited = await cli(['toString']);
    assert.equal(inherited.status, 2);
    assert.match(inherited.stderr, /^pg-split: unknown command "toString"/);
    const option = await cli(['--verbose']);
    assert.equal(option.status, 2);
    assert.match(option.stderr, /^pg-split: unknown option --verbose\n\nUsage: pg-split <command>/);
  });
});

describe('options that are right get past the usage checks', () => {
  const accepted: ReadonlyArray<readonly string[]> = [
    ['probe', '--timeout', '0.5', REJECTED],
    ['probe', '--timeout=2', '--json', REJECTED],
    ['probe', '--timeout', '.25', REJECTED],
    ['probe', '--watch', '--interval', '0.2', '--frames', '3', '--timeout', '1', REJECTED],
    ['probe', '--', REJECTED],
    ['parse', '--json', '--', REJECTED],
  ];
  for (const argv of accepted) {
    test(`pg-split ${argv.join(' ')} fails on the connection string only`, async () => {
      assert.deepEqual(await cli(argv), { status: 2, stdout: '', stderr: REJECTED_MESSAGE });
    });
  }

  test('--help wins over a missing connection string', async () => {
    for (const command of ['parse', 'probe', 'demo']) {
      const { status, stdout, stderr } = await cli([command, '--help']);
      assert.equal(status, 0);
      assert.match(stdout, new RegExp(`^Usage: pg-split ${command} `));
      assert.equal(stderr, '');
    }
  });
});

describe('a usage error never prints a password', () => {
  const secret = 'S3cret-pw';
  const url = `postgresql://app:${secret}@db1,db2/shop`;
  const cases: ReadonlyArray<readonly string[]> = [
    [url],
    [`--password=${secret}`],
    ['probe', '--timeout', url],
    ['probe', '--watch', '--interval', `password=${secret}`, REJECTED],
    ['probe', '--watch', '--frames', url, REJECTED],
    ['probe', `--password=${secret}`, REJECTED],
    ['probe', `--${url}`, REJECTED],
    ['probe', url, 'extra'],
    ['parse', `host=a password=${secret}`, 'port=1'],
    ['demo', url],
    ['demo', '--seconds', `password=${secret}`],
  ];
  for (const argv of cases) {
    test(JSON.stringify(argv), async () => {
      const { status, stdout, stderr } = await cli(argv);
      assert.equal(status, 2);
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), stderr);
      assert.ok(!stderr.includes('S3cret'), stderr);
    });
  }

  test('a value holding a connection string is described, not shown', async () => {
    const { stderr } = await cli(['probe', '--timeout', url]);
    assert.equal(
      stderr.split('\n')[0],
      'pg-split probe: --timeout must be a number of seconds greater than 0 and at most 86400 (e.g. 5 or 0.5), got a value that is not a number',
    );
  });
});

describe('a malformed password is never printed (issue: percent-encoding errors quoted it)', () => {
  // Each secret carries a distinctive fragment; the rest of the error is libpq's wording.
  const secrets = ['Hx7q%zz', 'Hx7q%00', 'Hx7q Wv3', 'Hx7q%4', 'Hx7q%'];
  const inputs = (pw: string): string[] => [
    `postgresql://app@db1/x?password=${pw}`,
    `postgresql://app@db1/x?sslmode=require&password=${pw}`,
    `postgresql://app@db1/x?pass%77ord=${pw}`,
    `postgresql://app:${pw}@db1/x`,
    `postgresql://app@[::1/x?password=${pw}`,
    `postgresql://app@db1:5432,[::1/x?password=${pw}`,
    `host=db1 password=${pw} dbname=x`,
  ];
  for (const pw of secrets) {
    test(`parse --json and resolveConnInfo with a password ${JSON.stringify(pw.replace('Hx7q', '…'))}`, async () => {
      for (const input of inputs(pw)) {
        const { status, stdout, stderr } = await cli(['parse', '--json', input]);
        for (const fragment of ['Hx7q', 'Wv3']) {
          assert.ok(!stdout.includes(fragment) && !stderr.includes(fragment), `${fragment} printed for ${input}: ${stderr}${stdout}`);
        }
        if (status !== 0) assert.match(stderr, /\*{8}|missing "="|invalid|unexpected|end of string/, stderr);
      }
    });
  }

  test("the issue's own example quotes the mask in libpq's wording", async () => {
    const { status, stderr } = await cli(['parse', '--json', 'postgresql://app@db1/x?password=hunter%zz']);
    assert.equal(status, 2);
    assert.match(stderr, /invalid percent-encoded token: "\*{8}"/);
    assert.ok(!stderr.includes('hunter'));
  });
});

describe('did you mean (CLI)', () => {
  test('a mistyped option of a command names the option meant', async () => {
    const { status, stderr } = await cli(['probe', '--tiemout', '1', 'host=h']);
    assert.equal(status, 2);
    assert.match(stderr, /unknown option --tiemout; did you mean --timeout\?/);
  });

  test('a mistyped command names the command meant', async () => {
    const { status, stderr } = await cli(['prob', 'host=h']);
    assert.equal(status, 2);
    assert.match(stderr, /unknown command "prob"; did you mean probe\?/);
  });

  test('nothing is suggested for a word far from every name, nor for a value that may hold a password', async () => {
    assert.doesNotMatch((await cli(['probe', '--zzzzzzzz'])).stderr, /did you mean/);
    const secret = await cli(['probe', '--postgresql://u:Hx7q@h/x']);
    assert.doesNotMatch(secret.stderr, /did you mean|Hx7q/);
  });

  test('demo --first-address takes only a loopback address with room for two more', async () => {
    for (const bad of ['10.0.0.2', '127.0.0.253', 'db1']) {
      const { status, stderr } = await cli(['demo', '--first-address', bad]);
      assert.equal(status, 2, stderr);
      assert.match(stderr, /--first-address must be an IPv4 address in 127\.0\.0\.0\/8/);
    }
  });
});
