import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** The address to listen on. */
  readonly host: string;
  /** Where every connection is forwarded. */
  readonly target: { readonly host: string; readonly port: number };
  /** Latency added each way, in milliseconds (a slow network path, a far zone); see setDelay(). @default 0 */
  readonly delayMillis?: number;
}

/** A TCP forwarder with faults on demand: a path that stalls (a slow or frozen peer) or breaks (a lost connection). */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Stops forwarding in both directions, on held and new connections alike: bytes wait, nothing is closed. */
  hold(): void;
  /** Forwards again, what waited first. */
  release(): void;
  /** Adds `millis` each way from now on, on held and new connections alike (bytes keep their order). */
  setDelay(millis: number): void;
  /** Breaks every connection now (both sides see it end). */
  cut(): void;
  /** Drops every connection and stops listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a proxy to `target`. While held, sockets are paused, so what one
 * side writes stays in the kernel's buffers, as with a peer that stopped
 * reading; a new connection is accepted but not forwarded until release.
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let held = false;
  let delay = options.delayMillis ?? 0;
  /** What `from` sends goes to `to` `delay` ms later, in order (a chunk never overtakes the one before it). */
  const forward = (from: Socket, to: Socket): void => {
    let last = 0;
    const later = (send: () => void): void => {
      const now = Date.now();
      if (delay === 0 && last <= now) return send();
      last = Math.max(now + delay, last);
      setTimeout(send, last - now).unref();
    };
    from.on('data', (chunk: Buffer) => later(() => to.destroyed || to.write(chunk)));
    from.on('end', () => later(() => to.destroyed || to.end()));
  };
  const server = createServer((client) => {
    const upstream = connect(options.target.port, options.target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const socket of pair) {
      socket.unref();
      socket.on('error', () => undefined);
      socket.on('close', () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
    if (held) for (const socket of pair) socket.pause();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const each = (fn: (socket: Socket) => void): void => {
    for (const pair of pairs) pair.forEach(fn);
  };
  let closed: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    hold() {
      held = true;
      each((s) => s.pause());
    },
    release() {
      held = false;
      each((s) => s.resume());
    },
    setDelay(millis: number) {
      delay = millis;
    },
    cut() {
      each((s) => s.destroy());
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        each((s) => s.destroy());
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
