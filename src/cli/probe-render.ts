import type { NodeStatus } from '../roles/node-status.js';
import type { ProbeReport } from '../probe/probe.js';
import { renderTable } from './table.js';

const dash = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined ? '-' : String(v));

function statusRow(n: NodeStatus, chosen: number | null): string[] {
  const where = n.address === null || n.address === n.host ? `${n.host}:${n.port}` : `${n.host} (${n.address}):${n.port}`;
  const mark = n.hostIndex === chosen ? '*' : '';
  if (!n.reachable) return [`${n.hostIndex + 1}${mark}`, where, 'down', '-', '-', '-', '-', '-', '-', '-'];
  const lagSeconds = n.replayLagSeconds === null ? '-' : n.replayLagSeconds.toFixed(3);
  const role = n.replayPaused ? `${dash(n.role)} (replay paused)` : dash(n.role);
  return [
    `${n.hostIndex + 1}${mark}`,
    where,
    'up',
    role,
    n.readOnly ? 'yes' : 'no',
    dash(n.serverVersion?.split(' ')[0]),
    dash(n.timeline),
    dash(n.replayLagBytes),
    lagSeconds,
    dash(n.rttMillis),
  ];
}

export function renderProbe(report: ProbeReport): string {
  const header = ['#', 'host', 'status', 'role', 'read-only', 'version', 'timeline', 'lag bytes', 'lag s', 'rtt ms'];
  let text = renderTable(
    header,
    report.nodes.map((n) => statusRow(n, report.chosen)),
  );
  for (const n of report.nodes) if (!n.reachable) text += `  #${n.hostIndex + 1}: ${n.error ?? ''}\n`;
  const chosen = report.chosen === null ? null : report.nodes[report.chosen];
  const policy = `target_session_attrs=${report.targetSessionAttrs}${report.loadBalanceHosts === 'random' ? ', load_balance_hosts=random: hosts are shuffled first' : ''}`;
  text += chosen
    ? `connect() would choose #${chosen.hostIndex + 1} ${chosen.host} (${policy})\n`
    : `connect() would fail: no host matches (${policy})\n`;
  if (report.patroni !== undefined) text += renderPatroni(report);
  return text;
}

/** Patroni's view beside pg-split's: each member, and whether the connection string names it (`+`: only Patroni knows it). */
function renderPatroni(report: ProbeReport): string {
  const view = report.patroni;
  if (view === null || view === undefined) return 'Patroni: no REST API answered\n';
  const named = new Set(report.nodes.map((n) => `${n.host}:${n.port}`));
  const rows = view.members.map((m) => {
    const tags = [m.noLoadBalance ? 'noloadbalance' : '', m.noFailover ? 'nofailover' : ''].filter((t) => t !== '').join(',');
    return [
      `${named.has(`${m.host}:${m.port}`) ? '' : '+'}${m.name}`,
      `${m.host}:${m.port}`,
      dash(m.role),
      dash(m.state),
      dash(m.timeline),
      dash(m.lag),
      tags || '-',
    ];
  });
  return (
    `\nPatroni's view (${view.from}/cluster; + = not in the connection string):\n` +
    renderTable(['member', 'host', 'role', 'state', 'timeline', 'lag bytes', 'tags'], rows)
  );
}
