/**
 * Every error pg-split raises is a `PgSplitError` with a stable, literal `code`.
 * Branch on `error.code`, not on `instanceof`: two installed copies of the
 * package break `instanceof`, codes never change meaning.
 *
 * Errors never carry a password: messages are built from host names, ports and
 * libpq's own texts, and the original input of a failed parse is not attached.
 */

export type PgSplitErrorCode =
  | 'PGSPLIT_CONNINFO_INVALID'
  | 'PGSPLIT_OPTION_INVALID'
  | 'PGSPLIT_CONNECT_FAILED'
  | 'PGSPLIT_NO_PRIMARY'
  | 'PGSPLIT_NO_READER'
  | 'PGSPLIT_FALLBACK_FULL'
  | 'PGSPLIT_STALE_READ'
  | 'PGSPLIT_FAILOVER_TIMEOUT'
  | 'PGSPLIT_WRITE_UNCONFIRMED'
  | 'PGSPLIT_ENDED'
  | 'PGSPLIT_DISCOVERY_INVALID'
  | 'PGSPLIT_ETCD_UNAVAILABLE'
  | 'PGSPLIT_ETCD_AUTH'
  | 'PGSPLIT_PATRONI_SCOPE'
  | 'PGSPLIT_PATRONI_MEMBERS';

export class PgSplitError extends Error {
  readonly code: PgSplitErrorCode;

  constructor(code: PgSplitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PgSplitError';
    this.code = code;
  }
}

/** A connection string that libpq would reject; `message` is libpq's text, without the trailing newline. */
export class ConnInfoError extends PgSplitError {
  override readonly code = 'PGSPLIT_CONNINFO_INVALID' as const;

  constructor(message: string) {
    super('PGSPLIT_CONNINFO_INVALID', message);
    this.name = 'ConnInfoError';
  }
}

/** A pg-split option (not a connection-string keyword) with a bad value. */
export class OptionError extends PgSplitError {
  override readonly code = 'PGSPLIT_OPTION_INVALID' as const;

  constructor(message: string) {
    super('PGSPLIT_OPTION_INVALID', message);
    this.name = 'OptionError';
  }
}

/** One failed attempt on one address, as libpq would report it. */
export interface AttemptFailure {
  /** The host as written in the connection string (or the hostaddr when no host was given). */
  readonly host: string;
  /** The address actually tried, when one was known. */
  readonly address: string | null;
  readonly port: number;
  /** libpq's text for the failure, e.g. `session is read-only` or `timeout expired`. */
  readonly reason: string;
  /** SQLSTATE when the server answered with an error. */
  readonly sqlstate?: string;
}

/**
 * No host in the list could be used. `message` is libpq's accumulated message:
 * one `connection to server at ... failed: ...` line per attempt.
 */
export class ConnectError extends PgSplitError {
  override readonly code = 'PGSPLIT_CONNECT_FAILED' as const;
  readonly attempts: readonly AttemptFailure[];

  constructor(message: string, attempts: readonly AttemptFailure[], options?: { cause?: unknown }) {
    super('PGSPLIT_CONNECT_FAILED', message, options);
    this.name = 'ConnectError';
    this.attempts = attempts;
  }
}
