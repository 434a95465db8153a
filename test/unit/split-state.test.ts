import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portOf, type HostEntry } from '../../src/conninfo/host-list.js';
import { maskUserinfo } from '../../src/conninfo/parse-keyword-value.js';
import { isPermanentRefusal } from '../../src/connect/failure.js';
import { nearestName } from '../../src/input.js';
import type { NodeStatus } from '../../src/roles/node-status.js';
import { Balancer } from '../../src/split/pool/balancer.js';
import { placeByZone, zoneFirst } from '../../src/split/pool/zone-placement.js';
import { LatencyBook } from '../../src/split/pool/latency-book.js';
import { ConnectionRegistry } from '../../src/split/pool/connection-registry.js';
import { freshRead, type FreshReadSteps } from '../../src/split/pool/freshness.js';
import { emptyFreshnessStats } from '../../src/telemetry/freshness-stats.js';
import { advanceWatch, INITIAL_WATCH_STATE, type WatchState } from '../../src/split/watch/watch-state.js';
import { confirmsLeader, confirmsSoleLeader, staleAfter } from '../../src/split/patroni/leader-claims.js';
import { ReadScope } from '../../src/split/pool/read-scope.js';
import { ReplayKnowledge } from '../../src/split/pool/replay-knowledge.js';
import { WriteTracker } from '../../src/split/pool/write-tracker.js';

function node(hostIndex: number, role: 'primary' | 'standby' | null, timeline = 1, lsn = '0/100'): NodeStatus {
  return {
    hostIndex,
    host: `h${hostIndex}`,
    address: null,
    port: 5432,
    reachable: role !== null,
    error: role === null ? 'down' : null,
    role,
    readOnly: role === 'standby',
    serverVersion: '15',
    timeline: role === null ? null : timeline,
    lsn,
    replayLagBytes: null,
    replayLagSeconds: null,
    replayPaused: null,
    streaming: null,
    rttMillis: 1,
    checkedAt: '',
  };
}

/** Feeds the watch a sequence of cluster snapshots; returns each step's events by name. */
function replay(steps: NodeStatus[][]): { state: WatchState; events: string[][] } {
  let state = INITIAL_WATCH_STATE;
  const events: string[][] = [];
  for (const statuses of steps) {
    const next = advanceWatch(state, { statuses, policy: 'prefer-standby' });
    state = next.state;
    events.push(next.events.map((e) => (e.name === 'failover' ? `failover ${e.event.from}->${e.event.to}` : e.name)));
  }
  return { state, events };
}

test('watch: a failover through a period with no writer is one failover event, from the last writer', () => {
  const { state, events } = replay([
    [node(0, 'primary'), node(1, 'standby'), node(2, 'standby')],
    [node(0, null), node(1, 'standby'), node(2, 'standby')],
    [node(0, null), node(1, 'standby'), node(2, 'standby')],
    [node(0, null), node(1, 'primary', 2), node(2, 'standby', 2)],
  ]);
  assert.deepEqual(events, [['change'], ['change'], [], ['change', 'failover 0->1']]);
  assert.equal(state.decision.writer, 1);
  assert.equal(state.lastWriter, 1);
});

test('watch: the old primary coming back on its old timeline is a split brain, once, and never the writer again', () => {
  const { state, events } = replay([
    [node(0, 'primary'), node(1, 'standby')],
    [node(0, null), node(1, 'primary', 2)],
    [node(0, 'primary', 1), node(1, 'primary', 2)],
    [node(0, 'primary', 1), node(1, 'primary', 2)],
    [node(0, 'primary', 1), node(1, null)],
  ]);
  assert.deepEqual(events, [['change'], ['change', 'failover 0->1'], ['change', 'split-brain'], [], ['change']]);
  assert.equal(state.decision.writer, null, 'the promoted node down: the stale primary is still not used');
  assert.deepEqual(state.decision.stalePrimaries, [0]);
  assert.equal(state.decision.newestTimeline, 2);
});

/** Feeds snapshots with the writer's acknowledged-write counter; returns every event. */
function replayWithWrites(steps: Array<[NodeStatus[], number]>): { state: WatchState; events: Array<{ name: string; event: unknown }> } {
  let state = INITIAL_WATCH_STATE;
  const events: Array<{ name: string; event: unknown }> = [];
  for (const [statuses, acknowledgedWrites] of steps) {
    const next = advanceWatch(state, { statuses, policy: 'prefer-standby', acknowledgedWrites });
    state = next.state;
    events.push(...next.events);
  }
  return { state, events };
}

