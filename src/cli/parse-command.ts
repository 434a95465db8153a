import { portOf } from '../conninfo/host-list.js';
import { resolveConnInfo, type ConnectionTarget } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import { flag, oneConnInfo, readCommandLine } from './args.js';
import { EXIT, type CliIo } from './io.js';
import { renderTable } from './table.js';

export const PARSE_HELP = `Usage: pg-split parse [--json] <conninfo>

Parses a connection string as libpq does and prints what it sets and the
host list libpq would try. Passwords are printed as ********.

  --json   one JSON object: { "params": {...}, "hosts": [{ "host", "hostaddr", "port" }] }

Exit status: 0 parsed, 2 libpq would reject the string (its message on stderr)
or a usage error.
`;

interface HostRow {
  readonly host: string | null;
  readonly hostaddr: string | null;
  readonly port: number;
}

/** The host list with numeric ports; a port libpq cannot read as an integer is an error. */
function hostRows(target: ConnectionTarget): HostRow[] {
  return target.hosts.map((h) => {
    // Out of range is shown as written (libpq checks the range only when it connects).
    const port = portOf(h);
    if (!port.ok && port.fatal) throw new ConnInfoError(port.message);
    return { host: h.host, hostaddr: h.hostaddr, port: port.port };
  });
}

function printHuman(io: CliIo, target: ConnectionTarget, hosts: readonly HostRow[]): void {
  const params = target.redactedParams();
  io.stdout.write(
    params.length === 0
      ? '(no keywords set)\n'
      : renderTable(
          ['keyword', 'value'],
          params.map(([k, v]) => [k, JSON.stringify(v)]),
        ),
  );
  io.stdout.write('\n');
  const rows = hosts.map((h, i) => [String(i + 1), h.host ?? '(default)', h.hostaddr ?? '-', String(h.port)]);
  io.stdout.write(renderTable(['#', 'host', 'hostaddr', 'port'], rows));
}

export async function parseCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const line = readCommandLine(argv, { json: { type: 'boolean' } }, true);
  if (line.help) {
    io.stdout.write(PARSE_HELP);
    return EXIT.ok;
  }
  const conninfo = oneConnInfo(line);
  try {
    const target = resolveConnInfo(conninfo, { env: io.env, warn: (m) => io.stderr.write(`${m}\n`) });
    const hosts = hostRows(target);
    if (flag(line, 'json')) io.stdout.write(JSON.stringify({ params: Object.fromEntries(target.redactedParams()), hosts }) + '\n');
    else printHuman(io, target, hosts);
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT.badInput;
  }
}
