import { parseArgs } from 'node:util';
import { resolveConnInfo } from '../conninfo/resolve.js';
import { ConnInfoError } from '../errors.js';
import { probeCluster } from '../probe/probe.js';
import { EXIT, type CliIo } from './io.js';
import { renderProbe } from './probe-render.js';
import { watchProbe } from './watch-probe.js';

export const PROBE_HELP = `Usage: pg-split probe [--json] [--timeout <seconds>] [--watch [--interval <seconds>]] <conninfo>

Connects to every host of the connection string in parallel and shows, per
host: reachable or not, role, read-only, server version, timeline, replay lag
for standbys (bytes and seconds), round-trip time; and which host connect()
(like libpq) would choose for the string's target_session_attrs.

  --json              one JSON object: { "nodes": [...], "chosen": <index|null>, ... }
  --timeout <s>       per-address bound (default: connect_timeout, else 5)
  --watch             follow the cluster: one session per host, a frame every
                      interval (redrawn on a terminal; otherwise a line per change)
  --interval <s>      seconds between frames with --watch (default 2)
  --frames <n>        with --watch, stop after n frames (default: until Ctrl-C)

Exit status: 0 a host would be chosen, 1 none would, 2 bad input.
`;

export async function probeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      watch: { type: 'boolean' }, interval: { type: 'string' }, frames: { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(PROBE_HELP);
    return EXIT.ok;
  }
  const seconds = values.timeout === undefined ? undefined : Number(values.timeout);
  const interval = Number(values.interval ?? 2);
  const frames = values.frames === undefined ? Infinity : Number(values.frames);
  if (positionals.length !== 1 || (seconds !== undefined && !(seconds > 0)) || !(interval > 0) || !(frames >= 1)) {
    io.stderr.write(PROBE_HELP);
    return EXIT.badInput;
  }
  try {
    const target = resolveConnInfo(positionals[0] as string, { env: io.env, warn: (m) => io.stderr.write(`${m}\n`) });
    if (values.watch) {
      await watchProbe(target, io, { intervalMillis: interval * 1000, frames, timeoutMillis: seconds === undefined ? undefined : seconds * 1000 });
      return EXIT.ok;
    }
    const report = await probeCluster(target, seconds === undefined ? {} : { timeoutMillis: seconds * 1000 });
    io.stdout.write(values.json ? JSON.stringify(report) + '\n' : renderProbe(report));
    return report.chosen === null ? EXIT.failed : EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConnInfoError)) throw err;
    io.stderr.write(`${err.message}\n`);
    return EXIT.badInput;
  }
}
