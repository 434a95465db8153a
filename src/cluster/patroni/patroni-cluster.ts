import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { debuglog } from 'node:util';
import { PgSplitError } from '../../errors.js';
import { findFreePort, nodeAddresses } from '../addresses.js';
import { buildConnInfo, buildUrl } from '../cluster-conninfo.js';
import { logTail } from '../cluster-error.js';
import { makeClusterDir } from '../cluster-dir.js';
import { guardExit } from '../exit-guard.js';
import { findPgBinDir } from '../find-binaries.js';
import { chownToServer } from '../run-as.js';
import { createSecureRoleSql, SHARED_SETTINGS } from '../server-config.js';
import { waitUntil } from '../wait.js';
import type { Daemon } from './daemon.js';
import { Etcd } from './etcd.js';
import { PatroniMember } from './member.js';
import { DCS_NAMESPACE, leaderKey, type DcsApi, type PatroniTiming } from './member-config.js';
import { callRest, clusterView, type PatroniClusterView } from './rest.js';

export interface PatroniClusterOptions {
  /** Members to start. @default 3 */
  readonly members?: number;
  /** Patroni's `synchronous_mode`. @default false */
  readonly synchronousMode?: boolean;
  /** The etcd API Patroni uses (see DcsApi: Patroni 3.0.2 on `etcd3` can let a thawed leader take its lock back). @default 'etcd3' */
  readonly dcs?: DcsApi;
  /** Leader TTL, HA loop and retry timeout in seconds. @default { ttl: 10, loopWait: 2, retryTimeout: 4 } */
  readonly timing?: Partial<PatroniTiming>;
  /** PostgreSQL's `max_connections` on every member. @default 200 */
  readonly maxConnections?: number;
  /** etcd's members: 3 where quorum matters. @default 1 */
  readonly etcdMembers?: 1 | 3;
  /** The first member's address; the others take the next ones (four spare for added members), and etcd's members the ones after. @default '127.0.0.2' */
  readonly firstAddress?: string;
  /** Receives one line per harness step. @default NODE_DEBUG=pg-split-cluster output */
  readonly log?: (line: string) => void;
}

const SCOPE = 'pg-split';
const DEFAULT_TIMING: PatroniTiming = { ttl: 10, loopWait: 2, retryTimeout: 4 };
const READY_MILLIS = 60_000;

interface Shared {
  readonly rootDir: string;
  readonly binDir: string;
  readonly port: number;
  readonly apiPort: number;
  readonly etcd: Etcd;
  readonly timing: PatroniTiming;
  readonly synchronousMode: boolean;
  readonly maxConnections: number;
  readonly dcs: DcsApi;
  readonly firstAddress: string;
  readonly log: (line: string) => void;
}

/** A member's PostgreSQL as the server says: in recovery or not, and whether its WAL receiver streams; null when it does not answer. */
async function serverState(member: PatroniMember): Promise<{ standby: boolean; streaming: boolean } | null> {
  const rows = await member
    .query<{ standby: boolean; receiver: string | null }>(
      'SELECT pg_catalog.pg_is_in_recovery() AS standby, (SELECT status FROM pg_catalog.pg_stat_wal_receiver) AS receiver',
    )
    .catch(() => null);
  const row = rows?.[0];
  return row === undefined ? null : { standby: row.standby, streaming: row.receiver === 'streaming' };
}

/**
 * What the servers say against a settled cluster: '' when the leader's
 * PostgreSQL is read-write and every other running member's is in recovery
 * and streaming (a replica Patroni calls running may not stream yet: a
 * switchover could then promote it without the leader's latest commits),
 * else each member's state as its server reports it.
 */
