import { createConnection, createServer, isIPv4 } from 'node:net';
import { HarnessError } from './harness-error.js';

/** Below the kernel's ephemeral range (32768+), so client sockets do not grab the port while a node is down. */
const PORT_RANGE = { low: 20000, high: 32000 } as const;
const PORT_ATTEMPTS = 50;

function fail(message: string): never {
  throw new HarnessError(message);
}

/** `count` consecutive loopback addresses from `first`: 127.0.0.2, 127.0.0.3, ... */
export function nodeAddresses(first: string, count: number): string[] {
  const octets = first.split('.').map(Number);
  const [a, b, c, d] = octets;
  if (!isIPv4(first) || a !== 127 || b === undefined || c === undefined || d === undefined) {
    fail(`firstAddress must be an IPv4 address in 127.0.0.0/8, not "${first}"`);
  }
  if (d + count - 1 > 254) fail(`firstAddress ${first} leaves no room for ${count} nodes`);
  return Array.from({ length: count }, (_, i) => `${a}.${b}.${c}.${d + i}`);
}

async function isFree(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function isFreeEverywhere(hosts: readonly string[], port: number): Promise<boolean> {
  for (const host of hosts) {
    if (!(await isFree(host, port))) return false;
  }
  return true;
}

/**
 * Ports this process has handed out. A port is only bound once the server it is for starts, so
 * two picks before that (an etcd member's client and peer ports) could otherwise be the same.
 */
const handedOut = new Set<number>();

/** One TCP port nobody listens on at any of `hosts` right now and not handed out before by this process (a random pick, retried). */
export async function findFreePort(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * (PORT_RANGE.high - PORT_RANGE.low));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await isFreeEverywhere(hosts, port)) return port;
  }
  return fail(`no port free on all of ${hosts.join(', ')} after ${PORT_ATTEMPTS} tries`);
}

/** Whether something accepts TCP connections on host:port now. */
export function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
