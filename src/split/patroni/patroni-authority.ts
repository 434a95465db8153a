import { firstPatroniView, restBase } from '../../probe/patroni-members.js';
import type { EtcdOptions } from '../../etcd/etcd-options.js';
import type { PatroniDcsOptions } from '../../etcd/etcd-options.js';
import type { LeaderAuthority, PatroniReport } from '../watch/leader-authority.js';
import { memberKey, type Members } from '../watch/members.js';
import { untraced } from '../../otel/otel-api.js';
import { confirmsSoleLeader, isFresh, MIN_STALE_MILLIS, saysLeader, staleAfter } from './leader-claims.js';

/** Where and how often Patroni's REST API is asked (option `patroni`). */
export interface PatroniOptions {
  /** The REST API port on every host of the connection string. @default 8008 */
  readonly port?: number;
  /** Ask every member this often, in milliseconds. @default 1000 */
  readonly intervalMillis?: number;
  /** Bound on one request, in milliseconds. @default 1000 */
  readonly timeoutMillis?: number;
  /**
   * A leader whose Patroni has not confirmed it for this long gets only
   * witnessed writes (WriteWitness), in milliseconds. @default derived from Patroni's own `ttl` and `loop_wait`
   * (GET /config): as long as can be while no other member can have been
   * promoted yet, at least 2500
   */
  readonly staleMillis?: number;
  /**
   * Read Patroni's state from etcd's v3 API (its `etcd3:` DCS) by watch,
   * instead of asking every member's REST API: no load on Patroni, and the
   * leader key's lease gives the cut-off. docs/patroni.md.
   */
  readonly etcd?: EtcdOptions;
}

export interface ResolvedPatroniOptions {
  readonly port: number;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
  /** null: derived from Patroni's configuration. */
  readonly staleMillis: number | null;
  /** null: Patroni's REST API. */
  readonly etcd: PatroniDcsOptions | null;
}

/** While no member is confirmed, members are asked this often at most (a failover in progress). */
const FAST_INTERVAL_MILLIS = 200;

/** Whether a failed request found nothing listening (the member's Patroni is not running), by the socket's errno. */
function isRefused(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return typeof cause === 'object' && cause !== null && 'code' in cause && cause.code === 'ECONNREFUSED';
}

/** Patroni's `ttl` and `loop_wait` from `GET /config`, or null. */
async function askTiming(base: string, timeoutMillis: number): Promise<{ ttl: number; loopWait: number } | null> {
  try {
    const response = await untraced(() => fetch(`${base}/config`, { signal: AbortSignal.timeout(timeoutMillis) }));
    if (!response.ok) return null;
    const body = (await response.json()) as { ttl?: unknown; loop_wait?: unknown };
    return typeof body.ttl === 'number' && typeof body.loop_wait === 'number' ? { ttl: body.ttl, loopWait: body.loop_wait } : null;
  } catch {
    return null;
  }
}

/** One member's answer, or why there was none (`refused`: nothing listens on its REST port). */
interface Asked {
  readonly report: PatroniReport;
  readonly refused: boolean;
}

async function ask(url: string, timeoutMillis: number, now: () => number): Promise<Asked> {
  const askedAt = now();
  try {
    const response = await untraced(() => fetch(url, { signal: AbortSignal.timeout(timeoutMillis) }));
    // 503 is how a member that is not the leader (or not running) answers; its body still says why.
    const body = (await response.json()) as { role?: unknown; state?: unknown; timeline?: unknown };
    const report = {
      askedAt,
      role: typeof body.role === 'string' ? body.role : null,
      state: typeof body.state === 'string' ? body.state : null,
      timeline: typeof body.timeline === 'number' ? body.timeline : null,
      error: null,
    };
    return { report, refused: false };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { report: { askedAt: null, role: null, state: null, timeline: null, error }, refused: isRefused(err) };
  }
}

/**
 * Patroni as a second authority for the writer: asks every host's REST API
 * (`GET /patroni`) on a timer and says whether Patroni confirms a host as its
 * leader now. pg-split then writes only to a node that both it (read-write,
 * newest timeline) and Patroni (leader, answering) agree on.
 */
