import type { PatroniDcs } from '../../etcd/patroni-dcs.js';
import type { DcsMember } from '../../etcd/patroni-keys.js';
import type { LeaderAuthority, PatroniReport } from '../watch/leader-authority.js';
import { memberKey, type Members } from '../watch/members.js';
import { staleAfter } from './leader-claims.js';

/** Until Patroni's `config` key is read: the least staleness ever used. */
const DEFAULT_STALE_MILLIS = 2500;

/**
 * Patroni as a second authority, read from etcd (PatroniDcs): a host is
 * confirmed while the leader key names the member whose `conn_url` is the
 * host's `host:port` and the key's lease is known to live for more than a
 * second yet. When the lease runs out unrenewed (a frozen or cut-off Patroni),
 * the leader is silent from that moment, a second before etcd deletes the key
 * and another member can be promoted: writes there are witnessed from then on.
 */
export class DcsAuthority implements LeaderAuthority {
  readonly #members: Members;
  readonly #dcs: PatroniDcs;
  readonly #staleMillis: number | null;
  readonly #now: () => number;
  #onChange: (() => void) | null = null;

  constructor(members: Members, dcs: PatroniDcs, staleMillis: number | null, now: () => number = Date.now) {
    this.#members = members;
    this.#dcs = dcs;
    this.#staleMillis = staleMillis;
    this.#now = now;
  }

  /** How long a leader must have been confirmed without a break to outweigh a newer timeline. */
  get staleMillis(): number {
    const timing = this.#dcs.state.timing;
    return this.#staleMillis ?? (timing === null ? DEFAULT_STALE_MILLIS : staleAfter(timing));
  }

  /**
   * The member Patroni keeps for a host: the one whose conn_url has the same
   * `host:port`, else the only one on the same host (a PgBouncer in front of
   * it, on its own port: what the string names is the bouncer), if any.
   */
  #memberOf(hostIndex: number): DcsMember | null {
    const { host, port } = this.#members.hostOf(hostIndex);
    return matchMember([...this.#dcs.state.members.values()], host, port);
  }

  #isLeader(hostIndex: number): boolean {
    const leader = this.#dcs.state.leader;
    return leader !== null && this.#memberOf(hostIndex)?.name === leader.name;
  }

  confirms(hostIndex: number): boolean {
    return this.#isLeader(hostIndex) && this.#dcs.leaderAlive();
  }

  confirmsSettled(hostIndex: number): boolean {
    const since = this.#dcs.leaderSince;
    return since !== null && this.confirms(hostIndex) && this.#now() - since >= this.staleMillis;
  }

  /** The leader past its lease's cut-off, or a host whose member key is gone (its lease expired): silent. A member that says "replica" is not. */
  isSilent(hostIndex: number): boolean {
    if (this.#isLeader(hostIndex)) return !this.#dcs.leaderAlive();
    return this.#memberOf(hostIndex) === null;
  }

  /** Patroni's members as the string names them (a bouncer's `host:port` for the member behind it); one it names by no host keeps its own. */
  async memberKeys(): Promise<string[] | null> {
    const { members, found } = this.#dcs.state;
    if (!found) return null;
    const hosts = this.#members.active().map((i) => this.#members.hostOf(i));
    const all = [...members.values()];
    return all.map((m) => {
      const named = hosts.find((h) => matchMember(all, h.host, h.port) === m);
      return named === undefined ? memberKey(m.host, m.port) : memberKey(named.host, named.port);
    });
  }

  report(hostIndex: number): PatroniReport | null {
    const member = this.#memberOf(hostIndex);
    const error = this.#dcs.error?.message ?? null;
    if (member === null && error === null && this.#dcs.heardAt === null) return null;
    return {
      askedAt: this.#dcs.heardAt,
      role: this.#isLeader(hostIndex) ? 'leader' : (member?.role ?? null),
      state: member?.state ?? null,
      timeline: member?.timeline ?? null,
      error,
    };
  }

  start(onChange: () => void): void {
    if (this.#onChange !== null) this.#dcs.off('change', this.#onChange);
    this.#onChange = onChange;
    this.#dcs.on('change', onChange);
    this.#dcs.start();
  }

  pause(): void {
    this.#dcs.pause();
  }

  close(): void {
    this.#dcs.close();
  }
}

/**
 * The member a host of the string is: the one whose conn_url has its
 * `host:port`, else the only member on its host (a PgBouncer in front of the
 * member, on its own port). Two members on one host with neither port named:
 * none (which one the bouncer fronts cannot be told).
 */
export function matchMember(members: readonly DcsMember[], host: string, port: number): DcsMember | null {
  const key = memberKey(host, port);
  const exact = members.find((m) => memberKey(m.host, m.port) === key);
  if (exact !== undefined) return exact;
  const sameHost = members.filter((m) => m.host === host);
  return sameHost.length === 1 ? (sameHost[0] ?? null) : null;
}

/** Patroni's members when no host of the string is one of them (matchMember): the string and the scope disagree. Null when one is, or before any member is known. */
export function membersNoHostNames(
  members: readonly DcsMember[],
  hosts: ReadonlyArray<{ readonly host: string; readonly port: number }>,
): readonly DcsMember[] | null {
  if (members.length === 0) return null;
  return hosts.some((h) => matchMember(members, h.host, h.port) !== null) ? null : members;
}
