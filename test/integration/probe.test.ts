import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { run } from '../../src/cli/run.js';
import { startCluster, type Cluster } from '@pg-split/harness';
import { probeCluster } from '../../src/probe/probe.js';
import { testNet } from '../support/net.js';
import { until } from '../support/until.js';

const net = testNet(import.meta.url);
const esc = (address: string): string => address.replaceAll('.', '\\.');

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ standbys: 2, firstAddress: net.first });
  await cluster.primary.query('CREATE TABLE filler (x int)');
  await cluster.waitForReplication();
});

after(async () => {
  await cluster?.destroy();
});

async function cli(args: string[]): Promise<{ status: number; out: string }> {
  let out = '';
  const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {} };
  return { status: await run(args, io), out };
}

test('every host: role, read-only, version, timeline, and the host libpq would choose', async () => {
  const report = await probeCluster(
    cluster.conninfo([cluster.standbys[0]!, cluster.primary, cluster.standbys[1]!], { target_session_attrs: 'read-write' }),
    { env: {} },
  );
  assert.deepEqual(
    report.nodes.map((n) => [n.host, n.reachable, n.role, n.readOnly, n.timeline]),
    [
      [cluster.standbys[0]!.host, true, 'standby', true, 1],
      [cluster.primary.host, true, 'primary', false, 1],
      [cluster.standbys[1]!.host, true, 'standby', true, 1],
    ],
  );
  assert.equal(report.chosen, 1);
  assert.ok(report.nodes.every((n) => n.serverVersion?.startsWith('15') && (n.rttMillis ?? -1) >= 0));
});

test('a standby with replay paused shows its lag in bytes and seconds', async () => {
  const s1 = cluster.standbys[0]!;
  await s1.pauseReplay();
  try {
    await cluster.primary.query('INSERT INTO filler SELECT generate_series(1, 20000)');
    await new Promise((r) => setTimeout(r, 1100));
    await cluster.primary.query('INSERT INTO filler VALUES (0)');
    const lsn = (await cluster.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]?.lsn ?? '0/0';
    const other = cluster.standbys[1]!;
    await until('the paused standby received the last insert and the other one replayed it', async () => {
      const received = await s1.query<{ ok: boolean }>('SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS ok', [lsn]);
      const replayed = await other.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
      return received[0]?.ok === true && replayed[0]?.ok === true;
    });
    const report = await probeCluster(cluster.conninfo(), { env: {} });
    const lagging = report.nodes[1]!;
    const current = report.nodes[2]!;
    assert.equal(lagging.replayPaused, true);
    assert.ok((lagging.replayLagBytes ?? 0) > 100_000, `lag ${lagging.replayLagBytes} bytes`);
    assert.ok((lagging.replayLagSeconds ?? 0) >= 1, `lag ${lagging.replayLagSeconds} s`);
    assert.equal(current.replayPaused, false);
    assert.ok((current.replayLagBytes ?? 1) < 100_000);
  } finally {
    await s1.resumeReplay();
  }
});

test('hosts are probed in parallel: two frozen hosts cost one timeout, not two', async () => {
  const [s1, s2] = cluster.standbys as [NonNullable<Cluster['standbys'][0]>, NonNullable<Cluster['standbys'][0]>];
  await s1.freeze();
  await s2.freeze();
  try {
    const started = Date.now();
    const report = await probeCluster(cluster.conninfo([s1, s2, cluster.primary]), { env: {}, timeoutMillis: 1000 });
    const elapsed = Date.now() - started;
    assert.deepEqual(
      report.nodes.map((n) => n.reachable),
      [false, false, true],
    );
    assert.match(report.nodes[0]?.error ?? '', /timeout expired/);
    assert.ok(elapsed < 2000, `${elapsed} ms: the frozen hosts were probed one after the other`);
  } finally {
    await s1.thaw();
    await s2.thaw();
  }
});

test('pg-split probe: table for people, --json for scripts, exit 1 when no host would be chosen, 2 on bad input', async () => {
  const table = await cli(['probe', cluster.conninfo()]);
  assert.equal(table.status, 0);
  assert.match(table.out, new RegExp(`connect\\(\\) would choose #1 ${esc(net.address(2))} \\(target_session_attrs=any\\)`));
  const json = await cli(['probe', '--json', cluster.conninfo(cluster.standbys, { target_session_attrs: 'primary' })]);
  assert.equal(json.status, 1);
  assert.equal((JSON.parse(json.out) as { chosen: unknown }).chosen, null);
  const bad = await cli(['probe', 'host=a,b port=1,2,3']);
  assert.deepEqual(bad, { status: 2, out: 'could not match 3 port numbers to 2 hosts\n' });
});

test('pg-split probe --watch follows the cluster: a line per change, from one session per host', { timeout: 60_000 }, async () => {
  const s2 = cluster.standbys[1]!;
  let out = '';
  const io = { stdout: { write: (s: string) => (out += s), isTTY: false }, stderr: { write: (s: string) => (out += s) }, env: {} };
  const watching = run(['probe', '--watch', '--interval', '0.2', '--frames', '25', cluster.conninfo()], io);
  await until('probe --watch prints its first line', () => out.includes('=standby'));
  await s2.stop('fast');
  await until('probe --watch shows the stopped standby down', () => out.includes(`${s2.host}=down`));
  await s2.start();
  assert.equal(await watching, 0);
  const lines = out.trim().split('\n');
  assert.match(lines[0] ?? '', new RegExp(`${esc(net.address(2))}=primary ${esc(net.address(3))}=standby ${esc(net.address(4))}=standby`));
  assert.ok(
    lines.some((l) => new RegExp(`${esc(net.address(4))}=down`).test(l)),
    out,
  );
  assert.match(lines[lines.length - 1] ?? '', new RegExp(`${esc(net.address(4))}=standby`));
});
