/**
 * The one address allocator of the test suite. Test files run side by side
 * (`node --test --test-concurrency`), so each file that starts servers owns a
 * /24 of loopback addresses, 127.0.<block>.0/24, its block being its place in
 * FILES: no two files ever listen on, refuse from or black-hole the same
 * address, and a port the harness finds free on a file's addresses can only
 * be taken by that same file (its tests run one after another). 127.0.0.0/24
 * is left to the demo, the benchmarks and the harness's defaults.
 */
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeAddresses } from '@pg-split/harness';

const FILES = [
  'chaos',
  'cjs-require',
  'cluster',
  'compose',
  'connect-random',
  'connect',
  'demo',
  'discovery',
  'error-contract',
  'fresh-reads',
  'observability',
  'patroni-chaos-sync',
  'patroni-discovery',
  'patroni-async',
  'peers',
  'pg-versions',
  'pgbouncer',
  'prisma',
  'probe',
  'recipes',
  'split',
  'patroni-sync',
  'patroni-chaos-async',
  'idle',
  'patroni-stop',
  'patroni-etcd',
  'pool-contract',
  'pg-module',
  'orm-recipes',
  'tls',
  'recovery-conflicts',
  'balance',
  'fallback-reads',
  'pooled-checks',
] as const;

/** A test file's own loopback addresses. */
export interface TestNet {
  /** 127.0.<block>.<offset>, offset 1 to 254. */
  address(offset: number): string;
  /** `count` consecutive addresses from 127.0.<block>.<offset>. */
  addresses(offset: number, count: number): string[];
  /** The first address of the file's block that a harness cluster takes by default (offset 2). */
  readonly first: string;
}

/** The addresses of the test file at `fileUrl` (its `import.meta.url`); a file not listed in FILES is an error. */
export function testNet(fileUrl: string): TestNet {
  const name = basename(fileURLToPath(fileUrl)).replace(/\.test\.(js|ts)$/, '');
  const index = FILES.indexOf(name as (typeof FILES)[number]);
  if (index < 0) throw new Error(`test/support/net.ts: ${name} has no address block; add it to FILES`);
  const block = index + 1;
  const address = (offset: number): string => {
    if (!Number.isInteger(offset) || offset < 1 || offset > 254) throw new Error(`address offset ${offset} is outside 1-254`);
    return `127.0.${block}.${offset}`;
  };
  return {
    address,
    addresses: (offset, count) => nodeAddresses(address(offset), count),
    first: address(2),
  };
}