test('watch: a newer timeline rewound away by the orchestrator is forgotten, with the writes acknowledged on it', () => {
  const { state, events } = replayWithWrites([
    [[node(0, 'primary', 1, '0/5000'), node(1, 'standby', 1), node(2, 'standby', 1)], 10],
    [[node(0, null), node(1, 'primary', 2, '0/6000'), node(2, 'standby', 2)], 100],
    [[node(0, null), node(1, 'primary', 2, '0/7000'), node(2, 'standby', 2)], 150],
    // The old leader thaws and keeps the lock: it is a stale primary while the promoted node still reports timeline 2.
    [[node(0, 'primary', 1, '0/8000'), node(1, 'primary', 2, '0/7100'), node(2, 'standby', 2)], 150],
    // The orchestrator rewinds both onto timeline 1.
    [[node(0, 'primary', 1, '0/9000'), node(1, 'standby', 1), node(2, 'standby', 1)], 150],
  ]);
  const discarded = events.filter((e) => e.name === 'timeline-discarded').map((e) => e.event);
  assert.deepEqual(discarded, [
    { timeline: 2, now: 1, nodes: [1, 2], firstSeenLsn: '0/6000', lastSeenLsn: '0/7100', acknowledgedWrites: 50, evidence: 'servers' },
  ]);
  assert.equal(state.decision.writer, 0, "writes go to the orchestrator's primary again");
  assert.equal(state.decision.newestTimeline, 1);
});

test("watch: a newer timeline is never forgotten because its node is merely unreachable, nor on a standby's word alone", () => {
  const unreachable = replayWithWrites([
    [[node(0, 'primary', 1), node(1, 'standby', 1)], 0],
    [[node(0, null), node(1, 'primary', 2)], 0],
    [[node(0, 'primary', 1), node(1, null)], 0],
  ]);
  assert.equal(unreachable.state.decision.writer, null);
  assert.deepEqual(unreachable.state.decision.stalePrimaries, [0]);
  assert.ok(!unreachable.events.some((e) => e.name === 'timeline-discarded'));
  const standbyOnly = replayWithWrites([
    [[node(0, 'primary', 1), node(1, 'standby', 1), node(2, null)], 0],
    // Only a standby shows timeline 2 (the promoted node was never reached)...
    [[node(0, null), node(1, 'standby', 2), node(2, null)], 0],
    // ...then, restarting, reports the timeline of its last restartpoint.
    [[node(0, 'primary', 1), node(1, 'standby', 1), node(2, null)], 0],
  ]);
  assert.ok(!standbyOnly.events.some((e) => e.name === 'timeline-discarded'));
  assert.equal(standbyOnly.state.decision.writer, null, 'the old primary stays ruled out');
});

test('watch: after a discarded timeline, the one it falls back to keeps the primaries once seen on it, so it can be discarded in turn', () => {
  const { state, events } = replayWithWrites([
    [[node(0, 'primary', 5, '0/5000'), node(1, 'standby', 5), node(2, 'standby', 5)], 0],
    // Node 0 frozen: node 1 promoted onto timeline 6, node 2 follows it.
    [[node(0, null), node(1, 'primary', 6, '0/6000'), node(2, 'standby', 6)], 10],
    // Node 2 promoted in turn onto timeline 7; node 1, not yet rewound, still reports 6 as a standby.
    [[node(0, null), node(1, 'standby', 6), node(2, 'primary', 7, '0/7000')], 20],
    // The orchestrator went back to node 0 on timeline 5: node 2 rewound onto it; node 1 left on timeline 6.
    [[node(0, 'primary', 5, '0/8000'), node(1, 'standby', 6), node(2, 'standby', 5)], 20],
    // Node 1 rebuilt from the leader.
    [[node(0, 'primary', 5, '0/9000'), node(1, 'standby', 5), node(2, 'standby', 5)], 20],
  ]);
  const discarded = events
    .filter((e) => e.name === 'timeline-discarded')
    .map((e) => e.event as { timeline: number; now: number; nodes: number[] });
  assert.deepEqual(
    discarded.map((d) => [d.timeline, d.now, d.nodes]),
    [
      [7, 6, [2]],
      [6, 5, [1]],
    ],
  );
  assert.equal(state.decision.writer, 0, "writes go to the orchestrator's primary once no node is left on a newer timeline");
  assert.equal(state.decision.newestTimeline, 5);
});

/** Feeds snapshots with what the second authority says: which node it confirms, and which it has confirmed long enough. */
function replayWithAuthority(steps: Array<[NodeStatus[], { leader: number | null; settled: boolean }]>): {
  state: WatchState;
  events: Array<{ name: string; event: unknown }>;
  writers: Array<number | null>;
} {
  let state = INITIAL_WATCH_STATE;
  const events: Array<{ name: string; event: unknown }> = [];
  const writers: Array<number | null> = [];
  for (const [statuses, says] of steps) {
    const next = advanceWatch(state, {
      statuses,
      policy: 'prefer-standby',
      acknowledgedWrites: 0,
      isConfirmedLeader: (i) => i === says.leader,
      isSettledLeader: (i) => i === says.leader && says.settled,
    });
    state = next.state;
    events.push(...next.events);
    writers.push(state.decision.writer);
  }
  return { state, events, writers };
}

