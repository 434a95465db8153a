import type { Env } from '../conninfo/defaults.js';

/** Where a CLI command writes and what it reads; tests pass their own. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
  readonly env: Env;
}

/** Exit codes, documented in docs/cli.md. */
export const EXIT = Object.freeze({
  ok: 0,
  /** The command ran but its check failed (e.g. no host reachable). */
  failed: 1,
  /** Bad input: a connection string libpq rejects, or a usage error. */
  badInput: 2,
});
