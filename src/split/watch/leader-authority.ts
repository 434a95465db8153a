/** What Patroni last said of one member. */
export interface PatroniReport {
  /** When the request it answered was sent (ms epoch): the answer is at least that fresh; null before it ever answered. */
  readonly askedAt: number | null;
  /** Its role (`master`/`primary` on the leader, `replica`, ...), as of that answer. */
  readonly role: string | null;
  readonly state: string | null;
  readonly timeline: number | null;
  /** Why the last request failed, when it did. */
  readonly error: string | null;
}

/**
 * A second authority for the writer: Patroni, read from its REST API
 * (PatroniAuthority) or from etcd (DcsAuthority). pg-split writes only to a
 * node that both it (read-write, newest timeline) and the authority agree on.
 */
export interface LeaderAuthority {
  /** Whether the authority confirms the host as its one leader now. */
  confirms(hostIndex: number): boolean;
  /** Whether it has, without a break, for longer than a silent leader keeps writes (its word then outweighs a newer timeline). */
  confirmsSettled(hostIndex: number): boolean;
  /** Whether the host's Patroni has gone silent (frozen, killed, cut off): its PostgreSQL may acknowledge writes the cluster will not keep. */
  isSilent(hostIndex: number): boolean;
  /** `host:port` of every member Patroni lists (asked of any member but `except`); null when unknown. */
  memberKeys(except: number): Promise<string[] | null>;
  /** What Patroni last said of a host, for `topology()` and error messages; null before it said anything. */
  report(hostIndex: number): PatroniReport | null;
  /** Starts listening; `onChange` runs whenever what it says may have changed. */
  start(onChange: () => void): void;
  /** Stops every request, socket and timer (the cluster is idle) until start(); what it knew only ages. */
  pause(): void;
  close(): void;
}
