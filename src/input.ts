import { ConnInfoError, OptionError } from './errors.js';

/**
 * Checks on what callers pass to the public functions, before anything else
 * runs: every value of any type is accepted or rejected with a PgSplitError.
 * Messages show the type and, for short non-secret values, the value itself;
 * never a string that could hold a password.
 */

/** A short, safe description of a rejected value: its type, and numbers and booleans as they are. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? 'NaN' : String(value);
    case 'boolean':
      return String(value);
    case 'string':
      return value.length <= 40 && /^[\w .:/-]*$/.test(value) ? JSON.stringify(value) : 'a string';
    case 'undefined':
      return 'undefined';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The valid name closest to `key`, when it is close enough to be a likely typo or a prefix. */
export function nearestName(key: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of names) {
    const d =
      name.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(name.toLowerCase()) ? 1 : distance(key, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * An options object: undefined gives `{}`; anything but a plain object, or
 * one with a key not in `allowed`, is rejected (with the nearest valid name).
 */
export function optionsObject(name: string, value: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new OptionError(`Expected \`${name}\` to be an object, got ${describeValue(value)}`);
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = nearestName(key, allowed);
    const prefix = name === 'options' ? '' : `${name}.`;
    throw new OptionError(`Unknown option \`${prefix}${key}\`${near === null ? '' : `; did you mean \`${prefix}${near}\`?`}`);
  }
  return value;
}

/** A connection string argument: a string, or rejected as libpq would reject an empty list of anything. */
export function conninfoArgument(value: unknown): string {
  if (typeof value === 'string') return value;
  throw new ConnInfoError(`pg-split: expected a connection string, got ${describeValue(value)}`);
}

export interface NumberRule {
  readonly integer?: boolean;
  /** Allow 0 (else the number must be positive). */
  readonly zero?: boolean;
  readonly unit?: string;
}

/** The longest timer Node can set (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms, with a warning. */
const MAX_TIMER_MILLIS = 2_147_483_647;

/**
 * A finite number, positive (or zero when allowed), whole when asked, and in
 * milliseconds no longer than a timer can be; undefined gives `fallback`.
 */
export function numberOption<F>(name: string, value: unknown, fallback: F, rule: NumberRule = {}): number | F {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (value > 0 || (rule.zero === true && value === 0)) &&
    (rule.integer !== true || Number.isInteger(value));
  const tooLong = rule.unit === 'milliseconds' && typeof value === 'number' && value > MAX_TIMER_MILLIS;
  if (ok && !tooLong) return value;
  const kind = `${rule.zero === true ? 'non-negative' : 'positive'} ${rule.integer === true ? 'whole number' : 'finite number'}`;
  const limit = rule.unit === 'milliseconds' ? ` up to ${MAX_TIMER_MILLIS}` : '';
  throw new OptionError(
    `Expected \`${name}\` to be a ${kind}${rule.unit === undefined ? '' : ` of ${rule.unit}`}${limit}, got ${describeValue(value)}`,
  );
}

/** A TCP port option (1 to 65535), or `fallback` when absent. Throws `OptionError`. */
export function portOption<F>(name: string, value: unknown, fallback: F): number | F {
  const port = numberOption(name, value, fallback, { integer: true });
  if (typeof port === 'number' && port > 65535) throw new OptionError(`Expected \`${name}\` to be a TCP port, got ${port}`);
  return port;
}

export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new OptionError(`Expected \`${name}\` to be true or false, got ${describeValue(value)}`);
}

export function oneOfOption<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new OptionError(`Expected \`${name}\` to be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`);
}

/** A non-empty string option, or `fallback` when absent. Throws `OptionError`. */
export function textOption<F>(name: string, value: unknown, fallback: F): string | F {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && value !== '') return value;
  throw new OptionError(`Expected \`${name}\` to be a non-empty string, got ${describeValue(value)}`);
}

export function functionOption<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as F;
  throw new OptionError(`Expected \`${name}\` to be a function, got ${describeValue(value)}`);
}
