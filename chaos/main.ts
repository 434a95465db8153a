/**
 * npm run chaos [-- --minutes M] [--seed N] [--mode sync|async|both] [--orchestrator harness|patroni] [--out FILE] [--no-peer]:
 * random faults under load, invariants checked from the servers, the report
 * written to docs/chaos.md (docs/chaos-patroni.md under Patroni). Exits 1 on
 * any invariant violation.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { findPgBinDir } from '@pg-split/harness';
import { renderPatroniRun } from './patroni-report.js';
import { renderRun } from './report.js';
import { runChaos, violationCount, type ChaosReport } from './run-chaos.js';
import { runPatroniChaos } from './run-patroni-chaos.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    mode: { type: 'string', default: 'both' },
    out: { type: 'string' },
    orchestrator: { type: 'string', default: 'harness' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
if (
  !(minutes > 0) ||
  !Number.isInteger(seed) ||
  !['sync', 'async', 'both'].includes(values.mode) ||
  !['harness', 'patroni'].includes(values.orchestrator)
) {
  console.error(
    'usage: npm run chaos -- [--minutes M] [--seed N] [--mode sync|async|both] [--orchestrator harness|patroni] [--out FILE] [--no-peer]',
  );
  process.exit(2);
}

const log = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const modes = values.mode === 'both' ? [true, false] : [values.mode === 'sync'];
const pgVersion = execFileSync(`${findPgBinDir()}/postgres`, ['--version'], { encoding: 'utf8' }).trim();
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${pgVersion}`;

if (values.orchestrator === 'patroni') {
  const out = values.out ?? 'docs/chaos-patroni.md';
  const runs = [];
  for (const synchronous of modes) {
    log(`Patroni, ${synchronous ? 'synchronous_mode' : 'asynchronous replication'}, seed ${seed}, ${minutes} min of faults`);
    runs.push(await runPatroniChaos({ durationMillis: minutes * 60_000, seed, synchronous, log }));
  }
  writeFileSync(
    out,
    `# Chaos test under Patroni

Written by \`npm run chaos -- --orchestrator patroni\` (\`chaos/run-patroni-chaos.ts\`) on ${new Date().toISOString().slice(0, 10)}, on ${machine}; Patroni 3.0.2 on etcd 3.4 (Debian).

Three Patroni members from the project's harness (\`ttl: 10\`, \`loop_wait: 2\`, \`retry_timeout: 4\`, pg_rewind, no watchdog), each on its own loopback address. \`connectSplit\` with the \`patroni\` option carries the same mixed load as [chaos.md](chaos.md). Faults come one after another from a seeded schedule (\`chaos/patroni-faults.ts\`): \`kill -9\` of a member's PostgreSQL or of the leader's Patroni, a member frozen (Patroni and postmaster, or every process; a leader for 2 to 20 s, so about half the time past the TTL), a member stopped and started, a planned switchover, paused WAL replay on a replica. **Patroni performs every failover.** After each fault the harness waits until Patroni has settled (rebuilding, as an operator would, a member whose PostgreSQL does not start or that is still on another timeline than the leader's after 30 s). Who led when is taken from Patroni's leader lock in etcd itself, read every 100 ms (\`chaos/lock-tenures.ts\`; the members' views of the cluster lag the DCS by up to a \`loop_wait\`): a member's tenure runs from the read before the one that found it holding the lock to the read that found the next holder. Every acknowledged write records which server committed it and on which timeline, as the server reports it, and must come from the lock's holder at some moment between being sent and being acknowledged. A write sent to a member less than 2 s after the lock moved away from it (one round of pg-split's Patroni poll, the least time in which a client that asks Patroni can learn it) is counted apart, not as a violation. A short run is part of \`npm test\` (\`test/ha/patroni-chaos-sync.test.ts\`, \`test/ha/patroni-chaos-async.test.ts\`).

${runs.map(renderPatroniRun).join('\n')}`,
  );
  const violations = runs.reduce((n, r) => n + r.checks.reduce((m, c) => m + c.violations, 0), 0);
  log(`${runs.reduce((n, r) => n + r.faults.length, 0)} faults, ${violations} invariant violations; report in ${out}`);
  process.exit(violations === 0 ? 0 : 1);
}
const reports: ChaosReport[] = [];
for (const synchronous of modes) {
  log(`${synchronous ? 'synchronous' : 'asynchronous'} replication, seed ${seed}, ${minutes} min of faults`);
  reports.push(await runChaos({ durationMillis: minutes * 60_000, seed, synchronous, peer: !values['no-peer'], log }));
}

const doc = `# Chaos test

Written by \`npm run chaos\` (\`chaos/\`) on ${new Date().toISOString().slice(0, 10)}, on ${machine}.

A primary and two standbys from the project's harness, each on its own loopback address. \`connectSplit\` with default options carries a mixed load: three loops writing through \`writer\` (one operation in five a two-row transaction on a checked-out client) and three reading through \`reader\`. Faults come one after another, drawn from a seeded random schedule (\`chaos/fault-plan.ts\`): \`pg_ctl stop\` (fast or immediate), \`kill -9\` of the server's whole process tree, \`SIGSTOP\` (a frozen host), restart, and paused WAL replay, on standbys and on the primary. Every primary fault but a restart is a failover: the most advanced standby is promoted, the other follows it, and the old primary is rebuilt as a standby, half the time after coming back first as a stale primary on its old timeline (split brain). A fault lasts 0.2 to 1.5 s.

Each acknowledged write records which server committed it and on which timeline, as the server reports it (\`inet_server_addr()\`, \`pg_walfile_name(pg_current_wal_lsn())\`); the injector records which node was the primary when. The invariants are checked afterwards from the servers. The short version runs in \`npm test\` (\`test/integration/chaos.test.ts\`).

${reports.map(renderRun).join('\n')}`;
const out = values.out ?? 'docs/chaos.md';
writeFileSync(out, doc);
const violations = reports.reduce((n, r) => n + violationCount(r), 0);
log(`${reports.reduce((n, r) => n + r.faults.length, 0)} faults, ${violations} invariant violations; report in ${out}`);
process.exitCode = violations === 0 ? 0 : 1;
