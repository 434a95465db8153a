import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  readonly timeoutMillis: number;
  /** Pause between two checks. */
  readonly intervalMillis?: number;
  /** The error to throw when time is up; `lastError` is what the last check threw, if it threw. */
  readonly onTimeout: (lastError: unknown) => Error;
}

/**
 * Calls `check` until it returns true, at most `timeoutMillis` long. A check
 * that throws counts as "not yet" (a server still starting refuses
 * connections); the last such error goes to `onTimeout`.
 */
export async function waitUntil(check: () => Promise<boolean> | boolean, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMillis;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw options.onTimeout(lastError);
    await sleep(options.intervalMillis ?? 50);
  }
}

/** Resolves true when `promise` settles within `millis`, false when time runs out first. */
export async function settlesWithin(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), millis);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
