import { HarnessError } from '../harness-error.js';
import { nodeAddresses } from '../addresses.js';
import { buildConnInfo, buildUrl } from '../cluster-conninfo.js';
import { logTail } from '../cluster-error.js';
import { waitUntil } from '../wait.js';
import { ClusterTeardown } from './cluster-teardown.js';
import type { Daemon } from './daemon.js';
import type { Etcd } from './etcd.js';
import { PatroniMember } from './member.js';
import { DCS_NAMESPACE, leaderKey, type DcsApi, type MemberTags, type PatroniTiming } from './member-config.js';
import { clusterView, patchConfig, postAction, type PatroniClusterView } from './rest.js';
import { leaseRenewed } from './lease-renewed.js';
import { healCluster } from './heal.js';
import { serversDisagree } from './server-state.js';
import { describeView, runningNames, settledLeader } from './settle.js';

/** Patroni's `scope` in the harness. */
const SCOPE = 'pg-split';
const READY_MILLIS = 60_000;

/** What every member of a cluster shares, as startPatroniCluster set it up. */
export interface PatroniClusterShared {
  readonly rootDir: string;
  readonly binDir: string;
  readonly port: number;
  readonly apiPort: number;
  readonly etcd: Etcd;
  readonly timing: PatroniTiming;
  readonly synchronousMode: boolean;
  readonly maxConnections: number;
  readonly instruments: boolean;
  readonly dcs: DcsApi;
  readonly firstAddress: string;
  readonly log: (line: string) => void;
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
  readonly #shared: PatroniClusterShared;
  readonly #members: PatroniMember[] = [];
  readonly #teardown: ClusterTeardown;
  #nextIndex = 0;

  constructor(shared: PatroniClusterShared) {
    this.#shared = shared;
    this.port = shared.port;
    this.apiPort = shared.apiPort;
    this.rootDir = shared.rootDir;
    this.etcd = shared.etcd;
    this.#teardown = new ClusterTeardown(shared.rootDir, shared.etcd, this.#members, shared.log);
  }

  /** Every member, in the order they were added (removed ones left out). */
  get members(): readonly PatroniMember[] {
    return [...this.#members];
  }

  member(name: string): PatroniMember {
    const found = this.#members.find((m) => m.name === name);
    if (found === undefined) throw new HarnessError(`no member named ${name}`);
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
  async createMember(tags: MemberTags = {}): Promise<PatroniMember> {
    const index = this.#nextIndex++;
    const [host] = nodeAddresses(this.#shared.firstAddress, index + 1).slice(index);
    if (host === undefined) throw new HarnessError('no address left for a member');
    // The shared settings (the harness's own fields among them, which a member ignores), this member's name, address and tags.
    const member = new PatroniMember({ ...this.#shared, scope: SCOPE, name: `m${index + 1}`, host, etcd: this.#shared.etcd.hosts, tags });
    await member.prepare();
    this.#members.push(member);
    return member;
  }

  /** Adds a member and starts it: Patroni clones it from the leader and it joins as a replica. */
  async addMember(tags: MemberTags = {}): Promise<PatroniMember> {
    const member = await this.createMember(tags);
    await member.start();
    return member;
  }

  /** Stops a member for good and removes its data; Patroni forgets it once its member key expires. */
  async removeMember(member: PatroniMember): Promise<void> {
    const i = this.#members.indexOf(member);
    if (i >= 0) this.#members.splice(i, 1);
    await member.dispose('graceful');
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
    throw new HarnessError('no member REST API answered', { cause: last });
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
    const others = (leader: string): PatroniMember[] => this.#members.filter((m) => m.isRunning() && !m.frozen && m.name !== leader);
    await waitUntil(
      async () => {
        const view = await this.view();
        lastView = describeView(view);
        lastRunning = runningNames(view);
        const leader = settledLeader(view, (name) => others(name).map((m) => m.name), this.#shared.synchronousMode, options.not?.name);
        // Patroni's view can lag behind its servers (a thawed member's key): ask each PostgreSQL what it is.
        lastServers = leader === null ? '' : await serversDisagree(this.member(leader.name), others(leader.name));
        settled = leader !== null && lastServers === '' ? this.member(leader.name) : null;
        return settled !== null;
      },
      {
        timeoutMillis,
        intervalMillis: 200,
        onTimeout: (last) =>
          new HarnessError(
            `Patroni cluster not settled within ${timeoutMillis} ms; Patroni says: ${lastView || 'nothing'}${lastServers === '' ? '' : `; the servers say: ${lastServers}`}${this.#stuckLogs(lastRunning)}`,
            { cause: last },
          ),
      },
    );
    if (settled === null) throw new HarnessError('no leader');
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
    if (leader === null) throw new HarnessError('switchover: no leader');
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
    return healCluster(this, timeoutMillis, this.#shared.log);
  }

  /**
   * Resolves right after the leader renewed its lock (the lease's time left
   * went up, etcd's v3 API): a fault injected then meets the lock with its
   * whole `ttl` to run, so when Patroni can promote another member no longer
   * depends on where its HA loop was.
   */
  async lockJustRenewed(timeoutMillis = 10_000): Promise<void> {
    if (this.#shared.dcs !== 'etcd3') throw new HarnessError('lockJustRenewed needs Patroni on etcd3');
    await leaseRenewed(this.etcd, leaderKey(SCOPE), null, timeoutMillis, 50);
  }

  /**
   * Patroni's leader lock as etcd holds it (v3 API): the holder's name and the
   * key's revisions (`createRevision` changes only when the lock is taken
   * anew); null while no member holds it.
   */
  async leaderLock(): Promise<{ holder: string; createRevision: number; modRevision: number } | null> {
    if (this.#shared.dcs !== 'etcd3') throw new HarnessError('leaderLock needs Patroni on etcd3');
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
    if (this.#shared.dcs !== 'etcd3') throw new HarnessError('setTiming needs Patroni on etcd3');
    await this.#patchConfig({ ttl: timing.ttl, loop_wait: timing.loopWait, retry_timeout: timing.retryTimeout });
    await leaseRenewed(this.etcd, leaderKey(SCOPE), timing.ttl, timeoutMillis, 200);
    this.#shared.log(`ttl ${timing.ttl}, loop_wait ${timing.loopWait}, retry_timeout ${timing.retryTimeout}`);
  }

  async #patchConfig(body: Record<string, unknown>): Promise<void> {
    const member = this.#members.find((m) => m.isRunning() && !m.frozen);
    if (member === undefined) throw new HarnessError('no member to configure');
    await patchConfig(member.apiUrl, body);
  }

  async #post(member: PatroniMember, path: string, body: unknown): Promise<void> {
    this.#shared.log(`${path.slice(1)}: ${await postAction(member.apiUrl, member.name, path, body)}`);
  }

  /** Stops `daemon` (HAProxy, a PgBouncer) with the cluster, on destroy() and on exit. */
  adopt(daemon: Daemon): void {
    this.#teardown.adopt(daemon);
  }

  /** Stops every member and etcd, and removes the directory. Idempotent. */
  destroy(): Promise<void> {
    return this.#teardown.run();
  }
}
