import { waitUntil } from '@pg-split/harness';

/** Waits until `condition` holds (checked every 20 ms), failing with "timed out waiting until <what>" after `millis`. */
export function until(what: string, condition: () => boolean | Promise<boolean>, millis = 15_000): Promise<void> {
  return waitUntil(condition, { timeoutMillis: millis, intervalMillis: 20, onTimeout: () => new Error(`timed out waiting until ${what}`) });
}
