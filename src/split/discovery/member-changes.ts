import type { ClusterWatch } from '../watch/cluster-watch.js';
import { memberKey, planMembership, type DiscoveredMember, type MemberOrigin, type Members } from '../watch/members.js';

/** A member discovery added or removed (`member-added`, `member-removed`). */
export interface MemberEvent {
  readonly hostIndex: number;
  readonly host: string;
  readonly port: number;
  readonly origin: MemberOrigin;
}

function eventOf(members: Members, hostIndex: number): MemberEvent {
  return { hostIndex, ...members.hostOf(hostIndex), origin: members.origin(hostIndex) };
}

/**
 * Applies one discovery answer: new members are added (the watch checks them,
 * and they join the rotation with their first status), members no longer
 * named are removed (the watch drains them, the writer's node only once it
 * is no longer the writer), and tags are brought up to date.
 */
export function applyMembership(
  members: Members,
  watch: ClusterWatch,
  found: readonly DiscoveredMember[],
  origin: MemberOrigin,
  emit: (name: 'member-added' | 'member-removed', event: MemberEvent) => void,
): void {
  const active = members.activeKeys();
  const plan = planMembership(active, found);
  let retagged = false;
  for (const member of found) {
    const index = active.get(memberKey(member.host, member.port));
    if (index === undefined) continue;
    // A node tagged noloadbalance (or no longer) leaves (or joins) the readers at the next decision; a new zone or weight counts at the next pick.
    retagged ||= members.noLoadBalance(index) !== (member.noLoadBalance === true);
    members.tag(index, member);
  }
  for (const member of plan.add) {
    const index = members.add(member, origin);
    watch.addHost(index);
    emit('member-added', eventOf(members, index));
  }
  for (const index of plan.remove) {
    const event = eventOf(members, index);
    members.remove(index);
    watch.removeHost(index);
    emit('member-removed', event);
  }
  if (retagged) void watch.checkAll();
}
