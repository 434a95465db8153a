import type { Cluster } from '@pg-split/harness';
import { renderFrame, type DemoEvent } from '../demo/screen.js';
import { emptyCounts, startTraffic, type TrafficCounts } from '../demo/traffic.js';
import { connectSplit, type SplitCluster } from '../split/connect-split.js';
import { flag, readCommandLine, secondsOption, shown, text, UsageError } from './args.js';
import { EXIT, type CliIo } from './io.js';

export const DEMO_HELP = `Usage: pg-split demo [--seconds <n>] [--no-failover] [--first-address <ip>]

Starts a local primary and two standbys (PostgreSQL server binaries from this
machine, each on its own loopback address), connects with connectSplit, and
shows live which server answers the writes and the reads. After a few seconds
it stops the primary and promotes a standby, and you watch the writer follow.
Everything is removed on exit and on Ctrl-C.

  --seconds <n>    how long to run, 8 to 86400 (default 15)
  --no-failover    only show the routing
  --first-address <ip>
                   the primary's loopback address; the standbys take the two
                   after it (default 127.0.0.2, so .2, .3 and .4)
`;

const sleep = (millis: number): Promise<void> => new Promise((r) => setTimeout(r, millis));

interface DemoRun {
  readonly io: CliIo;
  readonly started: number;
  readonly events: DemoEvent[];
}

function note(run: DemoRun, text: string): void {
  run.events.push({ atMillis: Date.now() - run.started, text });
  if (!run.io.stdout.isTTY) run.io.stdout.write(`+${((Date.now() - run.started) / 1000).toFixed(3)} s  ${text}\n`);
}

async function waitForWriteAfter(counts: TrafficCounts, since: number, millis: number): Promise<boolean> {
  const deadline = Date.now() + millis;
  while (counts.lastWriteAt <= since) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

/** Stops the primary, promotes the first standby, repoints the second: the failover the demo shows. */
async function failover(run: DemoRun, cluster: Cluster, counts: TrafficCounts): Promise<void> {
  const [next, other] = cluster.standbys;
  if (next === undefined || other === undefined) return;
  note(run, `stopping the primary ${cluster.primary.host} (fast shutdown)`);
  await cluster.primary.stop('fast');
  note(run, 'primary down: writes wait for a new primary, reads continue on the standbys');
  await sleep(1000);
  note(run, `promoting ${next.host}`);
  await next.promote();
  const promotedAt = Date.now();
  note(run, `${next.host} promoted`);
  if (await waitForWriteAfter(counts, promotedAt, 10_000)) {
    note(run, `first write acknowledged by ${counts.lastWriteHost}, ${counts.lastWriteAt - promotedAt} ms after the promotion`);
  }
  await other.follow(next);
  note(run, `${other.host} now streams from ${next.host}`);
}

async function show(run: DemoRun, cluster: Cluster, split: SplitCluster, seconds: number, withFailover: boolean): Promise<void> {
  const counts = emptyCounts();
  split.on('failover', ({ host }) => note(run, `writer moved to ${host}`));
  const stopTraffic = startTraffic(split.writer, split.reader, counts);
  const frame = (): string => renderFrame(split.topology(), counts, run.events, Date.now() - run.started);
  const timer = run.io.stdout.isTTY ? setInterval(() => run.io.stdout.write(`\x1b[H\x1b[2J${frame()}`), 200) : null;
  try {
    await sleep(4000);
    if (withFailover) await failover(run, cluster, counts);
    await sleep(Math.max(0, run.started + seconds * 1000 - Date.now()));
  } finally {
    if (timer !== null) clearInterval(timer);
    await stopTraffic();
  }
  run.io.stdout.write(`${run.io.stdout.isTTY ? '\x1b[H\x1b[2J' : '\n'}${frame()}`);
}

type Harness = typeof import('@pg-split/harness');

/** The test harness, a package of its own (the library does not ship it): null when it is not installed. */
async function loadHarness(): Promise<Harness | null> {
  try {
    return await import('@pg-split/harness');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw err;
  }
}

/** The demo's three addresses from `--first-address`: loopback, with room for two more after it. */
function demoAddresses(harness: Harness, first: string): string[] {
  try {
    return harness.nodeAddresses(first, 3);
  } catch {
    throw new UsageError(
      `--first-address must be an IPv4 address in 127.0.0.0/8 with two more after it, got ${shown(first, 'another value')}`,
    );
  }
}

export async function demoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const line = readCommandLine(
    argv,
    { seconds: { type: 'string' }, 'no-failover': { type: 'boolean' }, 'first-address': { type: 'string' } },
    false,
  );
  if (line.help) {
    io.stdout.write(DEMO_HELP);
    return EXIT.ok;
  }
  const seconds = secondsOption(line, 'seconds', 8) ?? 15;
  const firstAddress = text(line, 'first-address') ?? '127.0.0.2';
  const harness = await loadHarness();
  if (harness === null) {
    io.stderr.write('pg-split demo starts its servers with the test harness, a package of its own: npm install @pg-split/harness\n');
    return EXIT.failed;
  }
  const addresses = demoAddresses(harness, firstAddress);
  const run: DemoRun = { io, started: Date.now(), events: [] };
  io.stdout.write(`starting a primary and two standbys on ${addresses.join(', ')} ...\n`);
  const cluster = await harness.startCluster({ standbys: 2, firstAddress });
  try {
    io.stdout.write(`cluster up in ${((Date.now() - run.started) / 1000).toFixed(1)} s on port ${cluster.port}\n`);
    await cluster.primary.query('CREATE TABLE demo_writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL)');
    await cluster.waitForReplication();
    const split = await connectSplit(cluster.conninfo(cluster.nodes, { application_name: 'pg-split-demo' }));
    note(run, `connectSplit('${cluster.conninfo()}') resolved`);
    try {
      await show(run, cluster, split, seconds, !flag(line, 'no-failover'));
    } finally {
      await split.end();
    }
  } finally {
    await cluster.destroy();
  }
  io.stdout.write('cluster removed\n');
  return EXIT.ok;
}
