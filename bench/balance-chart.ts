/** A bar chart (SVG) of read p99 by balance and by the third standby's condition, for docs/routing.md and benchmarks.md (bench/balance.ts). */
import type { BalanceRow, Condition } from './balance.js';

const PANEL_WIDTH = 460;
const HEIGHT = 320;
const PAD = { left: 56, right: 16, top: 44, bottom: 90 };
const COLORS = ['#d62728', '#9467bd', '#2ca02c', '#17becf', '#7f7f7f'];

/** y on a log scale (0.1 ms to the largest p99), one group of bars per condition, a bar per client. */
function panel(
  rows: readonly BalanceRow[],
  names: Readonly<Record<Condition, string>>,
  concurrency: number,
  clients: readonly string[],
  offsetX: number,
): string[] {
  const conditions = [...new Set(rows.map((r) => r.condition))] as Condition[];
  const mine = rows.filter((r) => r.concurrency === concurrency);
  const yMin = 0.1;
  const yMax = Math.max(1, ...mine.map((r) => r.p99)) * 1.5;
  const plotW = PANEL_WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const py = (y: number): number => PAD.top + plotH - (Math.log10(Math.max(yMin, y) / yMin) / Math.log10(yMax / yMin)) * plotH;
  const groupW = plotW / Math.max(1, conditions.length);
  const barW = (groupW - 16) / Math.max(1, clients.length);
  const x0 = offsetX + PAD.left;
  const out = [`<text x="${x0}" y="20" font-size="13">read p99 (ms, log scale), ${concurrency} callers</text>`];
  out.push(`<text x="${x0 + plotW / 2 - 40}" y="${py(yMin) + 32}">third standby</text>`);
  out.push(`<line x1="${x0}" y1="${py(yMin)}" x2="${x0 + plotW}" y2="${py(yMin)}" stroke="#333"/>`);
  out.push(`<line x1="${x0}" y1="${py(yMin)}" x2="${x0}" y2="${PAD.top}" stroke="#333"/>`);
  for (let tick = 0.1; tick <= yMax; tick *= 10) {
    out.push(`<line x1="${x0 - 3}" y1="${py(tick)}" x2="${x0 + plotW}" y2="${py(tick)}" stroke="#ddd"/>`);
    out.push(`<text x="${offsetX + 8}" y="${py(tick) + 4}">${tick >= 1 ? tick.toFixed(0) : tick.toFixed(1)}</text>`);
  }
  conditions.forEach((condition, g) => {
    const gx = x0 + g * groupW + 8;
    out.push(`<text x="${gx}" y="${py(yMin) + 16}">${names[condition]}</text>`);
    clients.forEach((client, c) => {
      const row = mine.find((r) => r.condition === condition && r.client === client);
      if (row === undefined) return;
      const x = gx + c * barW;
      const top = py(row.p99);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(py(yMin) - top).toFixed(1)}" fill="${COLORS[c % COLORS.length]}"/>`,
      );
      out.push(`<text x="${x.toFixed(1)}" y="${(top - 3).toFixed(1)}" font-size="9">${row.p99}</text>`);
    });
  });
  return out;
}

/** One panel per concurrency, side by side, and a legend of the clients below. */
export function balanceChart(rows: readonly BalanceRow[], names: Readonly<Record<Condition, string>>): string {
  const clients = [...new Set(rows.map((r) => r.client))];
  const levels = [...new Set(rows.map((r) => r.concurrency))];
  const legend = clients.map(
    (client, i) =>
      `<rect x="${PAD.left + (i % 2) * 420}" y="${HEIGHT - 46 + Math.floor(i / 2) * 16}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>` +
      `<text x="${PAD.left + 14 + (i % 2) * 420}" y="${HEIGHT - 37 + Math.floor(i / 2) * 16}">${client}</text>`,
  );
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH * levels.length}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...levels.flatMap((level, i) => panel(rows, names, level, clients, i * PANEL_WIDTH)),
    ...legend,
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
