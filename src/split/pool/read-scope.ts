import { AsyncLocalStorage } from 'node:async_hooks';
import { OptionError } from '../../errors.js';
import { describeValue, optionsObject } from '../../input.js';

/** What a read requires: to see everything up to a WAL position, or to run on the primary. */
export interface ReadRequirement {
  /** A write token (`pg_lsn` text): the read must see everything written up to it. */
  readonly after?: string;
  /** Run on the primary, whatever the reader policy says. */
  readonly primary?: boolean;
}

/** pg-split's options on one query config: `reader.query({ text, values, pgSplit: { after: token } })`. */
export type QueryOptions = ReadRequirement;

declare module 'pg' {
  interface QueryConfig {
    /** pg-split: what this read requires (a write token to see, or the primary). Ignored by the writer. */
    pgSplit?: QueryOptions;
  }
}

const TOKEN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Throws OptionError unless `token` is a write token (a pg_lsn such as `0/3000148`). */
export function checkToken(token: unknown): string {
  if (typeof token !== 'string' || !TOKEN.test(token)) {
    throw new OptionError(`Expected a write token (a pg_lsn such as 0/3000148), got ${describeValue(token)}`);
  }
  return token;
}

/** No requirement: what a read without scope or `pgSplit` field has. */
export const NO_REQUIREMENT: ReadRequirement = Object.freeze({});

/** Checks a `pgSplit` field (any type) on a query config; throws OptionError. */
function checkQueryOptions(value: unknown): ReadRequirement {
  if (value === undefined) return NO_REQUIREMENT;
  const options = optionsObject('pgSplit', value, ['after', 'primary']);
  const requirement: { after?: string; primary?: boolean } = {};
  if (options['after'] !== undefined) requirement.after = checkToken(options['after']);
  if (options['primary'] !== undefined) {
    if (typeof options['primary'] !== 'boolean')
      throw new OptionError(`Expected \`pgSplit.primary\` to be true or false, got ${describeValue(options['primary'])}`);
    requirement.primary = options['primary'];
  }
  return requirement;
}

/** The `pgSplit` field of a query's first argument, checked. */
export function requirementOfQuery(first: unknown): ReadRequirement {
  if (typeof first !== 'object' || first === null) return NO_REQUIREMENT;
  return checkQueryOptions((first as { pgSplit?: unknown }).pgSplit);
}

/**
 * The read scopes of one cluster (`after(token, fn)`, `onPrimary(fn)`):
 * AsyncLocalStorage, so they reach reads made through ORMs, and one per
 * cluster, so a scope opened on one cluster never affects another's reads.
 */
export class ReadScope {
  readonly #storage = new AsyncLocalStorage<ReadRequirement>();

  /** Runs `fn` with reads bound by `requirement`; scopes nest, the inner one adds to the outer. */
  run<T>(requirement: ReadRequirement, fn: () => T): T {
    if (typeof fn !== 'function') throw new OptionError(`Expected a function to run, got ${describeValue(fn)}`);
    const outer = this.#storage.getStore() ?? NO_REQUIREMENT;
    return this.#storage.run({ ...outer, ...requirement }, fn);
  }

  current(): ReadRequirement {
    return this.#storage.getStore() ?? NO_REQUIREMENT;
  }
}
