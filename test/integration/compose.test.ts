import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { run } from '../../src/cli/run.js';
import { connectSplit } from '../../src/split/connect-split.js';
import { ComposeEmulation } from '../support/compose-emulator.js';

/**
 * docker-compose.yml and the README's Docker section, without Docker (no
 * engine runs on our CI machines): the compose file's own scripts, commands
 * and environment on this machine's PostgreSQL binaries (support/compose-emulator.ts),
 * then the README's commands, word for word, against the published ports.
 */
const README_URL = 'postgresql://app:pgsplit@localhost:55432,localhost:55433,localhost:55434/app';

let compose: ComposeEmulation;

before(
  async () => {
    compose = await ComposeEmulation.up(process.cwd());
  },
  { timeout: 120_000 },
);

after(async () => {
  await compose?.down();
});

test(
  "README: `npx pg-split probe '<url>'` shows the compose file's primary and its two streaming replicas",
  { timeout: 30_000 },
  async () => {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) }, env: {} };
    const status = await run(['probe', '--json', README_URL], io);
    assert.equal(status, 0, out);
    const probe = JSON.parse(out) as { nodes: Array<{ port: number; reachable: boolean; role: string | null }> };
    assert.deepEqual(
      probe.nodes.map((n) => [n.port, n.reachable, n.role]),
      [
        [55432, true, 'primary'],
        [55433, true, 'standby'],
        [55434, true, 'standby'],
      ],
    );
    assert.ok(!out.includes('pgsplit'), 'the password was printed');
  },
);

test(
  'README: connectSplit on the compose cluster writes on the primary and reads a replicated row from both replicas',
  { timeout: 60_000 },
  async () => {
    const split = await connectSplit(README_URL);
    try {
      const who = 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby';
      assert.deepEqual((await split.writer.query(who)).rows[0], { port: 55432, standby: false });
      await split.writer.query('CREATE TABLE IF NOT EXISTS compose_check (id int PRIMARY KEY)');
      await split.writer.query('INSERT INTO compose_check VALUES (1) ON CONFLICT DO NOTHING');
      const seen = new Set<number>();
      const deadline = Date.now() + 20_000;
      while (seen.size < 2 && Date.now() < deadline) {
        const { rows } = await split.reader
          .query<{ port: number; standby: boolean; n: string }>(`${who}, (SELECT count(*) FROM compose_check) AS n`)
          .catch(() => ({ rows: [] }));
        const row = rows[0];
        if (row !== undefined && row.standby && row.n === '1') seen.add(row.port);
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual([...seen].sort(), [55433, 55434]);
    } finally {
      await split.end();
    }
  },
);