test("watch: the orchestrator's word discards a timeline whose primary was demoted and left unrewound, once it has named an older primary long enough", () => {
  const { state, events, writers } = replayWithAuthority([
    [[node(0, 'primary', 1), node(1, 'standby', 1), node(2, 'standby', 1)], { leader: 0, settled: true }],
    // Node 0 frozen; Patroni promotes node 1 (timeline 2), node 2 follows it.
    [[node(0, null), node(1, 'primary', 2), node(2, 'standby', 2)], { leader: 1, settled: true }],
    // Node 0 thaws and its Patroni takes the lock back: node 1 is demoted but cannot follow (it is ahead), node 2 neither.
    [[node(0, 'primary', 1), node(1, 'standby', 2), node(2, 'standby', 2)], { leader: 0, settled: false }],
    // Not yet long enough: a thawed old leader's Patroni may still be claiming a lock it lost.
    [[node(0, 'primary', 1), node(1, 'standby', 2), node(2, 'standby', 2)], { leader: 0, settled: false }],
    [[node(0, 'primary', 1), node(1, 'standby', 2), node(2, 'standby', 2)], { leader: 0, settled: true }],
    // The demoted nodes still report timeline 2: they do not bring it back, and serve no reads.
    [[node(0, 'primary', 1), node(1, 'standby', 2), node(2, 'standby', 2)], { leader: 0, settled: true }],
    // Node 2 rebuilt onto timeline 1: it serves reads again; node 1 still left behind.
    [[node(0, 'primary', 1), node(1, 'standby', 2), node(2, 'standby', 1)], { leader: 0, settled: true }],
  ]);
  assert.deepEqual(writers, [0, 1, null, null, 0, 0, 0]);
  const discarded = events.filter((e) => e.name === 'timeline-discarded').map((e) => e.event);
  assert.deepEqual(discarded, [
    { timeline: 2, now: 1, nodes: [1, 2], firstSeenLsn: '0/100', lastSeenLsn: '0/100', acknowledgedWrites: 0, evidence: 'orchestrator' },
  ]);
  assert.deepEqual(state.decision.readers, [2]);
  assert.deepEqual(state.leftBehind, [{ hostIndex: 1, timeline: 2 }]);
});

test("watch: the orchestrator's word never discards a timeline that still has a primary, or whose promoted node is unreachable", () => {
  const stillPrimary = replayWithAuthority([
    [[node(0, 'primary', 1), node(1, 'standby', 1)], { leader: 0, settled: true }],
    [[node(0, null), node(1, 'primary', 2)], { leader: 1, settled: true }],
    // A thawed old leader's Patroni claims the lock, even for long: node 1 is still a primary on timeline 2.
    [[node(0, 'primary', 1), node(1, 'primary', 2)], { leader: 0, settled: true }],
  ]);
  assert.deepEqual(stillPrimary.writers, [0, 1, null]);
  assert.ok(!stillPrimary.events.some((e) => e.name === 'timeline-discarded'));
  const unreachable = replayWithAuthority([
    [[node(0, 'primary', 1), node(1, 'standby', 1), node(2, 'standby', 1)], { leader: 0, settled: true }],
    [[node(0, null), node(1, 'primary', 2), node(2, 'standby', 2)], { leader: 1, settled: true }],
    // The promoted node cannot be reached: nothing says it was demoted.
    [[node(0, 'primary', 1), node(1, null), node(2, 'standby', 2)], { leader: 0, settled: true }],
  ]);
  assert.deepEqual(unreachable.writers, [0, 1, null]);
  assert.ok(!unreachable.events.some((e) => e.name === 'timeline-discarded'));
  const noAuthority = replayWithWrites([
    [[node(0, 'primary', 1), node(1, 'standby', 1)], 0],
    [[node(0, null), node(1, 'primary', 2)], 0],
    [[node(0, 'primary', 1), node(1, 'standby', 2)], 0],
  ]);
  assert.equal(noAuthority.state.decision.writer, null, "without an orchestrator, only the servers' word discards a timeline");
});

test('watch: with a second authority, a primary it does not confirm gets no writes and is reported as unconfirmed', () => {
  const statuses = [node(0, 'primary', 1), node(1, 'standby', 1)];
  const confirmed = advanceWatch(INITIAL_WATCH_STATE, { statuses, policy: 'prefer-standby', isConfirmedLeader: () => true });
  assert.equal(confirmed.state.decision.writer, 0);
  const frozen = advanceWatch(confirmed.state, { statuses, policy: 'prefer-standby', isConfirmedLeader: () => false });
  assert.equal(frozen.state.decision.writer, null);
  assert.deepEqual(frozen.state.decision.unconfirmed, [0]);
  assert.deepEqual(
    frozen.events.map((e) => e.name),
    ['change'],
  );
});

