import { debuglog } from 'node:util';
import { PgSplitError } from '../errors.js';
import { b64, EtcdClient, fromB64, prefixEnd, type EtcdConnection } from './etcd-client.js';
import { applyKv, EMPTY_DCS, scopePrefix, stateOf, type DcsState, type GatewayKv } from './patroni-keys.js';
import { readWatchStream, type WatchMessage } from './watch-stream.js';

/** Patroni's keys in etcd (option `patroni.etcd`), resolved. */
export interface PatroniDcsOptions {
  readonly connection: EtcdConnection;
  /** Patroni's `scope`: the cluster's name. */
  readonly scope: string;
  /** Patroni's `namespace`. @default '/service' */
  readonly namespace: string;
  /** The watch never keeps the process alive (the pools' `allowExitOnIdle`). */
  readonly exitOnIdle?: boolean;
}

/** Room left between pg-split's last write to a leader whose lease is running out and the lease's expiry. */
const LEASE_MARGIN_MILLIS = 1000;
/** Without a leader, the leader key is read this often (a watch that fell behind must not hide the next leader). */
const LEADERLESS_CHECK_MILLIS = 1000;
const MAX_BACKOFF_MILLIS = 2000;

interface RangeAnswer {
  readonly header?: { readonly revision?: string };
  readonly kvs?: readonly GatewayKv[];
}

/** `NODE_DEBUG=pg-split-etcd`: every read, watch and lease check, for an operator. */
const debug = debuglog('pg-split-etcd');

const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis).unref());

/**
 * Patroni's state read from etcd: one range over `<namespace>/<scope>/`, then
 * etcd's v3 watch from the next revision, which pushes every change (no
 * polling). The leader key lives as long as the leader's lease, and lease
 * keep-alives are not events: the lease's time left is read when the
 * cut-off it gave comes near (and each second while there is no leader),
 * which also finds a watch that fell behind. A lost connection, a restarted
 * or frozen etcd member, a compacted revision: read everything again, on the
 * next endpoint when this one failed, and watch from there.
 */
export class PatroniDcs {
  readonly #client: EtcdClient;
  readonly #prefix: string;
  readonly #endpoints: number;
  readonly #now: () => number;
  #state: DcsState = EMPTY_DCS;
  /** Until when the leader key's lease is known to live, minus a margin (ms epoch); null: no leader, or its lease unknown. */
  #cutoff: number | null = null;
  /** Since when the leader key has named its current leader, as seen here. */
  #leaderSince: number | null = null;
  /** The lease check found the leader key other than the watch said: read everything again. */
  #behind = false;
  /** The newest revision whose changes are applied: a broken watch resumes after it. */
  #seen = 0;
  /** When etcd last answered (a range, a lease, a watch message). */
  #heardAt: number | null = null;
  #error: PgSplitError | null = null;
  readonly #listeners = new Set<() => void>();
  /** Bumped by start(), pause() and close(): an older session stops at its next step. */
  #run = 0;
  #closed = false;
  #watchAbort: AbortController | null = null;
  #checkTimer: NodeJS.Timeout | null = null;
  readonly #first: Promise<PgSplitError | null>;
  #settleFirst: (outcome: PgSplitError | null) => void = () => undefined;
  /** Failed attempts in a row (a read or watch that ended in error): the backoff, and when the first read gives up. */
  #failures = 0;

