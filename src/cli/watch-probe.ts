import type { ConnectionTarget } from '../conninfo/resolve.js';
import { connectTimeoutMillis } from '../connect/connect.js';
import { systemLookup } from '../connect/endpoints.js';
import { libpqChoice } from '../roles/cluster-view.js';
import { DEFAULT_PROBE_TIMEOUT_MILLIS } from '../probe/probe.js';
import { ClusterWatch } from '../split/watch/cluster-watch.js';
import { Members } from '../split/watch/members.js';
import type { CliIo } from './io.js';
import { renderProbe } from './probe-render.js';

export interface WatchSettings {
  readonly intervalMillis: number;
  /** Stop after this many frames (default: until interrupted). */
  readonly frames: number;
  readonly timeoutMillis: number | undefined;
}

function watchTimeout(settings: WatchSettings, target: ConnectionTarget): number {
  return settings.timeoutMillis ?? (connectTimeoutMillis(target) || DEFAULT_PROBE_TIMEOUT_MILLIS);
}

function roleLine(target: ConnectionTarget, watch: ClusterWatch): string {
  return (
    watch
      .statuses()
      .map((s) => `${s.host}=${s.reachable ? (s.role ?? '?') : 'down'}`)
      .join(' ') + ` (target_session_attrs=${target.targetSessionAttrs})`
  );
}

/**
 * `probe --watch`: one long-lived session per host (as connectSplit keeps),
 * a frame every interval; on a terminal the frame is redrawn, otherwise a
 * line is printed whenever a host's state changes.
 */
export async function watchProbe(target: ConnectionTarget, io: CliIo, settings: WatchSettings): Promise<void> {
  const watch = new ClusterWatch(new Members(target), {
    recheckMillis: settings.intervalMillis,
    failoverRecheckMillis: settings.intervalMillis,
    checkTimeoutMillis: watchTimeout(settings, target),
    maxBackoffMillis: settings.intervalMillis,
    lookup: systemLookup,
    policy: 'any',
  });
  let last = '';
  const started = Date.now();
  const frame = (): void => {
    const nodes = watch.statuses();
    const report = {
      nodes,
      chosen: libpqChoice(nodes, target.targetSessionAttrs),
      targetSessionAttrs: target.targetSessionAttrs,
      loadBalanceHosts: target.loadBalanceHosts,
    };
    if (io.stdout.isTTY) {
      io.stdout.write(
        `\x1b[H\x1b[2Jpg-split probe --watch  ${((Date.now() - started) / 1000).toFixed(0)} s  (Ctrl-C to stop)\n\n${renderProbe(report)}`,
      );
      return;
    }
    const line = roleLine(target, watch);
    if (line !== last) io.stdout.write(`+${((Date.now() - started) / 1000).toFixed(1)} s  ${line}\n`);
    last = line;
  };
  watch.start();
  try {
    const firstCheckBy = Date.now() + watchTimeout(settings, target) + 500;
    while (!watch.allChecked() && Date.now() < firstCheckBy) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < settings.frames; i++) {
      frame();
      if (i < settings.frames - 1) await new Promise((r) => setTimeout(r, settings.intervalMillis));
    }
  } finally {
    watch.close();
  }
}
