import type { Tenure } from './tenure.js';

/** A write the writer acknowledged: one row, or the rows of one committed transaction. */
export interface WriteAck {
  readonly ids: readonly number[];
  readonly sentAt: number;
  readonly at: number;
  /** The server that committed it, as the server reported itself (inet_server_addr()). */
  readonly server: string;
  /** The timeline that server wrote on, as it reported it. */
  readonly timeline: number;
}

/** One invariant, checked over `checked` items, with how many broke it and a few of them. */
export interface CheckResult {
  readonly name: string;
  readonly checked: number;
  readonly violations: number;
  readonly examples: readonly string[];
}

/** A CheckResult from every violation found. */
export function checkResult(name: string, checked: number, violations: readonly string[]): CheckResult {
  return { name, checked, violations: violations.length, examples: sample(violations) };
}

/** How acknowledgements are matched to tenures when who led was observed rather than made (under an orchestrator). */
export interface TenureMatching {
  /** A write sent this soon after its node's tenure ended still counts as in it (how long a polling client needs to learn that the lock moved). */
  readonly graceMillis?: number;
}

/** The ack's server and timeline are the tenure's (a tenure with no timeline takes any). */
function byTenureNode(t: Tenure, ack: WriteAck): boolean {
  return t.host === ack.server && (t.timeline === null || t.timeline === ack.timeline);
}

/**
 * Acknowledged writes whose server (and timeline) was not the primary at any
 * moment between the write being sent and its acknowledgement.
 */
export function writesOffPrimary(acks: readonly WriteAck[], tenures: readonly Tenure[], matching: TenureMatching = {}): WriteAck[] {
  const grace = matching.graceMillis ?? 0;
  return acks.filter(
    (ack) => !tenures.some((t) => byTenureNode(t, ack) && t.from <= ack.at && (t.to === null || t.to + grace >= ack.sentAt)),
  );
}

/**
 * Acknowledged writes that a primary acknowledged after another node's
 * promotion began: sent to it while it was the primary (often frozen), then
 * committed by it as a replaced, stale primary. Synchronous replication
 * forbids it (the old primary's standbys have moved on); asynchronous
 * replication lets the old primary commit. An acknowledgement made once the
 * same node was the primary again (it took the lock back) is in that later
 * tenure, not late.
 */
export function lateAcks(acks: readonly WriteAck[], tenures: readonly Tenure[]): WriteAck[] {
  const endedDuring = (t: Tenure, ack: WriteAck): boolean => t.to !== null && t.from <= ack.at && t.to >= ack.sentAt && t.to < ack.at;
  const leadsAgainBy = (t: Tenure, ack: WriteAck): boolean =>
    tenures.some((later) => later.from > (t.to ?? Infinity) && later.from <= ack.at && byTenureNode(later, ack));
  return acks.filter((ack) => tenures.some((t) => byTenureNode(t, ack) && endedDuring(t, ack) && !leadsAgainBy(t, ack)));
}

/** Ids of acknowledged writes that are not in `present`. */
export function missingIds(acks: readonly WriteAck[], present: ReadonlySet<number>): number[] {
  return acks.flatMap((ack) => ack.ids.filter((id) => !present.has(id)));
}

/** At most `limit` items, then how many more. */
function sample(items: readonly string[], limit = 5): string[] {
  return items.length <= limit ? [...items] : [...items.slice(0, limit), `... and ${items.length - limit} more`];
}
