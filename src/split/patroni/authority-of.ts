import { PatroniDcs } from '../../etcd/patroni-dcs.js';
import { DcsAuthority } from './dcs-authority.js';
import type { LeaderAuthority } from '../watch/leader-authority.js';
import type { Members } from '../watch/members.js';
import { PatroniAuthority, type ResolvedPatroniOptions } from './patroni-authority.js';

/** The second authority the options name: Patroni from etcd (with the DCS it watches, which discovery shares), from its REST API, or none. */
export function authorityOf(
  options: ResolvedPatroniOptions | null,
  members: Members,
  exitOnIdle: boolean,
  now: () => number,
): { readonly authority: LeaderAuthority | null; readonly dcs: PatroniDcs | null } {
  if (options === null) return { authority: null, dcs: null };
  if (options.etcd === null) return { authority: new PatroniAuthority(members, options, now), dcs: null };
  const dcs = new PatroniDcs({ ...options.etcd, exitOnIdle }, now);
  return { authority: new DcsAuthority(members, dcs, options.staleMillis, now), dcs };
}
