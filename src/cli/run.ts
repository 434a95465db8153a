import { shown, shownName, suggestion, UsageError } from './args.js';
import { DEMO_HELP, demoCommand } from './demo-command.js';
import { EXIT, type CliIo } from './io.js';
import { PARSE_HELP, parseCommand } from './parse-command.js';
import { PROBE_HELP, probeCommand } from './probe-command.js';
import { packageVersion } from './version.js';

interface Command {
  readonly run: (argv: readonly string[], io: CliIo) => Promise<number>;
  readonly help: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  parse: { run: parseCommand, help: PARSE_HELP },
  probe: { run: probeCommand, help: PROBE_HELP },
  demo: { run: demoCommand, help: DEMO_HELP },
};

const HELP = `Usage: pg-split <command> [options]

Commands:
  parse [--json] <conninfo>   what a connection string sets, and its host list
  probe [--json] <conninfo>   every host's role, lag and latency, and the one libpq would choose
  demo                        a local primary and two standbys, live routing and a failover

Options:
  -V, --version               print pg-split's version
  -h, --help                  print this help

Run "pg-split <command> --help" for a command's options.
`;

function usageError(io: CliIo, name: string, help: string, message: string): number {
  const usage = help.split('\n', 1)[0] ?? '';
  io.stderr.write(`pg-split ${name}: ${message}\n${usage}\nRun "pg-split ${name} --help" for all options.\n`);
  return EXIT.badInput;
}

/** The CLI, callable in-process: returns the exit status instead of exiting. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(HELP);
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    const message = name.startsWith('-')
      ? `unknown option ${shownName(name)}${suggestion(name, ['help', 'version'])}`
      : `unknown command ${shown(name, '(not shown: it may hold a password)')}${suggestion(name, Object.keys(COMMANDS), '')} (commands: ${Object.keys(COMMANDS).join(', ')})`;
    io.stderr.write(`pg-split: ${message}\n\n${HELP}`);
    return EXIT.badInput;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) return usageError(io, name, command.help, err.message);
    throw err;
  }
}
