/**
 * npm run chaos [-- --minutes M] [--seed N] [--mode sync|async|both] [--out FILE] [--no-peer]:
 * random faults under load, invariants checked from the servers, the report
 * written to docs/chaos.md. Exits 1 on any invariant violation.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { findPgBinDir } from '../src/cluster/index.js';
import { renderRun } from './report.js';
import { runChaos, violationCount, type ChaosReport } from './run-chaos.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    mode: { type: 'string', default: 'both' },
    out: { type: 'string', default: 'docs/chaos.md' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
if (!(minutes > 0) || !Number.isInteger(seed) || !['sync', 'async', 'both'].includes(values.mode)) {
  console.error('usage: npm run chaos -- [--minutes M] [--seed N] [--mode sync|async|both] [--out FILE] [--no-peer]');
  process.exit(2);
}

const log = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const reports: ChaosReport[] = [];
for (const synchronous of values.mode === 'both' ? [true, false] : [values.mode === 'sync']) {
  log(`${synchronous ? 'synchronous' : 'asynchronous'} replication, seed ${seed}, ${minutes} min of faults`);
  reports.push(await runChaos({ durationMillis: minutes * 60_000, seed, synchronous, peer: !values['no-peer'], log }));
}

const pgVersion = execFileSync(`${findPgBinDir()}/postgres`, ['--version'], { encoding: 'utf8' }).trim();
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${pgVersion}`;
const doc = `# Chaos test

Written by \`npm run chaos\` (\`chaos/\`) on ${new Date().toISOString().slice(0, 10)}, on ${machine}.

A primary and two standbys from the project's harness, each on its own loopback address. \`connectSplit\` with default options carries a mixed load: three loops writing through \`writer\` (one operation in five a two-row transaction on a checked-out client) and three reading through \`reader\`. Faults come one after another, drawn from a seeded random schedule (\`chaos/fault-plan.ts\`): \`pg_ctl stop\` (fast or immediate), \`kill -9\` of the server's whole process tree, \`SIGSTOP\` (a frozen host), restart, and paused WAL replay, on standbys and on the primary. Every primary fault but a restart is a failover: the most advanced standby is promoted, the other follows it, and the old primary is rebuilt as a standby, half the time after coming back first as a stale primary on its old timeline (split brain). A fault lasts 0.2 to 1.5 s.

Each acknowledged write records which server committed it and on which timeline, as the server reports it (\`inet_server_addr()\`, \`pg_walfile_name(pg_current_wal_lsn())\`); the injector records which node was the primary when. The invariants are checked afterwards from the servers. The short version runs in \`npm test\` (\`test/integration/chaos.test.ts\`).

${reports.map(renderRun).join('\n')}`;
writeFileSync(values.out, doc);
const violations = reports.reduce((n, r) => n + violationCount(r), 0);
log(`${reports.reduce((n, r) => n + r.faults.length, 0)} faults, ${violations} invariant violations; report in ${values.out}`);
process.exitCode = violations === 0 ? 0 : 1;
