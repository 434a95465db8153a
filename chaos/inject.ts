import type { Cluster, ClusterNode } from '@pg-split/harness';
import { mostAdvanced } from '../test/support/failover.js';
import { isFailover, type FaultPlan } from './fault-plan.js';
import type { TenureLog } from './tenure.js';

/** What one injected fault did, as the injector saw it. */
export interface AppliedFault {
  readonly node: string;
  readonly injectedAt: number;
  /** When the cluster was whole again: the node back, or (a failover) the promoted node writable and the other standby following it. */
  readonly healedAt: number;
  /** The node promoted (a failover). */
  readonly promoted?: string;
  /** Completes when the old primary has been rebuilt as a standby (a failover), else at once. */
  readonly cleanup: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Injects faults on a harness cluster, one at a time, and records who is the
 * primary when: a node is the primary until another one is promoted (a frozen
 * primary still is, as nothing else can take writes).
 */
export class FaultInjector {
  constructor(
    private readonly cluster: Cluster,
    private readonly tenures: TenureLog,
  ) {}

  standbys(): ClusterNode[] {
    return this.cluster.nodes.filter((n) => n !== this.cluster.currentPrimary);
  }

  async apply(plan: FaultPlan): Promise<AppliedFault> {
    if (isFailover(plan)) return this.#failover(plan);
    const node = plan.target === 'primary' ? this.cluster.currentPrimary : this.#standby(plan.standbyIndex);
    const injectedAt = Date.now();
    await this.#breakAndHeal(node, plan);
    return { node: node.name, injectedAt, healedAt: Date.now(), cleanup: Promise.resolve() };
  }

  #standby(index: number): ClusterNode {
    const standbys = this.standbys();
    const node = standbys[index % standbys.length];
    if (node === undefined) throw new Error('the cluster has no standby');
    return node;
  }

  async #breakAndHeal(node: ClusterNode, plan: FaultPlan): Promise<void> {
    switch (plan.kind) {
      case 'stop':
        await node.stop(plan.stopMode);
        await sleep(plan.holdMillis);
        return node.start();
      case 'kill9':
        await node.kill9();
        await sleep(plan.holdMillis);
        return node.start();
      case 'freeze':
        await node.freeze();
        await sleep(plan.holdMillis);
        return node.thaw();
      case 'restart':
        return node.restart();
      case 'pause-replay':
        await node.pauseReplay();
        await sleep(plan.holdMillis);
        return node.resumeReplay();
    }
  }

  async #breakPrimary(node: ClusterNode, plan: FaultPlan): Promise<void> {
    if (plan.kind === 'stop') await node.stop(plan.stopMode);
    else if (plan.kind === 'kill9') await node.kill9();
    else await node.freeze();
  }

  /**
   * The primary fails (stop, kill -9 or freeze); after `holdMillis` the most
   * advanced standby is promoted and the other follows it. The old primary is
   * then rebuilt as a standby, in the background (`cleanup`), after coming
   * back first as a stale primary on its old timeline when `staleReturn`.
   */
  async #failover(plan: FaultPlan): Promise<AppliedFault> {
    const old = this.cluster.currentPrimary;
    const injectedAt = Date.now();
    await this.#breakPrimary(old, plan);
    await sleep(plan.holdMillis);
    const next = await mostAdvanced(this.standbys());
    const promoteStartedAt = Date.now();
    await next.promote();
    this.tenures.begin(next.host, await next.timeline(), promoteStartedAt);
    for (const other of this.standbys().filter((n) => n !== old)) await other.follow(next);
    const healedAt = Date.now();
    return { node: old.name, injectedAt, healedAt, promoted: next.name, cleanup: this.#rejoin(old, next, plan) };
  }

  async #rejoin(old: ClusterNode, next: ClusterNode, plan: FaultPlan): Promise<void> {
    if (old.frozen) await old.thaw();
    else if (plan.staleReturn) await old.start();
    if (plan.staleReturn || plan.kind === 'freeze') await sleep(plan.holdMillis);
    await old.rebuildAsStandbyOf(next);
  }
}