  constructor(options: PatroniDcsOptions, now: () => number = Date.now) {
    this.#client = new EtcdClient(options.connection, options.exitOnIdle ?? false);
    this.#prefix = scopePrefix(options.namespace, options.scope);
    this.#now = now;
    this.#first = new Promise<PgSplitError | null>((resolve) => {
      this.#settleFirst = (outcome) => {
        this.#settleFirst = () => undefined;
        resolve(outcome);
      };
    });
    this.#endpoints = options.connection.endpoints.length;
  }

  get state(): DcsState {
    return this.#state;
  }

  /** The last error reading etcd, cleared by the next answer. */
  get error(): PgSplitError | null {
    return this.#error;
  }

  get heardAt(): number | null {
    return this.#heardAt;
  }

  get leaderSince(): number | null {
    return this.#leaderSince;
  }

  /** Whether the leader key's lease is known to live past now by more than the margin. */
  leaderAlive(): boolean {
    return this.#state.leader !== null && this.#cutoff !== null && this.#now() < this.#cutoff;
  }

  /**
   * The first read's outcome: null once the keys were read; the error when
   * etcd refused the credentials or holds no such scope, or when every
   * endpoint failed once.
   */
  firstRead(): Promise<PgSplitError | null> {
    return this.#first;
  }

  /** `listener` runs after every change of what is known (keys, the lease's cut-off, an error). */
  on(listener: () => void): void {
    this.#listeners.add(listener);
  }

  off(listener: () => void): void {
    this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Reads and watches until pause() or close(). */
  start(): void {
    if (this.#closed) return;
    const run = this.#stop();
    void this.#session(run);
  }

  /**
   * Stops watching (the cluster is idle): no socket, no timer. The keys read
   * are kept, but the leader needs a fresh lease check after start(), as a
   * REST answer would: what changed meanwhile is read before any write.
   */
  pause(): void {
    this.#stop();
    this.#cutoff = null;
    this.#client.release();
  }

  close(): void {
    this.#closed = true;
    this.#stop();
    this.#client.close();
  }

  #stop(): number {
    this.#watchAbort?.abort();
    this.#watchAbort = null;
    if (this.#checkTimer !== null) clearTimeout(this.#checkTimer);
    this.#checkTimer = null;
    return ++this.#run;
  }

  #current(run: number): boolean {
    return !this.#closed && run === this.#run;
  }

  /**
   * Reads everything, then watches from the next revision. A watch broken by
   * the connection resumes from the last revision seen, on the next endpoint
   * when this one failed; one that etcd cancelled (compacted past that
   * revision, an expired token) or that the lease check found behind starts
   * over with a full read.
   */
  async #session(run: number): Promise<void> {
    let resumeFrom: number | null = null;
    while (this.#current(run)) {
      const abort = new AbortController();
      this.#watchAbort = abort;
      try {
        resumeFrom ??= (await this.#readAll(run)) + 1;
        await this.#watch(resumeFrom, abort);
      } catch (err) {
        if (!this.#current(run)) return;
        this.#failed(err, abort.signal);
      }
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : null;
      const fullRead: boolean = resumeFrom === null || this.#behind || reason === 'compacted' || reason === 'cancelled';
      debug(
        'watch ended (%s); next: %s',
        typeof reason === 'string' ? reason : (this.#error?.message ?? 'stream closed'),
        fullRead ? 'read everything' : `resume from ${this.#seen + 1}`,
      );
      resumeFrom = fullRead ? null : this.#seen + 1;
      if (this.#failures > 0) await sleep(Math.min(MAX_BACKOFF_MILLIS, 100 * 2 ** (this.#failures - 1)));
      if (this.#behind) resumeFrom = null;
    }
  }

  /**
   * Why the read or the watch ended. Compacted, or found behind: read again at
   * once. Cancelled by etcd, or the lease check failed on this endpoint
   * (which it left): after a pause. Anything else: record it, and leave an
   * endpoint that could not be reached.
   */
  #failed(err: unknown, signal: AbortSignal): void {
    const reason: unknown = signal.aborted ? signal.reason : null;
    if (reason === 'compacted' || reason === 'behind') return;
    this.#failures++;
    if (reason === 'cancelled' || reason === 'endpoint-failed') return;
    this.#fail(err);
    if (err instanceof PgSplitError && err.code === 'PGSPLIT_ETCD_UNAVAILABLE') this.#client.rotate();
  }

  #fail(err: unknown): void {
    const coded =
      err instanceof PgSplitError
        ? err
        : new PgSplitError('PGSPLIT_ETCD_UNAVAILABLE', `pg-split: etcd at ${this.#client.endpoint}: ${String(err)}`, { cause: err });
    this.#error = coded;
    if (coded.code !== 'PGSPLIT_ETCD_UNAVAILABLE' || this.#failures >= this.#endpoints) this.#settleFirst(coded);
    this.#changed();
  }

  /** One range over the whole prefix: the state at a revision, from which the watch goes on. */
  async #readAll(run: number): Promise<number> {
    const answer = await this.#client.call<RangeAnswer>('/v3/kv/range', {
      key: b64(this.#prefix),
      range_end: b64(prefixEnd(this.#prefix)),
    });
    if (!this.#current(run)) return 0;
    const state = stateOf(this.#prefix, answer.kvs ?? []);
    if (!state.found)
      throw new PgSplitError(
        'PGSPLIT_PATRONI_SCOPE',
        `pg-split: no Patroni cluster under ${this.#prefix} in etcd at ${this.#client.endpoint}: check patroni.etcd.scope (Patroni's \`scope\`) and namespace. Patroni on etcd's v2 API (\`etcd:\` in its configuration rather than \`etcd3:\`) keeps its keys where the v3 API does not see them.`,
      );
    this.#heard();
    this.#seen = Number(answer.header?.revision ?? 0);
    this.#behind = false;
    debug('read %s at revision %d from %s: leader %s', this.#prefix, this.#seen, this.#client.endpoint, state.leader?.name ?? 'none');
    this.#setState(state);
    this.#settleFirst(null);
    void this.#checkLease(run);
    return this.#seen;
  }

  async #watch(fromRevision: number, abort: AbortController): Promise<void> {
    const response = await this.#client.openWatch(
      { key: b64(this.#prefix), range_end: b64(prefixEnd(this.#prefix)), start_revision: String(fromRevision) },
      abort.signal,
    );
    await readWatchStream(response, (message) => this.#onMessage(message, abort));
    if (!abort.signal.aborted)
      throw new PgSplitError('PGSPLIT_ETCD_UNAVAILABLE', `pg-split: etcd at ${this.#client.endpoint} ended the watch`);
  }

  #onMessage(message: WatchMessage, abort: AbortController): void {
    if (abort.signal.aborted) return;
    this.#heard();
    // Compacted past our revision, or cancelled (an expired token): read everything again and watch from there.
    if (message.canceled) {
      abort.abort(message.compactRevision === null ? 'cancelled' : 'compacted');
      return;
    }
    this.#failures = 0;
    if (message.events.length === 0) return;
    const leaderBefore = this.#state.leader;
    let state = this.#state;
    for (const event of message.events) {
      state = applyKv(state, this.#prefix, event.kv ?? {}, event.type === 'DELETE');
      this.#seen = Math.max(this.#seen, Number(event.kv?.mod_revision ?? 0));
    }
    this.#setState(state);
    if (state.leader?.lease !== leaderBefore?.lease || state.leader?.name !== leaderBefore?.name) void this.#checkLease(this.#run);
  }

  #setState(state: DcsState): void {
    if (state.leader?.name !== this.#state.leader?.name) {
      this.#leaderSince = state.leader === null ? null : this.#now();
      this.#cutoff = null;
    }
    if (state.leader === null) this.#cutoff = null;
    this.#state = state;
    this.#error = null;
    this.#changed();
  }

  #heard(): void {
    this.#heardAt = this.#now();
  }

  /**
   * Reads the leader key and its lease's time left: the cut-off until which
   * the leader gets writes (the lease's expiry less a margin; etcd rounds the
   * time left down). A leader key that differs from the watched one means the
   * watch fell behind: read everything again.
   */
  async #checkLease(run: number): Promise<void> {
    if (this.#checkTimer !== null) clearTimeout(this.#checkTimer);
    this.#checkTimer = null;
    const sentAt = this.#now();
    try {
      const answer = await this.#client.call<RangeAnswer>('/v3/kv/range', { key: b64(`${this.#prefix}leader`) });
      if (!this.#current(run)) return;
      const kv = answer.kvs?.[0];
      const known = this.#state.leader;
      if ((kv?.mod_revision ?? null) !== (known?.modRevision ?? null)) {
        this.#behind = true;
        this.#watchAbort?.abort('behind');
        this.#scheduleCheck(run);
        return;
      }
      const left =
        kv?.lease === undefined
          ? -1
          : Number((await this.#client.call<{ TTL?: string }>('/v3/lease/timetolive', { ID: kv.lease })).TTL ?? -1);
      if (!this.#current(run)) return;
      this.#heard();
      this.#error = null;
      this.#cutoff = left > 0 ? sentAt + left * 1000 - LEASE_MARGIN_MILLIS : null;
      debug('leader %s: lease %s s left', kv?.value === undefined ? 'none' : fromB64(kv.value), left);
      this.#changed();
    } catch (err) {
      if (!this.#current(run)) return;
      this.#fail(err);
      // The watch on this endpoint may hang as this request did: start over on the next.
      this.#client.rotate();
      this.#watchAbort?.abort('endpoint-failed');
    }
    // Always again: a check that failed is retried (on the next endpoint) within a second, whatever the watch does.
    this.#scheduleCheck(run);
  }

  #scheduleCheck(run: number): void {
    if (this.#checkTimer !== null) clearTimeout(this.#checkTimer);
    const now = this.#now();
    const lead = 2 * this.#client.timeoutMillis + 500;
    const at = this.#cutoff === null ? now + LEADERLESS_CHECK_MILLIS : Math.max(this.#cutoff - lead, now + LEADERLESS_CHECK_MILLIS);
    this.#checkTimer = setTimeout(() => void this.#checkLease(run), at - now);
    this.#checkTimer.unref();
  }
}