test('watch: a switchover back and forth raises a failover each way', () => {
  const { events } = replay([
    [node(0, 'primary'), node(1, 'standby')],
    [node(0, 'standby', 2), node(1, 'primary', 2)],
    [node(0, 'primary', 3), node(1, 'standby', 3)],
  ]);
  assert.deepEqual(events, [['change'], ['change', 'failover 0->1'], ['change', 'failover 1->0']]);
});

test('balancer: round-robin takes turns from a random place, skips the node to avoid, least-busy and random pick as said', () => {
  const startAt0 = (): number => 0;
  const rr = new Balancer('round-robin', startAt0);
  const none = { openConnections: () => 0, cost: () => 0, weights: () => null };
  assert.deepEqual(
    [0, 1, 2, 3].map(() => rr.pick([1, 2], none)),
    [1, 2, 1, 2],
  );
  assert.deepEqual(
    [0, 1, 2].map(() => rr.pick([1, 2], none, 1)),
    [2, 2, 2],
  );
  assert.equal(rr.pick([3], none, 3), 3, 'the only node is used even when it is the one to avoid');
  assert.equal(rr.pick([], none), null);
  const busy = new Map([
    [1, 5],
    [2, 1],
    [3, 3],
  ]);
  assert.equal(
    new Balancer('least-busy', startAt0).pick([1, 2, 3], { openConnections: (i) => busy.get(i) ?? 0, cost: () => 0, weights: () => null }),
    2,
  );
  const random = new Balancer('random', (max) => max - 1);
  assert.equal(random.pick([4, 5, 6], none), 6);
  const turns = new Balancer('round-robin', startAt0);
  assert.deepEqual(turns.inTurn([1, 2, 3]), [1, 2, 3]);
  assert.deepEqual(turns.inTurn([1, 2, 3]), [2, 3, 1]);
  // Each balancer starts its rotation where its random draw says: processes started together spread their first reads.
  const firsts = [0, 1, 2, 3, 4, 5].map((draw) => new Balancer('round-robin', () => draw).pick([1, 2, 3], none));
  assert.deepEqual(firsts, [1, 2, 3, 1, 2, 3]);
});

test('balancer: fastest draws two nodes and takes the cheaper (latency observed times statements in flight), the first on a tie', () => {
  const costs = new Map([
    [1, 40],
    [2, 2],
    [3, 5],
  ]);
  const load = { openConnections: () => 0, cost: (i: number) => costs.get(i) ?? 0, weights: () => null };
  // Draws: the first index, then the second among the others.
  const draws = (...values: number[]): ((max: number) => number) => {
    const queue = [0, ...values];
    return () => queue.shift() ?? 0;
  };
  assert.equal(new Balancer('fastest', draws(0, 0)).pick([1, 2, 3], load), 2, 'nodes 1 and 2: 2 is cheaper');
  assert.equal(new Balancer('fastest', draws(0, 1)).pick([1, 2, 3], load), 3, 'nodes 1 and 3: 3 is cheaper');
  assert.equal(new Balancer('fastest', draws(1, 1)).pick([1, 2, 3], load), 2, 'nodes 2 and 3: 2 is cheaper');
  assert.equal(new Balancer('fastest', draws(2, 0)).pick([1, 2, 3], load), 3, 'nodes 3 and 1: 3 is cheaper');
  costs.set(3, 2);
  assert.equal(new Balancer('fastest', draws(2, 1)).pick([1, 2, 3], load), 3, 'a tie keeps the first drawn');
  // Two nodes: always both compared; one: that one; avoid as the others.
  assert.equal(new Balancer('fastest', draws(0, 0)).pick([1, 2], load), 2);
  assert.equal(new Balancer('fastest', draws(0, 0)).pick([1, 2], load, 2), 1);
  assert.equal(new Balancer('fastest').pick([], load), null);
});

test('balancer: weights scale every rule (smooth weighted turns, weighted draws, open connections and cost per unit of weight)', () => {
  const weight = (i: number): number => (i === 1 ? 3 : 1);
  const load = (open: (i: number) => number, cost: (i: number) => number) => ({ openConnections: open, cost, weights: () => weight });
  // Round-robin: over a round of 4, node 1 (weight 3) takes 3 turns and node 2 one, interleaved rather than in a run.
  const rr = new Balancer('round-robin', () => 0);
  const flat = load(
    () => 0,
    () => 0,
  );
  const turns = Array.from({ length: 8 }, () => rr.pick([1, 2], flat));
  assert.deepEqual(turns, [1, 1, 2, 1, 1, 1, 2, 1]);
  // Random: a draw lands on each node in proportion to its weight (draws are fractions of 2^30).
  const at = (fraction: number) => new Balancer('random', (max) => Math.floor(fraction * max));
  assert.equal(at(0.74).pick([1, 2], flat), 1, 'the first three quarters are node 1');
  assert.equal(at(0.76).pick([1, 2], flat), 2, 'the last quarter is node 2');
  // Least-busy: 6 open on weight 3 is 2 per unit, less than 3 open on weight 1.
  const open = new Map([
    [1, 6],
    [2, 3],
  ]);
  const byOpen = load(
    (i) => open.get(i) ?? 0,
    () => 0,
  );
  assert.equal(new Balancer('least-busy').pick([1, 2], byOpen), 1);
  open.set(1, 12);
  assert.equal(new Balancer('least-busy').pick([1, 2], byOpen), 2);
  // Fastest: a cost of 9 on weight 3 is 3 per unit, less than 4 on weight 1.
  const costs = new Map([
    [1, 9],
    [2, 4],
  ]);
  const byCost = load(
    () => 0,
    (i) => costs.get(i) ?? 0,
  );
  assert.equal(new Balancer('fastest', () => 0).pick([1, 2], byCost), 1);
  costs.set(1, 15);
  assert.equal(new Balancer('fastest', () => 0).pick([1, 2], byCost), 2);
});

