import { resolveConnInfo } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import { probeCluster } from '../probe/probe.js';
import { countOption, flag, oneConnInfo, readCommandLine, secondsOption, text, UsageError } from './args.js';
import { EXIT, type CliIo } from './io.js';
import { renderProbe } from './probe-render.js';
import { watchProbe } from './watch-probe.js';

export const PROBE_HELP = `Usage: pg-split probe [--json | --watch [--interval <s>] [--frames <n>]] [--timeout <s>] [--patroni <port>] <conninfo>

Connects to every host of the connection string in parallel and shows, per
host: reachable or not, role, read-only, server version, timeline, replay lag
for standbys (bytes and seconds), round-trip time; and which host connect()
(like libpq) would choose for the string's target_session_attrs.

  --json              one JSON object: { "nodes": [...], "chosen": <index|null>, ... }
  --timeout <s>       per-address bound in seconds, e.g. 5 or 0.5
                      (default: connect_timeout, else 5)
  --watch             follow the cluster: one session per host, a frame every
                      interval (redrawn on a terminal; otherwise a line per change)
  --interval <s>      seconds between frames with --watch (default 2)
  --frames <n>        with --watch, stop after n frames (default: until Ctrl-C)
  --patroni <port>    also show Patroni's view of the cluster (GET /cluster on
                      its REST API, this port on every host), its members that
                      the string does not name among them

Exit status: 0 a host would be chosen (--watch: the frames were shown),
1 none would, 2 bad input (a usage error or a string libpq rejects).
`;

const PROBE_OPTIONS = {
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  frames: { type: 'string' },
  patroni: { type: 'string' },
} as const;

export async function probeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const line = readCommandLine(argv, PROBE_OPTIONS, true);
  if (line.help) {
    io.stdout.write(PROBE_HELP);
    return EXIT.ok;
  }
  const watch = flag(line, 'watch');
  if (watch && flag(line, 'json'))
    throw new UsageError('--json and --watch cannot be combined (--watch prints a table or a line per change)');
  for (const name of ['interval', 'frames'] as const) {
    if (!watch && text(line, name) !== undefined) throw new UsageError(`--${name} only applies with --watch`);
  }
  const seconds = secondsOption(line, 'timeout');
  const interval = secondsOption(line, 'interval') ?? 2;
  const frames = countOption(line, 'frames') ?? Infinity;
  const patroniPort = countOption(line, 'patroni');
  if (watch && patroniPort !== undefined) throw new UsageError('--patroni does not apply with --watch');
  if (patroniPort !== undefined && patroniPort > 65535) throw new UsageError(`--patroni expects a TCP port, got ${patroniPort}`);
  const conninfo = oneConnInfo(line);
  try {
    const target = resolveConnInfo(conninfo, { env: io.env, warn: (m) => io.stderr.write(`${m}\n`) });
    if (watch) {
      await watchProbe(target, io, {
        intervalMillis: interval * 1000,
        frames,
        timeoutMillis: seconds === undefined ? undefined : seconds * 1000,
      });
      return EXIT.ok;
    }
    const report = await probeCluster(target, {
      ...(seconds === undefined ? {} : { timeoutMillis: seconds * 1000 }),
      ...(patroniPort === undefined ? {} : { patroniPort }),
    });
    io.stdout.write(flag(line, 'json') ? JSON.stringify(report) + '\n' : renderProbe(report));
    return report.chosen === null ? EXIT.failed : EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT.badInput;
  }
}
