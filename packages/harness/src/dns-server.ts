import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { findFreePort } from './addresses.js';
import { clusterError } from './cluster-error.js';
import { guardExit } from './exit-guard.js';
import { Daemon } from './patroni/daemon.js';
import { chownToServer } from './run-as.js';
import { waitUntil } from './wait.js';

/** Records a DNS server answers: A/AAAA (`name` → addresses) and SRV (`name` → targets and ports). */
export interface DnsRecords {
  readonly addresses?: Readonly<Record<string, readonly string[]>>;
  readonly srv?: Readonly<
    Record<string, ReadonlyArray<{ readonly target: string; readonly port: number; readonly priority?: number; readonly weight?: number }>>
  >;
}

/** A real DNS server on a loopback address (Debian's dnsmasq), with records the test changes. */
export interface DnsServer {
  /** `address:port`, for `discovery.servers` or a `dns.Resolver`. */
  readonly server: string;
  /** Replaces every record; resolves once the server answers with the new ones. */
  setRecords(records: DnsRecords): Promise<void>;
  stop(): Promise<void>;
}

function hostsFile(records: DnsRecords): string {
  return (
    Object.entries(records.addresses ?? {})
      .flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}`))
      .join('\n') + '\n'
  );
}

function srvArgs(records: DnsRecords): string[] {
  return Object.entries(records.srv ?? {}).flatMap(([name, targets]) =>
    targets.map((t) => `--srv-host=${name},${t.target},${t.port},${t.priority ?? 0},${t.weight ?? 0}`),
  );
}

/** What the server answers now for every name in `records`, to compare with what was set. */
async function answers(resolver: Resolver, records: DnsRecords): Promise<boolean> {
  try {
    for (const [name, addresses] of Object.entries(records.addresses ?? {})) {
      const got = await resolver.resolve4(name).catch(() => [] as string[]);
      if ([...got].sort().join() !== [...addresses].sort().join()) return false;
    }
    for (const [name, targets] of Object.entries(records.srv ?? {})) {
      const got = await resolver.resolveSrv(name).catch(() => []);
      if (
        got
          .map((r) => `${r.name}:${r.port}`)
          .sort()
          .join() !==
        targets
          .map((t) => `${t.target}:${t.port}`)
          .sort()
          .join()
      )
        return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts dnsmasq on `address` (a loopback address of its own), answering
 * only from `records` (no upstream, no /etc/hosts). Address records live in a
 * hosts file that dnsmasq re-reads on SIGHUP; SRV records are arguments, so
 * changing them restarts it. Stopped on exit and on signals.
 */
export async function startDnsServer(records: DnsRecords, address = '127.0.0.250'): Promise<DnsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-split-dns-'));
  await chownToServer(dir);
  const port = await findFreePort([address]);
  const hostsPath = join(dir, 'hosts');
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`${address}:${port}`]);
  let daemon: Daemon | null = null;
  let current = records;
  const guard = guardExit(() => daemon?.killSync());
  const launch = async (): Promise<void> => {
    await writeFile(hostsPath, hostsFile(current));
    await chownToServer(hostsPath);
    const args = [
      '--keep-in-foreground',
      '--log-facility=-',
      '--no-resolv',
      '--no-hosts',
      `--listen-address=${address}`,
      '--bind-interfaces',
      `--port=${port}`,
      `--addn-hosts=${hostsPath}`,
      '--local-ttl=0',
      '--cache-size=0',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ...srvArgs(current),
    ];
    daemon = new Daemon({ name: 'dnsmasq', command: '/usr/sbin/dnsmasq', args, logPath: join(dir, 'dnsmasq.log'), home: dir });
    daemon.start();
    const started = daemon;
    await waitUntil(() => answers(resolver, current), {
      timeoutMillis: 10_000,
      intervalMillis: 50,
      onTimeout: () => clusterError('dnsmasq', 'did not answer with its records within 10000 ms', started.logPath),
    });
  };
  await launch();
  return {
    server: `${address}:${port}`,
    async setRecords(next: DnsRecords): Promise<void> {
      const restart = srvArgs(next).join() !== srvArgs(current).join();
      current = next;
      if (restart) {
        await daemon?.stop(5000);
        await launch();
        return;
      }
      await writeFile(hostsPath, hostsFile(current));
      const pid = daemon?.pid;
      if (pid !== undefined) process.kill(pid, 'SIGHUP');
      await waitUntil(() => answers(resolver, current), {
        timeoutMillis: 10_000,
        intervalMillis: 20,
        onTimeout: () => clusterError('dnsmasq', 'did not answer with the new records within 10000 ms', join(dir, 'dnsmasq.log')),
      });
    },
    async stop(): Promise<void> {
      await daemon?.stop(5000);
      guard.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
