/**
 * One cluster runtime per host list in a process: every pg-split/pg Pool and
 * Client whose config reads the same (servers, credentials, options, reader
 * policy) shares its watch, its checks, its Patroni reading and its idle
 * sleep; it ends when the last of them ends.
 */
import { currentOtel, loadOtel } from '../otel/otel-api.js';
import { SplitRuntime } from '../split/split-runtime.js';
import type { Routed } from './pg-config.js';

interface Shared {
  readonly runtime: SplitRuntime;
  users: number;
}

const shared = new Map<string, Shared>();

// The Pool and Client constructors are synchronous: OpenTelemetry's API is loaded as soon as this module is.
void loadOtel();

/** The runtime for `routed`, made and started by its first user. */
export function acquireRuntime(routed: Routed): SplitRuntime {
  let entry = shared.get(routed.key);
  if (entry === undefined || entry.runtime.ended) {
    const runtime = new SplitRuntime(routed.target, routed.options, currentOtel());
    runtime.start();
    entry = { runtime, users: 0 };
    shared.set(routed.key, entry);
  }
  entry.users++;
  return entry.runtime;
}

/** A user of the runtime is done: the last one ends it (every monitoring session closes, every timer stops). */
export function releaseRuntime(routed: Routed, runtime: SplitRuntime): void {
  const entry = shared.get(routed.key);
  if (entry === undefined || entry.runtime !== runtime) return;
  if (--entry.users > 0) return;
  shared.delete(routed.key);
  void runtime.end();
}

/** How many runtimes the process holds (tests: nothing left once every Pool and Client ended). */
export function sharedRuntimes(): number {
  return shared.size;
}
