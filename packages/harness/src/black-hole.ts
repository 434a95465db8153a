import { createServer, type Socket } from 'node:net';

export interface BlackHoleOptions {
  /** The address to listen on. @default '127.0.0.9' */
  readonly host?: string;
  /** The port; 0 picks a free one. @default 0 */
  readonly port?: number;
}

/** A TCP listener that accepts every connection and never sends a byte: a host that hangs after the handshake. */
export interface BlackHole {
  readonly host: string;
  readonly port: number;
  /** How many connections it has accepted so far. */
  readonly accepted: number;
  /** Drops every held connection and stops listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a black hole. What clients send is read and discarded; nothing is
 * ever written back and no connection is closed until `close()`. Neither the
 * listener nor the held connections keep the process alive.
 */
export async function startBlackHole(options: BlackHoleOptions = {}): Promise<BlackHole> {
  const host = options.host ?? '127.0.0.9';
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.unref();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    get accepted() {
      return accepted;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
