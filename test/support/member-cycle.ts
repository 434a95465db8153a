import type { SplitCluster } from '../../src/split/connect-split.js';

/**
 * One add/remove cycle of a member through a function discovery source:
 * `list(true)` makes the source name the member, `list(false)` drops it; each
 * step waits for the event itself (polling would make 1000 cycles take
 * minutes), with one read in between.
 */
export function memberCycle(split: SplitCluster, list: (named: boolean) => void): () => Promise<void> {
  let wake: (() => void) | null = null;
  const next = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  split.on('member-added', () => wake?.()).on('member-removed', () => wake?.());
  return async () => {
    const added = next();
    list(true);
    await added;
    await split.reader.query('SELECT 1');
    const removed = next();
    list(false);
    await removed;
  };
}
