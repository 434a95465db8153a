/**
 * Every failure of the harness (a server that would not start, a fault that
 * did not take, a tool missing from the machine) is a `HarnessError` with the
 * code `PGSPLIT_CLUSTER`: the message names what failed and, for a server,
 * ends with the tail of its log. The harness is a package of its own; its
 * errors are not pg-split's (`HarnessError`).
 */
export class HarnessError extends Error {
  readonly code = 'PGSPLIT_CLUSTER' as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
  }
}
