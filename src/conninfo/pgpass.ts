import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

/** What identifies a host entry in the password file. */
export interface PgpassKey {
  readonly host: string;
  readonly port: string;
  readonly dbname: string;
  readonly user: string;
}

/**
 * Matches one field of a `.pgpass` line against a value, as libpq's
 * `pwdfMatchesString`: `*` alone matches anything, `\` escapes the next
 * character. Returns the rest of the line after the field's `:`, or null.
 */
export function matchField(line: string, value: string): string | null {
  if (line.startsWith('*:')) return line.slice(2);
  let i = 0;
  let j = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\') {
      i++;
      escaped = true;
    }
    if (line[i] === ':' && j === value.length && !escaped) return line.slice(i + 1);
    if (j === value.length || line[i] !== value[j]) return null;
    i++;
    j++;
  }
  return null;
}

function unescapePassword(rest: string): string {
  let out = '';
  for (let i = 0; i < rest.length && rest[i] !== ':'; i++) {
    if (rest[i] === '\\' && i + 1 < rest.length) i++;
    out += rest[i];
  }
  return out;
}

/** The password of the first line that matches the key, from the file's text. */
export function findPassword(text: string, key: PgpassKey): string | null {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[\r\n]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let rest: string | null = line;
    for (const field of [key.host, key.port, key.dbname, key.user]) {
      rest = rest === null ? null : matchField(rest, field);
    }
    if (rest !== null) return unescapePassword(rest);
  }
  return null;
}

/** Receives libpq's warnings about the password file (permissions, an unreadable file), in libpq's words. */
export type PgpassWarning = (message: string) => void;

/**
 * Reads the password file if libpq would use it: a regular file with no
 * group or world permission bits (the check is skipped on Windows). A file
 * that cannot be opened is ignored silently; an unsafe one with a warning,
 * worded as libpq's.
 */
export function readPgpassFile(path: string, warn: PgpassWarning): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      warn(`WARNING: password file "${path}" is not a plain file`);
      return null;
    }
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      warn(`WARNING: password file "${path}" has group or world access; permissions should be u=rw (0600) or less`);
      return null;
    }
    return readFileSync(fd, 'utf8');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
