import { EventEmitter } from 'node:events';
import { debuglog } from 'node:util';
import { PgSplitError } from '../errors.js';
import { backoffMillis, errorRule, leaseCutoff, needsFullRead, nextLeaseCheckAt, watchAbort } from './dcs-rules.js';
import { b64, EtcdClient, prefixEnd } from './etcd-client.js';
import type { PatroniDcsOptions } from './etcd-options.js';
import { applyKv, EMPTY_DCS, scopePrefix, type DcsState } from './patroni-keys.js';
import { readLeaderLease, readScope } from './dcs-reads.js';
import { readWatchStream, type WatchMessage } from './watch-stream.js';

/** `change`: after every change of what is known (keys, the lease's cut-off, an error). */
export interface PatroniDcsEvents {
  change: [];
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
export class PatroniDcs extends EventEmitter<PatroniDcsEvents> {
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
    super();
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
      const ended = watchAbort(abort.signal);
      const fullRead = needsFullRead(ended, resumeFrom !== null, this.#behind);
      debug(
        'watch ended (%s); next: %s',
        ended ?? this.#error?.message ?? 'stream closed',
        fullRead ? 'read everything' : `resume from ${this.#seen + 1}`,
      );
      resumeFrom = fullRead ? null : this.#seen + 1;
      const pause = backoffMillis(this.#failures);
      if (pause > 0) await sleep(pause);
      if (this.#behind) resumeFrom = null;
    }
  }

  /** A read or watch ended in error (errorRule): count it, record it, and leave an endpoint that could not be reached. */
  #failed(err: unknown, signal: AbortSignal): void {
    const rule = errorRule(watchAbort(signal));
    if (rule.failure) this.#failures++;
    if (!rule.record) return;
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
    this.emit('change');
  }

  /** One range over the whole prefix: the state at a revision, from which the watch goes on. */
  async #readAll(run: number): Promise<number> {
    const { state, revision } = await readScope(this.#client, this.#prefix);
    if (!this.#current(run)) return 0;
    this.#heard();
    this.#seen = revision;
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
    this.emit('change');
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
      const reading = await readLeaderLease(this.#client, this.#prefix, this.#state.leader?.modRevision ?? null);
      if (!this.#current(run)) return;
      if (reading.behind) {
        this.#behind = true;
        this.#watchAbort?.abort('behind');
        this.#scheduleCheck(run);
        return;
      }
      this.#heard();
      this.#error = null;
      this.#cutoff = leaseCutoff(sentAt, reading.leftSeconds);
      debug('leader %s: lease %s s left', reading.holder ?? 'none', reading.leftSeconds);
      this.emit('change');
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
    const at = nextLeaseCheckAt(now, this.#cutoff, this.#client.timeoutMillis);
    this.#checkTimer = setTimeout(() => void this.#checkLease(run), at - now);
    this.#checkTimer.unref();
  }
}
