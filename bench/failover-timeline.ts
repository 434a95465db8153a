/**
 * A failover from a real run, drawn: a write load through connectSplit's
 * writer while the primary is stopped and a standby promoted. Every
 * acknowledged write is a tick in the lane of the server that reported
 * committing it; failed statements are red; the events are vertical lines.
 * Writes docs/failover-timeline.svg.
 */
import { writeFileSync } from 'node:fs';
import { startCluster } from '@pg-split/harness';
import { connectSplit } from '../src/split/connect-split.js';
import { WRITES_TABLE, WriteLoad } from '../test/support/write-load.js';

interface Mark {
  readonly at: number;
  readonly label: string;
}

const WIDTH = 900;
const LANE = 36;
const LEFT = 110;

function svg(lanes: string[], acks: Array<{ at: number; server: string }>, failures: number[], marks: Mark[], endAt: number): string {
  const x = (t: number): number => LEFT + (t / endAt) * (WIDTH - LEFT - 20);
  const rows = [...lanes, 'failed'];
  const height = 70 + rows.length * LANE + marks.length * 16;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  rows.forEach((name, i) => {
    const y = 40 + i * LANE;
    parts.push(`<text x="8" y="${y + 5}">${name}</text>`, `<line x1="${LEFT}" y1="${y}" x2="${WIDTH - 20}" y2="${y}" stroke="#ddd"/>`);
  });
  for (const a of acks) {
    const lane = lanes.indexOf(a.server);
    const y = 40 + lane * LANE;
    parts.push(
      `<line x1="${x(a.at).toFixed(1)}" y1="${y - 8}" x2="${x(a.at).toFixed(1)}" y2="${y + 8}" stroke="#2b6cb0" stroke-width="1"/>`,
    );
  }
  const fy = 40 + lanes.length * LANE;
  for (const f of failures)
    parts.push(`<line x1="${x(f).toFixed(1)}" y1="${fy - 8}" x2="${x(f).toFixed(1)}" y2="${fy + 8}" stroke="#c53030" stroke-width="2"/>`);
  const bottom = 40 + rows.length * LANE;
  marks.forEach((m, i) => {
    parts.push(
      `<line x1="${x(m.at).toFixed(1)}" y1="24" x2="${x(m.at).toFixed(1)}" y2="${bottom + i * 16}" stroke="#555" stroke-dasharray="3,3"/>`,
    );
    parts.push(`<text x="${(x(m.at) + 4).toFixed(1)}" y="${bottom + 12 + i * 16}">${(m.at / 1000).toFixed(3)} s  ${m.label}</text>`);
  });
  for (let s = 0; s <= endAt / 1000; s++)
    parts.push(`<text x="${x(s * 1000).toFixed(1)}" y="18" text-anchor="middle" fill="#777">${s} s</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export async function failoverTimeline(
  output = 'docs/failover-timeline.svg',
): Promise<{ resumeMillis: number; acked: number; failed: number }> {
  const cluster = await startCluster({ standbys: 2 });
  try {
    await cluster.primary.query(WRITES_TABLE);
    await cluster.waitForReplication();
    const split = await connectSplit(cluster.conninfo());
    const t0 = Date.now();
    const marks: Mark[] = [];
    const mark = (label: string): void => void marks.push({ at: Date.now() - t0, label });
    split.on('failover', ({ to }: { to: number }) => mark(`writer moved to ${cluster.nodes[to]?.host ?? to}`));
    const load = new WriteLoad(split.writer, 4, 5);
    load.start();
    await new Promise((r) => setTimeout(r, 1000));
    const [next, other] = cluster.standbys;
    mark(`primary ${cluster.primary.host} stopped (fast)`);
    await cluster.primary.stop('fast');
    await new Promise((r) => setTimeout(r, 700));
    mark(`pg_ctl promote ${next?.host ?? ''}`);
    await next?.promote();
    const promotedAt = Date.now();
    mark('promotion complete');
    await other?.follow(next!);
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    const endAt = Date.now() - t0;
    const first = load.acks.find((a) => a.at > promotedAt);
    writeFileSync(
      output,
      svg(
        cluster.nodes.map((n) => n.host),
        load.acks.map((a) => ({ at: a.at - t0, server: a.server })),
        load.failures.map((f) => f.at - t0),
        marks,
        endAt,
      ),
    );
    await split.end();
    return { resumeMillis: (first?.at ?? NaN) - promotedAt, acked: load.acks.length, failed: load.failures.length };
  } finally {
    await cluster.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await failoverTimeline()));
}
