import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterError } from '../cluster-error.js';
import { chownToServer } from '../run-as.js';
import { waitUntil } from '../wait.js';
import { Daemon } from './daemon.js';

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
        '--name', 'etcd', '--data-dir', this.#dataDir, '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `etcd=${peer}`,
        '--unsafe-no-fsync', '--log-level', 'warn', '--enable-v2=true',
      ],
      logPath: join(rootDir, 'etcd.log'),
      home: rootDir,
    });
  }

  /** `host:port` for Patroni's `etcd3.hosts`. */
  get endpoint(): string {
    return `${this.host}:${this.clientPort}`;
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
