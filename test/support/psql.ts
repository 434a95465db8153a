import { execFile } from 'node:child_process';

export type Choice = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly message: string };

/** A clean environment for libpq: no PG* variable leaks in from the machine. */
export const CLEAN_ENV: Readonly<Record<string, string>> = {
  PATH: process.env['PATH'] ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  PGPASSFILE: '/nonexistent/pgpass',
  LC_ALL: 'C',
};

/** Which server psql (the machine's libpq) connects to for this string, or libpq's error. */
export function psqlChoice(conninfo: string, env: Readonly<Record<string, string>> = CLEAN_ENV): Promise<Choice> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-w', '-A', '-t', '-d', conninfo, '-c', 'SELECT host(inet_server_addr())'],
      { env, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err === null) resolve({ ok: true, address: stdout.trim() });
        else resolve({ ok: false, message: stderr.replace(/^psql: error: /, '').trimEnd() });
      },
    );
  });
}
