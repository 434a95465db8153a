import { patroniTags, type PatroniMemberView } from '../probe/patroni-members.js';
import { fromB64 } from './etcd-client.js';

/** One key-value as etcd's JSON gateway sends it (int64s as strings, zero fields left out). */
export interface GatewayKv {
  readonly key?: string;
  readonly value?: string;
  readonly lease?: string;
  readonly mod_revision?: string;
}

/** A member as Patroni keeps it under `members/<name>` (its address from `conn_url`): what `GET /cluster` shows of it, but the lag. */
export type DcsMember = Omit<PatroniMemberView, 'lag'>;

/** The leader key: the leader's name and the lease that keeps it (etcd deletes the key when the lease expires). */
interface DcsLeader {
  readonly name: string;
  readonly lease: string;
  readonly modRevision: string;
}

/** What Patroni keeps in etcd under `<namespace>/<scope>/`, as far as pg-split reads it. */
export interface DcsState {
  readonly leader: DcsLeader | null;
  readonly members: ReadonlyMap<string, DcsMember>;
  /** `ttl` and `loop_wait` from the `config` key, in seconds. */
  readonly timing: { readonly ttl: number; readonly loopWait: number } | null;
  /** Whether any key exists under the scope (none: a wrong scope, or Patroni on etcd's v2 API). */
  readonly found: boolean;
}

export const EMPTY_DCS: DcsState = { leader: null, members: new Map(), timing: null, found: false };

/** `<namespace>/<scope>/`, with one slash between the parts as Patroni writes it. */
export function scopePrefix(namespace: string, scope: string): string {
  return `/${namespace.replace(/^\/+|\/+$/g, '')}/${scope}/`.replace(/^\/\//, '/');
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** Pure: a member from its key's JSON, or null when it names no PostgreSQL address. */
export function parseMember(name: string, json: string): DcsMember | null {
  const data = parseJson(json);
  const connUrl = text(data?.['conn_url']);
  if (data === null || connUrl === null) return null;
  let url: URL;
  try {
    url = new URL(connUrl);
  } catch {
    return null;
  }
  return {
    name,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 5432 : Number(url.port),
    role: text(data['role']),
    state: text(data['state']),
    timeline: typeof data['timeline'] === 'number' ? data['timeline'] : null,
    ...patroniTags(data['tags']),
  };
}

function parseTiming(json: string): DcsState['timing'] {
  const data = parseJson(json);
  const ttl = data?.['ttl'];
  const loopWait = data?.['loop_wait'];
  return typeof ttl === 'number' && typeof loopWait === 'number' ? { ttl, loopWait } : null;
}

/** Pure: the state after one put (`deleted` false) or delete of a key under `prefix`. */
export function applyKv(state: DcsState, prefix: string, kv: GatewayKv, deleted: boolean): DcsState {
  const key = fromB64(kv.key);
  if (!key.startsWith(prefix)) return state;
  const name = key.slice(prefix.length);
  const value = fromB64(kv.value);
  const found = true;
  if (name === 'leader') {
    const leader = deleted ? null : { name: value, lease: kv.lease ?? '0', modRevision: kv.mod_revision ?? '0' };
    return { ...state, leader, found };
  }
  if (name === 'config') return { ...state, timing: deleted ? null : (parseTiming(value) ?? state.timing), found };
  if (name.startsWith('members/')) {
    const memberName = name.slice('members/'.length);
    const members = new Map(state.members);
    const member = deleted ? null : parseMember(memberName, value);
    if (member === null) members.delete(memberName);
    else members.set(memberName, member);
    return { ...state, members, found };
  }
  return { ...state, found };
}

/** Pure: the state a range over the whole prefix describes. */
export function stateOf(prefix: string, kvs: readonly GatewayKv[]): DcsState {
  return kvs.reduce((state, kv) => applyKv(state, prefix, kv, false), EMPTY_DCS);
}
