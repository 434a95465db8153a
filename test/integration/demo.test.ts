import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { run } from '../../src/cli/run.js';
import { testNet } from '../support/net.js';

const net = testNet(import.meta.url);
const [FIRST, SECOND, THIRD] = net.addresses(2, 3) as [string, string, string];
const esc = (address: string): string => address.replaceAll('.', '\\.');

const BIN = fileURLToPath(new URL('../../src/bin.js', import.meta.url));

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

test('pg-split demo: routing, a failover it triggers itself, the writer following, and cleanup', { timeout: 120_000 }, async () => {
  let out = '';
  const io = { stdout: { write: (s: string) => (out += s), isTTY: false }, stderr: { write: (s: string) => (out += s) }, env: {} };
  const status = await run(['demo', '--seconds', '9', '--first-address', FIRST], io);
  assert.equal(status, 0, out);
  assert.match(out, /cluster up in [\d.]+ s on port \d+/);
  assert.match(out, new RegExp(`writer moved to ${esc(SECOND)}`));
  assert.match(out, new RegExp(`first write acknowledged by ${esc(SECOND)}, \\d+ ms after the promotion`));
  assert.match(out, new RegExp(`${esc(SECOND)} +up +primary +writer`));
  assert.match(out, new RegExp(`${esc(THIRD)} +up +standby +reader`));
  assert.match(out, /cluster removed/);
  const port = Number(/on port (\d+)/.exec(out)?.[1]);
  assert.ok(await refused(SECOND, port), 'a server is still listening after the demo');
});

test('pg-split demo removes its cluster on Ctrl-C', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [BIN, 'demo', '--first-address', FIRST], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : 130))),
  );
  const deadline = Date.now() + 30_000;
  while (!out.includes('resolved') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /resolved/, out);
  child.kill('SIGINT');
  await exited;
  const port = Number(/on port (\d+)/.exec(out)?.[1]);
  for (const host of [FIRST, SECOND, THIRD]) assert.ok(await refused(host, port), `${host}:${port} still listening after Ctrl-C`);
});
