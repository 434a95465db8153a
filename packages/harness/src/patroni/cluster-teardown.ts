import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { guardExit } from '../exit-guard.js';
import type { Daemon } from './daemon.js';
import type { Etcd } from './etcd.js';
import type { PatroniMember } from './member.js';

/**
 * What a Patroni cluster owns and stops with it, once: its members (the
 * cluster's own list, as it changes), etcd, the programs adopted beside it
 * (HAProxy, PgBouncers) and its directory; on destroy, on exit and on signals.
 */
export class ClusterTeardown {
  readonly #adopted: Daemon[] = [];
  readonly #exitGuard: { release(): void };
  #done: Promise<void> | undefined;

  constructor(
    readonly rootDir: string,
    readonly etcd: Etcd,
    readonly members: readonly PatroniMember[],
    readonly log: (line: string) => void,
  ) {
    this.#exitGuard = guardExit(() => this.#sync());
  }

  adopt(daemon: Daemon): void {
    this.#adopted.push(daemon);
  }

  /** Idempotent. */
  run(): Promise<void> {
    this.#done ??= this.#run();
    return this.#done;
  }

  async #run(): Promise<void> {
    await Promise.all(this.#adopted.map((d) => d.stop(10_000).catch(() => d.killSync())));
    await Promise.all(this.members.map((m) => m.dispose('kill').catch(() => m.disposeSync())));
    await this.etcd.stop();
    await rm(this.rootDir, { recursive: true, force: true });
    this.#exitGuard.release();
    this.log('Patroni cluster destroyed');
  }

  #sync(): void {
    for (const daemon of this.#adopted) daemon.killSync();
    for (const member of this.members) member.disposeSync();
    this.etcd.killSync();
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}
