import type { IncomingMessage } from 'node:http';
import type { GatewayKv } from './patroni-keys.js';

/** One message of a watch stream: events, or why the watch ended. */
export interface WatchMessage {
  readonly events: ReadonlyArray<{ readonly type?: string; readonly kv?: GatewayKv }>;
  /** etcd ended the watch: the revision was compacted (`compactRevision`), or another reason (credentials, a cancelled watch). */
  readonly canceled: boolean;
  readonly compactRevision: string | null;
  /** etcd's own error on the stream (gRPC status code), when it sent one instead of a result. */
  readonly grpcCode: number | null;
}

/** Pure: one line of the gateway's stream (a JSON object per line) as a message; null for a line that is none. */
export function parseWatchLine(line: string): WatchMessage | null {
  if (line.trim() === '') return null;
  let data: { result?: Record<string, unknown>; error?: { grpc_code?: unknown; code?: unknown } };
  try {
    data = JSON.parse(line) as typeof data;
  } catch {
    return null;
  }
  if (data.error !== undefined) {
    const code = data.error.grpc_code ?? data.error.code;
    return { events: [], canceled: true, compactRevision: null, grpcCode: typeof code === 'number' ? code : 2 };
  }
  const result = data.result ?? {};
  const compact = result['compact_revision'];
  return {
    events: Array.isArray(result['events']) ? (result['events'] as WatchMessage['events']) : [],
    canceled: result['canceled'] === true,
    compactRevision: typeof compact === 'string' && compact !== '0' ? compact : null,
    grpcCode: null,
  };
}

/** Hands each message of a watch response to `onMessage` as its line completes; resolves when the stream ends, rejects on a broken one. */
export function readWatchStream(response: IncomingMessage, onMessage: (message: WatchMessage) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const message = parseWatchLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if (message !== null) onMessage(message);
        newline = pending.indexOf('\n');
      }
    });
    response.once('end', () => {
      const message = parseWatchLine(pending);
      if (message !== null) onMessage(message);
      resolve();
    });
    response.once('error', reject);
    response.once('aborted', () => reject(new Error('watch stream aborted')));
  });
}
