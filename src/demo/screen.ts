import type { Topology } from '../split/topology.js';
import type { TrafficCounts } from './traffic.js';

export interface DemoEvent {
  readonly atMillis: number;
  readonly text: string;
}

const pad = (s: string, n: number): string => s.padEnd(n);

/** One frame of the demo: every node with its role and the traffic it served, then the timeline. */
export function renderFrame(topology: Topology, counts: TrafficCounts, events: readonly DemoEvent[], elapsedMillis: number): string {
  const lines = [`pg-split demo  ${(elapsedMillis / 1000).toFixed(1)} s  (writer = current primary, reader = standbys)`, ''];
  lines.push(`${pad('node', 12)}${pad('state', 10)}${pad('role', 10)}${pad('pools', 16)}${pad('writes', 8)}${pad('reads', 8)}lag`);
  for (const n of topology.nodes) {
    const state = n.reachable ? 'up' : 'down';
    const role = n.stale ? 'stale' : (n.role ?? '-');
    const pools = [n.writer ? 'writer' : '', n.reader ? 'reader' : ''].filter(Boolean).join('+') || '-';
    const lag = n.role === 'standby' ? `${n.replayLagBytes ?? '?'} B` : '';
    lines.push(
      `${pad(n.host, 12)}${pad(state, 10)}${pad(role, 10)}${pad(pools, 16)}${pad(String(counts.writesByHost.get(n.host) ?? 0), 8)}${pad(String(counts.readsByHost.get(n.host) ?? 0), 8)}${lag}`,
    );
  }
  lines.push(
    '',
    `failed statements: ${counts.writeErrors} writes, ${counts.readErrors} reads (in flight when a server went away)`,
    '',
    'timeline:',
  );
  for (const e of events) lines.push(`  +${(e.atMillis / 1000).toFixed(3)} s  ${e.text}`);
  return lines.join('\n') + '\n';
}
