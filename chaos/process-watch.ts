/** What the chaos run watches in its own process: crashes, and sockets or timers left behind. */

const HANDLE_KINDS = ['TCPSocketWrap', 'Timeout'];

/** Open sockets and timers in this process. */
export function handleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => HANDLE_KINDS.includes(r)).length;
}

/** Waits (up to 5 s) for the open sockets and timers to fall back to `baseline`; returns the last count. */
export async function settledHandles(baseline: number): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const n = handleCount();
    if (n <= baseline || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Records unhandled rejections and uncaught exceptions until released. */
export function watchProcess(): { readonly problems: string[]; release(): void } {
  const problems: string[] = [];
  const onRejection = (reason: unknown): void => void problems.push(`unhandled rejection: ${String(reason)}`);
  const onException = (err: Error): void => void problems.push(`uncaught exception: ${err.stack ?? err.message}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    problems,
    release() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
