import { OptionError, PgSplitError } from '../../errors.js';
import { describeValue, functionOption, numberOption, oneOfOption, optionsObject, portOption } from '../../input.js';
import { etcdOption, type EtcdOptions } from '../../etcd/etcd-options.js';
import type { PatroniDcsOptions } from '../../etcd/etcd-options.js';
import type { DiscoveredMember, MemberOrigin } from '../watch/members.js';

/** What a function source returns: `'host:port'` (or `'host'`, port 5432) or `{ host, port }` per member. */
export type MemberList = ReadonlyArray<
  string | { readonly host: string; readonly port?: number; readonly zone?: string; readonly weight?: number }
>;

/**
 * Where pg-split finds the cluster's members (option `discovery`); the
 * connection string's hosts are the members until the source first answers.
 */
export type DiscoveryOptions =
  /**
   * Patroni's members: from etcd's v3 API by watch (`etcd`), else from the
   * REST API (`GET /cluster`) on any member (`port`: the REST API's). Patroni's
   * leader becomes a second authority for the writer (as the `patroni` option).
   */
  | {
      readonly source: 'patroni';
      readonly port?: number;
      readonly etcd?: EtcdOptions;
      readonly intervalMillis?: number;
      readonly timeoutMillis?: number;
    }
  /** A DNS name re-resolved on a timer (A and AAAA records): every address a member on `port`. */
  | {
      readonly source: 'dns';
      readonly name: string;
      readonly port?: number;
      readonly servers?: readonly string[];
      readonly intervalMillis?: number;
    }
  /** DNS SRV records (`_postgresql._tcp.<domain>`): every target and port a member. */
  | { readonly source: 'srv'; readonly name: string; readonly servers?: readonly string[]; readonly intervalMillis?: number }
  /** A function of yours returning the current members. */
  | { readonly source: 'function'; readonly members: () => MemberList | Promise<MemberList>; readonly intervalMillis?: number };

export interface ResolvedDiscovery {
  readonly source: MemberOrigin;
  readonly intervalMillis: number;
  readonly timeoutMillis: number;
  readonly name: string | null;
  readonly port: number | null;
  readonly servers: readonly string[] | null;
  readonly members: (() => MemberList | Promise<MemberList>) | null;
  /** Patroni's keys in etcd (source `patroni`), else null. */
  readonly etcd: PatroniDcsOptions | null;
}

const SOURCES = ['patroni', 'dns', 'srv', 'function'] as const;
const KEYS: Readonly<Record<(typeof SOURCES)[number], readonly string[]>> = {
  patroni: ['source', 'port', 'etcd', 'intervalMillis', 'timeoutMillis'],
  dns: ['source', 'name', 'port', 'servers', 'intervalMillis'],
  srv: ['source', 'name', 'servers', 'intervalMillis'],
  function: ['source', 'members', 'intervalMillis'],
};

function nameOption(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new OptionError(`Expected \`discovery.name\` to be a DNS name, got ${describeValue(value)}`);
  return value;
}

function serversOption(value: unknown): readonly string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length === 0 || !value.every((s) => typeof s === 'string' && s !== '')) {
    throw new OptionError(
      `Expected \`discovery.servers\` to be a list of DNS server addresses ('127.0.0.1', '[::1]:53', '10.0.0.2:5353'), got ${describeValue(value)}`,
    );
  }
  return Object.freeze([...(value as string[])]);
}

