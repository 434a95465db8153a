import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterError } from '../cluster-error.js';
import { chownToServer } from '../run-as.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';
import type { DcsApi } from './member-config.js';

/** etcd's JSON gateway carries keys and values in base64. */
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const fromB64 = (text: string | undefined): string => Buffer.from(text ?? '', 'base64').toString();

/** Where one etcd member listens, and the cluster it belongs to. */
export interface EtcdMemberSpec {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** `name=http://host:peerPort` for every member. */
  readonly initialCluster: string;
}

/** One etcd member (Debian's etcd-server) on a loopback address. */
export class EtcdMember {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly #daemon: Daemon;
  readonly #dataDir: string;

  constructor(rootDir: string, spec: EtcdMemberSpec) {
    this.name = spec.name;
    this.host = spec.host;
    this.clientPort = spec.clientPort;
    this.#dataDir = join(rootDir, spec.name);
    const client = `http://${spec.host}:${spec.clientPort}`;
    const peer = `http://${spec.host}:${spec.peerPort}`;
    // Flags and no data dir yet: etcd bootstraps; with a data dir (a restart) it rejoins and ignores the initial-* flags.
    const args = ['--name', spec.name, '--data-dir', this.#dataDir, '--listen-client-urls', client, '--advertise-client-urls', client];
    args.push('--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', spec.initialCluster);
    args.push('--initial-cluster-state', 'new', '--unsafe-no-fsync', '--log-level', 'warn', '--enable-v2=true');
    this.#daemon = new Daemon({ name: spec.name, command: 'etcd', args, logPath: join(rootDir, `${spec.name}.log`), home: rootDir });
  }

  /** `host:port` of its client URL. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
  }

  get daemon(): Daemon {
    return this.#daemon;
  }

  /** Spawns it; readiness (a quorum) is the cluster's to wait for. */
  async spawn(): Promise<void> {
    await mkdir(this.#dataDir, { recursive: true, mode: 0o700 });
    await chownToServer(this.#dataDir);
    this.#daemon.start();
  }

  /** Whether it answers `/health` with a quorum behind it. */
  async healthy(timeoutMillis = 1000): Promise<boolean> {
    const res = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(timeoutMillis) }).catch(() => null);
    return res?.ok === true;
  }

  /** Stops it (SIGTERM), as an operator restarting a member does. */
  stop(timeoutMillis = 10_000): Promise<void> {
    return this.#daemon.stop(timeoutMillis);
  }

  /** Starts it again on its data directory and waits until it is healthy. */
  async restart(timeoutMillis = 20_000): Promise<void> {
    this.#daemon.start();
    await waitUntil(() => this.healthy(), {
      timeoutMillis,
      intervalMillis: 100,
      onTimeout: (last) => clusterError(this.name, `not healthy within ${timeoutMillis} ms`, this.#daemon.logPath, last),
    });
  }
}

/** Patroni's DCS: one etcd member, or three where quorum matters, each on its own loopback address. */
export class Etcd {
  readonly members: readonly EtcdMember[];

  constructor(rootDir: string, specs: ReadonlyArray<Omit<EtcdMemberSpec, 'initialCluster'>>) {
    const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
    this.members = specs.map((s) => new EtcdMember(rootDir, { ...s, initialCluster }));
  }

  /** `host:port` of every member, comma-separated, for Patroni's `etcd3.hosts`. */
  get hosts(): string {
    return this.members.map((m) => m.endpoint).join(',');
  }

  /** Every member's client URL, for pg-split's `patroni.etcd.endpoints`. */
  get endpoints(): string[] {
    return this.members.map((m) => `http://${m.endpoint}`);
  }

  /** The first member's `host:port`. */
  get endpoint(): string {
    return this.members[0]?.endpoint ?? '';
  }

  async start(timeoutMillis: number): Promise<void> {
    await Promise.all(this.members.map((m) => m.spawn()));
    await waitUntil(async () => (await Promise.all(this.members.map((m) => m.healthy()))).every(Boolean), {
      timeoutMillis,
      intervalMillis: 100,
      onTimeout: (last) => clusterError('etcd', `not healthy within ${timeoutMillis} ms`, this.members[0]?.daemon.logPath ?? '', last),
    });
  }

  /** Stops every member (SIGKILL when one overruns). */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.daemon.stop(10_000).catch(() => m.daemon.killSync())));
  }

  killSync(): void {
    for (const m of this.members) m.daemon.killSync();
  }

  /** The first running, unfrozen member's `host:port`. */
  #live(): string {
    return (this.members.find((m) => m.daemon.isRunning() && !m.daemon.frozen) ?? this.members[0])?.endpoint ?? '';
  }

  /**
   * A key's value as etcd holds it now, through the API Patroni uses (keys
   * written through one API are invisible to the other); null when absent.
   * Bounded by `timeoutMillis`.
   */
  async read(key: string, api: DcsApi, timeoutMillis = 1000): Promise<string | null> {
    const signal = AbortSignal.timeout(timeoutMillis);
    if (api === 'etcd') {
      const res = await fetch(`http://${this.#live()}/v2/keys${key}`, { signal });
      if (res.status === 404) return null;
      if (!res.ok) throw clusterError('etcd', `GET ${key}: HTTP ${res.status}`, '', await res.text());
      return ((await res.json()) as { node?: { value?: string } }).node?.value ?? null;
    }
    const value = (await this.#range(key, signal))?.value;
    return value === undefined ? null : fromB64(value);
  }

  async #range(
    key: string,
    signal: AbortSignal,
  ): Promise<{ value?: string; lease?: string; create_revision?: string; mod_revision?: string } | undefined> {
    const body = JSON.stringify({ key: b64(key) });
    const res = await fetch(`http://${this.#live()}/v3/kv/range`, { method: 'POST', body, signal });
    if (!res.ok) throw clusterError('etcd', `range ${key}: HTTP ${res.status}`, '', await res.text());
    return ((await res.json()) as { kvs?: Array<{ value?: string; lease?: string; create_revision?: string; mod_revision?: string }> })
      .kvs?.[0];
  }

  /**
   * A key's value and revisions (etcd's v3 API): `createRevision` changes only
   * when the key is created again (a leader lock taken anew), `modRevision` on
   * every write; null when absent.
   */
  async revisions(key: string, timeoutMillis = 1000): Promise<{ value: string; createRevision: number; modRevision: number } | null> {
    const kv = await this.#range(key, AbortSignal.timeout(timeoutMillis));
    if (kv?.value === undefined) return null;
    return { value: fromB64(kv.value), createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
  }

  /** The lease bound to `key` (etcd's v3 API): the TTL it was granted and the seconds it has left; null when the key or its lease is absent. */
  async lease(key: string, timeoutMillis = 1000): Promise<{ granted: number; left: number } | null> {
    const signal = AbortSignal.timeout(timeoutMillis);
    const lease = (await this.#range(key, signal))?.lease;
    if (lease === undefined) return null;
    const res = await fetch(`http://${this.#live()}/v3/lease/timetolive`, { method: 'POST', body: JSON.stringify({ ID: lease }), signal });
    const { grantedTTL, TTL } = (await res.json()) as { grantedTTL?: string; TTL?: string };
    return grantedTTL === undefined || TTL === undefined ? null : { granted: Number(grantedTTL), left: Number(TTL) };
  }

  /** How many watches etcd's members hold now, all together (`etcd_debugging_mvcc_watcher_total` on each member's `/metrics`). */
  async watchers(timeoutMillis = 2000): Promise<number> {
    const counts = await Promise.all(
      this.members.map(async (m) => {
        const res = await fetch(`http://${m.endpoint}/metrics`, { signal: AbortSignal.timeout(timeoutMillis) });
        const line = (await res.text()).split('\n').find((l) => l.startsWith('etcd_debugging_mvcc_watcher_total '));
        return Number(line?.split(' ')[1] ?? 0);
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Turns etcd's authentication on, with user `root` (role root) and `password`: what an operator securing etcd does. */
  async enableAuth(password: string, timeoutMillis = 5000): Promise<void> {
    for (const [path, body] of [
      ['/v3/auth/user/add', { name: 'root', password }],
      ['/v3/auth/user/grant', { user: 'root', role: 'root' }],
      ['/v3/auth/enable', {}],
    ] as const) {
      const res = await fetch(`http://${this.#live()}${path}`, {
        method: 'POST',
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMillis),
      });
      if (!res.ok) throw clusterError('etcd', `${path}: HTTP ${res.status}`, '', await res.text());
    }
  }

  /** Compacts etcd's history up to its current revision (what an operator's or etcd's auto-compaction does): watches from before fail. */
  async compact(timeoutMillis = 5000): Promise<number> {
    const signal = AbortSignal.timeout(timeoutMillis);
    const status = await fetch(`http://${this.#live()}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }), signal });
    const revision = ((await status.json()) as { header?: { revision?: string } }).header?.revision ?? '0';
    const res = await fetch(`http://${this.#live()}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision, physical: true }),
      signal,
    });
    if (!res.ok) throw clusterError('etcd', `compaction: HTTP ${res.status}`, '', await res.text());
    return Number(revision);
  }
}
