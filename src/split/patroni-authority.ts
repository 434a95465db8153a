import type { ConnectionTarget } from '../conninfo/resolve.js';
import { hostDisplayName } from '../conninfo/host-list.js';

/** Where and how often Patroni's REST API is asked (option `patroni`). */
export interface PatroniOptions {
  /** The REST API port on every host of the connection string. @default 8008 */
  readonly port?: number;
  /** Ask every member this often, in milliseconds. @default 1000 */
  readonly intervalMillis?: number;
  /** Bound on one request, in milliseconds. @default 1000 */
  readonly timeoutMillis?: number;
  /** A leader whose Patroni has not confirmed it for this long gets no writes, in milliseconds. @default 2500 */
  readonly staleMillis?: number;
}

export interface ResolvedPatroniOptions {
  readonly port: number;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
  readonly staleMillis: number;
}

/** One member's last answer from `GET /patroni`. */
export interface PatroniReport {
  /** When it answered (ms epoch); null before it ever did. */
  readonly answeredAt: number | null;
  /** Its role (`master`/`primary` on the leader, `replica`, ...), as of that answer. */
  readonly role: string | null;
  readonly state: string | null;
  readonly timeline: number | null;
  /** Why the last request failed, when it did. */
  readonly error: string | null;
}

const LEADER_ROLES = new Set(['master', 'primary', 'leader']);

/**
 * Pure: whether a member's Patroni confirms it as the leader at `now`: its
 * last answer said leader and running, and came within `staleMillis`. A
 * member whose REST API stopped answering (a frozen or killed Patroni) stops
 * being confirmed once its last answer is stale, as HAProxy's `/primary`
 * check marks it down, but after 2.5 s instead of 9.
 */
export function confirmsLeader(report: PatroniReport | undefined, now: number, staleMillis: number): boolean {
  if (report === undefined || report.answeredAt === null || now - report.answeredAt > staleMillis) return false;
  return report.role !== null && LEADER_ROLES.has(report.role) && report.state === 'running';
}

function restUrl(host: string, port: number): string | null {
  if (host === '' || host.startsWith('/') || host.startsWith('@')) return null;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/patroni`;
}

async function ask(url: string, timeoutMillis: number, now: () => number): Promise<PatroniReport> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMillis) });
    // 503 is how a member that is not the leader (or not running) answers; its body still says why.
    const body = (await response.json()) as { role?: unknown; state?: unknown; timeline?: unknown };
    return {
      answeredAt: now(),
      role: typeof body.role === 'string' ? body.role : null,
      state: typeof body.state === 'string' ? body.state : null,
      timeline: typeof body.timeline === 'number' ? body.timeline : null,
      error: null,
    };
  } catch (err) {
    return { answeredAt: null, role: null, state: null, timeline: null, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Patroni as a second authority for the writer: asks every host's REST API
 * (`GET /patroni`) on a timer and says whether Patroni confirms a host as its
 * leader now. pg-split then writes only to a node that both it (read-write,
 * newest timeline) and Patroni (leader, answering) agree on.
 */
export class PatroniAuthority {
  readonly #urls: ReadonlyArray<string | null>;
  readonly #options: ResolvedPatroniOptions;
  /** Each host's last answer (kept when a later request fails: its age is what makes it stale). */
  readonly #answers: Array<PatroniReport | undefined>;
  /** Each host's last request failure, cleared by an answer. */
  readonly #errors: Array<string | null>;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(target: ConnectionTarget, options: ResolvedPatroniOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
    this.#urls = target.hosts.map((h) => restUrl(hostDisplayName(h), options.port));
    this.#answers = target.hosts.map(() => undefined);
    this.#errors = this.#urls.map((url) => (url === null ? 'no REST API on a unix-socket host' : null));
  }

  confirms(hostIndex: number): boolean {
    return confirmsLeader(this.#answers[hostIndex], this.#now(), this.#options.staleMillis);
  }

  /**
   * Whether the host's Patroni has given no answer for `staleMillis` (frozen,
   * killed, cut off): its PostgreSQL may still acknowledge writes that the
   * cluster will not keep. A Patroni that answers "not the leader" (a planned
   * switchover demoting it) is not silent.
   */
  isSilent(hostIndex: number): boolean {
    const answer = this.#answers[hostIndex];
    return answer === undefined || answer.answeredAt === null || this.#now() - answer.answeredAt > this.#options.staleMillis;
  }

  /** What Patroni last said of a host, for `topology()` and error messages; null before any request ended. */
  report(hostIndex: number): PatroniReport | null {
    const answer = this.#answers[hostIndex];
    const error = this.#errors[hostIndex] ?? null;
    if (answer === undefined) return error === null ? null : { answeredAt: null, role: null, state: null, timeline: null, error };
    return { ...answer, error };
  }

  /** Starts asking; `onRound` runs after every round (the watch re-decides). */
  start(onRound: () => void): void {
    const round = async (): Promise<void> => {
      await Promise.all(this.#urls.map(async (url, i) => {
        if (url === null) return;
        const result = await ask(url, this.#options.timeoutMillis, this.#now);
        if (result.answeredAt !== null) this.#answers[i] = result;
        this.#errors[i] = result.error;
      }));
      if (this.#closed) return;
      onRound();
      this.#timer = setTimeout(() => void round(), this.#options.intervalMillis);
      this.#timer.unref();
    };
    void round();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}
