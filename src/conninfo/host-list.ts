import { ConnInfoError } from '../errors.js';
import { invalidIntegerMessage, parseIntParam } from './int-param.js';
import { defaultSocketDir } from './socket-dir.js';

const DEFAULT_PORT = 5432;

/** How libpq reaches one entry of the host list. */
export type HostKind = 'address' | 'name' | 'socket' | 'default-socket';

/** One entry of the host list after libpq's list rules (`pqConnectOptions2`). */
export interface HostEntry {
  /** The `host` element, or null when empty or absent. */
  readonly host: string | null;
  /** The `hostaddr` element, or null when empty or absent. */
  readonly hostaddr: string | null;
  /** The `port` element as written, or null when empty (then 5432). */
  readonly portText: string | null;
  readonly kind: HostKind;
}

/** Elements of a comma-separated list: no escaping, no trimming, empty elements kept. */
function splitList(value: string): string[] {
  return value.split(',');
}

/** libpq's `is_unixsock_path`: an absolute path, or `@` for the abstract namespace. */
function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@');
}

function kindOf(host: string, hostaddr: string): HostKind {
  if (hostaddr !== '') return 'address';
  if (host === '') return 'default-socket';
  return isUnixSocketPath(host) ? 'socket' : 'name';
}

function hostCount(host: string, hostaddr: string): number {
  if (hostaddr !== '') return splitList(hostaddr).length;
  if (host !== '') return splitList(host).length;
  return 1;
}

function portElements(port: string, count: number): string[] {
  if (port === '') return new Array<string>(count).fill('');
  const ports = splitList(port);
  if (ports.length === 1) return new Array<string>(count).fill(port);
  if (ports.length !== count) throw new ConnInfoError(`could not match ${ports.length} port numbers to ${count} hosts`);
  return ports;
}

/**
 * Builds the host list from the resolved `host`, `hostaddr` and `port`
 * options: the count comes from hostaddr if set, else host; a lone port
 * applies to every host; an empty element means the default.
 */
export function buildHostList(options: ReadonlyMap<string, string>): HostEntry[] {
  const host = options.get('host') ?? '';
  const hostaddr = options.get('hostaddr') ?? '';
  const count = hostCount(host, hostaddr);
  const hosts = host === '' ? new Array<string>(count).fill('') : splitList(host);
  if (hosts.length !== count) {
    throw new ConnInfoError(`could not match ${hosts.length} host names to ${count} hostaddr values`);
  }
  const addrs = hostaddr === '' ? new Array<string>(count).fill('') : splitList(hostaddr);
  const ports = portElements(options.get('port') ?? '', count);
  return hosts.map((h, i) => {
    const a = addrs[i] ?? '';
    const p = ports[i] ?? '';
    return Object.freeze({ host: h === '' ? null : h, hostaddr: a === '' ? null : a, portText: p === '' ? null : p, kind: kindOf(h, a) });
  });
}

/** The entry of a member found by discovery: a host name or address (or a socket directory) and a port. */
export function memberHostEntry(host: string, port: number): HostEntry {
  return Object.freeze({ host, hostaddr: null, portText: String(port), kind: kindOf(host, '') });
}

/** How pg-split names a host entry in statuses and errors: the host as written, else its hostaddr, else the socket directory. */
export function hostDisplayName(entry: HostEntry | undefined): string {
  if (entry === undefined) return '';
  return entry.host ?? entry.hostaddr ?? (entry.kind === 'default-socket' ? defaultSocketDir() : '');
}

export type PortResult =
  | { readonly ok: true; readonly port: number }
  /** `fatal`: libpq gives up on the whole string (not an integer), else only on this host (out of range). */
  | { readonly ok: false; readonly fatal: boolean; readonly port: number; readonly message: string };

/** The one port parser: libpq's integer rules, then its range check, with libpq's texts. */
export function portOf(entry: HostEntry): PortResult {
  if (entry.portText === null) return { ok: true, port: DEFAULT_PORT };
  const port = parseIntParam(entry.portText);
  if (port === null) return { ok: false, fatal: true, port: 0, message: invalidIntegerMessage(entry.portText, 'port') };
  if (port < 1 || port > 65535) return { ok: false, fatal: false, port, message: `invalid port number: "${entry.portText}"` };
  return { ok: true, port };
}
