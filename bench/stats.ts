/** The p-quantile (0..1) of ascending-sorted millisecond figures, to the microsecond. */
export function percentile(sorted: readonly number[], p: number): number {
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 1000) / 1000;
}

/** The median of unsorted figures, rounded to a whole number. */
export function median(values: readonly number[]): number {
  return Math.round(
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    ),
  );
}

/** A Markdown table. */
export function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