test("placeByZone: the zone's free nodes, then other zones' free nodes, then the zone's own; every node when the zone has none (table)", () => {
  const zones = new Map<number, string | null>([
    [1, 'a'],
    [2, 'a'],
    [3, 'b'],
    [4, null],
  ]);
  const zoneOf = (i: number): string | null => zones.get(i) ?? null;
  const rows: ReadonlyArray<[string, string | null, number[], number[], number[]]> = [
    ['no zone: every node', null, [1, 2, 3, 4], [1, 2, 3], [1, 2, 3, 4]],
    ["the zone's nodes while free", 'a', [1, 2, 3, 4], [], [1, 2]],
    ["only the zone's node not overloaded", 'a', [1, 2, 3, 4], [1], [2]],
    ["the zone full: other zones' free nodes (unknown zone included)", 'a', [1, 2, 3, 4], [1, 2], [3, 4]],
    ["everything full: the zone's own, to wait there", 'a', [1, 2, 3, 4], [1, 2, 3, 4], [1, 2]],
    ['no eligible node in the zone: every node', 'a', [3, 4], [], [3, 4]],
    ['a zone no host has: every node', 'c', [1, 2, 3], [], [1, 2, 3]],
  ];
  for (const [what, zone, nodes, full, expected] of rows)
    assert.deepEqual(
      placeByZone(nodes, zone, zoneOf, (i) => full.includes(i)),
      expected,
      what,
    );
  assert.deepEqual(zoneFirst([3, 1, 4, 2], 'a', zoneOf), [1, 2, 3, 4], 'a rotation tries the zone first');
  assert.deepEqual(zoneFirst([3, 1], null, zoneOf), [3, 1]);
});

test('latency book: a slow answer counts at once, fast ones pull the average down with time, in-flight statements multiply it, silence decays it', () => {
  let now = 0;
  const book = new LatencyBook(() => now, 1000);
  const run = (host: number, millis: number): void => {
    const started = book.begin(host);
    now += millis;
    book.end(host, started);
  };
  assert.equal(book.cost(1), 0.1, 'never seen: the floor only');
  run(1, 2);
  assert.ok(Math.abs(book.cost(1) - 2.1) < 1e-9);
  run(1, 40);
  assert.ok(Math.abs(book.cost(1) - 40.1) < 1e-9, 'a peak replaces the average at once');
  run(1, 2);
  const afterOneFast = book.cost(1);
  assert.ok(afterOneFast > 30 && afterOneFast < 40.1, `one fast answer 2 ms later moves it a little: ${afterOneFast}`);
  const inFlight = [book.begin(1), book.begin(1)];
  assert.ok(Math.abs(book.cost(1) - afterOneFast * 3) < 1e-6, 'two in flight: three times the cost');
  inFlight.forEach((started) => book.end(1, started));
  const before = book.cost(1);
  now += 5000;
  assert.ok(book.cost(1) < before / 100, 'five time constants of silence: a slow node looks cheap again and is tried');
  book.end(1, 0);
  assert.ok(book.cost(1) < before / 100, 'an end() without a begin() counts nothing');
  book.forget(1);
  assert.equal(book.cost(1), 0.1);
});

test('connection registry: counts per node, fencing cuts every connection of that node only and tells the pools', () => {
  const registry = new ConnectionRegistry();
  const cut: string[] = [];
  const client = (name: string, checkedOut = false) => ({ fence: () => cut.push(name), pgSplitCheckedOut: checkedOut });
  const a = client('a');
  registry.opened(0, a);
  registry.opened(0, client('b'));
  registry.opened(1, client('c'));
  const fenced: number[] = [];
  registry.onDrop((i) => fenced.push(i));
  assert.equal(registry.openConnections(0), 2);
  registry.fence(0);
  assert.deepEqual(cut, ['a', 'b']);
  assert.deepEqual(fenced, [0]);
  registry.closed(0, a);
  assert.equal(registry.openConnections(0), 1);
  assert.equal(registry.openConnections(1), 1);
});

