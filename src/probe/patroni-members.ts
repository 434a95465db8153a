import { untraced } from '../otel/otel-api.js';

/** One member as Patroni's `GET /cluster` lists it. */
export interface PatroniMemberView {
  readonly name: string;
  /** Its PostgreSQL address (`postgresql.connect_address`). */
  readonly host: string;
  readonly port: number;
  readonly role: string | null;
  readonly state: string | null;
  readonly timeline: number | null;
  /** Replication lag in bytes, as Patroni reports it (null on the leader, or when unknown). */
  readonly lag: number | null;
  readonly noLoadBalance: boolean;
  readonly noFailover: boolean;
  /** Its `zone` tag (a tag of the user's own: Patroni passes any tag through), or null. */
  readonly zone: string | null;
}

/** What pg-split reads of a member's Patroni tags (`tags` of `GET /cluster` or of its key in etcd): `noloadbalance`, `nofailover`, `zone`. */
export function patroniTags(value: unknown): Pick<PatroniMemberView, 'noLoadBalance' | 'noFailover' | 'zone'> {
  const tags = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const zone = tags['zone'];
  return {
    noLoadBalance: tags['noloadbalance'] === true,
    noFailover: tags['nofailover'] === true,
    zone: typeof zone === 'string' && zone !== '' ? zone : null,
  };
}

/** Patroni's view of its cluster: which REST API answered, and its members. */
export interface PatroniView {
  readonly from: string;
  readonly members: readonly PatroniMemberView[];
}

function memberOf(m: Record<string, unknown>): PatroniMemberView | null {
  if (typeof m['host'] !== 'string' || m['host'] === '' || typeof m['port'] !== 'number') return null;
  const text = (key: string): string | null => {
    const value = m[key];
    return typeof value === 'string' ? value : null;
  };
  return {
    name: text('name') ?? '',
    host: m['host'],
    port: m['port'],
    role: text('role'),
    state: text('state'),
    timeline: typeof m['timeline'] === 'number' ? m['timeline'] : null,
    lag: typeof m['lag'] === 'number' ? m['lag'] : null,
    ...patroniTags(m['tags']),
  };
}

/** A member's REST API base URL (`http://host:port`), or null for a unix-socket host. */
export function restBase(host: string, port: number): string | null {
  if (host === '' || host.startsWith('/') || host.startsWith('@')) return null;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `GET /cluster` of one member's REST API (`base`: `http://host:port`); null when it did not answer with a member list. */
async function askPatroniCluster(base: string, timeoutMillis: number): Promise<PatroniView | null> {
  try {
    const response = await untraced(() => fetch(`${base}/cluster`, { signal: AbortSignal.timeout(timeoutMillis) }));
    if (!response.ok) return null;
    const body = (await response.json()) as { members?: unknown };
    if (!Array.isArray(body.members)) return null;
    const members = (body.members as Array<Record<string, unknown>>).map(memberOf).filter((m): m is PatroniMemberView => m !== null);
    return { from: base, members };
  } catch {
    return null;
  }
}

/** Patroni's view from the first of `bases` that answers, or null. */
export async function firstPatroniView(bases: ReadonlyArray<string | null>, timeoutMillis: number): Promise<PatroniView | null> {
  for (const base of bases) {
    if (base === null) continue;
    const view = await askPatroniCluster(base, timeoutMillis);
    if (view !== null) return view;
  }
  return null;
}
