import type { TestContext } from 'node:test';
import type { PatroniCluster, PatroniMember } from '@pg-split/harness';
import { connectSplit, type SplitCluster } from '../../src/split/connect-split.js';
import type { SplitOptions } from '../../src/split/options.js';
import type { SplitBrainEvent, TimelineDiscardedEvent } from '../../src/split/split-events.js';
import { ReadLoad } from './read-load.js';
import { until } from './until.js';
import { missingAcks, WRITES_TABLE, WriteLoad } from './write-load.js';

/** connectSplit on a Patroni cluster under two writer and two reader loops, with what it saw. */
export class PatroniRun {
  readonly writes: WriteLoad;
  readonly reads: ReadLoad;
  readonly discarded: TimelineDiscardedEvent[] = [];
  readonly splitBrains: SplitBrainEvent[] = [];

  private constructor(
    readonly cluster: PatroniCluster,
    readonly split: SplitCluster,
  ) {
    this.writes = new WriteLoad(split.writer, 2, 5);
    this.reads = new ReadLoad(split.reader, 2, 5);
    split.on('timeline-discarded', (e) => this.discarded.push(e)).on('split-brain', (e) => this.splitBrains.push(e));
  }

  /** Starts the loads on connectSplit(`url`, default: every member directly). */
  static async start(
    t: TestContext,
    cluster: PatroniCluster,
    options: SplitOptions = {},
    url: string = cluster.url(),
  ): Promise<PatroniRun> {
    const leader = await cluster.waitUntilSettled();
    await leader.query(WRITES_TABLE);
    await leader.query('TRUNCATE writes');
    const split = await connectSplit(url, { failoverTimeoutMillis: 60_000, ...options });
    const run = new PatroniRun(cluster, split);
    t.after(() => run.stop());
    run.writes.start();
    run.reads.start();
    return run;
  }

  /** Waits until both loads have run `count` more statements each: a fault then comes under load. */
  async underLoad(count = 20): Promise<void> {
    const [writes, reads] = [this.writes.acks.length, this.reads.reads.length];
    await until(
      `both loads ran ${count} statements`,
      () => this.writes.acks.length >= writes + count && this.reads.reads.length >= reads + count,
      30_000,
    );
  }

  /**
   * Waits until Patroni's leader lock (read from etcd) is held by another
   * member than `old`, and a write sent after that is acknowledged there:
   * how long a frozen leader stays frozen "past the TTL".
   */
  async leaderReplaced(old: PatroniMember, timeoutMillis = 90_000): Promise<PatroniMember> {
    let holder: PatroniMember | null = null;
    await until(
      `Patroni's leader lock moves off ${old.name}`,
      async () => {
        holder = await this.cluster.lockHolder().catch(() => null);
        return holder !== null && holder !== old;
      },
      timeoutMillis,
    );
    const next = holder as PatroniMember | null;
    if (next === null) throw new Error('no leader lock holder');
    await this.writerReaches(next, Date.now(), timeoutMillis);
    return next;
  }

  /** A planned switchover under the loads: the old leader, the new one, when Patroni settled on it and when the writer first wrote there. */
  async switchover(): Promise<{ old: PatroniMember; leader: PatroniMember; settled: number; reached: number }> {
    const old = await this.cluster.waitUntilSettled();
    await this.underLoad();
    await this.cluster.switchover();
    const leader = await this.cluster.waitUntilSettled({ not: old });
    const settled = Date.now();
    const reached = await this.writerReaches(leader, settled);
    await this.underLoad();
    return { old, leader, settled, reached };
  }

  /**
   * The leader's Patroni killed (kill -9) under the loads, its PostgreSQL left
   * running unmanaged: the old leader, the member Patroni promotes once the
   * lock expires, when the kill was and when the writer first wrote there.
   */
  async leaderPatroniKilled(): Promise<{ old: PatroniMember; leader: PatroniMember; killedAt: number; firstOnNew: number }> {
    const old = await this.cluster.waitUntilSettled();
    await this.underLoad();
    const killedAt = Date.now();
    await old.kill9Patroni();
    const leader = await this.cluster.waitUntilSettled({ not: old, timeoutMillis: 120_000 });
    await this.writerReaches(leader, Date.now());
    const firstOnNew = this.writes.acks.find((a) => a.server === leader.host && a.at > killedAt)?.at ?? Infinity;
    return { old, leader, killedAt, firstOnNew };
  }

  /** Waits until a write sent after `since` is acknowledged by `leader`, as the server says; returns when. */
  async writerReaches(leader: PatroniMember, since: number, timeoutMillis = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const ack = this.writes.acks.find((a) => a.sentAt > since && a.server === leader.host);
      if (ack !== undefined) return ack.at;
      if (Date.now() > deadline)
        throw new Error(`no write acknowledged by ${leader.name} (${leader.host}) within ${timeoutMillis} ms; ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** What pg-split and the loads saw, for a failure message. */
  describe(): string {
    const nodes = this.split
      .topology()
      .nodes.map(
        (n) =>
          `${n.host} ${n.reachable ? `${n.role ?? '?'} tl ${n.timeline ?? '?'}` : `down (${n.error ?? ''})`}${n.writer ? ' WRITER' : ''}${n.stale ? ' stale' : ''}${n.unconfirmed ? ' unconfirmed' : ''}`,
      );
    const lastAcks = [...new Set(this.writes.acks.slice(-5).map((a) => a.server))].join(', ');
    return `pg-split sees: ${nodes.join('; ')}; last acks by ${lastAcks}; ${this.writes.failures.length} failed writes (last: ${this.writes.failures.at(-1)?.message ?? '-'}); discarded: ${JSON.stringify(this.discarded)}`;
  }

  /** Stops the loads and ends pg-split (idempotent: tests also call it from `t.after`, so a failed test leaves nothing running). */
  async stop(): Promise<void> {
    const loops = Promise.all([this.writes.stop(), this.reads.stop()]);
    // Ending pg-split fails checkouts still waiting for a node (PGSPLIT_ENDED), so the loops end at once.
    await this.split.end();
    await loops;
  }

  /**
   * Stops the loads and ends pg-split; returns the acknowledged writes missing
   * on the settled leader. Settled as heal() settles it: a replica Patroni left
   * unable to stream (one that had followed a timeline Patroni discarded) is
   * rebuilt, as an operator would, rather than waited for.
   */
  async finish(): Promise<{ lost: number[]; leader: PatroniMember }> {
    await this.stop();
    const leader = await this.cluster.heal();
    const rows = await leader.query<{ id: string }>('SELECT id::text FROM writes');
    return { lost: await missingAcks(this.writes.acks, rows), leader };
  }
}
