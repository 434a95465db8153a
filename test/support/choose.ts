import { connect } from '../../src/connect/connect.js';
import type { Choice } from './psql.js';

/** Which server pg-split's connect() picks for this string (asked of the server), or its error. */
export async function pgSplitChoice(conninfo: string, env: Readonly<Record<string, string>> = {}): Promise<Choice> {
  try {
    const client = await connect(conninfo, { env, homeDir: () => null });
    try {
      const { rows } = await client.query<{ a: string }>('SELECT host(inet_server_addr()) AS a');
      return { ok: true, address: rows[0]?.a ?? '' };
    } finally {
      await client.end();
    }
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