test("connection registry: a silent leader's fence cuts only the connections the application holds, and keeps its pools", () => {
  const registry = new ConnectionRegistry();
  const cut: string[] = [];
  const client = (name: string, checkedOut: boolean) => ({ fence: () => cut.push(name), pgSplitCheckedOut: checkedOut });
  registry.opened(0, client('transaction', true));
  registry.opened(0, client('statement or idle', false));
  const dropped: number[] = [];
  registry.onDrop((i) => dropped.push(i));
  registry.fenceCheckedOut(0);
  assert.deepEqual(cut, ['transaction']);
  assert.deepEqual(dropped, []);
});

/** Fresh-read steps over scripted replay positions (a decision table: what a node reports is given, not decided here). */
function steps(nodes: {
  primary: number | null;
  known: Record<number, string>;
  asked: Record<number, string[]>;
  running?: Record<number, string>;
}): FreshReadSteps<number> & { log: string[] } {
  const log: string[] = [];
  let clock = 0;
  return {
    log,
    candidates: () => Object.keys(nodes.known).map(Number),
    isPrimary: (h) => h === nodes.primary,
    knownReplay: (h) => nodes.known[h] ?? null,
    replayCheckInFlight: (h) => {
      const answer = nodes.running?.[h];
      if (answer === undefined) return null;
      // A running check's answer becomes known, as ReplayKnowledge remembers it.
      nodes.known[h] = answer;
      return Promise.resolve(answer);
    },
    checkout: async (h) => {
      log.push(`checkout ${h}`);
      return h;
    },
    replayCheck: async (h) => {
      log.push(`check ${h}`);
      return nodes.asked[h]?.shift() ?? nodes.known[h] ?? null;
    },
    checkoutPrimary: async () => {
      log.push('primary');
      return -1;
    },
    // Time moves only by the polls' pauses: a wait's deadline is reached after waitMillis / 5 polls, whatever the machine.
    now: () => clock,
    sleep: async (millis) => {
      clock += millis;
    },
  };
}

test('fresh reads: known-caught-up standby first, then asked, then the primary after the wait', async () => {
  const stats = emptyFreshnessStats();
  const known = steps({ primary: null, known: { 1: '0/100', 2: '0/300' }, asked: {} });
  assert.equal(await freshRead(known, '0/200', { waitMillis: 1000, fallback: 'primary' }, stats), 2);
  const asked = steps({ primary: null, known: { 1: '0/100', 2: '0/100' }, asked: { 1: ['0/100'], 2: ['0/200'] } });
  assert.equal(await freshRead(asked, '0/200', { waitMillis: 1000, fallback: 'primary' }, stats), 2);
  assert.deepEqual(asked.log, ['check 1', 'check 2', 'checkout 2']);
  const never = steps({ primary: null, known: { 1: '0/100' }, asked: {} });
  assert.equal(await freshRead(never, '0/200', { waitMillis: 0, fallback: 'primary' }, stats), -1);
  await assert.rejects(freshRead(never, '0/200', { waitMillis: 0, fallback: 'error' }, stats), { code: 'PGSPLIT_STALE_READ' });
  // A standby that never catches up is asked every 5 ms of the steps' clock until the wait's end, then the primary serves.
  const patient = steps({ primary: null, known: { 1: '0/100' }, asked: {} });
  assert.equal(await freshRead(patient, '0/200', { waitMillis: 1000, fallback: 'primary' }, stats), -1);
  assert.equal(patient.log.filter((line) => line === 'check 1').length, 201);
  assert.deepEqual({ ...stats }, { reads: 5, knownCaughtUp: 1, verified: 1, onPrimary: 2, fellBack: 2, tokenFetches: 0, replayChecks: 0 });
});

test('fresh reads: a replay check already running that reaches the position serves the read with no check of its own', async () => {
  const stats = emptyFreshnessStats();
  const shared = steps({ primary: null, known: { 1: '0/100', 2: '0/100' }, asked: {}, running: { 1: '0/100', 2: '0/250' } });
  assert.equal(await freshRead(shared, '0/200', { waitMillis: 1000, fallback: 'primary' }, stats), 2);
  assert.deepEqual(shared.log, ['checkout 2'], "node 2's running check sufficed: no check of its own");
  assert.deepEqual({ knownCaughtUp: stats.knownCaughtUp, verified: stats.verified }, { knownCaughtUp: 1, verified: 0 });
});

