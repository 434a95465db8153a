import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterError } from '../cluster-error.js';
import { chownToServer } from '../run-as.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';
import type { DcsApi } from './member-config.js';

/** One single-member etcd (Debian's etcd-server) on a loopback address: Patroni's DCS. */
export class Etcd {
  readonly host: string;
  readonly clientPort: number;
  readonly #daemon: Daemon;
  readonly #dataDir: string;

  constructor(rootDir: string, host: string, clientPort: number, peerPort: number) {
    this.host = host;
    this.clientPort = clientPort;
    this.#dataDir = join(rootDir, 'etcd');
    const client = `http://${host}:${clientPort}`;
    const peer = `http://${host}:${peerPort}`;
    this.#daemon = new Daemon({
      name: 'etcd',
      command: 'etcd',
      args: [
        '--name',
        'etcd',
        '--data-dir',
        this.#dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `etcd=${peer}`,
        '--unsafe-no-fsync',
        '--log-level',
        'warn',
        '--enable-v2=true',
      ],
      logPath: join(rootDir, 'etcd.log'),
      home: rootDir,
    });
  }

  /** `host:port` for Patroni's `etcd3.hosts`. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
  }

  /**
   * A key's value as etcd holds it now, through the API Patroni uses (keys
   * written through one API are invisible to the other); null when absent.
   * Bounded by `timeoutMillis`.
   */
  async read(key: string, api: DcsApi, timeoutMillis = 1000): Promise<string | null> {
    const signal = AbortSignal.timeout(timeoutMillis);
    if (api === 'etcd') {
      const res = await fetch(`http://${this.endpoint}/v2/keys${key}`, { signal });
      if (res.status === 404) return null;
      if (!res.ok) throw clusterError('etcd', `GET ${key}: HTTP ${res.status}`, this.#daemon.logPath, await res.text());
      return ((await res.json()) as { node?: { value?: string } }).node?.value ?? null;
    }
    const body = JSON.stringify({ key: Buffer.from(key).toString('base64') });
    const res = await fetch(`http://${this.endpoint}/v3/kv/range`, { method: 'POST', body, signal });
    if (!res.ok) throw clusterError('etcd', `range ${key}: HTTP ${res.status}`, this.#daemon.logPath, await res.text());
    const value = ((await res.json()) as { kvs?: Array<{ value?: string }> }).kvs?.[0]?.value;
    return value === undefined ? null : Buffer.from(value, 'base64').toString();
  }

  /** The lease bound to `key` (etcd's v3 API): the TTL it was granted and the seconds it has left; null when the key or its lease is absent. */
  async lease(key: string, timeoutMillis = 1000): Promise<{ granted: number; left: number } | null> {
    const signal = AbortSignal.timeout(timeoutMillis);
    const range = await fetch(`http://${this.endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64') }),
      signal,
    });
    const lease = ((await range.json()) as { kvs?: Array<{ lease?: string }> }).kvs?.[0]?.lease;
    if (lease === undefined) return null;
    const res = await fetch(`http://${this.endpoint}/v3/lease/timetolive`, { method: 'POST', body: JSON.stringify({ ID: lease }), signal });
    const { grantedTTL, TTL } = (await res.json()) as { grantedTTL?: string; TTL?: string };
    return grantedTTL === undefined || TTL === undefined ? null : { granted: Number(grantedTTL), left: Number(TTL) };
  }

  get daemon(): Daemon {
    return this.#daemon;
  }

  async start(timeoutMillis: number): Promise<void> {
    await mkdir(this.#dataDir, { recursive: true, mode: 0o700 });
    await chownToServer(this.#dataDir);
    this.#daemon.start();
    await waitUntil(async () => (await fetch(`http://${this.endpoint}/health`)).ok, {
      timeoutMillis,
      intervalMillis: 100,
      onTimeout: (last) => clusterError('etcd', `not healthy within ${timeoutMillis} ms`, this.#daemon.logPath, last),
    });
  }
}