/** Validates the `discovery` option (any type) and fills its defaults. Throws `OptionError`. */
export function resolveDiscovery(value: unknown): ResolvedDiscovery | null {
  if (value === undefined) return null;
  const given = optionsObject('discovery', value, [
    'source',
    'name',
    'port',
    'servers',
    'intervalMillis',
    'timeoutMillis',
    'members',
    'etcd',
  ])['source'];
  if (given === undefined) throw new OptionError(`Expected \`discovery.source\` to be one of ${SOURCES.map((s) => `'${s}'`).join(', ')}`);
  const source = oneOfOption('discovery.source', given, SOURCES, 'patroni');
  const options = optionsObject('discovery', value, KEYS[source]);
  const millis = (key: string, fallback: number): number =>
    numberOption(`discovery.${key}`, options[key], fallback, { unit: 'milliseconds' });
  const members = source === 'function' ? (functionOption<() => MemberList>('discovery.members', options['members']) ?? null) : null;
  if (source === 'function' && members === null)
    throw new OptionError('Expected `discovery.members` to be a function returning the members');
  return Object.freeze({
    source,
    intervalMillis: millis('intervalMillis', 5000),
    timeoutMillis: millis('timeoutMillis', 2000),
    name: source === 'dns' || source === 'srv' ? nameOption(options['name']) : null,
    port:
      source === 'srv' || source === 'function' ? null : portOption(`discovery.port`, options['port'], source === 'patroni' ? 8008 : 5432),
    servers: source === 'dns' || source === 'srv' ? serversOption(options['servers']) : null,
    members,
    etcd: source === 'patroni' && options['etcd'] !== undefined ? etcdOption('discovery.etcd', options['etcd']) : null,
  });
}

/** One member of a function source's answer, or a PgSplitError naming what is wrong. */
function listedMember(item: unknown): DiscoveredMember {
  if (typeof item === 'string') {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(item);
    const host = match?.[1]?.replace(/^\[|\]$/g, '');
    if (host !== undefined && host !== '') return { host, port: Number(match?.[2] ?? 5432) };
  } else if (typeof item === 'object' && item !== null && typeof (item as { host?: unknown }).host === 'string') {
    const { host, port, zone, weight } = item as { host: string; port?: unknown; zone?: unknown; weight?: unknown };
    const portOk = port === undefined || (Number.isInteger(port) && (port as number) > 0 && (port as number) <= 65535);
    const zoneOk = zone === undefined || (typeof zone === 'string' && zone !== '');
    const weightOk = weight === undefined || (typeof weight === 'number' && Number.isFinite(weight) && weight > 0);
    if (host !== '' && portOk && zoneOk && weightOk)
      return {
        host,
        port: (port as number | undefined) ?? 5432,
        ...(zone === undefined ? {} : { zone: zone }),
        ...(weight === undefined ? {} : { weight: weight }),
      };
  }
  throw new PgSplitError(
    'PGSPLIT_DISCOVERY_INVALID',
    `pg-split: discovery.members() returned ${describeValue(item)} as a member; expected 'host:port' or { host, port, zone?, weight? } (a positive weight)`,
  );
}

/** A function source's answer, checked. */
export function listedMembers(list: unknown): DiscoveredMember[] {
  if (!Array.isArray(list))
    throw new PgSplitError(
      'PGSPLIT_DISCOVERY_INVALID',
      `pg-split: discovery.members() returned ${describeValue(list)}; expected an array of members`,
    );
  return list.map(listedMember);
}

/** Asks a source for the members now: null when it gave no usable answer (nothing changes then). */
export type AskMembers = () => Promise<readonly DiscoveredMember[] | null>;

/**
 * Asks the source now and then every `intervalMillis`, and hands each answer
 * on. An empty answer, or none (the source unreachable, an error), changes
 * nothing: members are never drained for want of an answer.
 */
export class Discovery {
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** Bumped by pause() and start(): a round of an earlier run hands nothing on and schedules nothing. */
  #run = 0;
  #running = false;

  constructor(
    private readonly ask: AskMembers,
    private readonly intervalMillis: number,
    private readonly apply: (members: readonly DiscoveredMember[]) => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.#closed) return;
    this.#running = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const run = ++this.#run;
    const round = async (): Promise<void> => {
      let found: readonly DiscoveredMember[] | null = null;
      try {
        found = await this.ask();
      } catch (err) {
        this.onError(err);
      }
      if (this.#closed || run !== this.#run) return;
      if (found !== null && found.length > 0) this.apply(found);
      this.#timer = setTimeout(() => void round(), this.intervalMillis);
      this.#timer.unref();
    };
    void round();
  }

  /** Asks now (a source that pushes said something changed), unless paused or closed. */
  refresh(): void {
    if (this.#running) this.start();
  }

  /** Stops asking (the cluster is idle) until start() again. */
  pause(): void {
    this.#running = false;
    this.#run++;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  close(): void {
    this.#closed = true;
    this.pause();
  }
}
