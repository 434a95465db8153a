import type { PatroniCluster, PatroniMember } from '@pg-split/harness';
import type { Random } from './random.js';

/** What is done to a member under Patroni; Patroni does every failover itself. */
type PatroniFaultKind = 'kill9-postgres' | 'kill9-patroni' | 'freeze' | 'stop' | 'switchover' | 'pause-replay';
type PatroniFaultTarget = 'leader' | 'replica';

export interface PatroniFaultPlan {
  readonly kind: PatroniFaultKind;
  readonly target: PatroniFaultTarget;
  /** Which replica (a replica fault only). */
  readonly replicaIndex: number;
  /** A freeze: Patroni and the postmaster only (backends keep serving), or every process. */
  readonly freezeScope: 'patroni-and-postmaster' | 'tree';
  /** How long the fault lasts; a frozen leader past the TTL (10 s) is failed over by Patroni. */
  readonly holdMillis: number;
}

/** Relative frequencies: about half the faults hit the leader. */
const PATRONI_FAULT_WEIGHTS: ReadonlyArray<readonly [readonly [PatroniFaultTarget, PatroniFaultKind], number]> = [
  [['leader', 'kill9-postgres'], 2],
  [['leader', 'kill9-patroni'], 1],
  [['leader', 'freeze'], 2],
  [['leader', 'stop'], 1],
  [['leader', 'switchover'], 2],
  [['replica', 'kill9-postgres'], 1],
  [['replica', 'freeze'], 1],
  [['replica', 'stop'], 1],
  [['replica', 'pause-replay'], 1],
];

export function planPatroniFault(random: Random): PatroniFaultPlan {
  const [target, kind] = random.weighted(PATRONI_FAULT_WEIGHTS);
  return {
    kind,
    target,
    replicaIndex: random.between(0, 1),
    freezeScope: random.next() < 0.5 ? 'patroni-and-postmaster' : 'tree',
    // Freezes of a leader cross the TTL about half the time.
    holdMillis: kind === 'freeze' && target === 'leader' ? random.between(2000, 20_000) : random.between(200, 3000),
  };
}

export function patroniFaultLabel(plan: PatroniFaultPlan): string {
  if (plan.kind === 'switchover') return 'switchover';
  return `${plan.target} ${plan.kind}${plan.kind === 'freeze' ? ` (${plan.freezeScope})` : ''}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A switchover, as an operator would make it: Patroni refuses one (HTTP 412)
 * while no replica is a good candidate yet (one just restarted), so it is
 * asked again every second, up to 30 s.
 */
async function switchoverWhenPossible(cluster: PatroniCluster): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.switchover();
      return;
    } catch (err) {
      if (attempt >= 30 || !(err instanceof Error) || !err.message.includes('HTTP 412')) throw err;
      await sleep(1000);
    }
  }
}

/** Injects one fault and heals the cluster (Patroni's own recovery, then the harness's heal); returns the member hit. */
export async function applyPatroniFault(cluster: PatroniCluster, plan: PatroniFaultPlan): Promise<PatroniMember> {
  // Settled again (a member Patroni left on a discarded timeline is rebuilt, as an operator would).
  const leader = await cluster.heal();
  const replicas = cluster.members.filter((m) => m !== leader);
  const member = plan.target === 'leader' ? leader : (replicas[plan.replicaIndex % replicas.length] ?? leader);
  switch (plan.kind) {
    case 'switchover':
      await switchoverWhenPossible(cluster);
      break;
    case 'kill9-postgres':
      await member.kill9Postgres();
      break;
    case 'kill9-patroni':
      await member.kill9Patroni();
      await sleep(plan.holdMillis);
      await member.start();
      break;
    case 'freeze':
      await member.freeze(plan.freezeScope);
      await sleep(plan.holdMillis);
      member.thaw();
      break;
    case 'stop':
      await member.stop();
      await sleep(plan.holdMillis);
      await member.start();
      break;
    case 'pause-replay':
      await member.query('SELECT pg_wal_replay_pause()');
      await sleep(plan.holdMillis);
      await member.query('SELECT pg_wal_replay_resume()');
      break;
  }
  await cluster.heal();
  return member;
}
