import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { HostEntry } from '../conninfo/host-list.js';
import { defaultSocketDir } from '../conninfo/socket-dir.js';
import type { Endpoint } from './messages.js';

/** Resolves a host name to its addresses in getaddrinfo's order. */
export type Lookup = (host: string) => Promise<string[]>;

export const systemLookup: Lookup = async (host) => (await lookup(host, { all: true, order: 'verbatim' })).map((a) => a.address);

const GAI_TEXT: Readonly<Record<string, string>> = {
  ENOTFOUND: 'Name or service not known',
  EAI_NONAME: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EAI_FAIL: 'Non-recoverable failure in name resolution',
  ENODATA: 'No address associated with hostname',
};

function gaiText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return GAI_TEXT[code] ?? 'Name or service not known';
}

export type EndpointsResult = { readonly ok: true; readonly endpoints: Endpoint[] } | { readonly ok: false; readonly message: string };

/**
 * The addresses libpq would try for one host entry: the hostaddr as given
 * (numeric only), every address of a host name, or a unix socket.
 */
export async function endpointsFor(entry: HostEntry, port: number, resolve: Lookup): Promise<EndpointsResult> {
  const displayPort = entry.portText ?? String(port);
  if (entry.kind === 'address') {
    const address = entry.hostaddr ?? '';
    if (isIP(address) === 0) return { ok: false, message: `could not parse network address "${address}": Name or service not known` };
    return { ok: true, endpoints: [{ kind: 'tcp', displayHost: address, address, isHostaddr: true, port, displayPort }] };
  }
  if (entry.kind === 'socket' || entry.kind === 'default-socket') {
    return { ok: true, endpoints: [{ kind: 'socket', dir: entry.host ?? defaultSocketDir(), port }] };
  }
  const host = entry.host ?? '';
  try {
    const addresses = isIP(host) !== 0 ? [host] : await resolve(host);
    return {
      ok: true,
      endpoints: addresses.map((address) => ({ kind: 'tcp', displayHost: host, address, isHostaddr: false, port, displayPort })),
    };
  } catch (err) {
    return { ok: false, message: `could not translate host name "${host}" to address: ${gaiText(err)}` };
  }
}