test('write tokens: a read reuses a fetch started after the last write; reads needing a newer one share one next fetch', async () => {
  const fetches: Array<(lsn: string) => void> = [];
  const tracker = new WriteTracker(() => new Promise<string>((resolve) => fetches.push(resolve)));
  assert.equal(tracker.required(), null, 'nothing written: no token');
  tracker.noteWrite();
  const first = tracker.required();
  assert.equal(tracker.required(), first, 'no write since the fetch started: the same fetch');
  tracker.noteWrite();
  const second = tracker.required();
  tracker.noteWrite();
  const third = tracker.required();
  assert.equal(second, third, 'reads waiting behind the fetch in flight share the next one');
  assert.equal(fetches.length, 1, 'the next fetch starts only when the one in flight ends');
  fetches[0]?.('0/10');
  assert.equal(await first, '0/10');
  await new Promise((r) => setImmediate(r));
  assert.equal(fetches.length, 2);
  fetches[1]?.('0/20');
  assert.equal(await second, '0/20');
  assert.equal(tracker.required(), tracker.required(), 'after it, reads share it until the next write');
  assert.equal(fetches.length, 2);
});

test('replay knowledge: one check per node at a time, later askers share the next; the furthest answer counts while its session lasts', async () => {
  const knowledge = new ReplayKnowledge();
  const session = {};
  assert.equal(knowledge.furthest(1, '0/100', session), '0/100');
  const answers: Array<(lsn: string | null) => void> = [];
  const ask = (): Promise<string | null> => new Promise((resolve) => answers.push(resolve));
  const check = knowledge.check(1, () => session, ask);
  assert.equal(knowledge.running(1), check, 'a check in flight is shared');
  const next = knowledge.check(1, () => session, ask);
  assert.equal(
    knowledge.check(1, () => session, ask),
    next,
    'askers behind the running check share the next one',
  );
  assert.equal(answers.length, 1, 'the next check starts only when the running one ends');
  answers[0]?.('0/300');
  await check;
  await new Promise((r) => setImmediate(r));
  assert.equal(answers.length, 2);
  answers[1]?.('0/350');
  assert.equal(await next, '0/350');
  assert.equal(knowledge.furthest(1, '0/100', session), '0/350');
  assert.equal(knowledge.running(1), null);
  assert.equal(knowledge.furthest(1, '0/400', session), '0/400', 'a later status check that is further wins');
  assert.equal(knowledge.furthest(1, '0/100', {}), '0/100', 'another session (the server restarted): forgotten');
  assert.equal(knowledge.furthest(1, null, null), null, 'no session: nothing known');
});

test('permanent refusals: authentication, missing database or role, no password, bad port, TLS the server lacks or certificates that fail; not down or busy', () => {
  for (const sqlstate of ['28P01', '28000', '3D000', '42501'])
    assert.equal(isPermanentRefusal({ kind: 'server', sqlstate, afterAuth: false }), true, sqlstate);
  for (const sqlstate of ['57P03', '53300', '08006'])
    assert.equal(isPermanentRefusal({ kind: 'server', sqlstate, afterAuth: false }), false, sqlstate);
  assert.equal(isPermanentRefusal({ kind: 'no-password' }), true);
  assert.equal(isPermanentRefusal({ kind: 'port', fatal: false }), true);
  for (const kind of ['timeout', 'eof', 'resolve'] as const) assert.equal(isPermanentRefusal({ kind }), false, kind);
  assert.equal(isPermanentRefusal({ kind: 'socket', errno: 'ECONNREFUSED' }), false);
  assert.equal(isPermanentRefusal({ kind: 'socket', errno: 'ECONNRESET' }), false);
  assert.equal(isPermanentRefusal({ kind: 'socket', errno: 'TLS_REFUSED' }), true);
  assert.equal(isPermanentRefusal({ kind: 'tls', code: 'SELF_SIGNED_CERT_IN_CHAIN' }), true);
});

test('one port parser, with libpq texts: not an integer gives up on the string, out of range on the host', () => {
  const entry = (portText: string | null): HostEntry => ({ host: 'h', hostaddr: null, portText, kind: 'name' });
  assert.deepEqual(portOf(entry(null)), { ok: true, port: 5432 });
  assert.deepEqual(portOf(entry(' 5433 ')), { ok: true, port: 5433 });
  assert.deepEqual(portOf(entry('abc')), {
    ok: false,
    fatal: true,
    port: 0,
    message: 'invalid integer value "abc" for connection option "port"',
  });
  assert.deepEqual(portOf(entry('70000')), { ok: false, fatal: false, port: 70000, message: 'invalid port number: "70000"' });
});

test('a mistyped URI quoted by libpq has its password masked', () => {
  assert.equal(maskUserinfo('http://user:secret@db1,db2/x'), 'http://user:********@db1,db2/x');
  assert.equal(maskUserinfo('postgresql:/user:secret@db1/x'), 'postgresql:/user:********@db1/x');
  assert.equal(maskUserinfo('postgresql//user:secret@db1/x'), 'postgresql//user:********@db1/x');
  assert.equal(maskUserinfo('user:secret@db1/x'), 'user:********@db1/x');
  assert.equal(maskUserinfo('user:p@ss:w@rd@db1'), 'user:********@db1');
  assert.equal(maskUserinfo('user@db1/x'), 'user@db1/x');
  assert.equal(maskUserinfo('hostname'), 'hostname');
});

