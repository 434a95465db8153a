/**
 * `NODE_DEBUG=pg-split`: one line per decision of a cluster's runtime, on
 * stderr through Node's debuglog (as pg-pool logs its steps through one
 * hook): the roles chosen, a failover, a stale primary fenced, a timeline
 * discarded, a host that stopped answering, the writer stalling, sleep and
 * wake. Hosts by name and port; never a password (none is at hand here).
 * Nothing is listened to unless the channel is on.
 */
import type { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import type { RoleDecision } from '../../roles/role-decision.js';
import type { ClusterWatchEvents } from './watch-events.js';

const debug = debuglog('pg-split');

type HostOf = (hostIndex: number) => { readonly host: string; readonly port: number };

/** One decision, as a line (exported for the runtime's own: sleep, wake). */
export function logDecision(format: string, ...args: unknown[]): void {
  debug(format, ...args);
}

function named(hostOf: HostOf, i: number | null): string {
  if (i === null) return 'none';
  const { host, port } = hostOf(i);
  return `${host}:${port}`;
}

/** The roles a decision gives, in a line. */
function describeDecision(d: RoleDecision, hostOf: HostOf): string {
  const list = (nodes: readonly number[]): string => (nodes.length === 0 ? 'none' : nodes.map((i) => named(hostOf, i)).join(', '));
  const stale = d.stalePrimaries.length === 0 ? '' : `; stale primaries ${list(d.stalePrimaries)} (fenced)`;
  const unconfirmed = d.unconfirmed.length === 0 ? '' : `; read-write but not confirmed ${list(d.unconfirmed)}`;
  return `writer ${named(hostOf, d.writer)}; readers ${list(d.readers)}; newest timeline ${d.newestTimeline}${stale}${unconfirmed}`;
}

/** Logs the watch's decisions as they come (only when the channel is on). */
export function logWatchDecisions(watch: EventEmitter<ClusterWatchEvents>, hostOf: HostOf): void {
  if (!debug.enabled) return;
  watch.on('change', ({ current }) => debug('decision: %s', describeDecision(current, hostOf)));
  watch.on('failover', ({ from, to }) => debug('failover: writes move from %s to %s', named(hostOf, from), named(hostOf, to)));
  watch.on('split-brain', ({ stale }) =>
    debug('split brain: %s read-write on an older timeline, fenced', stale.map((i) => named(hostOf, i)).join(', ')),
  );
  watch.on('timeline-discarded', ({ timeline, now, acknowledgedWrites }) =>
    debug('timeline %d discarded (now %d): %d acknowledged writes were on it', timeline, now, acknowledgedWrites),
  );
  watch.on('unresponsive', (i) =>
    debug('%s stopped answering (a check or a connect timed out): its pooled connections cut', named(hostOf, i)),
  );
  watch.on('drained', (i) => debug('%s left (discovery) and was drained', named(hostOf, i)));
}