async function serversDisagree(leader: PatroniMember, others: readonly PatroniMember[]): Promise<string> {
  const members = [leader, ...others];
  const states = await Promise.all(members.map(serverState));
  const [leaderState, ...othersState] = states;
  if (leaderState?.standby === false && othersState.every((s) => s?.standby === true && s.streaming)) return '';
  const said = (s: Awaited<ReturnType<typeof serverState>>): string =>
    s === null ? 'no answer' : s.standby ? `standby, ${s.streaming ? 'streaming' : 'not streaming'}` : 'read-write';
  return members.map((m, i) => `${m.name} ${said(states[i] ?? null)}`).join('; ');
}

/**
 * A Patroni cluster on etcd, from Debian's `patroni` and `etcd-server`: one
 * etcd, N members each on its own loopback address (PostgreSQL and the REST
 * API on ports shared by all members), run as the `postgres` user. Patroni
 * performs every failover; the methods here are what an operator or a fault
 * does. Always `destroy()` it (it is also torn down on exit and on signals).
 */
export class PatroniCluster {
  /** The PostgreSQL port every member listens on. */
  readonly port: number;
  /** The REST API port every member listens on. */
  readonly apiPort: number;
  readonly rootDir: string;
  readonly etcd: Etcd;
  /** Patroni's `scope` (its keys in etcd are under `/service/<scope>/`). */
  readonly scope = SCOPE;
  readonly #shared: Shared;
  readonly #members: PatroniMember[] = [];
  /** Programs started beside the cluster (HAProxy, PgBouncers): stopped with it. */
  readonly #adopted: Daemon[] = [];
  readonly #exitGuard: { release(): void };
  #nextIndex = 0;
  #destroyed: Promise<void> | undefined;

  constructor(shared: Shared) {
    this.#shared = shared;
    this.port = shared.port;
    this.apiPort = shared.apiPort;
    this.rootDir = shared.rootDir;
    this.etcd = shared.etcd;
    this.#exitGuard = guardExit(() => this.#destroySync());
  }

