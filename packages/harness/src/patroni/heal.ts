import type { PatroniMember } from './member.js';
import type { PatroniClusterView } from './rest.js';
import { unfitMembers } from './server-state.js';
import { membersToRebuild } from './settle.js';

/** What healing uses of a Patroni cluster (PatroniCluster's own methods). */
export interface Healable {
  readonly members: readonly PatroniMember[];
  member(name: string): PatroniMember;
  view(): Promise<PatroniClusterView>;
  waitUntilSettled(options: { timeoutMillis: number }): Promise<PatroniMember>;
  reinitialize(member: PatroniMember): Promise<void>;
}

/** PatroniCluster.heal(): what a test (or an operator) does between two faults. */
export async function healCluster(cluster: Healable, timeoutMillis: number, log: (line: string) => void): Promise<PatroniMember> {
  for (const member of cluster.members) {
    member.thaw();
    if (!member.isRunning()) await member.start();
  }
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    try {
      return await cluster.waitUntilSettled({ timeoutMillis: Math.min(15_000, Math.max(1000, deadline - Date.now())) });
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      const view = await cluster.view().catch(() => null);
      if (view === null) continue;
      const leader = view.members.find((m) => m.role === 'leader' && m.state === 'running')?.name;
      const candidates = cluster.members.filter((m) => m.name !== leader && m.isRunning() && !m.frozen);
      const broken = membersToRebuild(view, await unfitMembers(candidates));
      for (const m of broken) {
        log(`${m.name}: ${m.state}; reinitializing it from the leader`);
        await cluster.reinitialize(cluster.member(m.name)).catch(() => undefined);
      }
    }
  }
}
