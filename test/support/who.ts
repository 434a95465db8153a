/** Which server answered, as it says itself: its address and whether it is in recovery (never inferred from the client). */
export interface Who {
  readonly host: string;
  readonly standby: boolean;
}

/** The statement that asks it. */
export const WHO_SQL = 'SELECT host(inet_server_addr()) AS host, pg_is_in_recovery() AS standby';

/** Asks a pool or a client which server answered. */
export async function who(q: { query(text: string): Promise<{ rows: unknown[] }> }): Promise<Who> {
  return (await q.query(WHO_SQL)).rows[0] as Who;
}