  /** Every member, in the order they were added (removed ones left out). */
  get members(): readonly PatroniMember[] {
    return [...this.#members];
  }

  member(name: string): PatroniMember {
    const found = this.#members.find((m) => m.name === name);
    if (found === undefined) throw new PgSplitError('PGSPLIT_CLUSTER', `no member named ${name}`);
    return found;
  }

  /** `postgresql://postgres@m1:P,m2:P,.../postgres` for `members` in that order. */
  url(members: readonly PatroniMember[] = this.#members, query: Readonly<Record<string, string>> = {}): string {
    return buildUrl(members, query);
  }

  conninfo(members: readonly PatroniMember[] = this.#members, extra: Readonly<Record<string, string>> = {}): string {
    return buildConnInfo(members, this.port, extra);
  }

  /** Creates a member (not started): the next loopback address, its own directories, `tags` as given. */
  async createMember(tags: { nofailover?: boolean; noloadbalance?: boolean } = {}): Promise<PatroniMember> {
    const index = this.#nextIndex++;
    const [host] = nodeAddresses(this.#shared.firstAddress, index + 1).slice(index);
    if (host === undefined) throw new PgSplitError('PGSPLIT_CLUSTER', 'no address left for a member');
    const { rootDir, binDir, port, apiPort, etcd, timing, synchronousMode, maxConnections, dcs, log } = this.#shared;
    const member = new PatroniMember({
      scope: SCOPE,
      name: `m${index + 1}`,
      host,
      port,
      apiPort,
      etcd: etcd.hosts,
      dcs,
      binDir,
      timing,
      synchronousMode,
      maxConnections,
      tags,
      rootDir,
      log,
    });
    await member.prepare();
    this.#members.push(member);
    return member;
  }

  /** Adds a member and starts it: Patroni clones it from the leader and it joins as a replica. */
  async addMember(tags: { nofailover?: boolean; noloadbalance?: boolean } = {}): Promise<PatroniMember> {
    const member = await this.createMember(tags);
    await member.start();
    return member;
  }

  /** Stops a member for good and removes its data; Patroni forgets it once its member key expires. */
  async removeMember(member: PatroniMember): Promise<void> {
    const i = this.#members.indexOf(member);
    if (i >= 0) this.#members.splice(i, 1);
    await member.dispose();
    this.#shared.log(`${member.name}: removed`);
  }

  /** Patroni's view, asked of the first member whose REST API answers. */
  async view(): Promise<PatroniClusterView> {
    let last: unknown;
    for (const member of this.#members.filter((m) => m.isRunning() && !m.frozen)) {
      try {
        return await clusterView(member.apiUrl);
      } catch (err) {
        last = err;
      }
    }
    throw new PgSplitError('PGSPLIT_CLUSTER', 'no member REST API answered', { cause: last });
  }

  /** The member Patroni says holds the leader lock now, or null. */
  async leader(): Promise<PatroniMember | null> {
    const view = await this.view().catch(() => null);
    const name = view?.members.find((m) => m.role === 'leader')?.name;
    return name === undefined ? null : (this.#members.find((m) => m.name === name) ?? null);
  }

  /**
   * The member holding Patroni's leader lock in etcd now (null: no one), read
   * from the DCS itself: what every member's view of the cluster lags behind.
   */
  async lockHolder(): Promise<PatroniMember | null> {
    const name = await this.etcd.read(leaderKey(SCOPE), this.#shared.dcs);
    return name === null ? null : (this.#members.find((m) => m.name === name) ?? null);
  }

  /**
   * Waits until Patroni has a leader (other than `not`, when given), every
   * other running, unfrozen member is a running replica on its timeline,
   * (synchronous_mode) a synchronous standby is chosen, and the servers agree:
   * the leader's PostgreSQL read-write, every other one in recovery and
   * streaming. A timeout says what Patroni and the servers said, with the
   * logs of the members Patroni did not call running.
   */
  async waitUntilSettled(options: { not?: PatroniMember; timeoutMillis?: number } = {}): Promise<PatroniMember> {
    let settled: PatroniMember | null = null;
    let lastView = '';
    let lastServers = '';
    let lastRunning = new Set<string>();
    const timeoutMillis = options.timeoutMillis ?? READY_MILLIS;
    await waitUntil(
      async () => {
        const view = await this.view();
        lastView = view.members.map((m) => `${m.name} ${m.role} ${m.state} timeline ${m.timeline ?? '?'}`).join('; ');
        lastRunning = new Set(view.members.filter((m) => m.state === 'running' || m.state === 'streaming').map((m) => m.name));
        const leader = view.members.find((m) => m.role === 'leader' && m.state === 'running');
        if (leader === undefined || leader.name === options.not?.name) return false;
        const others = this.#members.filter((m) => m.isRunning() && !m.frozen && m.name !== leader.name);
        const ok =
          others.every((m) =>
            view.members.some(
              (v) => v.name === m.name && (v.state === 'running' || v.state === 'streaming') && v.timeline === leader.timeline,
            ),
          ) &&
          // In synchronous_mode, settled also means Patroni has chosen a synchronous standby (a switchover needs one).
          (!this.#shared.synchronousMode || others.length === 0 || view.members.some((v) => v.role === 'sync_standby'));
        // Patroni's view can lag behind its servers (a thawed member's key): ask each PostgreSQL what it is.
        lastServers = ok ? await serversDisagree(this.member(leader.name), others) : '';
        const real = ok && lastServers === '';
        settled = real ? this.member(leader.name) : null;
        return real;
      },
      {
        timeoutMillis,
        intervalMillis: 200,
        onTimeout: (last) =>
          new PgSplitError(
            'PGSPLIT_CLUSTER',
            `Patroni cluster not settled within ${timeoutMillis} ms; Patroni says: ${lastView || 'nothing'}${lastServers === '' ? '' : `; the servers say: ${lastServers}`}${this.#stuckLogs(lastRunning)}`,
            { cause: last },
          ),
      },
    );
    if (settled === null) throw new PgSplitError('PGSPLIT_CLUSTER', 'no leader');
    return settled;
  }

  /** The last lines of the log of each member Patroni did not call running (Patroni's and its PostgreSQL's), for an error. */
  #stuckLogs(running: ReadonlySet<string>): string {
    const stuck = this.#members.filter((m) => !running.has(m.name));
    return stuck.map((m) => `\nlast lines of ${m.logPath}:\n${logTail(m.logPath)}`).join('');
  }

  /** A planned switchover (what `patronictl switchover --force` does), through the leader's REST API. */
  async switchover(candidate?: PatroniMember): Promise<void> {
    const leader = await this.leader();
    if (leader === null) throw new PgSplitError('PGSPLIT_CLUSTER', 'switchover: no leader');
    const body = candidate === undefined ? { leader: leader.name } : { leader: leader.name, candidate: candidate.name };
    await this.#post(leader, '/switchover', body);
  }

  /** A manual failover to `candidate` (`patronictl failover`), accepted even without a healthy leader. */
  async failover(candidate: PatroniMember): Promise<void> {
    await this.#post(candidate, '/failover', { candidate: candidate.name });
  }

  /** Rebuilds a member from the leader (`patronictl reinit`): for a member whose PostgreSQL cannot rejoin by itself. */
  async reinitialize(member: PatroniMember): Promise<void> {
    await this.#post(member, '/reinitialize', { force: true });
  }

  /**
   * Starts every stopped member, thaws frozen ones, rebuilds any whose
   * PostgreSQL failed to start (a pg_rewind that could not run) or that is
   * still on another timeline than the leader's after 30 s, and waits until
   * the cluster is settled: what a test (or an operator) does between two
   * faults.
   */
  async heal(timeoutMillis = 180_000): Promise<PatroniMember> {
    for (const member of this.#members) {
      member.thaw();
      if (!member.isRunning()) await member.start();
    }
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      try {
        return await this.waitUntilSettled({ timeoutMillis: Math.min(15_000, Math.max(1000, deadline - Date.now())) });
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        const view = await this.view().catch(() => null);
        const leader = view?.members.find((m) => m.role === 'leader' && m.state === 'running');
        // Failed to start, or still on another timeline than the leader's after a whole wait: a member left on a
        // timeline Patroni gave up (Patroni 3.0.2 does not always rewind one that is ahead of the leader).
        // Or, as its server says, a member still read-write while another leads (Patroni's view of it lagging), or
        // a standby that does not stream (left on a history the leader's does not continue).
        const unfit = await Promise.all(
          this.#members.map(async (m) => {
            if (m.name === leader?.name || !m.isRunning() || m.frozen) return null;
            const state = await serverState(m);
            return state !== null && (!state.standby || !state.streaming) ? m.name : null;
          }),
        );
        const broken =
          view?.members.filter(
            (m) =>
              m.role !== 'leader' &&
              (/failed|crashed|stopped/.test(m.state) ||
                unfit.includes(m.name) ||
                (leader !== undefined && m.timeline !== undefined && m.timeline !== leader.timeline)),
          ) ?? [];
        for (const m of broken) {
          this.#shared.log(`${m.name}: ${m.state}; reinitializing it from the leader`);
          await this.reinitialize(this.member(m.name)).catch(() => undefined);
        }
      }
    }
  }

  /**
   * Resolves right after the leader renewed its lock (the lease's time left
   * went up, etcd's v3 API): a fault injected then meets the lock with its
   * whole `ttl` to run, so when Patroni can promote another member no longer
   * depends on where its HA loop was.
   */
  async lockJustRenewed(timeoutMillis = 10_000): Promise<void> {
    if (this.#shared.dcs !== 'etcd3') throw new PgSplitError('PGSPLIT_CLUSTER', 'lockJustRenewed needs Patroni on etcd3');
    await this.#lockRenewed(null, timeoutMillis, 50);
  }

  /** Resolves once the leader's lease time left went up (a renewal), on a lease granted `ttl` seconds when given. */
  async #lockRenewed(ttl: number | null, timeoutMillis: number, intervalMillis: number): Promise<void> {
    let lowest = Infinity;
    await waitUntil(
      async () => {
        const lease = await this.etcd.lease(leaderKey(SCOPE)).catch(() => null);
        if (lease === null || (ttl !== null && lease.granted !== ttl)) return false;
        if (lease.left > lowest) return true;
        lowest = Math.min(lowest, lease.left);
        return false;
      },
      {
        timeoutMillis,
        intervalMillis,
        onTimeout: () =>
          new PgSplitError(
            'PGSPLIT_CLUSTER',
            `the leader lock not renewed${ttl === null ? '' : ` on a ${ttl} s lease`} within ${timeoutMillis} ms`,
          ),
      },
    );
  }

  /**
   * Patroni's leader lock as etcd holds it (v3 API): the holder's name and the
   * key's revisions (`createRevision` changes only when the lock is taken
   * anew); null while no member holds it.
   */
  async leaderLock(): Promise<{ holder: string; createRevision: number; modRevision: number } | null> {
    if (this.#shared.dcs !== 'etcd3') throw new PgSplitError('PGSPLIT_CLUSTER', 'leaderLock needs Patroni on etcd3');
    const kv = await this.etcd.revisions(leaderKey(SCOPE));
    return kv === null ? null : { holder: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision };
  }

  /** pg-split's `patroni.etcd` option for this cluster: every etcd member, Patroni's scope and namespace. */
  etcdOptions(): { endpoints: string[]; scope: string; namespace: string } {
    return { endpoints: this.etcd.endpoints, scope: SCOPE, namespace: DCS_NAMESPACE };
  }

  /** Turns Patroni's `synchronous_mode` on or off (`PATCH /config`). */
  async setSynchronousMode(on: boolean): Promise<void> {
    await this.#patchConfig({ synchronous_mode: on });
    this.#shared.log(`synchronous_mode ${on ? 'on' : 'off'}`);
  }

  /**
   * Changes Patroni's `ttl`, `loop_wait` and `retry_timeout` (`PATCH /config`)
   * and waits until the leader holds its lock on a lease of the new `ttl`
   * (etcd's v3 API) and has renewed it once since: a whole HA loop has run on
   * the new timing, so Patroni's view of its own lock is current again (a
   * leader stopped before then fails to release a lock it re-took in the same
   * loop, and the lock lives out its ttl).
   */
  async setTiming(timing: PatroniTiming, timeoutMillis = 60_000): Promise<void> {
    if (this.#shared.dcs !== 'etcd3') throw new PgSplitError('PGSPLIT_CLUSTER', 'setTiming needs Patroni on etcd3');
    await this.#patchConfig({ ttl: timing.ttl, loop_wait: timing.loopWait, retry_timeout: timing.retryTimeout });
    await this.#lockRenewed(timing.ttl, timeoutMillis, 200);
    this.#shared.log(`ttl ${timing.ttl}, loop_wait ${timing.loopWait}, retry_timeout ${timing.retryTimeout}`);
  }

  async #patchConfig(body: Record<string, unknown>): Promise<void> {
    const member = this.#members.find((m) => m.isRunning() && !m.frozen);
    if (member === undefined) throw new PgSplitError('PGSPLIT_CLUSTER', 'no member to configure');
    const { status, text } = await callRest(member.apiUrl, '/config', { method: 'PATCH', body });
    if (status !== 200) throw new PgSplitError('PGSPLIT_CLUSTER', `PATCH /config: HTTP ${status} ${text}`);
  }

  async #post(member: PatroniMember, path: string, body: unknown): Promise<void> {
    const started = Date.now();
    const { status, text } = await callRest(member.apiUrl, path, { method: 'POST', body, timeoutMillis: 60_000 });
    if (status !== 200) throw new PgSplitError('PGSPLIT_CLUSTER', `POST ${path} on ${member.name}: HTTP ${status} ${text.trim()}`);
    this.#shared.log(`${path.slice(1)}: ${text.trim()} (${Date.now() - started} ms)`);
  }

  /** Stops `daemon` (HAProxy, a PgBouncer) with the cluster, on destroy() and on exit. */
  adopt(daemon: Daemon): void {
    this.#adopted.push(daemon);
  }

  /** Stops every member and etcd, and removes the directory. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= this.#teardown();
    return this.#destroyed;
  }

  async #teardown(): Promise<void> {
    await Promise.all(this.#adopted.map((d) => d.stop(10_000).catch(() => d.killSync())));
    await Promise.all(this.#members.map((m) => m.dispose().catch(() => m.disposeSync())));
    await this.etcd.stop();
    await rm(this.rootDir, { recursive: true, force: true });
    this.#exitGuard.release();
    this.#shared.log('Patroni cluster destroyed');
  }

  #destroySync(): void {
    for (const daemon of this.#adopted) daemon.killSync();
    for (const member of this.#members) member.disposeSync();
    this.etcd.killSync();
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

function memberCount(options: PatroniClusterOptions): number {
  const count = options.members ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 20)
    throw new PgSplitError('PGSPLIT_CLUSTER', `members must be an integer from 1 to 20, not ${count}`);
  return count;
}

/**
 * Starts etcd and a Patroni cluster of `members` members and resolves once
 * Patroni has a leader and every replica runs on its timeline (about 10 s for
 * three members). The secure role (scram-sha-256) exists, as in `startCluster`.
 *
 * @example
 * const cluster = await startPatroniCluster({ members: 3 });
 * try {
 *   const split = await connectSplit(cluster.url());
 *   await cluster.switchover();
 * } finally {
 *   await cluster.destroy();
 * }
 */
export async function startPatroniCluster(options: PatroniClusterOptions = {}): Promise<PatroniCluster> {
  const started = Date.now();
  const log = options.log ?? debuglog('pg-split-cluster');
  const count = memberCount(options);
  const firstAddress = options.firstAddress ?? '127.0.0.2';
  const etcdCount = options.etcdMembers ?? 1;
  // Members take the first count + 4 addresses (room for added members); etcd's members the ones after them.
  const addresses = nodeAddresses(firstAddress, count + 4 + etcdCount);
  const memberAddresses = addresses.slice(0, count + 4);
  const port = await findFreePort(memberAddresses);
  const apiPort = await findFreePort(memberAddresses);
  const rootDir = await makeClusterDir();
  await chownToServer(rootDir);
  const etcdSpecs = [];
  for (const [i, host] of addresses.slice(count + 4).entries()) {
    const name = etcdCount === 1 ? 'etcd' : `etcd${i + 1}`;
    etcdSpecs.push({ name, host, clientPort: await findFreePort([host]), peerPort: await findFreePort([host]) });
  }
  const etcd = new Etcd(rootDir, etcdSpecs);
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const cluster = new PatroniCluster({
    rootDir,
    binDir: findPgBinDir(),
    port,
    apiPort,
    etcd,
    timing,
    synchronousMode: options.synchronousMode ?? false,
    maxConnections: options.maxConnections ?? Number(SHARED_SETTINGS['max_connections']),
    dcs: options.dcs ?? 'etcd3',
    firstAddress,
    log,
  });
  try {
    await etcd.start(20_000);
    const members = [];
    for (let i = 0; i < count; i++) members.push(await cluster.createMember());
    // The first member bootstraps the cluster; the others clone it once it leads.
    await members[0]?.start();
    await Promise.all(members.slice(1).map((m) => m.start()));
    const leader = await cluster.waitUntilSettled();
    await leader.query(createSecureRoleSql());
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
  log(`Patroni cluster up: ${count} members, PostgreSQL on port ${port}, REST API on ${apiPort}, in ${Date.now() - started} ms`);
  return cluster;
}
