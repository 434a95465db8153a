import { demoCommand } from './demo-command.js';
import { EXIT, type CliIo } from './io.js';
import { parseCommand } from './parse-command.js';
import { probeCommand } from './probe-command.js';

type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  parse: parseCommand,
  probe: probeCommand,
  demo: demoCommand,
};

export const HELP = `Usage: pg-split <command> [options]

Commands:
  parse [--json] <conninfo>   what a connection string sets, and its host list
  probe [--json] <conninfo>   every host's role, lag and latency, and the one libpq would choose
  demo                        a local primary and two standbys, live routing and a failover

Run "pg-split <command> --help" for a command's options.
`;

/** The CLI, callable in-process: returns the exit status instead of exiting. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(HELP);
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(`pg-split: unknown command "${name}"\n\n${HELP}`);
    return EXIT.badInput;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`pg-split ${name}: ${err.message}\n`);
      return EXIT.badInput;
    }
    throw err;
  }
}
