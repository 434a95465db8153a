/** Line charts (SVG) of what a fleet costs against its size, for docs/scaling.md (bench/fleet-matrix.ts). */

interface Series {
  readonly name: string;
  readonly color: string;
  /** [instances, value], instances ascending. */
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface Panel {
  readonly title: string;
  readonly series: readonly Series[];
}

const WIDTH = 420;
const HEIGHT = 300;
const PAD = { left: 50, right: 20, top: 40, bottom: 50 };

/** x on a log scale (1, 10, 100, 1000 instances), y linear from 0. */
function panel(p: Panel, offsetX: number): string[] {
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y));
  const xMax = Math.max(10, ...xs);
  const yMax = Math.max(1, ...ys) * 1.1;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const px = (x: number): number => offsetX + PAD.left + (Math.log10(Math.max(1, x)) / Math.log10(xMax)) * plotW;
  const py = (y: number): number => PAD.top + plotH - (y / yMax) * plotH;
  const out = [`<text x="${offsetX + PAD.left}" y="22" font-size="13">${p.title}</text>`];
  out.push(`<line x1="${px(1)}" y1="${py(0)}" x2="${px(xMax)}" y2="${py(0)}" stroke="#333"/>`);
  out.push(`<line x1="${px(1)}" y1="${py(0)}" x2="${px(1)}" y2="${PAD.top}" stroke="#333"/>`);
  for (let x = 1; x <= xMax; x *= 10) out.push(`<text x="${px(x) - 8}" y="${py(0) + 16}">${x}</text>`);
  out.push(`<text x="${px(1) + plotW / 2 - 60}" y="${py(0) + 34}">application processes</text>`);
  for (const tick of [0, yMax / 2, yMax / 1.1])
    out.push(`<text x="${offsetX + 6}" y="${py(tick) + 4}">${Math.round(tick * 10) / 10}</text>`);
  p.series.forEach((s, i) => {
    const path = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    out.push(`<rect x="${px(1) + 10}" y="${PAD.top + i * 16}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${px(1) + 24}" y="${PAD.top + 9 + i * 16}">${s.name}</text>`);
  });
  return out;
}

/** Panels side by side in one SVG. */
export function lineCharts(panels: readonly Panel[]): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH * panels.length}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`,
    ...panels.flatMap((p, i) => panel(p, i * WIDTH)),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}
