import { parseArgs } from 'node:util';
import { resolveConnInfo } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import type { NodeStatus } from '../probe/node-status.js';
import { probeCluster, type ProbeReport } from '../probe/probe.js';
import { EXIT, type CliIo } from './io.js';
import { renderTable } from './table.js';

export const PROBE_HELP = `Usage: pg-split probe [--json] [--timeout <seconds>] <conninfo>

Connects to every host of the connection string in parallel and shows, per
host: reachable or not, role, read-only, server version, timeline, replay lag
for standbys (bytes and seconds), round-trip time; and which host connect()
(like libpq) would choose for the string's target_session_attrs.

  --json              one JSON object: { "nodes": [...], "chosen": <index|null>, ... }
  --timeout <s>       per-address bound (default: connect_timeout, else 5)

Exit status: 0 a host would be chosen, 1 none would, 2 bad input.
`;

const dash = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

function statusRow(n: NodeStatus, chosen: number | null): string[] {
  const where = n.address === null || n.address === n.host ? `${n.host}:${n.port}` : `${n.host} (${n.address}):${n.port}`;
  const mark = n.hostIndex === chosen ? '*' : '';
  if (!n.reachable) return [`${n.hostIndex + 1}${mark}`, where, 'down', '-', '-', '-', '-', '-', '-', '-'];
  const lagSeconds = n.replayLagSeconds === null ? '-' : n.replayLagSeconds.toFixed(3);
  const role = n.replayPaused ? `${dash(n.role)} (replay paused)` : dash(n.role);
  return [`${n.hostIndex + 1}${mark}`, where, 'up', role, n.readOnly ? 'yes' : 'no', dash(n.serverVersion?.split(' ')[0]), dash(n.timeline), dash(n.replayLagBytes), lagSeconds, dash(n.rttMillis)];
}

export function renderProbe(report: ProbeReport): string {
  const header = ['#', 'host', 'status', 'role', 'read-only', 'version', 'timeline', 'lag bytes', 'lag s', 'rtt ms'];
  let text = renderTable(header, report.nodes.map((n) => statusRow(n, report.chosen)));
  for (const n of report.nodes) if (!n.reachable) text += `  #${n.hostIndex + 1}: ${n.error ?? ''}\n`;
  const chosen = report.chosen === null ? null : report.nodes[report.chosen];
  const policy = `target_session_attrs=${report.targetSessionAttrs}${report.loadBalanceHosts === 'random' ? ', load_balance_hosts=random: hosts are shuffled first' : ''}`;
  text += chosen ? `connect() would choose #${chosen.hostIndex + 1} ${chosen.host} (${policy})\n` : `connect() would fail: no host matches (${policy})\n`;
  return text;
}

export async function probeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { json: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(PROBE_HELP);
    return EXIT.ok;
  }
  const seconds = values.timeout === undefined ? undefined : Number(values.timeout);
  if (positionals.length !== 1 || (seconds !== undefined && !(seconds > 0))) {
    io.stderr.write(PROBE_HELP);
    return EXIT.badInput;
  }
  try {
    const target = resolveConnInfo(positionals[0] as string, { env: io.env, warn: (m) => io.stderr.write(`${m}\n`) });
    const report = await probeCluster(target, seconds === undefined ? {} : { timeoutMillis: seconds * 1000 });
    io.stdout.write(values.json ? JSON.stringify(report) + '\n' : renderProbe(report));
    return report.chosen === null ? EXIT.failed : EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT.badInput;
  }
}
