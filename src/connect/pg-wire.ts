import type { EventEmitter } from 'node:events';
import pg from 'pg';

/**
 * The one place pg-split reaches below the public API of pg and pg-pool:
 * pg.Client's protocol connection (which emits every message and owns the
 * socket, and the server's one-byte answer to SSLRequest on it), its
 * `unref()` (what pg-pool's allowExitOnIdle calls; @types/pg does not
 * declare it), its `_ending` flag, pg-pool's counters (prototype getters),
 * and where a client not yet connected will connect (`aimClient`). pg's
 * message texts are read nowhere: a connection that failed is known by its
 * connection's events (NodeClient), a refused TLS by the server's answer.
 * `test/integration/pg-versions.test.ts` runs each of these against the
 * oldest and the newest pg the peer range allows.
 */
interface WireConnection extends EventEmitter {
  readonly stream?: { destroy(): void; once(event: 'data', listener: (chunk: Buffer) => void): void };
}

/** The client's protocol connection: `parameterStatus`, `authenticationOk`, `errorMessage`, `end`. */
export function wireOf(client: pg.Client): WireConnection {
  return (client as unknown as { connection: WireConnection }).connection;
}

/** Cuts the client's socket at once: a statement in flight fails, the client ends. */
export function destroySocket(client: pg.Client): void {
  wireOf(client).stream?.destroy();
}

/** The client's socket no longer keeps the process alive (pg.Client's `unref()`). */
export function unrefClient(client: pg.Client): void {
  (client as unknown as { unref(): void }).unref();
}

/** Whether `end()` was called on the client (its connection ending is then expected, not a loss). */
export function isEnding(client: pg.Client): boolean {
  return (client as unknown as { _ending?: boolean })._ending === true;
}

/**
 * Whether the server answered with an ErrorResponse (pg's DatabaseError, or
 * an error of another copy of pg carrying the server's severity and SQLSTATE):
 * the server is there and said no, as against a connection that failed.
 */
export function isServerError(err: unknown): err is pg.DatabaseError {
  return (
    err instanceof pg.DatabaseError || (err instanceof Error && 'severity' in err && typeof (err as { code?: unknown }).code === 'string')
  );
}

/**
 * Calls `heard` with the first byte the server sends on a client about to
 * connect: with TLS negotiated by SSLRequest (pg's default for `ssl`), its
 * answer, `S` (TLS follows) or `N` (refused). Registered before `connect()`,
 * this listener runs before pg's own.
 */
export function onFirstServerByte(client: pg.Client, heard: (byte: string) => void): void {
  wireOf(client).stream?.once('data', (chunk: Buffer) => heard(String.fromCharCode(chunk[0] ?? 0)));
}

const POOL_COUNTERS = ['totalCount', 'idleCount', 'waitingCount', 'expiredCount'] as const;
export type PoolCounter = (typeof POOL_COUNTERS)[number];

/** pg-pool defines its counters as prototype getters; a pool subclass replaces them with its own sums. */
export function overridePoolCounters(proto: pg.Pool, sum: (pool: pg.Pool, counter: PoolCounter) => number): void {
  for (const name of POOL_COUNTERS) {
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: pg.Pool) {
        return sum(this, name);
      },
    });
  }
}

/** The fields of a pg.Client (and of its protocol connection) that say where and how it connects: set in its constructor. */
interface AimedClient {
  host: string | undefined;
  port: number | undefined;
  ssl: unknown;
  password: unknown;
  connectionParameters: { host: string | undefined; port: number | undefined; ssl: unknown; password: unknown };
  connection: { ssl: unknown; _keepAlive?: boolean; _keepAliveInitialDelayMillis?: number };
}

/**
 * Points a client that has not connected yet at another server: its host,
 * port, TLS settings and password, as pg's constructor would have set them
 * from `config` (pg-split/pg's Client learns its node only in `connect()`).
 * Everything else the application gave the constructor stays.
 */
export function aimClient(client: pg.Client, config: pg.ClientConfig): void {
  const c = client as unknown as AimedClient;
  c.host = c.connectionParameters.host = config.host;
  c.port = c.connectionParameters.port = config.port;
  c.ssl = c.connectionParameters.ssl = c.connection.ssl = config.ssl ?? false;
  c.password = c.connectionParameters.password = config.password;
  if (config.keepAlive !== undefined) c.connection._keepAlive = config.keepAlive;
  if (config.keepAliveInitialDelayMillis !== undefined) c.connection._keepAliveInitialDelayMillis = config.keepAliveInitialDelayMillis;
}
