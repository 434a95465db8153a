import http from 'node:http';
import https from 'node:https';
import { PgSplitError } from '../errors.js';
import { untraced } from '../otel/otel-api.js';

/** How to reach etcd's v3 API (option `patroni.etcd`), resolved. */
export interface EtcdConnection {
  /** `http://host:port` or `https://host:port`, tried in turn. */
  readonly endpoints: readonly string[];
  readonly username: string | null;
  readonly password: string | null;
  /** PEM texts for `https` endpoints; null: the system's trusted CAs, no client certificate. */
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | null;
  /** Bound on one request, in milliseconds. */
  readonly timeoutMillis: number;
}

/** An error etcd's JSON gateway answered with: gRPC's status code (3 invalid argument, 7 permission denied, 9 failed precondition, 16 unauthenticated). */
export class EtcdAnswerError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'EtcdAnswerError';
  }
}

const UNAUTHENTICATED = 16;
const FAILED_PRECONDITION = 9;

/** Whether etcd refused the request for its credentials or permissions (by gRPC status, never by text). */
export function isAuthRefusal(err: unknown): boolean {
  return err instanceof EtcdAnswerError && [3, 7, UNAUTHENTICATED].includes(err.grpcCode);
}

/** etcd keys and values travel base64-encoded through the gateway. */
export const b64 = (text: string): string => Buffer.from(text).toString('base64');
export const fromB64 = (text: string | undefined): string => Buffer.from(text ?? '', 'base64').toString();

/** The first key after every key that starts with `prefix`: a prefix range's `range_end`. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  const last = bytes.length - 1;
  bytes[last] = (bytes[last] ?? 0) + 1;
  return bytes.toString();
}

/**
 * etcd's v3 API through its JSON gateway (`POST /v3/...`), the API Patroni's
 * own etcd3 client uses. One endpoint at a time; `rotate()` moves to the
 * next. Authenticates when a username is given, and again when etcd says the
 * token expired. The password stays in this object: no error or log carries it.
 */
export class EtcdClient {
  readonly #connection: EtcdConnection;
  #endpoint = 0;
  #token: Promise<string | null> | null = null;
  #agent: http.Agent;
  /** A watch's stream, open for as long as the cluster is active, does not keep the process alive. */
  readonly #unrefWatch: boolean;

  constructor(connection: EtcdConnection, unrefWatch = false) {
    this.#connection = connection;
    this.#agent = this.#newAgent();
    this.#unrefWatch = unrefWatch;
  }

  /** Connections are kept open between requests (a lease check every few seconds), and closed by release(). */
  #newAgent(): http.Agent {
    const secure = this.#connection.endpoints.some((e) => e.startsWith('https:'));
    return secure ? new https.Agent({ keepAlive: true, ...this.#connection.tls }) : new http.Agent({ keepAlive: true });
  }

  /** Closes every connection to etcd (the cluster is idle); the next request opens one. */
  release(): void {
    this.#agent.destroy();
    this.#agent = this.#newAgent();
  }

  get timeoutMillis(): number {
    return this.#connection.timeoutMillis;
  }

  /** The endpoint used now. */
  get endpoint(): string {
    return this.#connection.endpoints[this.#endpoint] ?? '';
  }

  /** Moves to the next endpoint (the current one failed); a new token is asked there. */
  rotate(): void {
    this.#endpoint = (this.#endpoint + 1) % this.#connection.endpoints.length;
    this.#token = null;
  }

  /** One unary call (`range`, `lease/timetolive`, ...), authenticated; a PgSplitError when etcd cannot be reached or refuses the credentials. */
  async call<T>(path: string, body: object): Promise<T> {
    try {
      return await this.#callOnce<T>(path, body, await this.#authToken());
    } catch (err) {
      if (!(err instanceof EtcdAnswerError && err.grpcCode === UNAUTHENTICATED && this.#connection.username !== null))
        throw this.#coded(err);
      this.#token = null; // expired: once more with a new token
      return this.#callOnce<T>(path, body, await this.#authToken()).catch((again: unknown) => {
        throw this.#coded(again);
      });
    }
  }

  /** Opens `POST /v3/watch` with one create request; the response streams until closed. Its headers must come within the request timeout. */
  async openWatch(create: object, signal: AbortSignal): Promise<http.IncomingMessage> {
    const token = await this.#authToken();
    const req = this.#request('/v3/watch', token, signal);
    if (this.#unrefWatch) req.once('socket', (socket) => socket.unref());
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => req.destroy(new Error(`no answer within ${this.#connection.timeoutMillis} ms`)),
        this.#connection.timeoutMillis,
      );
      req.once('response', (res: http.IncomingMessage) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(JSON.stringify({ create_request: create }));
    return response.catch((err: unknown) => {
      throw this.#coded(err);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #authToken(): Promise<string | null> {
    const { username, password } = this.#connection;
    if (username === null) return Promise.resolve(null);
    this.#token ??= this.#callOnce<{ token?: string }>('/v3/auth/authenticate', { name: username, password: password ?? '' }, null).then(
      (answer) => answer.token ?? null,
      (err: unknown) => {
        this.#token = null;
        // Credentials given to an etcd without authentication: nothing to authenticate.
        if (err instanceof EtcdAnswerError && err.grpcCode === FAILED_PRECONDITION) return null;
        throw this.#coded(err);
      },
    );
    return this.#token;
  }

  #request(path: string, token: string | null, signal: AbortSignal): http.ClientRequest {
    const url = new URL(path, this.endpoint);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers['authorization'] = token;
    const send = url.protocol === 'https:' ? https.request : http.request;
    return untraced(() => send(url, { method: 'POST', headers, agent: this.#agent, signal }));
  }

  async #callOnce<T>(path: string, body: object, token: string | null): Promise<T> {
    const req = this.#request(path, token, AbortSignal.timeout(this.#connection.timeoutMillis));
    const text = await new Promise<string>((resolve, reject) => {
      req.once('error', reject);
      req.once('response', (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve(Buffer.concat(chunks).toString()));
        res.once('error', reject);
      });
      req.end(JSON.stringify(body));
    });
    const answer = JSON.parse(text) as { code?: unknown; message?: unknown; error?: unknown };
    if (typeof answer.code === 'number' && answer.code !== 0)
      throw new EtcdAnswerError(answer.code, typeof answer.message === 'string' ? answer.message : 'etcd error');
    return answer as T;
  }

  /** A stable code for what went wrong, never the password. */
  #coded(err: unknown): PgSplitError {
    if (err instanceof PgSplitError) return err;
    const user = this.#connection.username === null ? 'no credentials' : `user "${this.#connection.username}"`;
    if (isAuthRefusal(err))
      return new PgSplitError('PGSPLIT_ETCD_AUTH', `pg-split: etcd at ${this.endpoint} refused ${user}: ${(err as Error).message}`, {
        cause: err,
      });
    const reason = err instanceof Error ? err.message : String(err);
    return new PgSplitError('PGSPLIT_ETCD_UNAVAILABLE', `pg-split: etcd at ${this.endpoint}: ${reason}`, { cause: err });
  }
}
