import { AsyncLocalStorage } from 'node:async_hooks';
import { OptionError } from '../errors.js';

/** What a read requires: to see everything up to a WAL position, or to run on the primary. */
export interface ReadRequirement {
  /** A write token (`pg_lsn` text): the read must see everything written up to it. */
  readonly after?: string;
  /** Run on the primary, whatever the reader policy says. */
  readonly primary?: boolean;
}

const scope = new AsyncLocalStorage<ReadRequirement>();

const TOKEN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Throws OptionError unless `token` is a write token (a pg_lsn such as `0/3000148`). */
export function checkToken(token: unknown): string {
  if (typeof token !== 'string' || !TOKEN.test(token)) {
    throw new OptionError(`Expected a write token (a pg_lsn such as 0/3000148), got ${JSON.stringify(token)}`);
  }
  return token;
}

/** Runs `fn` with reads (through any pool, ORM or not) bound by `requirement`; scopes nest, the inner one adds to the outer. */
export function withReadRequirement<T>(requirement: ReadRequirement, fn: () => T): T {
  const outer = scope.getStore() ?? {};
  return scope.run({ ...outer, ...requirement }, fn);
}

export function currentReadRequirement(): ReadRequirement {
  return scope.getStore() ?? {};
}

/** A `pgSplit` field on a query config object: `reader.query({ text, values, pgSplit: { after: token } })`. */
export function requirementOfQuery(first: unknown): ReadRequirement {
  if (typeof first !== 'object' || first === null) return {};
  const field = (first as { pgSplit?: unknown }).pgSplit;
  if (typeof field !== 'object' || field === null) return {};
  const requirement = field as ReadRequirement;
  if (requirement.after !== undefined) checkToken(requirement.after);
  return requirement;
}
