import { parseArgs } from 'node:util';
import { portOf } from '../conninfo/host-list.js';
import { resolveConnInfo, type ConnectionTarget } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import { EXIT, type CliIo } from './io.js';
import { renderTable } from './table.js';

export const PARSE_HELP = `Usage: pg-split parse [--json] <conninfo>

Parses a connection string as libpq does and prints what it sets and the
host list libpq would try. Passwords are printed as ********.

  --json   one JSON object: { "params": {...}, "hosts": [{ "host", "hostaddr", "port" }] }

Exit status: 0 parsed, 2 libpq would reject the string (its message on stderr).
`;

export interface HostRow {
  readonly host: string | null;
  readonly hostaddr: string | null;
  readonly port: number;
}

/** The host list with numeric ports; a port libpq cannot read as an integer is an error. */
export function hostRows(target: ConnectionTarget): HostRow[] {
  return target.hosts.map((h) => {
    // Out of range is shown as written (libpq checks the range only when it connects).
    const port = portOf(h);
    if (!port.ok && port.fatal) throw new ConnInfoError(port.message);
    return { host: h.host, hostaddr: h.hostaddr, port: port.port };
  });
}

function printHuman(io: CliIo, target: ConnectionTarget, hosts: readonly HostRow[]): void {
  const params = target.redactedParams();
  io.stdout.write(params.length === 0 ? '(no keywords set)\n' : renderTable(['keyword', 'value'], params.map(([k, v]) => [k, JSON.stringify(v)])));
  io.stdout.write('\n');
  const rows = hosts.map((h, i) => [String(i + 1), h.host ?? '(default)', h.hostaddr ?? '-', String(h.port)]);
  io.stdout.write(renderTable(['#', 'host', 'hostaddr', 'port'], rows));
}

export async function parseCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  if (values.help) {
    io.stdout.write(PARSE_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    io.stderr.write(PARSE_HELP);
    return EXIT.badInput;
  }
  try {
    const target = resolveConnInfo(positionals[0] as string, { env: io.env, warn: (m) => io.stderr.write(`${m}\n`) });
    const hosts = hostRows(target);
    if (values.json) io.stdout.write(JSON.stringify({ params: Object.fromEntries(target.redactedParams()), hosts }) + '\n');
    else printHuman(io, target, hosts);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT.badInput;
  }
}
