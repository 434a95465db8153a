import { HarnessError } from '../harness-error.js';

/** One member as Patroni's `GET /cluster` lists it. */
export interface PatroniMemberView {
  readonly name: string;
  /** `leader`, `replica`, `sync_standby`, `standby_leader`. */
  readonly role: string;
  /** `running`, `streaming`, `starting`, `stopped`, `crashed`, ... */
  readonly state: string;
  readonly host: string;
  readonly port: number;
  readonly timeline?: number;
  /** Bytes behind the leader (replicas), or `unknown`. */
  readonly lag?: number | string;
  readonly tags?: Readonly<Record<string, unknown>>;
}

export interface PatroniClusterView {
  readonly members: readonly PatroniMemberView[];
}

const TIMEOUT_MILLIS = 3000;

/** Calls one member's REST API (bounded); resolves to the HTTP status and the body as text. */
export async function callRest(
  apiUrl: string,
  path: string,
  init: { method?: string; body?: unknown; timeoutMillis?: number } = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(init.timeoutMillis ?? TIMEOUT_MILLIS),
  });
  return { status: response.status, text: await response.text() };
}

/** `GET /cluster` on one member: every member as Patroni sees them. */
export async function clusterView(apiUrl: string): Promise<PatroniClusterView> {
  const { status, text } = await callRest(apiUrl, '/cluster');
  if (status !== 200) throw new HarnessError(`GET ${apiUrl}/cluster: HTTP ${status} ${text}`);
  return JSON.parse(text) as PatroniClusterView;
}

/** `PATCH /config` on one member: Patroni's dynamic configuration, in the DCS for every member. */
export async function patchConfig(apiUrl: string, body: Record<string, unknown>): Promise<void> {
  const { status, text } = await callRest(apiUrl, '/config', { method: 'PATCH', body });
  if (status !== 200) throw new HarnessError(`PATCH /config: HTTP ${status} ${text}`);
}

/** An operator's `POST` (switchover, failover, reinitialize) on member `name`; resolves to Patroni's answer and how long it took. */
export async function postAction(apiUrl: string, name: string, path: string, body: unknown): Promise<string> {
  const started = Date.now();
  const { status, text } = await callRest(apiUrl, path, { method: 'POST', body, timeoutMillis: 60_000 });
  if (status !== 200) throw new HarnessError(`POST ${path} on ${name}: HTTP ${status} ${text.trim()}`);
  return `${text.trim()} (${Date.now() - started} ms)`;
}
