/** One turn of the event loop: promises settle and I/O callbacks run, no clock moves. */
export function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Waits, by turns of the event loop (no clock), until `condition` holds; fails after 10000 turns. */
export async function turnsUntil(condition: () => boolean): Promise<void> {
  for (let n = 0; !condition(); n++) {
    if (n > 10_000) throw new Error('the condition never held');
    await turn();
  }
}