export class PatroniAuthority implements LeaderAuthority {
  readonly #members: Members;
  #staleMillis: number;
  #staleKnown: boolean;
  readonly #options: ResolvedPatroniOptions;
  /** Each host's last answer (kept when a later request fails: its age is what makes it stale). */
  readonly #answers = new Map<number, PatroniReport>();
  /** Each host's last request failure, cleared by an answer. */
  readonly #errors = new Map<number, string | null>();
  /** Hosts whose last request was refused (their Patroni is not running), cleared by an answer. */
  readonly #refused = new Set<number>();
  /** Since when each host's Patroni has answered "leader, running" in every answer. */
  readonly #leaderSince = new Map<number, number>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  /** Members whose request is in flight. */
  readonly #inFlight = new Set<number>();
  /** Reading Patroni's ttl and loop_wait, while it runs (answers arrive one by one; it is asked once). */
  #learning: Promise<void> | null = null;
  /** Fires when a leader's last answer turns stale, so that writes stop then, not at the next answer. */
  #staleTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #paused = false;

  constructor(members: Members, options: ResolvedPatroniOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
    this.#members = members;
    this.#staleMillis = options.staleMillis ?? MIN_STALE_MILLIS;
    this.#staleKnown = options.staleMillis !== null;
  }

  /** The REST API of the members asked now: every active one. */
  #urls(): Array<[number, string | null]> {
    return this.#members.active().map((i) => [i, restBase(this.#members.hostOf(i).host, this.#options.port)]);
  }

  confirms(hostIndex: number): boolean {
    return confirmsSoleLeader(this.#answers, hostIndex, this.#now(), this.#staleMillis, this.#refused);
  }

  /**
   * Whether Patroni confirms the host as its leader and has, in every answer,
   * for at least `staleMillis`: longer than a thawed old leader's Patroni
   * goes on claiming a lock it lost, so its word can outweigh a newer
   * timeline whose primary was demoted (see `timeline-discarded`).
   */
  confirmsSettled(hostIndex: number): boolean {
    const since = this.#leaderSince.get(hostIndex);
    return since !== undefined && this.confirms(hostIndex) && this.#now() - since >= this.#staleMillis;
  }

  /** How long a silent leader keeps getting writes now (milliseconds). */
  get staleMillis(): number {
    return this.#staleMillis;
  }

  /**
   * Whether the host's Patroni has given no answer for `staleMillis` (frozen,
   * killed, cut off): its PostgreSQL may still acknowledge writes that the
   * cluster will not keep. A Patroni that answers "not the leader" (a planned
   * switchover demoting it) is not silent.
   */
  isSilent(hostIndex: number): boolean {
    return !isFresh(this.#answers.get(hostIndex), this.#now(), this.#staleMillis);
  }

  /** `host:port` of every member Patroni lists (`GET /cluster`), asked of the active members but `except`; null when none answered. */
  async memberKeys(except: number): Promise<string[] | null> {
    const bases = this.#urls()
      .filter(([i]) => i !== except)
      .map(([, base]) => base);
    const view = await firstPatroniView(bases, this.#options.timeoutMillis);
    return view === null ? null : view.members.map((m) => memberKey(m.host, m.port));
  }

  /** What Patroni last said of a host, for `topology()` and error messages; null before any request ended. */
  report(hostIndex: number): PatroniReport | null {
    const answer = this.#answers.get(hostIndex);
    const error = this.#errors.get(hostIndex) ?? null;
    if (answer === undefined) return error === null ? null : { askedAt: null, role: null, state: null, timeline: null, error };
    return { ...answer, error };
  }

  /**
   * Starts asking; `onAnswer` runs after every answer or failed request (the
   * watch re-decides). Each member is asked on its own: a frozen member's
   * request, which takes a whole timeout, never delays hearing from the others
   * (a member promoted meanwhile is confirmed within one fast interval).
   */
  start(onAnswer: () => void): void {
    this.#paused = false;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const tick = (): void => {
      if (this.#closed || this.#paused) return;
      const urls = this.#urls();
      this.#forgetLeft(urls.map(([i]) => i));
      for (const [i, base] of urls) this.#askMember(i, base, onAnswer);
      const leaderless = !urls.some(([i]) => this.confirms(i));
      this.#timer = setTimeout(
        tick,
        leaderless ? Math.min(FAST_INTERVAL_MILLIS, this.#options.intervalMillis) : this.#options.intervalMillis,
      );
      this.#timer.unref();
    };
    tick();
  }

  /** One request to a member's REST API, unless one is still in flight. */
  #askMember(hostIndex: number, base: string | null, onAnswer: () => void): void {
    if (base === null) {
      this.#errors.set(hostIndex, 'no REST API on a unix-socket host');
      return;
    }
    if (this.#inFlight.has(hostIndex)) return;
    this.#inFlight.add(hostIndex);
    void ask(`${base}/patroni`, this.#options.timeoutMillis, this.#now).then(async ({ report: result, refused }) => {
      this.#inFlight.delete(hostIndex);
      // Closed, or a member discovery removed while it was asked: nothing to keep.
      if (this.#closed || !this.#members.active().includes(hostIndex)) return;
      if (result.askedAt !== null) this.#remember(hostIndex, result, result.askedAt);
      this.#errors.set(hostIndex, result.error);
      if (refused) this.#refused.add(hostIndex);
      else this.#refused.delete(hostIndex);
      if (!this.#staleKnown) await this.#learnStaleness();
      if (this.#closed || this.#paused) return;
      onAnswer();
      this.#onStale(onAnswer);
    });
  }

  #remember(hostIndex: number, answer: PatroniReport, askedAt: number): void {
    this.#answers.set(hostIndex, answer);
    if (!saysLeader(answer)) this.#leaderSince.delete(hostIndex);
    else if (!this.#leaderSince.has(hostIndex)) this.#leaderSince.set(hostIndex, askedAt);
  }

  /** Runs `onStale` the moment the freshest leader claim turns stale (a silent member's next answer is at best a timeout away). */
  #onStale(onStale: () => void): void {
    if (this.#staleTimer !== null) clearTimeout(this.#staleTimer);
    this.#staleTimer = null;
    const now = this.#now();
    const ends = [...this.#answers.values()]
      .filter((a) => a.askedAt !== null && saysLeader(a) && now - a.askedAt <= this.#staleMillis)
      .map((a) => (a.askedAt ?? now) + this.#staleMillis + 1 - now);
    if (ends.length === 0) return;
    this.#staleTimer = setTimeout(
      () => {
        this.#staleTimer = null;
        if (!this.#closed) onStale();
      },
      Math.min(...ends),
    );
    this.#staleTimer.unref();
  }

  /** Reads Patroni's ttl and loop_wait from the first member that answers, once (one reading at a time). */
  #learnStaleness(): Promise<void> {
    this.#learning ??= this.#readStaleness().finally(() => {
      this.#learning = null;
    });
    return this.#learning;
  }

  async #readStaleness(): Promise<void> {
    for (const [i, base] of this.#urls()) {
      if (base === null || !this.#answers.has(i)) continue;
      const timing = await askTiming(base, this.#options.timeoutMillis);
      if (timing === null) continue;
      this.#staleMillis = staleAfter(timing);
      this.#staleKnown = true;
      return;
    }
  }

  /** Members that left (discovery) are forgotten, so what is kept stays as large as the cluster. */
  #forgetLeft(active: readonly number[]): void {
    for (const i of [...this.#answers.keys(), ...this.#errors.keys()]) {
      if (!active.includes(i)) {
        this.#answers.delete(i);
        this.#errors.delete(i);
        this.#refused.delete(i);
        this.#leaderSince.delete(i);
      }
    }
  }

  /**
   * Stops asking (the cluster is idle) until start() again: no timer, no
   * request. The answers kept only age, so a leader is confirmed again only
   * by a fresh answer after start().
   */
  pause(): void {
    this.#paused = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#staleTimer !== null) clearTimeout(this.#staleTimer);
    this.#timer = null;
    this.#staleTimer = null;
  }

  close(): void {
    this.#closed = true;
    this.pause();
  }
}
