import { Resolver } from 'node:dns/promises';
import { firstPatroniView, restBase } from '../../probe/patroni-members.js';
import type { DcsMember } from '../../etcd/patroni-keys.js';
import type { PatroniDcs } from '../../etcd/patroni-dcs.js';
import { listedMembers, type AskMembers, type ResolvedDiscovery } from './discovery.js';
import type { DiscoveredMember, Members } from '../watch/members.js';

function resolverFor(servers: readonly string[] | null, timeoutMillis: number): Resolver {
  const resolver = new Resolver({ timeout: timeoutMillis, tries: 2 });
  if (servers !== null) resolver.setServers([...servers]);
  return resolver;
}

/** Every A and AAAA record of `name`, each a member on `port`; null when neither lookup answered. */
async function addressMembers(resolver: Resolver, name: string, port: number): Promise<DiscoveredMember[] | null> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  if (v4.status === 'rejected' && v6.status === 'rejected') return null;
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  return addresses.map((host) => ({ host, port }));
}

/** Every SRV target and port of `name`, in priority order (then heavier weight first); null when the lookup failed. */
async function srvMembers(resolver: Resolver, name: string): Promise<DiscoveredMember[] | null> {
  try {
    const records = await resolver.resolveSrv(name);
    return [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight).map((r) => ({ host: r.name, port: r.port }));
  } catch {
    return null;
  }
}

/** A member as Patroni lists it (REST or etcd): its address and what its tags say. */
function discoveredOf(m: DcsMember): DiscoveredMember {
  const member = { host: m.host, port: m.port, noLoadBalance: m.noLoadBalance, noFailover: m.noFailover };
  return m.zone === null ? member : { ...member, zone: m.zone };
}

/** Asks each active member's REST API in turn until one lists the cluster. */
async function patroniMembers(members: Members, restPort: number, timeoutMillis: number): Promise<DiscoveredMember[] | null> {
  const bases = members.active().map((i) => restBase(members.hostOf(i).host, restPort));
  const view = await firstPatroniView(bases, timeoutMillis);
  return view === null ? null : view.members.map(discoveredOf);
}

/** Patroni's members as its keys in etcd list them now (kept current by the watch); null before they were read. */
function dcsMembers(dcs: PatroniDcs): DiscoveredMember[] | null {
  const { found, members } = dcs.state;
  return found ? [...members.values()].map(discoveredOf) : null;
}

/** How to ask the configured source for the members (`dcs`: Patroni's keys in etcd, when the source reads them). */
export function askMembersOf(discovery: ResolvedDiscovery, members: Members, dcs: PatroniDcs | null): AskMembers {
  const { name, port, servers, timeoutMillis } = discovery;
  switch (discovery.source) {
    case 'dns': {
      const resolver = resolverFor(servers, timeoutMillis);
      return () => addressMembers(resolver, name ?? '', port ?? 5432);
    }
    case 'srv': {
      const resolver = resolverFor(servers, timeoutMillis);
      return () => srvMembers(resolver, name ?? '');
    }
    case 'patroni':
      return dcs === null ? () => patroniMembers(members, port ?? 8008, timeoutMillis) : async () => dcsMembers(dcs);
    default: {
      const list = discovery.members;
      return async () => (list === null ? null : listedMembers(await list()));
    }
  }
}
