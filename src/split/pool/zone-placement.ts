/**
 * Which of the eligible nodes a read may go to, by zone (pure). Without the
 * application's zone: every eligible node. With it:
 * 1. the zone's nodes that are not overloaded (a free connection, or fewer
 *    reads waiting for one than the pool has connections: a short queue
 *    costs less than a trip to another zone);
 * 2. when every node of the zone is overloaded, the other nodes that are
 *    not (reads spill out of the zone rather than queue long);
 * 3. when every node is overloaded, the zone's own (the read waits there);
 * 4. when the zone has no eligible node, every eligible node.
 * A node of unknown zone belongs to no zone but its own.
 */
export function placeByZone(
  nodes: readonly number[],
  zone: string | null,
  zoneOf: (node: number) => string | null,
  overloaded: (node: number) => boolean,
): readonly number[] {
  if (zone === null) return nodes;
  const local = nodes.filter((i) => zoneOf(i) === zone);
  if (local.length === 0) return nodes;
  const localFree = local.filter((i) => !overloaded(i));
  if (localFree.length > 0) return localFree;
  const elsewhereFree = nodes.filter((i) => zoneOf(i) !== zone && !overloaded(i));
  return elsewhereFree.length > 0 ? elsewhereFree : local;
}

/** The eligible nodes for a rotation that tries each in turn (reads that must see a write): the zone's first, then the others. */
export function zoneFirst(nodes: readonly number[], zone: string | null, zoneOf: (node: number) => string | null): number[] {
  if (zone === null) return [...nodes];
  return [...nodes.filter((i) => zoneOf(i) === zone), ...nodes.filter((i) => zoneOf(i) !== zone)];
}