test('did you mean: the nearest option name for a typo or a prefix, none for something unrelated', () => {
  const names = ['failoverTimeoutMillis', 'recheckMillis', 'waitForPrimary', 'writer', 'reader'];
  assert.equal(nearestName('failoverTimeout', names), 'failoverTimeoutMillis');
  assert.equal(nearestName('recheckMilis', names), 'recheckMillis');
  assert.equal(nearestName('Writer', names), 'writer');
  assert.equal(nearestName('bogus', names), null);
});

test('patroni: a leader is confirmed by a fresh answer saying it leads and runs; a silent one stops being confirmed', () => {
  const answer = (role: string, state: string, askedAt: number | null) => ({ askedAt, role, state, timeline: 1, error: null });
  assert.equal(confirmsLeader(answer('master', 'running', 1000), 2000, 2500), true);
  assert.equal(confirmsLeader(answer('primary', 'running', 1000), 2000, 2500), true);
  assert.equal(confirmsLeader(answer('master', 'running', 1000), 3501, 2500), false, 'stale');
  assert.equal(confirmsLeader(answer('replica', 'running', 1000), 2000, 2500), false);
  assert.equal(confirmsLeader(answer('master', 'stopping', 1000), 2000, 2500), false);
  assert.equal(confirmsLeader(undefined, 2000, 2500), false);
});

test("patroni: two members whose Patroni both claim the lead (Patroni's own split brain) confirm neither, until one steps down or goes silent", () => {
  const answer = (role: string, askedAt: number) => ({ askedAt, role, state: 'running', timeline: 1, error: null });
  const both = new Map([
    [0, answer('master', 1000)],
    [1, answer('master', 1500)],
    [2, answer('replica', 1500)],
  ]);
  assert.equal(confirmsSoleLeader(both, 0, 2000, 2500), false);
  assert.equal(confirmsSoleLeader(both, 1, 2000, 2500), false);
  const steppedDown = new Map([
    [0, answer('replica', 2100)],
    [1, answer('master', 1500)],
    [2, answer('replica', 1500)],
  ]);
  assert.equal(confirmsSoleLeader(steppedDown, 1, 2200, 2500), true);
  // A frozen old leader's last claim counts only while it is fresh.
  assert.equal(confirmsSoleLeader(both, 1, 3600, 2500), true, "node 0's claim is stale by then");
});

test('patroni: a claim from a member whose Patroni refuses connections stops competing once another member leads on a newer timeline', () => {
  const answer = (role: string, askedAt: number, timeline: number) => ({ askedAt, role, state: 'running', timeline, error: null });
  // Member 0's Patroni was stopped: its last answer (leader, timeline 3) is still fresh; member 1 was promoted to timeline 4.
  const answers = new Map([
    [0, answer('master', 1000, 3)],
    [1, answer('master', 1500, 4)],
    [2, answer('replica', 1500, 4)],
  ]);
  assert.equal(confirmsSoleLeader(answers, 1, 2000, 19_000, new Set([0])), true, 'refused and older: no longer a claim');
  assert.equal(
    confirmsSoleLeader(answers, 0, 2000, 19_000, new Set([0])),
    false,
    'the refused member itself is never confirmed over the newer one',
  );
  assert.equal(confirmsSoleLeader(answers, 1, 2000, 19_000, new Set()), false, 'answering or timing out (frozen): it competes until stale');
  const sameTimeline = new Map([
    [0, answer('master', 1000, 4)],
    [1, answer('master', 1500, 4)],
  ]);
  assert.equal(
    confirmsSoleLeader(sameTimeline, 1, 2000, 19_000, new Set([0])),
    false,
    'refused on the same timeline: no promotion seen, it competes',
  );
});

test('patroni: a silent leader keeps writes until a second before another member can have been promoted', () => {
  // ttl 10, loop_wait 2: no promotion before 8 s after the request of the last answer; minus a second.
  assert.equal(staleAfter({ ttl: 10, loopWait: 2 }), 7000);
  assert.equal(staleAfter({ ttl: 30, loopWait: 10 }), 19000);
  assert.equal(staleAfter({ ttl: 5, loopWait: 2 }), 2500, 'never under 2.5 s');
});

test('read scopes belong to the cluster that made them: a scope on one never reaches another', async () => {
  const a = new ReadScope();
  const b = new ReadScope();
  const seen = await a.run({ primary: true }, async () => {
    await new Promise((r) => setImmediate(r));
    return { a: a.current(), b: b.current() };
  });
  assert.deepEqual(seen, { a: { primary: true }, b: {} });
  assert.deepEqual(
    a.run({ after: '0/10' }, () => a.run({ primary: true }, () => a.current())),
    { after: '0/10', primary: true },
    'scopes nest',
  );
  assert.deepEqual(a.current(), {});
});
