import { parseArgs } from 'node:util';
import { nearestName } from '../input.js';

/** A command's options: `--name <value>` (string) or `--name` (boolean); `help`/`-h` is added to every command. */
export type OptionSpecs = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

/**
 * A command line the command cannot run. The message names the argument that
 * is wrong and never repeats anything that could be a connection string (it
 * may hold a password); `run()` prints it after `pg-split <command>: `.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CommandLine {
  /** `--help` or `-h` was given. */
  readonly help: boolean;
  /** Each option given, by name: its value, or `true` for a boolean one. The last one wins when repeated. */
  readonly values: ReadonlyMap<string, string | true>;
  readonly positionals: readonly string[];
}

/** How long a value may be, and what it may hold, to be repeated in an error message. */
const SHOWABLE = /^[\w.+-]{0,40}$/;

/**
 * `"abc"` for a short word-like value; a description of it otherwise, so a
 * connection string (maybe with a password) given where a number belongs is
 * never echoed.
 */
export function shown(value: string, hidden = 'a value that is not a number'): string {
  return SHOWABLE.test(value) ? JSON.stringify(value) : hidden;
}

/** An option's name as typed, or a note that it is not shown (`--postgresql://u:pw@h` is not an option name). */
export function shownName(rawName: string): string {
  return SHOWABLE.test(rawName) ? rawName : '(not shown: it may hold a password)';
}

/**
 * `; did you mean --timeout?` for a mistyped `--tiemout` (or `; did you mean
 * probe?` for a command): only for a word-like input, which cannot hold a
 * password; empty when no valid name is close.
 */
export function suggestion(typed: string, names: readonly string[], dashes = '--'): string {
  const bare = typed.replace(/^-+/, '');
  if (!SHOWABLE.test(typed) || bare === '') return '';
  const near = nearestName(bare, names);
  return near === null ? '' : `; did you mean ${dashes}${near}?`;
}

/** A value that is no option of its own: `-1` and `-.5` are values (so they are reported as out of range), `--json` is not. */
function looksLikeValue(value: string): boolean {
  return !value.startsWith('-') || /^-[\d.]/.test(value);
}

/**
 * Reads `argv` against `specs`. Throws a UsageError for an unknown option, a
 * string option without a value, a boolean option given a value (`--json=1`)
 * and, when `allowPositionals` is false, any positional argument.
 */
export function readCommandLine(argv: readonly string[], specs: OptionSpecs, allowPositionals: boolean): CommandLine {
  const options = { ...specs, help: { type: 'boolean', short: 'h' } } as const;
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string | true>();
  const positionals: string[] = [];
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    const spec = token.name === 'help' ? options.help : Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    // parseArgs takes `-abc` as `-a -b -c`, and `--x=v` as name `x`: the raw name never holds a value.
    if (spec === undefined)
      throw new UsageError(`unknown option ${shownName(token.rawName)}${suggestion(token.rawName, Object.keys(options))}`);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      if (token.name === 'help') help = true;
      else values.set(token.name, true);
      continue;
    }
    if (token.value === undefined || (!token.inlineValue && !looksLikeValue(token.value))) {
      throw new UsageError(`${token.rawName} needs a value`);
    }
    values.set(token.name, token.value);
  }
  if (!allowPositionals && positionals.length > 0 && !help) {
    throw new UsageError(`takes no arguments besides options, got ${positionals.length}`);
  }
  return { help, values, positionals };
}

/** Whether a boolean option was given. */
export function flag(line: CommandLine, name: string): boolean {
  return line.values.get(name) === true;
}

/** A string option's value, undefined when not given. */
export function text(line: CommandLine, name: string): string | undefined {
  const value = line.values.get(name);
  return typeof value === 'string' ? value : undefined;
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** The longest wait an option accepts: a day (and well below setTimeout's limit of 24.8 days). */
const MAX_SECONDS = 86_400;

/**
 * A number of seconds, written as a plain decimal (`5`, `0.5`), from `min`
 * (exclusive when `min` is 0) to MAX_SECONDS; undefined when not given.
 */
export function secondsOption(line: CommandLine, name: string, min = 0): number | undefined {
  const value = text(line, name);
  if (value === undefined) return undefined;
  const seconds = DECIMAL.test(value) ? Number(value) : NaN;
  const inRange = min === 0 ? seconds > 0 : seconds >= min;
  if (!inRange || seconds > MAX_SECONDS) {
    const range = min === 0 ? `greater than 0 and at most ${MAX_SECONDS} (e.g. 5 or 0.5)` : `from ${min} to ${MAX_SECONDS}`;
    throw new UsageError(`--${name} must be a number of seconds ${range}, got ${shown(value)}`);
  }
  return seconds;
}

/** A whole number of at least 1; undefined when not given. */
export function countOption(line: CommandLine, name: string): number | undefined {
  const value = text(line, name);
  if (value === undefined) return undefined;
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(Number.isSafeInteger(count) && count >= 1)) {
    throw new UsageError(`--${name} must be a whole number of at least 1, got ${shown(value)}`);
  }
  return count;
}

/** The one connection string a command takes; a UsageError when it is missing or not alone (the arguments are counted, not shown). */
export function oneConnInfo(line: CommandLine): string {
  const [first, ...more] = line.positionals;
  if (first === undefined) throw new UsageError('missing the connection string (<conninfo>)');
  if (more.length > 0) {
    throw new UsageError(
      `takes one connection string, got ${line.positionals.length} arguments (quote a keyword/value string as one argument: 'host=db1,db2 dbname=shop')`,
    );
  }
  return first;
}
