import type pg from 'pg';

/** What the servers said about the statements the demo sent: who answered, as each server reports itself. */
export interface TrafficCounts {
  readonly readsByHost: Map<string, number>;
  readonly writesByHost: Map<string, number>;
  writeErrors: number;
  readErrors: number;
  lastWriteAt: number;
  lastWriteHost: string;
}

export function emptyCounts(): TrafficCounts {
  return { readsByHost: new Map(), writesByHost: new Map(), writeErrors: 0, readErrors: 0, lastWriteAt: 0, lastWriteHost: '' };
}

const bump = (map: Map<string, number>, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

/**
 * Sends one write and one read every `intervalMillis` until stopped; each
 * statement asks the server which node it is (inet_server_addr()).
 */
export function startTraffic(writer: pg.Pool, reader: pg.Pool, counts: TrafficCounts, intervalMillis = 40): () => Promise<void> {
  let running = true;
  const loop = async (step: () => Promise<void>): Promise<void> => {
    while (running) {
      await step();
      await new Promise((r) => setTimeout(r, intervalMillis));
    }
  };
  const write = async (): Promise<void> => {
    try {
      const { rows } = await writer.query<{ host: string }>(
        'INSERT INTO demo_writes (at) VALUES (now()) RETURNING host(inet_server_addr()) AS host',
      );
      const host = rows[0]?.host ?? '?';
      bump(counts.writesByHost, host);
      counts.lastWriteAt = Date.now();
      counts.lastWriteHost = host;
    } catch {
      counts.writeErrors++;
    }
  };
  const read = async (): Promise<void> => {
    try {
      const { rows } = await reader.query<{ host: string }>('SELECT host(inet_server_addr()) AS host');
      bump(counts.readsByHost, rows[0]?.host ?? '?');
    } catch {
      counts.readErrors++;
    }
  };
  const loops = [loop(write), loop(read)];
  return async () => {
    running = false;
    await Promise.all(loops);
  };
}
