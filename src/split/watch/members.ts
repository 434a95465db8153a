import { hostDisplayName, memberHostEntry, portOf, type HostEntry } from '../../conninfo/host-list.js';
import type { ConnectionTarget } from '../../conninfo/resolve.js';
import type { NodeStatus } from '../../roles/node-status.js';
import type { RoleDecision } from '../../roles/role-decision.js';

/** Where a member came from: the connection string, or a discovery source. */
export type MemberOrigin = 'connection string' | 'patroni' | 'dns' | 'srv' | 'function';

/** A member as a discovery source reports it. */
export interface DiscoveredMember {
  readonly host: string;
  readonly port: number;
  /** Patroni's `noloadbalance` tag: the reader leaves it out. */
  readonly noLoadBalance?: boolean;
  /** Patroni's `nofailover` tag: shown in `topology()`. */
  readonly noFailover?: boolean;
  /** Its zone (Patroni's `zone` tag, or a discovery function's), for reads that stay in the application's zone. */
  readonly zone?: string;
  /** Its weight for reads (a discovery function's). */
  readonly weight?: number;
}

/** What the `hosts` option says of a host (null: nothing); keyed by `host:port` or `host`. */
export interface HostTraits {
  readonly zone: string | null;
  readonly weight: number | null;
}

/** What discovery changes: members to add (or re-add), and the indexes of members to drain. */
export interface MembershipPlan {
  readonly add: readonly DiscoveredMember[];
  readonly remove: readonly number[];
}

/**
 * Whether a member discovery removed must stay for now: the writer's node,
 * a node not checked yet, and a primary that is not stale (the writer
 * follows the primary, never discovery).
 */
export function mustStay(
  decision: Pick<RoleDecision, 'writer' | 'stalePrimaries'>,
  hostIndex: number,
  monitor: { readonly checked: boolean; readonly status: Pick<NodeStatus, 'reachable' | 'role'> },
): boolean {
  if (decision.writer === hostIndex || !monitor.checked) return true;
  const { reachable, role } = monitor.status;
  return reachable && role === 'primary' && !decision.stalePrimaries.includes(hostIndex);
}

/** `host:port`: one member, however often it comes and goes. */
export function memberKey(host: string, port: number): string {
  return `${host}:${port}`;
}

function entryKey(entry: HostEntry): string {
  return memberKey(hostDisplayName(entry), portOf(entry).port);
}

/**
 * What a discovery answer changes (pure): members it names that are not
 * active are added, active members it does not name are removed. `active`:
 * each active member's key and index.
 */
export function planMembership(active: ReadonlyMap<string, number>, discovered: readonly DiscoveredMember[]): MembershipPlan {
  const named = new Set(discovered.map((m) => memberKey(m.host, m.port)));
  const seen = new Set<string>();
  const add = discovered.filter((m) => {
    const key = memberKey(m.host, m.port);
    if (active.has(key) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const remove = [...active].filter(([key]) => !named.has(key)).map(([, index]) => index);
  return { add, remove };
}

/**
 * The cluster's members, by host index. Indexes are stable: the connection
 * string's hosts first, then each new member in the order it was found; a
 * member that leaves and comes back gets its index back, so the target (and
 * what is kept per index) grows only with members never seen before.
 */
export class Members {
  #target: ConnectionTarget;
  readonly #origins: MemberOrigin[];
  readonly #tags = new Map<number, { noLoadBalance: boolean; noFailover: boolean; zone: string | null; weight: number | null }>();
  readonly #active: Set<number>;
  readonly #byKey = new Map<string, number>();
  /** The `hosts` option. */
  readonly #given: ReadonlyMap<string, HostTraits>;
  /** Whether any host ever had a weight (given, or discovered): else the balancer weighs nothing. */
  #weighted: boolean;

  constructor(target: ConnectionTarget, given: ReadonlyMap<string, HostTraits> = new Map()) {
    this.#target = target;
    this.#given = given;
    this.#weighted = [...given.values()].some((t) => t.weight !== null);
    this.#origins = target.hosts.map(() => 'connection string');
    this.#active = new Set(target.hosts.map((_, i) => i));
    target.hosts.forEach((h, i) => this.#byKey.set(entryKey(h), i));
  }

  /** The target with every member ever seen (host index i is `target.hosts[i]`). */
  get target(): ConnectionTarget {
    return this.#target;
  }

  /** Active members' keys and indexes. */
  activeKeys(): Map<string, number> {
    return new Map([...this.#byKey].filter(([, i]) => this.#active.has(i)));
  }

  active(): number[] {
    return [...this.#active].sort((a, b) => a - b);
  }

  /** A member's host as the string or the source names it, and its port (port 0 for an unknown index). */
  hostOf(hostIndex: number): { readonly host: string; readonly port: number } {
    const entry = this.#target.hosts[hostIndex];
    return { host: hostDisplayName(entry), port: entry === undefined ? 0 : portOf(entry).port };
  }

  isActive(hostIndex: number): boolean {
    return this.#active.has(hostIndex);
  }

  origin(hostIndex: number): MemberOrigin {
    return this.#origins[hostIndex] ?? 'connection string';
  }

  noLoadBalance(hostIndex: number): boolean {
    return this.#tags.get(hostIndex)?.noLoadBalance === true;
  }

  noFailover(hostIndex: number): boolean {
    return this.#tags.get(hostIndex)?.noFailover === true;
  }

  /** What the `hosts` option says of the member: under `host:port`, else under `host`. */
  #givenFor(hostIndex: number): HostTraits | undefined {
    if (this.#given.size === 0) return undefined;
    const { host, port } = this.hostOf(hostIndex);
    return this.#given.get(memberKey(host, port)) ?? this.#given.get(host);
  }

  /** The member's zone: the `hosts` option's, else its source's; null when none says. */
  zone(hostIndex: number): string | null {
    return this.#givenFor(hostIndex)?.zone ?? this.#tags.get(hostIndex)?.zone ?? null;
  }

  /** Each member's weight for reads (the option's, else its source's, else 1), or null while no member has one. */
  weights(): ((hostIndex: number) => number) | null {
    return this.#weighted ? (i) => this.#givenFor(i)?.weight ?? this.#tags.get(i)?.weight ?? 1 : null;
  }

  /** Makes a member active (new, or back); returns its index. */
  add(member: DiscoveredMember, origin: MemberOrigin): number {
    const key = memberKey(member.host, member.port);
    let index = this.#byKey.get(key);
    if (index === undefined) {
      index = this.#target.hosts.length;
      this.#target = this.#target.withHosts([memberHostEntry(member.host, member.port)]);
      this.#byKey.set(key, index);
    }
    this.#origins[index] = origin;
    this.#active.add(index);
    this.tag(index, member);
    return index;
  }

  /** What the source last reported of an active member: Patroni's tags, its zone and weight. */
  tag(hostIndex: number, member: DiscoveredMember): void {
    this.#tags.set(hostIndex, {
      noLoadBalance: member.noLoadBalance === true,
      noFailover: member.noFailover === true,
      zone: member.zone ?? null,
      weight: member.weight ?? null,
    });
    this.#weighted ||= member.weight !== undefined;
  }

  remove(hostIndex: number): void {
    this.#active.delete(hostIndex);
    this.#tags.delete(hostIndex);
  }
}
